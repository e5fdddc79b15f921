#include "korral/client/workqueue.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

namespace korral::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

WorkQueueOptions FakeOptions(FakeClock& clock) {
  WorkQueueOptions o;
  o.clock = &clock;
  return o;
}

TEST(WorkQueueTest, FifoAndDuplicateAddsCollapse) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  q.Add("a");
  q.Add("b");
  q.Add("a");
  q.Add("c");
  EXPECT_EQ(q.Len(), 3u);
  EXPECT_EQ(*q.Get(), "a");
  EXPECT_EQ(*q.Get(), "b");
  EXPECT_EQ(*q.Get(), "c");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, AddWhileProcessingRequeuesAfterDone) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  q.Add("a");
  auto item = q.Get();
  ASSERT_EQ(*item, "a");
  q.Add("a");
  q.Add("a");
  // Never handed out twice at once.
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_FALSE(q.GetFor(milliseconds(1)).has_value());
  q.Done("a");
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(*q.Get(), "a");
  q.Done("a");
  EXPECT_EQ(q.Len(), 0u);
}

TEST(WorkQueueTest, StingyUnderConcurrency) {
  WorkQueue q;
  std::atomic<int> in_flight{0};
  std::atomic<bool> overlap{false};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto key = q.Get()) {
        if (in_flight.fetch_add(1) != 0) overlap = true;
        std::this_thread::yield();
        in_flight.fetch_sub(1);
        processed++;
        q.Done(*key);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) q.Add("same");
  q.ShutDownWithDrain();
  for (auto& t : workers) t.join();
  EXPECT_FALSE(overlap.load());
  EXPECT_GE(processed.load(), 1);
}

TEST(WorkQueueTest, GetBlocksUntilAdd) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  std::optional<std::string> got;
  std::thread t([&] { got = q.Get(); });
  q.Add("x");
  t.join();
  EXPECT_EQ(got, "x");
}

TEST(WorkQueueTest, ShutDownWakesGetAndKeepsQueuedItems) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  q.Add("a");
  q.ShutDown();
  q.Add("b");  // ignored
  EXPECT_TRUE(q.ShuttingDown());
  EXPECT_EQ(*q.Get(), "a");
  EXPECT_FALSE(q.Get().has_value());
  WorkQueue q2(FakeOptions(clock));
  std::optional<std::string> got = "unset";
  std::thread t([&] { got = q2.Get(); });
  q2.ShutDown();
  t.join();
  EXPECT_FALSE(got.has_value());
}

TEST(WorkQueueTest, AddAfterUsesClock) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  q.AddAfter("later", seconds(10));
  q.AddAfter("sooner", seconds(5));
  q.AddAfter("later", seconds(20));  // the earlier time wins
  EXPECT_EQ(q.Len(), 0u);
  EXPECT_EQ(q.NumWaiting(), 2u);
  clock.Advance(seconds(5));
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(*q.Get(), "sooner");
  clock.Advance(seconds(4));
  EXPECT_EQ(q.Len(), 0u);
  clock.Advance(seconds(1));
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(*q.Get(), "later");
  q.AddAfter("now", seconds(0));
  EXPECT_EQ(q.Len(), 1u);
}

TEST(WorkQueueTest, BlockedGetSeesFakeClockAdvance) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  q.AddAfter("k", seconds(30));
  std::optional<std::string> got;
  std::thread t([&] { got = q.Get(); });
  clock.Advance(seconds(30));
  t.join();
  EXPECT_EQ(got, "k");
}

TEST(WorkQueueTest, ExponentialPerItemBackoff) {
  ItemExponentialFailureRateLimiter rl(milliseconds(5), seconds(1000));
  EXPECT_EQ(rl.When("a"), milliseconds(5));
  EXPECT_EQ(rl.When("a"), milliseconds(10));
  EXPECT_EQ(rl.When("a"), milliseconds(20));
  EXPECT_EQ(rl.When("b"), milliseconds(5));
  EXPECT_EQ(rl.NumRequeues("a"), 3);
  rl.Forget("a");
  EXPECT_EQ(rl.NumRequeues("a"), 0);
  EXPECT_EQ(rl.When("a"), milliseconds(5));
  for (int i = 0; i < 40; ++i) rl.When("c");
  EXPECT_EQ(rl.When("c"), seconds(1000));
}

TEST(WorkQueueTest, OverallBucketLimitsBurst) {
  FakeClock clock;
  BucketRateLimiter rl(10, 100, clock);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(rl.When("x" + std::to_string(i)).count(), 0) << i;
  EXPECT_EQ(rl.When("y"), milliseconds(100));
  EXPECT_EQ(rl.When("z"), milliseconds(200));
  clock.Advance(seconds(1));  // 10 tokens back, 2 were borrowed
  for (int i = 0; i < 8; ++i) EXPECT_EQ(rl.When("w").count(), 0) << i;
  EXPECT_GT(rl.When("w").count(), 0);
}

TEST(WorkQueueTest, AddRateLimitedAndForget) {
  FakeClock clock;
  WorkQueue q(FakeOptions(clock));
  q.AddRateLimited("a");  // 5ms
  EXPECT_EQ(q.NumRequeues("a"), 1);
  EXPECT_EQ(q.Len(), 0u);
  clock.Advance(milliseconds(5));
  EXPECT_EQ(q.Len(), 1u);
  auto item = q.Get();
  q.AddRateLimited("a");  // 10ms; lands as dirty after Done
  clock.Advance(milliseconds(9));
  EXPECT_EQ(q.Len(), 0u);
  clock.Advance(milliseconds(1));
  EXPECT_EQ(q.Len(), 0u);  // still processing
  q.Done(*item);
  EXPECT_EQ(q.Len(), 1u);
  EXPECT_EQ(q.NumRequeues("a"), 2);
  q.Forget("a");
  EXPECT_EQ(q.NumRequeues("a"), 0);
}

}  // namespace
}  // namespace korral::client
