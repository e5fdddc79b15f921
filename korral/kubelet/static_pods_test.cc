// Static pods: manifests in a directory run through the fake runtime with mirror pods in the
// (fake) API.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "korral/client/fake_client.h"
#include "korral/cri/fake.h"
#include "korral/kubelet/kubelet.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {
namespace {

namespace fs = std::filesystem;
using client::resources::Pods;

template <typename Fn>
bool Eventually(Fn fn, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fn();
}

constexpr char kManifest[] = R"(apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: c
    image: busybox:1.0
)";

TEST(StaticPodFromManifest, NameUidAnnotationsTolerationDefaults) {
  auto p = StaticPodFromManifest("/etc/m/web.yaml", kManifest, "node-1");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)["metadata"]["name"], "web-node-1");
  EXPECT_EQ((*p)["metadata"]["namespace"], "default");
  std::string uid = (*p)["metadata"]["uid"];
  EXPECT_EQ(uid.size(), 32u);
  EXPECT_EQ((*p)["metadata"]["annotations"]["kubernetes.io/config.hash"], uid);
  EXPECT_EQ((*p)["metadata"]["annotations"]["kubernetes.io/config.source"], "file");
  EXPECT_EQ((*p)["spec"]["nodeName"], "node-1");
  EXPECT_EQ((*p)["spec"]["restartPolicy"], "Always");  // defaulted
  bool tolerates = false;
  for (const auto& t : (*p)["spec"]["tolerations"]) {
    tolerates |= t.value("operator", "") == "Exists" && t.value("effect", "") == "NoExecute";
  }
  EXPECT_TRUE(tolerates);
  // Same manifest, node and file: same UID; another node or another content: another UID.
  EXPECT_EQ((*StaticPodFromManifest("/etc/m/web.yaml", kManifest, "node-1"))["metadata"]["uid"],
            uid);
  EXPECT_NE((*StaticPodFromManifest("/etc/m/web.yaml", kManifest, "node-2"))["metadata"]["uid"],
            uid);
  std::string edited = std::string(kManifest) + "  restartPolicy: Never\n";
  EXPECT_NE((*StaticPodFromManifest("/etc/m/web.yaml", edited, "node-1"))["metadata"]["uid"], uid);
  // JSON works too.
  auto j = StaticPodFromManifest(
      "/etc/m/j.json",
      R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"j","namespace":"kube-system"},)"
      R"("spec":{"containers":[{"name":"c","image":"busybox:1.0"}]}})",
      "n");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["metadata"]["name"], "j-n");
  EXPECT_EQ((*j)["metadata"]["namespace"], "kube-system");
}

TEST(StaticPodFromManifest, RejectsWhatIsNotAPod) {
  EXPECT_FALSE(
      StaticPodFromManifest("f", "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n", "n").ok());
  EXPECT_FALSE(
      StaticPodFromManifest("f", "apiVersion: v1\nkind: Pod\nspec: {containers: []}\n", "n").ok());
  EXPECT_FALSE(StaticPodFromManifest("f", "{{{ not yaml", "n").ok());
}

class StaticPodsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("korral-static-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    KubeletConfig cfg;
    cfg.node_name = "node-1";
    cfg.hollow = true;
    cfg.relist_period = std::chrono::milliseconds(50);
    cfg.pod_manifest_path = dir_.string();
    cfg.file_check_frequency = std::chrono::milliseconds(50);
    kubelet_ = std::make_unique<Kubelet>(client_, runtime_, cfg);
  }
  void TearDown() override {
    kubelet_->Stop();
    fs::remove_all(dir_);
  }
  void Write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / (name + ".tmp")) << text;
    fs::rename(dir_ / (name + ".tmp"), dir_ / name);
  }
  Json Mirror() {
    auto p = client_.Get(Pods(), "default", "web-node-1");
    return p.ok() ? *p : Json();
  }
  std::set<std::string> SandboxUids() {
    std::set<std::string> out;
    auto sbs = runtime_.ListPodSandbox(cri::v1::PodSandboxFilter());
    for (const auto& s : *sbs) {
      out.insert(s.metadata().uid());
    }
    return out;
  }

  fs::path dir_;
  client::FakeClient client_;
  cri::FakeRuntime runtime_;
  std::unique_ptr<Kubelet> kubelet_;
};

TEST_F(StaticPodsTest, RunsWithMirrorPodEditRestartsDeleteRecreatesRemoveStops) {
  Write("web.yaml", kManifest);
  Write(".hidden.yaml",
        std::string(kManifest).replace(std::string(kManifest).find("web"), 3, "hidden"));
  ASSERT_TRUE(kubelet_->Start().ok());
  // The mirror pod appears and carries the static pod's Running status.
  ASSERT_TRUE(Eventually([&] {
    Json m = Mirror();
    return !m.is_null() && m.value("status", Json::object()).value("phase", "") == "Running";
  }));
  Json m = Mirror();
  std::string hash = m["metadata"]["annotations"]["kubernetes.io/config.hash"];
  EXPECT_EQ(m["metadata"]["annotations"]["kubernetes.io/config.mirror"], hash);
  EXPECT_EQ(m["metadata"]["annotations"]["kubernetes.io/config.source"], "file");
  EXPECT_NE(m["metadata"]["uid"], hash);  // the API's own uid
  ASSERT_EQ(m["metadata"]["ownerReferences"].size(), 1u);
  EXPECT_EQ(m["metadata"]["ownerReferences"][0]["kind"], "Node");
  EXPECT_EQ(m["metadata"]["ownerReferences"][0]["name"], "node-1");
  EXPECT_EQ(m["metadata"]["ownerReferences"][0]["controller"], true);
  EXPECT_EQ(SandboxUids(), std::set<std::string>{hash});
  EXPECT_FALSE(client_.Get(Pods(), "default", "hidden-node-1").ok());

  // Deleting the mirror pod through the API: it comes back, the pod keeps running.
  int created = runtime_.Calls("CreateContainer");
  std::string mirror_uid = m["metadata"]["uid"];
  ASSERT_TRUE(client_.Delete(Pods(), "default", "web-node-1").ok());
  ASSERT_TRUE(Eventually([&] {
    Json n = Mirror();
    return !n.is_null() && n["metadata"]["uid"] != mirror_uid &&
           n.value("status", Json::object()).value("phase", "") == "Running";
  }));
  EXPECT_EQ(runtime_.Calls("CreateContainer"), created);

  // Editing the manifest: a new pod (new hash) replaces the old one and its mirror.
  std::string edited = kManifest;
  edited.replace(edited.find("busybox:1.0"), 11, "busybox:1.1");
  Write("web.yaml", edited);
  std::string new_hash;
  ASSERT_TRUE(Eventually([&] {
    Json n = Mirror();
    if (n.is_null()) return false;
    new_hash = n["metadata"]["annotations"].value("kubernetes.io/config.mirror", "");
    return new_hash != hash && n["spec"]["containers"][0]["image"] == "busybox:1.1" &&
           n.value("status", Json::object()).value("phase", "") == "Running";
  }));
  ASSERT_TRUE(Eventually([&] { return SandboxUids() == std::set<std::string>{new_hash}; }));

  // Removing the file stops the pod and deletes the mirror pod.
  fs::remove(dir_ / "web.yaml");
  ASSERT_TRUE(Eventually([&] { return Mirror().is_null() && runtime_.NumSandboxes() == 0; }));
}

// The apiserver deletes a bound pod gracefully (deletionTimestamp first). The mirror pod made
// again must get the static pod's status, although the status did not change since it was
// written to the old mirror pod (it was compared with the old mirror's status and skipped).
TEST_F(StaticPodsTest, GracefullyDeletedMirrorPodIsRecreatedWithStatus) {
  Write("web.yaml", kManifest);
  ASSERT_TRUE(kubelet_->Start().ok());
  ASSERT_TRUE(Eventually([&] {
    Json m = Mirror();
    return !m.is_null() && m.value("status", Json::object()).value("phase", "") == "Running";
  }));
  Json m = Mirror();
  std::string mirror_uid = m["metadata"]["uid"];
  m["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  m["metadata"]["deletionGracePeriodSeconds"] = 30;
  ASSERT_TRUE(client_.Update(Pods(), "default", m).ok());
  ASSERT_TRUE(Eventually([&] {
    Json n = Mirror();
    return !n.is_null() && n["metadata"]["uid"] != mirror_uid &&
           !n["metadata"].contains("deletionTimestamp") &&
           n.value("status", Json::object()).value("phase", "") == "Running" &&
           n["status"].contains("containerStatuses");
  }));
  EXPECT_EQ(runtime_.NumSandboxes(), 1u);
}

TEST_F(StaticPodsTest, OrphanedMirrorPodIsDeleted) {
  ASSERT_TRUE(kubelet_->Start().ok());
  Json orphan = *StaticPodFromManifest("/gone.yaml", kManifest, "node-1");
  orphan["metadata"].erase("uid");
  orphan["metadata"]["annotations"]["kubernetes.io/config.mirror"] = "0123";
  ASSERT_TRUE(client_.Create(Pods(), "default", orphan).ok());
  EXPECT_TRUE(Eventually([&] { return Mirror().is_null(); }));
  EXPECT_EQ(runtime_.NumSandboxes(), 0u);
}

}  // namespace
}  // namespace korral::kubelet
