#include "korral/apiserver/managedfields.h"

#include <fmt/format.h>

#include <cctype>

#include "korral/api/schema/schema.h"
#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/patch/managed.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

patch::ManagedOptions Options(const api::ResourceType& type, const std::string& manager,
                              const std::string& subresource, const std::string& now) {
  patch::ManagedOptions o;
  o.manager = manager;
  o.api_version = type.gvk.ApiVersion();
  o.kind = type.gvk.kind;
  o.subresource = subresource;
  o.now = now;
  o.only_status = subresource == "status";
  o.ignore_status = subresource.empty() && type.has_status_subresource;
  return o;
}

}  // namespace

std::string FieldManagerName(std::string_view param, std::string_view user_agent) {
  if (!param.empty()) return std::string(param);
  return patch::ManagerFromUserAgent(user_agent);
}

absl::Status ValidateFieldManager(std::string_view param, bool apply, bool force) {
  std::vector<apierrors::Cause> causes;
  if (param.size() > 128) {
    causes.push_back({"FieldValueTooLong", fmt::format("Too long: may not be more than 128 bytes"),
                      "fieldManager"});
  }
  for (char c : param) {
    if (!std::isprint(static_cast<unsigned char>(c))) {
      causes.push_back({"FieldValueInvalid",
                        fmt::format("Invalid value: \"{}\": must only contain printable "
                                    "characters",
                                    param),
                        "fieldManager"});
      break;
    }
  }
  if (apply && param.empty()) {
    causes.push_back(
        {"FieldValueRequired", "Required value: is required for apply patch", "fieldManager"});
  }
  if (!apply && force) {
    causes.push_back(
        {"FieldValueForbidden", "Forbidden: may not be specified for non-apply patch", "force"});
  }
  if (causes.empty()) return absl::OkStatus();
  return apierrors::NewInvalid("meta.k8s.io", "PatchOptions", "", causes);
}

absl::Status RecordManagedUpdate(const api::ResourceType& type, const Json* old, Json& obj,
                                 const std::string& manager, const std::string& subresource,
                                 const std::string& now) {
  const schema::Schema* s = schema::FindKindSchema(type.gvk.ApiVersion(), type.gvk.kind);
  return patch::RecordUpdate(old, obj, s, Options(type, manager, subresource, now));
}

absl::StatusOr<Json> ServerSideApply(const api::ResourceType& type, const Json* live,
                                     const Json& config, const std::string& manager, bool force,
                                     const std::string& subresource, const std::string& now) {
  const schema::Schema* s = schema::FindKindSchema(type.gvk.ApiVersion(), type.gvk.kind);
  return patch::Apply(live, config, s, Options(type, manager, subresource, now), force);
}

}  // namespace korral::apiserver
