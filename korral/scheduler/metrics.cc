#include "korral/scheduler/metrics.h"

#include <fmt/format.h>

namespace korral::scheduler {

void Metrics::Hist::Observe(double v) {
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (v <= kBuckets[i]) counts[i]++;
  }
  count++;
  sum += v;
}

void Metrics::ObserveAttempt(const std::string& result, const std::string& profile, double s) {
  std::lock_guard l(mu_);
  attempts_[{result, profile}]++;
  attempt_duration_[{result, profile}].Observe(s);
}

void Metrics::ObservePodScheduled(double s, int) {
  std::lock_guard l(mu_);
  pod_scheduling_.Observe(s);
}

void Metrics::ObservePreemption(int victims) {
  std::lock_guard l(mu_);
  preemption_attempts_++;
  preemption_victims_.Observe(victims);
}

void Metrics::SetPending(size_t a, size_t b, size_t u, size_t g) {
  std::lock_guard l(mu_);
  pending_[0] = a;
  pending_[1] = b;
  pending_[2] = u;
  pending_[3] = g;
}

int64_t Metrics::Attempts(const std::string& result) const {
  std::lock_guard l(mu_);
  int64_t n = 0;
  for (const auto& [k, v] : attempts_) {
    if (k.first == result) n += v;
  }
  return n;
}

std::string Metrics::Render() const {
  std::lock_guard l(mu_);
  std::string out;
  auto hist = [&](const std::string& name, const std::string& labels, const Hist& h) {
    std::string sep = labels.empty() ? "" : ",";
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, kBuckets[i],
                         h.counts[i]);
    }
    out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, h.count);
    std::string braces = labels.empty() ? "" : "{" + labels + "}";
    out += fmt::format("{}_sum{} {}\n{}_count{} {}\n", name, braces, h.sum, name, braces, h.count);
  };
  out += "# TYPE scheduler_schedule_attempts_total counter\n";
  for (const auto& [k, v] : attempts_) {
    out += fmt::format("scheduler_schedule_attempts_total{{profile=\"{}\",result=\"{}\"}} {}\n",
                       k.second, k.first, v);
  }
  out += "# TYPE scheduler_scheduling_attempt_duration_seconds histogram\n";
  for (const auto& [k, h] : attempt_duration_) {
    hist("scheduler_scheduling_attempt_duration_seconds",
         fmt::format("profile=\"{}\",result=\"{}\"", k.second, k.first), h);
  }
  out += "# TYPE scheduler_pod_scheduling_sli_duration_seconds histogram\n";
  hist("scheduler_pod_scheduling_sli_duration_seconds", "", pod_scheduling_);
  out += "# TYPE scheduler_preemption_attempts_total counter\n";
  out += fmt::format("scheduler_preemption_attempts_total {}\n", preemption_attempts_);
  out += "# TYPE scheduler_preemption_victims histogram\n";
  hist("scheduler_preemption_victims", "", preemption_victims_);
  out += "# TYPE scheduler_pending_pods gauge\n";
  const char* queues[] = {"active", "backoff", "unschedulable", "gated"};
  for (int i = 0; i < 4; ++i) {
    out += fmt::format("scheduler_pending_pods{{queue=\"{}\"}} {}\n", queues[i], pending_[i]);
  }
  return out;
}

}  // namespace korral::scheduler
