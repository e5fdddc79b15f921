// korral/controllers/sa_credentials.h: --use-service-account-credentials (upstream
// cmd/kube-controller-manager's SAControllerClientBuilder).
//
// With the flag each controller talks to the API as its own service account in kube-system
// (system:serviceaccount:kube-system:<name>), so RBAC limits it to its
// system:controller:<name> ClusterRole. The manager's own identity keeps the shared informers
// (upstream's "shared-informers" client uses the root credentials too) and is used to create the
// service accounts and to request their tokens.
//
// Tokens are bound TokenRequest tokens (serviceaccounts/<name>/token, default audiences) of
// `token_lifetime`; each controller's client asks for a new one when 80% of the lifetime has
// passed (a failed refresh keeps the current token and is retried on the next request).
//
// Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "korral/base/clock.h"
#include "korral/client/client.h"
#include "korral/client/kubeconfig.h"

namespace korral::controllers {

// The service account a controller runs as (upstream's names, e.g. "garbage-collector-controller"
// -> "generic-garbage-collector", "daemonset-controller" -> "daemon-set-controller"); "" for
// controllers without an upstream service account and role (they keep the manager's identity).
std::string_view ServiceAccountFor(std::string_view controller_name);

// Requests TokenRequest tokens for one service account through `root`.
class ServiceAccountTokenSource {
 public:
  ServiceAccountTokenSource(client::Client& root, std::string name, const Clock& clock,
                            std::chrono::seconds lifetime);
  // The current token, refreshed when due. Empty if no token could ever be obtained.
  std::string Token();
  // Requests a token now. NotFound/Forbidden... from the API as is.
  absl::Status Refresh();

 private:
  client::Client& root_;
  const std::string name_;
  const Clock& clock_;
  const std::chrono::seconds lifetime_;
  std::mutex mu_;
  std::string token_;
  std::chrono::system_clock::time_point refresh_at_{};
};

class ServiceAccountClientBuilder {
 public:
  // `base` is the manager's connection (host, CA); its client certificate and token are not
  // used by the controllers' clients.
  ServiceAccountClientBuilder(client::Client& root, client::RestConfig base, const Clock& clock,
                              std::chrono::seconds token_lifetime = std::chrono::seconds(3600));
  // The client for `service_account` in kube-system: creates the account if missing, obtains a
  // first token (so a missing permission fails here, at start-up), and caches the client.
  absl::StatusOr<client::Client*> ClientFor(const std::string& service_account);

 private:
  absl::Status EnsureServiceAccount(const std::string& name);

  client::Client& root_;
  const client::RestConfig base_;
  const Clock& clock_;
  const std::chrono::seconds lifetime_;
  std::mutex mu_;
  struct Entry {
    std::unique_ptr<ServiceAccountTokenSource> tokens;
    std::unique_ptr<client::Client> client;
  };
  std::map<std::string, Entry> clients_;
};

}  // namespace korral::controllers
