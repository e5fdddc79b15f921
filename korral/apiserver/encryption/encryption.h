// korral/apiserver/encryption/encryption.h: encryption at rest (--encryption-provider-config),
// upstream's EncryptionConfiguration (apiserver.config.k8s.io/v1) over the storage backend.
//
// Providers: aescbc (AES-256-CBC, PKCS#7), aesgcm (AES-GCM with the storage key as additional
// data, 16/24/32-byte keys), secretbox (XSalsa20-Poly1305 via libsodium, 32-byte keys) and
// identity. For each listed resource the first provider (and its first key) encrypts every
// write; all providers and keys decrypt. Stored values carry upstream's prefix
// "k8s:enc:<provider>:v1:<key name>:". A value without a prefix is read only when identity is
// listed for its resource.
//
// EncryptedBackend is a storage::Backend decorator: writes are encrypted, and Get/Range/Delete
// results and watch events are decrypted, so everything above it sees plaintext. It remembers
// which keys hold data not written by the current primary key (IsStale), so an unchanged PUT
// still rewrites them (key rotation by `kubectl replace`). Thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/storage/storage.h"

namespace korral::apiserver::encryption {

class Transformer;

struct ResourceConfig {
  std::vector<std::string> resources;  // "secrets", "deployments.apps", "*.apps", "*.*"
  std::vector<std::shared_ptr<Transformer>> providers;
  bool identity_reads = false;  // identity listed: unprefixed values are readable
};

struct Config {
  std::vector<ResourceConfig> resources;
};

// Parses YAML or JSON. InvalidArgument naming the field for every problem (bad kind/apiVersion,
// unknown or unsupported provider, key not base64 or of the wrong length, duplicate key names,
// empty lists). Key material never appears in messages.
absl::StatusOr<Config> ParseConfig(std::string_view text);
absl::StatusOr<Config> LoadConfigFile(const std::string& path);

class EncryptedBackend final : public storage::Backend {
 public:
  EncryptedBackend(storage::Backend* inner, Config config);

  absl::StatusOr<int64_t> Create(std::string_view key, std::string_view value) override;
  absl::StatusOr<int64_t> Update(std::string_view key, std::string_view value,
                                 int64_t expected_mod_revision) override;
  absl::StatusOr<storage::KeyValue> Delete(std::string_view key,
                                           int64_t expected_mod_revision) override;
  absl::StatusOr<storage::KeyValue> Get(std::string_view key) override;
  absl::StatusOr<storage::RangeResponse> Range(const storage::RangeRequest& request) override;
  absl::StatusOr<storage::WatchPtr> Watch(std::string_view prefix, int64_t start_revision,
                                          storage::WatchHandler handler) override;
  absl::Status Compact(int64_t revision) override { return inner_->Compact(revision); }
  int64_t CurrentRevision() override { return inner_->CurrentRevision(); }
  int64_t CompactRevision() override { return inner_->CompactRevision(); }

  // True if the value stored at key was not written by the current primary provider/key.
  bool IsStale(const std::string& key) const;

  // Exposed for tests.
  absl::StatusOr<std::string> Encrypt(std::string_view key, std::string_view value) const;
  absl::StatusOr<std::string> Decrypt(std::string_view key, std::string_view value,
                                      bool* stale) const;

 private:
  const ResourceConfig* ConfigFor(std::string_view key) const;
  absl::Status DecryptInPlace(storage::KeyValue* kv);
  void SetStale(std::string_view key, bool stale);

  storage::Backend* inner_;
  Config config_;
  mutable std::mutex mu_;
  std::set<std::string, std::less<>> stale_;
};

}  // namespace korral::apiserver::encryption
