// korral/kubelet/server_backend.h: the kubelet's implementation of the kubelet server's Backend
// (korral/kubelet/server/server.h): pods from the kubelet's cache, logs from the CRI log files,
// exec/attach/port-forward through the CRI runtime.
#pragma once

#include <memory>

#include "korral/kubelet/kubelet.h"
#include "korral/kubelet/server/server.h"

namespace korral::kubelet {

class Kubelet;

// `kubelet` must outlive the backend.
std::unique_ptr<server::Backend> NewServerBackend(Kubelet& kubelet);

}  // namespace korral::kubelet

namespace korral::kubelet::stats {
class PodStatsProvider;
class Sampler;
}  // namespace korral::kubelet::stats

namespace korral::kubelet {
// The kubelet's pods for the stats sampler (cgroups per pod and container, log files).
std::unique_ptr<stats::PodStatsProvider> NewStatsProvider(Kubelet& kubelet);

// GET /metrics: the kubelet's own metrics in the Prometheus text format (kubelet_node_name,
// kubelet_running_pods, kubelet_running_containers by state, process memory and start time).
// `kubelet` must outlive the handler.
http::Handler NewKubeletMetricsHandler(Kubelet& kubelet);

// Eviction observations from the sampler's latest snapshot (node memory working set and
// filesystem, per pod memory working set and ephemeral storage: logs, rootfs, emptyDir).
// `sampler` must outlive the function.
EvictionStatsFn NewSamplerEvictionStats(stats::Sampler* sampler);
}  // namespace korral::kubelet
