#include "korral/apiserver/metrics.h"

#include <fmt/format.h>

namespace korral::apiserver {

void Metrics::Histogram::Observe(double v) {
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (v <= kBuckets[i]) ++counts[i];
  ++count;
  sum += v;
}

void Metrics::ObserveRequest(const std::string& verb, const std::string& resource, int code,
                             double seconds) {
  std::lock_guard l(mu_);
  ++requests_[{verb, resource, code}];
  request_latency_[{verb, resource}].Observe(seconds);
}

void Metrics::ObserveStorage(const std::string& operation, double seconds) {
  std::lock_guard l(mu_);
  storage_latency_[operation].Observe(seconds);
}

void Metrics::SetGauge(const std::string& name, const std::string& help, double value) {
  std::lock_guard l(mu_);
  gauges_[name] = {help, value};
}

namespace {
void RenderHistogram(std::string& out, const std::string& name, const std::string& labels,
                     const std::array<double, 14>& buckets, const uint64_t* counts, uint64_t count,
                     double sum) {
  std::string sep = labels.empty() ? "" : ",";
  for (size_t i = 0; i < buckets.size(); ++i) {
    out += fmt::format("{}_bucket{{{}{}le=\"{}\"}} {}\n", name, labels, sep, buckets[i], counts[i]);
  }
  out += fmt::format("{}_bucket{{{}{}le=\"+Inf\"}} {}\n", name, labels, sep, count);
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, sum);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, count);
}
}  // namespace

std::string Metrics::Render() const {
  std::lock_guard l(mu_);
  std::string out;
  out +=
      "# HELP apiserver_request_total Counter of apiserver requests broken out by verb, "
      "resource and HTTP response code.\n# TYPE apiserver_request_total counter\n";
  for (const auto& [k, v] : requests_) {
    out += fmt::format("apiserver_request_total{{verb=\"{}\",resource=\"{}\",code=\"{}\"}} {}\n",
                       std::get<0>(k), std::get<1>(k), std::get<2>(k), v);
  }
  out +=
      "# HELP apiserver_request_duration_seconds Response latency distribution in seconds "
      "by verb and resource.\n# TYPE apiserver_request_duration_seconds histogram\n";
  for (const auto& [k, h] : request_latency_) {
    RenderHistogram(out, "apiserver_request_duration_seconds",
                    fmt::format("verb=\"{}\",resource=\"{}\"", k.first, k.second), kBuckets,
                    h.counts.data(), h.count, h.sum);
  }
  out +=
      "# HELP korral_storage_operation_duration_seconds Storage backend latency by "
      "operation.\n# TYPE korral_storage_operation_duration_seconds histogram\n";
  for (const auto& [op, h] : storage_latency_) {
    RenderHistogram(out, "korral_storage_operation_duration_seconds",
                    fmt::format("operation=\"{}\"", op), kBuckets, h.counts.data(), h.count, h.sum);
  }
  for (const auto& [name, g] : gauges_) {
    out +=
        fmt::format("# HELP {} {}\n# TYPE {} gauge\n{} {}\n", name, g.first, name, name, g.second);
  }
  return out;
}

}  // namespace korral::apiserver
