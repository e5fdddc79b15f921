// korral/controllers/statefulset/statefulset_test.cc
#include "korral/controllers/statefulset/statefulset.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/history.h"
#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

Json MakeSts(int replicas, const std::string& policy = "OrderedReady") {
  return {{"apiVersion", "apps/v1"},
          {"kind", "StatefulSet"},
          {"metadata", {{"name", "web"}, {"namespace", "default"}, {"generation", 1}}},
          {"spec",
           {{"replicas", replicas},
            {"serviceName", "nginx"},
            {"podManagementPolicy", policy},
            {"selector", {{"matchLabels", {{"app", "web"}}}}},
            {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 0}}}}},
            {"volumeClaimTemplates",
             {{{"metadata", {{"name", "www"}}},
               {"spec",
                {{"accessModes", {"ReadWriteOnce"}},
                 {"resources", {{"requests", {{"storage", "1Gi"}}}}}}}}}},
            {"template",
             {{"metadata", {{"labels", {{"app", "web"}}}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx:1"}}}}}}}}}}};
}

class StatefulSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c = std::make_unique<StatefulSetController>(env.ctx);
    env.Start();
  }
  void TearDown() override {
    env.informers.Stop();  // no handler may run on a destroyed controller
    c->Stop();
  }
  void Quiet() { env.RunUntilQuiet(*c); }
  std::vector<std::string> PodNames() {
    std::vector<std::string> out;
    for (const Json& p : env.List(PodsRef())) out.push_back(NameOf(p));
    return out;
  }
  void ReadyAll(int rounds = 10) {
    for (int i = 0; i < rounds; ++i) {
      Quiet();
      bool changed = false;
      for (const Json& p : env.List(PodsRef())) {
        if (!IsPodReady(p)) {
          env.SetPodStatus(p, "Running", true);
          changed = true;
        }
      }
      if (!changed) break;
    }
    Quiet();
  }
  void Update(const std::function<void(Json&)>& f) {
    Json s = env.Get(StatefulSetsRef(), "default", "web");
    f(s["spec"]);
    s["metadata"]["generation"] = s["metadata"]["generation"].get<int>() + 1;
    ASSERT_TRUE(env.client.Update(StatefulSetsRef(), "default", s).ok());
  }
  WorkloadTestEnv env;
  std::unique_ptr<StatefulSetController> c;
};

TEST_F(StatefulSetTest, OrderedCreationWithStableNamesAndClaims) {
  env.Create(StatefulSetsRef(), MakeSts(3));
  Quiet();
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"web-0"}));
  Json p0 = env.Get(PodsRef(), "default", "web-0");
  EXPECT_EQ(p0["spec"]["hostname"], "web-0");
  EXPECT_EQ(p0["spec"]["subdomain"], "nginx");
  EXPECT_EQ(p0["metadata"]["labels"]["statefulset.kubernetes.io/pod-name"], "web-0");
  EXPECT_EQ(p0["metadata"]["labels"]["apps.kubernetes.io/pod-index"], "0");
  EXPECT_EQ(p0["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"], "www-web-0");
  EXPECT_FALSE(env.Get(PvcsRef(), "default", "www-web-0").is_null());
  // web-1 only after web-0 is Running and Ready.
  env.SetPodStatus(p0, "Running", true);
  Quiet();
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"web-0", "web-1"}));
  ReadyAll();
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"web-0", "web-1", "web-2"}));
  Json s = env.Get(StatefulSetsRef(), "default", "web");
  EXPECT_EQ(s["status"]["replicas"], 3);
  EXPECT_EQ(s["status"]["readyReplicas"], 3);
  EXPECT_EQ(s["status"]["currentRevision"], s["status"]["updateRevision"]);
  // Scale down: highest ordinal first; claims are kept.
  Update([](Json& spec) { spec["replicas"] = 1; });
  env.Settle();
  c->ProcessAll(1);  // one pod at a time, the highest ordinal first
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"web-0", "web-1"}));
  Quiet();
  EXPECT_EQ(PodNames(), (std::vector<std::string>{"web-0"}));
  EXPECT_EQ(env.List(PvcsRef()).size(), 3u);
}

TEST_F(StatefulSetTest, ParallelCreatesAllAtOnce) {
  env.Create(StatefulSetsRef(), MakeSts(3, "Parallel"));
  Quiet();
  EXPECT_EQ(PodNames().size(), 3u);
}

TEST_F(StatefulSetTest, RollingUpdateWithPartition) {
  env.Create(StatefulSetsRef(), MakeSts(3));
  ReadyAll();
  ASSERT_EQ(PodNames().size(), 3u);
  std::string old_hash = Str(env.Get(PodsRef(), "default", "web-0"),
                             {"metadata", "labels", kControllerRevisionHashLabel});
  Update([](Json& spec) {
    spec["template"]["spec"]["containers"][0]["image"] = "nginx:2";
    spec["updateStrategy"]["rollingUpdate"]["partition"] = 1;
  });
  for (int i = 0; i < 6; ++i) ReadyAll();
  auto image = [&](const std::string& n) {
    return env.Get(PodsRef(), "default", n)["spec"]["containers"][0]["image"].get<std::string>();
  };
  EXPECT_EQ(image("web-0"), "nginx:1");
  EXPECT_EQ(image("web-1"), "nginx:2");
  EXPECT_EQ(image("web-2"), "nginx:2");
  Json s = env.Get(StatefulSetsRef(), "default", "web");
  EXPECT_EQ(s["status"]["updatedReplicas"], 2);
  EXPECT_EQ(s["status"]["currentReplicas"], 1);
  EXPECT_NE(s["status"]["currentRevision"], s["status"]["updateRevision"]);
  EXPECT_EQ(env.List(ControllerRevisionsRef()).size(), 2u);
  // Partition 0 finishes the rollout.
  Update([](Json& spec) { spec["updateStrategy"]["rollingUpdate"]["partition"] = 0; });
  for (int i = 0; i < 4; ++i) ReadyAll();
  EXPECT_EQ(image("web-0"), "nginx:2");
  s = env.Get(StatefulSetsRef(), "default", "web");
  EXPECT_EQ(s["status"]["currentRevision"], s["status"]["updateRevision"]);
  EXPECT_NE(Str(env.Get(PodsRef(), "default", "web-0"),
                {"metadata", "labels", kControllerRevisionHashLabel}),
            old_hash);
}

TEST_F(StatefulSetTest, FailedPodIsRecreated) {
  env.Create(StatefulSetsRef(), MakeSts(1));
  Quiet();
  Json p = env.Get(PodsRef(), "default", "web-0");
  env.SetPodStatus(p, "Failed", false);
  Quiet();
  Json again = env.Get(PodsRef(), "default", "web-0");
  ASSERT_FALSE(again.is_null());
  EXPECT_NE(UidOf(again), UidOf(p));
}

}  // namespace
}  // namespace korral::controllers::workload
