#include "korral/client/leaderelection.h"

#include <thread>

#include <gtest/gtest.h>

#include "korral/client/errors.h"
#include "korral/client/fake_client.h"

namespace korral::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

LeaderElectionConfig Cfg(const std::string& id, FakeClock* clock) {
  LeaderElectionConfig c;
  c.lease_namespace = "kube-system";
  c.lease_name = "sched";
  c.identity = id;
  c.clock = clock;
  return c;
}

TEST(LeaderElectionTest, OnlyOneHolderUntilExpiry) {
  FakeClient client;
  FakeClock clock;
  LeaderElector a(client, Cfg("a", &clock));
  LeaderElector b(client, Cfg("b", &clock));
  EXPECT_TRUE(a.TryAcquireOrRenew());
  EXPECT_TRUE(a.IsLeader());
  EXPECT_FALSE(b.TryAcquireOrRenew());
  EXPECT_EQ(b.Leader(), "a");
  auto lease = client.Get(resources::Leases(), "kube-system", "sched");
  ASSERT_TRUE(lease.ok());
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "a");
  EXPECT_EQ((*lease)["spec"]["leaseDurationSeconds"], 15);

  // a renews: b keeps seeing changes and never takes over.
  for (int i = 0; i < 5; ++i) {
    clock.Advance(seconds(10));
    EXPECT_TRUE(a.TryAcquireOrRenew());
    EXPECT_FALSE(b.TryAcquireOrRenew());
  }
  // a stops renewing; b takes over only after lease_duration of no change.
  clock.Advance(seconds(10));
  EXPECT_FALSE(b.TryAcquireOrRenew());
  clock.Advance(seconds(6));
  EXPECT_TRUE(b.TryAcquireOrRenew());
  lease = client.Get(resources::Leases(), "kube-system", "sched");
  EXPECT_EQ((*lease)["spec"]["holderIdentity"], "b");
  EXPECT_EQ((*lease)["spec"]["leaseTransitions"], 1);
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_FALSE(a.IsLeader());
}

TEST(LeaderElectionTest, ConflictingWriteLoses) {
  FakeClient client;
  FakeClock clock;
  LeaderElector a(client, Cfg("a", &clock));
  ASSERT_TRUE(a.TryAcquireOrRenew());
  client.InjectError("update", "leases", MakeApiError(409, "Conflict", "modified"));
  EXPECT_FALSE(a.TryAcquireOrRenew());
  EXPECT_TRUE(a.TryAcquireOrRenew());
}

TEST(LeaderElectionTest, RunAndReleaseOnStop) {
  FakeClient client;
  LeaderElectionConfig ca = Cfg("a", nullptr);
  ca.retry_period = milliseconds(5);
  std::mutex mu;
  std::condition_variable cv;
  bool a_leading = false, b_leading = false, a_stopped = false;
  ca.on_started_leading = [&] {
    std::lock_guard l(mu);
    a_leading = true;
    cv.notify_all();
  };
  ca.on_stopped_leading = [&] {
    std::lock_guard l(mu);
    a_stopped = true;
    cv.notify_all();
  };
  LeaderElector a(client, ca);
  std::thread ta([&] { a.Run(); });
  {
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, seconds(10), [&] { return a_leading; }));
  }
  LeaderElectionConfig cb = Cfg("b", nullptr);
  cb.retry_period = milliseconds(5);
  cb.on_started_leading = [&] {
    std::lock_guard l(mu);
    b_leading = true;
    cv.notify_all();
  };
  LeaderElector b(client, cb);
  std::thread tb([&] { b.Run(); });
  a.Stop();
  ta.join();
  {
    std::unique_lock l(mu);
    EXPECT_TRUE(a_stopped);
    // Released: b takes over without waiting for the 15s lease duration.
    ASSERT_TRUE(cv.wait_for(l, seconds(10), [&] { return b_leading; }));
  }
  b.Stop();
  tb.join();
}

}  // namespace
}  // namespace korral::client
