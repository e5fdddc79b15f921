// korral/apiserver/http/request.cc: Request accessors and socket-less request parsing.
#include <algorithm>
#include <cstdint>
#include <limits>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ssl/error.hpp>

#include "korral/apiserver/http/internal/beast_request.h"
#include "korral/apiserver/http/internal/request_parsing.h"
#include "korral/apiserver/http/server.h"

namespace korral::http {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string_view Request::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

std::optional<std::string_view> Request::Query(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::vector<std::string_view> Request::QueryAll(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& [k, v] : query) {
    if (k == name) out.emplace_back(v);
  }
  return out;
}

namespace internal {

std::optional<std::string> PercentDecode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return std::nullopt;
      int hi = HexValue(in[i + 1]);
      int lo = HexValue(in[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

HeaderList ParseQuery(std::string_view raw) {
  HeaderList out;
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view() : raw.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    std::optional<std::string> k = PercentDecode(key, true);
    std::optional<std::string> v = PercentDecode(value, true);
    if (!k || !v) continue;
    out.emplace_back(std::move(*k), std::move(*v));
  }
  return out;
}

absl::Status ParseTarget(std::string_view target, Request* request) {
  if (target == "*") {
    request->path = "*";
    return absl::OkStatus();
  }
  if (target.empty()) return absl::InvalidArgumentError("empty request target");
  if (target.front() != '/') {
    // Absolute form: scheme "://" authority path.
    size_t scheme_end = target.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0)
      return absl::InvalidArgumentError("malformed request target");
    std::string_view rest = target.substr(scheme_end + 3);
    size_t path_start = rest.find_first_of("/?");
    target = path_start == std::string_view::npos ? std::string_view("/") : rest.substr(path_start);
  }
  size_t hash = target.find('#');
  if (hash != std::string_view::npos) target = target.substr(0, hash);
  size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (raw_path.empty()) raw_path = "/";
  std::optional<std::string> path = PercentDecode(raw_path, false);
  if (!path) return absl::InvalidArgumentError("malformed escape in request path");
  request->path = std::move(*path);
  request->query.clear();
  if (q != std::string_view::npos) request->query = ParseQuery(target.substr(q + 1));
  return absl::OkStatus();
}

void ConfigureParser(BeastParser& parser, size_t max_body_bytes, size_t max_header_bytes) {
  parser.header_limit(static_cast<std::uint32_t>(
      std::min<size_t>(max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser.body_limit(max_body_bytes);
}

absl::Status ClassifyReadError(const boost::system::error_code& ec) {
  namespace bh = boost::beast::http;
  if (ec == bh::error::body_limit) return absl::OutOfRangeError("request body too large");
  if (ec == bh::error::header_limit || ec == bh::error::buffer_overflow)
    return absl::ResourceExhaustedError("request headers too large");
  if (ec == bh::error::end_of_stream || ec == bh::error::partial_message ||
      ec == bh::error::need_more)
    return absl::UnavailableError("connection closed");
  if (ec.category() == bh::make_error_code(bh::error::bad_method).category())
    return absl::InvalidArgumentError(ec.message());
  return absl::UnavailableError(ec.message());
}

absl::Status BuildRequest(BeastRequest&& message, Request* out) {
  out->method = std::string(message.method_string());
  out->target = std::string(message.target());
  absl::Status st = ParseTarget(out->target, out);
  if (!st.ok()) return st;
  out->headers.clear();
  for (const auto& field : message) {
    out->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  out->body = std::move(message.body());
  return absl::OkStatus();
}

absl::StatusOr<Request> ParseRequestBytes(std::string_view data, size_t max_body_bytes,
                                          size_t max_header_bytes) {
  BeastParser parser;
  ConfigureParser(parser, max_body_bytes, max_header_bytes);
  parser.eager(true);
  boost::system::error_code ec;
  size_t offset = 0;
  while (!parser.is_done() && offset < data.size()) {
    size_t used = parser.put(boost::asio::buffer(data.data() + offset, data.size() - offset), ec);
    offset += used;
    if (ec == boost::beast::http::error::need_more) {
      ec = {};
      break;
    }
    if (ec) break;
    if (used == 0) break;
  }
  // put_eof requires that the parser saw some input (a Beast precondition).
  if (!ec && !parser.is_done() && parser.got_some()) parser.put_eof(ec);
  if (ec) return ClassifyReadError(ec);
  if (!parser.is_done()) return absl::UnavailableError("incomplete request");
  Request request;
  absl::Status st = BuildRequest(parser.release(), &request);
  if (!st.ok()) return st;
  return request;
}

int HttpStatusFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
      return 400;
    case absl::StatusCode::kOutOfRange:
      return 413;
    case absl::StatusCode::kResourceExhausted:
      return 431;
    default:
      return 0;
  }
}

}  // namespace internal
}  // namespace korral::http
