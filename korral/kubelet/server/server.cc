// korral/kubelet/server/server.cc: routing and protocol selection for the kubelet server.
#include "korral/kubelet/server/server.h"

#include <cctype>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "korral/apimachinery/errors.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/kubelet/server/logs.h"
#include "korral/kubelet/server/remotecommand.h"
#include "korral/streaming/portforward.h"
#include "korral/streaming/websocket.h"

namespace korral::kubelet::server {
namespace {

using Json = nlohmann::json;

constexpr char kPortForwardWebSocketProtocol[] = "SPDY/3.1+portforward.k8s.io";
constexpr char kPortForwardProtocol[] = "portforward.k8s.io";

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

std::optional<bool> ParseBool(std::string_view v) {
  if (v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True") return true;
  if (v == "0" || v == "f" || v == "F" || v == "false" || v == "FALSE" || v == "False") {
    return false;
  }
  return std::nullopt;
}

http::Response StatusResponse(const absl::Status& s) {
  http::Response r;
  r.status = apierrors::HttpCode(s);
  r.body = apierrors::ToStatusObject(s).dump();
  return r;
}

http::Response Text(int code, std::string body) {
  http::Response r;
  r.status = code;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::move(body);
  return r;
}

bool IsSpdyUpgrade(const http::Request& req) {
  std::string_view up = req.Header("Upgrade");
  return up.size() >= 4 && (up.substr(0, 4) == "SPDY" || up.substr(0, 4) == "spdy");
}

// Counts live streaming sessions so Stop can wait for them.
class SessionTracker {
 public:
  void Add() {
    std::lock_guard lock(mu_);
    ++live_;
  }
  void Done() {
    std::lock_guard lock(mu_);
    --live_;
    cv_.notify_all();
  }
  void WaitIdle(std::chrono::seconds limit) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, limit, [&] { return live_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int live_ = 0;
};

// Runs `body(conn)` on its own thread once the connection is switched.
class ThreadUpgrade : public http::Upgrade {
 public:
  ThreadUpgrade(std::shared_ptr<SessionTracker> tracker, std::function<void(http::ConnPtr)> body)
      : tracker_(std::move(tracker)), body_(std::move(body)) {}
  void Start(http::ConnPtr conn) override {
    tracker_->Add();
    std::thread([tracker = tracker_, body = std::move(body_), c = std::move(conn)]() mutable {
      body(std::move(c));
      tracker->Done();
    }).detach();
  }

 private:
  std::shared_ptr<SessionTracker> tracker_;
  std::function<void(http::ConnPtr)> body_;
};

class LogStream : public http::StreamBody, public std::enable_shared_from_this<LogStream> {
 public:
  LogStream(Backend* backend, LogLocation location, LogOptions options,
            std::shared_ptr<SessionTracker> tracker)
      : backend_(backend),
        location_(std::move(location)),
        options_(options),
        tracker_(std::move(tracker)) {}
  void Start(std::shared_ptr<http::StreamWriter> writer) override {
    tracker_->Add();
    std::thread([self = shared_from_this(), writer] {
      auto write = [&](std::string_view chunk) { return writer->Write(std::string(chunk)); };
      auto running = [&] {
        return self->backend_->IsContainerRunning(self->location_.container_id);
      };
      absl::Status s = StreamLogFile(self->location_.path, self->options_, write, running);
      if (!s.ok()) KLOG(Info, "kubelet server: log stream ended: {}", StatusMessage(s));
      writer->Close();
      self->tracker_->Done();
    }).detach();
  }

 private:
  Backend* backend_;
  LogLocation location_;
  LogOptions options_;
  std::shared_ptr<SessionTracker> tracker_;
};

// The WebSocket port-forward protocol (v4.channel.k8s.io): per requested port i, channel 2i
// carries data and 2i+1 errors; each channel's first server message is the port (2 bytes, little
// endian). One pod connection per port for the life of the WebSocket.
void ServeWebSocketPortForward(http::ConnPtr conn, const std::vector<uint16_t>& ports,
                               PortForwarder* fwd, const std::string& target) {
  streaming::ws::WebSocket ws(std::move(conn), /*server=*/true);
  auto send = [&](size_t channel, std::string_view data) {
    std::string msg(1, static_cast<char>(channel));
    msg.append(data);
    return ws.Write(streaming::ws::Opcode::kBinary, msg).ok();
  };
  std::vector<http::ConnPtr> pod_conns(ports.size());
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string port_bytes{static_cast<char>(ports[i] & 0xff), static_cast<char>(ports[i] >> 8)};
    send(2 * i, port_bytes);
    send(2 * i + 1, port_bytes);
    auto c = fwd->Dial(ports[i]);
    if (c.ok()) {
      pod_conns[i] = std::move(*c);
    } else {
      send(2 * i + 1, "error forwarding port " + std::to_string(ports[i]) + " to " + target + ": " +
                          std::string(StatusMessage(c.status())));
    }
  }
  std::vector<std::thread> readers;
  for (size_t i = 0; i < ports.size(); ++i) {
    if (!pod_conns[i]) continue;
    readers.emplace_back([&, i] {
      char buf[32 * 1024];
      while (true) {
        auto n = pod_conns[i]->Read(buf, sizeof buf);
        if (!n.ok() || *n == 0) break;
        if (!send(2 * i, std::string_view(buf, *n))) break;
      }
    });
  }
  while (true) {
    auto msg = ws.Read();
    if (!msg.ok() || !msg->has_value()) break;
    const std::string& data = (*msg)->data;
    if (data.empty()) continue;
    size_t channel = static_cast<uint8_t>(data[0]);
    if (channel % 2 != 0 || channel / 2 >= ports.size() || !pod_conns[channel / 2]) continue;
    if (!pod_conns[channel / 2]->Write(std::string_view(data).substr(1)).ok()) break;
  }
  for (auto& c : pod_conns) {
    if (c) c->Close();
  }
  for (auto& t : readers) t.join();
  (void)ws.SendClose(streaming::ws::kCloseNormal, "");
  ws.Close();
}

class KubeletServerImpl : public KubeletServer {
 public:
  explicit KubeletServerImpl(Options options) : options_(std::move(options)) {
    if (!options_.authorize) {
      options_.authorize = [](const http::Request& req) -> absl::Status {
        if (req.client_cert) return absl::OkStatus();
        return apierrors::NewUnauthorized("Unauthorized");
      };
    }
  }
  ~KubeletServerImpl() override { Stop(); }

  void Handle(std::string path, http::Handler handler) override {
    extra_[std::move(path)] = std::move(handler);
  }

  absl::Status Start() override {
    if (options_.backend == nullptr)
      return absl::InvalidArgumentError("kubelet server: no backend");
    http::ServerOptions so;
    so.bind_address = options_.bind_address;
    so.port = options_.port;
    so.cert_pem = options_.cert_pem;
    so.key_pem = options_.key_pem;
    so.certificate_source = options_.certificate_source;
    so.client_ca_pem = options_.client_ca_pem;
    so.worker_threads = 8;
    server_ = http::NewServer(so, [this](http::Request& req) { return Serve(req); });
    return server_->Start();
  }

  void Stop() override {
    if (!server_) return;
    server_->Stop();
    server_.reset();
    tracker_->WaitIdle(std::chrono::seconds(5));
  }

  uint16_t port() const override { return server_ ? server_->port() : 0; }

 private:
  http::Response Serve(http::Request& req) {
    if (absl::Status s = options_.authorize(req); !s.ok()) {
      // As upstream's kubelet: plain-text "Unauthorized" / "Forbidden (user=..., ...)".
      switch (s.code()) {
        case absl::StatusCode::kUnauthenticated:
          return Text(401, "Unauthorized");
        case absl::StatusCode::kPermissionDenied:
          return Text(403, std::string(StatusMessage(s)));
        default:
          return Text(500, std::string(StatusMessage(s)));
      }
    }
    const std::string& path = req.path;
    if (path == "/healthz") return Text(200, "ok");
    auto seg = Split(path);
    if (seg.empty()) return StatusResponse(apierrors::NewNotFoundPath());
    if (path == "/pods" || path == "/pods/") return PodList(options_.backend->ListPods());
    if (path == "/runningpods" || path == "/runningpods/") {
      return PodList(options_.backend->RunningPods());
    }
    if (seg[0] == "containerLogs") return ContainerLogs(req, seg);
    if (seg[0] == "exec" || seg[0] == "attach") return Exec(req, seg, seg[0] == "exec");
    if (seg[0] == "portForward") return PortForward(req, seg);
    for (const auto& [prefix, handler] : extra_) {
      bool match = prefix.back() == '/' ? path.rfind(prefix, 0) == 0 : path == prefix;
      if (match) return handler(req);
    }
    return StatusResponse(apierrors::NewNotFoundPath());
  }

  static http::Response PodList(std::vector<Json> pods) {
    Json list = {{"kind", "PodList"},
                 {"apiVersion", "v1"},
                 {"metadata", Json::object()},
                 {"items", std::move(pods)}};
    http::Response r;
    r.body = list.dump();
    return r;
  }

  http::Response ContainerLogs(http::Request& req, const std::vector<std::string_view>& seg) {
    if (req.method != "GET")
      return StatusResponse(apierrors::NewMethodNotSupported("containerLogs", req.method));
    if (seg.size() != 4) {
      return StatusResponse(
          apierrors::NewBadRequest("expected /containerLogs/{namespace}/{pod}/{container}"));
    }
    PodRef pod{std::string(seg[1]), std::string(seg[2]), ""};
    std::string container(seg[3]);
    int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    auto opts = ParseLogOptions([&](std::string_view k) { return req.Query(k); }, now);
    if (!opts.ok()) return StatusResponse(apierrors::NewBadRequest(StatusMessage(opts.status())));
    bool previous = false;
    if (auto v = req.Query("previous")) previous = ParseBool(*v).value_or(v->empty());
    auto location = options_.backend->ContainerLog(pod, container, previous);
    if (!location.ok()) return StatusResponse(location.status());
    auto body =
        std::make_shared<LogStream>(options_.backend, std::move(*location), *opts, tracker_);
    http::Response r;
    r.content_type = "text/plain";
    r.stream = body;
    return r;
  }

  // /exec/{ns}/{pod}[/{uid}]/{container}, /attach/...
  http::Response Exec(http::Request& req, const std::vector<std::string_view>& seg, bool exec) {
    std::string_view kind = exec ? "exec" : "attach";
    if (seg.size() != 4 && seg.size() != 5) {
      return StatusResponse(apierrors::NewBadRequest("expected /" + std::string(kind) +
                                                     "/{namespace}/{pod}[/{uid}]/{container}"));
    }
    ExecRequest er;
    er.pod = {std::string(seg[1]), std::string(seg[2]), seg.size() == 5 ? std::string(seg[3]) : ""};
    er.container = std::string(seg.back());
    for (auto c : req.QueryAll("command")) er.command.emplace_back(c);
    struct Flag {
      const char* name;
      bool* out;
    };
    for (Flag f : {Flag{"stdin", &er.want_stdin}, Flag{"stdout", &er.want_stdout},
                   Flag{"stderr", &er.want_stderr}, Flag{"tty", &er.tty}}) {
      auto v = req.Query(f.name);
      if (!v) continue;
      auto b = ParseBool(*v);
      if (!b) {
        return StatusResponse(apierrors::NewBadRequest("invalid value for " + std::string(f.name) +
                                                       ": \"" + std::string(*v) + "\""));
      }
      *f.out = *b;
    }
    // Upstream: with a TTY the runtime merges stderr into stdout.
    if (er.tty) er.want_stderr = false;
    if (!er.want_stdin && !er.want_stdout && !er.want_stderr) {
      return StatusResponse(
          apierrors::NewBadRequest("you must specify at least 1 of stdin, stdout, stderr"));
    }
    if (exec && er.command.empty()) {
      return StatusResponse(
          apierrors::NewBadRequest("you must specify at least one command for the container"));
    }
    // Validate first, so that a client falling back to SPDY still sees why the pod or
    // container cannot be used.
    auto session = exec ? options_.backend->Exec(er) : options_.backend->Attach(er);
    if (!session.ok()) return StatusResponse(session.status());
    auto shared_session = std::make_shared<std::unique_ptr<CommandSession>>(std::move(*session));
    if (IsSpdyUpgrade(req)) {
      std::string protocol = NegotiateSpdyRemoteCommandProtocol(req);
      if (protocol.empty()) {
        return StatusResponse(apierrors::NewBadRequest(
            "unable to upgrade connection: none of the offered X-Stream-Protocol-Version values "
            "is supported (supported: v5.channel.k8s.io, v4.channel.k8s.io, v3.channel.k8s.io, "
            "v2.channel.k8s.io, channel.k8s.io)"));
      }
      http::Response resp;
      resp.status = 101;
      resp.content_type.clear();
      resp.headers = {{"Connection", "Upgrade"},
                      {"Upgrade", "SPDY/3.1"},
                      {"X-Stream-Protocol-Version", protocol}};
      resp.upgrade = std::make_shared<ThreadUpgrade>(
          tracker_, [er, protocol, shared_session](http::ConnPtr conn) {
            ServeRemoteCommandSpdy(std::move(conn), protocol, er, std::move(*shared_session));
          });
      return resp;
    }
    if (!streaming::ws::IsWebSocketRequest(req)) {
      return StatusResponse(apierrors::NewBadRequest(
          "unable to upgrade connection: " + std::string(kind) +
          " needs Upgrade: websocket (v5.channel.k8s.io, v4.channel.k8s.io) or Upgrade: "
          "SPDY/3.1"));
    }
    http::Response resp;
    auto protocol = streaming::ws::AcceptHandshake(req, RemoteCommandProtocols(), &resp);
    if (!protocol.ok())
      return StatusResponse(apierrors::NewBadRequest(StatusMessage(protocol.status())));
    resp.upgrade = std::make_shared<ThreadUpgrade>(
        tracker_, [er, protocol = *protocol, shared_session](http::ConnPtr conn) {
          ServeRemoteCommand(std::move(conn), protocol, er, std::move(*shared_session));
        });
    return resp;
  }

  // /portForward/{ns}/{pod}[/{uid}]
  http::Response PortForward(http::Request& req, const std::vector<std::string_view>& seg) {
    if (seg.size() != 3 && seg.size() != 4) {
      return StatusResponse(
          apierrors::NewBadRequest("expected /portForward/{namespace}/{pod}[/{uid}]"));
    }
    PodRef pod{std::string(seg[1]), std::string(seg[2]),
               seg.size() == 4 ? std::string(seg[3]) : ""};
    http::Response resp;
    bool tunnel = false;
    std::vector<uint16_t> ws_ports;  // the channel protocol (Python client) forwards these
    if (streaming::ws::IsWebSocketRequest(req)) {
      auto protocol = streaming::ws::AcceptHandshake(
          req, {kPortForwardWebSocketProtocol, "v4.channel.k8s.io"}, &resp);
      if (!protocol.ok()) {
        return StatusResponse(apierrors::NewBadRequest(StatusMessage(protocol.status())));
      }
      tunnel = *protocol == kPortForwardWebSocketProtocol;
      if (!tunnel) {
        for (auto v : req.QueryAll("ports")) {
          std::string list(v);
          size_t pos = 0;
          while (pos <= list.size()) {
            size_t comma = list.find(',', pos);
            std::string one =
                list.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
            unsigned port = 0;
            auto [ptr, ec] = std::from_chars(one.data(), one.data() + one.size(), port);
            if (ec != std::errc() || ptr != one.data() + one.size() || port == 0 || port > 65535) {
              return StatusResponse(apierrors::NewBadRequest("invalid port \"" + one + "\""));
            }
            ws_ports.push_back(static_cast<uint16_t>(port));
            if (comma == std::string::npos) break;
            pos = comma + 1;
          }
        }
        if (ws_ports.empty()) {
          return StatusResponse(apierrors::NewBadRequest("query parameter \"ports\" is required"));
        }
      }
    } else if (IsSpdyUpgrade(req)) {
      bool offered = false;
      for (const auto& [k, v] : req.headers) {
        std::string lower = k;
        for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (lower == "x-stream-protocol-version" &&
            v.find(kPortForwardProtocol) != std::string::npos) {
          offered = true;
        }
      }
      if (!offered) {
        return StatusResponse(apierrors::NewBadRequest(
            "unable to upgrade connection: the client must offer X-Stream-Protocol-Version: "
            "portforward.k8s.io"));
      }
      resp.status = 101;
      resp.content_type.clear();
      resp.headers = {{"Connection", "Upgrade"},
                      {"Upgrade", "SPDY/3.1"},
                      {"X-Stream-Protocol-Version", kPortForwardProtocol}};
    } else {
      return StatusResponse(apierrors::NewBadRequest(
          "unable to upgrade connection: port-forward needs Upgrade: websocket "
          "(SPDY/3.1+portforward.k8s.io) or Upgrade: SPDY/3.1"));
    }
    auto forwarder = options_.backend->PortForward(pod);
    if (!forwarder.ok()) return StatusResponse(forwarder.status());
    std::shared_ptr<PortForwarder> fwd(std::move(*forwarder));
    std::string target = "pod " + pod.namespace_ + "/" + pod.name + ", uid " + pod.uid;
    resp.upgrade = std::make_shared<ThreadUpgrade>(
        tracker_, [fwd, target, tunnel, ws_ports](http::ConnPtr conn) {
          if (!ws_ports.empty()) {
            ServeWebSocketPortForward(std::move(conn), ws_ports, fwd.get(), target);
            return;
          }
          if (tunnel) {
            conn = std::make_unique<streaming::ws::WebSocketStream>(
                std::make_unique<streaming::ws::WebSocket>(std::move(conn), /*server=*/true));
          }
          streaming::ServePortForward(
              std::move(conn), [fwd](uint16_t port) { return fwd->Dial(port); }, target);
        });
    return resp;
  }

  Options options_;
  std::map<std::string, http::Handler> extra_;
  std::unique_ptr<http::Server> server_;
  std::shared_ptr<SessionTracker> tracker_ = std::make_shared<SessionTracker>();
};

}  // namespace

std::unique_ptr<KubeletServer> NewKubeletServer(Options options) {
  return std::make_unique<KubeletServerImpl>(std::move(options));
}

}  // namespace korral::kubelet::server
