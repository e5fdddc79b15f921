#include "korral/client/errors.h"

#include <nlohmann/json.hpp>

#include "absl/strings/cord.h"

namespace korral::client {
namespace {

std::string_view ReasonForCode(int http_code) {
  switch (http_code) {
    case 400:
      return "BadRequest";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "NotFound";
    case 405:
      return "MethodNotAllowed";
    case 406:
      return "NotAcceptable";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "RequestEntityTooLarge";
    case 415:
      return "UnsupportedMediaType";
    case 422:
      return "Invalid";
    case 429:
      return "TooManyRequests";
    case 500:
      return "InternalError";
    case 503:
      return "ServiceUnavailable";
    case 504:
      return "Timeout";
    default:
      return "";
  }
}

int HttpCodeForAbsl(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return 200;
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kUnauthenticated:
      return 401;
    case absl::StatusCode::kPermissionDenied:
      return 403;
    case absl::StatusCode::kNotFound:
      return 404;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kAborted:
      return 409;
    case absl::StatusCode::kOutOfRange:
      return 410;
    case absl::StatusCode::kResourceExhausted:
      return 429;
    case absl::StatusCode::kUnimplemented:
      return 405;
    case absl::StatusCode::kUnavailable:
      return 503;
    case absl::StatusCode::kDeadlineExceeded:
      return 504;
    default:
      return 500;
  }
}

std::string ReasonForAbsl(absl::StatusCode code) {
  switch (code) {
    case absl::StatusCode::kOk:
      return "";
    case absl::StatusCode::kAlreadyExists:
      return "AlreadyExists";
    case absl::StatusCode::kAborted:
      return "Conflict";
    case absl::StatusCode::kOutOfRange:
      return "Expired";
    case absl::StatusCode::kUnknown:
      return "";
    default:
      return std::string(ReasonForCode(HttpCodeForAbsl(code)));
  }
}

}  // namespace

absl::StatusCode CodeForReason(std::string_view reason, int http_code) {
  if (reason == "NotFound") return absl::StatusCode::kNotFound;
  if (reason == "AlreadyExists") return absl::StatusCode::kAlreadyExists;
  if (reason == "Conflict") return absl::StatusCode::kAborted;
  if (reason == "Invalid" || reason == "BadRequest") return absl::StatusCode::kInvalidArgument;
  if (reason == "Expired" || reason == "Gone") return absl::StatusCode::kOutOfRange;
  if (reason == "Unauthorized") return absl::StatusCode::kUnauthenticated;
  if (reason == "Forbidden") return absl::StatusCode::kPermissionDenied;
  if (reason == "MethodNotAllowed") return absl::StatusCode::kUnimplemented;
  if (reason == "TooManyRequests") return absl::StatusCode::kResourceExhausted;
  if (reason == "Timeout" || reason == "ServerTimeout") return absl::StatusCode::kDeadlineExceeded;
  if (reason == "ServiceUnavailable") return absl::StatusCode::kUnavailable;
  if (reason == "InternalError") return absl::StatusCode::kInternal;
  switch (http_code) {
    case 400:
    case 406:
    case 413:
    case 415:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 405:
      return absl::StatusCode::kUnimplemented;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 503:
      return absl::StatusCode::kUnavailable;
    case 504:
      return absl::StatusCode::kDeadlineExceeded;
    default:
      return absl::StatusCode::kUnknown;
  }
}

absl::Status StatusFromStatusObject(const nlohmann::json& status_object, int http_code) {
  nlohmann::json obj = status_object.is_object() ? status_object : nlohmann::json::object();
  int code = http_code;
  if (auto it = obj.find("code"); it != obj.end() && it->is_number_integer()) {
    code = it->get<int>();
  }
  std::string reason;
  if (auto it = obj.find("reason"); it != obj.end() && it->is_string()) reason = *it;
  if (reason.empty()) reason = std::string(ReasonForCode(code));
  std::string message;
  if (auto it = obj.find("message"); it != obj.end() && it->is_string()) message = *it;
  if (message.empty()) message = reason.empty() ? "unknown error" : reason;
  obj["kind"] = "Status";
  obj["apiVersion"] = "v1";
  obj["status"] = "Failure";
  if (!obj.contains("metadata")) obj["metadata"] = nlohmann::json::object();
  obj["code"] = code;
  if (!reason.empty()) obj["reason"] = reason;
  obj["message"] = message;
  absl::StatusCode absl_code = CodeForReason(reason, code);
  if (absl_code == absl::StatusCode::kOk) absl_code = absl::StatusCode::kUnknown;
  absl::Status status(absl_code, message);
  status.SetPayload(kStatusPayloadUrl, absl::Cord(obj.dump()));
  return status;
}

absl::Status MakeApiError(int http_code, std::string_view reason, std::string_view message) {
  nlohmann::json obj = {{"code", http_code}, {"message", std::string(message)}};
  if (!reason.empty()) obj["reason"] = std::string(reason);
  return StatusFromStatusObject(obj, http_code);
}

absl::Status StatusFromResponse(int http_code, std::string_view body) {
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.value("kind", "") == "Status") {
    return StatusFromStatusObject(parsed, http_code);
  }
  std::string message(body.substr(0, 512));
  if (message.empty()) message = "the server responded with HTTP " + std::to_string(http_code);
  return MakeApiError(http_code, "", message);
}

std::optional<nlohmann::json> StatusObjectOf(const absl::Status& status) {
  auto payload = status.GetPayload(kStatusPayloadUrl);
  if (!payload) return std::nullopt;
  nlohmann::json parsed =
      nlohmann::json::parse(std::string(*payload), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  return parsed;
}

int HttpCodeOf(const absl::Status& status) {
  if (auto obj = StatusObjectOf(status)) {
    if (auto it = obj->find("code"); it != obj->end() && it->is_number_integer()) return *it;
  }
  return HttpCodeForAbsl(status.code());
}

std::string ReasonOf(const absl::Status& status) {
  if (auto obj = StatusObjectOf(status)) {
    if (auto it = obj->find("reason"); it != obj->end() && it->is_string()) return *it;
  }
  return ReasonForAbsl(status.code());
}

bool IsNotFound(const absl::Status& status) { return ReasonOf(status) == "NotFound"; }
bool IsAlreadyExists(const absl::Status& status) { return ReasonOf(status) == "AlreadyExists"; }
bool IsConflict(const absl::Status& status) { return ReasonOf(status) == "Conflict"; }
bool IsInvalid(const absl::Status& status) { return ReasonOf(status) == "Invalid"; }
bool IsResourceExpired(const absl::Status& status) {
  if (status.ok()) return false;
  std::string reason = ReasonOf(status);
  return reason == "Expired" || reason == "Gone" || HttpCodeOf(status) == 410;
}
bool IsTooManyRequests(const absl::Status& status) {
  return !status.ok() && (ReasonOf(status) == "TooManyRequests" || HttpCodeOf(status) == 429);
}

}  // namespace korral::client
