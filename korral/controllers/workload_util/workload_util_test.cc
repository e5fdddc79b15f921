// korral/controllers/workload_util/workload_util_test.cc
#include "korral/controllers/workload_util/workload_util.h"

#include <atomic>

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/testing.h"

namespace korral::controllers::workload {
namespace {

TEST(WorkloadUtil, ScaledValue) {
  EXPECT_EQ(*ScaledValue(Json(3), 10, true), 3);
  EXPECT_EQ(*ScaledValue(Json("25%"), 10, true), 3);
  EXPECT_EQ(*ScaledValue(Json("25%"), 10, false), 2);
  EXPECT_EQ(*ScaledValue(Json(nullptr), 10, false), 0);
  EXPECT_FALSE(ScaledValue(Json("abc"), 10, false).ok());
}

TEST(WorkloadUtil, HashIsStableAndSafe) {
  Json t = {{"metadata", {{"labels", {{"app", "x"}}}}}, {"spec", {{"containers", Json::array()}}}};
  std::string h1 = ComputeHash(t, std::nullopt);
  EXPECT_EQ(h1, ComputeHash(t, std::nullopt));
  EXPECT_NE(h1, ComputeHash(t, 1));
  for (char c : h1)
    EXPECT_NE(std::string("bcdfghjklmnpqrstvwxz2456789").find(c), std::string::npos);
  EXPECT_EQ(SafeEncodeString("0123"), "4567");
}

TEST(WorkloadUtil, ExpectationsTrackKeysAndExpire) {
  FakeClock clock;
  Expectations e(clock);
  EXPECT_TRUE(e.Satisfied("ns/rs"));
  e.ExpectCreations("ns/rs", 2);
  EXPECT_FALSE(e.Satisfied("ns/rs"));
  e.CreationObserved("ns/rs");
  e.CreationObserved("ns/rs");
  EXPECT_TRUE(e.Satisfied("ns/rs"));
  e.ExpectDeletions("ns/rs", {"ns/a", "ns/b"});
  e.DeletionObserved("ns/rs", "ns/c");
  EXPECT_EQ(e.Pending("ns/rs").second, 2);
  e.DeletionObserved("ns/rs", "ns/a");
  e.DeletionObserved("ns/rs", "ns/a");
  EXPECT_EQ(e.Pending("ns/rs").second, 1);
  EXPECT_FALSE(e.Satisfied("ns/rs"));
  clock.Advance(std::chrono::minutes(6));
  EXPECT_TRUE(e.Satisfied("ns/rs"));
}

TEST(WorkloadUtil, SlowStartBatchStopsAfterFailingBatch) {
  std::atomic<int> calls{0};
  auto r = SlowStartBatch(20, 1, [&](int i) {
    calls++;
    return i == 5 ? absl::InternalError("boom") : absl::OkStatus();
  });
  // Batches 1, 2, 4 (indexes 3..6 contain the failure): 7 calls, 6 successes.
  EXPECT_EQ(calls.load(), 7);
  EXPECT_EQ(r.successes, 6);
  EXPECT_FALSE(r.first_error.ok());
  auto all = SlowStartBatch(100, 1, [](int) { return absl::OkStatus(); });
  EXPECT_EQ(all.successes, 100);
}

TEST(WorkloadUtil, ClaimAdoptsMatchingOrphansAndReleasesMismatches) {
  WorkloadTestEnv env;
  Json owner =
      env.Create(ReplicaSetsRef(), {{"metadata", {{"name", "rs"}}},
                                    {"spec", {{"selector", {{"matchLabels", {{"app", "a"}}}}}}}});
  Json orphan = env.Create(PodsRef(), {{"metadata", {{"name", "p1"}, {"labels", {{"app", "a"}}}}}});
  Json other = env.Create(PodsRef(), {{"metadata", {{"name", "p2"}, {"labels", {{"app", "b"}}}}}});
  Json owned_mismatch = env.Create(
      PodsRef(), {{"metadata",
                   {{"name", "p3"},
                    {"labels", {{"app", "b"}}},
                    {"ownerReferences", {NewControllerRef(owner, "apps/v1", "ReplicaSet")}}}}});
  ClaimSpec spec;
  spec.owner = &owner;
  spec.owner_api_version = "apps/v1";
  spec.owner_kind = "ReplicaSet";
  spec.selector = *SelectorFromJson(owner["spec"]["selector"]);
  spec.child_ref = PodsRef();
  spec.can_adopt = RecheckOwner(env.client, ReplicaSetsRef(), owner);
  std::vector<ObjectPtr> cands;
  for (const Json& p : {orphan, other, owned_mismatch}) cands.push_back(std::make_shared<Json>(p));
  absl::Status err;
  auto claimed = ClaimObjects(env.client, spec, cands, &err);
  ASSERT_TRUE(err.ok()) << err;
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(NameOf(*claimed[0]), "p1");
  Json p1 = env.Get(PodsRef(), "default", "p1");
  ASSERT_NE(ControllerRefOf(p1), nullptr);
  EXPECT_EQ((*ControllerRefOf(p1))["uid"], UidOf(owner));
  EXPECT_EQ((*ControllerRefOf(p1))["blockOwnerDeletion"], true);
  EXPECT_EQ(ControllerRefOf(env.Get(PodsRef(), "default", "p3")), nullptr);
  EXPECT_EQ(ControllerRefOf(env.Get(PodsRef(), "default", "p2")), nullptr);
}

TEST(WorkloadUtil, PodAvailability) {
  auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1000));
  Json pod = {{"status",
               {{"phase", "Running"},
                {"conditions",
                 {{{"type", "Ready"},
                   {"status", "True"},
                   {"lastTransitionTime", FormatTime(now - std::chrono::seconds(5))}}}}}}};
  EXPECT_TRUE(IsPodAvailable(pod, 0, now));
  EXPECT_TRUE(IsPodAvailable(pod, 4, now));
  EXPECT_FALSE(IsPodAvailable(pod, 5, now));
  EXPECT_TRUE(IsPodActive(pod));
}

}  // namespace
}  // namespace korral::controllers::workload
