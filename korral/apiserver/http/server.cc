// korral/apiserver/http/server.cc: Beast/Asio/OpenSSL implementation of server.h.
//
// Threading: `io_threads` threads run one io_context. Each connection's socket, timer and state
// live on the connection's strand. Requests are handed to an asio::thread_pool of
// `worker_threads` threads; the handler's Response is posted back to the strand. StreamBody
// Start/OnClientGone run on the pool as well.
//
// Per connection the server processes one request at a time (read -> handler -> write -> read),
// which keeps responses in request order. While a chunked stream is being sent, a small
// "probe" read stays pending so that a client disconnect is noticed even when the stream is
// idle; bytes it receives (a pipelined next request) stay in the read buffer.
//
// Timeouts use one steady_timer per connection (a generation counter makes re-arming safe):
// handshake and in-progress requests get request_timeout, idle keep-alive connections
// idle_timeout, live streams none.
//
// Memory: an idle connection holds its socket, a timer, a parser-free read buffer (shrunk
// between requests) and the TLS state. Asio's ssl::stream allocates two 17 KiB record buffers
// per connection, so an idle watch costs about 40 KiB here, above the 4 KiB target; getting
// below needs a custom TLS layer over OpenSSL memory BIOs.
#include <atomic>
#include <cstring>
#include <deque>
#include <future>
#include <latch>
#include <list>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <nlohmann/json.hpp>

#include "absl/synchronization/mutex.h"
#include "korral/apiserver/http/internal/beast_request.h"
#include "korral/apiserver/http/internal/request_parsing.h"
#include "korral/apiserver/http/server.h"
#include "korral/base/log.h"

namespace korral::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kShutdownTimeout{5};
// After refusing a request whose body is still arriving: drain at most this much, this long.
constexpr std::chrono::seconds kLingerTimeout{5};
constexpr size_t kLingerMaxBytes = 64 * 1024 * 1024;
constexpr size_t kProbeReadBytes = 512;
constexpr size_t kHeaderReadBytes = 4096;
constexpr size_t kBodyReadBytes = 16 * 1024;
constexpr size_t kMaxPipelinedWhileStreaming = 64 * 1024;

Response DefaultErrorResponse(int code, std::string_view message) {
  std::string reason;
  switch (code) {
    case 400:
      reason = "BadRequest";
      break;
    case 413:
      reason = "RequestEntityTooLarge";
      break;
    case 500:
      reason = "InternalError";
      break;
    default:
      reason = "";
  }
  nlohmann::json status = {
      {"kind", "Status"},
      {"apiVersion", "v1"},
      {"metadata", nlohmann::json::object()},
      {"status", "Failure"},
      {"message", std::string(message)},
      {"reason", reason},
      {"code", code},
  };
  Response r;
  r.status = code;
  r.body = status.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

bool SafeHeaderText(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// Why a client certificate the peer showed failed verification ("" if none was shown or it
// verified).
std::string RejectedClientCertReason(SSL* ssl) {
  if (SSL_get0_peer_certificate(ssl) == nullptr) return "";
  long result = SSL_get_verify_result(ssl);
  if (result == X509_V_OK) return "";
  return X509_verify_cert_error_string(result);
}

std::optional<ClientCertificate> VerifiedClientCert(SSL* ssl) {
  X509* peer = SSL_get0_peer_certificate(ssl);
  if (peer == nullptr || SSL_get_verify_result(ssl) != X509_V_OK) return std::nullopt;
  ClientCertificate out;
  X509_NAME* subject = X509_get_subject_name(peer);
  auto entries = [&](int nid) {
    std::vector<std::string> values;
    int idx = -1;
    while ((idx = X509_NAME_get_index_by_NID(subject, nid, idx)) >= 0) {
      ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, idx));
      unsigned char* utf8 = nullptr;
      int len = ASN1_STRING_to_UTF8(&utf8, data);
      if (len >= 0) {
        values.emplace_back(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
        OPENSSL_free(utf8);
      }
    }
    return values;
  };
  std::vector<std::string> cns = entries(NID_commonName);
  if (!cns.empty()) out.common_name = cns.back();
  out.organizations = entries(NID_organizationName);
  return out;
}

std::string FormatEndpoint(const tcp::endpoint& ep) {
  if (ep.address().is_v6())
    return "[" + ep.address().to_string() + "]:" + std::to_string(ep.port());
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

class ServerImpl;
class Connection;

// Shared between a connection (strand side) and the StreamBody's producer threads.
class StreamWriterImpl : public StreamWriter {
 public:
  StreamWriterImpl(std::weak_ptr<Connection> conn, size_t max_backlog)
      : conn_(std::move(conn)), max_backlog_(max_backlog) {}

  bool Write(std::string chunk) override;
  void Close() override;

  // Strand side. Takes the queued chunks; sets *closed if Close was called.
  std::deque<std::string> Take(bool* closed) {
    absl::MutexLock lock(&mu_);
    flush_posted_ = false;
    *closed = closed_;
    return std::exchange(pending_, {});
  }
  void Sent(size_t bytes) {
    absl::MutexLock lock(&mu_);
    backlog_ -= std::min(backlog_, bytes);
  }
  // Marks the client gone; returns true the first time (and only if Close was not reached).
  bool MarkGone() {
    absl::MutexLock lock(&mu_);
    bool first = !gone_ && !closed_;
    gone_ = true;
    pending_.clear();
    return first;
  }
  bool overflowed() {
    absl::MutexLock lock(&mu_);
    return overflowed_;
  }

  // Start/OnClientGone sequencing: OnClientGone must not overtake Start.
  void RunStart(const std::shared_ptr<StreamBody>& body,
                const std::shared_ptr<StreamWriterImpl>& self) {
    body->Start(self);
    bool notify;
    {
      absl::MutexLock lock(&mu_);
      started_ = true;
      notify = gone_notify_pending_;
      gone_notify_pending_ = false;
    }
    if (notify) body->OnClientGone();
  }
  // Returns true if OnClientGone may run now; otherwise RunStart will call it.
  bool ReadyForGoneNotification() {
    absl::MutexLock lock(&mu_);
    if (started_ || !start_posted_) return true;
    gone_notify_pending_ = true;
    return false;
  }
  void MarkStartPosted() {
    absl::MutexLock lock(&mu_);
    start_posted_ = true;
  }

 private:
  bool PostFlush();

  const std::weak_ptr<Connection> conn_;
  const size_t max_backlog_;
  absl::Mutex mu_;
  std::deque<std::string> pending_ ABSL_GUARDED_BY(mu_);
  size_t backlog_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_ ABSL_GUARDED_BY(mu_) = false;
  bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  bool flush_posted_ ABSL_GUARDED_BY(mu_) = false;
  bool start_posted_ ABSL_GUARDED_BY(mu_) = false;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool gone_notify_pending_ ABSL_GUARDED_BY(mu_) = false;
};

class ServerImpl : public Server {
 public:
  ServerImpl(ServerOptions options, Handler handler)
      : options_(std::move(options)), handler_(std::move(handler)) {
    if (!options_.error_response) options_.error_response = DefaultErrorResponse;
    if (options_.io_threads < 1) options_.io_threads = 1;
    if (options_.worker_threads < 1) options_.worker_threads = 1;
  }
  ~ServerImpl() override {
    Stop();
    X509_free(source_cert_);
    EVP_PKEY_free(source_key_);
  }

  absl::Status Start() override;
  void Stop() override;
  uint16_t port() const override { return port_; }

  const ServerOptions& options() const { return options_; }
  ssl::context& tls() { return *tls_; }
  bool stopping() const { return stopping_.load(); }

  // Runs the handler, turning a throw into a 500.
  Response CallHandler(Request& request) {
    try {
      return handler_(request);
    } catch (const std::exception& e) {
      KLOG(Error, "http: handler for {} {} threw: {}", request.method, request.path, e.what());
    } catch (...) {
      KLOG(Error, "http: handler for {} {} threw", request.method, request.path);
    }
    return options_.error_response(500, "internal error");
  }

  // True when the request may be handled on the calling I/O thread.
  bool Inline(const Request& request) const {
    return options_.run_inline && options_.run_inline(request);
  }

  // Runs the handler on the pool; `done` is called there with the response.
  template <typename Done>
  void RunHandler(Request request, Done done) {
    {
      absl::MutexLock lock(&mu_);
      ++inflight_;
    }
    asio::post(*pool_, [this, request = std::move(request), done = std::move(done)]() mutable {
      done(CallHandler(request));
    });
  }
  // Called (on the connection strand) once a RunHandler result has been consumed.
  void HandlerFinished() {
    absl::MutexLock lock(&mu_);
    --inflight_;
  }

  void PostToPool(std::function<void()> fn) { asio::post(*pool_, std::move(fn)); }

  void Unregister(Connection* conn) {
    absl::MutexLock lock(&mu_);
    connections_.erase(conn);
  }

  // SSL_CTX cert_cb: presents options_.certificate_source()'s pair (parsed once per change).
  static int SelectCertificate(SSL* ssl, void* arg) {
    auto* self = static_cast<ServerImpl*>(arg);
    std::pair<std::string, std::string> pem = self->options_.certificate_source();
    if (pem.first.empty()) return 1;  // the context's certificate
    absl::MutexLock lock(&self->cert_mu_);
    if (pem.first != self->source_cert_pem_) {
      BIO* cb = BIO_new_mem_buf(pem.first.data(), static_cast<int>(pem.first.size()));
      X509* cert = cb ? PEM_read_bio_X509(cb, nullptr, nullptr, nullptr) : nullptr;
      BIO_free(cb);
      BIO* kb = BIO_new_mem_buf(pem.second.data(), static_cast<int>(pem.second.size()));
      EVP_PKEY* key = kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
      BIO_free(kb);
      bool ok = cert != nullptr && key != nullptr && X509_check_private_key(cert, key) == 1;
      ERR_clear_error();
      if (!ok) {
        X509_free(cert);
        EVP_PKEY_free(key);
        return 1;  // unusable: the context's certificate
      }
      X509_free(self->source_cert_);
      EVP_PKEY_free(self->source_key_);
      self->source_cert_ = cert;
      self->source_key_ = key;
      self->source_cert_pem_ = std::move(pem.first);
    }
    if (SSL_use_certificate(ssl, self->source_cert_) != 1 ||
        SSL_use_PrivateKey(ssl, self->source_key_) != 1) {
      ERR_clear_error();
      return 0;
    }
    return 1;
  }

 private:
  void DoAccept();

  // The last certificate_source() pair, parsed.
  absl::Mutex cert_mu_;
  std::string source_cert_pem_ ABSL_GUARDED_BY(cert_mu_);
  X509* source_cert_ ABSL_GUARDED_BY(cert_mu_) = nullptr;
  EVP_PKEY* source_key_ ABSL_GUARDED_BY(cert_mu_) = nullptr;

  ServerOptions options_;
  Handler handler_;
  std::unique_ptr<ssl::context> tls_;
  std::unique_ptr<asio::io_context> ioc_;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<asio::steady_timer> accept_retry_;
  std::optional<asio::thread_pool> pool_;
  std::vector<std::thread> io_threads_;
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  uint16_t port_ = 0;

  absl::Mutex mu_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_ ABSL_GUARDED_BY(mu_);
  int inflight_ ABSL_GUARDED_BY(mu_) = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(ServerImpl* server, tcp::socket socket)
      : server_(server), timer_(socket.get_executor()), stream_(std::move(socket), server->tls()) {
    boost::system::error_code ec;
    tcp::endpoint ep = beast::get_lowest_layer(stream_).remote_endpoint(ec);
    if (!ec) remote_ = FormatEndpoint(ep);
  }

  void Run() {
    asio::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->DoHandshake(); });
  }

  // From any thread: closes the connection on its strand; `done` runs after that.
  void Shutdown(std::function<void()> done) {
    asio::post(stream_.get_executor(), [self = shared_from_this(), done = std::move(done)] {
      self->Close();
      done();
    });
  }

  // From any thread (StreamWriterImpl).
  void PostFlush() {
    asio::post(stream_.get_executor(), [self = shared_from_this()] { self->FlushStream(); });
  }

 private:
  // ---- timer ----
  void ArmTimer(Clock::duration d) { ArmTimerAt(Clock::now() + d); }
  void ArmTimerAt(Clock::time_point deadline) {
    uint64_t gen = ++timer_gen_;
    timer_.expires_at(deadline);
    timer_.async_wait([weak = weak_from_this(), gen](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock(); self && self->timer_gen_ == gen) self->Close();
    });
  }
  void DisarmTimer() {
    ++timer_gen_;
    timer_.cancel();
  }

  // ---- TLS ----
  void DoHandshake() {
    if (closed_) return;
    ArmTimer(server_->options().request_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            [self = shared_from_this()](const boost::system::error_code& ec) {
                              self->OnHandshake(ec);
                            });
  }
  void OnHandshake(const boost::system::error_code& ec) {
    if (closed_) return;
    if (ec) {
      KLOG(Debug, "http: TLS handshake with {} failed: {}", remote_, ec.message());
      Close();
      return;
    }
    client_cert_ = VerifiedClientCert(stream_.native_handle());
    client_cert_error_ = RejectedClientCertReason(stream_.native_handle());
    DoRead();
  }

  // ---- requests ----
  // Reads raw bytes into buffer_ and feeds the parser by hand (rather than
  // beast::http::async_read_some, which completes only once the parser makes progress), so
  // that the header deadline starts with the request's first byte.
  void DoRead() {
    if (closed_) return;
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    parser_.emplace();
    internal::ConfigureParser(*parser_, server_->options().max_body_bytes,
                              server_->options().max_header_bytes);
    parser_->eager(true);
    header_started_ = false;
    continue_sent_ = false;
    Parse();
  }
  void ReadSome() {
    if (parser_->is_header_done()) {
      ArmTimer(server_->options().request_timeout);
    } else if (header_started_) {
      ArmTimerAt(header_deadline_);
    } else {
      ArmTimer(server_->options().idle_timeout);
    }
    size_t want = parser_->is_header_done() ? kBodyReadBytes : kHeaderReadBytes;
    stream_.async_read_some(
        buffer_.prepare(want),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (self->closed_) return;
          self->buffer_.commit(n);
          if (ec) {
            // EOF, reset, TLS truncation, timeout: nothing to answer.
            self->Close();
            return;
          }
          self->Parse();
        });
  }
  void Parse() {
    boost::system::error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      size_t used = parser_->put(buffer_.data(), ec);
      buffer_.consume(used);
      if (ec == bhttp::error::need_more) {
        ec = {};
        break;
      }
      if (ec || used == 0) break;
    }
    // Unconsumed bytes are a partial header or chunk-size line; bound how many may pile up.
    if (!ec && buffer_.size() > server_->options().max_header_bytes) {
      ec = parser_->is_header_done() ? bhttp::error::bad_chunk : bhttp::error::header_limit;
    }
    if (!header_started_ && (buffer_.size() > 0 || parser_->got_some())) {
      header_started_ = true;
      header_deadline_ = Clock::now() + server_->options().request_timeout;
    }
    if (ec) {
      absl::Status st = internal::ClassifyReadError(ec);
      int code = internal::HttpStatusFor(st);
      if (code == 0) {
        Close();
      } else {
        DisarmTimer();
        keep_alive_ = false;
        head_ = false;
        // The client may still be sending the rest of a body we refused (413): read and drop
        // it for a while before closing, so it sees our answer instead of a reset.
        linger_ = code == 413 || parser_->is_header_done();
        SendResponse(server_->options().error_response(code, std::string(st.message())));
      }
      return;
    }
    if (!parser_->is_done()) {
      if (parser_->is_header_done() && !continue_sent_) {
        continue_sent_ = true;
        auto expect = parser_->get().find(bhttp::field::expect);
        if (expect != parser_->get().end() &&
            beast::iequals(expect->value(), std::string_view("100-continue"))) {
          static const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
          ArmTimer(server_->options().request_timeout);
          asio::async_write(
              stream_, asio::buffer(kContinue),
              [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                if (self->closed_) return;
                if (ec) {
                  self->Close();
                } else {
                  self->ReadSome();
                }
              });
          return;
        }
      }
      ReadSome();
      return;
    }
    DisarmTimer();
    keep_alive_ = parser_->get().keep_alive();
    head_ = parser_->get().method() == bhttp::verb::head;
    Request request;
    absl::Status st = internal::BuildRequest(parser_->release(), &request);
    parser_.reset();
    if (!st.ok()) {
      keep_alive_ = false;
      head_ = false;
      SendResponse(server_->options().error_response(400, std::string(st.message())));
      return;
    }
    request.remote_address = remote_;
    request.client_cert = client_cert_;
    request.client_cert_error = client_cert_error_;
    if (buffer_.size() == 0) buffer_.shrink_to_fit();
    if (server_->options().admit) server_->options().admit(request);
    if (server_->Inline(request)) {
      SendResponse(server_->CallHandler(request));
      return;
    }
    server_->RunHandler(std::move(request), [self = shared_from_this()](Response response) {
      asio::post(self->stream_.get_executor(), [self, response = std::move(response)]() mutable {
        self->SendResponse(std::move(response));
        self->server_->HandlerFinished();
      });
    });
  }

  // ---- responses ----
  void SendResponse(Response response) {
    if (closed_) {
      if (response.stream) {
        // Never started; the handler may still have registered something to clean up.
        auto body = response.stream;
        server_->PostToPool([body] { body->OnClientGone(); });
      }
      return;
    }
    bool keep = keep_alive_ && !server_->stopping();
    int status = response.status;
    if (status < 100 || status > 999) status = 500;
    if (response.stream) {
      StartStream(std::move(response), status, keep);
      return;
    }
    if (response.upgrade && status == 101) {
      SwitchProtocols(std::move(response));
      return;
    }
    auto msg = std::make_shared<bhttp::response<bhttp::string_body>>();
    msg->version(11);
    msg->result(static_cast<unsigned>(status));
    if (!response.content_type.empty() && SafeHeaderText(response.content_type))
      msg->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      if (!name.empty() && SafeHeaderText(name) && SafeHeaderText(value)) msg->insert(name, value);
    }
    msg->keep_alive(keep);
    bool no_body = (status >= 100 && status < 200) || status == 204 || status == 304;
    if (!no_body) {
      msg->content_length(response.body.size());
      if (!head_) msg->body() = std::move(response.body);
    }
    head_ = false;
    ArmTimer(server_->options().request_timeout);
    bhttp::async_write(
        stream_, *msg,
        [self = shared_from_this(), msg, keep](const boost::system::error_code& ec, size_t) {
          if (self->closed_) return;
          self->DisarmTimer();
          if (ec) {
            self->Close();
          } else if (keep) {
            self->DoRead();
          } else if (self->linger_) {
            self->Linger(0);
          } else {
            self->GracefulClose();
          }
        });
  }

  void StartStream(Response response, int status, bool keep) {
    stream_keep_ = keep;
    stream_body_ = std::move(response.stream);
    writer_ = std::make_shared<StreamWriterImpl>(weak_from_this(),
                                                 server_->options().max_stream_backlog_bytes);
    self_while_streaming_ = shared_from_this();
    final_sent_ = false;
    auto hdr = std::make_shared<bhttp::response<bhttp::empty_body>>();
    hdr->version(11);
    hdr->result(static_cast<unsigned>(status));
    if (!response.content_type.empty() && SafeHeaderText(response.content_type))
      hdr->set(bhttp::field::content_type, response.content_type);
    for (const auto& [name, value] : response.headers) {
      if (!name.empty() && SafeHeaderText(name) && SafeHeaderText(value)) hdr->insert(name, value);
    }
    hdr->keep_alive(keep);
    hdr->chunked(true);
    auto sr = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*hdr);
    ArmTimer(server_->options().request_timeout);
    bhttp::async_write_header(
        stream_, *sr,
        [self = shared_from_this(), hdr, sr](const boost::system::error_code& ec, size_t) {
          if (self->closed_) return;
          self->DisarmTimer();
          if (ec) {
            self->Close();
            return;
          }
          self->writer_->MarkStartPosted();
          self->server_->PostToPool([body = self->stream_body_, writer = self->writer_] {
            writer->RunStart(body, writer);
          });
          self->StartProbe();
          self->FlushStream();
        });
  }

  void FlushStream() {
    if (closed_ || !writer_ || stream_writing_ || final_sent_) return;
    if (writer_->overflowed()) {
      KLOG(Warning, "http: dropping stream to {}: client is not reading", remote_);
      Close();
      return;
    }
    bool closed = false;
    std::deque<std::string> chunks = writer_->Take(&closed);
    size_t total = 0;
    size_t payload = 0;
    for (const std::string& c : chunks) total += c.size() + 16;
    auto out = std::make_shared<std::string>();
    out->reserve(total + (closed ? 5 : 0));
    for (const std::string& c : chunks) {
      char size_line[24];
      int n = std::snprintf(size_line, sizeof size_line, "%zx\r\n", c.size());
      out->append(size_line, static_cast<size_t>(n));
      out->append(c);
      out->append("\r\n");
      payload += c.size();
    }
    if (closed) {
      out->append("0\r\n\r\n");
      final_sent_ = true;
    }
    if (out->empty()) {
      // Drained: stop the write deadline of the burst that just ended.
      if (timer_gen_ == stream_timer_gen_) DisarmTimer();
      return;
    }
    stream_writing_ = true;
    // One deadline covers a burst of back-to-back writes: re-arming per write cost two timer
    // operations and two aborted-wait handlers per event per watcher in fan-outs.
    if (timer_gen_ != stream_timer_gen_) {
      ArmTimer(server_->options().request_timeout);
      stream_timer_gen_ = timer_gen_;
    }
    asio::async_write(
        stream_, asio::buffer(*out),
        [self = shared_from_this(), out, payload](const boost::system::error_code& ec, size_t) {
          self->stream_writing_ = false;
          if (self->closed_) return;
          if (ec) {
            self->Close();
            return;
          }
          self->writer_->Sent(payload);
          if (self->final_sent_) {
            self->DisarmTimer();
            self->EndStream();
          } else {
            self->FlushStream();
          }
        });
  }

  void EndStream() {
    writer_.reset();
    stream_body_.reset();
    auto keep_me = std::move(self_while_streaming_);
    if (!stream_keep_) {
      // A TLS shutdown would need to read while the probe read is pending: close hard.
      if (probe_pending_) {
        Close();
      } else {
        GracefulClose();
      }
    } else if (probe_pending_) {
      // The probe read completes when the client sends its next request (or goes away).
      read_after_probe_ = true;
      ArmTimer(server_->options().idle_timeout);
    } else {
      DoRead();
    }
  }

  void StartProbe() {
    if (closed_ || probe_pending_ || buffer_.size() >= kMaxPipelinedWhileStreaming) return;
    probe_pending_ = true;
    stream_.async_read_some(
        buffer_.prepare(kProbeReadBytes),
        [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          self->probe_pending_ = false;
          if (self->closed_) return;
          if (ec) {
            self->Close();
            return;
          }
          self->buffer_.commit(n);
          if (self->read_after_probe_) {
            self->read_after_probe_ = false;
            self->DoRead();
          } else if (self->writer_ && self->buffer_.size() == 0) {
            self->StartProbe();
          }
          // Otherwise the client already sent its next request while the stream was still
          // being written: it stays buffered, and EndStream (no probe pending) parses it.
        });
  }

  // ---- protocol switch (101) ----
  void SwitchProtocols(Response response) {
    auto head = std::make_shared<std::string>("HTTP/1.1 101 Switching Protocols\r\n");
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || !SafeHeaderText(name) || !SafeHeaderText(value)) continue;
      head->append(name).append(": ").append(value).append("\r\n");
    }
    head->append("\r\n");
    hijacked_ = true;
    ArmTimer(server_->options().request_timeout);
    asio::async_write(stream_, asio::buffer(*head),
                      [self = shared_from_this(), head, upgrade = std::move(response.upgrade)](
                          const boost::system::error_code& ec, size_t) {
                        if (self->closed_) return;
                        self->DisarmTimer();
                        if (ec) {
                          self->Close();
                          return;
                        }
                        self->server_->PostToPool([self, upgrade] {
                          upgrade->Start(std::make_unique<HijackedConn>(self));
                        });
                      });
  }

  // The raw connection after a 101, driven from blocking callers: every operation is posted to
  // the strand and awaited. One reader and one writer may be in flight at once (asio's SSL
  // stream allows one read and one write outstanding).
  class HijackedConn : public Conn {
   public:
    explicit HijackedConn(std::shared_ptr<Connection> conn) : conn_(std::move(conn)) {}
    ~HijackedConn() override { Close(); }

    absl::StatusOr<size_t> Read(char* buf, size_t n) override {
      if (n == 0) return size_t{0};
      struct State {
        std::promise<std::pair<boost::system::error_code, size_t>> done;
        std::string data;
      };
      auto st = std::make_shared<State>();
      st->data.resize(std::min<size_t>(n, 64 * 1024));
      auto fut = st->done.get_future();
      asio::post(conn_->stream_.get_executor(), [c = conn_, st] {
        if (c->closed_) {
          st->done.set_value({asio::error::operation_aborted, 0});
          return;
        }
        if (c->buffer_.size() > 0) {  // bytes that arrived right behind the upgrade request
          size_t k = asio::buffer_copy(asio::buffer(st->data), c->buffer_.data());
          c->buffer_.consume(k);
          st->done.set_value({{}, k});
          return;
        }
        c->stream_.async_read_some(asio::buffer(st->data),
                                   [st](const boost::system::error_code& ec, size_t k) {
                                     st->done.set_value({ec, k});
                                   });
      });
      auto [ec, k] = Await(fut);
      if (k > 0) {
        std::memcpy(buf, st->data.data(), k);
        return k;
      }
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated) return size_t{0};
      return absl::UnavailableError(ec ? ec.message() : "connection closed");
    }

    absl::Status Write(std::string_view data) override {
      if (data.empty()) return absl::OkStatus();
      auto copy = std::make_shared<std::string>(data);
      auto done = std::make_shared<std::promise<std::pair<boost::system::error_code, size_t>>>();
      auto fut = done->get_future();
      asio::post(conn_->stream_.get_executor(), [c = conn_, copy, done] {
        if (c->closed_) {
          done->set_value({asio::error::operation_aborted, 0});
          return;
        }
        asio::async_write(c->stream_, asio::buffer(*copy),
                          [copy, done](const boost::system::error_code& ec, size_t k) {
                            done->set_value({ec, k});
                          });
      });
      auto [ec, k] = Await(fut);
      if (ec) return absl::UnavailableError(ec.message());
      return absl::OkStatus();
    }

    void Close() override {
      if (closed_.exchange(true)) return;
      asio::post(conn_->stream_.get_executor(), [c = conn_] { c->Close(); });
    }

   private:
    // Waits for a strand operation; gives up if the server stopped its I/O threads (then the
    // operation can never complete).
    std::pair<boost::system::error_code, size_t> Await(
        std::future<std::pair<boost::system::error_code, size_t>>& fut) {
      while (fut.wait_for(std::chrono::milliseconds(500)) != std::future_status::ready) {
        if (conn_->server_->stopping() && conn_->closed_) {
          return {asio::error::operation_aborted, 0};
        }
      }
      return fut.get();
    }

    std::shared_ptr<Connection> conn_;
    std::atomic<bool> closed_{false};
  };

  // ---- closing ----
  // Discards what the client still sends (bounded in bytes and time), then closes.
  void Linger(size_t drained) {
    if (closed_) return;
    if (drained == 0) ArmTimer(kLingerTimeout);
    if (drained > kLingerMaxBytes) {
      GracefulClose();
      return;
    }
    buffer_.consume(buffer_.size());
    stream_.async_read_some(
        buffer_.prepare(kBodyReadBytes),
        [self = shared_from_this(), drained](const boost::system::error_code& ec, size_t n) {
          if (self->closed_) return;
          if (ec) {
            self->Close();
            return;
          }
          self->Linger(drained + n);
        });
  }

  void GracefulClose() {
    if (closed_) return;
    ArmTimer(kShutdownTimeout);
    stream_.async_shutdown(
        [self = shared_from_this()](const boost::system::error_code&) { self->Close(); });
  }

  void Close() {
    if (closed_) return;
    closed_ = true;
    DisarmTimer();
    boost::system::error_code ignored;
    auto& sock = beast::get_lowest_layer(stream_);
    sock.shutdown(tcp::socket::shutdown_both, ignored);
    sock.close(ignored);
    if (writer_) {
      std::shared_ptr<StreamWriterImpl> writer = std::move(writer_);
      std::shared_ptr<StreamBody> body = std::move(stream_body_);
      if (!final_sent_ && writer->MarkGone() && writer->ReadyForGoneNotification()) {
        server_->PostToPool([body] { body->OnClientGone(); });
      }
    }
    server_->Unregister(this);
    self_while_streaming_.reset();
  }

  ServerImpl* const server_;
  asio::steady_timer timer_;
  uint64_t timer_gen_ = 0;
  beast::ssl_stream<tcp::socket> stream_;
  beast::flat_buffer buffer_;
  std::optional<internal::BeastParser> parser_;
  std::string remote_;
  std::optional<ClientCertificate> client_cert_;
  std::string client_cert_error_;  // a shown certificate that did not verify: why
  std::atomic<bool> closed_{false};
  bool hijacked_ = false;  // after a 101: HijackedConn drives the stream
  bool keep_alive_ = false;
  bool linger_ = false;
  // timer_gen_ value of the deadline armed for the current burst of stream writes.
  uint64_t stream_timer_gen_ = ~uint64_t{0};
  bool head_ = false;
  bool header_started_ = false;
  bool continue_sent_ = false;
  Clock::time_point header_deadline_;
  // Streaming state.
  std::shared_ptr<StreamWriterImpl> writer_;
  std::shared_ptr<StreamBody> stream_body_;
  std::shared_ptr<Connection> self_while_streaming_;
  bool stream_keep_ = false;
  bool stream_writing_ = false;
  bool final_sent_ = false;
  bool probe_pending_ = false;
  bool read_after_probe_ = false;
};

bool StreamWriterImpl::Write(std::string chunk) {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || gone_) return false;
    if (chunk.empty()) return true;  // an empty chunk would end the response
    backlog_ += chunk.size();
    if (backlog_ > max_backlog_) {
      overflowed_ = true;
      pending_.clear();
    } else {
      pending_.push_back(std::move(chunk));
    }
  }
  return PostFlush();
}

void StreamWriterImpl::Close() {
  {
    absl::MutexLock lock(&mu_);
    if (closed_ || gone_) return;
    closed_ = true;
  }
  PostFlush();
}

bool StreamWriterImpl::PostFlush() {
  {
    absl::MutexLock lock(&mu_);
    if (flush_posted_) return !gone_;
    flush_posted_ = true;
  }
  if (auto conn = conn_.lock()) {
    conn->PostFlush();
    return true;
  }
  absl::MutexLock lock(&mu_);
  gone_ = true;
  return false;
}

absl::Status ServerImpl::Start() {
  if (started_) return absl::FailedPreconditionError("server already started");
  // TLS material.
  tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
  SSL_CTX* ctx = tls_->native_handle();
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  boost::system::error_code ec;
  tls_->use_certificate_chain(asio::buffer(options_.cert_pem), ec);
  if (ec) return absl::InvalidArgumentError("invalid server certificate: " + ec.message());
  tls_->use_private_key(asio::buffer(options_.key_pem), ssl::context::pem, ec);
  if (ec) return absl::InvalidArgumentError("invalid server key: " + ec.message());
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("server key does not match certificate");
  }
  if (options_.certificate_source) {
    SSL_CTX_set_cert_cb(ctx, &ServerImpl::SelectCertificate, this);
  }
  if (!options_.client_ca_pem.empty()) {
    BIO* bio = BIO_new_mem_buf(options_.client_ca_pem.data(),
                               static_cast<int>(options_.client_ca_pem.size()));
    int count = 0;
    while (X509* ca = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
      X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), ca);
      SSL_CTX_add_client_CA(ctx, ca);
      X509_free(ca);
      ++count;
    }
    BIO_free(bio);
    ERR_clear_error();
    if (count == 0) return absl::InvalidArgumentError("client_ca_pem holds no certificate");
    // Ask for a certificate, verify it if one is sent, but do not require one.
    // A certificate that does not verify does not fail the handshake: the request carries
    // client_cert_error and the apiserver answers 401, as upstream does.
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, [](int, X509_STORE_CTX*) { return 1; });
    static const unsigned char kSessionContext[] = "korral-http";
    SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  }

  ioc_ = std::make_unique<asio::io_context>(options_.io_threads);
  asio::ip::address address = asio::ip::make_address(options_.bind_address, ec);
  if (ec) return absl::InvalidArgumentError("invalid bind address: " + options_.bind_address);
  tcp::endpoint endpoint(address, options_.port);
  acceptor_ = std::make_unique<tcp::acceptor>(asio::make_strand(*ioc_));
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    acceptor_.reset();
    ioc_.reset();
    return absl::UnavailableError("cannot listen on " + options_.bind_address + ":" +
                                  std::to_string(options_.port) + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint().port();
  accept_retry_ = std::make_unique<asio::steady_timer>(acceptor_->get_executor());
  started_ = true;
  pool_.emplace(static_cast<size_t>(options_.worker_threads));
  work_.emplace(ioc_->get_executor());
  DoAccept();
  for (int i = 0; i < options_.io_threads; ++i) {
    io_threads_.emplace_back([this] { ioc_->run(); });
  }
  KLOG(Info, "http: serving HTTPS on {}:{}", options_.bind_address, port_);
  return absl::OkStatus();
}

void ServerImpl::DoAccept() {
  acceptor_->async_accept(
      asio::make_strand(*ioc_), [this](const boost::system::error_code& ec, tcp::socket socket) {
        if (stopping_) return;
        if (ec) {
          KLOG(Warning, "http: accept failed: {}", ec.message());
          accept_retry_->expires_after(std::chrono::milliseconds(100));
          accept_retry_->async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !stopping_) DoAccept();
          });
          return;
        }
        socket.set_option(tcp::no_delay(true));
        auto conn = std::make_shared<Connection>(this, std::move(socket));
        {
          absl::MutexLock lock(&mu_);
          connections_.emplace(conn.get(), conn);
        }
        conn->Run();
        DoAccept();
      });
}

void ServerImpl::Stop() {
  if (!started_ || stopping_.exchange(true)) return;
  // 1. Stop accepting.
  {
    std::latch closed(1);
    asio::post(acceptor_->get_executor(), [this, &closed] {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      accept_retry_->cancel();
      closed.count_down();
    });
    closed.wait();
  }
  // 2. Close every connection on its strand (streams get OnClientGone queued on the pool).
  std::vector<std::shared_ptr<Connection>> live;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [ptr, weak] : connections_) {
      if (auto conn = weak.lock()) live.push_back(std::move(conn));
    }
  }
  std::latch all_closed(static_cast<std::ptrdiff_t>(live.size()));
  for (auto& conn : live) conn->Shutdown([&all_closed] { all_closed.count_down(); });
  all_closed.wait();
  live.clear();
  // 3. Wait for running handlers; their responses find closed connections.
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](int* inflight) { return *inflight == 0; }, &inflight_));
  }
  // 4. Stop the I/O threads, then drain the pool (Start/OnClientGone calls).
  work_.reset();
  ioc_->stop();
  for (std::thread& t : io_threads_) t.join();
  io_threads_.clear();
  pool_->join();
  // Drop whatever the stopped io_context still holds (connections, timers).
  acceptor_.reset();
  accept_retry_.reset();
  ioc_.reset();
  pool_.reset();
  KLOG(Info, "http: server on port {} stopped", port_);
}

}  // namespace

std::unique_ptr<Server> NewServer(ServerOptions options, Handler handler) {
  return std::make_unique<ServerImpl>(std::move(options), std::move(handler));
}

}  // namespace korral::http
