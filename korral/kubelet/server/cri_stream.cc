// korral/kubelet/server/cri_stream.cc: see cri_stream.h.
#include "korral/kubelet/server/cri_stream.h"

#include <atomic>
#include <charconv>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/streaming/conn.h"
#include "korral/streaming/spdy.h"

namespace korral::kubelet::server {
namespace {

using streaming::spdy::Headers;
using streaming::spdy::Session;
using streaming::spdy::Stream;

constexpr auto kDialTimeout = std::chrono::seconds(10);

struct Upgraded {
  http::ConnPtr conn;
  std::string protocol;
  std::string leftover;
};

// POSTs an SPDY/3.1 upgrade offering `protocols`; returns the switched connection.
absl::StatusOr<Upgraded> UpgradeToSpdy(const std::string& url,
                                       const std::vector<std::string>& protocols) {
  auto parsed = ParseStreamingUrl(url);
  if (!parsed.ok()) return parsed.status();
  auto conn = streaming::DialTcp(parsed->host, parsed->port, kDialTimeout);
  if (!conn.ok()) return conn.status();
  std::string req = "POST " + parsed->path + " HTTP/1.1\r\nHost: " + parsed->host + ":" +
                    std::to_string(parsed->port) +
                    "\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n";
  for (const auto& p : protocols) req += "X-Stream-Protocol-Version: " + p + "\r\n";
  req += "Content-Length: 0\r\n\r\n";
  if (auto s = (*conn)->Write(req); !s.ok()) return s;
  std::string buf;
  char tmp[4096];
  size_t end;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > 64 * 1024) return absl::InternalError("streaming server: head too large");
    auto n = (*conn)->Read(tmp, sizeof tmp);
    if (!n.ok()) return n.status();
    if (*n == 0) return absl::UnavailableError("streaming server closed the connection");
    buf.append(tmp, *n);
  }
  std::string head = buf.substr(0, end);
  if (head.compare(0, 12, "HTTP/1.1 101") != 0) {
    std::string body = buf.substr(end + 4);
    return absl::InternalError(
        "unable to upgrade connection: " + head.substr(0, head.find("\r\n")) +
        (body.empty() ? "" : ": " + body.substr(0, 512)));
  }
  Upgraded u;
  size_t pos = 0;
  while ((pos = head.find("\r\n", pos)) != std::string::npos) {
    pos += 2;
    size_t eol = head.find("\r\n", pos);
    std::string line = head.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (name == "x-stream-protocol-version") {
      u.protocol = line.substr(colon + 1);
      while (!u.protocol.empty() && u.protocol.front() == ' ') u.protocol.erase(0, 1);
    }
  }
  u.leftover = buf.substr(end + 4);
  u.conn = std::move(*conn);
  return u;
}

// A Conn that first returns bytes already read, then reads the inner one.
class PrefixedConn : public http::Conn {
 public:
  PrefixedConn(std::string prefix, http::ConnPtr inner)
      : prefix_(std::move(prefix)), inner_(std::move(inner)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (offset_ < prefix_.size()) {
      size_t k = std::min(n, prefix_.size() - offset_);
      std::memcpy(buf, prefix_.data() + offset_, k);
      offset_ += k;
      return k;
    }
    return inner_->Read(buf, n);
  }
  absl::Status Write(std::string_view d) override { return inner_->Write(d); }
  void CloseWrite() override { inner_->CloseWrite(); }
  void Close() override { inner_->Close(); }

 private:
  std::string prefix_;
  size_t offset_ = 0;
  http::ConnPtr inner_;
};

std::string ReadAll(Stream& s, size_t limit) {
  std::string out;
  char buf[4096];
  while (out.size() < limit) {
    auto n = s.Read(buf, sizeof buf);
    if (!n.ok() || *n == 0) break;
    out.append(buf, *n);
  }
  return out;
}

class CriCommandSession : public CommandSession {
 public:
  CriCommandSession(std::string url, ExecRequest request)
      : url_(std::move(url)), request_(std::move(request)) {}

  absl::StatusOr<int> Run(CommandIO& io) override {
    auto up = UpgradeToSpdy(
        url_, {"v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"});
    if (!up.ok()) return up.status();
    bool v4 = up->protocol == "v4.channel.k8s.io";
    Session session(std::make_unique<PrefixedConn>(std::move(up->leftover), std::move(up->conn)),
                    /*server=*/false);
    std::thread reader([&] { (void)session.Run(nullptr); });
    auto open = [&](const char* type) -> absl::StatusOr<std::shared_ptr<Stream>> {
      auto s = session.Open({{"streamtype", type}});
      if (!s.ok()) return s.status();
      if (auto st = (*s)->WaitReply(); !st.ok()) return st;
      return *s;
    };
    std::shared_ptr<Stream> error, in, out, err, resize;
    absl::Status st = absl::OkStatus();
    auto opened = open("error");
    if (opened.ok()) error = *opened;
    st = opened.status();
    if (st.ok() && request_.want_stdin) {
      auto s = open("stdin");
      st = s.status();
      if (s.ok()) in = *s;
    }
    if (st.ok() && request_.want_stdout) {
      auto s = open("stdout");
      st = s.status();
      if (s.ok()) out = *s;
    }
    if (st.ok() && request_.want_stderr && !request_.tty) {
      auto s = open("stderr");
      st = s.status();
      if (s.ok()) err = *s;
    }
    if (st.ok() && request_.tty && up->protocol != "channel.k8s.io" &&
        up->protocol != "v2.channel.k8s.io") {
      auto s = open("resize");
      st = s.status();
      if (s.ok()) resize = *s;
    }
    if (!st.ok()) {
      session.Close();
      reader.join();
      return absl::InternalError("cannot open streams to the runtime: " +
                                 std::string(StatusMessage(st)));
    }
    std::vector<std::thread> pumps;
    if (in) {
      pumps.emplace_back([&] {
        char buf[16 * 1024];
        while (true) {
          size_t n = io.ReadStdin(buf, sizeof buf);
          if (n == 0 || !in->Write(std::string_view(buf, n)).ok()) break;
        }
        (void)in->CloseWrite();
      });
    }
    std::atomic<bool> done{false};
    std::thread resizer;
    if (resize) {
      resizer = std::thread([&] {
        while (!done) {
          auto size = io.NextResize();
          if (!size || done) break;
          nlohmann::json j = {{"Width", size->width}, {"Height", size->height}};
          if (!resize->Write(j.dump()).ok()) break;
        }
      });
    }
    auto copy_out = [&](std::shared_ptr<Stream> s, bool stdout_stream) {
      char buf[32 * 1024];
      while (true) {
        auto n = s->Read(buf, sizeof buf);
        if (!n.ok() || *n == 0) break;
        std::string_view data(buf, *n);
        if (!(stdout_stream ? io.WriteStdout(data) : io.WriteStderr(data))) break;
      }
    };
    std::vector<std::thread> outs;
    if (out) outs.emplace_back(copy_out, out, true);
    if (err) outs.emplace_back(copy_out, err, false);
    std::string status_text = ReadAll(*error, 1 << 20);
    for (auto& t : outs) t.join();
    // The command ended: stop the input side.
    done = true;
    io.CloseStdin();
    session.Close();
    for (auto& t : pumps) t.join();
    reader.join();
    if (resizer.joinable()) {
      // NextResize returns once the client connection ends; do not wait for that here.
      resizer.detach();
    }
    return ParseStatus(status_text, v4);
  }

 private:
  static absl::StatusOr<int> ParseStatus(const std::string& text, bool v4) {
    if (text.empty()) return 0;
    if (v4) {
      auto j = nlohmann::json::parse(text, nullptr, false);
      if (j.is_object()) {
        if (j.value("status", "") == "Success") return 0;
        if (j.value("reason", "") == "NonZeroExitCode") {
          for (const auto& c : j.value("details", nlohmann::json::object())
                                   .value("causes", nlohmann::json::array())) {
            if (c.value("reason", "") == "ExitCode") {
              int code = 1;
              std::string m = c.value("message", "1");
              std::from_chars(m.data(), m.data() + m.size(), code);
              return code;
            }
          }
        }
        return absl::InternalError(j.value("message", text));
      }
    }
    return absl::InternalError(text);
  }

  std::string url_;
  ExecRequest request_;
};

// A forwarded connection: the data stream of one request id; errors from the error stream.
class SpdyForwardConn : public http::Conn {
 public:
  SpdyForwardConn(std::shared_ptr<Session> session, std::shared_ptr<Stream> error,
                  std::shared_ptr<Stream> data)
      : session_(std::move(session)), error_(std::move(error)), data_(std::move(data)) {
    error_reader_ = std::thread([this] {
      std::string text = ReadAll(*error_, 64 * 1024);
      std::lock_guard lock(mu_);
      error_text_ = std::move(text);
      error_done_ = true;
    });
  }
  ~SpdyForwardConn() override {
    Close();
    error_reader_.join();
  }
  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    auto r = data_->Read(buf, n);
    if (r.ok() && *r > 0) return r;
    if (closed_) return absl::CancelledError("connection closed");
    // Ended: an error text, if the runtime sent one, says why.
    for (int i = 0; i < 20; ++i) {
      {
        std::lock_guard lock(mu_);
        if (error_done_) break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    std::lock_guard lock(mu_);
    if (!error_text_.empty()) return absl::UnavailableError(error_text_);
    return r;
  }
  absl::Status Write(std::string_view d) override { return data_->Write(d); }
  void CloseWrite() override { (void)data_->CloseWrite(); }
  void Close() override {
    if (closed_.exchange(true)) return;
    data_->Reset(streaming::spdy::kCancel);
    error_->Reset(streaming::spdy::kCancel);
  }

 private:
  std::shared_ptr<Session> session_;
  std::shared_ptr<Stream> error_, data_;
  std::thread error_reader_;
  std::mutex mu_;
  std::string error_text_;
  bool error_done_ = false;
  std::atomic<bool> closed_{false};
};

class CriPortForwarder : public PortForwarder {
 public:
  explicit CriPortForwarder(std::string url) : url_(std::move(url)) {}
  ~CriPortForwarder() override {
    std::shared_ptr<Session> s;
    {
      std::lock_guard lock(mu_);
      s = session_;
    }
    if (s) s->Close();
    if (reader_.joinable()) reader_.join();
  }

  absl::StatusOr<http::ConnPtr> Dial(uint16_t port) override {
    std::shared_ptr<Session> session;
    uint64_t id;
    {
      std::lock_guard lock(mu_);
      if (!session_) {
        auto up = UpgradeToSpdy(url_, {"portforward.k8s.io"});
        if (!up.ok()) return up.status();
        session_ = std::make_shared<Session>(
            std::make_unique<PrefixedConn>(std::move(up->leftover), std::move(up->conn)),
            /*server=*/false);
        reader_ = std::thread([s = session_] { (void)s->Run(nullptr); });
      }
      session = session_;
      id = next_request_id_++;
    }
    Headers h = {
        {"streamtype", "error"}, {"port", std::to_string(port)}, {"requestid", std::to_string(id)}};
    auto error = session->Open(h, streaming::spdy::kFlagFin);
    if (!error.ok()) return error.status();
    if (auto s = (*error)->WaitReply(); !s.ok()) return s;
    h[0].second = "data";
    auto data = session->Open(h);
    if (!data.ok()) return data.status();
    if (auto s = (*data)->WaitReply(); !s.ok()) return s;
    return std::make_unique<SpdyForwardConn>(session, *error, *data);
  }

 private:
  const std::string url_;
  std::mutex mu_;
  std::shared_ptr<Session> session_;
  std::thread reader_;
  uint64_t next_request_id_ = 0;
};

}  // namespace

absl::StatusOr<ParsedUrl> ParseStreamingUrl(std::string_view url) {
  constexpr std::string_view kHttp = "http://";
  if (url.substr(0, kHttp.size()) != kHttp) {
    // TODO(korral): https streaming URLs (containerd's enable_tls_streaming).
    return absl::InvalidArgumentError("unsupported streaming URL (want http://): " +
                                      std::string(url));
  }
  std::string_view rest = url.substr(kHttp.size());
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  ParsedUrl p;
  p.path = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = hostport.rfind(':');
  if (!hostport.empty() && hostport.front() == '[') {
    size_t close = hostport.find(']');
    if (close == std::string_view::npos) return absl::InvalidArgumentError("bad URL host");
    p.host = std::string(hostport.substr(1, close - 1));
    colon = hostport.find(':', close);
  } else {
    p.host = std::string(hostport.substr(0, colon));
  }
  if (colon != std::string_view::npos) {
    std::string_view port = hostport.substr(colon + 1);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), v);
    if (ec != std::errc() || ptr != port.data() + port.size() || v == 0 || v > 65535) {
      return absl::InvalidArgumentError("bad URL port in " + std::string(url));
    }
    p.port = static_cast<uint16_t>(v);
  }
  if (p.host.empty()) return absl::InvalidArgumentError("missing host in " + std::string(url));
  return p;
}

std::unique_ptr<CommandSession> NewCriCommandSession(std::string url, ExecRequest request) {
  return std::make_unique<CriCommandSession>(std::move(url), std::move(request));
}

std::unique_ptr<PortForwarder> NewCriPortForwarder(std::string url) {
  return std::make_unique<CriPortForwarder>(std::move(url));
}

}  // namespace korral::kubelet::server
