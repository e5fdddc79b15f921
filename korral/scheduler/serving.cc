#include "korral/scheduler/serving.h"

#include <unistd.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/pki/pki.h"

namespace korral::scheduler {

http::Response SecureServing::Serve(const SecureServingOptions& options, const http::Request& req) {
  http::Response r;
  r.content_type = "text/plain; charset=utf-8";
  if (req.method != "GET" && req.method != "HEAD") {
    r.status = 405;
    r.body = "405 method not allowed\n";
    return r;
  }
  const std::string& p = req.path;
  if (p == "/healthz" || p == "/livez" || p == "/readyz") {
    std::string err = options.health ? options.health() : "";
    if (err.empty()) {
      r.body = "ok";
    } else {
      r.status = 500;
      r.body = "[-]" + err + "\n" + p.substr(1) + " check failed\n";
    }
    return r;
  }
  if (p == "/metrics") {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = options.metrics ? options.metrics() : "";
    return r;
  }
  r.status = 404;
  r.body = "404 page not found\n";
  return r;
}

absl::StatusOr<std::unique_ptr<SecureServing>> SecureServing::Start(SecureServingOptions options) {
  std::unique_ptr<SecureServing> s(new SecureServing());
  if (options.cert_pem.empty() != options.key_pem.empty()) {
    return absl::InvalidArgumentError("secure serving needs both a certificate and a key");
  }
  if (options.cert_pem.empty()) {
    char host[256] = {0};
    std::string hostname = gethostname(host, sizeof(host) - 1) == 0 ? host : "";
    KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair ca,
                            pki::NewSelfSignedCA("kube-scheduler-ca@korral", 365));
    pki::CertOptions co;
    co.common_name = "localhost@korral";
    co.dns_names = {"localhost"};
    if (!hostname.empty() && hostname != "localhost") co.dns_names.push_back(hostname);
    co.ip_addresses = {"127.0.0.1", "::1"};
    if (options.bind_address != "127.0.0.1" && options.bind_address != "0.0.0.0" &&
        options.bind_address != "::" && options.bind_address != "::1" &&
        !options.bind_address.empty()) {
      co.ip_addresses.push_back(options.bind_address);
    }
    KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair cert, pki::NewSignedCert(ca, co));
    options.cert_pem = cert.cert_pem;
    options.key_pem = cert.key_pem;
    s->ca_pem_ = ca.cert_pem;
  } else {
    s->ca_pem_ = options.cert_pem;
  }
  s->options_ = std::move(options);
  http::ServerOptions so;
  so.bind_address = s->options_.bind_address;
  so.port = s->options_.port;
  so.cert_pem = s->options_.cert_pem;
  so.key_pem = s->options_.key_pem;
  so.io_threads = 1;
  so.worker_threads = 2;
  so.max_body_bytes = 64 * 1024;
  SecureServing* raw = s.get();
  s->server_ = http::NewServer(so, [raw](http::Request& req) { return Serve(raw->options_, req); });
  KORRAL_RETURN_IF_ERROR(s->server_->Start());
  KLOG(Info, "scheduler: serving securely on {}:{}", s->options_.bind_address, s->server_->port());
  return s;
}

SecureServing::~SecureServing() { Stop(); }

void SecureServing::Stop() {
  if (server_) server_->Stop();
}

}  // namespace korral::scheduler
