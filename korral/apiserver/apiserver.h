// korral/apiserver/apiserver.h: the assembled kube-apiserver: storage, watch cache, REST
// handler, HTTPS server, PKI and bootstrap objects.
//
// Example:
//   ApiServerConfig config;
//   config.data_dir = "/var/lib/korral/server";
//   auto server = ApiServer::Start(config);  // serving once this returns OK
//   ...
//   (*server)->Stop();
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/apiserver/security/options.h"

namespace korral::apiserver {

struct ApiServerConfig {
  std::string data_dir = "/var/lib/korral/server";
  std::string bind_address = "0.0.0.0";
  int secure_port = 6443;
  std::string service_cidr = "10.96.0.0/12";
  std::string node_port_range = "30000-32767";
  std::vector<std::string> tls_sans;       // extra SANs for the serving certificate
  std::string storage_backend = "sqlite";  // "sqlite" or "memory"
  // Storage history older than one interval is compacted every interval (upstream's
  // --etcd-compaction-interval); 0 disables compaction.
  std::chrono::milliseconds compaction_interval{std::chrono::minutes(5)};
  int io_threads = 2;
  int worker_threads = 32;
  // Upstream's --max-requests-inflight, --max-mutating-requests-inflight (0: unlimited) and
  // --request-timeout (the longest `timeout=` a request gets); see maxinflight.h and
  // request_timeout.h.
  int max_requests_inflight = 400;
  int max_mutating_requests_inflight = 200;
  std::chrono::seconds request_timeout{60};
  // PEM bundle file the kubelets' serving certificates must chain to, checked (with the
  // address dialed) on every connection to a kubelet: logs, exec, attach, port-forward, node
  // proxy, metrics (upstream's --kubelet-certificate-authority). "" = the cluster CA (which signs
  // kubelet-serving CSRs); "none" = not verified (upstream's behaviour without the flag).
  std::string kubelet_certificate_authority;
  // Authentication, authorization, admission, encryption at rest and audit flags.
  security::SecurityOptions security;
};

class ApiServer {
 public:
  // Opens storage, creates or loads the PKI, starts serving, writes DIR/admin.kubeconfig and
  // creates the default namespaces and the `kubernetes` Service. Ready (/readyz) on return.
  static absl::StatusOr<std::unique_ptr<ApiServer>> Start(const ApiServerConfig& config);
  virtual ~ApiServer() = default;
  // Stops serving and closes storage (every acknowledged write is already durable).
  virtual void Stop() = 0;
  virtual int port() const = 0;
  virtual std::string kubeconfig_path() const = 0;
  // A kubeconfig for a component identity ("system:kube-scheduler", "system:node:n1", ...):
  // a client certificate with CN=identity (O=system:nodes for nodes) written with its key to
  // DIR/kubeconfigs/<identity>.kubeconfig (0600) on first use. Returns the path.
  virtual absl::StatusOr<std::string> KubeconfigFor(const std::string& identity) = 0;
};

}  // namespace korral::apiserver
