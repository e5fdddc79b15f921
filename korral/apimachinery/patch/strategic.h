// korral/apimachinery/patch/strategic.h: Kubernetes strategic merge patch, driven by the
// OpenAPI schemas of korral/api/schema (x-kubernetes-patch-merge-key / -patch-strategy).
//
// Semantics follow upstream's k8s.io/apimachinery/pkg/util/strategicpatch:
//   * maps merge recursively; `null` deletes a key;
//   * a list whose field has patch strategy "merge" and a merge key merges element by element
//     (containers by name, container ports by containerPort, ...); a "merge" list of primitives
//     (finalizers) is a union; every other list is replaced whole;
//   * directives: `$patch: replace|delete|merge` (on maps and on list elements),
//     `$setElementOrder/<list>`, `$retainKeys`, `$deleteFromPrimitiveList/<list>`.
// Fields the schema does not know (free-form maps, unknown types) merge as maps and replace
// lists, as upstream does for unstructured data.
//
// Errors: malformed directives are 400 BadRequest; patches that contradict their own
// $retainKeys or nest lists of lists are 422. The original is never modified.
//
// Example:
//   const schema::Schema* pod = schema::FindKindSchema("v1", "Pod");
//   auto out = patch::StrategicMergePatch(live, smp, pod);
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/schema/schema.h"

namespace korral::patch {

using Json = nlohmann::json;

// `type` is the schema of the document's kind (may be nullptr: merge without list knowledge).
absl::StatusOr<Json> StrategicMergePatch(const Json& original, const Json& patch,
                                         const schema::Schema* type);

// Patch metadata of one field, as strategic merge patch and server-side apply read it.
struct ListInfo {
  enum Kind { kAtomic, kMap, kSet };
  Kind kind = kAtomic;
  std::vector<std::string> keys;  // kMap: the associative keys (the patch merge key first)
  std::string merge_key;          // strategic merge key ("" when none)
  bool merge = false;             // patch strategy contains "merge"
};

// The child schema nodes of a type: `node` carries the field's patch metadata (the property
// itself), `type` is its resolved type. Both nullptr for unknown fields.
struct FieldSchema {
  const schema::Schema* node = nullptr;
  const schema::Schema* type = nullptr;
  bool declared = false;  // a named property of a struct (not a map entry)
};
FieldSchema ChildSchema(const schema::Schema* type, std::string_view key);
// List metadata of a list field (`node` from ChildSchema); atomic when unknown.
ListInfo ListInfoOf(const schema::Schema* node);
// Resolved schema of the elements of a list field.
const schema::Schema* ListItemSchema(const schema::Schema* node);

}  // namespace korral::patch
