// korral/kubelet/stats/summary.h: the kubelet's /stats/summary document (stats/v1alpha1
// Summary: node + pods + containers, the field names of upstream's kubelet summary API) and
// the Prometheus texts of /metrics/cadvisor (cAdvisor's metric names and labels) and
// /metrics/resource (the kubelet's resource metrics), all built from a sampler Snapshot.
//
// Pure functions of the snapshot; thread-safe.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "korral/kubelet/stats/sampler.h"

namespace korral::kubelet::stats {

// The Summary. With only_cpu_and_memory (upstream's ?only_cpu_and_memory=true) node, pod and
// container entries carry just cpu and memory.
nlohmann::json BuildSummary(const Snapshot& snapshot, bool only_cpu_and_memory = false);

// /metrics/cadvisor: container_* and machine_* families as cAdvisor exposes them. Series exist
// for the root cgroup (id="/"), each pod cgroup (container="") and each container; labels
// container, id, image, name, namespace, pod (plus cpu, interface, device, failure_type,
// scope where cAdvisor has them); each sample carries the sample time in milliseconds.
std::string RenderCadvisorMetrics(const Snapshot& snapshot);

// /metrics/resource: node_cpu_usage_seconds_total, node_memory_working_set_bytes,
// pod_/container_ cpu and memory, container_start_time_seconds, scrape_error.
std::string RenderResourceMetrics(const Snapshot& snapshot);

// RFC 3339 with second precision in UTC ("2026-11-28T10:00:00Z"), as metav1.Time marshals.
std::string Rfc3339(std::chrono::system_clock::time_point t);

// A kubelet stats endpoint's answer.
struct StatsResponse {
  int status = 404;
  std::string content_type;
  std::string body;
};
// Serves GET `path` ("/stats/summary", "/stats/summary/", "/metrics/cadvisor",
// "/metrics/resource") with `query` (the part after '?', e.g. "only_cpu_and_memory=true").
// Returns status 404 for any other path and 503 before the first sample.
StatsResponse ServeStatsPath(const Sampler& sampler, std::string_view path, std::string_view query);

}  // namespace korral::kubelet::stats
