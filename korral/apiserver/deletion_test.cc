#include "korral/apiserver/deletion.h"

#include <gtest/gtest.h>

#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/protobuf.h"
#include "korral/apiserver/ephemeral.h"

namespace korral::apiserver {
namespace {

using Json = nlohmann::json;

const api::ResourceType& Type(const char* group, const char* resource) {
  return *api::FindResourceType(group, "v1", resource);
}

std::chrono::system_clock::time_point T0() { return *api::ParseTime("2026-01-01T00:00:00Z"); }

Json BoundPod() {
  return Json::parse(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},
      "spec":{"nodeName":"n1","terminationGracePeriodSeconds":20,"containers":[{"name":"c"}]},
      "status":{"phase":"Running"}})");
}

TEST(PlanDeletion, BoundPodIsGraceful) {
  auto plan = PlanDeletion(Type("", "pods"), BoundPod(), {}, T0());
  ASSERT_EQ(plan.action, DeletionPlan::kUpdate);
  EXPECT_EQ(plan.updated["metadata"]["deletionGracePeriodSeconds"], 20);
  EXPECT_EQ(plan.updated["metadata"]["deletionTimestamp"], "2026-01-01T00:00:20Z");
  DeletePolicy explicit_grace;
  explicit_grace.grace_period_seconds = 5;
  plan = PlanDeletion(Type("", "pods"), BoundPod(), explicit_grace, T0());
  EXPECT_EQ(plan.updated["metadata"]["deletionGracePeriodSeconds"], 5);
  Json no_grace = BoundPod();
  no_grace["spec"].erase("terminationGracePeriodSeconds");
  plan = PlanDeletion(Type("", "pods"), no_grace, {}, T0());
  EXPECT_EQ(plan.updated["metadata"]["deletionGracePeriodSeconds"], 30);
}

TEST(PlanDeletion, ImmediateCases) {
  DeletePolicy force;
  force.grace_period_seconds = 0;
  EXPECT_EQ(PlanDeletion(Type("", "pods"), BoundPod(), force, T0()).action,
            DeletionPlan::kDeleteNow);
  Json unbound = BoundPod();
  unbound["spec"].erase("nodeName");
  EXPECT_EQ(PlanDeletion(Type("", "pods"), unbound, {}, T0()).action, DeletionPlan::kDeleteNow);
  Json done = BoundPod();
  done["status"]["phase"] = "Succeeded";
  EXPECT_EQ(PlanDeletion(Type("", "pods"), done, {}, T0()).action, DeletionPlan::kDeleteNow);
  EXPECT_EQ(
      PlanDeletion(Type("", "configmaps"), Json::parse(R"({"metadata":{"name":"c"}})"), {}, T0())
          .action,
      DeletionPlan::kDeleteNow);
}

TEST(PlanDeletion, TerminatingPodOnlyShortens) {
  Json terminating = PlanDeletion(Type("", "pods"), BoundPod(), {}, T0()).updated;
  EXPECT_EQ(PlanDeletion(Type("", "pods"), terminating, {}, T0()).action, DeletionPlan::kPending);
  DeletePolicy longer;
  longer.grace_period_seconds = 60;
  EXPECT_EQ(PlanDeletion(Type("", "pods"), terminating, longer, T0()).action,
            DeletionPlan::kPending);
  DeletePolicy shorter;
  shorter.grace_period_seconds = 5;
  auto plan = PlanDeletion(Type("", "pods"), terminating, shorter, T0());
  ASSERT_EQ(plan.action, DeletionPlan::kUpdate);
  EXPECT_EQ(plan.updated["metadata"]["deletionTimestamp"], "2026-01-01T00:00:05Z");
  DeletePolicy zero;
  zero.grace_period_seconds = 0;
  EXPECT_EQ(PlanDeletion(Type("", "pods"), terminating, zero, T0()).action,
            DeletionPlan::kDeleteNow);
}

TEST(PlanDeletion, PropagationFinalizers) {
  Json cm = Json::parse(R"({"metadata":{"name":"c","finalizers":["example.com/x"]}})");
  DeletePolicy fg;
  fg.propagation = "Foreground";
  auto plan = PlanDeletion(Type("", "configmaps"), cm, fg, T0());
  ASSERT_EQ(plan.action, DeletionPlan::kUpdate);
  EXPECT_EQ(plan.updated["metadata"]["finalizers"],
            Json::parse(R"(["example.com/x","foregroundDeletion"])"));
  EXPECT_EQ(plan.updated["metadata"]["deletionGracePeriodSeconds"], 0);
  DeletePolicy orphan;
  orphan.propagation = "Orphan";
  plan = PlanDeletion(Type("", "configmaps"), plan.updated, orphan, T0());
  EXPECT_EQ(plan.updated["metadata"]["finalizers"], Json::parse(R"(["example.com/x","orphan"])"));
  DeletePolicy bg;
  bg.propagation = "Background";
  Json only_orphan = Json::parse(R"({"metadata":{"name":"c","finalizers":["orphan"]}})");
  EXPECT_EQ(PlanDeletion(Type("", "configmaps"), only_orphan, bg, T0()).action,
            DeletionPlan::kDeleteNow);
  // Replication controllers orphan by default.
  plan =
      PlanDeletion(Type("", "replicationcontrollers"), Json::parse(R"({"metadata":{}})"), {}, T0());
  EXPECT_EQ(plan.updated["metadata"]["finalizers"], Json::parse(R"(["orphan"])"));
}

TEST(ParseDeletePolicy, Validation) {
  EXPECT_EQ(apierrors::HttpCode(
                ParseDeletePolicy(Json::parse(R"({"propagationPolicy":"Sideways"})")).status()),
            422);
  EXPECT_EQ(apierrors::HttpCode(
                ParseDeletePolicy(
                    Json::parse(R"({"propagationPolicy":"Orphan","orphanDependents":true})"))
                    .status()),
            422);
  auto p = ParseDeletePolicy(Json::parse(R"({"gracePeriodSeconds":-5,"orphanDependents":true})"));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(*p->grace_period_seconds, 1);
  EXPECT_EQ(p->propagation, "Orphan");
}

TEST(EphemeralContainers, AddOnly) {
  Json pod = BoundPod();
  Json want = pod;
  want["spec"]["ephemeralContainers"] = Json::parse(R"([{"name":"dbg","image":"busybox"}])");
  auto out = MergeEphemeralContainers(pod, want);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["spec"]["ephemeralContainers"][0]["name"], "dbg");
  Json changed = *out;
  changed["spec"]["ephemeralContainers"][0]["image"] = "alpine";
  EXPECT_EQ(apierrors::HttpCode(MergeEphemeralContainers(*out, changed).status()), 422);
  Json removed = *out;
  removed["spec"].erase("ephemeralContainers");
  EXPECT_EQ(apierrors::HttpCode(MergeEphemeralContainers(*out, removed).status()), 422);
  Json clash = pod;
  clash["spec"]["ephemeralContainers"] = Json::parse(R"([{"name":"c","image":"x"}])");
  EXPECT_EQ(apierrors::HttpCode(MergeEphemeralContainers(pod, clash).status()), 422);
}

TEST(Protobuf, EvictionAndDeleteOptionsDecode) {
  // "k8s\0" + Unknown{typeMeta{policy/v1, Eviction}, raw Eviction{metadata{name "p"},
  // deleteOptions{gracePeriodSeconds 0, dryRun ["All"]}}}.
  auto field = [](int num, int wire, const std::string& payload) {
    std::string out(1, static_cast<char>(num << 3 | wire));
    if (wire == 2) out.push_back(static_cast<char>(payload.size()));
    return out + payload;
  };
  std::string meta = field(1, 2, "p");
  std::string del = field(1, 0, std::string(1, '\0')) + field(5, 2, "All");
  std::string eviction = field(1, 2, meta) + field(2, 2, del);
  std::string type_meta = field(1, 2, "policy/v1") + field(2, 2, "Eviction");
  std::string body = std::string("k8s\0", 4) + field(1, 2, type_meta) + field(2, 2, eviction);
  auto j = protobuf::DecodeKubernetesProtobuf(body);
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["kind"], "Eviction");
  EXPECT_EQ((*j)["metadata"]["name"], "p");
  EXPECT_EQ((*j)["deleteOptions"]["gracePeriodSeconds"], 0);
  EXPECT_EQ((*j)["deleteOptions"]["dryRun"], Json::parse(R"(["All"])"));
}

}  // namespace
}  // namespace korral::apiserver
