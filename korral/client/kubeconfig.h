// korral/client/kubeconfig.h: client connection settings and kubeconfig loading.
//
// LoadKubeconfig reads a kubeconfig file (clientcmd v1 format) and resolves the selected context
// (or current-context) into a RestConfig: the cluster's server, CA (certificate-authority path or
// certificate-authority-data), insecure-skip-tls-verify and tls-server-name, and the user's
// client certificate/key (paths or -data) and bearer token (token or tokenFile). Relative paths
// are resolved against the kubeconfig file's directory. File contents are read at load time.
//
// Thread-safe (pure functions). Never logs credentials.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/statusor.h"

namespace korral::client {

struct RestConfig {
  std::string host;  // "https://127.0.0.1:6443" (a missing scheme means https)
  std::string ca_pem;
  std::string client_cert_pem;
  std::string client_key_pem;
  std::string bearer_token;
  // When set, called for every request and watch; its token replaces `bearer_token` (client-go's
  // token source: lets a caller rotate short-lived tokens without rebuilding the client).
  std::function<std::string()> bearer_token_source;
  // When set, called for every new connection: the client certificate and key (PEM) to present
  // instead of client_cert_pem/client_key_pem (client-go's GetClientCertificate: a rotated
  // certificate is used without rebuilding the client). An empty certificate: the static ones.
  std::function<std::pair<std::string, std::string>()> client_certificate_source;
  bool insecure = false;        // skip server certificate verification
  std::string tls_server_name;  // overrides the name checked against the server certificate
  std::string user_agent = "korral-client";
  std::string default_namespace;  // the context's namespace ("" if unset)
  double qps = 50;                // <= 0: no client-side rate limit
  int burst = 100;
  std::chrono::milliseconds timeout{30000};  // per request (not for watches)
};

// Loads `path` and resolves `context` ("" = current-context). Returns InvalidArgument for a
// malformed file or unknown context/cluster/user, NotFound if a referenced file is missing.
absl::StatusOr<RestConfig> LoadKubeconfig(const std::string& path, const std::string& context = "");

// Same, from text; relative paths resolve against `base_dir`.
absl::StatusOr<RestConfig> ParseKubeconfig(std::string_view yaml, const std::string& base_dir,
                                           const std::string& context = "");

}  // namespace korral::client
