// korral/apiserver/managedfields.h: the apiserver side of managedFields and server-side apply.
//
// Glue between the generic store / PATCH handler and korral::patch's field-manager engine: it
// picks the kind's schema, the fields the write's subresource resets (status on the main
// resource of kinds with a status subresource; everything but status on /status) and the
// manager name (?fieldManager=, or upstream's default from the User-Agent).
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/resource.h"

namespace korral::apiserver {

// ?fieldManager= when given, else upstream's prefix of the User-Agent ("kubectl").
std::string FieldManagerName(std::string_view field_manager_param, std::string_view user_agent);

// 422 for a fieldManager longer than 128 characters or with non-printable characters, and for
// apply requests without one; `force` only on apply (as upstream's ValidatePatchOptions).
absl::Status ValidateFieldManager(std::string_view field_manager_param, bool apply, bool force);

// Records an Update by `manager` from `old` (nullptr on create) to `obj` in obj's managedFields.
absl::Status RecordManagedUpdate(const api::ResourceType& type, const nlohmann::json* old,
                                 nlohmann::json& obj, const std::string& manager,
                                 const std::string& subresource, const std::string& now);

// Server-side apply of `config` (the apply patch) by `manager` onto `live` (nullptr: create).
absl::StatusOr<nlohmann::json> ServerSideApply(
    const api::ResourceType& type, const nlohmann::json* live, const nlohmann::json& config,
    const std::string& manager, bool force, const std::string& subresource, const std::string& now);

}  // namespace korral::apiserver
