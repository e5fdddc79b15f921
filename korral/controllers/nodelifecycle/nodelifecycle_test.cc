// Tests of the node lifecycle controller on a fake clock.
#include "korral/controllers/nodelifecycle/nodelifecycle.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Leases;
using client::resources::Nodes;
using client::resources::Pods;
using std::chrono::seconds;

Json Toleration(const std::string& key, std::optional<int> secs) {
  Json t = {{"key", key}, {"operator", "Exists"}, {"effect", "NoExecute"}};
  if (secs) t["tolerationSeconds"] = *secs;
  return t;
}

class NodeLifecycleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string now = FormatTime(env.clock.Now());
    // A second, healthy node in the zone: with every node of every zone down, upstream stops
    // tainting (it assumes the control plane is cut off).
    for (const char* name : {"n2"}) {
      Json n2 = {{"metadata", {{"name", name}, {"labels", {{"topology.kubernetes.io/zone", "z"}}}}},
                 {"status",
                  {{"conditions",
                    {{{"type", "Ready"},
                      {"status", "True"},
                      {"lastHeartbeatTime", now},
                      {"lastTransitionTime", now}}}}}}};
      ASSERT_TRUE(env.client.Create(Nodes(), "", n2).ok());
      ASSERT_TRUE(env.client
                      .Create(Leases(), "kube-node-lease",
                              {{"metadata", {{"name", name}}},
                               {"spec", {{"holderIdentity", name}, {"renewTime", now}}}})
                      .ok());
    }
    Json node = {{"metadata", {{"name", "n1"}, {"labels", {{"topology.kubernetes.io/zone", "z"}}}}},
                 {"spec", Json::object()},
                 {"status",
                  {{"conditions",
                    {{{"type", "Ready"},
                      {"status", "True"},
                      {"lastHeartbeatTime", now},
                      {"lastTransitionTime", now}}}}}}};
    ASSERT_TRUE(env.client.Create(Nodes(), "", node).ok());
    ASSERT_TRUE(env.client
                    .Create(Leases(), "kube-node-lease",
                            {{"metadata", {{"name", "n1"}}},
                             {"spec", {{"holderIdentity", "n1"}, {"renewTime", now}}}})
                    .ok());
    auto pod = [&](const std::string& name, Json tolerations) {
      Json p = {
          {"metadata", {{"name", name}}},
          {"spec", {{"nodeName", "n1"}, {"tolerations", tolerations}}},
          {"status",
           {{"phase", "Running"}, {"conditions", {{{"type", "Ready"}, {"status", "True"}}}}}}};
      ASSERT_TRUE(env.client.Create(Pods(), "default", p).ok());
    };
    pod("intolerant", Json::array());
    pod("tolerates-30s", {Toleration(kTaintUnreachable, 30)});
    pod("tolerates-forever", {Toleration(kTaintUnreachable, std::nullopt)});
    c = std::make_unique<NodeLifecycleController>(env.ctx);
    env.StartInformers();
  }
  Json Node() { return *env.client.Get(Nodes(), "", "n1"); }
  // Advances the clock; n2 keeps renewing its lease.
  void Advance(std::chrono::seconds d) {
    env.clock.Advance(d);
    Json lease = *env.client.Get(Leases(), "kube-node-lease", "n2");
    lease["spec"]["renewTime"] = FormatTime(env.clock.Now());
    ASSERT_TRUE(env.client.Update(Leases(), "kube-node-lease", lease).ok());
    ASSERT_TRUE(env.WaitForCache(Leases(), "kube-node-lease/n2"));
  }
  std::string Ready(const Json& n) {
    for (const auto& c : n["status"]["conditions"]) {
      if (c["type"] == "Ready") return c["status"];
    }
    return "";
  }
  bool PodExists(const std::string& name) { return env.client.Get(Pods(), "default", name).ok(); }
  // Waits until the informers hold what the API holds for every node and pod the tests use
  // (the controller updates from its cache: a stale copy would fail with a Conflict).
  void Settle() {
    ASSERT_TRUE(env.WaitForCache(Nodes(), "n1"));
    if (env.client.Get(Nodes(), "", "n2").ok()) ASSERT_TRUE(env.WaitForCache(Nodes(), "n2"));
    for (const char* p : {"intolerant", "tolerates-30s", "tolerates-forever"}) {
      if (PodExists(p)) {
        ASSERT_TRUE(env.WaitForCache(Pods(), std::string("default/") + p));
      }
    }
  }

  ControllerTestEnv env;
  std::unique_ptr<NodeLifecycleController> c;
  // Informers stop before the controller above is destroyed.
  void TearDown() override { env.informers->Stop(); }
};

TEST_F(NodeLifecycleTest, SilentNodeIsTaintedAndPodsEvictedAfterTolerationThenUntainted) {
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  Advance(seconds(30));
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  EXPECT_EQ(Ready(Node()), "True");  // within the 40 s grace period
  EXPECT_FALSE(Node()["spec"].contains("taints"));

  Advance(seconds(15));
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  Json n = Node();
  EXPECT_EQ(Ready(n), "Unknown");
  for (const auto& cond : n["status"]["conditions"]) {
    EXPECT_EQ(cond["reason"], "NodeStatusUnknown");
    EXPECT_EQ(cond["message"], "Kubelet stopped posting node status.");
  }
  // The pods are marked not ready.
  EXPECT_EQ((*env.client.Get(Pods(), "default", "intolerant"))["status"]["conditions"][0]["status"],
            "False");
  Settle();
  ASSERT_TRUE(c->MonitorNodeHealth().ok());  // taints follow the Unknown condition
  n = Node();
  ASSERT_EQ(n["spec"]["taints"].size(), 2u) << n.dump();
  EXPECT_EQ(n["spec"]["taints"][0]["key"], kTaintUnreachable);
  EXPECT_EQ(n["spec"]["taints"][0]["effect"], "NoSchedule");
  EXPECT_EQ(n["spec"]["taints"][1]["effect"], "NoExecute");
  EXPECT_TRUE(n["spec"]["taints"][1].contains("timeAdded"));

  Settle();
  ASSERT_TRUE(c->ProcessEvictions().ok());
  EXPECT_FALSE(PodExists("intolerant"));
  EXPECT_TRUE(PodExists("tolerates-30s"));
  Advance(seconds(29));
  Settle();
  ASSERT_TRUE(c->ProcessEvictions().ok());
  EXPECT_TRUE(PodExists("tolerates-30s"));
  Advance(seconds(1));
  ASSERT_TRUE(c->ProcessEvictions().ok());
  EXPECT_FALSE(PodExists("tolerates-30s"));
  EXPECT_TRUE(PodExists("tolerates-forever"));

  // The node comes back: lease renewed and Ready=True posted.
  std::string now = FormatTime(env.clock.Now());
  Json lease = *env.client.Get(Leases(), "kube-node-lease", "n1");
  lease["spec"]["renewTime"] = now;
  ASSERT_TRUE(env.client.Update(Leases(), "kube-node-lease", lease).ok());
  n = Node();
  for (auto& cond : n["status"]["conditions"]) {
    cond["status"] = cond["type"] == "Ready" ? "True" : "False";
    cond["lastHeartbeatTime"] = now;
  }
  ASSERT_TRUE(env.client.UpdateStatus(Nodes(), "", n).ok());
  ASSERT_TRUE(env.WaitForCache(Leases(), "kube-node-lease/n1"));
  Settle();
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  EXPECT_FALSE(Node()["spec"].contains("taints")) << Node().dump();
}

TEST_F(NodeLifecycleTest, LeaseRenewalAloneKeepsTheNodeHealthy) {
  for (int i = 0; i < 5; ++i) {
    env.clock.Advance(seconds(20));
    Json lease = *env.client.Get(Leases(), "kube-node-lease", "n1");
    lease["spec"]["renewTime"] = FormatTime(env.clock.Now());
    ASSERT_TRUE(env.client.Update(Leases(), "kube-node-lease", lease).ok());
    ASSERT_TRUE(env.WaitForCache(Leases(), "kube-node-lease/n1"));
    ASSERT_TRUE(c->MonitorNodeHealth().ok());
  }
  EXPECT_EQ(Ready(Node()), "True");
  EXPECT_FALSE(Node()["spec"].contains("taints"));
}

TEST_F(NodeLifecycleTest, NoNoExecuteTaintsWhenEveryNodeIsDown) {
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  env.clock.Advance(seconds(45));  // n1 and n2 both silent: full disruption everywhere
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  Settle();
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  Json n = Node();
  EXPECT_EQ(Ready(n), "Unknown");
  for (const auto& t : n["spec"].value("taints", Json::array()))
    EXPECT_NE(t["effect"], "NoExecute");
  ASSERT_TRUE(c->ProcessEvictions().ok());
  EXPECT_TRUE(PodExists("intolerant"));
}

TEST_F(NodeLifecycleTest, PressureConditionsAndCordonBecomeNoScheduleTaints) {
  Json n = Node();
  std::string now = FormatTime(env.clock.Now());
  n["status"]["conditions"].push_back({{"type", "MemoryPressure"},
                                       {"status", "True"},
                                       {"lastHeartbeatTime", now},
                                       {"lastTransitionTime", now}});
  n["status"]["conditions"].push_back({{"type", "DiskPressure"},
                                       {"status", "False"},
                                       {"lastHeartbeatTime", now},
                                       {"lastTransitionTime", now}});
  ASSERT_TRUE(env.client.UpdateStatus(Nodes(), "", n).ok());
  n = Node();
  n["spec"]["unschedulable"] = true;
  n["spec"]["taints"] = Json::array({{{"key", "dedicated"}, {"effect", "NoSchedule"}}});
  ASSERT_TRUE(env.client.Update(Nodes(), "", n).ok());
  Settle();
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  std::vector<std::string> keys;
  const Json tainted = Node();
  for (const auto& t : tainted["spec"]["taints"]) {
    EXPECT_EQ(t["effect"], "NoSchedule");
    keys.push_back(t["key"]);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"dedicated", "node.kubernetes.io/memory-pressure",
                                            "node.kubernetes.io/unschedulable"}));

  // Pressure relieved and the node uncordoned: only the user's taint stays.
  n = Node();
  for (auto& cond : n["status"]["conditions"]) {
    if (cond["type"] == "MemoryPressure") cond["status"] = "False";
  }
  ASSERT_TRUE(env.client.UpdateStatus(Nodes(), "", n).ok());
  n = Node();
  n["spec"]["unschedulable"] = false;
  ASSERT_TRUE(env.client.Update(Nodes(), "", n).ok());
  Settle();
  ASSERT_TRUE(c->MonitorNodeHealth().ok());
  Json taints = Node()["spec"]["taints"];
  ASSERT_EQ(taints.size(), 1u) << taints.dump();
  EXPECT_EQ(taints[0]["key"], "dedicated");
}

TEST(TolerationTest, Matching) {
  Json taint = {{"key", kTaintUnreachable}, {"effect", "NoExecute"}};
  EXPECT_TRUE(ToleratesTaint(Json::array({{{"operator", "Exists"}}}), taint));
  EXPECT_TRUE(ToleratesTaint(Json::array({Toleration(kTaintUnreachable, 5)}), taint));
  EXPECT_FALSE(ToleratesTaint(Json::array({Toleration(kTaintNotReady, 5)}), taint));
  EXPECT_FALSE(ToleratesTaint(
      Json::array({{{"key", kTaintUnreachable}, {"operator", "Exists"}, {"effect", "NoSchedule"}}}),
      taint));
  EXPECT_FALSE(ToleratesTaint(Json::array(), taint));
}

}  // namespace
}  // namespace korral::controllers
