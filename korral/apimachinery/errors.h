// korral/apimachinery/errors.h: Kubernetes API errors (metav1.Status) carried in absl::Status.
//
// Every library returns absl::Status. An error built here also carries the full Kubernetes
// Status object (reason, details, causes) as a payload, so the HTTP layer can answer exactly as
// kube-apiserver does (k8s.io/apimachinery/pkg/api/errors). A plain absl::Status without the
// payload is mapped by its code (NotFound -> 404 NotFound, AlreadyExists -> 409, ...).
//
// Example:
//   return apierrors::NewNotFound("pods", "web-1");       // 404 pods "web-1" not found
//   nlohmann::json s = apierrors::ToStatusObject(status);  // {"kind":"Status",...}
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"

namespace korral::apierrors {

using Json = nlohmann::json;

// metav1.StatusCause. `type` is the reason string ("FieldValueRequired", ...).
struct Cause {
  std::string type;
  std::string message;
  std::string field;
};

// `qualified_resource` is "pods" for the core group or "deployments.apps" otherwise.
absl::Status NewNotFound(std::string_view qualified_resource, std::string_view name);
absl::Status NewAlreadyExists(std::string_view qualified_resource, std::string_view name);
// 409 Conflict, e.g. "the object has been modified; please apply your changes to the latest
// version and try again".
absl::Status NewConflict(std::string_view qualified_resource, std::string_view name,
                         std::string_view message);
// 422 Invalid. `kind` is the Kind ("Pod"); the message lists every cause as kubectl prints it.
absl::Status NewInvalid(std::string_view group, std::string_view kind, std::string_view name,
                        const std::vector<Cause>& causes);
absl::Status NewBadRequest(std::string_view message);
absl::Status NewUnauthorized(std::string_view message);
absl::Status NewForbidden(std::string_view qualified_resource, std::string_view name,
                          std::string_view message);
absl::Status NewMethodNotSupported(std::string_view qualified_resource, std::string_view verb);
// 410 Expired ("too old resource version: 5 (107)").
absl::Status NewResourceExpired(std::string_view message);
absl::Status NewGone(std::string_view message);
absl::Status NewRequestEntityTooLarge(std::string_view message);
absl::Status NewUnsupportedMediaType(std::string_view content_type);
absl::Status NewNotAcceptable(std::string_view message);
absl::Status NewTooManyRequests(std::string_view message, int retry_after_seconds);
absl::Status NewTimeout(std::string_view message);
absl::Status NewInternalError(std::string_view message);
absl::Status NewServiceUnavailable(std::string_view message);
// Any Status object (kind Status, with reason, code, details) carried as an absl::Status of
// `code`; for errors no constructor above builds (apply conflicts with causes, generic 422s).
absl::Status FromStatusObject(absl::StatusCode code, const Json& status);
// A generic 404 for a path that names no resource ("the server could not find the requested
// resource").
absl::Status NewNotFoundPath();

// The Status object for any absl::Status (OK gives a Success status).
Json ToStatusObject(const absl::Status& status);
// The HTTP code for any absl::Status.
int HttpCode(const absl::Status& status);
// The Kubernetes reason ("NotFound", "Conflict", ...) or "" for an unknown error.
std::string Reason(const absl::Status& status);

bool IsNotFound(const absl::Status& status);
bool IsAlreadyExists(const absl::Status& status);
bool IsConflict(const absl::Status& status);

}  // namespace korral::apierrors
