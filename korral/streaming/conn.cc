// korral/streaming/conn.cc: TCP/TLS client connections, splicing and in-memory pipes.
//
// TCP connections are plain blocking sockets: one reader and one writer thread may use a socket
// at once. TLS connections cannot be driven that way (an SSL object is not safe for concurrent
// SSL_read/SSL_write), so they run on a process-wide Asio I/O thread: each Read/Write posts an
// async operation to the connection's strand and waits for it.
#include "korral/streaming/conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <future>
#include <mutex>
#include <thread>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include "korral/base/log.h"

namespace korral::streaming {
namespace {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// ---- TCP ----

class TcpConn : public http::Conn {
 public:
  explicit TcpConn(int fd) : fd_(fd) {}
  ~TcpConn() override {
    Close();
    ::close(fd_);
  }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    while (true) {
      if (closed_) return absl::CancelledError("connection closed");
      ssize_t k = ::recv(fd_, buf, n, 0);
      if (k >= 0) {
        if (k == 0 && closed_) return absl::CancelledError("connection closed");
        return static_cast<size_t>(k);
      }
      if (closed_) return absl::CancelledError("connection closed");
      if (errno == EINTR) continue;
      return absl::UnavailableError(std::string("read: ") + std::strerror(errno));
    }
  }

  absl::Status Write(std::string_view data) override {
    while (!data.empty()) {
      if (closed_) return absl::UnavailableError("connection closed");
      ssize_t k = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (k < 0) {
        if (errno == EINTR) continue;
        return absl::UnavailableError(std::string("write: ") + std::strerror(errno));
      }
      data.remove_prefix(static_cast<size_t>(k));
    }
    return absl::OkStatus();
  }

  void CloseWrite() override { ::shutdown(fd_, SHUT_WR); }

  void Close() override {
    if (closed_.exchange(true)) return;
    // Wakes blocked readers/writers; the descriptor itself is closed in the destructor so that
    // it cannot be reused under a thread still inside recv/send.
    ::shutdown(fd_, SHUT_RDWR);
  }

 private:
  const int fd_;
  std::atomic<bool> closed_{false};
};

absl::StatusOr<int> ConnectSocket(const std::string& host, uint16_t port,
                                  std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &res);
  if (rc != 0) {
    return absl::UnavailableError("cannot resolve " + host + ": " + ::gai_strerror(rc));
  }
  std::string last_error = "no address";
  int result = -1;
  for (addrinfo* ai = res; ai != nullptr && result < 0; ai = ai->ai_next) {
    int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last_error = std::strerror(errno);
      continue;
    }
    int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int c = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (c < 0 && errno == EINPROGRESS) {
      pollfd pfd{fd, POLLOUT, 0};
      int p = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
      if (p == 1) {
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        c = err == 0 ? 0 : -1;
        errno = err;
      } else {
        c = -1;
        errno = p == 0 ? ETIMEDOUT : errno;
      }
    }
    if (c == 0) {
      ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      result = fd;
    } else {
      last_error = std::strerror(errno);
      // Go's wording ("connect: connection refused"), which kubectl users know.
      if (!last_error.empty()) last_error[0] = static_cast<char>(std::tolower(last_error[0]));
      ::close(fd);
    }
  }
  ::freeaddrinfo(res);
  if (result < 0) {
    return absl::UnavailableError("dial tcp " + host + ":" + service + ": connect: " + last_error);
  }
  return result;
}

// ---- TLS ----

class IoThread {
 public:
  static IoThread& Get() {
    static IoThread* instance = new IoThread();  // never destroyed: used until exit
    return *instance;
  }
  asio::io_context& ioc() { return ioc_; }

 private:
  IoThread() : work_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) { thread_.detach(); }
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

using OpResult = std::pair<boost::system::error_code, size_t>;

class TlsConn : public http::Conn {
 public:
  TlsConn(std::unique_ptr<ssl::context> ctx, tcp::socket socket)
      : ctx_(std::move(ctx)), stream_(std::move(socket), *ctx_) {}
  ~TlsConn() override { Close(); }

  ssl::stream<tcp::socket>& stream() { return stream_; }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    if (n == 0) return size_t{0};
    auto data = std::make_shared<std::string>(std::min<size_t>(n, 64 * 1024), '\0');
    auto done = std::make_shared<std::promise<OpResult>>();
    auto fut = done->get_future();
    asio::post(stream_.get_executor(), [this, data, done] {
      if (closed_) {
        done->set_value({asio::error::operation_aborted, 0});
        return;
      }
      stream_.async_read_some(asio::buffer(*data),
                              [data, done](const boost::system::error_code& ec, size_t k) {
                                done->set_value({ec, k});
                              });
    });
    auto [ec, k] = fut.get();
    if (k > 0) {
      std::memcpy(buf, data->data(), k);
      return k;
    }
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated) return size_t{0};
    return absl::UnavailableError(ec ? ec.message() : "connection closed");
  }

  absl::Status Write(std::string_view data) override {
    if (data.empty()) return absl::OkStatus();
    auto copy = std::make_shared<std::string>(data);
    auto done = std::make_shared<std::promise<OpResult>>();
    auto fut = done->get_future();
    asio::post(stream_.get_executor(), [this, copy, done] {
      if (closed_) {
        done->set_value({asio::error::operation_aborted, 0});
        return;
      }
      asio::async_write(stream_, asio::buffer(*copy),
                        [copy, done](const boost::system::error_code& ec, size_t k) {
                          done->set_value({ec, k});
                        });
    });
    auto [ec, k] = fut.get();
    if (ec) return absl::UnavailableError(ec.message());
    return absl::OkStatus();
  }

  void Close() override {
    if (closed_.exchange(true)) return;
    std::promise<void> done;
    auto fut = done.get_future();
    asio::post(stream_.get_executor(), [this, &done] {
      boost::system::error_code ignored;
      stream_.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
      stream_.lowest_layer().close(ignored);
      done.set_value();
    });
    fut.wait();
  }

  absl::Status Handshake(const std::string& host, std::chrono::milliseconds timeout) {
    if (!SSL_set_tlsext_host_name(stream_.native_handle(), host.c_str())) ERR_clear_error();
    auto done = std::make_shared<std::promise<boost::system::error_code>>();
    auto fut = done->get_future();
    asio::post(stream_.get_executor(), [this, done] {
      stream_.async_handshake(ssl::stream_base::client,
                              [done](const boost::system::error_code& ec) { done->set_value(ec); });
    });
    if (fut.wait_for(timeout) != std::future_status::ready) {
      Close();
      fut.wait();
      return absl::DeadlineExceededError("TLS handshake timed out");
    }
    boost::system::error_code ec = fut.get();
    if (ec) {
      long verify = SSL_get_verify_result(stream_.native_handle());
      if (verify != X509_V_OK) {
        // As Go's crypto/tls words it (what kube-apiserver reports for a kubelet).
        return absl::UnavailableError("tls: failed to verify certificate: " +
                                      VerifyErrorText(verify, host));
      }
      return absl::UnavailableError("TLS handshake failed: " + ec.message());
    }
    return absl::OkStatus();
  }

  // Go's x509 error text for an OpenSSL verification result on the server's certificate.
  std::string VerifyErrorText(long verify, const std::string& host) {
    switch (verify) {
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
      case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
      case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
      case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
      case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return "x509: certificate signed by unknown authority";
      case X509_V_ERR_CERT_HAS_EXPIRED:
      case X509_V_ERR_CERT_NOT_YET_VALID:
        return "x509: certificate has expired or is not yet valid";
      case X509_V_ERR_HOSTNAME_MISMATCH:
      case X509_V_ERR_IP_ADDRESS_MISMATCH: {
        bool ip = verify == X509_V_ERR_IP_ADDRESS_MISMATCH;
        std::string names;
        STACK_OF(X509)* chain = SSL_get_peer_cert_chain(stream_.native_handle());
        X509* leaf = chain != nullptr && sk_X509_num(chain) > 0 ? sk_X509_value(chain, 0) : nullptr;
        auto* sans = leaf == nullptr ? nullptr
                                     : static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(
                                           leaf, NID_subject_alt_name, nullptr, nullptr));
        for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
          const GENERAL_NAME* gn = sk_GENERAL_NAME_value(sans, i);
          std::string text;
          if (ip && gn->type == GEN_IPADD) {
            const ASN1_OCTET_STRING* a = gn->d.iPAddress;
            char buf[INET6_ADDRSTRLEN] = {};
            int len = ASN1_STRING_length(a);
            if (len == 4 || len == 16) {
              inet_ntop(len == 4 ? AF_INET : AF_INET6, ASN1_STRING_get0_data(a), buf, sizeof buf);
            }
            text = buf;
          } else if (!ip && gn->type == GEN_DNS) {
            text.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(gn->d.dNSName)),
                        static_cast<size_t>(ASN1_STRING_length(gn->d.dNSName)));
          }
          if (!text.empty()) names += (names.empty() ? "" : ", ") + text;
        }
        if (sans != nullptr) GENERAL_NAMES_free(sans);
        if (names.empty()) {
          return ip ? "x509: cannot validate certificate for " + host +
                          " because it doesn't contain any IP SANs"
                    : "x509: certificate is not valid for any names, but wanted to match " + host;
        }
        return "x509: certificate is valid for " + names + ", not " + host;
      }
      default:
        return std::string("x509: ") + X509_verify_cert_error_string(verify);
    }
  }

 private:
  std::unique_ptr<ssl::context> ctx_;
  ssl::stream<tcp::socket> stream_;
  std::atomic<bool> closed_{false};
};

// ---- pipe ----

struct PipeBuffer {
  std::mutex mu;
  std::condition_variable cv;
  std::string data;
  bool eof = false;
  bool broken = false;
};

class PipeConn : public http::Conn {
 public:
  PipeConn(std::shared_ptr<PipeBuffer> in, std::shared_ptr<PipeBuffer> out)
      : in_(std::move(in)), out_(std::move(out)) {}
  ~PipeConn() override { Close(); }

  absl::StatusOr<size_t> Read(char* buf, size_t n) override {
    std::unique_lock lock(in_->mu);
    in_->cv.wait(lock, [&] { return !in_->data.empty() || in_->eof || in_->broken; });
    if (in_->broken && in_->data.empty()) return absl::UnavailableError("pipe closed");
    size_t k = std::min(n, in_->data.size());
    std::memcpy(buf, in_->data.data(), k);
    in_->data.erase(0, k);
    return k;
  }
  absl::Status Write(std::string_view data) override {
    std::lock_guard lock(out_->mu);
    if (out_->broken || out_->eof) return absl::UnavailableError("pipe closed");
    out_->data.append(data);
    out_->cv.notify_all();
    return absl::OkStatus();
  }
  void CloseWrite() override {
    std::lock_guard lock(out_->mu);
    out_->eof = true;
    out_->cv.notify_all();
  }
  void Close() override {
    for (auto* b : {in_.get(), out_.get()}) {
      std::lock_guard lock(b->mu);
      b->broken = true;
      b->cv.notify_all();
    }
  }

 private:
  std::shared_ptr<PipeBuffer> in_, out_;
};

}  // namespace

absl::StatusOr<http::ConnPtr> DialTcp(const std::string& host, uint16_t port,
                                      std::chrono::milliseconds timeout) {
  auto fd = ConnectSocket(host, port, timeout);
  if (!fd.ok()) return fd.status();
  return std::make_unique<TcpConn>(*fd);
}

absl::StatusOr<http::ConnPtr> DialTls(const std::string& host, uint16_t port,
                                      const TlsClientOptions& options,
                                      std::chrono::milliseconds timeout) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  boost::system::error_code ec;
  if (!options.ca_pem.empty()) {
    ctx->add_certificate_authority(asio::buffer(options.ca_pem), ec);
    if (ec) return absl::InvalidArgumentError("invalid CA certificate: " + ec.message());
    ctx->set_verify_mode(ssl::verify_peer);
  } else {
    ctx->set_verify_mode(ssl::verify_none);
  }
  if (!options.cert_pem.empty()) {
    ctx->use_certificate_chain(asio::buffer(options.cert_pem), ec);
    if (!ec) ctx->use_private_key(asio::buffer(options.key_pem), ssl::context::pem, ec);
    if (ec) return absl::InvalidArgumentError("invalid client certificate: " + ec.message());
  }
  auto fd = ConnectSocket(host, port, timeout);
  if (!fd.ok()) return fd.status();
  auto& ioc = IoThread::Get().ioc();
  tcp::socket socket(asio::make_strand(ioc));
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  ::getsockname(*fd, reinterpret_cast<sockaddr*>(&addr), &len);
  socket.assign(addr.ss_family == AF_INET6 ? tcp::v6() : tcp::v4(), *fd, ec);
  if (ec) {
    ::close(*fd);
    return absl::InternalError("cannot adopt socket: " + ec.message());
  }
  auto conn = std::make_unique<TlsConn>(std::move(ctx), std::move(socket));
  if (!options.ca_pem.empty()) {
    // OpenSSL's own name check, so a mismatch has its own verify result (see VerifyErrorText).
    SSL* ssl = conn->stream().native_handle();
    unsigned char addr[16];
    if (inet_pton(AF_INET, host.c_str(), addr) == 1 ||
        inet_pton(AF_INET6, host.c_str(), addr) == 1) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      SSL_set1_host(ssl, host.c_str());
    }
  }
  absl::Status st = conn->Handshake(host, timeout);
  if (!st.ok()) return st;
  return conn;
}

http::ConnPtr AdoptTcpSocket(int fd) { return std::make_unique<TcpConn>(fd); }

void Splice(http::Conn& a, http::Conn& b, std::string initial_to_a) {
  auto pump = [](http::Conn& from, http::Conn& to) {
    std::string buf(32 * 1024, '\0');
    while (true) {
      auto n = from.Read(buf.data(), buf.size());
      if (!n.ok()) {
        to.Close();
        from.Close();
        return;
      }
      if (*n == 0) {
        // The protocols spliced here (WebSocket, SPDY) end themselves before the transport
        // does, and TLS cannot half-close: one side's end ends the splice.
        to.Close();
        from.Close();
        return;
      }
      if (!to.Write(std::string_view(buf.data(), *n)).ok()) {
        from.Close();
        return;
      }
    }
  };
  if (!initial_to_a.empty() && !a.Write(initial_to_a).ok()) {
    a.Close();
    b.Close();
    return;
  }
  std::thread t([&] { pump(b, a); });
  pump(a, b);
  t.join();
  a.Close();
  b.Close();
}

std::pair<http::ConnPtr, http::ConnPtr> NewPipe() {
  auto x = std::make_shared<PipeBuffer>();
  auto y = std::make_shared<PipeBuffer>();
  return {std::make_unique<PipeConn>(x, y), std::make_unique<PipeConn>(y, x)};
}

}  // namespace korral::streaming
