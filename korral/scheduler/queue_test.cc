#include "korral/scheduler/queue.h"

#include <gtest/gtest.h>

#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

PodInfoPtr Pod(const std::string& name, int prio) {
  Json p = testing::PodJson(name);
  p["spec"]["priority"] = prio;
  return MakePod(p);
}

struct Q {
  FakeClock clock;
  SchedulingQueue q{[](const QueuedPodInfo& a, const QueuedPodInfo& b) {
                      if (a.pod->priority != b.pod->priority)
                        return a.pod->priority > b.pod->priority;
                      return a.timestamp < b.timestamp;
                    },
                    nullptr, clock};
};

TEST(SchedulingQueue, PriorityThenFifo) {
  Q t;
  t.q.Add(Pod("a", 1));
  t.clock.Advance(std::chrono::milliseconds(1));
  t.q.Add(Pod("b", 5));
  t.clock.Advance(std::chrono::milliseconds(1));
  t.q.Add(Pod("c", 1));
  EXPECT_EQ(t.q.Pop(std::chrono::milliseconds(1))->pod->name, "b");
  EXPECT_EQ(t.q.Pop(std::chrono::milliseconds(1))->pod->name, "a");
  EXPECT_EQ(t.q.Pop(std::chrono::milliseconds(1))->pod->name, "c");
  EXPECT_FALSE(t.q.Pop(std::chrono::milliseconds(1)).has_value());
}

TEST(SchedulingQueue, UnschedulableMovesOnlyOnRegisteredEventsWithBackoff) {
  Q t;
  t.q.SetRegisteredEvents({{"NodeResourcesFit", {EventResource::kNode, action::kAdd, "NodeAdd"}}});
  t.q.Add(Pod("a", 0));
  auto qpi = *t.q.Pop(std::chrono::milliseconds(1));
  qpi.unschedulable_plugins = {"NodeResourcesFit"};
  t.q.AddUnschedulableIfNotPresent(qpi, t.q.SchedulingCycle());
  EXPECT_EQ(t.q.Len().unschedulable, 1u);
  t.q.MoveAllToActiveOrBackoffQueue({EventResource::kPod, action::kAdd, "PodAdd"});
  EXPECT_EQ(t.q.Len().unschedulable, 1u);
  t.q.MoveAllToActiveOrBackoffQueue({EventResource::kNode, action::kAdd, "NodeAdd"});
  EXPECT_EQ(t.q.Len().backoff, 1u);
  EXPECT_FALSE(t.q.Pop(std::chrono::milliseconds(1)).has_value());
  t.clock.Advance(std::chrono::milliseconds(1001));
  auto again = t.q.Pop(std::chrono::milliseconds(1));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->attempts, 2);
}

TEST(SchedulingQueue, MoveDuringCycleGoesToBackoffAndFlushAfterFiveMinutes) {
  Q t;
  t.q.Add(Pod("a", 0));
  auto qpi = *t.q.Pop(std::chrono::milliseconds(1));
  int64_t cycle = t.q.SchedulingCycle();
  t.q.MoveAllToActiveOrBackoffQueue({EventResource::kNode, action::kAdd, "NodeAdd"});
  qpi.unschedulable_plugins = {"X"};
  t.q.AddUnschedulableIfNotPresent(qpi, cycle);
  EXPECT_EQ(t.q.Len().backoff, 1u);

  Q u;
  u.q.Add(Pod("b", 0));
  auto b = *u.q.Pop(std::chrono::milliseconds(1));
  b.unschedulable_plugins = {"X"};
  u.q.AddUnschedulableIfNotPresent(b, u.q.SchedulingCycle());
  EXPECT_EQ(u.q.Len().unschedulable, 1u);
  u.clock.Advance(std::chrono::minutes(5) + std::chrono::seconds(1));
  u.q.Flush();
  EXPECT_EQ(u.q.Len().unschedulable, 0u);
  EXPECT_TRUE(u.q.Pop(std::chrono::milliseconds(1)).has_value());
}

TEST(SchedulingQueue, BackoffIsExponentialAndCapped) {
  Q t;
  t.q.Add(Pod("a", 0));
  for (int attempt = 1; attempt <= 6; ++attempt) {
    auto qpi = *t.q.Pop(std::chrono::milliseconds(1));
    EXPECT_EQ(qpi.attempts, attempt);
    qpi.unschedulable_plugins.clear();  // error: straight to backoff
    t.q.AddUnschedulableIfNotPresent(qpi, t.q.SchedulingCycle());
    int64_t want_ms = std::min<int64_t>(1000LL << (attempt - 1), 10000);
    t.clock.Advance(std::chrono::milliseconds(want_ms - 1));
    EXPECT_FALSE(t.q.Pop(std::chrono::milliseconds(1)).has_value()) << attempt;
    t.clock.Advance(std::chrono::milliseconds(1));
    t.q.Flush();
    EXPECT_EQ(t.q.Len().active, 1u) << attempt;
  }
}

TEST(SchedulingQueue, InFlightUpdatesAndDeletes) {
  Q t;
  t.q.Add(Pod("a", 0));
  auto qpi = *t.q.Pop(std::chrono::milliseconds(1));
  t.q.Update(qpi.pod, Pod("a", 7));  // arrives while "a" is being scheduled
  qpi.unschedulable_plugins.clear();
  t.q.AddUnschedulableIfNotPresent(qpi, t.q.SchedulingCycle());
  t.clock.Advance(std::chrono::seconds(2));
  auto again = t.q.Pop(std::chrono::milliseconds(1));
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->pod->priority, 7);
  t.q.Delete("default/a");  // deleted while in flight: not re-queued
  t.q.AddUnschedulableIfNotPresent(*again, t.q.SchedulingCycle());
  EXPECT_FALSE(t.q.Has("default/a"));
}

}  // namespace
}  // namespace korral::scheduler
