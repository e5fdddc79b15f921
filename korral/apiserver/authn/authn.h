// korral/apiserver/authn/authn.h: the request authenticator chain.
//
// Order (upstream's union authenticator): X.509 client certificate, then the bearer token
// (static token file, bootstrap token, service-account JWT), then anonymous. The first that
// recognises the request decides; a credential that is presented but invalid gives
// Unauthenticated (401) rather than falling through to anonymous, as upstream does.
// Every authenticated user also gets the group system:authenticated.
//
// Thread-safe. Lookups of bound objects (service accounts, pods, secrets) go through
// `ObjectLookup`, which the apiserver serves from its watch cache.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/apiserver/authn/user.h"

namespace korral {
class Clock;
}
namespace korral::http {
struct Request;
}

namespace korral::apiserver::jwt {
class KeySet;
}

namespace korral::apiserver::authn {

// The object at (resource, namespace, name) ("secrets", "kube-system", "x") or null JSON.
using ObjectLookup = std::function<nlohmann::json(std::string_view resource, std::string_view ns,
                                                  std::string_view name)>;

struct AuthnConfig {
  bool anonymous = true;                   // --anonymous-auth
  std::string token_auth_file;             // --token-auth-file (CSV: token,user,uid,"g1,g2")
  std::vector<std::string> issuers;        // --service-account-issuer (first one issues)
  std::vector<std::string> api_audiences;  // --api-audiences (default: the issuers)
  bool bootstrap_tokens = true;
  const jwt::KeySet* sa_keys = nullptr;
  ObjectLookup lookup;
  Clock* clock = nullptr;
};

class Authenticator {
 public:
  // InvalidArgument for an unreadable or malformed token file (line number in the message).
  static absl::StatusOr<std::unique_ptr<Authenticator>> Create(AuthnConfig config);

  // The user of a request; Unauthenticated (401) for bad credentials or when anonymous auth is
  // off and no credentials were given.
  absl::StatusOr<UserInfo> Authenticate(const http::Request& request) const;
  // A bearer token alone (TokenReview). `audiences` (may be empty: the API audiences) are the
  // audiences the caller wants; the matching ones are returned in `*matched`.
  absl::StatusOr<UserInfo> AuthenticateToken(std::string_view token,
                                             const std::vector<std::string>& audiences,
                                             std::vector<std::string>* matched) const;

  const AuthnConfig& config() const { return config_; }
  // Service-account tokens whose verified claims are cached (for tests and metrics).
  size_t CachedTokens() const {
    std::lock_guard l(verified_mu_);
    return verified_.size();
  }

 private:
  explicit Authenticator(AuthnConfig c) : config_(std::move(c)) {}
  absl::StatusOr<UserInfo> ServiceAccountToken(std::string_view token,
                                               const std::vector<std::string>& audiences,
                                               std::vector<std::string>* matched) const;
  absl::StatusOr<UserInfo> BootstrapToken(std::string_view token, bool* recognised) const;
  // The claims of a service-account JWT whose signature verified (sa_keys->Verify), from a
  // bounded cache keyed by the token: controllers present the same token on every request, and
  // the RSA verification plus the claims' JSON parse were ~6% of the server's CPU under a
  // ReplicaSet's create burst. Only the signature check is cached; expiry, audiences and the
  // bound objects are checked on every request, so revocation stays immediate (stricter than
  // upstream's 10 s token success cache). Safe because the key set is fixed for the process.
  absl::StatusOr<std::shared_ptr<const nlohmann::json>> VerifiedClaims(
      std::string_view token) const;

  AuthnConfig config_;
  std::unordered_map<std::string, UserInfo> static_tokens_;
  static constexpr size_t kMaxVerifiedTokens = 1024;
  mutable std::mutex verified_mu_;
  mutable std::unordered_map<std::string, std::shared_ptr<const nlohmann::json>> verified_;
};

// Parses upstream's token file format. Exposed for tests.
absl::StatusOr<std::unordered_map<std::string, UserInfo>> ParseTokenFile(std::string_view text);

// Adds system:authenticated unless present (and not anonymous).
void AddAuthenticatedGroup(UserInfo* user);

}  // namespace korral::apiserver::authn
