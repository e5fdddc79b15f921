// korral/apiserver/authn/jwt.h: RS256 JSON Web Tokens and the service-account signing keys.
//
// A KeySet holds one private signing key (RSA 2048, PKCS#8 PEM) and any number of public keys
// that verify (the signing key's own public half plus extra ones kept for rotation). Key ids
// follow upstream: base64url(SHA-256(DER SubjectPublicKeyInfo)). Thread-safe after Load.
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(auto keys, jwt::KeySet::LoadOrCreate(dir + "/sa.key", {}));
//   std::string token = *keys->Sign({{"iss", "https://kubernetes.default.svc"}, ...});
//   KORRAL_ASSIGN_OR_RETURN(nlohmann::json claims, keys->Verify(token));
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::apiserver::jwt {

class KeySet {
 public:
  ~KeySet();
  // Loads the private key at `signing_key_file`, creating it (RSA 2048, mode 0600, parent
  // directory 0700) if it does not exist. `extra_public_key_files` hold PEM public keys (or
  // private keys, or certificates) that also verify. InvalidArgument for unreadable/malformed
  // keys; the key material never appears in messages.
  static absl::StatusOr<std::unique_ptr<KeySet>> LoadOrCreate(
      const std::string& signing_key_file, const std::vector<std::string>& extra_public_key_files);
  // From PEM text (tests).
  static absl::StatusOr<std::unique_ptr<KeySet>> FromPem(
      const std::string& private_key_pem, const std::vector<std::string>& public_pems);

  // header.payload.signature with {"alg":"RS256","kid":...}.
  absl::StatusOr<std::string> Sign(const nlohmann::json& claims) const;
  // Checks the structure, the algorithm (RS256 only) and the signature against every public
  // key (the kid is a hint). Returns the claims; Unauthenticated with a reason otherwise.
  // Does NOT check exp/nbf/iss/aud (the caller does).
  absl::StatusOr<nlohmann::json> Verify(std::string_view token) const;
  // {"keys":[{"use":"sig","kty":"RSA","kid":...,"alg":"RS256","n":...,"e":...}]}
  nlohmann::json Jwks() const;
  const std::string& signing_kid() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// True if `token` looks like a JWT (three dot-separated base64url parts).
bool LooksLikeJwt(std::string_view token);
// Decodes the payload without verifying (to route between issuers). Unauthenticated if malformed.
absl::StatusOr<nlohmann::json> UnverifiedClaims(std::string_view token);

std::string Base64UrlEncode(std::string_view data);
bool Base64UrlDecode(std::string_view in, std::string* out);

}  // namespace korral::apiserver::jwt
