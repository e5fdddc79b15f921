#include "korral/client/rest.h"

#include <algorithm>
#include <atomic>
#include <charconv>
#include <chrono>
#include <limits>
#include <mutex>
#include <thread>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/client/rate_limiter.h"

namespace korral::client {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

namespace {

constexpr size_t kMaxIdleConnections = 16;

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  net::ip::make_address(host, ec);
  return !ec;
}

// One HTTP connection with its own io_context: operations are started asynchronously and the
// calling thread runs the context until they complete, so that tcp_stream's timeouts apply.
struct Conn {
  net::io_context ioc;
  std::unique_ptr<ssl::stream<beast::tcp_stream>> tls;
  std::unique_ptr<beast::tcp_stream> plain;
  beast::flat_buffer buffer;
  bool reused = false;

  beast::tcp_stream& Lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  template <class F>
  beast::error_code Run(F&& initiate) {
    beast::error_code result = net::error::operation_aborted;
    bool done = false;
    auto handler = [&](beast::error_code ec, auto&&...) {
      result = ec;
      done = true;
    };
    if (tls) {
      initiate(*tls, handler);
    } else {
      initiate(*plain, handler);
    }
    ioc.restart();
    ioc.run();
    return done ? result : beast::error_code(net::error::operation_aborted);
  }
};

absl::Status TransportError(std::string_view what, const beast::error_code& ec) {
  if (ec == beast::error::timeout) {
    return absl::DeadlineExceededError(fmt::format("{}: timeout", what));
  }
  return absl::UnavailableError(fmt::format("{}: {}", what, ec.message()));
}

bool IsStaleConnectionError(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == net::error::eof ||
         ec == net::error::connection_reset || ec == net::error::broken_pipe ||
         ec == net::ssl::error::stream_truncated;
}

std::string AppendQuery(std::string target, std::string_view key, std::string_view value) {
  target += target.find('?') == std::string::npos ? '?' : '&';
  target += key;
  target += '=';
  target += QueryEscape(value);
  return target;
}

}  // namespace

std::string QueryEscape(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// Presents `pair` (PEM certificate, key) on `ssl` instead of the context's client certificate;
// an empty certificate leaves the context's.
absl::Status UseClientCertificate(SSL* ssl, const std::pair<std::string, std::string>& pair) {
  if (pair.first.empty()) return absl::OkStatus();
  BIO* cb = BIO_new_mem_buf(pair.first.data(), static_cast<int>(pair.first.size()));
  X509* cert = cb ? PEM_read_bio_X509(cb, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(cb);
  BIO* kb = BIO_new_mem_buf(pair.second.data(), static_cast<int>(pair.second.size()));
  EVP_PKEY* key = kb ? PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(kb);
  bool ok = cert != nullptr && key != nullptr && SSL_use_certificate(ssl, cert) == 1 &&
            SSL_use_PrivateKey(ssl, key) == 1;
  X509_free(cert);
  EVP_PKEY_free(key);
  ERR_clear_error();
  if (!ok) return absl::InvalidArgumentError("invalid rotated client certificate or key");
  return absl::OkStatus();
}

struct RestClient::Impl {
  RestConfig config;
  bool use_tls = true;
  std::string host;  // without brackets
  std::string port;
  std::string host_header;
  std::string verify_name;
  std::unique_ptr<ssl::context> ssl_ctx;
  std::unique_ptr<TokenBucket> limiter;
  std::mutex mu;
  std::vector<std::unique_ptr<Conn>> idle;
  std::atomic<int> opened{0};

  absl::Status Init() {
    std::string_view h = config.host;
    if (h.rfind("https://", 0) == 0) {
      h.remove_prefix(8);
    } else if (h.rfind("http://", 0) == 0) {
      h.remove_prefix(7);
      use_tls = false;
    } else if (h.find("://") != std::string_view::npos) {
      return absl::InvalidArgumentError("unsupported URL scheme in host " + config.host);
    }
    if (auto slash = h.find('/'); slash != std::string_view::npos) h = h.substr(0, slash);
    if (h.empty()) return absl::InvalidArgumentError("empty host in " + config.host);
    host_header = std::string(h);
    if (h.front() == '[') {  // [::1]:6443
      auto close = h.find(']');
      if (close == std::string_view::npos) return absl::InvalidArgumentError("bad host");
      host = std::string(h.substr(1, close - 1));
      h.remove_prefix(close + 1);
      port = h.size() > 1 && h[0] == ':' ? std::string(h.substr(1)) : "";
    } else if (auto colon = h.rfind(':'); colon != std::string_view::npos) {
      host = std::string(h.substr(0, colon));
      port = std::string(h.substr(colon + 1));
    } else {
      host = std::string(h);
    }
    if (port.empty()) port = use_tls ? "443" : "80";
    verify_name = config.tls_server_name.empty() ? host : config.tls_server_name;
    limiter = std::make_unique<TokenBucket>(config.qps, config.burst);
    if (!use_tls) return absl::OkStatus();

    ssl_ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ssl_ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                         ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (config.insecure) {
      ssl_ctx->set_verify_mode(ssl::verify_none, ec);
    } else {
      ssl_ctx->set_verify_mode(ssl::verify_peer, ec);
      if (!config.ca_pem.empty()) {
        ssl_ctx->add_certificate_authority(net::buffer(config.ca_pem), ec);
        if (ec) return absl::InvalidArgumentError("invalid CA certificate: " + ec.message());
      } else {
        ssl_ctx->set_default_verify_paths(ec);
      }
    }
    if (!config.client_cert_pem.empty()) {
      ssl_ctx->use_certificate_chain(net::buffer(config.client_cert_pem), ec);
      if (ec) return absl::InvalidArgumentError("invalid client certificate: " + ec.message());
      ssl_ctx->use_private_key(net::buffer(config.client_key_pem), ssl::context::pem, ec);
      if (ec) return absl::InvalidArgumentError("invalid client key: " + ec.message());
    }
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<Conn>> Connect() {
    auto c = std::make_unique<Conn>();
    tcp::resolver resolver(c->ioc);
    beast::error_code ec;
    auto endpoints = resolver.resolve(host, port, ec);
    if (ec) return TransportError("resolving " + host, ec);
    if (use_tls) {
      c->tls = std::make_unique<ssl::stream<beast::tcp_stream>>(c->ioc, *ssl_ctx);
    } else {
      c->plain = std::make_unique<beast::tcp_stream>(c->ioc);
    }
    c->Lowest().expires_after(config.timeout);
    ec = c->Run([&](auto& stream, auto handler) {
      beast::get_lowest_layer(stream).async_connect(endpoints, handler);
    });
    if (ec) return TransportError("connecting to " + host_header, ec);
    if (use_tls) {
      SSL* ssl = c->tls->native_handle();
      if (config.client_certificate_source) {
        if (auto s = UseClientCertificate(ssl, config.client_certificate_source()); !s.ok()) {
          return s;
        }
      }
      if (!IsIpLiteral(verify_name)) SSL_set_tlsext_host_name(ssl, verify_name.c_str());
      if (!config.insecure) {
        if (IsIpLiteral(verify_name)) {
          X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_name.c_str());
        } else {
          SSL_set1_host(ssl, verify_name.c_str());
        }
      }
      ec = c->Run([&](auto& stream, auto handler) {
        if constexpr (requires { stream.async_handshake(ssl::stream_base::client, handler); }) {
          stream.async_handshake(ssl::stream_base::client, handler);
        }
      });
      if (ec) return TransportError("TLS handshake with " + host_header, ec);
    }
    opened++;
    return c;
  }

  std::unique_ptr<Conn> TakeIdle() {
    std::lock_guard l(mu);
    if (idle.empty()) return nullptr;
    auto c = std::move(idle.back());
    idle.pop_back();
    return c;
  }

  void PutIdle(std::unique_ptr<Conn> c) {
    c->reused = true;
    std::lock_guard l(mu);
    if (idle.size() < kMaxIdleConnections) idle.push_back(std::move(c));
  }

  http::request<http::string_body> MakeRequest(std::string_view method, std::string_view target,
                                               std::string_view body, std::string_view content_type,
                                               std::string_view accept = "application/json") {
    http::request<http::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(http::field::host, host_header);
    req.set(http::field::user_agent, config.user_agent);
    req.set(http::field::accept, accept);
    std::string token =
        config.bearer_token_source ? config.bearer_token_source() : config.bearer_token;
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) {
      req.set(http::field::content_type, content_type);
      req.body() = std::string(body);
    }
    req.keep_alive(true);
    req.prepare_payload();
    return req;
  }

  absl::StatusOr<RawResponse> Do(std::string_view method, std::string_view target,
                                 std::string_view body, std::string_view content_type,
                                 std::string_view accept = "application/json") {
    limiter->Accept();
    auto req = MakeRequest(method, target, body, content_type, accept);
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<Conn> c = attempt == 0 ? TakeIdle() : nullptr;
      if (!c) {
        KORRAL_ASSIGN_OR_RETURN(c, Connect());
      }
      c->Lowest().expires_after(config.timeout);
      beast::error_code ec =
          c->Run([&](auto& stream, auto handler) { http::async_write(stream, req, handler); });
      http::response_parser<http::string_body> parser;
      parser.body_limit(std::numeric_limits<std::uint64_t>::max());
      if (!ec) {
        ec = c->Run([&](auto& stream, auto handler) {
          http::async_read(stream, c->buffer, parser, handler);
        });
      }
      if (ec) {
        if (c->reused && attempt == 0 && IsStaleConnectionError(ec)) continue;
        return TransportError(fmt::format("{} {}", method, target), ec);
      }
      auto res = parser.release();
      RawResponse out;
      out.status = static_cast<int>(res.result_int());
      out.content_type = std::string(res[http::field::content_type]);
      out.body = std::move(res.body());
      if (auto it = res.find(http::field::retry_after); it != res.end()) {
        int secs = -1;
        auto v = it->value();
        auto [p, e] = std::from_chars(v.data(), v.data() + v.size(), secs);
        if (e == std::errc() && p == v.data() + v.size() && secs >= 0) {
          out.retry_after_seconds = secs;
        }
      }
      if (res.keep_alive()) PutIdle(std::move(c));
      return out;
    }
  }

  static constexpr int kMaxRetryAfterRetries = 10;  // client-go's maxRetries
  static constexpr int kMaxRetryAfterSeconds = 10;

  absl::StatusOr<Json> DoJson(std::string_view method, std::string_view target,
                              std::string_view body, std::string_view content_type,
                              std::string_view accept = "application/json") {
    KORRAL_ASSIGN_OR_RETURN(RawResponse res, Do(method, target, body, content_type, accept));
    // client-go's checkWait: a 429 (or 5xx) with Retry-After means the request was not
    // processed (e.g. the apiserver's max-in-flight limit); wait as told and resend, up to
    // kMaxRetryAfterRetries times.
    for (int retry = 0; retry < kMaxRetryAfterRetries && res.retry_after_seconds >= 0 &&
                        (res.status == 429 || res.status >= 500);
         ++retry) {
      std::this_thread::sleep_for(
          std::chrono::seconds(std::min(res.retry_after_seconds, kMaxRetryAfterSeconds)));
      KORRAL_ASSIGN_OR_RETURN(res, Do(method, target, body, content_type, accept));
    }
    if (res.status < 200 || res.status >= 300) return StatusFromResponse(res.status, res.body);
    Json parsed = Json::parse(res.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      return absl::InternalError(fmt::format("{} {}: response is not JSON", method, target));
    }
    return parsed;
  }
};

namespace {

// A running watch: owns its connection and the reader thread.
class RestWatch : public std::enable_shared_from_this<RestWatch> {
 public:
  RestWatch(std::unique_ptr<Conn> conn,
            std::unique_ptr<http::response_parser<http::buffer_body>> parser,
            WatchEventCallback on_event, WatchDoneCallback on_done, bool metadata_only)
      : metadata_only_(metadata_only),
        conn_(std::move(conn)),
        parser_(std::move(parser)),
        on_event_(std::move(on_event)),
        on_done_(std::move(on_done)) {}

  void Start() {
    auto self = shared_from_this();
    thread_ = std::thread([self] { self->Run(); });
  }

  void Stop() {
    {
      std::lock_guard l(mu_);
      if (!stopping_.exchange(true)) {
        net::post(conn_->ioc, [c = conn_.get()] { c->Lowest().cancel(); });
      }
    }
    std::lock_guard l(join_mu_);
    if (thread_.joinable()) {
      if (thread_.get_id() == std::this_thread::get_id()) {
        thread_.detach();
      } else {
        thread_.join();
      }
    }
  }

 private:
  // Returns false (with `end` set) when the stream must end.
  bool Deliver(std::string_view line, absl::Status& end) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty()) return true;
    Json ev = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!ev.is_object() || !ev["type"].is_string()) {
      end = absl::InternalError("malformed watch event");
      return false;
    }
    std::string type = ev["type"];
    if (type == "ERROR") {
      end = StatusFromStatusObject(ev["object"], 500);
      return false;
    }
    if (stopping_) return false;
    Json& object = ev["object"];
    if (metadata_only_ && type != "BOOKMARK" &&
        object.value("kind", "") != "PartialObjectMetadata") {
      object = PartialObjectMetadata(object);  // a server without the metadata view
    }
    on_event_(WatchEvent{std::move(type), std::move(object)});
    return true;
  }

  void Run() {
    std::vector<char> buf(64 * 1024);
    std::string pending;
    absl::Status end = absl::OkStatus();
    bool more = true;
    while (more && !stopping_ && !parser_->is_done()) {
      parser_->get().body().data = buf.data();
      parser_->get().body().size = buf.size();
      beast::error_code ec = conn_->Run([&](auto& stream, auto handler) {
        http::async_read_some(stream, conn_->buffer, *parser_, handler);
      });
      if (ec == http::error::need_buffer) ec = {};
      size_t n = buf.size() - parser_->get().body().size;
      pending.append(buf.data(), n);
      size_t start = 0;
      for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!Deliver(std::string_view(pending).substr(start, nl - start), end)) {
          more = false;
          break;
        }
      }
      pending.erase(0, start);
      if (ec && more) {
        if (!stopping_ && ec != http::error::end_of_stream && ec != net::error::eof &&
            ec != net::error::operation_aborted) {
          end = TransportError("watch stream", ec);
        }
        more = false;
      }
    }
    if (more && !pending.empty()) Deliver(pending, end);
    if (stopping_) end = absl::OkStatus();
    beast::error_code ignored;
    conn_->Lowest().socket().close(ignored);
    if (on_done_) on_done_(end);
  }

  const bool metadata_only_;
  std::unique_ptr<Conn> conn_;
  std::unique_ptr<http::response_parser<http::buffer_body>> parser_;
  WatchEventCallback on_event_;
  WatchDoneCallback on_done_;
  std::mutex mu_;
  std::mutex join_mu_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

class RestWatchHandle : public WatchHandle {
 public:
  explicit RestWatchHandle(std::shared_ptr<RestWatch> w) : w_(std::move(w)) {}
  ~RestWatchHandle() override { Stop(); }
  void Stop() override { w_->Stop(); }

 private:
  std::shared_ptr<RestWatch> w_;
};

}  // namespace

RestClient::RestClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RestClient::~RestClient() = default;

absl::StatusOr<std::unique_ptr<RestClient>> RestClient::New(RestConfig config) {
  auto impl = std::make_unique<Impl>();
  impl->config = std::move(config);
  KORRAL_RETURN_IF_ERROR(impl->Init());
  return std::unique_ptr<RestClient>(new RestClient(std::move(impl)));
}

int RestClient::connections_opened() const { return impl_->opened.load(); }

absl::StatusOr<RestClient::RawResponse> RestClient::Do(std::string_view method,
                                                       std::string_view target,
                                                       std::string_view body,
                                                       std::string_view content_type) {
  return impl_->Do(method, target, body, content_type);
}

absl::StatusOr<Json> RestClient::DoJson(std::string_view method, std::string_view target,
                                        std::string_view body, std::string_view content_type) {
  return impl_->DoJson(method, target, body, content_type);
}

absl::StatusOr<Json> RestClient::Get(const ResourceRef& ref, std::string_view ns,
                                     std::string_view name, std::string_view subresource) {
  return DoJson("GET", ref.Path(ns, name, subresource));
}

absl::StatusOr<Json> RestClient::List(const ResourceRef& ref, std::string_view ns,
                                      const ListOptions& options) {
  std::string target = ref.Path(ns);
  if (!options.label_selector.empty()) {
    target = AppendQuery(target, "labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    target = AppendQuery(target, "fieldSelector", options.field_selector);
  }
  if (options.limit > 0) target = AppendQuery(target, "limit", std::to_string(options.limit));
  if (!options.continue_token.empty()) {
    target = AppendQuery(target, "continue", options.continue_token);
  }
  if (!options.resource_version.empty()) {
    target = AppendQuery(target, "resourceVersion", options.resource_version);
  }
  if (options.metadata_only) {
    KORRAL_ASSIGN_OR_RETURN(
        Json list, impl_->DoJson("GET", target, "", "application/json", kAcceptMetadataList));
    // A server without the metadata view answers with full objects (the Accept fallback).
    if (list.value("kind", "") != "PartialObjectMetadataList") {
      list["apiVersion"] = "meta.k8s.io/v1";
      list["kind"] = "PartialObjectMetadataList";
      if (auto items = list.find("items"); items != list.end() && items->is_array()) {
        for (Json& item : *items) item = PartialObjectMetadata(item);
      }
    }
    return list;
  }
  return DoJson("GET", target);
}

namespace {
std::string NamespaceFor(std::string_view ns, const Json& object) {
  if (!ns.empty()) return std::string(ns);
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    return object["metadata"].value("namespace", "");
  }
  return "";
}
std::string NameOf(const Json& object) {
  if (object.is_object() && object.contains("metadata") && object["metadata"].is_object()) {
    return object["metadata"].value("name", "");
  }
  return "";
}
}  // namespace

absl::StatusOr<Json> RestClient::Create(const ResourceRef& ref, std::string_view ns,
                                        const Json& object, std::string_view subresource) {
  std::string n = NamespaceFor(ns, object);
  std::string target = subresource.empty() ? ref.Path(n) : ref.Path(n, NameOf(object), subresource);
  return DoJson("POST", target, object.dump());
}

absl::StatusOr<Json> RestClient::Update(const ResourceRef& ref, std::string_view ns,
                                        const Json& object, std::string_view subresource) {
  std::string name = NameOf(object);
  if (name.empty()) return absl::InvalidArgumentError("update: object has no metadata.name");
  return DoJson("PUT", ref.Path(NamespaceFor(ns, object), name, subresource), object.dump());
}

absl::StatusOr<Json> RestClient::Patch(const ResourceRef& ref, std::string_view ns,
                                       std::string_view name, PatchType type, const Json& patch,
                                       const PatchOptions& options) {
  std::string target = ref.Path(ns, name, options.subresource);
  if (!options.field_manager.empty()) {
    target = AppendQuery(target, "fieldManager", options.field_manager);
  }
  if (options.force) target = AppendQuery(target, "force", "true");
  return DoJson("PATCH", target, patch.dump(), PatchContentType(type));
}

absl::StatusOr<Json> RestClient::Delete(const ResourceRef& ref, std::string_view ns,
                                        std::string_view name, const Json& delete_options) {
  return DoJson("DELETE", ref.Path(ns, name),
                delete_options.is_null() ? std::string() : delete_options.dump());
}

absl::StatusOr<WatchHandlePtr> RestClient::Watch(const ResourceRef& ref, std::string_view ns,
                                                 const WatchOptions& options,
                                                 WatchEventCallback on_event,
                                                 WatchDoneCallback on_done) {
  std::string target = AppendQuery(ref.Path(ns), "watch", "1");
  if (!options.resource_version.empty()) {
    target = AppendQuery(target, "resourceVersion", options.resource_version);
  }
  if (options.timeout_seconds > 0) {
    target = AppendQuery(target, "timeoutSeconds", std::to_string(options.timeout_seconds));
  }
  if (options.allow_watch_bookmarks) target = AppendQuery(target, "allowWatchBookmarks", "true");
  if (!options.label_selector.empty()) {
    target = AppendQuery(target, "labelSelector", options.label_selector);
  }
  if (!options.field_selector.empty()) {
    target = AppendQuery(target, "fieldSelector", options.field_selector);
  }
  impl_->limiter->Accept();
  KORRAL_ASSIGN_OR_RETURN(std::unique_ptr<Conn> c, impl_->Connect());
  auto req = impl_->MakeRequest("GET", target, "", "",
                                options.metadata_only ? kAcceptMetadata : "application/json");
  c->Lowest().expires_after(impl_->config.timeout);
  beast::error_code ec =
      c->Run([&](auto& stream, auto handler) { http::async_write(stream, req, handler); });
  if (ec) return TransportError("watch " + target, ec);
  auto parser = std::make_unique<http::response_parser<http::buffer_body>>();
  parser->body_limit(std::numeric_limits<std::uint64_t>::max());
  ec = c->Run([&](auto& stream, auto handler) {
    http::async_read_header(stream, c->buffer, *parser, handler);
  });
  if (ec) return TransportError("watch " + target, ec);
  int status = static_cast<int>(parser->get().result_int());
  if (status != 200) {
    std::string body;
    char buf[8192];
    while (!parser->is_done() && body.size() < (1 << 20)) {
      parser->get().body().data = buf;
      parser->get().body().size = sizeof buf;
      ec = c->Run([&](auto& stream, auto handler) {
        http::async_read_some(stream, c->buffer, *parser, handler);
      });
      if (ec == http::error::need_buffer) ec = {};
      body.append(buf, sizeof buf - parser->get().body().size);
      if (ec) break;
    }
    return StatusFromResponse(status, body);
  }
  // The stream lives as long as the server keeps it open (bounded by timeoutSeconds).
  if (options.timeout_seconds > 0) {
    c->Lowest().expires_after(std::chrono::seconds(options.timeout_seconds + 60));
  } else {
    c->Lowest().expires_never();
  }
  auto watch = std::make_shared<RestWatch>(std::move(c), std::move(parser), std::move(on_event),
                                           std::move(on_done), options.metadata_only);
  watch->Start();
  return WatchHandlePtr(new RestWatchHandle(std::move(watch)));
}

}  // namespace korral::client
