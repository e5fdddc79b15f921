#include "korral/kubelet/pod_util.h"

#include <gtest/gtest.h>

namespace korral::kubelet {
namespace {

Json Pod() {
  return Json::parse(R"({
    "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "web"}},
    "spec": {"nodeName": "n1", "serviceAccountName": "sa", "restartPolicy": "Always",
             "containers": [{"name": "c", "image": "busybox",
                             "resources": {"limits": {"cpu": "500m", "memory": "64Mi"}}}]}
  })");
}

TEST(ExpandVars, UpstreamRules) {
  std::map<std::string, std::string> env = {{"A", "1"}, {"B", "two"}};
  EXPECT_EQ(ExpandVars("$(A)-$(B)", env), "1-two");
  EXPECT_EQ(ExpandVars("$(C)", env), "$(C)");
  EXPECT_EQ(ExpandVars("$$(A)", env), "$(A)");
  EXPECT_EQ(ExpandVars("a$", env), "a$");
}

TEST(ResolveEnv, ValuesFieldRefsResourcesConfigMapsSecrets) {
  Json pod = Pod();
  Json& c = pod["spec"]["containers"][0];
  c["envFrom"] = Json::parse(R"([{"configMapRef": {"name": "cm"}, "prefix": "CM_"}])");
  c["env"] = Json::parse(R"([
    {"name": "PLAIN", "value": "x"},
    {"name": "REF", "value": "$(PLAIN)-y"},
    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
    {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
    {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
    {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory", "divisor": "1Mi"}}},
    {"name": "CPU", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu"}}},
    {"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}},
    {"name": "S", "valueFrom": {"secretKeyRef": {"name": "sec", "key": "pw"}}}
  ])");
  EnvContext ctx;
  ctx.pod = &pod;
  ctx.container = &c;
  ctx.pod_ip = "10.0.0.5";
  ctx.config_maps = [](const std::string& ns, const std::string& n) -> absl::StatusOr<Json> {
    if (n != "cm") return absl::NotFoundError("nope");
    return Json::parse(R"({"data": {"k": "v", "other": "o"}})");
  };
  ctx.secrets = [](const std::string& ns, const std::string& n) -> absl::StatusOr<Json> {
    if (n != "sec") return absl::NotFoundError("nope");
    return Json::parse(R"({"data": {"pw": "aHVudGVyMg=="}})");  // hunter2
  };
  auto env = ResolveEnv(ctx);
  ASSERT_TRUE(env.ok()) << env.status();
  std::map<std::string, std::string> m(env->begin(), env->end());
  EXPECT_EQ(m["CM_k"], "v");
  EXPECT_EQ(m["CM_other"], "o");
  EXPECT_EQ(m["REF"], "x-y");
  EXPECT_EQ(m["POD"], "p");
  EXPECT_EQ(m["APP"], "web");
  EXPECT_EQ(m["IP"], "10.0.0.5");
  EXPECT_EQ(m["MEM"], "64");
  EXPECT_EQ(m["CPU"], "1");
  EXPECT_EQ(m["K"], "v");
  EXPECT_EQ(m["S"], "hunter2");
}

TEST(ResolveEnv, MissingObjectsGiveUpstreamMessages) {
  Json pod = Pod();
  Json& c = pod["spec"]["containers"][0];
  EnvContext ctx;
  ctx.pod = &pod;
  ctx.container = &c;
  ctx.config_maps = [](const std::string&, const std::string&) -> absl::StatusOr<Json> {
    return absl::NotFoundError("nope");
  };
  ctx.secrets = [](const std::string&, const std::string&) -> absl::StatusOr<Json> {
    return Json::parse(R"({"data": {}})");
  };
  c["env"] = Json::parse(
      R"([{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k"}}}])");
  auto env = ResolveEnv(ctx);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(std::string(env.status().message()), "configmap \"cm\" not found");
  c["env"] =
      Json::parse(R"([{"name": "K", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])");
  env = ResolveEnv(ctx);
  ASSERT_FALSE(env.ok());
  EXPECT_EQ(std::string(env.status().message()), "couldn't find key k in Secret ns/s");
  c["env"] = Json::parse(
      R"([{"name": "K", "valueFrom": {"configMapKeyRef": {"name": "cm", "key": "k", "optional": true}}}])");
  env = ResolveEnv(ctx);
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->empty());
}

TEST(Resources, CgroupSettings) {
  Json pod = Pod();
  auto r = ComputeLinuxResources(pod, pod["spec"]["containers"][0], "Guaranteed", 1e9);
  EXPECT_EQ(r.cpu_shares, 512);
  EXPECT_EQ(r.cpu_quota, 50000);
  EXPECT_EQ(r.memory_limit, 64 << 20);
  EXPECT_EQ(r.oom_score_adj, -997);
  EXPECT_EQ(PodCgroupParent("/kubepods", "Guaranteed", "u"), "/kubepods/podu");
  EXPECT_EQ(PodCgroupParent("/kubepods", "BestEffort", "u"), "/kubepods/besteffort/podu");
  EXPECT_EQ(PodCgroupParent("/kubepods", "Burstable", "u"), "/kubepods/burstable/podu");
}

TEST(Phase, UpstreamTable) {
  Json spec = {{"restartPolicy", "Never"}};
  Json running = Json::parse(R"([{"state": {"running": {}}}])");
  Json ok = Json::parse(R"([{"state": {"terminated": {"exitCode": 0}}}])");
  Json bad = Json::parse(R"([{"state": {"terminated": {"exitCode": 1}}}])");
  Json waiting = Json::parse(R"([{"state": {"waiting": {"reason": "ContainerCreating"}}}])");
  Json none = Json::array();
  EXPECT_EQ(ComputePhase(spec, none, running), "Running");
  EXPECT_EQ(ComputePhase(spec, none, ok), "Succeeded");
  EXPECT_EQ(ComputePhase(spec, none, bad), "Failed");
  EXPECT_EQ(ComputePhase(spec, none, waiting), "Pending");
  spec["restartPolicy"] = "Always";
  EXPECT_EQ(ComputePhase(spec, none, bad), "Running");
  spec["restartPolicy"] = "OnFailure";
  EXPECT_EQ(ComputePhase(spec, none, ok), "Succeeded");
  spec["initContainers"] = Json::array({{{"name", "i"}}});
  EXPECT_EQ(ComputePhase(spec, waiting, running), "Pending");
  EXPECT_EQ(ComputePhase(spec, ok, running), "Running");
}

TEST(Backoff, DoublesToMaxAndResets) {
  Backoff b;
  auto t0 = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
  EXPECT_FALSE(b.InBackoffSince("k", t0, t0));
  b.Next("k", t0);
  EXPECT_EQ(b.Get("k"), std::chrono::seconds(10));
  EXPECT_TRUE(b.InBackoffSince("k", t0, t0 + std::chrono::seconds(9)));
  EXPECT_FALSE(b.InBackoffSince("k", t0, t0 + std::chrono::seconds(10)));
  for (int i = 0; i < 10; ++i) b.Next("k", t0 + std::chrono::seconds(i));
  EXPECT_EQ(b.Get("k"), std::chrono::seconds(300));
  b.Next("k", t0 + std::chrono::seconds(2000));  // idle > 2*max: back to 10 s
  EXPECT_EQ(b.Get("k"), std::chrono::seconds(10));
  EXPECT_EQ(GoDuration(std::chrono::seconds(10)), "10s");
  EXPECT_EQ(GoDuration(std::chrono::seconds(300)), "5m0s");
  EXPECT_EQ(GoDuration(std::chrono::seconds(160)), "2m40s");
}

}  // namespace
}  // namespace korral::kubelet
