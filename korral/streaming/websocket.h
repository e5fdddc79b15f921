// korral/streaming/websocket.h: RFC 6455 WebSocket: the opening handshake (server side), a
// frame codec, and a blocking message-level connection over http::Conn.
//
// Used by the kubelet server for exec/attach (channel.k8s.io protocols) and for the
// port-forward tunnel (SPDY/3.1+portforward.k8s.io). The codec is sans-I/O and fuzzable.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/conn.h"
#include "korral/apiserver/http/server.h"

namespace korral::streaming::ws {

enum class Opcode : uint8_t {
  kContinuation = 0,
  kText = 1,
  kBinary = 2,
  kClose = 8,
  kPing = 9,
  kPong = 10,
};

// Close codes used here.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseTooBig = 1009;

struct Frame {
  bool fin = true;
  Opcode opcode = Opcode::kBinary;
  std::string payload;  // unmasked
};

// Incremental frame parser. Not thread-safe.
class FrameParser {
 public:
  // `expect_masked`: a server requires masked frames from clients (RFC 6455 5.1) and a client
  // requires unmasked ones. Frames with payloads over `max_payload` are an error.
  FrameParser(bool expect_masked, size_t max_payload)
      : expect_masked_(expect_masked), max_payload_(max_payload) {}
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete frame; nullopt if more bytes are needed; InvalidArgument for a protocol
  // violation (reserved bits, unknown opcode, bad masking, fragmented or oversized control
  // frame, payload too large). After an error the parser must not be used again.
  absl::StatusOr<std::optional<Frame>> Next();

 private:
  const bool expect_masked_;
  const size_t max_payload_;
  std::string buffer_;
  size_t offset_ = 0;
};

// One frame on the wire. `mask` (4 bytes) masks the payload (client frames); null: unmasked.
std::string EncodeFrame(Opcode opcode, std::string_view payload, bool fin = true,
                        const uint8_t* mask = nullptr);

// base64(SHA-1(key + RFC 6455 GUID)).
std::string AcceptKey(std::string_view client_key);

// True for a GET with "Connection: upgrade" and "Upgrade: websocket".
bool IsWebSocketRequest(const http::Request& request);

// The subprotocols the client offered (Sec-WebSocket-Protocol, comma separated, in order).
std::vector<std::string> OfferedProtocols(const http::Request& request);

// Validates an opening handshake and picks the first of `supported` (in server preference
// order) that the client offered. On success fills `response` with the 101 answer (headers;
// `upgrade` left for the caller) and returns the chosen protocol. Errors are BadRequest-style
// InvalidArgument statuses ("websocket: unsupported protocol ..." etc.).
absl::StatusOr<std::string> AcceptHandshake(const http::Request& request,
                                            const std::vector<std::string>& supported,
                                            http::Response* response);

// A message-level WebSocket over a Conn (server role: sends unmasked frames, requires masked
// ones; client role the reverse). One thread reads (Read) while others write (Write/Close are
// serialized internally).
class WebSocket {
 public:
  struct Message {
    Opcode opcode = Opcode::kBinary;  // kText or kBinary
    std::string data;
  };

  WebSocket(http::ConnPtr conn, bool server, size_t max_message = 16 * 1024 * 1024);
  ~WebSocket();

  // The next data message (fragments reassembled; pings answered). nullopt once the peer sent a
  // close frame (answered) or closed the connection; an error on a protocol violation (the
  // connection is then closed with 1002) or a transport failure.
  absl::StatusOr<std::optional<Message>> Read();
  // Sends one data message. Fails once the connection closed.
  absl::Status Write(Opcode opcode, std::string_view data);
  // Sends a close frame (once) with code and reason.
  absl::Status SendClose(uint16_t code, std::string_view reason);
  // Closes the transport.
  void Close();
  // Code from the peer's close frame (0 if none yet / no code).
  uint16_t peer_close_code() const { return peer_close_code_; }

 private:
  absl::Status WriteFrame(Opcode opcode, std::string_view payload);

  http::ConnPtr conn_;
  const bool server_;
  FrameParser parser_;
  const size_t max_message_;
  std::mutex write_mu_;
  bool close_sent_ = false;  // guarded by write_mu_
  uint16_t peer_close_code_ = 0;
  uint32_t mask_state_;
};

// A byte stream carried in binary WebSocket messages (message boundaries mean nothing), as
// kubectl's SPDY-over-WebSocket port-forward tunnel uses.
class WebSocketStream : public http::Conn {
 public:
  explicit WebSocketStream(std::unique_ptr<WebSocket> ws) : ws_(std::move(ws)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override;
  absl::Status Write(std::string_view data) override;
  void Close() override;

 private:
  std::unique_ptr<WebSocket> ws_;
  std::string pending_;
  size_t offset_ = 0;
};

}  // namespace korral::streaming::ws
