// korral/streaming/spdy.cc: see spdy.h.
#include "korral/streaming/spdy.h"

#include <zlib.h>

#include <cstring>

#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::streaming::spdy {
namespace {

constexpr uint16_t kVersion = 3;
constexpr size_t kMaxHeaderBlock = 1024 * 1024;  // decompressed
constexpr uint32_t kMaxHeaderCount = 1024;

void PutU32(std::string& out, uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>((v >> 16) & 0xff));
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}

uint32_t GetU32(std::string_view b, size_t pos) {
  return (uint32_t{static_cast<uint8_t>(b[pos])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[pos + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[pos + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(b[pos + 3])};
}

std::string ControlFrame(FrameType type, uint8_t flags, std::string_view payload) {
  std::string out;
  out.reserve(8 + payload.size());
  out.push_back(static_cast<char>(0x80 | (kVersion >> 8)));
  out.push_back(static_cast<char>(kVersion & 0xff));
  out.push_back(0);
  out.push_back(static_cast<char>(static_cast<uint16_t>(type)));
  PutU32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

std::string BuildDictionary() {
  // The SPDY/3 draft's dictionary: these words, each preceded by its 32-bit big-endian length,
  // then a run of common values without lengths.
  static const char* const kWords[] = {"options",
                                       "head",
                                       "post",
                                       "put",
                                       "delete",
                                       "trace",
                                       "accept",
                                       "accept-charset",
                                       "accept-encoding",
                                       "accept-language",
                                       "accept-ranges",
                                       "age",
                                       "allow",
                                       "authorization",
                                       "cache-control",
                                       "connection",
                                       "content-base",
                                       "content-encoding",
                                       "content-language",
                                       "content-length",
                                       "content-location",
                                       "content-md5",
                                       "content-range",
                                       "content-type",
                                       "date",
                                       "etag",
                                       "expect",
                                       "expires",
                                       "from",
                                       "host",
                                       "if-match",
                                       "if-modified-since",
                                       "if-none-match",
                                       "if-range",
                                       "if-unmodified-since",
                                       "last-modified",
                                       "location",
                                       "max-forwards",
                                       "pragma",
                                       "proxy-authenticate",
                                       "proxy-authorization",
                                       "range",
                                       "referer",
                                       "retry-after",
                                       "server",
                                       "te",
                                       "trailer",
                                       "transfer-encoding",
                                       "upgrade",
                                       "user-agent",
                                       "vary",
                                       "via",
                                       "warning",
                                       "www-authenticate",
                                       "method",
                                       "get",
                                       "status",
                                       "200 OK",
                                       "version",
                                       "HTTP/1.1",
                                       "url",
                                       "public",
                                       "set-cookie",
                                       "keep-alive",
                                       "origin"};
  static const char kTail[] =
      "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
      "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 "
      "Unauthorized403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 "
      "Service UnavailableJan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, "
      "Wed, Thu, Fri, Sat, Sun, GMTchunked,text/html,image/png,image/jpg,image/gif,application/"
      "xml,application/xhtml+xml,text/plain,text/javascript,publicprivatemax-age=gzip,deflate,"
      "sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
  std::string d;
  for (const char* w : kWords) {
    PutU32(d, static_cast<uint32_t>(std::strlen(w)));
    d.append(w);
  }
  d.append(kTail);
  return d;
}

}  // namespace

std::string HeaderValue(const Headers& headers, std::string_view name) {
  for (const auto& [k, v] : headers) {
    if (k == name) return v;
  }
  return "";
}

const std::string& Dictionary() {
  static const std::string* d = new std::string(BuildDictionary());
  return *d;
}

HeaderCompressor::HeaderCompressor() : z_(new z_stream{}) {
  deflateInit(z_, Z_DEFAULT_COMPRESSION);
  const std::string& d = Dictionary();
  deflateSetDictionary(z_, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size()));
}

HeaderCompressor::~HeaderCompressor() {
  deflateEnd(z_);
  delete z_;
}

std::string HeaderCompressor::Compress(const Headers& headers) {
  std::string raw;
  PutU32(raw, static_cast<uint32_t>(headers.size()));
  for (const auto& [k, v] : headers) {
    PutU32(raw, static_cast<uint32_t>(k.size()));
    raw.append(k);
    PutU32(raw, static_cast<uint32_t>(v.size()));
    raw.append(v);
  }
  std::string out;
  z_->next_in = reinterpret_cast<Bytef*>(raw.data());
  z_->avail_in = static_cast<uInt>(raw.size());
  char buf[4096];
  do {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    deflate(z_, Z_SYNC_FLUSH);
    out.append(buf, sizeof buf - z_->avail_out);
  } while (z_->avail_out == 0);
  return out;
}

HeaderDecompressor::HeaderDecompressor() : z_(new z_stream{}) { inflateInit(z_); }

HeaderDecompressor::~HeaderDecompressor() {
  inflateEnd(z_);
  delete z_;
}

absl::StatusOr<Headers> HeaderDecompressor::Decompress(std::string_view block) {
  std::string raw;
  z_->next_in = reinterpret_cast<Bytef*>(const_cast<char*>(block.data()));
  z_->avail_in = static_cast<uInt>(block.size());
  char buf[4096];
  while (z_->avail_in > 0) {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    int rc = inflate(z_, Z_SYNC_FLUSH);
    if (rc == Z_NEED_DICT) {
      const std::string& d = Dictionary();
      rc = inflateSetDictionary(z_, reinterpret_cast<const Bytef*>(d.data()),
                                static_cast<uInt>(d.size()));
      if (rc != Z_OK)
        return absl::InvalidArgumentError("spdy: header block uses another dictionary");
      continue;
    }
    raw.append(buf, sizeof buf - z_->avail_out);
    if (raw.size() > kMaxHeaderBlock)
      return absl::InvalidArgumentError("spdy: header block too large");
    if (rc == Z_BUF_ERROR && z_->avail_out != 0) break;
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::InvalidArgumentError("spdy: corrupt header block");
    }
  }
  // Drain output still pending inside zlib.
  while (true) {
    z_->next_out = reinterpret_cast<Bytef*>(buf);
    z_->avail_out = sizeof buf;
    int rc = inflate(z_, Z_SYNC_FLUSH);
    size_t got = sizeof buf - z_->avail_out;
    raw.append(buf, got);
    if (raw.size() > kMaxHeaderBlock)
      return absl::InvalidArgumentError("spdy: header block too large");
    if (got == 0 || (rc != Z_OK && rc != Z_BUF_ERROR)) break;
  }
  std::string_view r(raw);
  if (r.size() < 4) return absl::InvalidArgumentError("spdy: short header block");
  uint32_t count = GetU32(r, 0);
  if (count > kMaxHeaderCount) return absl::InvalidArgumentError("spdy: too many headers");
  size_t pos = 4;
  Headers out;
  for (uint32_t i = 0; i < count; ++i) {
    std::string kv[2];
    for (auto& s : kv) {
      if (r.size() - pos < 4) return absl::InvalidArgumentError("spdy: truncated header block");
      uint32_t len = GetU32(r, pos);
      pos += 4;
      if (r.size() - pos < len) return absl::InvalidArgumentError("spdy: truncated header block");
      s.assign(r.substr(pos, len));
      pos += len;
    }
    for (char& c : kv[0]) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    out.emplace_back(std::move(kv[0]), std::move(kv[1]));
  }
  return out;
}

absl::StatusOr<std::optional<Frame>> FrameParser::Next() {
  while (true) {
    std::string_view b(buffer_);
    b.remove_prefix(offset_);
    if (b.size() < 8) return std::nullopt;
    uint32_t w0 = GetU32(b, 0);
    uint32_t w1 = GetU32(b, 4);
    size_t len = w1 & 0xffffff;
    uint8_t flags = static_cast<uint8_t>(w1 >> 24);
    if (len > max_frame_) return absl::InvalidArgumentError("spdy: frame too large");
    if (b.size() < 8 + len) return std::nullopt;
    std::string_view payload = b.substr(8, len);
    size_t consumed = 8 + len;
    auto advance = [&] {
      offset_ += consumed;
      if (offset_ > 64 * 1024 && offset_ * 2 > buffer_.size()) {
        buffer_.erase(0, offset_);
        offset_ = 0;
      }
    };
    Frame f;
    f.flags = flags;
    if ((w0 & 0x80000000u) == 0) {
      f.type = FrameType::kData;
      f.stream_id = w0 & 0x7fffffff;
      f.data.assign(payload);
      advance();
      return f;
    }
    uint16_t version = static_cast<uint16_t>((w0 >> 16) & 0x7fff);
    if (version != kVersion) {
      return absl::InvalidArgumentError("spdy: unsupported version " + std::to_string(version));
    }
    uint16_t type = static_cast<uint16_t>(w0 & 0xffff);
    f.type = static_cast<FrameType>(type);
    auto need = [&](size_t n) -> absl::Status {
      if (payload.size() < n) {
        return absl::InvalidArgumentError("spdy: control frame type " + std::to_string(type) +
                                          " too short");
      }
      return absl::OkStatus();
    };
    switch (f.type) {
      case FrameType::kSynStream: {
        if (auto s = need(10); !s.ok()) return s;
        f.stream_id = GetU32(payload, 0) & 0x7fffffff;
        f.associated_id = GetU32(payload, 4) & 0x7fffffff;
        f.priority = static_cast<uint8_t>(static_cast<uint8_t>(payload[8]) >> 5);
        auto h = decompressor_.Decompress(payload.substr(10));
        if (!h.ok()) return h.status();
        f.headers = std::move(*h);
        break;
      }
      case FrameType::kSynReply:
      case FrameType::kHeaders: {
        if (auto s = need(4); !s.ok()) return s;
        f.stream_id = GetU32(payload, 0) & 0x7fffffff;
        auto h = decompressor_.Decompress(payload.substr(4));
        if (!h.ok()) return h.status();
        f.headers = std::move(*h);
        break;
      }
      case FrameType::kRstStream:
      case FrameType::kWindowUpdate:
        if (auto s = need(8); !s.ok()) return s;
        f.stream_id = GetU32(payload, 0) & 0x7fffffff;
        f.value = GetU32(payload, 4) & (f.type == FrameType::kWindowUpdate ? 0x7fffffffu : ~0u);
        break;
      case FrameType::kPing:
        if (auto s = need(4); !s.ok()) return s;
        f.value = GetU32(payload, 0);
        break;
      case FrameType::kGoAway:
        if (auto s = need(4); !s.ok()) return s;
        f.stream_id = GetU32(payload, 0) & 0x7fffffff;
        if (payload.size() >= 8) f.value = GetU32(payload, 4);
        break;
      case FrameType::kSettings:
        f.data.assign(payload);
        break;
      default:
        break;  // unknown control frame: returned as-is, callers ignore it
    }
    advance();
    return f;
  }
}

std::string EncodeSynStream(HeaderCompressor& c, uint32_t stream_id, const Headers& headers,
                            uint8_t flags) {
  std::string p;
  PutU32(p, stream_id & 0x7fffffff);
  PutU32(p, 0);
  p.push_back(0);  // priority
  p.push_back(0);  // slot
  p.append(c.Compress(headers));
  return ControlFrame(FrameType::kSynStream, flags, p);
}

std::string EncodeSynReply(HeaderCompressor& c, uint32_t stream_id, const Headers& headers,
                           uint8_t flags) {
  std::string p;
  PutU32(p, stream_id & 0x7fffffff);
  p.append(c.Compress(headers));
  return ControlFrame(FrameType::kSynReply, flags, p);
}

std::string EncodeData(uint32_t stream_id, std::string_view data, uint8_t flags) {
  std::string out;
  out.reserve(8 + data.size());
  PutU32(out, stream_id & 0x7fffffff);
  PutU32(out, (uint32_t{flags} << 24) | static_cast<uint32_t>(data.size()));
  out.append(data);
  return out;
}

std::string EncodeRstStream(uint32_t stream_id, uint32_t status) {
  std::string p;
  PutU32(p, stream_id & 0x7fffffff);
  PutU32(p, status);
  return ControlFrame(FrameType::kRstStream, 0, p);
}

std::string EncodePing(uint32_t id) {
  std::string p;
  PutU32(p, id);
  return ControlFrame(FrameType::kPing, 0, p);
}

std::string EncodeGoAway(uint32_t last_good_stream_id, uint32_t status) {
  std::string p;
  PutU32(p, last_good_stream_id & 0x7fffffff);
  PutU32(p, status);
  return ControlFrame(FrameType::kGoAway, 0, p);
}

// ---- Stream ----

absl::StatusOr<size_t> Stream::Read(char* buf, size_t n) {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return !inbox_.empty() || remote_fin_ || reset_; });
  if (!inbox_.empty()) {
    size_t k = std::min(n, inbox_.size());
    std::memcpy(buf, inbox_.data(), k);
    inbox_.erase(0, k);
    return k;
  }
  if (reset_) return absl::CancelledError("spdy: stream reset");
  return size_t{0};
}

absl::Status Stream::Write(std::string_view data) {
  {
    std::lock_guard lock(mu_);
    if (reset_ || local_fin_) return absl::UnavailableError("spdy: stream closed");
  }
  // Frames of at most 32 KiB, as spdystream writes.
  while (!data.empty()) {
    size_t k = std::min<size_t>(data.size(), 32 * 1024);
    absl::Status s = session_->Send(EncodeData(id_, data.substr(0, k), 0));
    if (!s.ok()) return s;
    data.remove_prefix(k);
  }
  return absl::OkStatus();
}

absl::Status Stream::CloseWrite() {
  {
    std::lock_guard lock(mu_);
    if (reset_ || local_fin_) return absl::OkStatus();
    local_fin_ = true;
  }
  return session_->Send(EncodeData(id_, "", kFlagFin));
}

void Stream::Reset(uint32_t status) {
  {
    std::lock_guard lock(mu_);
    if (reset_) return;
    reset_ = true;
    cv_.notify_all();
  }
  (void)session_->Send(EncodeRstStream(id_, status));
}

absl::Status Stream::Reply(const Headers& headers) {
  {
    std::lock_guard lock(mu_);
    if (replied_) return absl::OkStatus();
    replied_ = true;
  }
  return session_->SendControl(
      [&](HeaderCompressor& c) { return EncodeSynReply(c, id_, headers, 0); });
}

absl::Status Stream::WaitReply() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [&] { return replied_ || reset_; });
  if (!replied_) return absl::UnavailableError("spdy: stream reset before reply");
  return absl::OkStatus();
}

bool Stream::remote_closed() {
  std::lock_guard lock(mu_);
  return remote_fin_ || reset_;
}

// ---- Session ----

Session::Session(http::ConnPtr conn, bool server)
    : conn_(std::move(conn)), server_(server), next_id_(server ? 2 : 1) {}

Session::~Session() { Close(); }

absl::Status Session::Send(const std::string& bytes) {
  std::lock_guard lock(write_mu_);
  return conn_->Write(bytes);
}

absl::Status Session::SendControl(const std::function<std::string(HeaderCompressor&)>& encode) {
  std::lock_guard lock(write_mu_);
  return conn_->Write(encode(compressor_));
}

void Session::EndAll() {
  std::map<uint32_t, std::shared_ptr<Stream>> streams;
  {
    std::lock_guard lock(mu_);
    ended_ = true;
    streams.swap(streams_);
  }
  for (auto& [id, s] : streams) {
    std::lock_guard lock(s->mu_);
    s->reset_ = true;
    s->cv_.notify_all();
  }
}

void Session::Close() {
  conn_->Close();
  EndAll();
}

absl::StatusOr<std::shared_ptr<Stream>> Session::Open(const Headers& headers, uint8_t flags) {
  std::shared_ptr<Stream> s;
  {
    std::lock_guard lock(mu_);
    if (ended_) return absl::UnavailableError("spdy: session closed");
    s.reset(new Stream(this, next_id_, {}));
    next_id_ += 2;
    streams_[s->id_] = s;
    if (flags & kFlagFin) s->local_fin_ = true;
  }
  absl::Status st =
      SendControl([&](HeaderCompressor& c) { return EncodeSynStream(c, s->id_, headers, flags); });
  if (!st.ok()) return st;
  return s;
}

absl::Status Session::Run(StreamHandler on_new_stream) {
  FrameParser parser;
  std::string buf(32 * 1024, '\0');
  absl::Status result = absl::OkStatus();
  auto find = [&](uint32_t id) -> std::shared_ptr<Stream> {
    std::lock_guard lock(mu_);
    auto it = streams_.find(id);
    return it == streams_.end() ? nullptr : it->second;
  };
  auto forget = [&](uint32_t id) {
    std::lock_guard lock(mu_);
    streams_.erase(id);
  };
  bool done = false;
  while (!done) {
    auto next = parser.Next();
    if (!next.ok()) {
      KLOG(Warning, "spdy: closing connection: {}", StatusMessage(next.status()));
      (void)Send(EncodeGoAway(0, kProtocolError));
      result = next.status();
      break;
    }
    if (!next->has_value()) {
      auto n = conn_->Read(buf.data(), buf.size());
      if (!n.ok()) {
        result = n.status();
        break;
      }
      if (*n == 0) break;
      parser.Feed(std::string_view(buf.data(), *n));
      continue;
    }
    Frame f = std::move(**next);
    switch (f.type) {
      case FrameType::kData: {
        auto s = find(f.stream_id);
        if (!s) {
          (void)Send(EncodeRstStream(f.stream_id, kInvalidStream));
          break;
        }
        std::lock_guard lock(s->mu_);
        s->inbox_.append(f.data);
        if (f.flags & kFlagFin) s->remote_fin_ = true;
        s->cv_.notify_all();
        break;
      }
      case FrameType::kSynStream: {
        bool valid = f.stream_id != 0 && ((f.stream_id & 1) == (server_ ? 1u : 0u));
        std::shared_ptr<Stream> s;
        {
          std::lock_guard lock(mu_);
          if (!valid || streams_.count(f.stream_id)) {
            valid = false;
          } else {
            s.reset(new Stream(this, f.stream_id, std::move(f.headers)));
            if (f.flags & kFlagFin) s->remote_fin_ = true;
            if (f.flags & kFlagUnidirectional) s->local_fin_ = true;
            streams_[f.stream_id] = s;
          }
        }
        if (!valid) {
          (void)Send(EncodeRstStream(f.stream_id, kProtocolError));
          break;
        }
        if (on_new_stream) {
          on_new_stream(s);
        } else {
          s->Reset(kRefusedStream);
          forget(f.stream_id);
        }
        break;
      }
      case FrameType::kSynReply: {
        auto s = find(f.stream_id);
        if (!s) break;
        std::lock_guard lock(s->mu_);
        s->headers_ = std::move(f.headers);
        s->replied_ = true;
        if (f.flags & kFlagFin) s->remote_fin_ = true;
        s->cv_.notify_all();
        break;
      }
      case FrameType::kHeaders: {
        auto s = find(f.stream_id);
        if (!s) break;
        std::lock_guard lock(s->mu_);
        if (f.flags & kFlagFin) s->remote_fin_ = true;
        s->cv_.notify_all();
        break;
      }
      case FrameType::kRstStream: {
        auto s = find(f.stream_id);
        if (!s) break;
        {
          std::lock_guard lock(s->mu_);
          s->reset_ = true;
          s->cv_.notify_all();
        }
        forget(f.stream_id);
        break;
      }
      case FrameType::kPing:
        // Echo the peer's pings (theirs have the other parity); ours come back as answers.
        if ((f.value & 1) != (server_ ? 0u : 1u)) (void)Send(EncodePing(f.value));
        break;
      case FrameType::kGoAway:
        done = true;
        break;
      default:
        break;  // SETTINGS, WINDOW_UPDATE and unknown frames: ignored
    }
  }
  conn_->Close();
  EndAll();
  return result;
}

}  // namespace korral::streaming::spdy
