#include "korral/apiserver/authn/jwt.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/escaping.h"

namespace korral::apiserver::jwt {

using Json = nlohmann::json;

namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

absl::Status Unauth(std::string_view m) {
  return absl::UnauthenticatedError(absl::string_view(m.data(), m.size()));
}

PkeyPtr ReadAnyKey(const std::string& pem, bool want_private) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* k = nullptr;
  if (want_private) {
    k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  } else {
    k = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
    if (!k) {
      BIO_reset(bio);
      k = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
    }
    if (!k) {
      BIO_reset(bio);
      if (X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
        k = X509_get_pubkey(cert);
        X509_free(cert);
      }
    }
  }
  BIO_free(bio);
  ERR_clear_error();
  return PkeyPtr(k);
}

std::string KidOf(EVP_PKEY* k) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(k, &der);
  if (len <= 0) return "";
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der, static_cast<size_t>(len), digest);
  OPENSSL_free(der);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

std::string BnParam(EVP_PKEY* k, const char* name) {
  BIGNUM* bn = nullptr;
  if (!EVP_PKEY_get_bn_param(k, name, &bn)) return "";
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return Base64UrlEncode(out);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError("cannot read key file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

std::string Base64UrlEncode(std::string_view data) {
  std::string out;
  absl::WebSafeBase64Escape(absl::string_view(data.data(), data.size()), &out);
  return out;
}

bool Base64UrlDecode(std::string_view in, std::string* out) {
  for (char c : in) {
    if (c == '=' || c == '+' || c == '/') return false;
  }
  return absl::WebSafeBase64Unescape(absl::string_view(in.data(), in.size()), out);
}

bool LooksLikeJwt(std::string_view token) {
  size_t dots = 0;
  for (char c : token) {
    if (c == '.') {
      ++dots;
    } else if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_')) {
      return false;
    }
  }
  return dots == 2;
}

absl::StatusOr<Json> UnverifiedClaims(std::string_view token) {
  if (!LooksLikeJwt(token)) return Unauth("malformed token");
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  std::string payload;
  if (!Base64UrlDecode(token.substr(a + 1, b - a - 1), &payload)) {
    return Unauth("malformed token payload");
  }
  Json claims = Json::parse(payload, nullptr, false);
  if (!claims.is_object()) return Unauth("malformed token payload");
  return claims;
}

struct KeySet::Impl {
  PkeyPtr signing;
  std::string kid;
  struct Pub {
    PkeyPtr key;
    std::string kid;
  };
  std::vector<Pub> publics;
};

KeySet::~KeySet() = default;

absl::StatusOr<std::unique_ptr<KeySet>> KeySet::FromPem(const std::string& private_key_pem,
                                                        const std::vector<std::string>& pubs) {
  auto ks = std::unique_ptr<KeySet>(new KeySet());
  ks->impl_ = std::make_unique<Impl>();
  if (!private_key_pem.empty()) {
    ks->impl_->signing = ReadAnyKey(private_key_pem, true);
    if (!ks->impl_->signing || EVP_PKEY_get_base_id(ks->impl_->signing.get()) != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError("service-account signing key is not a PEM RSA private key");
    }
    ks->impl_->kid = KidOf(ks->impl_->signing.get());
    EVP_PKEY_up_ref(ks->impl_->signing.get());
    ks->impl_->publics.push_back({PkeyPtr(ks->impl_->signing.get()), ks->impl_->kid});
  }
  for (size_t i = 0; i < pubs.size(); ++i) {
    PkeyPtr k = ReadAnyKey(pubs[i], false);
    if (!k || EVP_PKEY_get_base_id(k.get()) != EVP_PKEY_RSA) {
      return absl::InvalidArgumentError("service-account public key " + std::to_string(i) +
                                        " is not a PEM RSA key");
    }
    std::string kid = KidOf(k.get());
    ks->impl_->publics.push_back({std::move(k), kid});
  }
  return ks;
}

absl::StatusOr<std::unique_ptr<KeySet>> KeySet::LoadOrCreate(
    const std::string& signing_key_file, const std::vector<std::string>& extra_files) {
  std::string pem;
  if (!std::filesystem::exists(signing_key_file)) {
    auto parent = std::filesystem::path(signing_key_file).parent_path();
    std::error_code ec;
    if (!parent.empty()) {
      std::filesystem::create_directories(parent, ec);
      ::chmod(parent.c_str(), 0700);
    }
    EVP_PKEY* k = EVP_RSA_gen(2048);
    if (!k) return absl::InternalError("cannot generate the service-account key");
    PkeyPtr key(k);
    BIO* bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PrivateKey(bio, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    char* data = nullptr;
    long len = BIO_get_mem_data(bio, &data);
    pem.assign(data, static_cast<size_t>(len));
    BIO_free(bio);
    std::string tmp = signing_key_file + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return absl::InternalError("cannot write " + tmp);
    bool ok = ::write(fd, pem.data(), pem.size()) == static_cast<ssize_t>(pem.size());
    ok = ::fsync(fd) == 0 && ok;
    ::close(fd);
    if (!ok || std::rename(tmp.c_str(), signing_key_file.c_str()) != 0) {
      return absl::InternalError("cannot write " + signing_key_file);
    }
  } else {
    auto r = ReadFile(signing_key_file);
    if (!r.ok()) return r.status();
    pem = std::move(*r);
  }
  std::vector<std::string> pubs;
  for (const auto& f : extra_files) {
    auto r = ReadFile(f);
    if (!r.ok()) return r.status();
    pubs.push_back(std::move(*r));
  }
  auto ks = FromPem(pem, pubs);
  if (!ks.ok()) {
    return absl::InvalidArgumentError(std::string(ks.status().message()) + " (" + signing_key_file +
                                      ")");
  }
  return ks;
}

const std::string& KeySet::signing_kid() const { return impl_->kid; }

absl::StatusOr<std::string> KeySet::Sign(const Json& claims) const {
  if (!impl_->signing) return absl::FailedPreconditionError("no signing key");
  Json header = {{"alg", "RS256"}, {"kid", impl_->kid}};
  std::string input = Base64UrlEncode(header.dump()) + "." + Base64UrlEncode(claims.dump());
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  size_t siglen = 0;
  std::string sig;
  bool ok = EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, impl_->signing.get()) == 1 &&
            EVP_DigestSign(ctx, nullptr, &siglen,
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
  if (ok) {
    sig.resize(siglen);
    ok = EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &siglen,
                        reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
    sig.resize(siglen);
  }
  EVP_MD_CTX_free(ctx);
  if (!ok) return absl::InternalError("signing the token failed");
  return input + "." + Base64UrlEncode(sig);
}

absl::StatusOr<Json> KeySet::Verify(std::string_view token) const {
  if (!LooksLikeJwt(token)) return Unauth("malformed token");
  size_t a = token.find('.');
  size_t b = token.find('.', a + 1);
  std::string header_raw, sig;
  if (!Base64UrlDecode(token.substr(0, a), &header_raw) ||
      !Base64UrlDecode(token.substr(b + 1), &sig)) {
    return Unauth("malformed token");
  }
  Json header = Json::parse(header_raw, nullptr, false);
  if (!header.is_object() || !header.contains("alg") || !header["alg"].is_string()) {
    return Unauth("malformed token header");
  }
  if (header["alg"] != "RS256") {
    return Unauth("unsupported token signing algorithm " + header["alg"].dump());
  }
  std::string kid = header.contains("kid") && header["kid"].is_string() ? header["kid"] : "";
  std::string_view input = token.substr(0, b);
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& p : impl_->publics) {
      // First the key named by kid, then the others (tokens from keys without a kid).
      if ((pass == 0) != (!kid.empty() && p.kid == kid)) continue;
      EVP_MD_CTX* ctx = EVP_MD_CTX_new();
      bool ok =
          EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, p.key.get()) == 1 &&
          EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                           reinterpret_cast<const unsigned char*>(input.data()), input.size()) == 1;
      EVP_MD_CTX_free(ctx);
      ERR_clear_error();
      if (ok) return UnverifiedClaims(token);
    }
  }
  return Unauth("invalid bearer token, square/go-jose: error in cryptographic primitive");
}

Json KeySet::Jwks() const {
  Json keys = Json::array();
  for (const auto& p : impl_->publics) {
    keys.push_back({{"use", "sig"},
                    {"kty", "RSA"},
                    {"kid", p.kid},
                    {"alg", "RS256"},
                    {"n", BnParam(p.key.get(), OSSL_PKEY_PARAM_RSA_N)},
                    {"e", BnParam(p.key.get(), OSSL_PKEY_PARAM_RSA_E)}});
  }
  return {{"keys", keys}};
}

}  // namespace korral::apiserver::jwt
