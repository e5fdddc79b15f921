// korral/scheduler/metrics.h: scheduler metrics (upstream pkg/scheduler/metrics): scheduling
// attempts by result and profile, attempt duration and pod scheduling (queue-to-bind) latency
// histograms, and pending pods by queue. Rendered in the Prometheus text format.
//
// TODO(korral): nothing serves these over HTTP yet (no /metrics endpoint for components outside
// the apiserver); the benchmark and tests read them in-process.
//
// Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace korral::scheduler {

class Metrics {
 public:
  // result: "scheduled", "unschedulable", "error".
  void ObserveAttempt(const std::string& result, const std::string& profile, double seconds);
  void ObservePodScheduled(double seconds_since_first_queued, int attempts);
  void ObservePreemption(int victims);
  void SetPending(size_t active, size_t backoff, size_t unschedulable, size_t gated);
  int64_t Attempts(const std::string& result) const;
  std::string Render() const;

 private:
  static constexpr std::array<double, 15> kBuckets = {0.001, 0.002, 0.004, 0.008, 0.016,
                                                      0.032, 0.064, 0.128, 0.256, 0.512,
                                                      1.024, 2.048, 4.096, 8.192, 16.384};
  struct Hist {
    std::array<int64_t, kBuckets.size()> counts{};
    int64_t count = 0;
    double sum = 0;
    void Observe(double v);
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, int64_t> attempts_;
  std::map<std::pair<std::string, std::string>, Hist> attempt_duration_;
  Hist pod_scheduling_;
  int64_t preemption_attempts_ = 0;
  Hist preemption_victims_;
  size_t pending_[4] = {0, 0, 0, 0};
};

}  // namespace korral::scheduler
