// korral/streaming/spdy.h: SPDY/3.1 as Kubernetes streams use it (moby/spdystream's subset):
// a frame codec with zlib-compressed header blocks (one deflate and one inflate context per
// connection direction, primed with the SPDY/3 dictionary), and a blocking multi-stream
// session over http::Conn for both roles.
//
// Flow control (WINDOW_UPDATE) is parsed and ignored, as spdystream does; SETTINGS likewise.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/conn.h"

struct z_stream_s;

namespace korral::streaming::spdy {

enum class FrameType : uint16_t {
  kData = 0,  // not a control type: marks data frames in Frame
  kSynStream = 1,
  kSynReply = 2,
  kRstStream = 3,
  kSettings = 4,
  kPing = 6,
  kGoAway = 7,
  kHeaders = 8,
  kWindowUpdate = 9,
};

inline constexpr uint8_t kFlagFin = 0x01;
inline constexpr uint8_t kFlagUnidirectional = 0x02;

// RST_STREAM status codes.
inline constexpr uint32_t kProtocolError = 1;
inline constexpr uint32_t kInvalidStream = 2;
inline constexpr uint32_t kRefusedStream = 3;
inline constexpr uint32_t kCancel = 5;
inline constexpr uint32_t kInternalError = 6;

// Header names are lowercase; a name may repeat.
using Headers = std::vector<std::pair<std::string, std::string>>;
std::string HeaderValue(const Headers& headers, std::string_view name);

struct Frame {
  FrameType type = FrameType::kData;
  uint8_t flags = 0;
  uint32_t stream_id = 0;      // data, SYN_STREAM, SYN_REPLY, RST_STREAM, HEADERS, WINDOW_UPDATE
  uint32_t associated_id = 0;  // SYN_STREAM
  uint8_t priority = 0;        // SYN_STREAM
  uint32_t value = 0;  // RST_STREAM/GOAWAY status, PING id, WINDOW_UPDATE delta, GOAWAY last id
  Headers headers;     // SYN_STREAM, SYN_REPLY, HEADERS
  std::string data;    // data frames
};

// The SPDY/3 header dictionary (1423 bytes).
const std::string& Dictionary();

// Compresses header blocks for one direction of one connection. Not thread-safe.
class HeaderCompressor {
 public:
  HeaderCompressor();
  ~HeaderCompressor();
  std::string Compress(const Headers& headers);

 private:
  z_stream_s* z_;
};

// Decompresses header blocks for one direction of one connection. Not thread-safe.
class HeaderDecompressor {
 public:
  HeaderDecompressor();
  ~HeaderDecompressor();
  // InvalidArgument on corrupt data or a malformed block; bounded in output size.
  absl::StatusOr<Headers> Decompress(std::string_view block);

 private:
  z_stream_s* z_;
};

// Incremental frame parser (decompresses header blocks). Not thread-safe.
class FrameParser {
 public:
  explicit FrameParser(size_t max_frame = 16 * 1024 * 1024) : max_frame_(max_frame) {}
  void Feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next frame; nullopt if more bytes are needed; InvalidArgument on a malformed frame
  // (wrong version, short control frame, bad header block). Unknown control types are skipped
  // (returned with their type value so callers may ignore them).
  absl::StatusOr<std::optional<Frame>> Next();

 private:
  const size_t max_frame_;
  std::string buffer_;
  size_t offset_ = 0;
  HeaderDecompressor decompressor_;
};

// Frame encoders (the compressor is the sending direction's context).
std::string EncodeSynStream(HeaderCompressor& c, uint32_t stream_id, const Headers& headers,
                            uint8_t flags);
std::string EncodeSynReply(HeaderCompressor& c, uint32_t stream_id, const Headers& headers,
                           uint8_t flags);
std::string EncodeData(uint32_t stream_id, std::string_view data, uint8_t flags);
std::string EncodeRstStream(uint32_t stream_id, uint32_t status);
std::string EncodePing(uint32_t id);
std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status);

class Session;

// One SPDY stream. Thread-safe.
class Stream {
 public:
  uint32_t id() const { return id_; }
  const Headers& headers() const { return headers_; }  // SYN_STREAM (server) / SYN_REPLY (client)

  // Reads data; 0 once the peer half-closed (FIN) and everything was read; an error if the
  // stream was reset or the session ended.
  absl::StatusOr<size_t> Read(char* buf, size_t n);
  absl::Status Write(std::string_view data);
  // Half-closes our side (empty DATA with FIN). Idempotent.
  absl::Status CloseWrite();
  // Sends RST_STREAM and ends the stream locally.
  void Reset(uint32_t status);
  // Server: answers the peer's SYN_STREAM.
  absl::Status Reply(const Headers& headers = {});
  // Client: waits for SYN_REPLY (or reset/session end).
  absl::Status WaitReply();
  bool remote_closed();

 private:
  friend class Session;
  Stream(Session* session, uint32_t id, Headers headers)
      : session_(session), id_(id), headers_(std::move(headers)) {}

  Session* session_;
  const uint32_t id_;
  Headers headers_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string inbox_;
  bool remote_fin_ = false;
  bool reset_ = false;
  bool replied_ = false;
  bool local_fin_ = false;
};

// A SPDY connection. `Run` reads frames until the connection ends, dispatching new peer
// streams to the handler (each on a fresh thread in the handler's hands: the handler is called
// on the reader thread and must not block). Thread-safe.
class Session {
 public:
  Session(http::ConnPtr conn, bool server);
  ~Session();

  using StreamHandler = std::function<void(std::shared_ptr<Stream>)>;
  // Blocks until the connection ends or fails; returns why (OK for a clean end/GOAWAY).
  absl::Status Run(StreamHandler on_new_stream);
  // Client: opens a stream (SYN_STREAM).
  absl::StatusOr<std::shared_ptr<Stream>> Open(const Headers& headers, uint8_t flags = 0);
  // Ends every stream and the connection.
  void Close();

 private:
  friend class Stream;
  absl::Status Send(const std::string& bytes);
  absl::Status SendControl(const std::function<std::string(HeaderCompressor&)>& encode);
  void EndAll();

  http::ConnPtr conn_;
  const bool server_;
  std::mutex write_mu_;
  HeaderCompressor compressor_;  // guarded by write_mu_
  std::mutex mu_;
  std::map<uint32_t, std::shared_ptr<Stream>> streams_;
  uint32_t next_id_;
  bool ended_ = false;
};

}  // namespace korral::streaming::spdy
