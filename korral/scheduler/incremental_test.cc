// InterPodAffinity and PodTopologySpread keep per-node counts across scheduling cycles (updated
// from the snapshot's change log). These tests drive whole cycles through the Scheduler, with
// pods assumed, confirmed, added behind the scheduler's back and deleted between cycles, and
// check every placement against what a fresh computation allows.
#include <gtest/gtest.h>

#include <map>

#include "korral/scheduler/scheduler.h"
#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

using testing::NodeJson;
using testing::PodJson;

Json AntiAffinityPod(const std::string& name, const std::string& app, const std::string& avoid,
                     const std::string& key = "kubernetes.io/hostname") {
  Json p = PodJson(name, "100m", "", {{"app", app}});
  p["spec"]["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
      Json::array({{{"labelSelector", {{"matchLabels", {{"app", avoid}}}}}, {"topologyKey", key}}});
  return p;
}

Json AffinityPod(const std::string& name, const std::string& app, const std::string& with,
                 const std::string& key) {
  Json p = PodJson(name, "100m", "", {{"app", app}});
  p["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] =
      Json::array({{{"labelSelector", {{"matchLabels", {{"app", with}}}}}, {"topologyKey", key}}});
  return p;
}

Json SpreadPod(const std::string& name, int max_skew = 1) {
  Json p = PodJson(name, "100m", "", {{"app", "spread"}});
  p["spec"]["topologySpreadConstraints"] =
      Json::array({{{"maxSkew", max_skew},
                    {"topologyKey", "topology.kubernetes.io/zone"},
                    {"whenUnsatisfiable", "DoNotSchedule"},
                    {"labelSelector", {{"matchLabels", {{"app", "spread"}}}}}}});
  return p;
}

class IncrementalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SchedulerOptions o;
    o.seed = 7;
    o.percentage_of_nodes_to_score = 100;
    auto s = Scheduler::New(o, nullptr);
    ASSERT_TRUE(s.ok()) << s.status();
    s_ = std::move(*s);
    for (int z = 0; z < 3; ++z) {
      for (int i = 0; i < 2; ++i) {
        std::string name = "n" + std::to_string(z) + std::to_string(i);
        s_->OnNodeAdd(MakeNode(NodeJson(
            name, "8", "32Gi", {{"topology.kubernetes.io/zone", "z" + std::to_string(z)}})));
      }
    }
  }
  // Queues `pod`, runs one cycle, returns its node ("" when unschedulable).
  std::string Schedule(const Json& pod) {
    PodInfoPtr p = MakePod(pod);
    s_->OnPodAdd(p);
    EXPECT_TRUE(s_->ScheduleOne(std::chrono::milliseconds(100)));
    PodInfoPtr got = s_->cache().GetPod(p->key);
    if (!got) {
      s_->queue().Delete(p->key);
      return "";
    }
    placed_[p->key] = got;
    return got->node_name;
  }
  std::string Zone(const std::string& node) { return "z" + node.substr(1, 1); }
  void Delete(const std::string& name) {
    auto it = placed_.find("default/" + name);
    ASSERT_NE(it, placed_.end());
    s_->OnPodDelete(it->second);
    placed_.erase(it);
  }
  // A pod bound by someone else (the informer reports it assigned).
  void AddAssigned(Json pod, const std::string& node) {
    pod["spec"]["nodeName"] = node;
    PodInfoPtr p = MakePod(pod);
    s_->OnPodAdd(p);
    placed_[p->key] = p;
  }

  std::unique_ptr<Scheduler> s_;
  std::map<std::string, PodInfoPtr> placed_;
};

TEST_F(IncrementalTest, RequiredAntiAffinityAcrossCycles) {
  std::set<std::string> used;
  for (int i = 0; i < 6; ++i) {
    std::string n = Schedule(AntiAffinityPod("a" + std::to_string(i), "a", "a"));
    ASSERT_FALSE(n.empty()) << i;
    EXPECT_TRUE(used.insert(n).second) << "two anti-affine pods on " << n;
  }
  EXPECT_EQ(Schedule(AntiAffinityPod("a6", "a", "a")), "");
  // A pod deleted frees its node for the next one (and only that node).
  std::string freed = placed_["default/a3"]->node_name;
  Delete("a3");
  EXPECT_EQ(Schedule(AntiAffinityPod("a7", "a", "a")), freed);
  EXPECT_EQ(Schedule(AntiAffinityPod("a8", "a", "a")), "");
  // Pods that do not match the selector are not affected.
  EXPECT_NE(Schedule(AntiAffinityPod("b0", "b", "b")), "");
}

TEST_F(IncrementalTest, ExistingPodsAntiAffinityAcrossCycles) {
  // A pod that repels app=web from its zone, bound behind the scheduler's back.
  AddAssigned(AntiAffinityPod("guard", "guard", "web", "topology.kubernetes.io/zone"), "n10");
  for (int i = 0; i < 8; ++i) {
    std::string n = Schedule(PodJson("web" + std::to_string(i), "100m", "", {{"app", "web"}}));
    ASSERT_FALSE(n.empty());
    EXPECT_NE(Zone(n), "z1") << n;
  }
  Delete("guard");
  bool z1 = false;
  for (int i = 8; i < 40 && !z1; ++i) {
    z1 = Zone(Schedule(PodJson("web" + std::to_string(i), "100m", "", {{"app", "web"}}))) == "z1";
  }
  EXPECT_TRUE(z1) << "zone z1 stays blocked after the guard pod is gone";
}

TEST_F(IncrementalTest, RequiredAffinityFollowsMatchingPods) {
  EXPECT_EQ(Schedule(AffinityPod("f0", "f", "db", "topology.kubernetes.io/zone")), "");
  AddAssigned(PodJson("db", "100m", "", {{"app", "db"}}), "n21");
  for (int i = 1; i < 5; ++i) {
    EXPECT_EQ(Zone(Schedule(
                  AffinityPod("f" + std::to_string(i), "f", "db", "topology.kubernetes.io/zone"))),
              "z2");
  }
  Delete("db");
  EXPECT_EQ(Schedule(AffinityPod("f9", "f", "db", "topology.kubernetes.io/zone")), "");
}

TEST_F(IncrementalTest, HardTopologySpreadAcrossCycles) {
  std::map<std::string, int> per_zone;
  auto check = [&] {
    int mn = 1 << 30, mx = 0;
    for (const auto& z : {"z0", "z1", "z2"}) {
      mn = std::min(mn, per_zone[z]);
      mx = std::max(mx, per_zone[z]);
    }
    EXPECT_LE(mx - mn, 1);
  };
  for (int i = 0; i < 9; ++i) {
    std::string n = Schedule(SpreadPod("s" + std::to_string(i)));
    ASSERT_FALSE(n.empty());
    per_zone[Zone(n)]++;
    check();
  }
  EXPECT_EQ(per_zone["z0"], 3);
  // Two matching pods appear in z0 without the scheduler placing them: z1 and z2 must catch up.
  AddAssigned(SpreadPod("x0"), "n00");
  AddAssigned(SpreadPod("x1"), "n01");
  per_zone["z0"] += 2;
  for (int i = 9; i < 11; ++i) {
    std::string n = Schedule(SpreadPod("s" + std::to_string(i)));
    EXPECT_NE(Zone(n), "z0");
    per_zone[Zone(n)]++;
  }
  EXPECT_EQ(per_zone["z1"], 4);
  EXPECT_EQ(per_zone["z2"], 4);
  // Deleting pods in z1 makes z1 the only zone that fits with maxSkew 1.
  int deleted = 0;
  for (auto it = placed_.begin(); it != placed_.end() && deleted < 2;) {
    if (Zone(it->second->node_name) == "z1") {
      s_->OnPodDelete(it->second);
      it = placed_.erase(it);
      ++deleted;
    } else {
      ++it;
    }
  }
  per_zone["z1"] -= 2;  // z0 5, z1 2, z2 4
  EXPECT_EQ(Zone(Schedule(SpreadPod("s11"))), "z1");
  // A node added later joins its zone's domain.
  s_->OnNodeAdd(MakeNode(NodeJson("n30", "8", "32Gi", {{"topology.kubernetes.io/zone", "z3"}})));
  EXPECT_EQ(Schedule(SpreadPod("s12")), "n30");
}

TEST_F(IncrementalTest, EmptyNamespaceSelectorIsNotConfusedWithOwnNamespace) {
  AddAssigned(PodJson("x", "100m", "", {{"app", "a"}}, "other"), "n00");
  auto pod = [](const std::string& name, bool all_namespaces) {
    Json p = AntiAffinityPod(name, "z", "a");
    p["spec"]["nodeSelector"] = {{"kubernetes.io/hostname", "n00"}};
    Json& term = p["spec"]["affinity"]["podAntiAffinity"]
                  ["requiredDuringSchedulingIgnoredDuringExecution"][0];
    term["namespaces"] = Json::array({"default"});
    if (all_namespaces) term["namespaceSelector"] = Json::object();
    return p;
  };
  // Only the pod's own namespace: "x" (namespace other) does not count.
  EXPECT_EQ(Schedule(pod("own", false)), "n00");
  // namespaceSelector {}: every namespace, so "x" repels it.
  EXPECT_EQ(Schedule(pod("all", true)), "");
  EXPECT_EQ(Schedule(pod("own2", false)), "n00");
}

}  // namespace
}  // namespace korral::scheduler
