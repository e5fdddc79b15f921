// Tests RestClient against a small in-test HTTPS server (Beast, blocking, one thread per
// connection) with certificates generated on the fly.
#include "korral/client/rest.h"

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <gtest/gtest.h>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "korral/client/errors.h"

namespace korral::client {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- certificates ----

struct Pem {
  std::string cert, key;
};

std::string ToPem(X509* x) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, x);
  char* data;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

std::string ToPem(EVP_PKEY* k) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data;
  long n = BIO_get_mem_data(bio, &data);
  std::string out(data, n);
  BIO_free(bio);
  return out;
}

class Ca {
 public:
  explicit Ca(const std::string& cn) {
    key_ = EVP_EC_gen("P-256");
    cert_ = Make(key_, cn, "", /*ca=*/true, "");
  }
  ~Ca() {
    X509_free(cert_);
    EVP_PKEY_free(key_);
  }
  std::string pem() const { return ToPem(cert_); }
  Pem Issue(const std::string& cn, const std::string& org, const std::string& san) {
    EVP_PKEY* k = EVP_EC_gen("P-256");
    X509* x = Make(k, cn, org, false, san);
    Pem out{ToPem(x), ToPem(k)};
    X509_free(x);
    EVP_PKEY_free(k);
    return out;
  }

 private:
  X509* Make(EVP_PKEY* key, const std::string& cn, const std::string& org, bool ca,
             const std::string& san) {
    static std::atomic<long> serial{1};
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    if (!org.empty()) {
      X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(org.c_str()), -1, -1, 0);
    }
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509* issuer = ca ? x : cert_;
    X509_set_issuer_name(x, X509_get_subject_name(issuer));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const char* value) {
      X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      ASSERT_NE(ext, nullptr) << value;
      X509_add_ext(x, ext, -1);
      X509_EXTENSION_free(ext);
    };
    add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    add(NID_key_usage, ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (!ca) add(NID_ext_key_usage, "serverAuth,clientAuth");
    if (!san.empty()) add(NID_subject_alt_name, san.c_str());
    X509_sign(x, ca ? key : key_, EVP_sha256());
    return x;
  }

  EVP_PKEY* key_;
  X509* cert_ = nullptr;
};

// ---- server ----

struct Reply {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
  bool close_silently = false;  // close the connection after replying, without saying so
  std::string retry_after;      // a Retry-After header when not empty
  // When set: a chunked response; `write` sends one chunk and returns false once the client is
  // gone.
  std::function<void(const std::function<bool(std::string)>& write)> stream;
};

struct Seen {
  std::string method, target, body, content_type, authorization, client_cn, accept;
};

using Handler = std::function<Reply(const Seen&)>;

class TestServer {
 public:
  TestServer(const Pem& server, const std::string& client_ca, Handler handler)
      : ctx_(ssl::context::tls_server), handler_(std::move(handler)) {
    ctx_.use_certificate_chain(net::buffer(server.cert));
    ctx_.use_private_key(net::buffer(server.key), ssl::context::pem);
    if (!client_ca.empty()) {
      ctx_.add_certificate_authority(net::buffer(client_ca));
      ctx_.set_verify_mode(ssl::verify_peer);
    }
    acceptor_.open(tcp::v4());
    acceptor_.set_option(net::socket_base::reuse_address(true));
    acceptor_.bind({net::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }
  ~TestServer() {
    stopping_ = true;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    {
      std::lock_guard l(mu_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : conn_threads_) t.join();
  }
  int port() const { return port_; }
  int accepted() const { return accepted_.load(); }
  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }

 private:
  void AcceptLoop() {
    while (!stopping_) {
      tcp::socket sock(ioc_);
      beast::error_code ec;
      acceptor_.accept(sock, ec);
      if (ec || stopping_) return;
      accepted_++;
      std::lock_guard l(mu_);
      fds_.push_back(sock.native_handle());
      conn_threads_.emplace_back([this, s = std::move(sock)]() mutable { Serve(std::move(s)); });
    }
  }

  void Serve(tcp::socket sock) {
    ssl::stream<tcp::socket> stream(std::move(sock), ctx_);
    beast::error_code ec;
    stream.handshake(ssl::stream_base::server, ec);
    if (ec) return;
    std::string cn;
    if (X509* peer = SSL_get1_peer_certificate(stream.native_handle())) {
      char buf[256] = {0};
      X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, buf, sizeof buf);
      cn = buf;
      X509_free(peer);
    }
    beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> req;
      http::read(stream, buffer, req, ec);
      if (ec) return;
      Seen seen{std::string(req.method_string()),
                std::string(req.target()),
                req.body(),
                std::string(req[http::field::content_type]),
                std::string(req[http::field::authorization]),
                cn,
                std::string(req[http::field::accept])};
      Reply r = handler_(seen);
      if (r.stream) {
        http::response<http::empty_body> res{static_cast<http::status>(r.status), 11};
        res.set(http::field::content_type, r.content_type);
        res.chunked(true);
        http::response_serializer<http::empty_body> sr{res};
        http::write_header(stream, sr, ec);
        if (ec) return;
        r.stream([&](std::string chunk) {
          net::write(stream, http::make_chunk(net::buffer(chunk)), ec);
          return !ec;
        });
        net::write(stream, http::make_chunk_last(), ec);
        if (ec) return;
        continue;
      }
      http::response<http::string_body> res{static_cast<http::status>(r.status), 11};
      res.set(http::field::content_type, r.content_type);
      if (!r.retry_after.empty()) res.set(http::field::retry_after, r.retry_after);
      res.body() = r.body;
      res.keep_alive(req.keep_alive());
      res.prepare_payload();
      http::write(stream, res, ec);
      if (ec || r.close_silently || !req.keep_alive()) {
        beast::error_code ignored;
        stream.next_layer().shutdown(tcp::socket::shutdown_both, ignored);
        return;
      }
    }
  }

  net::io_context ioc_;
  ssl::context ctx_;
  Handler handler_;
  tcp::acceptor acceptor_{ioc_};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::mutex mu_;
  std::vector<int> fds_;
  std::vector<std::thread> conn_threads_;
  std::thread accept_thread_;
};

std::string StatusBody(int code, const std::string& reason, const std::string& message) {
  return Json({{"kind", "Status"},
               {"apiVersion", "v1"},
               {"status", "Failure"},
               {"code", code},
               {"reason", reason},
               {"message", message}})
      .dump();
}

class RestClientTest : public ::testing::Test {
 protected:
  RestClientTest()
      : ca_("test-ca"),
        server_pem_(ca_.Issue("apiserver", "", "IP:127.0.0.1,DNS:localhost")),
        client_pem_(ca_.Issue("admin", "system:masters", "")) {}

  RestConfig Config(const TestServer& s) {
    RestConfig c;
    c.host = s.url();
    c.ca_pem = ca_.pem();
    c.timeout = milliseconds(10000);
    c.qps = 0;
    return c;
  }

  std::unique_ptr<RestClient> Client(RestConfig c) {
    auto client = RestClient::New(std::move(c));
    EXPECT_TRUE(client.ok()) << client.status();
    return std::move(*client);
  }

  Ca ca_;
  Pem server_pem_;
  Pem client_pem_;
};

TEST_F(RestClientTest, VerbsPathsAndBodies) {
  std::mutex mu;
  std::vector<Seen> seen;
  TestServer server(server_pem_, "", [&](const Seen& s) {
    std::lock_guard l(mu);
    seen.push_back(s);
    Reply r;
    r.body = Json({{"kind", "Pod"}, {"echo", s.method}}).dump();
    return r;
  });
  RestConfig cfg = Config(server);
  cfg.bearer_token = "tok123";
  auto c = Client(cfg);
  auto pods = resources::Pods();
  Json pod = {{"metadata", {{"name", "a"}, {"namespace", "ns"}}}};

  auto got = c->Get(pods, "ns", "a");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["echo"], "GET");
  ASSERT_TRUE(c->List(resources::Deployments(), "",
                      {.label_selector = "app in (a,b)", .limit = 5, .resource_version = "0"})
                  .ok());
  ASSERT_TRUE(c->Create(pods, "", pod).ok());
  ASSERT_TRUE(c->UpdateStatus(pods, "ns", pod).ok());
  ASSERT_TRUE(
      c->Patch(pods, "ns", "a", PatchType::kApply, pod, {.field_manager = "korral", .force = true})
          .ok());
  ASSERT_TRUE(c->Delete(resources::Nodes(), "", "n1", {{"gracePeriodSeconds", 0}}).ok());

  std::lock_guard l(mu);
  ASSERT_EQ(seen.size(), 6u);
  EXPECT_EQ(seen[0].target, "/api/v1/namespaces/ns/pods/a");
  EXPECT_EQ(seen[0].authorization, "Bearer tok123");
  EXPECT_EQ(seen[1].target,
            "/apis/apps/v1/deployments?labelSelector=app%20in%20%28a%2Cb%29&limit=5&"
            "resourceVersion=0");
  EXPECT_EQ(seen[2].method, "POST");
  EXPECT_EQ(seen[2].target, "/api/v1/namespaces/ns/pods");
  EXPECT_EQ(Json::parse(seen[2].body), pod);
  EXPECT_EQ(seen[2].content_type, "application/json");
  EXPECT_EQ(seen[3].method, "PUT");
  EXPECT_EQ(seen[3].target, "/api/v1/namespaces/ns/pods/a/status");
  EXPECT_EQ(seen[4].method, "PATCH");
  EXPECT_EQ(seen[4].target, "/api/v1/namespaces/ns/pods/a?fieldManager=korral&force=true");
  EXPECT_EQ(seen[4].content_type, "application/apply-patch+yaml");
  EXPECT_EQ(seen[5].method, "DELETE");
  EXPECT_EQ(seen[5].target, "/api/v1/nodes/n1");
  EXPECT_EQ(Json::parse(seen[5].body)["gracePeriodSeconds"], 0);
  // All over one keep-alive connection.
  EXPECT_EQ(server.accepted(), 1);
  EXPECT_EQ(c->connections_opened(), 1);
}

TEST_F(RestClientTest, ErrorsCarryKubernetesStatus) {
  TestServer server(server_pem_, "", [&](const Seen& s) {
    Reply r;
    if (s.target.find("missing") != std::string::npos) {
      r.status = 404;
      r.body = StatusBody(404, "NotFound", "pods \"missing\" not found");
    } else if (s.target.find("conflict") != std::string::npos) {
      r.status = 409;
      r.body = StatusBody(409, "Conflict", "the object has been modified");
    } else if (s.target.find("invalid") != std::string::npos) {
      r.status = 422;
      r.body = StatusBody(422, "Invalid", "spec.containers: Required value");
    } else {
      r.status = 500;
      r.content_type = "text/plain";
      r.body = "oops";
    }
    return r;
  });
  auto c = Client(Config(server));
  auto pods = resources::Pods();
  auto nf = c->Get(pods, "ns", "missing");
  EXPECT_TRUE(client::IsNotFound(nf.status())) << nf.status();
  EXPECT_EQ(nf.status().message(), "pods \"missing\" not found");
  EXPECT_EQ(HttpCodeOf(nf.status()), 404);
  auto cf = c->Update(pods, "ns", {{"metadata", {{"name", "conflict"}}}});
  EXPECT_TRUE(client::IsConflict(cf.status()));
  EXPECT_EQ(cf.status().code(), absl::StatusCode::kAborted);
  auto inv = c->Get(pods, "ns", "invalid");
  EXPECT_TRUE(client::IsInvalid(inv.status()));
  EXPECT_EQ(inv.status().code(), absl::StatusCode::kInvalidArgument);
  auto other = c->Get(pods, "ns", "x");
  EXPECT_EQ(HttpCodeOf(other.status()), 500);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kInternal);
  EXPECT_EQ(other.status().message(), "oops");
}

// client-go's checkWait: 429 + Retry-After is resent (the request was not processed); a 429
// without the header is an error at once.
TEST_F(RestClientTest, TooManyRequestsWithRetryAfterIsRetried) {
  std::atomic<int> creates{0}, gets{0};
  TestServer server(server_pem_, "", [&](const Seen& s) {
    Reply r;
    if (s.method == "POST") {
      if (++creates <= 2) {
        r.status = 429;
        r.content_type = "text/plain";
        r.body = "Too many requests, please try again later.";
        r.retry_after = "0";
        return r;
      }
      r.status = 201;
      r.body = s.body;
      return r;
    }
    ++gets;
    r.status = 429;
    r.body = StatusBody(429, "TooManyRequests", "slow down");
    return r;
  });
  auto c = Client(Config(server));
  auto created = c->Create(resources::Pods(), "ns", {{"metadata", {{"name", "p"}}}});
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(creates.load(), 3);
  auto got = c->Get(resources::Pods(), "ns", "p");
  EXPECT_TRUE(client::IsTooManyRequests(got.status())) << got.status();
  EXPECT_EQ(gets.load(), 1);
}

TEST_F(RestClientTest, RetriesOnceWhenPooledConnectionWasClosed) {
  TestServer server(server_pem_, "", [&](const Seen& s) {
    Reply r;
    r.body = "{}";
    r.close_silently = true;
    return r;
  });
  auto c = Client(Config(server));
  for (int i = 0; i < 3; ++i) {
    auto r = c->Get(resources::Pods(), "ns", "a");
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
  }
  EXPECT_EQ(server.accepted(), 3);
}

TEST_F(RestClientTest, TlsVerification) {
  TestServer server(server_pem_, "", [](const Seen&) { return Reply{.body = "{}"}; });
  {
    Ca other("other-ca");
    RestConfig cfg = Config(server);
    cfg.ca_pem = other.pem();
    auto r = Client(cfg)->Get(resources::Pods(), "ns", "a");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  }
  {
    RestConfig cfg = Config(server);
    cfg.ca_pem = "";
    cfg.insecure = true;
    EXPECT_TRUE(Client(cfg)->Get(resources::Pods(), "ns", "a").ok());
  }
  {
    // The name checked is not in the certificate.
    RestConfig cfg = Config(server);
    cfg.tls_server_name = "other.example";
    EXPECT_FALSE(Client(cfg)->Get(resources::Pods(), "ns", "a").ok());
    cfg.tls_server_name = "localhost";
    EXPECT_TRUE(Client(cfg)->Get(resources::Pods(), "ns", "a").ok());
  }
  // A certificate for another IP fails the IP check.
  Pem wrong_ip = ca_.Issue("apiserver", "", "IP:10.9.9.9,DNS:elsewhere");
  TestServer server2(wrong_ip, "", [](const Seen&) { return Reply{.body = "{}"}; });
  auto r = Client(Config(server2))->Get(resources::Pods(), "ns", "a");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(RestClientTest, ClientCertificate) {
  TestServer server(server_pem_, ca_.pem(), [](const Seen& s) {
    return Reply{.body = Json({{"user", s.client_cn}}).dump()};
  });
  RestConfig cfg = Config(server);
  cfg.client_cert_pem = client_pem_.cert;
  cfg.client_key_pem = client_pem_.key;
  auto r = Client(cfg)->Get(resources::Pods(), "ns", "a");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["user"], "admin");
  cfg.client_key_pem = "garbage";
  EXPECT_FALSE(RestClient::New(cfg).ok());
}

TEST_F(RestClientTest, RateLimited) {
  TestServer server(server_pem_, "", [](const Seen&) { return Reply{.body = "{}"}; });
  RestConfig cfg = Config(server);
  cfg.qps = 20;
  cfg.burst = 1;
  auto c = Client(cfg);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(c->Get(resources::Pods(), "ns", "a").ok());
  // 1 from the burst, then 3 at 50ms each.
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(140));
}

// Events on a watch: the server sends each event as its own chunk and waits for the client to
// have delivered the previous one, which proves incremental reading.
TEST_F(RestClientTest, WatchStreamsEventsIncrementally) {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<WatchEvent> events;
  std::optional<absl::Status> done;
  std::string target;
  TestServer server(server_pem_, "", [&](const Seen& s) {
    {
      std::lock_guard l(mu);
      target = s.target;
    }
    Reply r;
    r.stream = [&](const std::function<bool(std::string)>& write) {
      for (int i = 0; i < 3; ++i) {
        Json ev = {{"type", i == 0 ? "ADDED" : "MODIFIED"},
                   {"object",
                    {{"metadata", {{"name", "a"}, {"resourceVersion", std::to_string(10 + i)}}}}}};
        // Split one event over two chunks to exercise line reassembly.
        std::string line = ev.dump() + "\n";
        write(line.substr(0, 7));
        write(line.substr(7));
        std::unique_lock l(mu);
        cv.wait_for(l, seconds(10), [&] { return events.size() > static_cast<size_t>(i); });
      }
      write(Json({{"type", "BOOKMARK"}, {"object", {{"metadata", {{"resourceVersion", "20"}}}}}})
                .dump() +
            "\n");
      write(Json({{"type", "ERROR"},
                  {"object", Json::parse(StatusBody(410, "Expired", "too old resource version"))}})
                .dump() +
            "\n");
    };
    return r;
  });
  auto c = Client(Config(server));
  auto w = c->Watch(
      resources::Pods(), "ns",
      {.resource_version = "9", .timeout_seconds = 30, .allow_watch_bookmarks = true},
      [&](WatchEvent e) {
        std::lock_guard l(mu);
        events.push_back(std::move(e));
        cv.notify_all();
      },
      [&](absl::Status s) {
        std::lock_guard l(mu);
        done = s;
        cv.notify_all();
      });
  ASSERT_TRUE(w.ok()) << w.status();
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, seconds(10), [&] { return done.has_value(); }));
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, "ADDED");
  EXPECT_EQ(events[2].object["metadata"]["resourceVersion"], "12");
  EXPECT_EQ(events[3].type, "BOOKMARK");
  EXPECT_TRUE(IsResourceExpired(*done)) << *done;
  EXPECT_EQ(done->code(), absl::StatusCode::kOutOfRange);
  EXPECT_EQ(target,
            "/api/v1/namespaces/ns/pods?watch=1&resourceVersion=9&timeoutSeconds=30&"
            "allowWatchBookmarks=true");
}

TEST_F(RestClientTest, MetadataOnlyListAndWatchAskForPartialObjectMetadata) {
  std::mutex mu;
  std::vector<Seen> seen;
  bool server_has_view = true;
  const Json pod = {{"apiVersion", "v1"},
                    {"kind", "Pod"},
                    {"metadata", {{"name", "a"}, {"namespace", "ns"}, {"resourceVersion", "5"}}},
                    {"spec", {{"nodeName", "n1"}}}};
  TestServer server(server_pem_, "", [&](const Seen& s) {
    bool view;
    {
      std::lock_guard l(mu);
      seen.push_back(s);
      view = server_has_view && s.accept.find("as=PartialObjectMetadata") != std::string::npos;
    }
    Json item = view ? PartialObjectMetadata(pod) : pod;
    Reply r;
    if (s.target.find("watch=1") != std::string::npos) {
      r.stream = [item](const std::function<bool(std::string)>& write) {
        write(Json({{"type", "ADDED"}, {"object", item}}).dump() + "\n");
        write(Json({{"type", "BOOKMARK"},
                    {"object", {{"kind", "Pod"}, {"metadata", {{"resourceVersion", "9"}}}}}})
                  .dump() +
              "\n");
      };
      return r;
    }
    r.body = Json({{"apiVersion", view ? "meta.k8s.io/v1" : "v1"},
                   {"kind", view ? "PartialObjectMetadataList" : "PodList"},
                   {"metadata", {{"resourceVersion", "7"}}},
                   {"items", Json::array({item})}})
                 .dump();
    return r;
  });
  auto c = Client(Config(server));
  const Json want_item = {{"apiVersion", "meta.k8s.io/v1"},
                          {"kind", "PartialObjectMetadata"},
                          {"metadata", pod["metadata"]}};
  auto watch_all = [&](std::vector<WatchEvent>& events) {
    std::condition_variable cv;
    std::optional<absl::Status> done;
    auto w = c->Watch(
        resources::Pods(), "ns", {.metadata_only = true},
        [&](WatchEvent e) {
          std::lock_guard l(mu);
          events.push_back(std::move(e));
        },
        [&](absl::Status st) {
          std::lock_guard l(mu);
          done = st;
          cv.notify_all();
        });
    ASSERT_TRUE(w.ok()) << w.status();
    std::unique_lock l(mu);
    ASSERT_TRUE(cv.wait_for(l, seconds(10), [&] { return done.has_value(); }));
    EXPECT_TRUE(done->ok()) << *done;
  };
  for (bool has_view : {true, false}) {
    SCOPED_TRACE(has_view ? "server serves the view" : "server sends full objects");
    {
      std::lock_guard l(mu);
      server_has_view = has_view;
      seen.clear();
    }
    auto list = c->List(resources::Pods(), "ns", {.metadata_only = true});
    ASSERT_TRUE(list.ok()) << list.status();
    EXPECT_EQ((*list)["kind"], "PartialObjectMetadataList");
    EXPECT_EQ((*list)["metadata"]["resourceVersion"], "7");
    ASSERT_EQ((*list)["items"].size(), 1u);
    EXPECT_EQ((*list)["items"][0], want_item);
    std::vector<WatchEvent> events;
    watch_all(events);
    std::lock_guard l(mu);
    ASSERT_EQ(events.size(), 2u);
    EXPECT_EQ(events[0].object, want_item);
    EXPECT_EQ(events[1].type, "BOOKMARK");
    EXPECT_EQ(events[1].object["metadata"]["resourceVersion"], "9");
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[0].accept,
              "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json");
    EXPECT_EQ(seen[1].accept,
              "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json");
  }
  // Without the option: plain JSON.
  auto full = c->List(resources::Pods(), "ns");
  ASSERT_TRUE(full.ok());
  EXPECT_EQ((*full)["kind"], "PodList");
  std::lock_guard l(mu);
  EXPECT_EQ(seen.back().accept, "application/json");
}

TEST_F(RestClientTest, WatchStopWhileServerIsIdle) {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  TestServer server(server_pem_, "", [&](const Seen&) {
    Reply r;
    r.stream = [&](const std::function<bool(std::string)>& write) {
      write(Json({{"type", "ADDED"}, {"object", {{"metadata", {{"name", "a"}}}}}}).dump() + "\n");
      std::unique_lock l(mu);
      cv.wait_for(l, seconds(30), [&] { return release; });
    };
    return r;
  });
  auto c = Client(Config(server));
  std::mutex emu;
  std::condition_variable ecv;
  int n = 0;
  std::optional<absl::Status> done;
  auto w = c->Watch(
      resources::Pods(), "", {},
      [&](WatchEvent) {
        std::lock_guard l(emu);
        n++;
        ecv.notify_all();
      },
      [&](absl::Status s) {
        std::lock_guard l(emu);
        done = s;
      });
  ASSERT_TRUE(w.ok());
  {
    std::unique_lock l(emu);
    ASSERT_TRUE(ecv.wait_for(l, seconds(10), [&] { return n == 1; }));
  }
  (*w)->Stop();  // must not hang although the server sends nothing more
  {
    std::lock_guard l(emu);
    ASSERT_TRUE(done.has_value());
    EXPECT_TRUE(done->ok()) << *done;
  }
  std::lock_guard l(mu);
  release = true;
  cv.notify_all();
}

TEST_F(RestClientTest, WatchRejectedUpFront) {
  TestServer server(server_pem_, "", [](const Seen&) {
    return Reply{.status = 410, .body = StatusBody(410, "Gone", "too old")};
  });
  auto w = Client(Config(server))
               ->Watch(
                   resources::Pods(), "", {}, [](WatchEvent) {}, [](absl::Status) {});
  EXPECT_TRUE(IsResourceExpired(w.status())) << w.status();
}

TEST(RestClientConfigTest, BadHost) {
  EXPECT_FALSE(RestClient::New({.host = "ftp://x"}).ok());
  EXPECT_FALSE(RestClient::New({.host = "https://"}).ok());
  EXPECT_FALSE(RestClient::New({.host = "https://h", .ca_pem = "not a cert"}).ok());
  auto c = RestClient::New({.host = "http://127.0.0.1:1", .timeout = milliseconds(2000)});
  ASSERT_TRUE(c.ok());
  auto r = (*c)->Get(resources::Pods(), "", "x");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST(QueryEscapeTest, Escapes) {
  EXPECT_EQ(QueryEscape("a=b,c d/é"), "a%3Db%2Cc%20d%2F%C3%A9");
  EXPECT_EQ(QueryEscape("Az09-_.~"), "Az09-_.~");
}

}  // namespace
}  // namespace korral::client
