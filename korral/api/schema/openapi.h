// korral/api/schema/openapi.h: the OpenAPI v3 documents kubectl fetches from /openapi/v3.
//
// kubectl 1.32 reads them for three things (see docs/kubectl-protocol.md §10):
//   * `create`/`apply` validation: it looks for a PATCH operation carrying
//     x-kubernetes-group-version-kind and a `fieldValidation` query parameter, then sends
//     fieldValidation=Strict and leaves validation to the server;
//   * client-side apply: strategic merge patch metadata from components.schemas;
//   * `explain`: descriptions and properties of the schemas.
//
// Documents are built once, on first use, from the schemas in schema.h and the resource table
// below, and cached for the life of the process (thread-safe).
//
// Example (an HTTP handler):
//   GET /openapi/v3                 -> OpenApiV3Index().dump()
//   GET /openapi/v3/apis/apps/v1    -> *OpenApiV3Document("apis/apps/v1")   (nullptr: 404)
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "absl/types/span.h"

namespace korral::schema {

// One REST resource served by korral, as the OpenAPI documents describe it.
struct ResourceInfo {
  std::string_view group;    // "" for the core group
  std::string_view version;  // "v1"
  std::string_view kind;     // "Deployment"
  std::string_view plural;   // "deployments"
  bool namespaced = true;
  bool has_status = false;   // a /status subresource
  bool has_scale = false;    // a /scale subresource (autoscaling/v1 Scale)
  bool create_only = false;  // only POST on the collection (bindings)
};

// The resources described in the documents (korral's own table; independent of korral::api).
absl::Span<const ResourceInfo> BuiltinResources();

// The /openapi/v3 index:
// {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=<HASH>"},"apis/apps/v1":...}}
// HASH is the stable uppercase hex SHA-512 of the group-version document.
nlohmann::json OpenApiV3Index();

// The serialized document of one group-version path ("api/v1", "apis/apps/v1"), or nullptr when
// korral serves no such group-version. The pointer stays valid for the life of the process.
const std::string* OpenApiV3Document(std::string_view group_version_path);

// The hash used in the index for `group_version_path` (usable as an ETag), or "" when unknown.
std::string OpenApiV3DocumentHash(std::string_view group_version_path);

}  // namespace korral::schema
