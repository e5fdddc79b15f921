// korral/kubelet/server/remotecommand.cc: see remotecommand.h.
#include "korral/kubelet/server/remotecommand.h"

#include <openssl/evp.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/streaming/spdy.h"
#include "korral/streaming/websocket.h"

namespace korral::kubelet::server {
namespace {

using streaming::ws::Opcode;
using streaming::ws::WebSocket;

constexpr uint8_t kStdin = 0;
constexpr uint8_t kStdout = 1;
constexpr uint8_t kStderr = 2;
constexpr uint8_t kError = 3;
constexpr uint8_t kResize = 4;
constexpr uint8_t kClose = 255;

std::string Base64Encode(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int k = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  out.resize(static_cast<size_t>(k));
  return out;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (in.size() % 4 != 0) return std::nullopt;
  std::string out(3 * in.size() / 4 + 1, '\0');
  int k = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (k < 0) return std::nullopt;
  size_t pad = 0;
  if (!in.empty() && in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(k) - pad);
  return out;
}

class WsCommandIO : public CommandIO {
 public:
  WsCommandIO(WebSocket* ws, bool base64, bool tty, bool want_stdin)
      : ws_(ws), base64_(base64), tty_(tty) {
    if (!want_stdin) stdin_eof_ = true;
  }

  size_t ReadStdin(char* buf, size_t n) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !stdin_.empty() || stdin_eof_; });
    if (stdin_.empty()) return 0;
    std::string& front = stdin_.front();
    size_t k = std::min(n, front.size());
    std::memcpy(buf, front.data(), k);
    if (k == front.size()) {
      stdin_.pop_front();
    } else {
      front.erase(0, k);
    }
    return k;
  }
  bool WriteStdout(std::string_view data) override { return Send(kStdout, data); }
  bool WriteStderr(std::string_view data) override {
    if (tty_) return !ClientGone();
    return Send(kStderr, data);
  }
  std::optional<TerminalSize> NextResize() override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !resizes_.empty() || ended_; });
    if (resizes_.empty()) return std::nullopt;
    TerminalSize s = resizes_.front();
    resizes_.pop_front();
    return s;
  }
  bool ClientGone() override {
    std::lock_guard lock(mu_);
    return gone_;
  }

  bool Send(uint8_t channel, std::string_view data) {
    if (ClientGone()) return false;
    if (data.empty()) return true;
    absl::Status s;
    if (base64_) {
      s = ws_->Write(Opcode::kText,
                     std::string(1, static_cast<char>('0' + channel)) + Base64Encode(data));
    } else {
      std::string msg;
      msg.reserve(data.size() + 1);
      msg.push_back(static_cast<char>(channel));
      msg.append(data);
      s = ws_->Write(Opcode::kBinary, msg);
    }
    if (!s.ok()) {
      MarkGone();
      return false;
    }
    return true;
  }

  // Reader side.
  void Stdin(std::string data) {
    std::lock_guard lock(mu_);
    if (stdin_eof_) return;
    stdin_.push_back(std::move(data));
    cv_.notify_all();
  }
  void CloseStdin() override {
    std::lock_guard lock(mu_);
    stdin_eof_ = true;
    cv_.notify_all();
  }
  void Resize(TerminalSize s) {
    std::lock_guard lock(mu_);
    resizes_.push_back(s);
    if (resizes_.size() > 64) resizes_.pop_front();
    cv_.notify_all();
  }
  void MarkGone() {
    std::lock_guard lock(mu_);
    gone_ = true;
    ended_ = true;
    stdin_eof_ = true;
    cv_.notify_all();
  }
  void End() {
    std::lock_guard lock(mu_);
    ended_ = true;
    stdin_eof_ = true;
    cv_.notify_all();
  }

 private:
  WebSocket* ws_;
  const bool base64_;
  const bool tty_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::string> stdin_;
  std::deque<TerminalSize> resizes_;
  bool stdin_eof_ = false;
  bool ended_ = false;
  bool gone_ = false;
};

void ReadLoop(WebSocket* ws, WsCommandIO* io, bool base64, bool v5) {
  while (true) {
    auto msg = ws->Read();
    if (!msg.ok() || !msg->has_value()) {
      if (!msg.ok())
        KLOG(Debug, "remotecommand: client stream ended: {}", StatusMessage(msg.status()));
      io->MarkGone();
      return;
    }
    std::string data = std::move((*msg)->data);
    if (data.empty()) continue;
    int channel;
    std::string payload;
    if (base64) {
      channel = data[0] - '0';
      auto decoded = Base64Decode(std::string_view(data).substr(1));
      if (!decoded) {
        KLOG(Info, "remotecommand: dropping a message that is not valid base64");
        continue;
      }
      payload = std::move(*decoded);
    } else {
      channel = static_cast<uint8_t>(data[0]);
      payload = data.substr(1);
    }
    switch (channel) {
      case kStdin:
        if (!payload.empty()) io->Stdin(std::move(payload));
        break;
      case kResize: {
        auto j = nlohmann::json::parse(payload, nullptr, false);
        if (j.is_object() && j.value("Width", -1) >= 0 && j.value("Height", -1) >= 0) {
          io->Resize({static_cast<uint16_t>(std::min(j.value("Width", 0), 65535)),
                      static_cast<uint16_t>(std::min(j.value("Height", 0), 65535))});
        } else {
          KLOG(Info, "remotecommand: ignoring malformed resize message");
        }
        break;
      }
      case kClose:
        if (v5 && !payload.empty() && static_cast<uint8_t>(payload[0]) == kStdin) io->CloseStdin();
        break;
      default:
        KLOG(Debug, "remotecommand: ignoring a message on channel {}", channel);
        break;
    }
  }
}

}  // namespace

const std::vector<std::string>& RemoteCommandProtocols() {
  static const std::vector<std::string> kProtocols = {"v5.channel.k8s.io", "v4.channel.k8s.io",
                                                      "v4.base64.channel.k8s.io", "channel.k8s.io",
                                                      "base64.channel.k8s.io"};
  return kProtocols;
}

std::string CommandStatusJson(const absl::StatusOr<int>& result,
                              const std::vector<std::string>& command) {
  nlohmann::json status = {{"metadata", nlohmann::json::object()}};
  if (result.ok() && *result == 0) {
    status["status"] = "Success";
  } else if (result.ok()) {
    std::string cmd;
    for (const auto& c : command) cmd += (cmd.empty() ? "" : " ") + c;
    status["status"] = "Failure";
    status["message"] = "command terminated with non-zero exit code: error executing command [" +
                        cmd + "], exit code " + std::to_string(*result);
    status["reason"] = "NonZeroExitCode";
    status["details"] = {
        {"causes", {{{"reason", "ExitCode"}, {"message", std::to_string(*result)}}}}};
  } else {
    status["status"] = "Failure";
    status["message"] = std::string(StatusMessage(result.status()));
    status["reason"] = "InternalError";
    status["code"] = 500;
  }
  return status.dump();
}

void ServeRemoteCommand(http::ConnPtr conn, const std::string& protocol, const ExecRequest& request,
                        std::unique_ptr<CommandSession> session) {
  bool base64 = protocol.find("base64") != std::string::npos;
  bool v5 = protocol == "v5.channel.k8s.io";
  bool v4plus = v5 || protocol.rfind("v4.", 0) == 0;
  WebSocket ws(std::move(conn), /*server=*/true);
  WsCommandIO io(&ws, base64, request.tty, request.want_stdin);
  std::promise<void> reader_done;
  auto reader_finished = reader_done.get_future();
  std::thread reader([&] {
    ReadLoop(&ws, &io, base64, v5);
    reader_done.set_value();
  });
  absl::StatusOr<int> result = session->Run(io);
  io.End();
  if (!io.ClientGone()) {
    if (v4plus) {
      io.Send(kError, CommandStatusJson(result, request.command));
    } else if (!result.ok()) {
      io.Send(kError, StatusMessage(result.status()));
    } else if (*result != 0) {
      io.Send(kError,
              "command terminated with non-zero exit code: exit code " + std::to_string(*result));
    }
    (void)ws.SendClose(streaming::ws::kCloseNormal, "");
  }
  // Give the client a moment to answer the close (closing a socket with unread input resets
  // it, which can lose what was sent last), then drop the transport.
  reader_finished.wait_for(std::chrono::seconds(2));
  ws.Close();
  reader.join();
}

}  // namespace korral::kubelet::server

// ---- SPDY ----

namespace korral::kubelet::server {
namespace {

using streaming::spdy::Stream;

class SpdyCommandIO : public CommandIO {
 public:
  SpdyCommandIO(std::shared_ptr<Stream> in, std::shared_ptr<Stream> out,
                std::shared_ptr<Stream> err, std::shared_ptr<Stream> resize)
      : in_(std::move(in)),
        out_(std::move(out)),
        err_(std::move(err)),
        resize_(std::move(resize)) {}

  size_t ReadStdin(char* buf, size_t n) override {
    if (!in_ || stdin_closed_) return 0;
    auto r = in_->Read(buf, n);
    if (!r.ok() || stdin_closed_) return 0;
    return *r;
  }
  bool WriteStdout(std::string_view d) override { return Send(out_, d); }
  bool WriteStderr(std::string_view d) override { return Send(err_, d); }
  std::optional<TerminalSize> NextResize() override {
    if (!resize_) return std::nullopt;
    char buf[512];
    while (true) {
      size_t close = pending_.find('}');
      if (close != std::string::npos) {
        std::string obj = pending_.substr(0, close + 1);
        pending_.erase(0, close + 1);
        auto j = nlohmann::json::parse(obj, nullptr, false);
        if (j.is_object()) {
          return TerminalSize{static_cast<uint16_t>(std::clamp(j.value("Width", 0), 0, 65535)),
                              static_cast<uint16_t>(std::clamp(j.value("Height", 0), 0, 65535))};
        }
        continue;
      }
      if (pending_.size() > 4096) pending_.clear();
      auto r = resize_->Read(buf, sizeof buf);
      if (!r.ok() || *r == 0) return std::nullopt;
      pending_.append(buf, *r);
    }
  }
  bool ClientGone() override { return gone_; }
  void CloseStdin() override {
    stdin_closed_ = true;
    if (in_) in_->Reset(streaming::spdy::kCancel);
  }

 private:
  bool Send(const std::shared_ptr<Stream>& s, std::string_view d) {
    if (!s) return !gone_;
    if (!s->Write(d).ok()) {
      gone_ = true;
      return false;
    }
    return true;
  }
  std::shared_ptr<Stream> in_, out_, err_, resize_;
  std::string pending_;
  std::atomic<bool> gone_{false};
  std::atomic<bool> stdin_closed_{false};
};

}  // namespace

std::string NegotiateSpdyRemoteCommandProtocol(const http::Request& request) {
  static const char* const kSupported[] = {"v5.channel.k8s.io", "v4.channel.k8s.io",
                                           "v3.channel.k8s.io", "v2.channel.k8s.io",
                                           "channel.k8s.io"};
  for (const auto& [name, value] : request.headers) {
    std::string lower = name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower != "x-stream-protocol-version") continue;
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      std::string p =
          value.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      while (!p.empty() && p.front() == ' ') p.erase(0, 1);
      while (!p.empty() && p.back() == ' ') p.pop_back();
      for (const char* s : kSupported) {
        if (p == s) return p;
      }
      if (comma == std::string::npos) break;
      pos = comma + 1;
    }
  }
  return "";
}

void ServeRemoteCommandSpdy(http::ConnPtr conn, const std::string& protocol,
                            const ExecRequest& request, std::unique_ptr<CommandSession> session) {
  auto spdy = std::make_shared<streaming::spdy::Session>(std::move(conn), /*server=*/true);
  std::mutex mu;
  std::condition_variable cv;
  std::map<std::string, std::shared_ptr<Stream>> streams;
  bool ended = false;
  std::thread reader([&] {
    (void)spdy->Run([&](std::shared_ptr<Stream> s) {
      std::string type = streaming::spdy::HeaderValue(s->headers(), "streamtype");
      (void)s->Reply();
      std::lock_guard lock(mu);
      streams[type] = s;
      cv.notify_all();
    });
    std::lock_guard lock(mu);
    ended = true;
    cv.notify_all();
  });
  bool with_resize = request.tty && protocol != "channel.k8s.io" && protocol != "v2.channel.k8s.io";
  auto have_all = [&] {
    return streams.count("error") && (!request.want_stdin || streams.count("stdin")) &&
           (!request.want_stdout || streams.count("stdout")) &&
           (!request.want_stderr || request.tty || streams.count("stderr")) &&
           (!with_resize || streams.count("resize"));
  };
  bool ready;
  {
    std::unique_lock lock(mu);
    ready = cv.wait_for(lock, std::chrono::seconds(30), [&] { return ended || have_all(); }) &&
            have_all();
  }
  if (!ready) {
    KLOG(Info, "remotecommand: the client did not open its streams in time");
    spdy->Close();
    reader.join();
    return;
  }
  std::shared_ptr<Stream> error, in, out, err, resize;
  {
    std::lock_guard lock(mu);
    error = streams["error"];
    if (request.want_stdin) in = streams["stdin"];
    if (request.want_stdout) out = streams["stdout"];
    if (request.want_stderr && !request.tty) err = streams["stderr"];
    if (with_resize) resize = streams["resize"];
  }
  SpdyCommandIO io(in, out, err, resize);
  absl::StatusOr<int> result = session->Run(io);
  bool v4plus = protocol == "v4.channel.k8s.io" || protocol == "v5.channel.k8s.io";
  if (v4plus) {
    (void)error->Write(CommandStatusJson(result, request.command));
  } else if (!result.ok()) {
    (void)error->Write(StatusMessage(result.status()));
  } else if (*result != 0) {
    (void)error->Write("command terminated with non-zero exit code: exit code " +
                       std::to_string(*result));
  }
  for (const auto& s : {out, err, error}) {
    if (s) (void)s->CloseWrite();
  }
  // Let the client read what was sent before the connection goes away.
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, std::chrono::seconds(2), [&] { return ended; });
  }
  spdy->Close();
  reader.join();
}

}  // namespace korral::kubelet::server
