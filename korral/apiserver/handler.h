// korral/apiserver/handler.h: the apiserver's HTTP entry point.
//
// Routes every request: health and version endpoints, discovery, OpenAPI, metrics, and the
// resource paths (/api/v1/..., /apis/<group>/<version>/...) onto the generic Store, with
// content negotiation (JSON, YAML and protobuf bodies; JSON or Table responses), PATCH,
// watches streamed as newline-delimited JSON, and errors as Kubernetes Status objects.
//
// Authentication today is the TLS client certificate (verified by the HTTP server against
// the cluster CA); requests without one are anonymous and get 401/403 except for health,
// version and discovery. Full authn/authz comes with the security issue.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "korral/apiserver/http/server.h"

namespace korral {
class Clock;
}

namespace korral::apiserver::security {
class SecurityPipeline;
}

namespace korral::apiserver {

class Store;
class Discovery;
class MetricsApi;
class NodeProxy;
class MaxInFlightLimiter;
class Metrics;
class TimerQueue;

struct HandlerOptions {
  // Serve unauthenticated requests as if they were from system:masters (tests only).
  bool allow_anonymous = false;
  // Authentication, impersonation, authorization, admission and audit (security/pipeline.h).
  // Null: only client certificates authenticate and every authenticated user may do anything.
  security::SecurityPipeline* security = nullptr;
  // pods/log, exec, attach, portforward and nodes/proxy to the kubelets (proxy.h); null: 404.
  std::shared_ptr<NodeProxy> node_proxy;
  std::chrono::seconds min_request_timeout{1800};
  // How often watches that asked for bookmarks get one.
  std::chrono::milliseconds bookmark_interval{std::chrono::seconds(60)};
  // --max-requests-inflight / --max-mutating-requests-inflight (maxinflight.h); null: none.
  std::shared_ptr<MaxInFlightLimiter> max_inflight;
  // Upper bound of a request's `timeout=` (upstream --request-timeout; request_timeout.h).
  std::chrono::seconds request_timeout{60};
};

class ApiHandler {
 public:
  ApiHandler(Store* store, Discovery* discovery, Metrics* metrics, Clock* clock,
             HandlerOptions options);
  ~ApiHandler();

  http::Response Handle(http::Request& request);

  // True for requests answered from memory without waiting (GET of objects and lists, health,
  // discovery) while the watch cache is fresh: the HTTP server may run them on its I/O thread.
  bool CanRunInline(const http::Request& request) const;

  // Readiness: set once storage is open and the default objects exist.
  void SetReady(bool ready) { ready_.store(ready); }
  // Serves /apis/metrics.k8s.io/v1beta1/... (metrics_api.h). Set before serving.
  void SetMetricsApi(MetricsApi* metrics_api) { metrics_api_ = metrics_api; }

  // The reply for errors the HTTP layer detects itself (400, 413).
  static http::Response ErrorResponse(int code, std::string_view message);

  struct Impl;  // implementation detail (handler.cc)

 private:
  http::Response HandleNow(http::Request& request);  // Handle without the `timeout=` deadline

  std::unique_ptr<Impl> impl_;
  std::atomic<bool> ready_{false};
  MetricsApi* metrics_api_ = nullptr;
};

}  // namespace korral::apiserver
