// korral/apiserver/timer_queue.h: runs callbacks at deadlines on one background thread
// (watch timeouts, bookmarks). Callbacks must be quick. Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace korral::apiserver {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  TimerQueue() : thread_([this] { Run(); }) {}
  ~TimerQueue() {
    {
      std::lock_guard l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // Schedules fn at `when`; returns an id for Cancel.
  uint64_t Schedule(Clock::time_point when, std::function<void()> fn) {
    std::lock_guard l(mu_);
    uint64_t id = next_id_++;
    timers_.emplace(std::make_pair(when, id), std::move(fn));
    cv_.notify_all();
    return id;
  }

 private:
  void Run() {
    std::unique_lock l(mu_);
    while (!stop_) {
      if (timers_.empty()) {
        cv_.wait(l);
        continue;
      }
      auto it = timers_.begin();
      if (Clock::now() < it->first.first) {
        cv_.wait_until(l, it->first.first);
        continue;
      }
      auto fn = std::move(it->second);
      timers_.erase(it);
      l.unlock();
      fn();
      l.lock();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::pair<Clock::time_point, uint64_t>, std::function<void()>> timers_;
  uint64_t next_id_ = 1;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace korral::apiserver
