// korral/client/workqueue.h: the controller work queue (client-go's workqueue package).
//
// Semantics, as upstream:
//  * Fair: items are handed out in the order they were added (FIFO).
//  * Stingy: a key is never processed by two workers at once; adding a key that is already
//    queued is a no-op; adding a key that is being processed marks it dirty, and it is queued
//    again when the worker calls Done.
//  * Delays (AddAfter, AddRateLimited) are measured on the injected Clock. No thread is needed
//    for them: due items move into the queue whenever the queue is touched (Add, Get, Len), and
//    a blocked Get wakes up when the earliest one is due (polling every `fake_clock_poll` when
//    the clock is not the real one, so FakeClock::Advance is noticed).
//
// Example (a controller worker):
//   WorkQueue queue({.clock = &clock});
//   while (auto key = queue.Get()) {
//     absl::Status s = Sync(*key);
//     if (s.ok()) queue.Forget(*key); else queue.AddRateLimited(*key);
//     queue.Done(*key);
//   }
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "korral/base/clock.h"
#include "korral/client/rate_limiter.h"

namespace korral::client {

// Decides how long an item waits before it is retried. Thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // The delay for the next retry of `item` (and counts the failure).
  virtual std::chrono::nanoseconds When(const std::string& item) = 0;
  // Clears the failure history of `item`.
  virtual void Forget(const std::string& item) = 0;
  // How many times `item` has been rate-limited since the last Forget.
  virtual int NumRequeues(const std::string& item) = 0;
};

// base * 2^failures, capped at max_delay (per item).
class ItemExponentialFailureRateLimiter : public RateLimiter {
 public:
  ItemExponentialFailureRateLimiter(std::chrono::nanoseconds base_delay,
                                    std::chrono::nanoseconds max_delay);
  std::chrono::nanoseconds When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  const std::chrono::nanoseconds base_, max_;
  std::mutex mu_;
  std::unordered_map<std::string, int> failures_;
};

// An overall token bucket shared by all items (NumRequeues is always 0).
class BucketRateLimiter : public RateLimiter {
 public:
  BucketRateLimiter(double qps, int burst, const Clock& clock);
  std::chrono::nanoseconds When(const std::string& item) override;
  void Forget(const std::string& item) override {}
  int NumRequeues(const std::string& item) override { return 0; }

 private:
  TokenBucket bucket_;
};

// The maximum of several limiters' delays; NumRequeues is the maximum too.
class MaxOfRateLimiter : public RateLimiter {
 public:
  explicit MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters);
  std::chrono::nanoseconds When(const std::string& item) override;
  void Forget(const std::string& item) override;
  int NumRequeues(const std::string& item) override;

 private:
  std::vector<std::unique_ptr<RateLimiter>> limiters_;
};

// Per-item exponential 5ms..1000s, max'ed with an overall 10 qps / burst 100 bucket.
std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock = Clock::Real());

struct WorkQueueOptions {
  const Clock* clock = nullptr;                  // default: Clock::Real()
  std::unique_ptr<RateLimiter> rate_limiter;     // default: DefaultControllerRateLimiter(*clock)
  std::string name;                              // for logs
  std::chrono::milliseconds fake_clock_poll{5};  // see the file comment
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `item` unless it is already queued (or marks it dirty while being processed).
  // Ignored after ShutDown.
  void Add(const std::string& item);
  // Blocks until an item is available and marks it as processing; the caller must call Done.
  // Returns nullopt once ShutDown was called and no queued item remains.
  std::optional<std::string> Get();
  // Like Get, but gives up (nullopt) after `timeout` of real time.
  std::optional<std::string> GetFor(std::chrono::milliseconds timeout);
  // Ends processing of `item`; re-queues it if it was added meanwhile.
  void Done(const std::string& item);
  // Adds `item` once `delay` has passed on the clock (immediately when delay <= 0). If the item
  // is already waiting, the earlier time wins.
  void AddAfter(const std::string& item, std::chrono::nanoseconds delay);
  // AddAfter(item, rate_limiter.When(item)).
  void AddRateLimited(const std::string& item);
  // Clears the item's rate-limit history (call after a successful sync).
  void Forget(const std::string& item);
  int NumRequeues(const std::string& item);
  // Number of queued items (not counting processing or still-waiting ones).
  size_t Len();
  // Number of items waiting for their delay.
  size_t NumWaiting();
  // Stops accepting items and wakes all blocked Get calls. Items already queued are still handed
  // out. Idempotent.
  void ShutDown();
  // ShutDown, then blocks until every item being processed is Done.
  void ShutDownWithDrain();
  bool ShuttingDown();

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  void AddLocked(const std::string& item);
  void MoveReadyLocked();
  std::optional<std::string> GetUntil(std::optional<std::chrono::steady_clock::time_point> until);

  const Clock& clock_;
  const bool real_clock_;
  const std::chrono::milliseconds poll_;
  std::unique_ptr<RateLimiter> limiter_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> queue_;
  std::unordered_set<std::string> dirty_;
  std::unordered_set<std::string> processing_;
  std::map<std::string, TimePoint> waiting_;  // item -> ready time
  std::set<std::pair<TimePoint, std::string>> waiting_order_;
  bool shutting_down_ = false;
};

}  // namespace korral::client
