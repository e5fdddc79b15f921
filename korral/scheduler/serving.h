// korral/scheduler/serving.h: the scheduler's secure port (upstream kube-scheduler
// --secure-port, default 10259): HTTPS with /healthz, /livez, /readyz and /metrics (Prometheus
// text format).
//
// Without a certificate the server makes its own, as upstream does: a self-signed CA and a
// serving certificate for 127.0.0.1, ::1, localhost and the host name, kept in memory (ca_pem()
// tells tests what to trust).
//
// TODO(korral): upstream delegates authentication and authorization of /metrics to the
// apiserver (TokenReview/SubjectAccessReview); here every path is served to any client, so bind
// it to loopback (the default) unless the network is trusted.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/server.h"

namespace korral::scheduler {

struct SecureServingOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 10259;          // 0 picks a free port
  std::string cert_pem, key_pem;  // empty: self-signed
  // The /metrics body.
  std::function<std::string()> metrics;
  // /healthz, /livez and /readyz answer 200 "ok" while this returns an empty string, else 500
  // with the message. Unset: always ok.
  std::function<std::string()> health;
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
