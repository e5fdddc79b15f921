#include "korral/apiserver/patch.h"

#include "korral/api/schema/schema.h"
#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/patch/json_patch.h"
#include "korral/apimachinery/patch/strategic.h"

namespace korral::apiserver {

using Json = nlohmann::json;

absl::StatusOr<PatchType> PatchTypeFromContentType(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  if (ct == "application/merge-patch+json") return PatchType::kMerge;
  if (ct == "application/json-patch+json") return PatchType::kJson;
  if (ct == "application/strategic-merge-patch+json") return PatchType::kStrategic;
  if (ct == "application/apply-patch+yaml") return PatchType::kApply;
  return apierrors::NewUnsupportedMediaType(ct);
}

absl::StatusOr<Json> ApplyMergePatch(const Json& original, const Json& patch) {
  return patch::ApplyMergePatch(original, patch);
}

absl::StatusOr<Json> ApplyJsonPatch(const Json& original, const Json& patch) {
  return patch::ApplyJsonPatch(original, patch);
}

absl::StatusOr<Json> ApplyStrategicMergePatch(const Json& original, const Json& patch) {
  const schema::Schema* type = nullptr;
  if (original.is_object()) {
    type = schema::FindKindSchema(original.value("apiVersion", ""), original.value("kind", ""));
  }
  return patch::StrategicMergePatch(original, patch, type);
}

}  // namespace korral::apiserver
