// korral/apiserver/http/internal/request_parsing.h: turning request bytes into http::Request,
// without sockets. Private to korral::http_server (and its tests and fuzz target).
//
// Status codes used for request errors, with the HTTP reply HttpStatusFor() maps them to:
//   InvalidArgument   -> 400 (malformed request line, header, framing, target or path escape)
//   OutOfRange        -> 413 (body larger than max_body_bytes)
//   ResourceExhausted -> 431 (headers larger than max_header_bytes)
//   Unavailable       -> 0   (input ended before a whole request: nothing to reply)
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "korral/apiserver/http/server.h"

namespace korral::http::internal {

// Decodes %XX escapes; with plus_as_space, '+' becomes ' '. Returns nullopt on a malformed
// escape ('%' not followed by two hex digits).
std::optional<std::string> PercentDecode(std::string_view in, bool plus_as_space);

// Splits a raw query ("a=1&b=x+y&c") on '&' and the first '=', decoding both sides
// (form-style, '+' is a space). Empty pairs and pairs with malformed escapes are skipped;
// order and repeats are kept.
HeaderList ParseQuery(std::string_view raw_query);

// Fills request->path and request->query from a request target in origin form ("/p?q"),
// absolute form ("https://host/p?q") or "*". InvalidArgument for anything else or a malformed
// escape in the path.
absl::Status ParseTarget(std::string_view target, Request* request);

// Parses one complete HTTP/1.x request from `data` with the same limits and rules a connection
// applies. Trailing bytes after the request are ignored.
absl::StatusOr<Request> ParseRequestBytes(std::string_view data, size_t max_body_bytes,
                                          size_t max_header_bytes);

// The reply code for a request-parsing status (see the table above); 0 for "just close".
int HttpStatusFor(const absl::Status& status);

}  // namespace korral::http::internal
