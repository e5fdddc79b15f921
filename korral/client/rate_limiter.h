// korral/client/rate_limiter.h: a token bucket (golang.org/x/time/rate style) on an injectable
// clock. Used by RestClient (client-side QPS/burst) and the work queue's overall limiter.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <mutex>

#include "korral/base/clock.h"

namespace korral::client {

class TokenBucket {
 public:
  // `qps` tokens are added per second up to `burst`; the bucket starts full. qps <= 0 means
  // unlimited. `clock` must outlive the bucket.
  TokenBucket(double qps, int burst, const Clock& clock = Clock::Real());

  // Takes one token now if available.
  bool TryAccept();
  // Takes one token, possibly from the future: returns how long the caller must wait before
  // acting (zero when a token was available).
  std::chrono::nanoseconds Reserve();
  // Reserve() and sleep for the returned delay (real time).
  void Accept();

  double qps() const { return qps_; }
  int burst() const { return burst_; }

 private:
  void RefillLocked(std::chrono::steady_clock::time_point now);

  const double qps_;
  const int burst_;
  const Clock& clock_;
  std::mutex mu_;
  double tokens_;
  std::chrono::steady_clock::time_point last_;
};

}  // namespace korral::client
