// korral/base/clock.h: an injectable clock so that time-dependent code is testable without sleeps.
#pragma once

#include <chrono>
#include <mutex>

namespace korral {

// Thread-safe. Implementations: RealClock (process-wide) and FakeClock (tests).
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::system_clock::time_point Now() const = 0;
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;

  // The process-wide real clock. Never null.
  static Clock& Real();
};

// A clock that moves only when told to. Thread-safe.
class FakeClock : public Clock {
 public:
  explicit FakeClock(std::chrono::system_clock::time_point start = {}) : now_(start) {}
  std::chrono::system_clock::time_point Now() const override {
    std::lock_guard l(mu_);
    return now_;
  }
  std::chrono::steady_clock::time_point SteadyNow() const override {
    std::lock_guard l(mu_);
    return std::chrono::steady_clock::time_point(now_.time_since_epoch());
  }
  void Advance(std::chrono::nanoseconds d) {
    std::lock_guard l(mu_);
    now_ += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

 private:
  mutable std::mutex mu_;
  std::chrono::system_clock::time_point now_;
};

}  // namespace korral
