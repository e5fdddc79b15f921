// korral/controllers/daemonset/daemonset_test.cc
#include "korral/controllers/daemonset/daemonset.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/history.h"
#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

Json Node(const std::string& name, const std::string& role, Json taints = Json::array()) {
  return {{"apiVersion", "v1"},
          {"kind", "Node"},
          {"metadata", {{"name", name}, {"labels", {{"role", role}}}}},
          {"spec", {{"taints", taints}}}};
}

Json MakeDs(const std::string& image) {
  return {
      {"apiVersion", "apps/v1"},
      {"kind", "DaemonSet"},
      {"metadata", {{"name", "agent"}, {"namespace", "default"}, {"generation", 1}}},
      {"spec",
       {{"selector", {{"matchLabels", {{"app", "agent"}}}}},
        {"updateStrategy", {{"type", "RollingUpdate"}, {"rollingUpdate", {{"maxUnavailable", 1}}}}},
        {"template",
         {{"metadata", {{"labels", {{"app", "agent"}}}}},
          {"spec",
           {{"nodeSelector", {{"role", "web"}}},
            {"containers", {{{"name", "c"}, {"image", image}}}}}}}}}}};
}

class DaemonSetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    c = std::make_unique<DaemonSetController>(env.ctx);
    env.Start();
    env.Create(NodesRef(), Node("n1", "web"));
    env.Create(
        NodesRef(),
        Node("n2", "web", {{{"key", "dedicated"}, {"value", "x"}, {"effect", "NoSchedule"}}}));
    env.Create(NodesRef(), Node("n3", "db"));
  }
  void TearDown() override {
    env.informers.Stop();  // no handler may run on a destroyed controller
    c->Stop();
  }
  void Quiet() { env.RunUntilQuiet(*c); }
  std::map<std::string, std::vector<Json>> PodsByNode() {
    std::map<std::string, std::vector<Json>> out;
    for (const Json& p : env.List(PodsRef())) {
      const Json& terms = p["spec"]["affinity"]["nodeAffinity"]
                           ["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"];
      out[terms[0]["matchFields"][0]["values"][0].get<std::string>()].push_back(p);
    }
    return out;
  }
  void MakeReady() {
    for (const Json& p : env.List(PodsRef())) {
      if (!IsPodReady(p)) env.SetPodStatus(p, "Running", true);
    }
    Quiet();
  }
  WorkloadTestEnv env;
  std::unique_ptr<DaemonSetController> c;
};

TEST_F(DaemonSetTest, OnePodPerEligibleNode) {
  env.Create(DaemonSetsRef(), MakeDs("a:1"));
  Quiet();
  auto by_node = PodsByNode();
  ASSERT_EQ(by_node.size(), 1u);
  ASSERT_EQ(by_node["n1"].size(), 1u);
  const Json& pod = by_node["n1"][0];
  EXPECT_FALSE(Str(pod, {"metadata", "labels", kControllerRevisionHashLabel}).empty());
  bool has_unreachable = false;
  for (const Json& t : pod["spec"]["tolerations"]) {
    has_unreachable |= t["key"] == "node.kubernetes.io/unreachable";
  }
  EXPECT_TRUE(has_unreachable);
  Json ds = env.Get(DaemonSetsRef(), "default", "agent");
  EXPECT_EQ(ds["status"]["desiredNumberScheduled"], 1);
  EXPECT_EQ(ds["status"]["currentNumberScheduled"], 1);
  EXPECT_EQ(ds["status"]["numberReady"], 0);
  EXPECT_EQ(env.List(ControllerRevisionsRef()).size(), 1u);
  // Tolerating the taint adds n2.
  ds["spec"]["template"]["spec"]["tolerations"] = {
      {{"key", "dedicated"}, {"operator", "Equal"}, {"value", "x"}, {"effect", "NoSchedule"}}};
  ds["metadata"]["generation"] = 2;
  ASSERT_TRUE(env.client.Update(DaemonSetsRef(), "default", ds).ok());
  Quiet();
  MakeReady();
  MakeReady();
  by_node = PodsByNode();
  EXPECT_EQ(by_node.size(), 2u);
  EXPECT_EQ(by_node["n2"].size(), 1u);
  ds = env.Get(DaemonSetsRef(), "default", "agent");
  EXPECT_EQ(ds["status"]["desiredNumberScheduled"], 2);
  EXPECT_EQ(ds["status"]["numberAvailable"], 2);
  EXPECT_EQ(ds["status"]["updatedNumberScheduled"], 2);
  // A new label on n3 makes it eligible; removing n1's label deletes its pod.
  Json n3 = env.Get(NodesRef(), "", "n3");
  n3["metadata"]["labels"]["role"] = "web";
  ASSERT_TRUE(env.client.Update(NodesRef(), "", n3).ok());
  Json n1 = env.Get(NodesRef(), "", "n1");
  n1["metadata"]["labels"]["role"] = "db";
  ASSERT_TRUE(env.client.Update(NodesRef(), "", n1).ok());
  Quiet();
  by_node = PodsByNode();
  EXPECT_EQ(by_node.count("n1"), 0u);
  EXPECT_EQ(by_node.count("n3"), 1u);
}

TEST_F(DaemonSetTest, RollingUpdateRespectsMaxUnavailable) {
  Json n3 = env.Get(NodesRef(), "", "n3");
  n3["metadata"]["labels"]["role"] = "web";
  ASSERT_TRUE(env.client.Update(NodesRef(), "", n3).ok());
  env.Create(DaemonSetsRef(), MakeDs("a:1"));
  Quiet();
  MakeReady();
  ASSERT_EQ(env.List(PodsRef()).size(), 2u);  // n1, n3
  Json ds = env.Get(DaemonSetsRef(), "default", "agent");
  ds["spec"]["template"]["spec"]["containers"][0]["image"] = "a:2";
  ASSERT_TRUE(env.client.Update(DaemonSetsRef(), "default", ds).ok());
  Quiet();
  // maxUnavailable 1: one pod replaced at a time.
  int new_pods = 0;
  for (const Json& p : env.List(PodsRef())) {
    new_pods += p["spec"]["containers"][0]["image"] == "a:2";
  }
  EXPECT_EQ(new_pods, 1);
  EXPECT_EQ(env.List(PodsRef()).size(), 2u);
  for (int i = 0; i < 5; ++i) MakeReady();
  for (const Json& p : env.List(PodsRef())) EXPECT_EQ(p["spec"]["containers"][0]["image"], "a:2");
  EXPECT_EQ(env.List(ControllerRevisionsRef()).size(), 2u);
  ds = env.Get(DaemonSetsRef(), "default", "agent");
  EXPECT_EQ(ds["status"]["updatedNumberScheduled"], 2);
}

TEST_F(DaemonSetTest, FailedPodIsReplacedWithBackoff) {
  env.Create(DaemonSetsRef(), MakeDs("a:1"));
  Quiet();
  Json pod = env.List(PodsRef())[0];
  env.SetPodStatus(pod, "Failed", false);
  Quiet();
  auto pods = env.List(PodsRef());
  ASSERT_EQ(pods.size(), 1u);
  EXPECT_NE(NameOf(pods[0]), NameOf(pod));
}

TEST(NodeShouldRun, AffinityAndTaints) {
  Json ds = {{"spec",
              {{"template",
                {{"spec",
                  {{"affinity",
                    {{"nodeAffinity",
                      {{"requiredDuringSchedulingIgnoredDuringExecution",
                        {{"nodeSelectorTerms",
                          {{{"matchExpressions",
                             {{{"key", "zone"},
                               {"operator", "In"},
                               {"values", {"a", "b"}}}}}}}}}}}}}}}}}}}}};
  Json a = Node("a", "x");
  a["metadata"]["labels"]["zone"] = "a";
  Json c = Node("c", "x");
  c["metadata"]["labels"]["zone"] = "c";
  EXPECT_EQ(NodeShouldRunDaemonPod(a, ds), std::make_pair(true, true));
  EXPECT_EQ(NodeShouldRunDaemonPod(c, ds), std::make_pair(false, false));
  a["spec"]["taints"] = {{{"key", "k"}, {"effect", "NoSchedule"}}};
  EXPECT_EQ(NodeShouldRunDaemonPod(a, ds), std::make_pair(false, true));
  a["spec"]["taints"] = {{{"key", "k"}, {"effect", "NoExecute"}}};
  EXPECT_EQ(NodeShouldRunDaemonPod(a, ds), std::make_pair(false, false));
  // The daemon tolerations cover unreachable nodes.
  a["spec"]["taints"] = {{{"key", "node.kubernetes.io/unreachable"}, {"effect", "NoExecute"}}};
  EXPECT_EQ(NodeShouldRunDaemonPod(a, ds), std::make_pair(true, true));
}

}  // namespace
}  // namespace korral::controllers::workload
