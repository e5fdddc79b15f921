// korral/streaming/websocket.cc: see websocket.h.
#include "korral/streaming/websocket.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <cctype>
#include <cstring>
#include <random>

#include "korral/base/status.h"

namespace korral::streaming::ws {
namespace {

bool IsControl(Opcode op) { return static_cast<uint8_t>(op) >= 8; }

bool KnownOpcode(uint8_t op) { return op <= 2 || (op >= 8 && op <= 10); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

std::vector<std::string_view> SplitComma(std::string_view s) {
  std::vector<std::string_view> out;
  while (true) {
    size_t c = s.find(',');
    out.push_back(Trim(s.substr(0, c)));
    if (c == std::string_view::npos) break;
    s.remove_prefix(c + 1);
  }
  return out;
}

bool HeaderHasToken(std::string_view value, std::string_view token) {
  for (std::string_view part : SplitComma(value)) {
    if (EqualsIgnoreCase(part, token)) return true;
  }
  return false;
}

std::string Base64(const unsigned char* data, size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  int k = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(n));
  out.resize(static_cast<size_t>(k));
  return out;
}

}  // namespace

absl::StatusOr<std::optional<Frame>> FrameParser::Next() {
  std::string_view b(buffer_);
  b.remove_prefix(offset_);
  if (b.size() < 2) return std::nullopt;
  uint8_t b0 = static_cast<uint8_t>(b[0]);
  uint8_t b1 = static_cast<uint8_t>(b[1]);
  if (b0 & 0x70) return absl::InvalidArgumentError("websocket: reserved bits set");
  uint8_t op = b0 & 0x0f;
  if (!KnownOpcode(op)) {
    return absl::InvalidArgumentError("websocket: unknown opcode " + std::to_string(op));
  }
  Frame f;
  f.fin = (b0 & 0x80) != 0;
  f.opcode = static_cast<Opcode>(op);
  bool masked = (b1 & 0x80) != 0;
  if (masked != expect_masked_) {
    return absl::InvalidArgumentError(expect_masked_ ? "websocket: client frame is not masked"
                                                     : "websocket: server frame is masked");
  }
  uint64_t len = b1 & 0x7f;
  size_t pos = 2;
  if (len == 126) {
    if (b.size() < 4) return std::nullopt;
    len = (uint64_t{static_cast<uint8_t>(b[2])} << 8) | static_cast<uint8_t>(b[3]);
    pos = 4;
  } else if (len == 127) {
    if (b.size() < 10) return std::nullopt;
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | static_cast<uint8_t>(b[2 + i]);
    if (len >> 63) return absl::InvalidArgumentError("websocket: invalid payload length");
    pos = 10;
  }
  if (IsControl(f.opcode)) {
    if (!f.fin) return absl::InvalidArgumentError("websocket: fragmented control frame");
    if (len > 125) return absl::InvalidArgumentError("websocket: control frame too long");
  }
  if (len > max_payload_) {
    return absl::ResourceExhaustedError("websocket: frame of " + std::to_string(len) +
                                        " bytes exceeds the limit of " +
                                        std::to_string(max_payload_));
  }
  uint8_t mask[4] = {0, 0, 0, 0};
  if (masked) {
    if (b.size() < pos + 4) return std::nullopt;
    std::memcpy(mask, b.data() + pos, 4);
    pos += 4;
  }
  if (b.size() < pos + len) return std::nullopt;
  f.payload.assign(b.data() + pos, static_cast<size_t>(len));
  if (masked) {
    for (size_t i = 0; i < f.payload.size(); ++i) f.payload[i] ^= static_cast<char>(mask[i & 3]);
  }
  offset_ += pos + static_cast<size_t>(len);
  if (offset_ > 64 * 1024 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return f;
}

std::string EncodeFrame(Opcode opcode, std::string_view payload, bool fin, const uint8_t* mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out.push_back(static_cast<char>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode)));
  uint8_t mbit = mask ? 0x80 : 0;
  if (payload.size() < 126) {
    out.push_back(static_cast<char>(mbit | payload.size()));
  } else if (payload.size() <= 0xffff) {
    out.push_back(static_cast<char>(mbit | 126));
    out.push_back(static_cast<char>(payload.size() >> 8));
    out.push_back(static_cast<char>(payload.size() & 0xff));
  } else {
    out.push_back(static_cast<char>(mbit | 127));
    uint64_t n = payload.size();
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  }
  if (mask) {
    out.append(reinterpret_cast<const char*>(mask), 4);
    size_t start = out.size();
    out.append(payload);
    for (size_t i = 0; i < payload.size(); ++i) out[start + i] ^= static_cast<char>(mask[i & 3]);
  } else {
    out.append(payload);
  }
  return out;
}

std::string AcceptKey(std::string_view client_key) {
  std::string s(client_key);
  s += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(s.data()), s.size(), digest);
  return Base64(digest, sizeof digest);
}

bool IsWebSocketRequest(const http::Request& request) {
  return request.method == "GET" && HeaderHasToken(request.Header("Connection"), "upgrade") &&
         EqualsIgnoreCase(Trim(request.Header("Upgrade")), "websocket");
}

std::vector<std::string> OfferedProtocols(const http::Request& request) {
  std::vector<std::string> out;
  for (const auto& [name, value] : request.headers) {
    if (!EqualsIgnoreCase(name, "Sec-WebSocket-Protocol")) continue;
    for (std::string_view part : SplitComma(value)) {
      if (!part.empty()) out.emplace_back(part);
    }
  }
  return out;
}

absl::StatusOr<std::string> AcceptHandshake(const http::Request& request,
                                            const std::vector<std::string>& supported,
                                            http::Response* response) {
  if (!IsWebSocketRequest(request)) {
    return absl::InvalidArgumentError("websocket: not a websocket upgrade request");
  }
  if (Trim(request.Header("Sec-WebSocket-Version")) != "13") {
    return absl::InvalidArgumentError("websocket: unsupported Sec-WebSocket-Version (want 13)");
  }
  std::string_view key = Trim(request.Header("Sec-WebSocket-Key"));
  if (key.size() != 24) return absl::InvalidArgumentError("websocket: invalid Sec-WebSocket-Key");
  std::vector<std::string> offered = OfferedProtocols(request);
  std::string chosen;
  for (const std::string& s : supported) {
    for (const std::string& o : offered) {
      if (o == s) {
        chosen = s;
        break;
      }
    }
    if (!chosen.empty()) break;
  }
  if (chosen.empty()) {
    std::string list;
    for (const std::string& o : offered) list += (list.empty() ? "" : ", ") + o;
    std::string want;
    for (const std::string& s : supported) want += (want.empty() ? "" : ", ") + s;
    return absl::InvalidArgumentError(
        "unable to upgrade connection: websocket: none of the offered subprotocols [" + list +
        "] is supported (supported: " + want + ")");
  }
  response->status = 101;
  response->content_type.clear();
  response->body.clear();
  response->headers = {{"Upgrade", "websocket"},
                       {"Connection", "Upgrade"},
                       {"Sec-WebSocket-Accept", AcceptKey(key)},
                       {"Sec-WebSocket-Protocol", chosen}};
  return chosen;
}

WebSocket::WebSocket(http::ConnPtr conn, bool server, size_t max_message)
    : conn_(std::move(conn)),
      server_(server),
      parser_(/*expect_masked=*/server, max_message),
      max_message_(max_message),
      mask_state_(std::random_device{}()) {}

WebSocket::~WebSocket() { Close(); }

absl::Status WebSocket::WriteFrame(Opcode opcode, std::string_view payload) {
  uint8_t mask[4];
  const uint8_t* m = nullptr;
  if (!server_) {
    mask_state_ = mask_state_ * 1664525u + 1013904223u;
    std::memcpy(mask, &mask_state_, 4);
    m = mask;
  }
  return conn_->Write(EncodeFrame(opcode, payload, true, m));
}

absl::Status WebSocket::Write(Opcode opcode, std::string_view data) {
  std::lock_guard lock(write_mu_);
  if (close_sent_) return absl::UnavailableError("websocket: closed");
  return WriteFrame(opcode, data);
}

absl::Status WebSocket::SendClose(uint16_t code, std::string_view reason) {
  std::lock_guard lock(write_mu_);
  if (close_sent_) return absl::OkStatus();
  close_sent_ = true;
  std::string payload;
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xff));
  payload.append(reason.substr(0, 123));
  return WriteFrame(Opcode::kClose, payload);
}

void WebSocket::Close() { conn_->Close(); }

absl::StatusOr<std::optional<WebSocket::Message>> WebSocket::Read() {
  std::optional<Message> partial;
  char buf[16 * 1024];
  while (true) {
    auto next = parser_.Next();
    if (!next.ok()) {
      uint16_t code = absl::IsResourceExhausted(next.status()) ? kCloseTooBig : kCloseProtocolError;
      (void)SendClose(code, StatusMessage(next.status()));
      Close();
      return next.status();
    }
    if (!next->has_value()) {
      auto n = conn_->Read(buf, sizeof buf);
      if (!n.ok()) return n.status();
      if (*n == 0) return std::nullopt;
      parser_.Feed(std::string_view(buf, *n));
      continue;
    }
    Frame f = std::move(**next);
    switch (f.opcode) {
      case Opcode::kPing: {
        std::lock_guard lock(write_mu_);
        if (!close_sent_) (void)WriteFrame(Opcode::kPong, f.payload);
        continue;
      }
      case Opcode::kPong:
        continue;
      case Opcode::kClose: {
        if (f.payload.size() >= 2) {
          peer_close_code_ = static_cast<uint16_t>((static_cast<uint8_t>(f.payload[0]) << 8) |
                                                   static_cast<uint8_t>(f.payload[1]));
        }
        (void)SendClose(kCloseNormal, "");
        return std::nullopt;
      }
      case Opcode::kContinuation:
        if (!partial) {
          (void)SendClose(kCloseProtocolError, "unexpected continuation frame");
          Close();
          return absl::InvalidArgumentError("websocket: unexpected continuation frame");
        }
        break;
      default:
        if (partial) {
          (void)SendClose(kCloseProtocolError, "expected continuation frame");
          Close();
          return absl::InvalidArgumentError("websocket: expected a continuation frame");
        }
        partial.emplace();
        partial->opcode = f.opcode;
        break;
    }
    if (partial->data.size() + f.payload.size() > max_message_) {
      (void)SendClose(kCloseTooBig, "message too big");
      Close();
      return absl::ResourceExhaustedError("websocket: message too big");
    }
    partial->data.append(f.payload);
    if (f.fin) return partial;
  }
}

absl::StatusOr<size_t> WebSocketStream::Read(char* buf, size_t n) {
  while (offset_ >= pending_.size()) {
    auto msg = ws_->Read();
    if (!msg.ok()) return msg.status();
    if (!msg->has_value()) return size_t{0};
    pending_ = std::move((*msg)->data);
    offset_ = 0;
  }
  size_t k = std::min(n, pending_.size() - offset_);
  std::memcpy(buf, pending_.data() + offset_, k);
  offset_ += k;
  return k;
}

absl::Status WebSocketStream::Write(std::string_view data) {
  return ws_->Write(Opcode::kBinary, data);
}

void WebSocketStream::Close() {
  (void)ws_->SendClose(kCloseNormal, "");
  ws_->Close();
}

}  // namespace korral::streaming::ws
