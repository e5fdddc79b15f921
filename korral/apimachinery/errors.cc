#include "korral/apimachinery/errors.h"

#include <fmt/format.h>

#include "absl/strings/cord.h"

namespace korral::apierrors {
namespace {

constexpr char kPayloadUrl[] = "type.korral.dev/k8s.io.apimachinery.pkg.apis.meta.v1.Status";

// Builds an absl::Status whose payload is the Kubernetes Status object.
absl::Status Make(absl::StatusCode code, int http, std::string_view reason,
                  std::string_view message, Json details = nullptr) {
  Json s = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", Json::object()},
            {"status", "Failure"}, {"message", message}, {"reason", reason},
            {"code", http}};
  if (!details.is_null()) s["details"] = std::move(details);
  absl::Status st(code, absl::string_view(message.data(), message.size()));
  st.SetPayload(kPayloadUrl, absl::Cord(s.dump()));
  return st;
}

// "pods" -> {group "", kind "pods"}; "deployments.apps" -> {group "apps", kind "deployments"}.
Json Details(std::string_view qualified_resource, std::string_view name) {
  Json d = Json::object();
  if (!name.empty()) d["name"] = name;
  auto dot = qualified_resource.find('.');
  if (dot == std::string_view::npos) {
    d["kind"] = qualified_resource;
  } else {
    d["group"] = qualified_resource.substr(dot + 1);
    d["kind"] = qualified_resource.substr(0, dot);
  }
  return d;
}

}  // namespace

absl::Status NewNotFound(std::string_view qr, std::string_view name) {
  return Make(absl::StatusCode::kNotFound, 404, "NotFound",
              fmt::format("{} \"{}\" not found", qr, name), Details(qr, name));
}

absl::Status NewAlreadyExists(std::string_view qr, std::string_view name) {
  return Make(absl::StatusCode::kAlreadyExists, 409, "AlreadyExists",
              fmt::format("{} \"{}\" already exists", qr, name), Details(qr, name));
}

absl::Status NewConflict(std::string_view qr, std::string_view name, std::string_view message) {
  return Make(absl::StatusCode::kAborted, 409, "Conflict",
              fmt::format("Operation cannot be fulfilled on {} \"{}\": {}", qr, name, message),
              Details(qr, name));
}

absl::Status NewInvalid(std::string_view group, std::string_view kind, std::string_view name,
                        const std::vector<Cause>& causes) {
  Json jc = Json::array();
  std::string msg;
  for (size_t i = 0; i < causes.size(); ++i) {
    const Cause& c = causes[i];
    jc.push_back({{"reason", c.type}, {"message", c.message}, {"field", c.field}});
    if (i > 0) msg += ", ";
    msg += c.field.empty() ? c.message : c.field + ": " + c.message;
  }
  std::string message;
  if (causes.size() == 1) {
    message = fmt::format("{} \"{}\" is invalid: {}", kind, name, msg);
  } else {
    message = fmt::format("{} \"{}\" is invalid: [{}]", kind, name, msg);
  }
  Json d = {{"name", name}, {"kind", kind}, {"causes", jc}};
  if (!group.empty()) d["group"] = group;
  return Make(absl::StatusCode::kInvalidArgument, 422, "Invalid", message, std::move(d));
}

absl::Status NewBadRequest(std::string_view message) {
  return Make(absl::StatusCode::kInvalidArgument, 400, "BadRequest", message);
}

absl::Status NewUnauthorized(std::string_view message) {
  return Make(absl::StatusCode::kUnauthenticated, 401, "Unauthorized", message);
}

absl::Status NewForbidden(std::string_view qr, std::string_view name, std::string_view message) {
  // Non-resource requests (no resource) read "forbidden: ..." as upstream prints them.
  std::string m = qr.empty()     ? fmt::format("forbidden: {}", message)
                  : name.empty() ? fmt::format("{} is forbidden: {}", qr, message)
                                 : fmt::format("{} \"{}\" is forbidden: {}", qr, name, message);
  return Make(absl::StatusCode::kPermissionDenied, 403, "Forbidden", m, Details(qr, name));
}

absl::Status NewMethodNotSupported(std::string_view qr, std::string_view verb) {
  return Make(absl::StatusCode::kUnimplemented, 405, "MethodNotAllowed",
              fmt::format("{} is not supported on resources of kind \"{}\"", verb, qr),
              Details(qr, ""));
}

absl::Status NewResourceExpired(std::string_view message) {
  return Make(absl::StatusCode::kOutOfRange, 410, "Expired", message);
}

absl::Status NewGone(std::string_view message) {
  return Make(absl::StatusCode::kOutOfRange, 410, "Gone", message);
}

absl::Status NewRequestEntityTooLarge(std::string_view message) {
  return Make(absl::StatusCode::kResourceExhausted, 413, "RequestEntityTooLarge",
              fmt::format("Request entity too large: {}", message));
}

absl::Status NewUnsupportedMediaType(std::string_view content_type) {
  return Make(absl::StatusCode::kInvalidArgument, 415, "UnsupportedMediaType",
              fmt::format("the body of the request was in an unknown format - accepted media types "
                          "include: application/json, application/yaml, "
                          "application/vnd.kubernetes.protobuf (got \"{}\")",
                          content_type));
}

absl::Status NewNotAcceptable(std::string_view message) {
  return Make(absl::StatusCode::kInvalidArgument, 406, "NotAcceptable", message);
}

absl::Status NewTooManyRequests(std::string_view message, int retry_after_seconds) {
  Json d = {{"retryAfterSeconds", retry_after_seconds}};
  return Make(absl::StatusCode::kResourceExhausted, 429, "TooManyRequests", message, d);
}

absl::Status NewTimeout(std::string_view message) {
  return Make(absl::StatusCode::kDeadlineExceeded, 504, "Timeout", message);
}

absl::Status NewInternalError(std::string_view message) {
  return Make(absl::StatusCode::kInternal, 500, "InternalError",
              fmt::format("Internal error occurred: {}", message));
}

absl::Status FromStatusObject(absl::StatusCode code, const Json& status) {
  std::string message = status.value("message", "");
  absl::Status st(code, absl::string_view(message));
  st.SetPayload(kPayloadUrl, absl::Cord(status.dump()));
  return st;
}

absl::Status NewServiceUnavailable(std::string_view message) {
  return Make(absl::StatusCode::kUnavailable, 503, "ServiceUnavailable", message);
}

absl::Status NewNotFoundPath() {
  return Make(absl::StatusCode::kNotFound, 404, "NotFound",
              "the server could not find the requested resource", Json::object());
}

Json ToStatusObject(const absl::Status& status) {
  if (status.ok()) {
    return {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", Json::object()},
            {"status", "Success"},
            {"code", 200}};
  }
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    Json j = Json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) return j;
  }
  int code = HttpCode(status);
  std::string reason = Reason(status);
  Json s = {{"kind", "Status"},
            {"apiVersion", "v1"},
            {"metadata", Json::object()},
            {"status", "Failure"},
            {"message", std::string(status.message())},
            {"code", code}};
  if (!reason.empty()) s["reason"] = reason;
  return s;
}

int HttpCode(const absl::Status& status) {
  if (status.ok()) return 200;
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    Json j = Json::parse(std::string(*payload), nullptr, false);
    if (j.is_object() && j["code"].is_number_integer()) return j["code"].get<int>();
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
      return 409;
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return 409;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kOutOfRange:
      return 410;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 405;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    case absl::StatusCode::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

std::string Reason(const absl::Status& status) {
  if (status.ok()) return "";
  if (auto payload = status.GetPayload(kPayloadUrl)) {
    Json j = Json::parse(std::string(*payload), nullptr, false);
    if (j.is_object() && j["reason"].is_string()) return j["reason"].get<std::string>();
  }
  switch (status.code()) {
    case absl::StatusCode::kNotFound:
      return "NotFound";
    case absl::StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kFailedPrecondition:
      return "Conflict";
    case absl::StatusCode::kInvalidArgument:
      return "BadRequest";
    case absl::StatusCode::kOutOfRange:
      return "Expired";
    case absl::StatusCode::kUnauthenticated:
      return "Unauthorized";
    case absl::StatusCode::kPermissionDenied:
      return "Forbidden";
    case absl::StatusCode::kResourceExhausted:
      return "TooManyRequests";
    case absl::StatusCode::kUnimplemented:
      return "MethodNotAllowed";
    case absl::StatusCode::kDeadlineExceeded:
      return "Timeout";
    case absl::StatusCode::kUnavailable:
      return "ServiceUnavailable";
    default:
      return "InternalError";
  }
}

bool IsNotFound(const absl::Status& status) { return Reason(status) == "NotFound"; }
bool IsAlreadyExists(const absl::Status& status) { return Reason(status) == "AlreadyExists"; }
bool IsConflict(const absl::Status& status) { return Reason(status) == "Conflict"; }

}  // namespace korral::apierrors
