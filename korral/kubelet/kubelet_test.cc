// The kubelet against the fake client and the fake CRI runtime.
#include "korral/kubelet/kubelet.h"

#include <gtest/gtest.h>

#include <thread>

#include "absl/strings/escaping.h"
#include "korral/client/fake_client.h"
#include "korral/cri/fake.h"

namespace korral::kubelet {
namespace {

using Json = nlohmann::json;
using client::resources::Pods;

Json MakePod(const std::string& name, const std::string& restart = "Always") {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"nodeName", "node-1"},
                {"restartPolicy", restart},
                {"terminationGracePeriodSeconds", 1},
                {"containers", Json::array({{{"name", "c"}, {"image", "busybox:1.0"}}})}}}};
}

// Polls `fn` (real time, bounded) until it returns true.
template <typename Fn>
bool Eventually(Fn fn, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fn();
}

class KubeletTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KubeletConfig cfg;
    cfg.node_name = "node-1";
    cfg.hollow = true;
    cfg.relist_period = std::chrono::milliseconds(50);
    kubelet_ = std::make_unique<Kubelet>(client_, runtime_, cfg);
    ASSERT_TRUE(kubelet_->Start().ok());
  }
  void TearDown() override { kubelet_->Stop(); }

  Json GetPod(const std::string& name) {
    auto p = client_.Get(Pods(), "default", name);
    return p.ok() ? *p : Json();
  }
  std::string Phase(const std::string& name) {
    Json p = GetPod(name);
    return p.is_null() ? "" : p.value("status", Json::object()).value("phase", "");
  }

  client::FakeClient client_;
  cri::FakeRuntime runtime_;
  std::unique_ptr<Kubelet> kubelet_;
};

TEST_F(KubeletTest, RegistersNodeAndLease) {
  auto node = client_.Get(client::resources::Nodes(), "", "node-1");
  ASSERT_TRUE(node.ok());
  EXPECT_EQ((*node)["metadata"]["labels"]["kubernetes.io/hostname"], "node-1");
  EXPECT_EQ((*node)["status"]["nodeInfo"]["containerRuntimeVersion"], "fake://0.1.0");
  bool ready = false;
  for (const auto& c : (*node)["status"]["conditions"]) {
    if (c["type"] == "Ready") ready = c["status"] == "True";
  }
  EXPECT_TRUE(ready);
  auto lease = client_.Get(client::resources::Leases(), "kube-node-lease", "node-1");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "node-1");
}

TEST_F(KubeletTest, PodRunsWithStatus) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("web")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("web") == "Running"; }));
  Json p = GetPod("web");
  EXPECT_FALSE(p["status"].value("podIP", "").empty());
  EXPECT_EQ(p["status"]["qosClass"], "BestEffort");
  auto cs = p["status"]["containerStatuses"][0];
  EXPECT_TRUE(cs["state"].contains("running"));
  EXPECT_EQ(cs["ready"], true);
  EXPECT_EQ(runtime_.Calls("PullImage"), 1);
}

// Pod labels and annotations reach the sandbox (regression: they were iterated from a
// destroyed temporary, which crashed the agent on the first labelled pod, e.g. `kubectl run`).
TEST_F(KubeletTest, SandboxCarriesPodLabelsAndAnnotations) {
  Json pod = MakePod("labelled");
  for (int i = 0; i < 20; ++i) {
    pod["metadata"]["labels"]["label-" + std::to_string(i)] = "value-" + std::to_string(i);
    pod["metadata"]["annotations"]["note-" + std::to_string(i)] = std::string(64, 'x');
  }
  ASSERT_TRUE(client_.Create(Pods(), "default", pod).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("labelled") == "Running"; }));
  auto sbs = runtime_.ListPodSandbox(cri::v1::PodSandboxFilter());
  ASSERT_TRUE(sbs.ok());
  ASSERT_EQ(sbs->size(), 1u);
  const auto& sb = (*sbs)[0];
  EXPECT_EQ(sb.labels().at("label-7"), "value-7");
  EXPECT_EQ(sb.labels().at("io.kubernetes.pod.name"), "labelled");
  EXPECT_EQ(sb.annotations().at("note-19"), std::string(64, 'x'));
}

TEST_F(KubeletTest, ImagePresentIsNotPulledWithIfNotPresent) {
  runtime_.AddImage("busybox:1.0");
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("p")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("p") == "Running"; }));
  EXPECT_EQ(runtime_.Calls("PullImage"), 0);
}

TEST_F(KubeletTest, NeverPolicyFailsAndOnFailureSucceeds) {
  runtime_.SetExitScript("c", 3);
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("never", "Never")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("never") == "Failed"; }));
  Json p = GetPod("never");
  EXPECT_EQ(p["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"], 3);
  EXPECT_EQ(p["status"]["containerStatuses"][0]["state"]["terminated"]["reason"], "Error");
}

TEST_F(KubeletTest, CrashLoopBackOff) {
  runtime_.SetExitScript("c", 1);
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("crash")).ok());
  ASSERT_TRUE(Eventually([&] {
    Json p = GetPod("crash");
    if (!p.contains("status") || !p["status"].contains("containerStatuses")) return false;
    auto cs = p["status"]["containerStatuses"][0];
    return cs["state"].contains("waiting") &&
           cs["state"]["waiting"].value("reason", "") == "CrashLoopBackOff" &&
           cs["restartCount"] == 1 && cs["lastState"].contains("terminated");
  }));
  Json cs = GetPod("crash")["status"]["containerStatuses"][0];
  EXPECT_NE(cs["state"]["waiting"]["message"].get<std::string>().find("back-off 10s"),
            std::string::npos);
  EXPECT_EQ(Phase("crash"), "Running");
}

TEST_F(KubeletTest, ErrImagePullThenBackOff) {
  runtime_.SetPullError("nope:1", absl::NotFoundError("not found"));
  Json pod = MakePod("bad");
  pod["spec"]["containers"][0]["image"] = "nope:1";
  ASSERT_TRUE(client_.Create(Pods(), "default", pod).ok());
  std::set<std::string> seen;
  ASSERT_TRUE(Eventually([&] {
    Json p = GetPod("bad");
    if (p.contains("status") && p["status"].contains("containerStatuses")) {
      auto w = p["status"]["containerStatuses"][0]["state"].value("waiting", Json::object());
      seen.insert(w.value("reason", ""));
    }
    return seen.count("ImagePullBackOff") > 0;
  }));
  EXPECT_TRUE(seen.count("ErrImagePull") || seen.count("ImagePullBackOff"));
  EXPECT_EQ(Phase("bad"), "Pending");
}

TEST_F(KubeletTest, MissingConfigMapIsCreateContainerConfigError) {
  Json pod = MakePod("cfg");
  pod["spec"]["containers"][0]["env"] = Json::parse(
      R"([{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "missing", "key": "k"}}}])");
  ASSERT_TRUE(client_.Create(Pods(), "default", pod).ok());
  ASSERT_TRUE(Eventually([&] {
    Json p = GetPod("cfg");
    if (!p.contains("status") || !p["status"].contains("containerStatuses")) return false;
    auto w = p["status"]["containerStatuses"][0]["state"].value("waiting", Json::object());
    return w.value("reason", "") == "CreateContainerConfigError" &&
           w.value("message", "") == "configmap \"missing\" not found";
  }));
}

TEST_F(KubeletTest, GracefulDeletionDeletesTheObject) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("del")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("del") == "Running"; }));
  // What the apiserver does on a graceful DELETE: set deletionTimestamp.
  Json p = GetPod("del");
  p["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  p["metadata"]["deletionGracePeriodSeconds"] = 1;
  ASSERT_TRUE(client_.Update(Pods(), "default", p).ok());
  ASSERT_TRUE(Eventually([&] { return GetPod("del").is_null(); }));
  EXPECT_TRUE(Eventually([&] { return runtime_.NumSandboxes() == 0; }));
  EXPECT_GE(runtime_.Calls("StopContainer"), 1);
}

TEST_F(KubeletTest, RestartReadoptsRunningContainers) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("keep")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("keep") == "Running"; }));
  int created = runtime_.Calls("CreateContainer");
  kubelet_->Stop();
  KubeletConfig cfg;
  cfg.node_name = "node-1";
  cfg.hollow = true;
  cfg.relist_period = std::chrono::milliseconds(50);
  kubelet_ = std::make_unique<Kubelet>(client_, runtime_, cfg);
  ASSERT_TRUE(kubelet_->Start().ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(runtime_.Calls("CreateContainer"), created);
  EXPECT_EQ(runtime_.NumSandboxes(), 1u);
  EXPECT_EQ(GetPod("keep")["status"]["containerStatuses"][0]["restartCount"], 0);
}

TEST_F(KubeletTest, InitContainersRunInOrder) {
  Json pod = MakePod("init");
  pod["spec"]["initContainers"] = Json::array(
      {{{"name", "i1"}, {"image", "busybox:1.0"}}, {{"name", "i2"}, {"image", "busybox:1.0"}}});
  runtime_.SetExitScript("i1", 0);
  runtime_.SetExitScript("i2", 0);
  ASSERT_TRUE(client_.Create(Pods(), "default", pod).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("init") == "Running"; }));
  Json st = GetPod("init")["status"];
  EXPECT_EQ(st["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
  EXPECT_EQ(st["initContainerStatuses"][1]["state"]["terminated"]["reason"], "Completed");
}

// `kubectl debug --target=c`: an ephemeral container added to a running pod starts in the
// target's PID namespace, is reported in ephemeralContainerStatuses (never ready), and is not
// restarted when it exits.
TEST_F(KubeletTest, EphemeralContainerJoinsItsTargetAndIsNotRestarted) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("dbg")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("dbg") == "Running"; }));
  std::string target_id = GetPod("dbg")["status"]["containerStatuses"][0]["containerID"];
  target_id = target_id.substr(target_id.find("://") + 3);
  runtime_.SetExitScript("debugger", 0);
  Json pod = GetPod("dbg");
  pod["spec"]["ephemeralContainers"] =
      Json::array({{{"name", "debugger"}, {"image", "busybox:1.0"}, {"targetContainerName", "c"}}});
  ASSERT_TRUE(client_.Update(Pods(), "default", pod).ok());
  auto ephemeral_state = [&]() -> Json {
    Json st = GetPod("dbg")["status"];
    if (!st.contains("ephemeralContainerStatuses")) return Json();
    return st["ephemeralContainerStatuses"][0];
  };
  ASSERT_TRUE(Eventually([&] {
    Json s = ephemeral_state();
    return s.is_object() && s["state"].contains("terminated");
  }));
  auto cfg = runtime_.CreatedConfig("debugger");
  ASSERT_TRUE(cfg.has_value());
  EXPECT_EQ(cfg->linux().security_context().namespace_options().pid(), cri::v1::TARGET);
  EXPECT_EQ(cfg->linux().security_context().namespace_options().target_id(), target_id);
  Json s = ephemeral_state();
  EXPECT_EQ(s["ready"], false);
  EXPECT_EQ(s["state"]["terminated"]["exitCode"], 0);
  int created = runtime_.Calls("CreateContainer");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // several relists
  EXPECT_EQ(runtime_.Calls("CreateContainer"), created);
  EXPECT_EQ(Phase("dbg"), "Running");
  EXPECT_EQ(GetPod("dbg")["status"]["containerStatuses"][0]["ready"], true);
}

// imagePullSecrets: the matching credential reaches PullImage; without it the pull fails.
TEST_F(KubeletTest, ImagePullSecretsAuthenticateThePull) {
  const std::string image = "private.example.com/team/app:1";
  runtime_.RequireAuth(image, "robot");
  std::string cfg =
      Json{{"auths", {{"private.example.com", {{"username", "robot"}, {"password", "s3cret"}}}}}}
          .dump();
  ASSERT_TRUE(client_
                  .Create(client::resources::Secrets(), "default",
                          {{"apiVersion", "v1"},
                           {"kind", "Secret"},
                           {"metadata", {{"name", "regcred"}, {"namespace", "default"}}},
                           {"type", "kubernetes.io/dockerconfigjson"},
                           {"data", {{".dockerconfigjson", absl::Base64Escape(cfg)}}}})
                  .ok());
  Json with = MakePod("with-secret");
  with["spec"]["containers"][0]["image"] = image;
  with["spec"]["imagePullSecrets"] = Json::array({{{"name", "regcred"}}});
  ASSERT_TRUE(client_.Create(Pods(), "default", with).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("with-secret") == "Running"; }));
  auto auth = runtime_.PullAuth(image);
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->username(), "robot");
  EXPECT_EQ(auth->password(), "s3cret");
  EXPECT_EQ(auth->server_address(), "private.example.com");

  runtime_.RemoveImage([&] {
    cri::v1::ImageSpec s;
    s.set_image(image);
    return s;
  }());
  Json without = MakePod("no-secret");
  without["spec"]["containers"][0]["image"] = image;
  without["spec"]["imagePullSecrets"] = Json::array({{{"name", "missing"}}});
  ASSERT_TRUE(client_.Create(Pods(), "default", without).ok());
  ASSERT_TRUE(Eventually([&] {
    Json p = GetPod("no-secret");
    auto cs = p.value("status", Json::object()).value("containerStatuses", Json::array());
    if (cs.empty()) return false;
    std::string reason = cs[0]["state"].value("waiting", Json::object()).value("reason", "");
    return reason == "ErrImagePull" || reason == "ImagePullBackOff";
  }));
  EXPECT_FALSE(runtime_.PullAuth(image).has_value());
}

}  // namespace
}  // namespace korral::kubelet
