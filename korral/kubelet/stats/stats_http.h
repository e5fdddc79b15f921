// korral/kubelet/stats/stats_http.h: the kubelet server's handler for the stats endpoints.
//
// Example (kubelet side, with korral/kubelet/server/server.h):
//   auto h = stats::NewStatsHandler(&sampler);
//   for (const char* p : {"/stats/summary", "/stats/summary/", "/metrics/cadvisor",
//                         "/metrics/resource"})
//     server->Handle(p, h);
#pragma once

#include "korral/apiserver/http/server.h"
#include "korral/kubelet/stats/sampler.h"

namespace korral::kubelet::stats {

// Serves GET /stats/summary[?only_cpu_and_memory=true], /metrics/cadvisor and
// /metrics/resource from the sampler's latest snapshot (503 before the first sample, 404 for
// other paths, 405 for other methods). `sampler` must outlive the handler. Thread-safe.
http::Handler NewStatsHandler(const Sampler* sampler);

}  // namespace korral::kubelet::stats
