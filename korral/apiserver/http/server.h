// korral/apiserver/http/server.h: the HTTPS/1.1 server the apiserver (and later the kubelet)
// serves on.
//
// Model: Boost.Beast over Asio with OpenSSL. A few I/O threads own the sockets; each complete
// request is handed to `Handler` on a worker pool, where it may block (on storage, for
// instance). A handler answers with a plain body (sent with Content-Length) or with a
// StreamBody (sent chunked: watches, log follow), which pushes chunks from any thread until it
// closes. Keep-alive, pipelining-safe ordering and backpressure are the server's job.
//
// TLS: the server presents cert/key; when client_ca_pem is set it asks for (but does not
// require) a client certificate and verifies it against that CA; the verified subject is in
// Request::client_cert.
//
// Malformed HTTP gets 400 and bodies over max_body_bytes get 413, each built by
// `error_response` so that they carry a Kubernetes Status. Thread-safe: Start/Stop from one
// thread; handlers run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "korral/apiserver/http/conn.h"

namespace korral::http {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct ClientCertificate {
  std::string common_name;                 // subject CN
  std::vector<std::string> organizations;  // subject O, in order
};

// State an admission hook (ServerOptions::admit) attaches to a request, e.g. an in-flight
// slot; it is released when the request is destroyed, right after its handler returned.
struct Admission {
  virtual ~Admission() = default;
  bool over_limit = false;  // the hook found the server over its limit for this request
};

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // raw request target, e.g. "/api/v1/pods?limit=500"
  std::string path;    // percent-decoded path without the query
  HeaderList query;    // decoded query parameters, in order, repeats kept
  HeaderList headers;  // as received; names compare case-insensitively
  std::string body;    // whole body (bounded by max_body_bytes)
  std::optional<ClientCertificate> client_cert;  // set when a verified client cert was shown
  std::string client_cert_error;  // a client cert was shown but did not verify: the reason
  std::string remote_address;     // "ip:port"
  // Set by ServerOptions::admit, if any.
  std::shared_ptr<Admission> admission;

  // First header with this name (case-insensitive), or "".
  std::string_view Header(std::string_view name) const;
  // First query parameter with this name, or nullopt.
  std::optional<std::string_view> Query(std::string_view name) const;
  // All query parameters with this name (e.g. repeated `command=`).
  std::vector<std::string_view> QueryAll(std::string_view name) const;
};

// Handed to a StreamBody: pushes chunks to the client. Thread-safe; may be kept past Start.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues one chunk. Returns false once the client is gone or Close was called; then the
  // stream should stop producing.
  virtual bool Write(std::string chunk) = 0;
  // Ends the response (terminating chunk). Idempotent.
  virtual void Close() = 0;
};

// A chunked response body produced over time.
class StreamBody {
 public:
  virtual ~StreamBody() = default;
  // Called once, right after the response headers were sent.
  virtual void Start(std::shared_ptr<StreamWriter> writer) = 0;
  // Called once if the client disconnects before Close (the writer's Write returns false too).
  virtual void OnClientGone() {}
};

// Takes over a connection after a protocol switch (WebSocket, SPDY): the handler answers with
// status 101, the Upgrade/Connection (and protocol) headers and `upgrade` set; the server sends
// that head and then hands the raw connection (TLS already terminated) to Start.
class Upgrade {
 public:
  virtual ~Upgrade() = default;
  // Called once, on a worker thread, after the 101 head was sent; `conn` is owned from then on
  // (closing it closes the client connection). Must return soon: run the session on its own
  // threads. If the client left before the head went out, Start is never called.
  virtual void Start(ConnPtr conn) = 0;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  HeaderList headers;  // extra headers
  std::string body;
  std::shared_ptr<StreamBody> stream;  // when set, `body` is ignored and the reply is chunked
  std::shared_ptr<Upgrade> upgrade;    // with status 101: switch protocols (see Upgrade)
};

using Handler = std::function<Response(Request& request)>;

struct ServerOptions {
  std::string bind_address = "127.0.0.1";
  uint16_t port = 0;  // 0 picks a free port; see Server::port()
  std::string cert_pem;
  std::string key_pem;
  std::string client_ca_pem;  // empty: no client-certificate authentication
  // When set, called at every TLS handshake for the certificate and key (PEM) to present, e.g.
  // a serving certificate rotated while the server runs (the kubelet's). An empty or unusable
  // pair falls back to cert_pem/key_pem.
  std::function<std::pair<std::string, std::string>()> certificate_source;
  size_t max_body_bytes = 3 * 1024 * 1024;
  int io_threads = 2;
  int worker_threads = 32;
  // Request headers larger than this get 431 (through error_response).
  size_t max_header_bytes = 64 * 1024;
  // A keep-alive connection with no request in progress is closed after this long.
  std::chrono::milliseconds idle_timeout = std::chrono::minutes(5);
  // Bounds the TLS handshake, receiving a request's headers once its first byte arrived, each
  // pause while receiving its body, and each pause while sending a response.
  std::chrono::milliseconds request_timeout = std::chrono::seconds(60);
  // A streaming response whose client lets more than this many bytes pile up unsent is dropped
  // (the stream sees OnClientGone).
  size_t max_stream_backlog_bytes = 16 * 1024 * 1024;
  // Builds the reply for errors the server detects itself (400 malformed, 413 too large, 431
  // headers too large, 500 when the handler throws). Unset: a built-in Kubernetes Status JSON.
  std::function<Response(int http_code, std::string_view message)> error_response;
  // When set and true for a request, its handler runs right on the I/O thread instead of the
  // worker pool, saving two thread hand-offs. Only for requests whose handling never blocks
  // (reads served from memory).
  std::function<bool(const Request& request)> run_inline;
  // Called on the I/O thread for every complete request before its handler is scheduled (so
  // requests waiting for a worker count as in flight); may set request.admission. Must not block.
  std::function<void(Request& request)> admit;
};

class Server {
 public:
  virtual ~Server() = default;
  // Binds and starts serving. Returns an error if the address cannot be bound or the TLS
  // material is invalid.
  virtual absl::Status Start() = 0;
  // Stops accepting, closes connections (streams see OnClientGone) and joins all threads.
  virtual void Stop() = 0;
  // The bound port (after Start).
  virtual uint16_t port() const = 0;
};

std::unique_ptr<Server> NewServer(ServerOptions options, Handler handler);

}  // namespace korral::http
