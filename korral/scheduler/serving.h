// korral/scheduler/serving.h: the scheduler's secure port (upstream kube-scheduler
// --secure-port, default 10259): HTTPS with /healthz, /livez, /readyz and /metrics (Prometheus
// text format).
//
// Without a certificate the server makes its own, as upstream does: a self-signed CA and a
// serving certificate for 127.0.0.1, ::1, localhost and the host name, kept in memory (ca_pem()
// tells tests what to trust).
//
// Authentication and authorization are delegated to the apiserver, as upstream's
// DelegatingAuthenticationOptions / DelegatingAuthorizationOptions do: a bearer token is checked
// with a TokenReview, a client certificate against --client-ca-file, a request without either is
// system:anonymous; then every path outside --authorization-always-allow-paths (default /healthz,
// /readyz, /livez) needs a SubjectAccessReview allowing the non-resource URL (e.g. `get` on
// /metrics). Answers are cached for 10 s. A bad token is 401, a denied request 403 (Kubernetes
// Status bodies).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/server.h"
#include "korral/base/clock.h"
#include "korral/client/client.h"

namespace korral::scheduler {

struct DelegatedAuthOptions {
  client::Client* authn_client = nullptr;  // TokenReviews (null: tokens are not accepted)
  client::Client* authz_client = nullptr;  // SubjectAccessReviews (null: only always-allow paths)
  std::vector<std::string> always_allow_paths = {"/healthz", "/readyz", "/livez"};
  std::chrono::seconds token_ttl{10};
  std::chrono::seconds allowed_ttl{10};
  std::chrono::seconds denied_ttl{10};
  size_t max_cache_entries = 4096;
  const Clock* clock = nullptr;  // default Clock::Real()
};

class DelegatedAuth {
 public:
  explicit DelegatedAuth(DelegatedAuthOptions options);
  // Null when `req` may proceed, else the 401/403 response.
  std::optional<http::Response> Check(const http::Request& req);

 private:
  struct User {
    std::string name, uid;
    std::vector<std::string> groups;
    nlohmann::json extra = nlohmann::json::object();
  };
  // The user, or nullopt (401).
  std::optional<User> Authenticate(const http::Request& req);
  bool AlwaysAllowed(const std::string& path) const;

  DelegatedAuthOptions o_;
  const Clock& clock_;
  std::mutex mu_;
  // token -> (user or nullopt for a rejected token, expiry)
  std::map<std::string, std::pair<std::optional<User>, std::chrono::steady_clock::time_point>>
      tokens_;
  std::map<std::string, std::pair<bool, std::chrono::steady_clock::time_point>> decisions_;
};

struct SecureServingOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 10259;          // 0 picks a free port
  std::string cert_pem, key_pem;  // empty: self-signed
  // The /metrics body.
  std::function<std::string()> metrics;
  // /healthz, /livez and /readyz answer 200 "ok" while this returns an empty string, else 500
  // with the message. Unset: always ok.
  std::function<std::string()> health;
  // Client certificates signed by this CA authenticate (CN user, O groups). Empty: none.
  std::string client_ca_pem;
  // Delegated authentication/authorization; null serves every path to anyone (tests only).
  std::shared_ptr<DelegatedAuth> auth;
};

class SecureServing {
 public:
  static absl::StatusOr<std::unique_ptr<SecureServing>> Start(SecureServingOptions options);
  ~SecureServing();
  void Stop();
  uint16_t port() const { return server_->port(); }
  // The CA that signed the serving certificate (self-signed case), else the given cert.
  const std::string& ca_pem() const { return ca_pem_; }

  // The response for one request (exposed for tests).
  static http::Response Serve(const SecureServingOptions& options, const http::Request& req);

 private:
  SecureServing() = default;
  SecureServingOptions options_;
  std::string ca_pem_;
  std::unique_ptr<http::Server> server_;
};

}  // namespace korral::scheduler
