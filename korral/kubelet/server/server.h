// korral/kubelet/server/server.h: the kubelet's HTTPS server (upstream pkg/kubelet/server).
//
// Serves, on the node's kubelet port (default 10250):
//   GET  /healthz                                       "ok"
//   GET  /pods                                          PodList of the pods bound to the node
//   GET  /runningpods/                                  PodList of the pods with running containers
//   GET  /containerLogs/{ns}/{pod}/{container}          ?follow&previous&tailLines&sinceSeconds
//                                                       &sinceTime&timestamps&limitBytes
//   GET|POST /exec/{ns}/{pod}[/{uid}]/{container}       ?command=..&stdin&stdout&stderr&tty
//   GET|POST /attach/{ns}/{pod}[/{uid}]/{container}     ?stdin&stdout&stderr&tty
//   GET|POST /portForward/{ns}/{pod}[/{uid}]            ?port=.. (WebSocket v4 form only)
//   anything registered with KubeletServer::Handle (stats helper: /stats/summary, /metrics,
//   /metrics/cadvisor).
// exec/attach speak WebSocket channel.k8s.io v1..v5 (and their base64 variants); port-forward
// speaks SPDY/3.1 portforward.k8s.io, either raw (Upgrade: SPDY/3.1) or tunnelled in WebSocket
// (SPDY/3.1+portforward.k8s.io), as kubectl 1.32 does. The apiserver reaches this server through
// pods/log, pods/exec, pods/attach, pods/portforward and nodes/proxy.
//
// The kubelet plugs in through `Backend`; the server owns all protocol work. Thread-safety:
// Backend methods are called concurrently from many threads and must be thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "korral/apiserver/http/conn.h"
#include "korral/apiserver/http/server.h"

namespace korral::kubelet::server {

// Which pod a streaming or log request is about. `uid` is empty unless the URL carried one;
// when set, a pod with another UID must be treated as not found.
struct PodRef {
  std::string namespace_;
  std::string name;
  std::string uid;
};

// ---- logs ----

// Where a container's CRI log file is ("<RFC3339Nano> <stdout|stderr> <F|P> <text>\n" lines,
// as containerd writes them). The server reads, filters (tailLines, sinceSeconds/sinceTime,
// limitBytes), formats (timestamps) and follows the file itself.
struct LogLocation {
  // Absolute path of the current log file; its rotated files (<path>.<time>[.gz], see
  // korral/kubelet/logrotate.h) are read first.
  std::string path;
  std::string container_id;  // handed back to Backend::IsContainerRunning while following
};

// ---- exec / attach ----

struct TerminalSize {
  uint16_t width = 0;
  uint16_t height = 0;
};

struct ExecRequest {
  PodRef pod;
  std::string container;
  std::vector<std::string> command;  // empty for attach
  bool want_stdin = false;           // the query's stdin/stdout/stderr/tty flags
  bool want_stdout = false;
  bool want_stderr = false;
  bool tty = false;
};

// The client's side of a running exec/attach, handed to CommandSession::Run. Thread-safe: the
// backend may read stdin, write output and wait for resizes from different threads.
class CommandIO {
 public:
  virtual ~CommandIO() = default;
  // Blocks until stdin data arrives. Returns 0 at end of stdin (the client closed it, or the
  // connection ended); stdin was not requested => 0 at once.
  virtual size_t ReadStdin(char* buf, size_t n) = 0;
  // Sends output to the client. Returns false once the client is gone (stop producing).
  // With tty=true stderr is merged into stdout by the runtime; WriteStderr is then dropped.
  virtual bool WriteStdout(std::string_view data) = 0;
  virtual bool WriteStderr(std::string_view data) = 0;
  // Blocks until the client resizes its terminal; nullopt once the connection ended.
  virtual std::optional<TerminalSize> NextResize() = 0;
  // True once the client disconnected.
  virtual bool ClientGone() = 0;
  // Ends stdin as seen by ReadStdin (queued data is still returned, then 0), waking a blocked
  // reader: a session whose command ended calls it to stop its stdin pump.
  virtual void CloseStdin() = 0;
};

// A validated exec/attach that has not started. The server calls Run at most once, after it
// answered the protocol upgrade.
class CommandSession {
 public:
  virtual ~CommandSession() = default;
  // Runs to completion, pumping `io`. Returns the process exit code (0 = success); an error
  // Status is reported to the client on the error channel (e.g. Internal "cannot exec ...").
  virtual absl::StatusOr<int> Run(CommandIO& io) = 0;
};

// ---- port-forward ----

// A validated port-forward; Dial is called once per forwarded client connection.
class PortForwarder {
 public:
  virtual ~PortForwarder() = default;
  // Connects to `port` inside the pod (e.g. the pod IP, or a CRI streaming endpoint).
  // Errors are shown to the user, e.g. Unavailable "connection refused".
  virtual absl::StatusOr<http::ConnPtr> Dial(uint16_t port) = 0;
};

// What the kubelet implements. Errors returned before a stream starts become the HTTP reply:
// use apimachinery Status payloads or absl codes (NotFound -> 404 "pod ... not found",
// InvalidArgument -> 400, FailedPrecondition -> 400 (e.g. container not running), others 500).
class Backend {
 public:
  virtual ~Backend() = default;

  // /pods: every pod bound to this node as the kubelet sees it (full Pod objects).
  virtual std::vector<nlohmann::json> ListPods() = 0;
  // /runningpods/: pods with at least one running container (metadata + spec.containers
  // names/images are enough).
  virtual std::vector<nlohmann::json> RunningPods() = 0;

  // The log file of `container` in `pod`; previous=true: of its last terminated instance.
  // NotFound if the pod/container (or previous instance) does not exist.
  virtual absl::StatusOr<LogLocation> ContainerLog(const PodRef& pod, const std::string& container,
                                                   bool previous) = 0;
  // While following, polled about once a second; following stops once this returns false.
  virtual bool IsContainerRunning(const std::string& container_id) = 0;

  // Validates and prepares an exec (request.command non-empty) or attach. NotFound for a
  // missing pod/container, FailedPrecondition for a container that is not running.
  // For containerd: call the CRI Exec/Attach RPC, then return NewCriCommandSession(url, request)
  // (korral/kubelet/server/cri_stream.h), which speaks SPDY remotecommand to the runtime's
  // streaming server.
  virtual absl::StatusOr<std::unique_ptr<CommandSession>> Exec(const ExecRequest& request) = 0;
  virtual absl::StatusOr<std::unique_ptr<CommandSession>> Attach(const ExecRequest& request) = 0;

  // Validates and prepares a port-forward to `pod` (NotFound / FailedPrecondition as above).
  // For containerd: the CRI PortForward RPC, then NewCriPortForwarder(url) (cri_stream.h).
  virtual absl::StatusOr<std::unique_ptr<PortForwarder>> PortForward(const PodRef& pod) = 0;
};

// Checks who may use the server. Returns OkStatus to allow; PermissionDenied -> 403,
// Unauthenticated -> 401.
using Authorizer = std::function<absl::Status(const http::Request& request)>;

struct Options {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 10250;  // 0 picks a free port
  std::string cert_pem;   // serving certificate (SANs: node IPs / hostname)
  std::string key_pem;
  // When set, the pair presented at each handshake (rotated serving certificates); see
  // http::ServerOptions::certificate_source.
  std::function<std::pair<std::string, std::string>()> certificate_source;
  std::string client_ca_pem;  // CA that signs the apiserver's kubelet-client certificate
  // Default when unset: allow requests that presented a client certificate verified against
  // client_ca_pem, reject others with 401. The agent uses NewApiAuthorizer (auth.h):
  // TokenReview/SubjectAccessReview through the API, as upstream's webhook modes.
  Authorizer authorize;
  Backend* backend = nullptr;  // not owned; must outlive the server
};

class KubeletServer {
 public:
  virtual ~KubeletServer() = default;
  // Registers an extra handler for GET `path` exactly, or for every path under it when `path`
  // ends in '/' (e.g. "/stats/summary", "/metrics/cadvisor"). Call before Start.
  virtual void Handle(std::string path, http::Handler handler) = 0;
  virtual absl::Status Start() = 0;
  // Stops serving; open streams are closed.
  virtual void Stop() = 0;
  virtual uint16_t port() const = 0;
};

std::unique_ptr<KubeletServer> NewKubeletServer(Options options);

}  // namespace korral::kubelet::server
