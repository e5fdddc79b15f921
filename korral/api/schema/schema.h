// korral/api/schema/schema.h: OpenAPI-style type schemas of the built-in Kubernetes kinds.
//
// Every named type (for example `io.k8s.api.core.v1.PodSpec`) is a `Schema` held by a process-wide
// registry that is built once, on first use, from a compact text description compiled into the
// library (see schema_data_*.cc). The schemas serve three consumers:
//   * strict field validation (strict.h walks an object against its kind's schema),
//   * the OpenAPI v3 documents served at /openapi/v3 (openapi.h),
//   * anyone needing patch metadata (merge keys, list types) for strategic merge patch.
//
// Field names, types, merge keys and list types follow upstream Kubernetes v1.32.
//
// Example:
//   const Schema* pod = FindKindSchema("v1", "Pod");
//   const Schema* spec = Deref(pod->FindProperty("spec"));
//   const Schema* containers = spec->FindProperty("containers");  // array, merge key "name"
//
// Thread safety: every function here is safe to call concurrently; returned pointers stay valid
// for the life of the process.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"

namespace korral::schema {

enum class Type { kUnspecified, kObject, kArray, kString, kInteger, kNumber, kBoolean };

// The OpenAPI spelling ("object", "array", ...; "" for kUnspecified).
std::string_view TypeName(Type type);

struct GroupVersionKind {
  std::string group;  // "" for the core group
  std::string version;
  std::string kind;
};

struct Property;

// One schema node: either a reference to a named type (`ref` non-empty; the node may still carry
// its own description and patch metadata, as OpenAPI's `allOf: [{$ref}]` does) or an inline type.
struct Schema {
  // Named types only: the upstream definition name, e.g. "io.k8s.api.core.v1.Pod".
  std::string name;
  // When non-empty this node stands for the named type `ref`.
  std::string ref;

  Type type = Type::kUnspecified;
  std::string format;  // int32, int64, double, date-time, byte, int-or-string
  std::string description;

  std::vector<Property> properties;                     // sorted by name
  std::shared_ptr<const Schema> items;                  // arrays
  std::shared_ptr<const Schema> additional_properties;  // maps
  std::vector<std::string> required;
  std::vector<std::string> enum_values;

  // x-kubernetes-patch-merge-key / x-kubernetes-patch-strategy ("merge", "retainKeys",
  // "merge,retainKeys", "replace").
  std::string patch_merge_key;
  std::string patch_strategy;
  // x-kubernetes-list-type ("atomic", "set", "map") and x-kubernetes-list-map-keys.
  std::string list_type;
  std::vector<std::string> list_map_keys;
  // x-kubernetes-map-type ("atomic", "granular").
  std::string map_type;
  bool int_or_string = false;            // x-kubernetes-int-or-string
  bool preserve_unknown_fields = false;  // x-kubernetes-preserve-unknown-fields

  // Top-level kinds: x-kubernetes-group-version-kind.
  std::vector<GroupVersionKind> gvks;

  // The property named `field`, or nullptr. The result may be a reference node: use Deref().
  const Schema* FindProperty(std::string_view field) const;
  // True when any value is acceptable below this node: preserve-unknown-fields, no type at all,
  // or an object with neither properties nor additionalProperties (free-form, like FieldsV1).
  bool IsFreeForm() const;
};

struct Property {
  std::string name;
  Schema schema;
};

// The named type `name` ("io.k8s.api.core.v1.Pod"), or nullptr.
const Schema* FindSchema(std::string_view name);

// The schema of a kind, by apiVersion ("v1", "apps/v1") and kind ("Deployment"), or nullptr.
// List kinds ("PodList") are included.
const Schema* FindKindSchema(std::string_view api_version, std::string_view kind);

// Follows a reference node to its named type. Returns `s` itself when it is not a reference,
// nullptr when `s` is nullptr or the reference does not resolve.
const Schema* Deref(const Schema* s);

// Every named type, sorted by name.
std::vector<const Schema*> AllSchemas();

// OK when the built-in schema text parsed cleanly and every reference resolves; otherwise the
// first problem found (a bug in schema_data_*.cc). Tests assert this.
absl::Status SchemaDataStatus();

// The OpenAPI v3 rendering of one node, as upstream publishes it: references become
// `{"allOf":[{"$ref":"#/components/schemas/<name>"}]}` (plus description/patch metadata), except
// inside `items`/`additionalProperties` of a plain reference, which stay `{"$ref": ...}` wrapped
// the same way. `ref_prefix` is prepended to referenced names.
nlohmann::json ToOpenApiV3(const Schema& s, std::string_view ref_prefix = "#/components/schemas/");

// Appends the names of every named type referenced (transitively) from `s` to `out`, each once.
void CollectReferences(const Schema& s, std::vector<std::string>* out);

}  // namespace korral::schema
