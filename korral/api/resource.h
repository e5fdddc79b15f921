// korral/api/resource.h: what the apiserver knows about each built-in resource type.
//
// A ResourceType is the C++ counterpart of upstream's registry strategy plus its discovery
// entry: identity (group/version/kind/plural), scope, discovery data, and the per-type hooks
// the generic REST store calls (defaulting, validation, field selectors, table printing,
// create/update preparation). Objects are nlohmann::json trees in their wire (JSON) form.
//
// The registry is immutable after construction and safe to read from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/errors.h"

namespace korral::api {

using Json = nlohmann::json;
using apierrors::Cause;

struct GroupVersionKind {
  std::string group;  // "" for core
  std::string version;
  std::string kind;
  // "v1" or "apps/v1".
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
};

// A subresource as discovery shows it (pods/log, deployments/scale, ...).
struct Subresource {
  std::string name;       // "status", "scale", "log", ...
  GroupVersionKind kind;  // response kind (autoscaling/v1 Scale for scale)
  std::vector<std::string> verbs;
};

// A column of the server-side Table (meta.k8s.io/v1 TableColumnDefinition).
struct TableColumn {
  std::string name;
  std::string type;    // "string", "integer", "date", ...
  std::string format;  // "name" for the name column, else ""
  std::string description;
  int priority = 0;  // > 0: only with -o wide
};

struct ResourceType {
  GroupVersionKind gvk;
  std::string resource;   // plural, lowercase: "pods"
  std::string singular;   // "pod"
  std::string list_kind;  // "PodList"
  bool namespaced = true;
  std::vector<std::string> short_names;
  std::vector<std::string> categories;
  std::vector<std::string> verbs;  // discovery verbs of the main resource
  std::vector<Subresource> subresources;
  // True when the type has a status subresource: writes to the main resource keep the old
  // status; writes to /status keep everything but status (and metadata labels/annotations may
  // change as upstream allows).
  bool has_status_subresource = false;
  // True when metadata.generation is bumped on spec (non-metadata, non-status) changes.
  bool tracks_generation = false;

  // "pods" for core, "deployments.apps" otherwise: the resource name used in error messages.
  std::string QualifiedResource() const {
    return gvk.group.empty() ? resource : resource + "." + gvk.group;
  }

  // Fills defaults in place (called on create and update, after decoding). May be null.
  std::function<void(Json& obj)> apply_defaults;
  // Called on create before validation: reset status as upstream's PrepareForCreate does
  // (pods start Pending, deployments start with empty status, ...). May be null.
  std::function<void(Json& obj)> prepare_for_create;
  // Validates an object; `old` is null on create, the stored object on update. Returns every
  // problem found (empty: valid). Names, required fields and immutable fields are checked here.
  std::function<std::vector<Cause>(const Json& obj, const Json* old)> validate;
  // Field-selector support beyond metadata.name and metadata.namespace (which every type
  // supports): returns the value of `field` for the object, or nullopt if the field is not
  // selectable for this type (the apiserver then answers 400).
  std::function<std::optional<std::string>(const Json& obj, std::string_view field)> field_value;

  // Table printing: columns, and the cells of one row (same length as columns).
  // When columns is empty the apiserver uses "Name, Created At".
  std::vector<TableColumn> columns;
  std::function<Json(const Json& obj, std::chrono::system_clock::time_point now)> row_cells;
};

// Every built-in resource type, in discovery order: core first, then the groups in upstream's
// discovery priority order (apps, events.k8s.io, batch, policy, rbac.authorization.k8s.io,
// coordination.k8s.io, discovery.k8s.io); resources alphabetical within a group.
const std::vector<ResourceType>& AllResourceTypes();

// Finds a type by group, version and plural resource name; nullptr if unknown.
const ResourceType* FindResourceType(std::string_view group, std::string_view version,
                                     std::string_view resource);

// "5m", "3d4h", "<invalid>" as upstream's duration.HumanDuration prints ages.
std::string HumanDuration(std::chrono::system_clock::duration d);

// RFC 3339 in UTC with second precision ("2026-11-28T08:00:00Z"), as metav1.Time marshals.
std::string FormatTime(std::chrono::system_clock::time_point t);
// Parses metav1.Time; nullopt on malformed input.
std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view s);

}  // namespace korral::api
