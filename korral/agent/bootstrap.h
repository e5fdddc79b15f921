// korral/agent/bootstrap.h: TLS bootstrap of a node agent (upstream kubelet
// --bootstrap-kubeconfig): with a bootstrap token (`<id>.<secret>`, a
// bootstrap.kubernetes.io/token Secret made by `korral token create`) the agent creates a key,
// posts a CertificateSigningRequest for CN=system:node:<name>, O=system:nodes to the
// kubernetes.io/kube-apiserver-client-kubelet signer as system:bootstrap:<id>, waits until the
// controller manager approved and signed it, and writes a kubeconfig with that certificate.
// Later starts reuse the kubeconfig while its certificate is valid for the node.
//
// Example:
//   BootstrapOptions o{.server = url, .token = "abcdef.0123456789abcdef", .ca_file = ca,
//                      .node_name = "n1", .kubeconfig_path = dir + "/kubelet.kubeconfig"};
//   KORRAL_ASSIGN_OR_RETURN(std::string kubeconfig, EnsureNodeKubeconfig(o));
#pragma once

#include <chrono>
#include <string>

#include "absl/status/statusor.h"

namespace korral::client {
class Client;
}

namespace korral::agent {

struct AgentConfig;

struct BootstrapOptions {
  std::string server;           // https://HOST:PORT of the apiserver
  std::string token;            // <id>.<secret> ([a-z0-9]{6}.[a-z0-9]{16})
  std::string ca_file;          // the cluster CA bundle (verifies the server; in the kubeconfig)
  std::string node_name;        // CN system:node:<node_name>
  std::string kubeconfig_path;  // written 0600 (its directory 0700) once the certificate arrives
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};  // waiting for the certificate
  std::chrono::milliseconds poll_interval{std::chrono::milliseconds(500)};
};

// Checks the upstream bootstrap token format; returns {id, secret}.
absl::StatusOr<std::pair<std::string, std::string>> ParseBootstrapToken(const std::string& token);

// Returns kubeconfig_path, after bootstrapping unless it already holds a client certificate for
// system:node:<node_name> that verifies against the CA and is valid for another hour.
// `client` (tests) replaces the REST client built from server/token/ca_file.
// Errors: InvalidArgument (bad token, unreadable CA), PermissionDenied (the CSR was denied or
// failed, with its reason), DeadlineExceeded (no certificate within `timeout`), or the API error.
absl::StatusOr<std::string> EnsureNodeKubeconfig(const BootstrapOptions& options,
                                                 client::Client* client = nullptr);

// `korral agent` flag handling: without a token, --kubeconfig is required. With `token`,
// --server, --ca-file and --data-dir are required; the node kubeconfig goes to --kubeconfig or
// DATA_DIR/kubelet.kubeconfig, EnsureNodeKubeconfig runs, and `cfg` is pointed at the result
// (cfg->node_name defaults to the lowercased host name, as the agent's).
absl::Status BootstrapFromFlags(AgentConfig* cfg, const std::string& token,
                                const std::string& ca_file);

}  // namespace korral::agent
