// korral/apimachinery/patch/managed.h: metadata.managedFields bookkeeping and server-side apply
// (upstream's k8s.io/apimachinery/pkg/util/managedfields + structured-merge-diff's Updater).
//
// Every write records which field manager owns which fields:
//   * RecordUpdate (create, update, every non-apply patch): the manager's "Update" entry gains
//     the fields the write added or changed; other managers lose those fields; removed fields
//     leave every manager.
//   * Apply (application/apply-patch+yaml): the configuration is merged into the live object;
//     fields the manager applied before but no longer applies are removed unless another
//     manager owns them; fields owned by another manager whose value would change are conflicts
//     (409 with FieldManagerConflict causes) unless `force`, which takes them over.
//
// Objects are JSON; `type` is the kind's schema (merge keys, list types). Fields that belong to
// the server (apiVersion, kind, name, namespace, uid, resourceVersion, ...) and those reset by
// the write's subresource are never owned.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/schema/schema.h"
#include "korral/apimachinery/patch/fieldpath.h"

namespace korral::patch {

struct ManagedOptions {
  std::string manager;
  std::string api_version;  // "apps/v1"
  std::string kind;         // "Deployment"
  std::string subresource;  // "" or "status", "scale", ...
  std::string now;          // RFC 3339 time stamped on changed entries
  // Fields reset by the write: "status" on the main resource of kinds with a status
  // subresource; everything but metadata and status on /status.
  bool ignore_status = false;
  bool only_status = false;
};

struct ManagedEntry {
  std::string manager;
  std::string operation;  // "Apply" or "Update"
  std::string api_version;
  std::string subresource;
  std::string time;
  FieldSet fields;
};

// Parses metadata.managedFields of `obj` (absent: empty). BadRequest when malformed.
absl::StatusOr<std::vector<ManagedEntry>> DecodeManagedFields(const Json& obj);
// Writes `entries` sorted as upstream sorts them (or removes the field when empty).
void EncodeManagedFields(std::vector<ManagedEntry> entries, Json& obj);

// Records an Update by opts.manager from `old` (nullptr on create) to `obj`. When `obj` carries
// no managedFields, the ones of `old` are the starting point (as upstream keeps them on a PUT
// that omits them).
absl::Status RecordUpdate(const Json* old, Json& obj, const schema::Schema* type,
                          const ManagedOptions& opts);

// Server-side apply of `config` by opts.manager to `live` (nullptr: the object does not exist
// yet). Returns the new object with its managedFields. 409 Conflict on conflicts unless `force`.
absl::StatusOr<Json> Apply(const Json* live, const Json& config, const schema::Schema* type,
                           const ManagedOptions& opts, bool force);

// Upstream's manager name for requests without ?fieldManager=: the User-Agent up to its first
// '/', printable characters only, at most 128.
std::string ManagerFromUserAgent(std::string_view user_agent);

}  // namespace korral::patch
