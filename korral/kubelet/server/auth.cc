// korral/kubelet/server/auth.cc: TokenReview / SubjectAccessReview authorizer for the kubelet
// server.
#include "korral/kubelet/server/auth.h"

#include <algorithm>
#include <map>
#include <mutex>

#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/client.h"

namespace korral::kubelet::server {
namespace {

using Json = nlohmann::json;

struct User {
  std::string name, uid;
  std::vector<std::string> groups;
  Json extra = Json::object();
};

bool IsSubpath(std::string_view path, std::string_view prefix) {
  if (path.substr(0, prefix.size()) != prefix) return false;
  return path.size() == prefix.size() || path[prefix.size()] == '/';
}

template <typename V>
class TtlCache {
 public:
  explicit TtlCache(size_t max) : max_(max) {}
  bool Get(const std::string& key, std::chrono::steady_clock::time_point now, V* out) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it == entries_.end()) return false;
    if (it->second.second <= now) {
      entries_.erase(it);
      return false;
    }
    *out = it->second.first;
    return true;
  }
  void Put(const std::string& key, V value, std::chrono::steady_clock::time_point now,
           std::chrono::seconds ttl) {
    std::lock_guard lock(mu_);
    if (entries_.size() >= max_) {
      // Drop what expired; if still full, start over (bounded memory beats a perfect LRU).
      std::erase_if(entries_, [&](const auto& e) { return e.second.second <= now; });
      if (entries_.size() >= max_) entries_.clear();
    }
    entries_[key] = {std::move(value), now + ttl};
  }

 private:
  std::mutex mu_;
  size_t max_;
  std::map<std::string, std::pair<V, std::chrono::steady_clock::time_point>> entries_;
};

class ApiAuthorizer {
 public:
  explicit ApiAuthorizer(ApiAuthOptions o)
      : o_(std::move(o)),
        clock_(o_.clock ? *o_.clock : Clock::Real()),
        tokens_(o_.max_cache_entries),
        decisions_(o_.max_cache_entries) {}

  absl::Status Authorize(const http::Request& req) {
    KORRAL_ASSIGN_OR_RETURN(User user, Authenticate(req));
    KubeletRequestAttributes attrs = RequestAttributesFor(req.method, req.path);
    std::string key =
        fmt::format("{}\n{}\n{}\n{}\n{}\n{}", user.name, user.uid, fmt::join(user.groups, ","),
                    user.extra.dump(), attrs.verb, attrs.subresource);
    auto now = clock_.SteadyNow();
    bool allowed = false;
    if (!decisions_.Get(key, now, &allowed)) {
      Json sar = {{"apiVersion", "authorization.k8s.io/v1"},
                  {"kind", "SubjectAccessReview"},
                  {"spec",
                   {{"resourceAttributes",
                     {{"verb", attrs.verb},
                      {"group", ""},
                      {"version", "v1"},
                      {"resource", "nodes"},
                      {"subresource", attrs.subresource},
                      {"name", o_.node_name}}},
                    {"user", user.name},
                    {"groups", user.groups}}}};
      if (!user.uid.empty()) sar["spec"]["uid"] = user.uid;
      if (!user.extra.empty()) sar["spec"]["extra"] = user.extra;
      auto r =
          o_.client->Create({"authorization.k8s.io", "v1", "subjectaccessreviews", false}, "", sar);
      if (!r.ok()) {
        KLOG(Warning, "kubelet server: SubjectAccessReview for {} failed: {}", user.name,
             StatusMessage(r.status()));
        return absl::InternalError(absl::string_view(
            fmt::format("Authorization error (user={}, verb={}, resource=nodes, subresource={})",
                        user.name, attrs.verb, attrs.subresource)));
      }
      allowed = r->value("status", Json::object()).value("allowed", false);
      decisions_.Put(key, allowed, now, allowed ? o_.allowed_cache_ttl : o_.denied_cache_ttl);
    }
    if (!allowed) {
      return absl::PermissionDeniedError(absl::string_view(
          fmt::format("Forbidden (user={}, verb={}, resource=nodes, subresource={})", user.name,
                      attrs.verb, attrs.subresource)));
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<User> Authenticate(const http::Request& req) {
    if (req.client_cert) {
      User u;
      u.name = req.client_cert->common_name;
      u.groups = req.client_cert->organizations;
      if (std::find(u.groups.begin(), u.groups.end(), "system:authenticated") == u.groups.end()) {
        u.groups.push_back("system:authenticated");
      }
      if (!u.name.empty()) return u;
    }
    std::string_view auth = req.Header("Authorization");
    std::string token;
    if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
      token = std::string(auth.substr(7));
      while (!token.empty() && token.back() == ' ') token.pop_back();
    }
    if (token.empty()) return absl::UnauthenticatedError("Unauthorized");
    auto now = clock_.SteadyNow();
    std::optional<User> cached;
    if (tokens_.Get(token, now, &cached)) {
      if (!cached) return absl::UnauthenticatedError("Unauthorized");
      return *cached;
    }
    Json review = {{"apiVersion", "authentication.k8s.io/v1"},
                   {"kind", "TokenReview"},
                   {"spec", {{"token", token}}}};
    auto r = o_.client->Create({"authentication.k8s.io", "v1", "tokenreviews", false}, "", review);
    if (!r.ok()) {
      // Not cached: the API may be back for the next request.
      KLOG(Warning, "kubelet server: TokenReview failed: {}", StatusMessage(r.status()));
      return absl::UnauthenticatedError("Unauthorized");
    }
    Json status = r->value("status", Json::object());
    if (!status.value("authenticated", false)) {
      tokens_.Put(token, std::nullopt, now, o_.token_cache_ttl);
      return absl::UnauthenticatedError("Unauthorized");
    }
    Json ju = status.value("user", Json::object());
    User u;
    u.name = ju.value("username", "");
    u.uid = ju.value("uid", "");
    for (const auto& g : ju.value("groups", Json::array())) {
      if (g.is_string()) u.groups.push_back(g.get<std::string>());
    }
    if (ju.contains("extra") && ju["extra"].is_object()) u.extra = ju["extra"];
    tokens_.Put(token, u, now, o_.token_cache_ttl);
    return u;
  }

  ApiAuthOptions o_;
  const Clock& clock_;
  TtlCache<std::optional<User>> tokens_;
  TtlCache<bool> decisions_;
};

}  // namespace

KubeletRequestAttributes RequestAttributesFor(std::string_view method, std::string_view path) {
  KubeletRequestAttributes a;
  if (method == "POST") {
    a.verb = "create";
  } else if (method == "GET" || method == "HEAD") {
    a.verb = "get";
  } else if (method == "PUT") {
    a.verb = "update";
  } else if (method == "PATCH") {
    a.verb = "patch";
  } else if (method == "DELETE") {
    a.verb = "delete";
  }
  a.subresource = "proxy";
  if (IsSubpath(path, "/stats")) {
    a.subresource = "stats";
  } else if (IsSubpath(path, "/metrics")) {
    a.subresource = "metrics";
  } else if (IsSubpath(path, "/logs")) {
    a.subresource = "log";
  } else if (IsSubpath(path, "/spec")) {
    a.subresource = "spec";
  } else if (IsSubpath(path, "/checkpoint")) {
    a.subresource = "checkpoint";
  }
  return a;
}

Authorizer NewApiAuthorizer(ApiAuthOptions options) {
  auto a = std::make_shared<ApiAuthorizer>(std::move(options));
  return [a](const http::Request& req) { return a->Authorize(req); };
}

}  // namespace korral::kubelet::server
