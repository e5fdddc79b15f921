// korral/controllers/deployment/deployment_test.cc
#include "korral/controllers/deployment/deployment.h"

#include <gtest/gtest.h>

#include "korral/controllers/replicaset/replicaset.h"
#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

Json MakeDeployment(const std::string& name, int replicas, const std::string& image,
                    const std::string& strategy = "RollingUpdate") {
  Json d = {{"apiVersion", "apps/v1"},
            {"kind", "Deployment"},
            {"metadata", {{"name", name}, {"namespace", "default"}, {"generation", 1}}},
            {"spec",
             {{"replicas", replicas},
              {"revisionHistoryLimit", 10},
              {"progressDeadlineSeconds", 600},
              {"selector", {{"matchLabels", {{"app", name}}}}},
              {"strategy", {{"type", strategy}}},
              {"template",
               {{"metadata", {{"labels", {{"app", name}}}}},
                {"spec", {{"containers", {{{"name", "c"}, {"image", image}}}}}}}}}}};
  if (strategy == "RollingUpdate") {
    d["spec"]["strategy"]["rollingUpdate"] = {{"maxSurge", "25%"}, {"maxUnavailable", "25%"}};
  }
  return d;
}

class DeploymentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rsc = std::make_unique<ReplicaSetController>(env.ctx);
    dc = std::make_unique<DeploymentController>(env.ctx);
    env.Start();
  }
  void TearDown() override {
    env.informers.Stop();  // no handler may run on a destroyed controller
    dc->Stop();
    rsc->Stop();
  }
  void Quiet() {
    for (int i = 0; i < 50; ++i) {
      env.Settle();
      int n = rsc->ProcessAll() + dc->ProcessAll();
      if (n == 0) break;
    }
    env.Settle();
  }
  // Marks every pending pod Running and Ready, then syncs; repeated until nothing changes.
  void MakeAllReady(int rounds = 20) {
    for (int i = 0; i < rounds; ++i) {
      Quiet();
      bool changed = false;
      for (const Json& p : env.List(PodsRef())) {
        if (!IsPodReady(p) && IsPodActive(p)) {
          env.SetPodStatus(p, "Running", true);
          changed = true;
        }
      }
      if (!changed) break;
    }
    Quiet();
  }
  std::vector<Json> ReplicaSets() { return env.List(ReplicaSetsRef()); }
  Json Deployment(const std::string& name) { return env.Get(DeploymentsRef(), "default", name); }
  void UpdateSpec(const std::string& name, const std::function<void(Json&)>& f) {
    Json d = Deployment(name);
    f(d["spec"]);
    d["metadata"]["generation"] = d["metadata"]["generation"].get<int>() + 1;
    ASSERT_TRUE(env.client.Update(DeploymentsRef(), "default", d).ok());
  }

  WorkloadTestEnv env;
  std::unique_ptr<ReplicaSetController> rsc;
  std::unique_ptr<DeploymentController> dc;
};

TEST_F(DeploymentTest, CreatesReplicaSetWithHashAndRevision) {
  env.Create(DeploymentsRef(), MakeDeployment("web", 3, "nginx:1"));
  Quiet();
  auto rss = ReplicaSets();
  ASSERT_EQ(rss.size(), 1u);
  const Json& rs = rss[0];
  std::string hash = rs["spec"]["template"]["metadata"]["labels"][kPodTemplateHashLabel];
  EXPECT_FALSE(hash.empty());
  EXPECT_EQ(NameOf(rs), "web-" + hash);
  EXPECT_EQ(rs["spec"]["selector"]["matchLabels"][kPodTemplateHashLabel], hash);
  EXPECT_EQ(rs["metadata"]["labels"][kPodTemplateHashLabel], hash);
  EXPECT_EQ(rs["spec"]["replicas"], 3);
  EXPECT_EQ(Annotation(rs, kRevisionAnnotation), "1");
  EXPECT_EQ(Annotation(rs, kDesiredReplicasAnnotation), "3");
  EXPECT_EQ(Annotation(rs, kMaxReplicasAnnotation), "4");
  EXPECT_EQ((*ControllerRefOf(rs))["kind"], "Deployment");
  EXPECT_EQ(env.List(PodsRef()).size(), 3u);
  Json d = Deployment("web");
  EXPECT_EQ(Annotation(d, kRevisionAnnotation), "1");
  const Json* prog = FindCondition(d["status"], "Progressing");
  ASSERT_NE(prog, nullptr);
  EXPECT_EQ((*prog)["status"], "True");
  const Json* avail = FindCondition(d["status"], "Available");
  ASSERT_NE(avail, nullptr);
  EXPECT_EQ((*avail)["reason"], "MinimumReplicasUnavailable");

  MakeAllReady();
  d = Deployment("web");
  EXPECT_EQ(d["status"]["updatedReplicas"], 3);
  EXPECT_EQ(d["status"]["availableReplicas"], 3);
  EXPECT_EQ(d["status"]["readyReplicas"], 3);
  EXPECT_EQ(d["status"]["observedGeneration"], 1);
  EXPECT_EQ((*FindCondition(d["status"], "Progressing"))["reason"], "NewReplicaSetAvailable");
  EXPECT_EQ((*FindCondition(d["status"], "Available"))["reason"], "MinimumReplicasAvailable");
}

TEST_F(DeploymentTest, RollingUpdateAndRollback) {
  env.Create(DeploymentsRef(), MakeDeployment("web", 3, "nginx:1"));
  MakeAllReady();
  Json old_template = ReplicaSets()[0]["spec"]["template"];
  UpdateSpec("web", [](Json& s) { s["template"]["spec"]["containers"][0]["image"] = "nginx:2"; });
  Quiet();
  // maxSurge 25% of 3 rounds up to 1, maxUnavailable rounds down to 0: one new pod first.
  auto rss = ReplicaSets();
  ASSERT_EQ(rss.size(), 2u);
  int64_t total = 0;
  for (const Json& rs : rss) total += rs["spec"]["replicas"].get<int64_t>();
  EXPECT_EQ(total, 4);
  MakeAllReady();
  rss = ReplicaSets();
  ASSERT_EQ(rss.size(), 2u);
  for (const Json& rs : rss) {
    if (Annotation(rs, kRevisionAnnotation) == "2") {
      EXPECT_EQ(rs["spec"]["replicas"], 3);
      EXPECT_EQ(rs["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2");
    } else {
      EXPECT_EQ(Annotation(rs, kRevisionAnnotation), "1");
      EXPECT_EQ(rs["spec"]["replicas"], 0);
    }
  }
  Json d = Deployment("web");
  EXPECT_EQ(Annotation(d, kRevisionAnnotation), "2");
  EXPECT_EQ(d["status"]["updatedReplicas"], 3);
  EXPECT_EQ(d["status"]["replicas"], 3);
  dc->recorder().Flush();
  bool scaled_down = false;
  for (const std::string& e : dc->recorder().Recent()) {
    if (e.find("ScalingReplicaSet Scaled down replica set") != std::string::npos)
      scaled_down = true;
  }
  EXPECT_TRUE(scaled_down);

  // kubectl rollout undo: the old template (without the hash label) goes back into the spec.
  old_template["metadata"]["labels"].erase(kPodTemplateHashLabel);
  UpdateSpec("web", [&](Json& s) { s["template"] = old_template; });
  MakeAllReady();
  rss = ReplicaSets();
  ASSERT_EQ(rss.size(), 2u);
  for (const Json& rs : rss) {
    if (rs["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1") {
      EXPECT_EQ(Annotation(rs, kRevisionAnnotation), "3");
      EXPECT_EQ(Annotation(rs, kRevisionHistoryAnnotation), "1");
      EXPECT_EQ(rs["spec"]["replicas"], 3);
    } else {
      EXPECT_EQ(rs["spec"]["replicas"], 0);
    }
  }
  EXPECT_EQ(Annotation(Deployment("web"), kRevisionAnnotation), "3");
}

TEST_F(DeploymentTest, RecreateScalesOldToZeroBeforeNew) {
  env.Create(DeploymentsRef(), MakeDeployment("db", 2, "pg:1", "Recreate"));
  MakeAllReady();
  UpdateSpec("db", [](Json& s) { s["template"]["spec"]["containers"][0]["image"] = "pg:2"; });
  Quiet();
  // Old ReplicaSet scaled to 0 and its pods deleted; the new one created afterwards.
  auto rss = ReplicaSets();
  ASSERT_EQ(rss.size(), 2u);
  for (const Json& rs : rss) {
    if (Annotation(rs, kRevisionAnnotation) == "1") {
      EXPECT_EQ(rs["spec"]["replicas"], 0);
    }
    if (Annotation(rs, kRevisionAnnotation) == "2") {
      EXPECT_EQ(rs["spec"]["replicas"], 2);
    }
  }
  MakeAllReady();
  EXPECT_EQ(Deployment("db")["status"]["updatedReplicas"], 2);
}

TEST_F(DeploymentTest, ProgressDeadlineExceeded) {
  Json d = MakeDeployment("slow", 1, "x:1");
  d["spec"]["progressDeadlineSeconds"] = 30;
  env.Create(DeploymentsRef(), d);
  Quiet();
  env.clock.Advance(std::chrono::seconds(32));
  Quiet();
  Json dep = Deployment("slow");
  const Json* prog = FindCondition(dep["status"], "Progressing");
  ASSERT_NE(prog, nullptr);
  EXPECT_EQ((*prog)["status"], "False");
  EXPECT_EQ((*prog)["reason"], "ProgressDeadlineExceeded");
  EXPECT_NE((*prog)["message"].get<std::string>().find("has timed out progressing"),
            std::string::npos);
}

TEST_F(DeploymentTest, PausedDeploymentDoesNotRollOut) {
  env.Create(DeploymentsRef(), MakeDeployment("web", 2, "nginx:1"));
  MakeAllReady();
  UpdateSpec("web", [](Json& s) {
    s["paused"] = true;
    s["template"]["spec"]["containers"][0]["image"] = "nginx:2";
  });
  MakeAllReady();
  EXPECT_EQ(ReplicaSets().size(), 1u);
  Json dep = Deployment("web");
  const Json* prog = FindCondition(dep["status"], "Progressing");
  ASSERT_NE(prog, nullptr);
  EXPECT_EQ((*prog)["reason"], "DeploymentPaused");
  // Scaling still works while paused.
  UpdateSpec("web", [](Json& s) { s["replicas"] = 4; });
  MakeAllReady();
  EXPECT_EQ(ReplicaSets()[0]["spec"]["replicas"], 4);
  UpdateSpec("web", [](Json& s) { s["paused"] = false; });
  MakeAllReady();
  EXPECT_EQ(ReplicaSets().size(), 2u);
  EXPECT_EQ(Deployment("web")["status"]["updatedReplicas"], 4);
}

TEST_F(DeploymentTest, RevisionHistoryLimitCleansOldReplicaSets) {
  Json d = MakeDeployment("web", 1, "v:0");
  d["spec"]["revisionHistoryLimit"] = 1;
  env.Create(DeploymentsRef(), d);
  MakeAllReady();
  for (int i = 1; i <= 3; ++i) {
    UpdateSpec("web", [&](Json& s) {
      s["template"]["spec"]["containers"][0]["image"] = "v:" + std::to_string(i);
    });
    MakeAllReady();
  }
  // The new ReplicaSet plus one old one.
  EXPECT_EQ(ReplicaSets().size(), 2u);
}

TEST_F(DeploymentTest, ScalingIsProportionalDuringRollout) {
  env.Create(DeploymentsRef(), MakeDeployment("web", 10, "nginx:1"));
  MakeAllReady();
  UpdateSpec("web", [](Json& s) { s["template"]["spec"]["containers"][0]["image"] = "nginx:2"; });
  Quiet();  // mid-rollout: new RS has 3 (surge), old 10 -> scaled down by unavailable budget
  UpdateSpec("web", [](Json& s) { s["replicas"] = 20; });
  Quiet();
  int64_t total = 0;
  for (const Json& rs : ReplicaSets()) total += rs["spec"]["replicas"].get<int64_t>();
  // 20 + maxSurge (25% of 20 = 5).
  EXPECT_EQ(total, 25);
  MakeAllReady();
  Json dep = Deployment("web");
  EXPECT_EQ(dep["status"]["updatedReplicas"], 20);
  EXPECT_EQ(dep["status"]["replicas"], 20);
}

}  // namespace
}  // namespace korral::controllers::workload

namespace korral::controllers::workload {
namespace {

// Restarting the controllers mid-rollout (fresh expectations, informers replayed) finishes the
// rollout with exactly the desired pods and no duplicate ReplicaSets.
TEST(DeploymentRestart, RolloutFinishesAfterRestart) {
  WorkloadTestEnv env;
  auto rsc = std::make_unique<ReplicaSetController>(env.ctx);
  auto dc = std::make_unique<DeploymentController>(env.ctx);
  env.Start();
  env.Create(DeploymentsRef(), MakeDeployment("web", 8, "nginx:1"));
  env.Settle();
  dc->ProcessAll(1);  // creates the ReplicaSet
  env.Settle();
  rsc->ProcessAll(1);  // creates the first pods
  // "Restart": the old process's informers and controllers go away; new ones start from a list.
  env.informers.Stop();
  rsc->Stop();
  dc->Stop();
  rsc.reset();
  dc.reset();
  TestInformerFactory informers2(env.client);
  ControllerContext ctx2 = env.ctx;
  ctx2.informers = &informers2;
  rsc = std::make_unique<ReplicaSetController>(ctx2);
  dc = std::make_unique<DeploymentController>(ctx2);
  informers2.Start();
  informers2.WaitForCacheSync(std::chrono::seconds(5));
  for (int round = 0; round < 20; ++round) {
    for (int i = 0; i < 50; ++i) {
      informers2.Settle(env.client);
      if (rsc->ProcessAll() + dc->ProcessAll() == 0) break;
    }
    bool changed = false;
    for (const Json& p : env.List(PodsRef())) {
      if (!IsPodReady(p)) {
        env.SetPodStatus(p, "Running", true);
        changed = true;
      }
    }
    if (!changed) break;
  }
  EXPECT_EQ(env.List(ReplicaSetsRef()).size(), 1u);
  EXPECT_EQ(env.List(PodsRef()).size(), 8u);
  Json d = env.Get(DeploymentsRef(), "default", "web");
  EXPECT_EQ(d["status"]["availableReplicas"], 8);
  informers2.Stop();
  rsc->Stop();
  dc->Stop();
}

}  // namespace
}  // namespace korral::controllers::workload
