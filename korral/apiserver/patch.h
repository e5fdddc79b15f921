// korral/apiserver/patch.h: the PATCH content types kube-apiserver accepts.
//
//   application/merge-patch+json           RFC 7386 JSON merge patch
//   application/json-patch+json            RFC 6902 JSON patch
//   application/strategic-merge-patch+json Kubernetes strategic merge patch: lists merge by their
//                                          patch merge key (containers by name, ports by
//                                          containerPort, ...) and the $patch, $setElementOrder,
//                                          $retainKeys and $deleteFromPrimitiveList directives.
//
// The strategic merge here knows merge keys by field name (the fields of built-in kinds that
// have them); a field without a known key is replaced, as upstream does for atomic lists.
// Errors are BadRequest / Invalid statuses ready to return to the client.
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
