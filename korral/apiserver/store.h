// korral/apiserver/store.h: the generic REST storage behind every built-in resource.
//
// Upstream's genericregistry.Store: turns API verbs into storage operations, running the
// resource type's strategy (defaulting, PrepareForCreate, validation, status/spec separation,
// generation tracking) and the object-metadata rules every kind shares (uid, creationTimestamp,
// generateName, resourceVersion preconditions, finalizers and deletionTimestamp). Reads are
// served from the WatchCache; writes go to the storage backend, and the cache sees them through
// its watch.
//
// Thread-safe. Every error is an apierrors status ready for the client.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/resource.h"
#include "korral/apiserver/watch_cache.h"
#include "korral/base/clock.h"
#include "korral/storage/storage.h"

namespace korral::apiserver {

class Allocators;

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;
  std::string continue_token;
  std::optional<std::string> resource_version;  // nullopt: most recent (consistent)
  std::string resource_version_match;           // "", "NotOlderThan", "Exact"
};

struct ListResult {
  std::vector<ObjectPtr> items;
  int64_t resource_version = 0;
  std::string continue_token;
  std::optional<int64_t> remaining_item_count;
};

struct WriteOptions {
  bool dry_run = false;
  // "" for the main resource, "status" for /status, "bind" for the internal write of
  // pods/binding (spec.nodeName and status together, without immutability checks).
  std::string subresource;
  // The field manager recorded in metadata.managedFields ("": none, for internal writes), and
  // whether the caller already computed managedFields (server-side apply).
  std::string field_manager;
  bool managed_fields_done = false;
};

// A hook run just before a create/update is written, with the final object; used for
// allocation (Service cluster IPs, node ports). It may adjust the object. Returning an error
// aborts the write. `old` is null on create.
using WriteHook = std::function<absl::Status(const api::ResourceType& type, nlohmann::json& obj,
                                             const nlohmann::json* old, bool dry_run)>;

// Admission (korral/apiserver/admission, installed by the security pipeline): called with
// mutating=true after defaulting and before validation (may change `obj`), and with
// mutating=false after validation, right before the write. `op` is "CREATE", "UPDATE" or
// "DELETE"; `obj` is null on DELETE; `old` is null on CREATE. An error aborts the write.
using AdmissionHook =
    std::function<absl::Status(bool mutating, std::string_view op, const api::ResourceType& type,
                               std::string_view ns, std::string_view name, nlohmann::json* obj,
                               const nlohmann::json* old, const WriteOptions& options)>;

class Store {
 public:
  Store(storage::Backend* backend, WatchCache* cache, Clock* clock);

  // The storage key of an object, or of a collection when name is empty (trailing '/').
  static std::string Key(const api::ResourceType& type, std::string_view ns, std::string_view name);

  absl::StatusOr<ObjectPtr> Get(const api::ResourceType& type, std::string_view ns,
                                std::string_view name,
                                const std::optional<std::string>& resource_version) const;

  absl::StatusOr<ListResult> List(const api::ResourceType& type, std::string_view ns,
                                  const ListOptions& options) const;

  // Builds the filter a list or watch applies (label and field selectors). BadRequest for
  // malformed selectors or unsupported fields.
  absl::StatusOr<ObjectFilter> MakeFilter(const api::ResourceType& type,
                                          const std::string& label_selector,
                                          const std::string& field_selector) const;

  absl::StatusOr<ObjectPtr> Create(const api::ResourceType& type, std::string_view ns,
                                   nlohmann::json obj, const WriteOptions& options);

  // PUT semantics: `obj` replaces the stored object (subject to the resourceVersion
  // precondition when obj carries one).
  absl::StatusOr<ObjectPtr> Update(const api::ResourceType& type, std::string_view ns,
                                   std::string_view name, nlohmann::json obj,
                                   const WriteOptions& options);

  // Read-modify-write: `mutate` receives the current object and returns the desired one; the
  // update is retried on storage conflicts unless the desired object pins a resourceVersion.
  using Mutation = std::function<absl::StatusOr<nlohmann::json>(const nlohmann::json& current)>;
  absl::StatusOr<ObjectPtr> GuaranteedUpdate(const api::ResourceType& type, std::string_view ns,
                                             std::string_view name, const Mutation& mutate,
                                             const WriteOptions& options);

  struct DeleteResult {
    ObjectPtr object;
    bool deleted = false;  // false: deletion is pending (finalizers), object is the new state
  };
  // DELETE with a metav1.DeleteOptions body (may be null).
  absl::StatusOr<DeleteResult> Delete(const api::ResourceType& type, std::string_view ns,
                                      std::string_view name, const nlohmann::json& options,
                                      bool dry_run);

  void set_write_hook(WriteHook hook) { write_hook_ = std::move(hook); }
  // Invoked after an object is really deleted (to release allocations).
  void set_delete_hook(std::function<void(const api::ResourceType&, const nlohmann::json&)> h) {
    delete_hook_ = std::move(h);
  }

  void set_admission_hook(AdmissionHook hook) { admission_hook_ = std::move(hook); }
  // Encryption at rest: true when the value stored at a key was written with an old key, so
  // an otherwise unchanged update must still be written (key rotation by re-writing).
  void set_stale_check(std::function<bool(const std::string& key)> check) {
    stale_check_ = std::move(check);
  }

  WatchCache* cache() const { return cache_; }
  storage::Backend* backend() const { return backend_; }

 private:
  absl::Status CheckNamespace(const api::ResourceType& type, std::string_view ns) const;
  absl::StatusOr<ObjectPtr> WriteUpdate(const api::ResourceType& type, std::string_view ns,
                                        std::string_view name, const ObjectPtr& current,
                                        nlohmann::json desired, const WriteOptions& options,
                                        bool* retry);
  absl::StatusOr<ObjectPtr> ReallyDelete(const api::ResourceType& type, const std::string& key,
                                         const ObjectPtr& current, bool dry_run, bool* retry);
  absl::StatusOr<ObjectPtr> ReadCurrent(const std::string& key) const;

  storage::Backend* backend_;
  WatchCache* cache_;
  Clock* clock_;
  WriteHook write_hook_;
  AdmissionHook admission_hook_;
  std::function<bool(const std::string& key)> stale_check_;
  std::function<void(const api::ResourceType&, const nlohmann::json&)> delete_hook_;
};

// Random RFC 4122 version-4 UUID.
std::string NewUid();

}  // namespace korral::apiserver
