#include "korral/client/workqueue.h"

#include <algorithm>
#include <cmath>

namespace korral::client {

using std::chrono::nanoseconds;

ItemExponentialFailureRateLimiter::ItemExponentialFailureRateLimiter(nanoseconds base_delay,
                                                                     nanoseconds max_delay)
    : base_(base_delay), max_(max_delay) {}

nanoseconds ItemExponentialFailureRateLimiter::When(const std::string& item) {
  std::lock_guard l(mu_);
  int exp = failures_[item]++;
  double backoff = static_cast<double>(base_.count()) * std::pow(2.0, exp);
  if (backoff > static_cast<double>(max_.count())) return max_;
  return nanoseconds(static_cast<int64_t>(backoff));
}

void ItemExponentialFailureRateLimiter::Forget(const std::string& item) {
  std::lock_guard l(mu_);
  failures_.erase(item);
}

int ItemExponentialFailureRateLimiter::NumRequeues(const std::string& item) {
  std::lock_guard l(mu_);
  auto it = failures_.find(item);
  return it == failures_.end() ? 0 : it->second;
}

BucketRateLimiter::BucketRateLimiter(double qps, int burst, const Clock& clock)
    : bucket_(qps, burst, clock) {}

nanoseconds BucketRateLimiter::When(const std::string& item) { return bucket_.Reserve(); }

MaxOfRateLimiter::MaxOfRateLimiter(std::vector<std::unique_ptr<RateLimiter>> limiters)
    : limiters_(std::move(limiters)) {}

nanoseconds MaxOfRateLimiter::When(const std::string& item) {
  nanoseconds max(0);
  for (auto& l : limiters_) max = std::max(max, l->When(item));
  return max;
}

void MaxOfRateLimiter::Forget(const std::string& item) {
  for (auto& l : limiters_) l->Forget(item);
}

int MaxOfRateLimiter::NumRequeues(const std::string& item) {
  int max = 0;
  for (auto& l : limiters_) max = std::max(max, l->NumRequeues(item));
  return max;
}

std::unique_ptr<RateLimiter> DefaultControllerRateLimiter(const Clock& clock) {
  std::vector<std::unique_ptr<RateLimiter>> limiters;
  limiters.push_back(std::make_unique<ItemExponentialFailureRateLimiter>(
      std::chrono::milliseconds(5), std::chrono::seconds(1000)));
  limiters.push_back(std::make_unique<BucketRateLimiter>(10, 100, clock));
  return std::make_unique<MaxOfRateLimiter>(std::move(limiters));
}

WorkQueue::WorkQueue(WorkQueueOptions options)
    : clock_(options.clock ? *options.clock : Clock::Real()),
      real_clock_(&clock_ == &Clock::Real()),
      poll_(options.fake_clock_poll),
      limiter_(options.rate_limiter ? std::move(options.rate_limiter)
                                    : DefaultControllerRateLimiter(clock_)) {}

WorkQueue::~WorkQueue() { ShutDown(); }

void WorkQueue::AddLocked(const std::string& item) {
  if (shutting_down_) return;
  if (!dirty_.insert(item).second) return;  // already queued (or dirty while processing)
  if (processing_.count(item)) return;      // re-queued by Done
  queue_.push_back(item);
  cv_.notify_one();
}

void WorkQueue::MoveReadyLocked() {
  if (waiting_order_.empty()) return;
  TimePoint now = clock_.SteadyNow();
  while (!waiting_order_.empty() && waiting_order_.begin()->first <= now) {
    std::string item = waiting_order_.begin()->second;
    waiting_order_.erase(waiting_order_.begin());
    waiting_.erase(item);
    AddLocked(item);
  }
}

void WorkQueue::Add(const std::string& item) {
  std::lock_guard l(mu_);
  MoveReadyLocked();
  AddLocked(item);
}

std::optional<std::string> WorkQueue::Get() { return GetUntil(std::nullopt); }

std::optional<std::string> WorkQueue::GetFor(std::chrono::milliseconds timeout) {
  return GetUntil(std::chrono::steady_clock::now() + timeout);
}

std::optional<std::string> WorkQueue::GetUntil(std::optional<TimePoint> until) {
  std::unique_lock l(mu_);
  while (true) {
    MoveReadyLocked();
    if (!queue_.empty()) break;
    if (shutting_down_) return std::nullopt;
    TimePoint real_now = std::chrono::steady_clock::now();
    if (until && real_now >= *until) return std::nullopt;
    std::optional<TimePoint> wake = until;
    if (!waiting_order_.empty()) {
      TimePoint due;
      if (real_clock_) {
        due = waiting_order_.begin()->first;
      } else {
        due = real_now + poll_;
      }
      if (!wake || due < *wake) wake = due;
    }
    if (wake) {
      cv_.wait_until(l, *wake);
    } else {
      cv_.wait(l);
    }
  }
  std::string item = std::move(queue_.front());
  queue_.pop_front();
  processing_.insert(item);
  dirty_.erase(item);
  return item;
}

void WorkQueue::Done(const std::string& item) {
  std::lock_guard l(mu_);
  processing_.erase(item);
  if (dirty_.count(item)) {
    queue_.push_back(item);
    cv_.notify_one();
  } else if (processing_.empty()) {
    cv_.notify_all();  // for ShutDownWithDrain
  }
}

void WorkQueue::AddAfter(const std::string& item, nanoseconds delay) {
  std::lock_guard l(mu_);
  if (shutting_down_) return;
  if (delay.count() <= 0) {
    AddLocked(item);
    return;
  }
  TimePoint ready = clock_.SteadyNow() + std::chrono::duration_cast<TimePoint::duration>(delay);
  auto it = waiting_.find(item);
  if (it != waiting_.end()) {
    if (it->second <= ready) return;
    waiting_order_.erase({it->second, item});
    it->second = ready;
  } else {
    waiting_.emplace(item, ready);
  }
  waiting_order_.emplace(ready, item);
  cv_.notify_all();  // a blocked Get may need an earlier wake-up
}

void WorkQueue::AddRateLimited(const std::string& item) { AddAfter(item, limiter_->When(item)); }

void WorkQueue::Forget(const std::string& item) { limiter_->Forget(item); }

int WorkQueue::NumRequeues(const std::string& item) { return limiter_->NumRequeues(item); }

size_t WorkQueue::Len() {
  std::lock_guard l(mu_);
  MoveReadyLocked();
  return queue_.size();
}

size_t WorkQueue::NumWaiting() {
  std::lock_guard l(mu_);
  MoveReadyLocked();
  return waiting_.size();
}

void WorkQueue::ShutDown() {
  std::lock_guard l(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_order_.clear();
  cv_.notify_all();
}

void WorkQueue::ShutDownWithDrain() {
  std::unique_lock l(mu_);
  shutting_down_ = true;
  waiting_.clear();
  waiting_order_.clear();
  cv_.notify_all();
  cv_.wait(l, [&] { return processing_.empty(); });
}

bool WorkQueue::ShuttingDown() {
  std::lock_guard l(mu_);
  return shutting_down_;
}

}  // namespace korral::client
