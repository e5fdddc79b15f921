#include "korral/scheduler/types.h"

#include <gtest/gtest.h>

#include "korral/scheduler/node_info.h"
#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

TEST(Quantity, Parses) {
  struct Case {
    const char* in;
    int64_t value;
    int64_t milli;
  };
  for (const auto& c : std::vector<Case>{{"100m", 1, 100},
                                         {"1", 1, 1000},
                                         {"2.5", 3, 2500},
                                         {"1Ki", 1024, 1024000},
                                         {"1Gi", 1073741824LL, 1073741824000LL},
                                         {"1M", 1000000, 1000000000},
                                         {"2e3", 2000, 2000000}}) {
    EXPECT_EQ(*ParseQuantity(c.in), c.value) << c.in;
    EXPECT_EQ(*ParseQuantityMilli(c.in), c.milli) << c.in;
  }
  EXPECT_FALSE(ParseQuantity("abc").ok());
  EXPECT_FALSE(ParseQuantity("1Xi").ok());
}

TEST(PodInfo, EffectiveRequests) {
  // max(sum(containers) + sidecars, max(init + sidecars started before it)) + overhead.
  Json p = testing::PodJson("p", "1", "1Gi");
  p["spec"]["containers"].push_back({{"name", "c2"}, {"image", "x"}});  // no requests
  p["spec"]["initContainers"] = {
      {{"name", "sidecar"},
       {"restartPolicy", "Always"},
       {"resources", {{"requests", {{"cpu", "200m"}}}}}},
      {{"name", "init"}, {"resources", {{"requests", {{"cpu", "3"}, {"memory", "100Mi"}}}}}}};
  p["spec"]["overhead"] = {{"cpu", "100m"}};
  PodInfoPtr pod = MakePod(p);
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->requests.milli_cpu, 3200 + 100);
  EXPECT_EQ(pod->requests.memory, 1LL << 30);
  // Non-zero: 1000m + 100m default for the second container (+ overhead).
  EXPECT_EQ(pod->non_zero_cpu, 1000 + 100 + 100);
  EXPECT_EQ(pod->non_zero_memory, (1LL << 30) + 200LL * 1024 * 1024);
  EXPECT_FALSE(pod->best_effort);
  // Limits default requests.
  Json q = testing::PodJson("q");
  q["spec"]["containers"][0]["resources"] = {{"limits", {{"cpu", "2"}}}};
  EXPECT_EQ(MakePod(q)->requests.milli_cpu, 2000);
}

TEST(Selectors, LabelAndNodeSelectors) {
  auto sel = LabelSelector::FromJson(
      {{"matchLabels", {{"app", "web"}}},
       {"matchExpressions", {{{"key", "tier"}, {"operator", "NotIn"}, {"values", {"db"}}}}}});
  ASSERT_TRUE(sel.ok());
  EXPECT_TRUE(sel->Matches({{"app", "web"}}));
  EXPECT_TRUE(sel->Matches({{"app", "web"}, {"tier", "fe"}}));
  EXPECT_FALSE(sel->Matches({{"app", "web"}, {"tier", "db"}}));
  EXPECT_FALSE(sel->Matches({}));
  EXPECT_TRUE(LabelSelector::FromJson(Json::object())->Matches({}));
  EXPECT_FALSE(LabelSelector::FromJson(nullptr)->Matches({}));
  NodeSelectorTerm empty;
  EXPECT_FALSE(empty.Matches({{"a", "b"}}, "n"));
}

TEST(Tolerations, Upstream) {
  Taint t{"k", "v", "NoSchedule"};
  EXPECT_TRUE((Toleration{"k", "Equal", "v", "NoSchedule"}).Tolerates(t));
  EXPECT_TRUE((Toleration{"k", "Exists", "", ""}).Tolerates(t));
  EXPECT_TRUE((Toleration{"", "Exists", "", ""}).Tolerates(t));
  EXPECT_FALSE((Toleration{"k", "Equal", "w", "NoSchedule"}).Tolerates(t));
  EXPECT_FALSE((Toleration{"k", "Equal", "v", "NoExecute"}).Tolerates(t));
}

TEST(NodeInfo, AggregatesAndPorts) {
  NodeInfo n(MakeNode(testing::NodeJson("n")));
  Json p = testing::PodJson("p", "500m", "1Gi");
  p["spec"]["containers"][0]["ports"] = {{{"containerPort", 80}, {"hostPort", 80}}};
  PodInfoPtr pod = MakePod(p);
  n.AddPod(pod);
  EXPECT_EQ(n.requested().milli_cpu, 500);
  EXPECT_TRUE(n.PortConflicts({"10.0.0.1", "TCP", 80}));
  EXPECT_FALSE(n.PortConflicts({"0.0.0.0", "UDP", 80}));
  EXPECT_TRUE(n.RemovePod(*pod));
  EXPECT_EQ(n.requested().milli_cpu, 0);
  EXPECT_FALSE(n.PortConflicts({"0.0.0.0", "TCP", 80}));
}

}  // namespace
}  // namespace korral::scheduler
