// korral/apiserver/metrics.h: the apiserver's Prometheus metrics.
//
// Counters and histograms keyed by a small label set, rendered in the Prometheus text exposition
// format at /metrics. Thread-safe; recording is a mutex-protected map update (cheap next to a
// request).
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace korral::apiserver {

class Metrics {
 public:
  // One finished API request.
  void ObserveRequest(const std::string& verb, const std::string& resource, int code,
                      double seconds);
  // One storage operation ("create", "update", "delete", "get", "range").
  void ObserveStorage(const std::string& operation, double seconds);
  void SetGauge(const std::string& name, const std::string& help, double value);
  // The text exposition format (version 0.0.4).
  std::string Render() const;

 private:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};
    uint64_t count = 0;
    double sum = 0;
    void Observe(double v);
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;
  std::map<std::pair<std::string, std::string>, Histogram> request_latency_;
  std::map<std::string, Histogram> storage_latency_;
  std::map<std::string, std::pair<std::string, double>> gauges_;
};

}  // namespace korral::apiserver
