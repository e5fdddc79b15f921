// korral/kubelet/server/auth.h: authentication and authorization of kubelet server requests
// through the API, as upstream's kubelet does with --authentication-token-webhook and
// --authorization-mode=Webhook (pkg/kubelet/server/auth.go).
//
// Authentication (first that applies):
//   - a client certificate the TLS layer verified against Options::client_ca_pem:
//     user = subject CN, groups = subject O (+ system:authenticated);
//   - "Authorization: Bearer <token>": a TokenReview (authentication.k8s.io/v1) through the API;
//   - otherwise 401 "Unauthorized" (anonymous requests are not allowed, as upstream's
//     KubeletConfiguration default).
// Authorization: a SubjectAccessReview (authorization.k8s.io/v1) for the node object:
//   verb from the HTTP method (GET/HEAD get, POST create, PUT update, PATCH patch, DELETE delete),
//   resource "nodes", name = the node, subresource by path: /stats/* stats, /metrics/* metrics,
//   /logs/* log, /spec/* spec, /checkpoint/* checkpoint, everything else proxy (containerLogs,
//   exec, attach, portForward, pods, healthz...). Denied -> 403
//   "Forbidden (user=U, verb=V, resource=nodes, subresource=S)".
// Both decisions are cached (token reviews 2 min, allowed 5 min, denied 30 s: upstream's
// defaults) in bounded maps.
//
// Example (the agent):
//   server::ApiAuthOptions ao;
//   ao.client = rest_client.get();
//   ao.node_name = node;
//   options.authorize = server::NewApiAuthorizer(ao);
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "korral/base/clock.h"
#include "korral/kubelet/server/server.h"

namespace korral::client {
class Client;
}

namespace korral::kubelet::server {

struct ApiAuthOptions {
  client::Client* client = nullptr;  // not owned; creates TokenReviews and SubjectAccessReviews
  std::string node_name;
  const Clock* clock = nullptr;  // default: Clock::Real()
  std::chrono::seconds token_cache_ttl{120};
  std::chrono::seconds allowed_cache_ttl{300};
  std::chrono::seconds denied_cache_ttl{30};
  size_t max_cache_entries = 4096;
};

// The SubjectAccessReview resourceAttributes verb and subresource for a kubelet request.
struct KubeletRequestAttributes {
  std::string verb;
  std::string subresource;
};
KubeletRequestAttributes RequestAttributesFor(std::string_view method, std::string_view path);

// Thread-safe; `options.client` must outlive the returned function.
Authorizer NewApiAuthorizer(ApiAuthOptions options);

}  // namespace korral::kubelet::server
