#include "korral/apiserver/encryption/encryption.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "korral/apimachinery/yaml.h"
#include "korral/base/status.h"

namespace korral::apiserver::encryption {

using Json = nlohmann::json;

// One provider with its keys (the first key encrypts).
class Transformer {
 public:
  virtual ~Transformer() = default;
  virtual std::string name() const = 0;  // "aescbc", ...
  struct Key {
    std::string name;
    std::string secret;
  };
  std::vector<Key> keys;
  std::string Prefix(const Key& k) const { return "k8s:enc:" + name() + ":v1:" + k.name + ":"; }
  virtual absl::StatusOr<std::string> Seal(const Key& k, std::string_view aad,
                                           std::string_view plain) const = 0;
  virtual absl::StatusOr<std::string> Open(const Key& k, std::string_view aad,
                                           std::string_view sealed) const = 0;
};

namespace {

const EVP_CIPHER* AesCipher(size_t key_len, bool gcm) {
  if (gcm) {
    return key_len == 16   ? EVP_aes_128_gcm()
           : key_len == 24 ? EVP_aes_192_gcm()
                           : EVP_aes_256_gcm();
  }
  return key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() : EVP_aes_256_cbc();
}

std::string Random(size_t n) {
  std::string out(n, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n));
  return out;
}

const unsigned char* U(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

class AesGcm final : public Transformer {
 public:
  std::string name() const override { return "aesgcm"; }
  absl::StatusOr<std::string> Seal(const Key& k, std::string_view aad,
                                   std::string_view plain) const override {
    std::string nonce = Random(12);
    std::string out = nonce;
    out.resize(12 + plain.size() + 16);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0, len2 = 0;
    bool ok = EVP_EncryptInit_ex(ctx, AesCipher(k.secret.size(), true), nullptr, U(k.secret),
                                 U(nonce)) == 1 &&
              EVP_EncryptUpdate(ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
              EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()) + 12, &len,
                                U(plain), static_cast<int>(plain.size())) == 1 &&
              EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + 12 + len,
                                  &len2) == 1 &&
              EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out.data() + 12 + len + len2) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) return absl::InternalError("aesgcm encryption failed");
    return out;
  }
  absl::StatusOr<std::string> Open(const Key& k, std::string_view aad,
                                   std::string_view sealed) const override {
    if (sealed.size() < 28) return absl::DataLossError("aesgcm: data too short");
    std::string_view nonce = sealed.substr(0, 12);
    std::string_view body = sealed.substr(12, sealed.size() - 28);
    std::string tag(sealed.substr(sealed.size() - 16));
    std::string out(body.size() + 16, '\0');
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0, len2 = 0;
    bool ok =
        EVP_DecryptInit_ex(ctx, AesCipher(k.secret.size(), true), nullptr, U(k.secret), U(nonce)) ==
            1 &&
        EVP_DecryptUpdate(ctx, nullptr, &len, U(aad), static_cast<int>(aad.size())) == 1 &&
        EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len, U(body),
                          static_cast<int>(body.size())) == 1 &&
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, tag.data()) == 1 &&
        EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len2) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) return absl::DataLossError("aesgcm: authentication failed");
    out.resize(static_cast<size_t>(len + len2));
    return out;
  }
};

class AesCbc final : public Transformer {
 public:
  std::string name() const override { return "aescbc"; }
  absl::StatusOr<std::string> Seal(const Key& k, std::string_view,
                                   std::string_view plain) const override {
    std::string iv = Random(16);
    std::string out = iv;
    out.resize(16 + plain.size() + 16);
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0, len2 = 0;
    bool ok = EVP_EncryptInit_ex(ctx, AesCipher(k.secret.size(), false), nullptr, U(k.secret),
                                 U(iv)) == 1 &&
              EVP_EncryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()) + 16, &len,
                                U(plain), static_cast<int>(plain.size())) == 1 &&
              EVP_EncryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + 16 + len,
                                  &len2) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) return absl::InternalError("aescbc encryption failed");
    out.resize(static_cast<size_t>(16 + len + len2));
    return out;
  }
  absl::StatusOr<std::string> Open(const Key& k, std::string_view,
                                   std::string_view sealed) const override {
    if (sealed.size() < 32 || sealed.size() % 16 != 0)
      return absl::DataLossError("aescbc: bad data length");
    std::string out(sealed.size(), '\0');
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    int len = 0, len2 = 0;
    bool ok =
        EVP_DecryptInit_ex(ctx, AesCipher(k.secret.size(), false), nullptr, U(k.secret),
                           U(sealed.substr(0, 16))) == 1 &&
        EVP_DecryptUpdate(ctx, reinterpret_cast<unsigned char*>(out.data()), &len,
                          U(sealed.substr(16)), static_cast<int>(sealed.size() - 16)) == 1 &&
        EVP_DecryptFinal_ex(ctx, reinterpret_cast<unsigned char*>(out.data()) + len, &len2) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) return absl::DataLossError("aescbc: decryption failed");
    out.resize(static_cast<size_t>(len + len2));
    return out;
  }
};

class SecretBox final : public Transformer {
 public:
  std::string name() const override { return "secretbox"; }
  absl::StatusOr<std::string> Seal(const Key& k, std::string_view,
                                   std::string_view plain) const override {
    std::string out(crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + plain.size(), '\0');
    auto* o = reinterpret_cast<unsigned char*>(out.data());
    randombytes_buf(o, crypto_secretbox_NONCEBYTES);
    if (crypto_secretbox_easy(o + crypto_secretbox_NONCEBYTES, U(plain), plain.size(), o,
                              U(k.secret)) != 0) {
      return absl::InternalError("secretbox encryption failed");
    }
    return out;
  }
  absl::StatusOr<std::string> Open(const Key& k, std::string_view,
                                   std::string_view sealed) const override {
    if (sealed.size() < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
      return absl::DataLossError("secretbox: data too short");
    std::string out(sealed.size() - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES, '\0');
    if (crypto_secretbox_open_easy(
            reinterpret_cast<unsigned char*>(out.data()), U(sealed) + crypto_secretbox_NONCEBYTES,
            sealed.size() - crypto_secretbox_NONCEBYTES, U(sealed), U(k.secret)) != 0) {
      return absl::DataLossError("secretbox: authentication failed");
    }
    return out;
  }
};

class Identity final : public Transformer {
 public:
  std::string name() const override { return "identity"; }
  absl::StatusOr<std::string> Seal(const Key&, std::string_view,
                                   std::string_view p) const override {
    return std::string(p);
  }
  absl::StatusOr<std::string> Open(const Key&, std::string_view,
                                   std::string_view s) const override {
    return std::string(s);
  }
};

std::string_view ResourceOfKey(std::string_view key) {
  constexpr std::string_view kPrefix = "/registry/";
  if (key.substr(0, kPrefix.size()) != kPrefix) return {};
  key.remove_prefix(kPrefix.size());
  return key.substr(0, key.find('/'));
}

bool ResourceMatches(const std::string& pattern, std::string_view resource) {
  if (pattern == "*.*") return true;
  std::string_view group;
  std::string_view res = resource;
  if (auto dot = resource.find('.'); dot != std::string_view::npos) {
    group = resource.substr(dot + 1);
    res = resource.substr(0, dot);
  }
  if (pattern == "*.") return group.empty();
  if (pattern.rfind("*.", 0) == 0) return group == std::string_view(pattern).substr(2);
  return pattern == resource || (group.empty() && pattern == std::string(res) + ".");
}

}  // namespace

absl::StatusOr<Config> ParseConfig(std::string_view text) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  auto parsed = yaml::YamlToJson(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("encryption config: " +
                                      std::string(parsed.status().message()));
  }
  const Json& j = *parsed;
  auto bad = [](const std::string& m) {
    return absl::InvalidArgumentError("encryption config: " + m);
  };
  if (!j.is_object()) return bad("not an object");
  if (j.value("kind", "") != "EncryptionConfiguration") {
    return bad("kind must be EncryptionConfiguration");
  }
  std::string av = j.value("apiVersion", "");
  if (av != "apiserver.config.k8s.io/v1" && av != "apiserver.config.k8s.io/v1beta1") {
    return bad("apiVersion must be apiserver.config.k8s.io/v1");
  }
  if (!j.contains("resources") || !j["resources"].is_array() || j["resources"].empty()) {
    return bad("resources: Required value: at least one resource configuration is required");
  }
  Config cfg;
  for (size_t i = 0; i < j["resources"].size(); ++i) {
    const Json& rc = j["resources"][i];
    std::string path = fmt::format("resources[{}]", i);
    ResourceConfig out;
    if (!rc.is_object() || !rc.contains("resources") || !rc["resources"].is_array() ||
        rc["resources"].empty()) {
      return bad(path + ".resources: Required value: must specify at least one resource");
    }
    for (const auto& r : rc["resources"]) {
      if (!r.is_string() || r.get<std::string>().empty()) {
        return bad(path + ".resources: Invalid value: resources must be non-empty strings");
      }
      out.resources.push_back(r.get<std::string>());
    }
    if (!rc.contains("providers") || !rc["providers"].is_array() || rc["providers"].empty()) {
      return bad(path + ".providers: Required value: must specify at least one provider");
    }
    for (size_t p = 0; p < rc["providers"].size(); ++p) {
      const Json& pv = rc["providers"][p];
      std::string ppath = fmt::format("{}.providers[{}]", path, p);
      if (!pv.is_object() || pv.size() != 1) {
        return bad(ppath + ": Invalid value: exactly one provider must be set per entry");
      }
      std::string kind = pv.begin().key();
      const Json& body = pv.begin().value();
      std::shared_ptr<Transformer> t;
      std::vector<size_t> lengths;
      if (kind == "identity") {
        out.identity_reads = true;
        t = std::make_shared<Identity>();
        t->keys.push_back({"", ""});
        out.providers.push_back(t);
        continue;
      } else if (kind == "aesgcm") {
        t = std::make_shared<AesGcm>();
        lengths = {16, 24, 32};
      } else if (kind == "aescbc") {
        t = std::make_shared<AesCbc>();
        lengths = {32};
      } else if (kind == "secretbox") {
        t = std::make_shared<SecretBox>();
        lengths = {32};
      } else if (kind == "kms") {
        return bad(ppath + ".kms: the KMS provider is not supported by korral");
      } else {
        return bad(ppath + ": Invalid value: unknown provider \"" + kind +
                   "\" (supported: aescbc, aesgcm, secretbox, identity)");
      }
      if (!body.is_object() || !body.contains("keys") || !body["keys"].is_array() ||
          body["keys"].empty()) {
        return bad(ppath + "." + kind + ".keys: Required value: at least one key is required");
      }
      std::set<std::string> names;
      for (size_t k = 0; k < body["keys"].size(); ++k) {
        const Json& key = body["keys"][k];
        std::string kpath = fmt::format("{}.{}.keys[{}]", ppath, kind, k);
        std::string name = key.is_object() ? key.value("name", "") : "";
        std::string secret64 = key.is_object() ? key.value("secret", "") : "";
        if (name.empty()) return bad(kpath + ".name: Required value");
        if (name.find(':') != std::string::npos) {
          return bad(kpath + ".name: Invalid value: key name must not contain \":\"");
        }
        if (!names.insert(name).second) {
          return bad(kpath + ".name: Duplicate value: \"" + name + "\"");
        }
        if (secret64.empty()) return bad(kpath + ".secret: Required value");
        std::string secret;
        if (!absl::Base64Unescape(secret64, &secret)) {
          return bad(kpath + ".secret: Invalid value: REDACTED: secrets must be base64 encoded");
        }
        if (std::find(lengths.begin(), lengths.end(), secret.size()) == lengths.end()) {
          std::string want;
          for (size_t l = 0; l < lengths.size(); ++l)
            want += (l ? " " : "") + std::to_string(lengths[l]);
          return bad(
              fmt::format("{}.secret: Invalid value: REDACTED: secret is not of the expected "
                          "length, got {}, expected one of [{}]",
                          kpath, secret.size(), want));
        }
        t->keys.push_back({name, secret});
      }
      out.providers.push_back(t);
    }
    cfg.resources.push_back(std::move(out));
  }
  return cfg;
}

absl::StatusOr<Config> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError("cannot read --encryption-provider-config " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  auto c = ParseConfig(ss.str());
  if (!c.ok()) return absl::InvalidArgumentError(path + ": " + std::string(c.status().message()));
  return c;
}

EncryptedBackend::EncryptedBackend(storage::Backend* inner, Config config)
    : inner_(inner), config_(std::move(config)) {}

const ResourceConfig* EncryptedBackend::ConfigFor(std::string_view key) const {
  std::string_view res = ResourceOfKey(key);
  if (res.empty()) return nullptr;
  // Exact names win over wildcards, as upstream resolves them.
  for (const auto& rc : config_.resources) {
    for (const auto& r : rc.resources) {
      if (r.find('*') == std::string::npos && ResourceMatches(r, res)) return &rc;
    }
  }
  for (const auto& rc : config_.resources) {
    for (const auto& r : rc.resources) {
      if (r.find('*') != std::string::npos && ResourceMatches(r, res)) return &rc;
    }
  }
  return nullptr;
}

absl::StatusOr<std::string> EncryptedBackend::Encrypt(std::string_view key,
                                                      std::string_view value) const {
  const ResourceConfig* rc = ConfigFor(key);
  if (!rc) return std::string(value);
  const Transformer& t = *rc->providers.front();
  if (t.name() == "identity") return std::string(value);
  const Transformer::Key& k = t.keys.front();
  auto sealed = t.Seal(k, key, value);
  if (!sealed.ok()) return sealed.status();
  return t.Prefix(k) + *sealed;
}

absl::StatusOr<std::string> EncryptedBackend::Decrypt(std::string_view key, std::string_view value,
                                                      bool* stale) const {
  *stale = false;
  const ResourceConfig* rc = ConfigFor(key);
  if (!rc) return std::string(value);
  constexpr std::string_view kPrefix = "k8s:enc:";
  bool primary_identity = rc->providers.front()->name() == "identity";
  if (value.substr(0, kPrefix.size()) != kPrefix) {
    if (!rc->identity_reads) {
      return absl::DataLossError(fmt::format(
          "{}: stored data is not encrypted and no identity provider is configured", key));
    }
    *stale = !primary_identity;
    return std::string(value);
  }
  for (size_t pi = 0; pi < rc->providers.size(); ++pi) {
    const Transformer& t = *rc->providers[pi];
    if (t.name() == "identity") continue;
    for (size_t ki = 0; ki < t.keys.size(); ++ki) {
      std::string prefix = t.Prefix(t.keys[ki]);
      if (value.substr(0, prefix.size()) != prefix) continue;
      auto plain = t.Open(t.keys[ki], key, value.substr(prefix.size()));
      if (!plain.ok()) {
        return absl::DataLossError(fmt::format("{}: {}", key, StatusMessage(plain.status())));
      }
      *stale = pi != 0 || ki != 0;
      return plain;
    }
  }
  std::string_view shown =
      value.substr(0, std::min<size_t>(value.find(':', kPrefix.size() + 10), 64));
  return absl::DataLossError(
      fmt::format("{}: no configured key decrypts data with prefix \"{}\"", key, shown));
}

void EncryptedBackend::SetStale(std::string_view key, bool stale) {
  std::lock_guard l(mu_);
  if (stale) {
    stale_.emplace(key);
  } else if (auto it = stale_.find(key); it != stale_.end()) {
    stale_.erase(it);
  }
}

bool EncryptedBackend::IsStale(const std::string& key) const {
  std::lock_guard l(mu_);
  return stale_.count(key) > 0;
}

absl::Status EncryptedBackend::DecryptInPlace(storage::KeyValue* kv) {
  if (kv->value.empty()) return absl::OkStatus();
  bool stale = false;
  auto plain = Decrypt(kv->key, kv->value, &stale);
  if (!plain.ok()) return plain.status();
  kv->value = std::move(*plain);
  SetStale(kv->key, stale);
  return absl::OkStatus();
}

absl::StatusOr<int64_t> EncryptedBackend::Create(std::string_view key, std::string_view value) {
  auto enc = Encrypt(key, value);
  if (!enc.ok()) return enc.status();
  auto r = inner_->Create(key, *enc);
  if (r.ok()) SetStale(key, false);
  return r;
}

absl::StatusOr<int64_t> EncryptedBackend::Update(std::string_view key, std::string_view value,
                                                 int64_t expected) {
  auto enc = Encrypt(key, value);
  if (!enc.ok()) return enc.status();
  auto r = inner_->Update(key, *enc, expected);
  if (r.ok()) SetStale(key, false);
  return r;
}

absl::StatusOr<storage::KeyValue> EncryptedBackend::Delete(std::string_view key, int64_t expected) {
  auto r = inner_->Delete(key, expected);
  if (!r.ok()) return r;
  SetStale(key, false);
  bool stale;
  auto plain = Decrypt(r->key, r->value, &stale);
  if (plain.ok()) r->value = std::move(*plain);
  return r;
}

absl::StatusOr<storage::KeyValue> EncryptedBackend::Get(std::string_view key) {
  auto r = inner_->Get(key);
  if (!r.ok()) return r;
  auto s = DecryptInPlace(&*r);
  if (!s.ok()) return s;
  return r;
}

absl::StatusOr<storage::RangeResponse> EncryptedBackend::Range(const storage::RangeRequest& req) {
  auto r = inner_->Range(req);
  if (!r.ok()) return r;
  for (auto& kv : r->kvs) {
    auto s = DecryptInPlace(&kv);
    if (!s.ok()) return s;
  }
  return r;
}

absl::StatusOr<storage::WatchPtr> EncryptedBackend::Watch(std::string_view prefix,
                                                          int64_t start_revision,
                                                          storage::WatchHandler handler) {
  storage::WatchHandler wrapped;
  wrapped.on_error = handler.on_error;
  wrapped.on_events = [this, h = std::move(handler)](const std::vector<storage::Event>& events) {
    std::vector<storage::Event> out = events;
    for (auto& e : out) {
      bool stale = false;
      auto plain = Decrypt(e.kv.key, e.kv.value, &stale);
      if (!plain.ok()) {
        h.on_error(plain.status());
        return;
      }
      e.kv.value = std::move(*plain);
      if (e.type == storage::EventType::kPut) SetStale(e.kv.key, stale);
    }
    h.on_events(out);
  };
  return inner_->Watch(prefix, start_revision, std::move(wrapped));
}

}  // namespace korral::apiserver::encryption
