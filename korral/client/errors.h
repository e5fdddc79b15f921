// korral/client/errors.h: Kubernetes Status objects <-> absl::Status on the client side.
//
// The server answers failures with a meta/v1 Status object ({"kind":"Status","code":404,
// "reason":"NotFound",...}). The client turns it into an absl::Status whose code follows the
// reason (NotFound, AlreadyExists, Aborted for Conflict, InvalidArgument for Invalid/BadRequest,
// OutOfRange for Expired/Gone, ...) and attaches the whole Status JSON as a payload under
// kStatusPayloadUrl, so `ReasonOf`/`HttpCodeOf` (and korral::apierrors helpers, which use the
// same payload) see the original reason and code.
//
// Thread-safe (pure functions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/status.h"

namespace korral::client {

// The payload type URL that carries the serialized Status object; the same URL as
// korral/apimachinery/errors.cc uses, so apierrors::IsNotFound etc. work on client errors.
inline constexpr char kStatusPayloadUrl[] =
    "type.korral.dev/k8s.io.apimachinery.pkg.apis.meta.v1.Status";

// The absl code used for a Kubernetes reason (falling back to the HTTP code).
absl::StatusCode CodeForReason(std::string_view reason, int http_code);

// Builds an API error with a Status payload. `reason` may be empty (then derived from the code).
absl::Status MakeApiError(int http_code, std::string_view reason, std::string_view message);
// From a Status object (as sent in an error response body or a watch ERROR event).
absl::Status StatusFromStatusObject(const nlohmann::json& status_object, int http_code = 0);
// From an HTTP error response: parses `body` as a Status if it is one; otherwise uses the code
// and the (truncated) body text as the message.
absl::Status StatusFromResponse(int http_code, std::string_view body);

// The attached Status object, if any.
std::optional<nlohmann::json> StatusObjectOf(const absl::Status& status);
// The HTTP code (from the payload, else derived from the absl code; 200 for OK).
int HttpCodeOf(const absl::Status& status);
// The Kubernetes reason ("NotFound", "Conflict", "Expired", ...), derived from the code when
// there is no payload; "" for OK or unknown errors.
std::string ReasonOf(const absl::Status& status);

// Note: absl has IsNotFound/IsAlreadyExists too; call these qualified (client::IsNotFound) to
// avoid ADL ambiguity.
bool IsNotFound(const absl::Status& status);
bool IsAlreadyExists(const absl::Status& status);
bool IsConflict(const absl::Status& status);
bool IsInvalid(const absl::Status& status);
// 410: "Expired" or "Gone" (resource version too old; relist).
bool IsResourceExpired(const absl::Status& status);
bool IsTooManyRequests(const absl::Status& status);

}  // namespace korral::client
