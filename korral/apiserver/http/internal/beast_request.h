// korral/apiserver/http/internal/beast_request.h: the Beast side of request parsing, shared by
// the connection code and ParseRequestBytes. Includes Beast: only for .cc files of this library.
#pragma once

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "absl/status/status.h"
#include "korral/apiserver/http/server.h"

namespace korral::http::internal {

using BeastParser = boost::beast::http::request_parser<boost::beast::http::string_body>;
using BeastRequest = boost::beast::http::request<boost::beast::http::string_body>;

// Applies the header and body limits.
void ConfigureParser(BeastParser& parser, size_t max_body_bytes, size_t max_header_bytes);

// Maps a read/parse error to a status (codes as in request_parsing.h); Unavailable for errors
// that are not the client's protocol fault (EOF, reset, TLS truncation, cancellation).
absl::Status ClassifyReadError(const boost::system::error_code& ec);

// Moves a parsed message into `out` (method, target, path, query, headers, body).
// InvalidArgument if the target is unusable.
absl::Status BuildRequest(BeastRequest&& message, Request* out);

}  // namespace korral::http::internal
