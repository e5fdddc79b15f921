#include "korral/apiserver/authn/authn.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"
#include "korral/api/resource.h"
#include "korral/apiserver/authn/jwt.h"
#include "korral/apiserver/http/server.h"
#include "korral/base/clock.h"

namespace korral::apiserver::authn {

using Json = nlohmann::json;

namespace {

absl::Status Unauth(const std::string& m) { return absl::UnauthenticatedError(m); }

std::vector<std::string> ParseCsvLine(std::string_view line, bool* ok) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  *ok = true;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < line.size() && line[i + 1] == '"') {
          cur.push_back('"');
          ++i;
        } else {
          quoted = false;
        }
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else if (c != '\r') {
      cur.push_back(c);
    }
  }
  if (quoted) *ok = false;
  out.push_back(std::move(cur));
  return out;
}

int64_t JsonInt(const Json& j, const char* key) {
  if (!j.contains(key)) return 0;
  const Json& v = j[key];
  if (v.is_number()) return v.get<int64_t>();
  return 0;
}

std::string Str(const Json& j, const char* key) {
  if (!j.is_object() || !j.contains(key) || !j[key].is_string()) return "";
  return j[key].get<std::string>();
}

std::string DecodedData(const Json& secret, const char* key) {
  if (!secret.contains("data") || !secret["data"].is_object()) return "";
  std::string enc = Str(secret["data"], key), out;
  if (!absl::Base64Unescape(enc, &out)) return "";
  return out;
}

bool Deleting(const Json& obj) {
  return obj.contains("metadata") && obj["metadata"].contains("deletionTimestamp") &&
         !obj["metadata"]["deletionTimestamp"].is_null();
}

}  // namespace

void AddAuthenticatedGroup(UserInfo* user) {
  if (user->IsAnonymous()) return;
  if (!user->InGroup(kAllAuthenticated)) user->groups.push_back(kAllAuthenticated);
}

absl::StatusOr<std::unordered_map<std::string, UserInfo>> ParseTokenFile(std::string_view text) {
  std::unordered_map<std::string, UserInfo> out;
  size_t pos = 0;
  int line_no = 0;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    std::string_view line =
        text.substr(pos, nl == std::string_view::npos ? text.size() - pos : nl - pos);
    pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
    ++line_no;
    if (line.empty() || line == "\r" || line[0] == '#') continue;
    bool ok;
    auto f = ParseCsvLine(line, &ok);
    if (!ok)
      return absl::InvalidArgumentError(
          fmt::format("token file line {}: unterminated quote", line_no));
    if (f.size() < 3) {
      return absl::InvalidArgumentError(
          fmt::format("token file line {}: want at least 3 columns (token,user,uid), got {}",
                      line_no, f.size()));
    }
    if (f[0].empty() || f[1].empty()) {
      return absl::InvalidArgumentError(
          fmt::format("token file line {}: token and user name must not be empty", line_no));
    }
    UserInfo u;
    u.name = f[1];
    u.uid = f[2];
    if (f.size() >= 4 && !f[3].empty()) {
      std::string_view g = f[3];
      size_t p = 0;
      while (p <= g.size()) {
        size_t c = g.find(',', p);
        std::string_view one = g.substr(p, c == std::string_view::npos ? g.size() - p : c - p);
        if (!one.empty()) u.groups.emplace_back(one);
        p = c == std::string_view::npos ? g.size() + 1 : c + 1;
      }
    }
    if (out.count(f[0])) {
      return absl::InvalidArgumentError(
          fmt::format("token file line {}: duplicate token", line_no));
    }
    out.emplace(f[0], std::move(u));
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Authenticator>> Authenticator::Create(AuthnConfig config) {
  if (!config.clock) config.clock = &Clock::Real();
  if (config.api_audiences.empty()) config.api_audiences = config.issuers;
  auto a = std::unique_ptr<Authenticator>(new Authenticator(std::move(config)));
  if (!a->config_.token_auth_file.empty()) {
    std::ifstream in(a->config_.token_auth_file);
    if (!in) {
      return absl::InvalidArgumentError("cannot read --token-auth-file " +
                                        a->config_.token_auth_file);
    }
    std::stringstream ss;
    ss << in.rdbuf();
    auto parsed = ParseTokenFile(ss.str());
    if (!parsed.ok()) {
      return absl::InvalidArgumentError(a->config_.token_auth_file + ": " +
                                        std::string(parsed.status().message()));
    }
    a->static_tokens_ = std::move(*parsed);
  }
  return a;
}

absl::StatusOr<UserInfo> Authenticator::Authenticate(const http::Request& req) const {
  if (req.client_cert) {
    UserInfo u;
    u.name = req.client_cert->common_name;
    u.groups = req.client_cert->organizations;
    if (u.name.empty()) return Unauth("x509: certificate has no common name");
    AddAuthenticatedGroup(&u);
    return u;
  }
  if (!req.client_cert_error.empty()) {
    return Unauth("verifying certificate failed: " + req.client_cert_error);
  }
  std::string_view auth = req.Header("Authorization");
  if (!auth.empty()) {
    if (auth.size() < 7 || !(auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
      // Basic auth and others are not supported (upstream removed basic auth).
      return Unauth("unsupported Authorization scheme");
    }
    std::string_view token = auth.substr(7);
    while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
    while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
    if (token.empty()) return Unauth("empty bearer token");
    std::vector<std::string> matched;
    return AuthenticateToken(token, {}, &matched);
  }
  if (!config_.anonymous) return Unauth("anonymous requests are disabled");
  return UserInfo{kAnonymousUser, "", {kAllUnauthenticated}, {}};
}

absl::StatusOr<UserInfo> Authenticator::AuthenticateToken(std::string_view token,
                                                          const std::vector<std::string>& audiences,
                                                          std::vector<std::string>* matched) const {
  if (auto it = static_tokens_.find(std::string(token)); it != static_tokens_.end()) {
    UserInfo u = it->second;
    AddAuthenticatedGroup(&u);
    *matched = audiences.empty() ? config_.api_audiences : audiences;
    return u;
  }
  if (config_.bootstrap_tokens) {
    bool recognised = false;
    auto u = BootstrapToken(token, &recognised);
    if (recognised) {
      if (u.ok()) *matched = audiences.empty() ? config_.api_audiences : audiences;
      return u;
    }
  }
  if (jwt::LooksLikeJwt(token) && config_.sa_keys) {
    return ServiceAccountToken(token, audiences, matched);
  }
  return Unauth("invalid bearer token");
}

// Bootstrap tokens: "[a-z0-9]{6}.[a-z0-9]{16}" backed by kube-system/bootstrap-token-<id>.
absl::StatusOr<UserInfo> Authenticator::BootstrapToken(std::string_view token,
                                                       bool* recognised) const {
  *recognised = false;
  if (token.size() != 23 || token[6] != '.') return Unauth("not a bootstrap token");
  for (size_t i = 0; i < token.size(); ++i) {
    if (i == 6) continue;
    char c = token[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return Unauth("not a bootstrap token");
  }
  *recognised = true;
  std::string id(token.substr(0, 6)), secret_part(token.substr(7));
  if (!config_.lookup) return Unauth("invalid bootstrap token");
  Json s = config_.lookup("secrets", "kube-system", "bootstrap-token-" + id);
  if (!s.is_object() || Str(s, "type") != "bootstrap.kubernetes.io/token" || Deleting(s)) {
    return Unauth("invalid bootstrap token");
  }
  if (DecodedData(s, "token-id") != id || DecodedData(s, "token-secret") != secret_part) {
    return Unauth("invalid bootstrap token");
  }
  if (DecodedData(s, "usage-bootstrap-authentication") != "true") {
    return Unauth("bootstrap token is not usable for authentication");
  }
  std::string exp = DecodedData(s, "expiration");
  if (!exp.empty()) {
    auto t = api::ParseTime(exp);
    if (!t || *t < config_.clock->Now()) return Unauth("bootstrap token has expired");
  }
  UserInfo u;
  u.name = "system:bootstrap:" + id;
  u.groups = {kBootstrappersGroup};
  std::string extra = DecodedData(s, "auth-extra-groups");
  size_t p = 0;
  while (p < extra.size()) {
    size_t c = extra.find(',', p);
    std::string g = extra.substr(p, c == std::string::npos ? std::string::npos : c - p);
    if (g.rfind("system:bootstrappers:", 0) == 0) u.groups.push_back(g);
    if (c == std::string::npos) break;
    p = c + 1;
  }
  AddAuthenticatedGroup(&u);
  return u;
}

absl::StatusOr<std::shared_ptr<const Json>> Authenticator::VerifiedClaims(
    std::string_view token) const {
  std::string key(token);
  {
    std::lock_guard l(verified_mu_);
    if (auto it = verified_.find(key); it != verified_.end()) return it->second;
  }
  auto claims_or = config_.sa_keys->Verify(token);
  if (!claims_or.ok()) return claims_or.status();  // failures are not cached
  auto claims = std::make_shared<const Json>(std::move(*claims_or));
  std::lock_guard l(verified_mu_);
  // Bounded: a full cache starts over (the live tokens come back on their next request).
  if (verified_.size() >= kMaxVerifiedTokens) verified_.clear();
  verified_.emplace(std::move(key), claims);
  return claims;
}

absl::StatusOr<UserInfo> Authenticator::ServiceAccountToken(
    std::string_view token, const std::vector<std::string>& audiences,
    std::vector<std::string>* matched) const {
  auto claims_or = VerifiedClaims(token);
  if (!claims_or.ok()) return claims_or.status();
  const Json& c = **claims_or;
  std::string iss = Str(c, "iss");
  int64_t now =
      std::chrono::duration_cast<std::chrono::seconds>(config_.clock->Now().time_since_epoch())
          .count();
  // Legacy secret-based tokens.
  if (iss == "kubernetes/serviceaccount") {
    std::string ns = Str(c, "kubernetes.io/serviceaccount/namespace");
    std::string sa = Str(c, "kubernetes.io/serviceaccount/service-account.name");
    std::string sa_uid = Str(c, "kubernetes.io/serviceaccount/service-account.uid");
    std::string secret = Str(c, "kubernetes.io/serviceaccount/secret.name");
    if (ns.empty() || sa.empty() || secret.empty()) return Unauth("invalid legacy token claims");
    Json s = config_.lookup ? config_.lookup("secrets", ns, secret) : Json();
    if (!s.is_object() || Deleting(s) || DecodedData(s, "token") != token) {
      return Unauth("Token has been invalidated");
    }
    Json a = config_.lookup ? config_.lookup("serviceaccounts", ns, sa) : Json();
    if (!a.is_object() || Deleting(a) || Str(a["metadata"], "uid") != sa_uid) {
      return Unauth("Token has been invalidated");
    }
    UserInfo u{std::string(kServiceAccountPrefix) + ns + ":" + sa,
               sa_uid,
               {kServiceAccountsGroup, std::string(kServiceAccountsGroup) + ":" + ns},
               {}};
    AddAuthenticatedGroup(&u);
    *matched = audiences.empty() ? config_.api_audiences : audiences;
    return u;
  }
  if (std::find(config_.issuers.begin(), config_.issuers.end(), iss) == config_.issuers.end()) {
    return Unauth("invalid bearer token: token issuer \"" + iss + "\" is not trusted");
  }
  std::vector<std::string> token_aud;
  if (c.contains("aud")) {
    if (c["aud"].is_string()) token_aud.push_back(c["aud"]);
    if (c["aud"].is_array()) {
      for (const auto& a : c["aud"]) {
        if (a.is_string()) token_aud.push_back(a);
      }
    }
  }
  const std::vector<std::string>& want = audiences.empty() ? config_.api_audiences : audiences;
  matched->clear();
  for (const auto& a : want) {
    if (std::find(token_aud.begin(), token_aud.end(), a) != token_aud.end()) matched->push_back(a);
  }
  if (matched->empty()) return Unauth("invalid bearer token: token audiences are invalid");
  if (!c.contains("exp") || !c["exp"].is_number()) return Unauth("token has no expiration");
  // Upstream allows 60s of clock skew.
  if (now > JsonInt(c, "exp") + 60) return Unauth("invalid bearer token: Token has expired.");
  if (c.contains("nbf") && now + 60 < JsonInt(c, "nbf")) {
    return Unauth("invalid bearer token: Token is not valid yet.");
  }
  const Json k = c.contains("kubernetes.io") && c["kubernetes.io"].is_object() ? c["kubernetes.io"]
                                                                               : Json::object();
  std::string ns = Str(k, "namespace");
  Json sa_ref = k.contains("serviceaccount") ? k["serviceaccount"] : Json::object();
  std::string sa = Str(sa_ref, "name"), sa_uid = Str(sa_ref, "uid");
  if (ns.empty() || sa.empty()) return Unauth("invalid bearer token: missing service account");
  if (config_.lookup) {
    Json a = config_.lookup("serviceaccounts", ns, sa);
    if (!a.is_object() || Deleting(a)) {
      return Unauth(fmt::format("invalid bearer token: serviceaccounts \"{}\" not found", sa));
    }
    if (!sa_uid.empty() && Str(a["metadata"], "uid") != sa_uid) {
      return Unauth("invalid bearer token: service account UID does not match the token");
    }
    for (const char* kind : {"pod", "secret"}) {
      if (!k.contains(kind) || !k[kind].is_object()) continue;
      std::string name = Str(k[kind], "name"), uid = Str(k[kind], "uid");
      Json o = config_.lookup(std::string(kind) + "s", ns, name);
      if (!o.is_object() || Deleting(o)) {
        return Unauth(fmt::format("invalid bearer token: {}s \"{}\" not found", kind, name));
      }
      if (!uid.empty() && Str(o["metadata"], "uid") != uid) {
        return Unauth(
            fmt::format("invalid bearer token: the {} bound to the token was replaced", kind));
      }
    }
  }
  UserInfo u;
  u.name = std::string(kServiceAccountPrefix) + ns + ":" + sa;
  u.uid = sa_uid;
  u.groups = {kServiceAccountsGroup, std::string(kServiceAccountsGroup) + ":" + ns};
  if (k.contains("pod") && k["pod"].is_object()) {
    u.extra["authentication.kubernetes.io/pod-name"] = {Str(k["pod"], "name")};
    u.extra["authentication.kubernetes.io/pod-uid"] = {Str(k["pod"], "uid")};
  }
  if (k.contains("node") && k["node"].is_object()) {
    u.extra["authentication.kubernetes.io/node-name"] = {Str(k["node"], "name")};
    u.extra["authentication.kubernetes.io/node-uid"] = {Str(k["node"], "uid")};
  }
  if (!Str(c, "jti").empty()) {
    u.extra["authentication.kubernetes.io/credential-id"] = {"JTI=" + Str(c, "jti")};
  }
  AddAuthenticatedGroup(&u);
  return u;
}

}  // namespace korral::apiserver::authn
