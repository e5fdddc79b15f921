// korral/apimachinery/patch/json_patch.h: RFC 6902 JSON patch and RFC 7386 JSON merge patch.
//
// Errors are Kubernetes statuses ready for the client, as kube-apiserver answers them:
//   * a patch document that is not a JSON patch (not an array, an operation without "op" or
//     "path", an unknown op, a malformed pointer) is 400 BadRequest;
//   * a well-formed patch that does not apply (missing path, failed "test") is 422 Invalid with
//     the reason in an UnexpectedServerResponse cause.
// The original document is never modified; on error nothing of the result is returned.
//
// Example:
//   auto out = patch::ApplyJsonPatch(obj, Json::parse(R"([{"op":"remove","path":"/a"}])"));
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::patch {

using Json = nlohmann::json;

// The deepest nesting a patch document may have; deeper is 400 (the engines recurse, and no
// Kubernetes object comes close).
inline constexpr size_t kMaxPatchDepth = 1000;
// BadRequest when `doc` nests deeper than kMaxPatchDepth (checked without recursion).
absl::Status CheckPatchDepth(const Json& doc);

// The most operations one JSON patch may hold (upstream's limit); more is 413.
inline constexpr size_t kMaxJsonPatchOperations = 10000;

absl::StatusOr<Json> ApplyJsonPatch(const Json& original, const Json& patch);

// RFC 7386: objects merge recursively, null deletes, anything else replaces.
absl::StatusOr<Json> ApplyMergePatch(const Json& original, const Json& patch);

// 422 Invalid with upstream's generic message and `detail` as an UnexpectedServerResponse cause
// (what kube-apiserver answers when a patch does not apply).
absl::Status PatchNotApplicable(std::string_view detail);

}  // namespace korral::patch
