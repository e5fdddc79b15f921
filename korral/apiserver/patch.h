// korral/apiserver/patch.h: the PATCH content types kube-apiserver accepts.
//
//   application/merge-patch+json           RFC 7386 JSON merge patch
//   application/json-patch+json            RFC 6902 JSON patch
//   application/strategic-merge-patch+json Kubernetes strategic merge patch: lists merge by their
//                                          patch merge key (containers by name, ports by
//                                          containerPort, ...) and the $patch, $setElementOrder,
//                                          $retainKeys and $deleteFromPrimitiveList directives.
//
// The engines live in korral/apimachinery/patch; strategic merge takes its merge keys and
// strategies from the schema of the original's apiVersion/kind (korral/api/schema). Errors are
// BadRequest / Invalid statuses ready to return to the client. application/apply-patch+yaml is
// server-side apply (managedfields.h).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::apiserver {

enum class PatchType { kMerge, kJson, kStrategic, kApply };

// Maps a Content-Type to a patch type; UnsupportedMediaType (415) for anything else.
absl::StatusOr<PatchType> PatchTypeFromContentType(std::string_view content_type);

absl::StatusOr<nlohmann::json> ApplyMergePatch(const nlohmann::json& original,
                                               const nlohmann::json& patch);
absl::StatusOr<nlohmann::json> ApplyJsonPatch(const nlohmann::json& original,
                                              const nlohmann::json& patch);
absl::StatusOr<nlohmann::json> ApplyStrategicMergePatch(const nlohmann::json& original,
                                                        const nlohmann::json& patch);

}  // namespace korral::apiserver
