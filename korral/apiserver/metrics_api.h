// korral/apiserver/metrics_api.h: the metrics.k8s.io/v1beta1 API (upstream serves it from
// metrics-server through an APIService; korral serves it in the apiserver), so that
// `kubectl top nodes` and `kubectl top pods` work.
//
//   GET /apis/metrics.k8s.io/v1beta1/nodes[/NAME]                       NodeMetrics(List)
//   GET /apis/metrics.k8s.io/v1beta1/pods                               PodMetricsList (all ns)
//   GET /apis/metrics.k8s.io/v1beta1/namespaces/NS/pods[/NAME]          PodMetrics(List)
// (labelSelector and fieldSelector select the Nodes/Pods as for the core API.)
//
// The numbers come from each node's kubelet: GET https://<InternalIP>:<kubeletEndpoint port>
// /stats/summary?only_cpu_and_memory=true (the Summary API), cached per node for a short time.
// Usage is cpu = usageNanoCores and memory = workingSetBytes, as metrics-server reports them;
// a pod is listed only when every container has both (as metrics-server does), a node only
// when its kubelet answered.
//
// Thread-safe. Discovery lists the group from ResourceTypes().
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/resource.h"
#include "korral/apiserver/http/server.h"

namespace korral {
class Clock;
}

namespace korral::apiserver {

class Store;

// Fetches one kubelet's Summary. Implementations must be thread-safe.
class KubeletSummaryFetcher {
 public:
  virtual ~KubeletSummaryFetcher() = default;
  // GET https://host:port/stats/summary?only_cpu_and_memory=true, parsed. Unavailable when the
  // kubelet cannot be reached or answers non-2xx; InvalidArgument for a body that is not JSON.
  virtual absl::StatusOr<nlohmann::json> FetchSummary(const std::string& host, int port) = 0;
};

struct KubeletClientConfig {
  // Client certificate the apiserver presents to kubelets (upstream's
  // --kubelet-client-certificate/--kubelet-client-key).
  std::string client_cert_pem;
  std::string client_key_pem;
  // CA for the kubelets' serving certificates; empty: not verified (upstream's default when
  // --kubelet-certificate-authority is unset).
  std::string ca_pem;
  std::chrono::milliseconds timeout{5000};
};

// The HTTPS fetcher (one keep-alive client per kubelet address).
std::unique_ptr<KubeletSummaryFetcher> NewKubeletSummaryFetcher(KubeletClientConfig config);

struct MetricsApiOptions {
  // How long a node's summary is reused (the kubelet samples every 10 s).
  std::chrono::milliseconds cache_ttl{std::chrono::seconds(5)};
  // The window reported with each metric: the kubelet's sampling interval, over which
  // usageNanoCores is averaged.
  std::chrono::milliseconds window{std::chrono::seconds(10)};
  // Nodes queried at the same time.
  int max_parallel_fetches = 16;
};

class MetricsApi {
 public:
  MetricsApi(Store* store, Clock* clock, std::unique_ptr<KubeletSummaryFetcher> fetcher,
             MetricsApiOptions options = {});
  ~MetricsApi();

  // The discovery entries of metrics.k8s.io/v1beta1 (nodes, pods; get and list).
  static const std::vector<api::ResourceType>& ResourceTypes();
  // True for /apis/metrics.k8s.io/v1beta1/<anything below>.
  static bool Handles(std::string_view path);

  // Serves a request for which Handles(req.path) is true. Errors are Kubernetes Status
  // objects: 404 for unknown objects or paths, 405 for verbs other than get/list, 400 for bad
  // selectors.
  http::Response Handle(http::Request& req);

 private:
  struct CacheEntry {
    std::chrono::steady_clock::time_point fetched{};
    absl::StatusOr<nlohmann::json> summary = absl::UnavailableError("not fetched");
  };
  // Summaries of the named nodes (fetched in parallel when not cached); nodes whose kubelet
  // failed are absent.
  std::map<std::string, nlohmann::json> Summaries(const std::vector<nlohmann::json>& nodes);
  absl::StatusOr<http::Response> Serve(http::Request& req);

  Store* store_;
  Clock* clock_;
  std::unique_ptr<KubeletSummaryFetcher> fetcher_;
  MetricsApiOptions options_;
  std::mutex mu_;
  std::map<std::string, CacheEntry> cache_;  // node name -> last fetch; guarded by mu_
};

// Canonical quantity texts as resource.Quantity prints them: CPU from nanocores
// (123456789 -> "123456789n", 5000000 -> "5m", 2000000000 -> "2") and memory from bytes
// (1048576 -> "1Mi", 1000 -> "1000").
std::string CpuQuantity(uint64_t nanocores);
std::string MemoryQuantity(uint64_t bytes);

}  // namespace korral::apiserver
