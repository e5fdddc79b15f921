#include "korral/scheduler/serving.h"

#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/pki/pki.h"

namespace korral::scheduler {
namespace {

using Json = nlohmann::json;

http::Response StatusResponse(int code, const std::string& reason, const std::string& message) {
  http::Response r;
  r.status = code;
  r.content_type = "application/json";
  r.body = Json{{"kind", "Status"},          {"apiVersion", "v1"}, {"metadata", Json::object()},
                {"status", "Failure"},       {"message", message}, {"reason", reason},
                {"details", Json::object()}, {"code", code}}
               .dump();
  return r;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

}  // namespace

// ---- DelegatedAuth ------------------------------------------------------------------------------

DelegatedAuth::DelegatedAuth(DelegatedAuthOptions options)
    : o_(std::move(options)), clock_(o_.clock ? *o_.clock : Clock::Real()) {}

bool DelegatedAuth::AlwaysAllowed(const std::string& path) const {
  for (const auto& p : o_.always_allow_paths) {
    // upstream path.NewAuthorizer: "/x" exact, "/x/*" a prefix.
    if (!p.empty() && p.back() == '*') {
      if (path.compare(0, p.size() - 1, p, 0, p.size() - 1) == 0) return true;
    } else if (p == path) {
      return true;
    }
  }
  return false;
}

std::optional<DelegatedAuth::User> DelegatedAuth::Authenticate(const http::Request& req) {
  if (req.client_cert && !req.client_cert->common_name.empty()) {
    User u;
    u.name = req.client_cert->common_name;
    u.groups = req.client_cert->organizations;
    u.groups.push_back("system:authenticated");
    return u;
  }
  std::string_view auth = req.Header("Authorization");
  std::string token;
  if (auth.size() > 7 && Lower(std::string(auth.substr(0, 7))) == "bearer ") {
    token = std::string(auth.substr(7));
    while (!token.empty() && token.back() == ' ') token.pop_back();
  }
  if (token.empty()) {
    // upstream's delegated authentication allows anonymous requests.
    User u;
    u.name = "system:anonymous";
    u.groups = {"system:unauthenticated"};
    return u;
  }
  if (!o_.authn_client) return std::nullopt;
  auto now = clock_.SteadyNow();
  {
    std::lock_guard l(mu_);
    auto it = tokens_.find(token);
    if (it != tokens_.end()) {
      if (it->second.second > now) return it->second.first;
      tokens_.erase(it);
    }
  }
  Json review = {{"apiVersion", "authentication.k8s.io/v1"},
                 {"kind", "TokenReview"},
                 {"spec", {{"token", token}}}};
  auto r =
      o_.authn_client->Create({"authentication.k8s.io", "v1", "tokenreviews", false}, "", review);
  if (!r.ok()) {
    // Not cached: the apiserver may answer the next request.
    KLOG(Warning, "scheduler: TokenReview failed: {}", StatusMessage(r.status()));
    return std::nullopt;
  }
  std::optional<User> out;
  Json status = r->value("status", Json::object());
  if (status.value("authenticated", false)) {
    Json ju = status.value("user", Json::object());
    User u;
    u.name = ju.value("username", "");
    u.uid = ju.value("uid", "");
    for (const auto& g : ju.value("groups", Json::array())) {
      if (g.is_string()) u.groups.push_back(g.get<std::string>());
    }
    if (ju.contains("extra") && ju["extra"].is_object()) u.extra = ju["extra"];
    out = std::move(u);
  }
  std::lock_guard l(mu_);
  if (tokens_.size() >= o_.max_cache_entries) tokens_.clear();
  tokens_[token] = {out, now + o_.token_ttl};
  return out;
}

std::optional<http::Response> DelegatedAuth::Check(const http::Request& req) {
  std::optional<User> user = Authenticate(req);
  if (!user) return StatusResponse(401, "Unauthorized", "Unauthorized");
  if (AlwaysAllowed(req.path)) return std::nullopt;
  std::string verb = Lower(req.method);
  auto forbidden = [&](const std::string& why) {
    std::string msg =
        fmt::format("forbidden: User \"{}\" cannot {} path \"{}\"", user->name, verb, req.path);
    if (!why.empty()) msg += ": " + why;
    return StatusResponse(403, "Forbidden", msg);
  };
  if (!o_.authz_client) return forbidden("");
  std::string key = fmt::format("{}\n{}\n{}\n{}\n{}\n{}", user->name, user->uid,
                                fmt::join(user->groups, ","), user->extra.dump(), verb, req.path);
  auto now = clock_.SteadyNow();
  {
    std::lock_guard l(mu_);
    auto it = decisions_.find(key);
    if (it != decisions_.end()) {
      if (it->second.second > now) {
        if (it->second.first) return std::nullopt;
        return forbidden("");
      }
      decisions_.erase(it);
    }
  }
  Json sar = {{"apiVersion", "authorization.k8s.io/v1"},
              {"kind", "SubjectAccessReview"},
              {"spec",
               {{"nonResourceAttributes", {{"path", req.path}, {"verb", verb}}},
                {"user", user->name},
                {"groups", user->groups}}}};
  if (!user->uid.empty()) sar["spec"]["uid"] = user->uid;
  if (!user->extra.empty()) sar["spec"]["extra"] = user->extra;
  auto r = o_.authz_client->Create({"authorization.k8s.io", "v1", "subjectaccessreviews", false},
                                   "", sar);
  if (!r.ok()) {
    KLOG(Warning, "scheduler: SubjectAccessReview for {} failed: {}", user->name,
         StatusMessage(r.status()));
    return StatusResponse(500, "InternalError",
                          "Internal Server Error: \"" + req.path + "\": authorization failed");
  }
  Json st = r->value("status", Json::object());
  bool allowed = st.value("allowed", false);
  {
    std::lock_guard l(mu_);
    if (decisions_.size() >= o_.max_cache_entries) decisions_.clear();
    decisions_[key] = {allowed, now + (allowed ? o_.allowed_ttl : o_.denied_ttl)};
  }
  if (allowed) return std::nullopt;
  return forbidden(st.value("reason", ""));
}

// ---- SecureServing ------------------------------------------------------------------------------

http::Response SecureServing::Serve(const SecureServingOptions& options, const http::Request& req) {
  if (options.auth) {
    if (auto denied = options.auth->Check(req)) return std::move(*denied);
  }
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
  so.client_ca_pem = s->options_.client_ca_pem;
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
