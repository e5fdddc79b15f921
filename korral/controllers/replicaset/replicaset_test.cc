// korral/controllers/replicaset/replicaset_test.cc
#include "korral/controllers/replicaset/replicaset.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

Json MakeRs(const std::string& name, int replicas, int min_ready = 0) {
  return {{"apiVersion", "apps/v1"},
          {"kind", "ReplicaSet"},
          {"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 1}}},
          {"spec",
           {{"replicas", replicas},
            {"minReadySeconds", min_ready},
            {"selector", {{"matchLabels", {{"app", name}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", name}, {"tier", "web"}}}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx"}}}}}}}}}}};
}

std::vector<Json> PodsOf(WorkloadTestEnv& env, const Json& owner) {
  std::vector<Json> out;
  for (const Json& p : env.List(PodsRef())) {
    const Json* ref = ControllerRefOf(p);
    if (ref != nullptr && (*ref)["uid"] == UidOf(owner)) out.push_back(p);
  }
  return out;
}

class ReplicaSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rsc = std::make_unique<ReplicaSetController>(env.ctx);
    env.Start();
  }
  void TearDown() override {
    env.informers.Stop();  // no handler may run on a destroyed controller
    rsc->Stop();
  }
  WorkloadTestEnv env;
  std::unique_ptr<ReplicaSetController> rsc;
};

TEST_F(ReplicaSetTest, CreatesPodsWithControllerRefAndReportsStatus) {
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("web", 3));
  env.RunUntilQuiet(*rsc);
  auto pods = PodsOf(env, rs);
  ASSERT_EQ(pods.size(), 3u);
  for (const Json& p : pods) {
    EXPECT_EQ(p["metadata"]["generateName"], "web-");
    EXPECT_EQ(p["metadata"]["labels"]["tier"], "web");
    const Json* ref = ControllerRefOf(p);
    EXPECT_EQ((*ref)["kind"], "ReplicaSet");
    EXPECT_EQ((*ref)["apiVersion"], "apps/v1");
    EXPECT_EQ((*ref)["blockOwnerDeletion"], true);
  }
  Json got = env.Get(ReplicaSetsRef(), "default", "web");
  EXPECT_EQ(got["status"]["replicas"], 3);
  EXPECT_EQ(got["status"]["fullyLabeledReplicas"], 3);
  EXPECT_EQ(got["status"]["readyReplicas"], 0);
  EXPECT_EQ(got["status"]["observedGeneration"], 1);

  for (const Json& p : pods) env.SetPodStatus(p, "Running", true);
  env.RunUntilQuiet(*rsc);
  got = env.Get(ReplicaSetsRef(), "default", "web");
  EXPECT_EQ(got["status"]["readyReplicas"], 3);
  EXPECT_EQ(got["status"]["availableReplicas"], 3);
  rsc->recorder().Flush();
  auto events = env.List(EventsRef());
  int created = 0;
  for (const Json& e : events) {
    if (e["reason"] == "SuccessfulCreate") {
      created++;
      EXPECT_EQ(e["involvedObject"]["kind"], "ReplicaSet");
      EXPECT_EQ(e["source"]["component"], "replicaset-controller");
    }
  }
  EXPECT_EQ(created, 3);
}

TEST_F(ReplicaSetTest, MinReadySecondsUsesTheClock) {
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("web", 2, 10));
  env.RunUntilQuiet(*rsc);
  for (const Json& p : PodsOf(env, rs)) env.SetPodStatus(p, "Running", true);
  env.RunUntilQuiet(*rsc);
  Json got = env.Get(ReplicaSetsRef(), "default", "web");
  EXPECT_EQ(got["status"]["readyReplicas"], 2);
  EXPECT_EQ(got["status"]["availableReplicas"], 0);
  env.clock.Advance(std::chrono::seconds(12));
  env.RunUntilQuiet(*rsc);
  got = env.Get(ReplicaSetsRef(), "default", "web");
  EXPECT_EQ(got["status"]["availableReplicas"], 2);
}

TEST_F(ReplicaSetTest, ScaleDownDeletesUnreadyAndUnscheduledFirst) {
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("web", 4));
  env.RunUntilQuiet(*rsc);
  auto pods = PodsOf(env, rs);
  ASSERT_EQ(pods.size(), 4u);
  // pods[0], pods[1]: scheduled, running and ready; pods[2]: scheduled, pending; pods[3]:
  // unscheduled.
  for (int i = 0; i < 3; ++i) {
    Json p = env.Get(PodsRef(), "default", NameOf(pods[i]));
    p["spec"]["nodeName"] = "node-" + std::to_string(i);
    ASSERT_TRUE(env.client.Update(PodsRef(), "default", p).ok());
  }
  env.SetPodStatus(pods[0], "Running", true);
  env.SetPodStatus(pods[1], "Running", true);
  env.RunUntilQuiet(*rsc);
  Json cur = env.Get(ReplicaSetsRef(), "default", "web");
  cur["spec"]["replicas"] = 2;
  ASSERT_TRUE(env.client.Update(ReplicaSetsRef(), "default", cur).ok());
  env.RunUntilQuiet(*rsc);
  auto left = PodsOf(env, rs);
  ASSERT_EQ(left.size(), 2u);
  std::set<std::string> names = {NameOf(left[0]), NameOf(left[1])};
  EXPECT_TRUE(names.count(NameOf(pods[0])));
  EXPECT_TRUE(names.count(NameOf(pods[1])));
}

TEST_F(ReplicaSetTest, AdoptsOrphansAndReleasesRelabeledPods) {
  // An orphan with matching labels exists before the ReplicaSet.
  env.Create(PodsRef(), {{"metadata", {{"name", "orphan"}, {"labels", {{"app", "web"}}}}},
                         {"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}});
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("web", 2));
  env.RunUntilQuiet(*rsc);
  auto pods = PodsOf(env, rs);
  ASSERT_EQ(pods.size(), 2u);
  Json orphan = env.Get(PodsRef(), "default", "orphan");
  ASSERT_NE(ControllerRefOf(orphan), nullptr);
  // Relabel: the pod is released and replaced.
  orphan["metadata"]["labels"]["app"] = "other";
  ASSERT_TRUE(env.client.Update(PodsRef(), "default", orphan).ok());
  env.RunUntilQuiet(*rsc);
  EXPECT_EQ(ControllerRefOf(env.Get(PodsRef(), "default", "orphan")), nullptr);
  EXPECT_EQ(PodsOf(env, rs).size(), 2u);
}

TEST_F(ReplicaSetTest, TerminalPodsAreReplaced) {
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("web", 2));
  env.RunUntilQuiet(*rsc);
  auto pods = PodsOf(env, rs);
  env.SetPodStatus(pods[0], "Failed", false);
  env.RunUntilQuiet(*rsc);
  int active = 0;
  for (const Json& p : PodsOf(env, rs)) active += IsPodActive(p) ? 1 : 0;
  EXPECT_EQ(active, 2);
  EXPECT_EQ(env.Get(ReplicaSetsRef(), "default", "web")["status"]["replicas"], 2);
}

TEST_F(ReplicaSetTest, CreateFailureSetsReplicaFailureAndLowersExpectations) {
  env.client.InjectError("create", "pods", absl::PermissionDeniedError("quota exceeded"), 1);
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("web", 3));
  env.Settle();
  rsc->ProcessAll(1);
  Json got = env.Get(ReplicaSetsRef(), "default", "web");
  const Json* cond = FindCondition(got["status"], "ReplicaFailure");
  ASSERT_NE(cond, nullptr);
  EXPECT_EQ((*cond)["reason"], "FailedCreate");
  EXPECT_TRUE(rsc->expectations().Satisfied("default/web"));
  // The retry (rate-limited, on the fake clock) creates the pods and clears the condition.
  env.clock.Advance(std::chrono::seconds(1));
  env.RunUntilQuiet(*rsc);
  got = env.Get(ReplicaSetsRef(), "default", "web");
  EXPECT_EQ(FindCondition(got["status"], "ReplicaFailure"), nullptr);
  EXPECT_EQ(PodsOf(env, rs).size(), 3u);
}

TEST_F(ReplicaSetTest, BurstIsCappedPerSync) {
  Json rs = env.Create(ReplicaSetsRef(), MakeRs("big", 600));
  env.Settle();
  rsc->ProcessAll(1);
  EXPECT_EQ(PodsOf(env, rs).size(), static_cast<size_t>(kBurstReplicas));
  env.RunUntilQuiet(*rsc);
  EXPECT_EQ(PodsOf(env, rs).size(), 600u);
}

TEST(SortPodsForDeletion, RanksAsUpstream) {
  auto now = std::chrono::system_clock::time_point(std::chrono::hours(1000));
  auto pod = [&](std::string name, std::string node, std::string phase, bool ready, int age_s) {
    Json p = {{"metadata",
               {{"name", name},
                {"uid", name},
                {"creationTimestamp", FormatTime(now - std::chrono::seconds(age_s))}}},
              {"spec", {{"nodeName", node}}},
              {"status", {{"phase", phase}}}};
    if (ready) {
      Json cond = {{"type", "Ready"},
                   {"status", "True"},
                   {"lastTransitionTime", FormatTime(now - std::chrono::seconds(age_s))}};
      p["status"]["conditions"] = Json::array({cond});
    }
    return std::make_shared<const Json>(p);
  };
  std::vector<ObjectPtr> pods = {
      pod("old-ready", "n1", "Running", true, 100000), pod("new-ready", "n1", "Running", true, 10),
      pod("pending", "n1", "Pending", false, 5), pod("unscheduled", "", "Pending", false, 1),
      pod("running-unready", "n1", "Running", false, 50)};
  SortPodsForDeletion(pods, {1, 1, 1, 1, 1}, now);
  std::vector<std::string> order;
  for (auto& p : pods) order.push_back(NameOf(*p));
  EXPECT_EQ(order, (std::vector<std::string>{"unscheduled", "pending", "running-unready",
                                             "new-ready", "old-ready"}));
}

}  // namespace
}  // namespace korral::controllers::workload
