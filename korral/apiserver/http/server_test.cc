#include "korral/apiserver/http/server.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "korral/pki/pki.h"

namespace korral::http {
namespace {

namespace asio = boost::asio;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

constexpr absl::Duration kWait = absl::Seconds(20);

struct Pki {
  pki::CertKeyPair ca, server, alice, other_ca, mallory;
};

const Pki& TestPki() {
  static const Pki* p = [] {
    auto* out = new Pki;
    out->ca = *pki::NewSelfSignedCA("test-ca");
    pki::CertOptions server;
    server.common_name = "server";
    server.ip_addresses = {"127.0.0.1"};
    server.dns_names = {"localhost"};
    out->server = *pki::NewSignedCert(out->ca, server);
    pki::CertOptions alice;
    alice.common_name = "alice";
    alice.organizations = {"dev", "ops"};
    alice.usage = pki::CertUsage::kClient;
    out->alice = *pki::NewSignedCert(out->ca, alice);
    out->other_ca = *pki::NewSelfSignedCA("other-ca");
    alice.common_name = "mallory";
    out->mallory = *pki::NewSignedCert(out->other_ca, alice);
    return out;
  }();
  return *p;
}

// A blocking HTTPS client speaking raw bytes or Beast messages over one connection.
class TestClient {
 public:
  explicit TestClient(uint16_t port, const pki::CertKeyPair* client_cert = nullptr)
      : tls_(ssl::context::tls_client) {
    tls_.add_certificate_authority(asio::buffer(TestPki().ca.cert_pem));
    tls_.set_verify_mode(ssl::verify_peer);
    if (client_cert != nullptr) {
      tls_.use_certificate_chain(asio::buffer(client_cert->cert_pem));
      tls_.use_private_key(asio::buffer(client_cert->key_pem), ssl::context::pem);
    }
    // The SSL object copies the context's settings when created: configure first.
    stream_.emplace(ioc_, tls_);
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    port_ = port;
  }

  boost::system::error_code Connect() {
    boost::system::error_code ec;
    boost::beast::get_lowest_layer(*stream_).connect(
        tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), ec);
    if (ec) return ec;
    stream_->handshake(ssl::stream_base::client, ec);
    return ec;
  }

  boost::system::error_code SendRaw(std::string_view bytes) {
    boost::system::error_code ec;
    asio::write(*stream_, asio::buffer(bytes.data(), bytes.size()), ec);
    return ec;
  }

  boost::system::error_code Send(const std::string& method, const std::string& target,
                                 const std::string& body = "", bool keep_alive = true) {
    bhttp::request<bhttp::string_body> req;
    req.method_string(method);
    req.target(target);
    req.version(11);
    req.set(bhttp::field::host, "127.0.0.1");
    req.keep_alive(keep_alive);
    if (!body.empty() || method == "POST" || method == "PUT") {
      req.body() = body;
      req.prepare_payload();
    }
    boost::system::error_code ec;
    bhttp::write(*stream_, req, ec);
    return ec;
  }

  // Reads one whole response; on error returns status 0 with the error in *ec.
  bhttp::response<bhttp::string_body> Read(boost::system::error_code* ec_out = nullptr) {
    bhttp::response<bhttp::string_body> res;
    boost::system::error_code ec;
    bhttp::read(*stream_, buffer_, res, ec);
    if (ec_out != nullptr) *ec_out = ec;
    if (ec) res.result(0u);
    return res;
  }

  bhttp::response<bhttp::string_body> RoundTrip(const std::string& method,
                                                const std::string& target,
                                                const std::string& body = "") {
    EXPECT_FALSE(Send(method, target, body));
    return Read();
  }

  // Reads (and drops) whatever arrives until the server closes the connection; false if more
  // than 1 MiB arrives first.
  bool ReadsEof() {
    char buf[4096];
    size_t total = 0;
    while (total < (1 << 20)) {
      boost::system::error_code ec;
      total += stream_->read_some(asio::buffer(buf), ec);
      if (ec) return true;
    }
    return false;
  }

  void CloseSocket() {
    boost::system::error_code ignored;
    boost::beast::get_lowest_layer(*stream_).close(ignored);
  }

  ssl::stream<tcp::socket>& stream() { return *stream_; }
  boost::beast::flat_buffer& buffer() { return buffer_; }

 private:
  asio::io_context ioc_;
  ssl::context tls_;
  std::optional<ssl::stream<tcp::socket>> stream_;
  boost::beast::flat_buffer buffer_;
  uint16_t port_ = 0;
};

// A StreamBody the test drives from its own thread.
class TestStream : public StreamBody {
 public:
  void Start(std::shared_ptr<StreamWriter> writer) override {
    {
      absl::MutexLock lock(&mu_);
      writer_ = std::move(writer);
    }
    started.Notify();
  }
  void OnClientGone() override {
    gone_calls.fetch_add(1);
    if (!gone.HasBeenNotified()) gone.Notify();
  }
  std::shared_ptr<StreamWriter> writer() {
    absl::MutexLock lock(&mu_);
    return writer_;
  }

  absl::Notification started;
  absl::Notification gone;
  std::atomic<int> gone_calls{0};

 private:
  absl::Mutex mu_;
  std::shared_ptr<StreamWriter> writer_;
};

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(Handler handler, std::function<void(ServerOptions&)> tweak = {}) {
    ServerOptions opts;
    opts.cert_pem = TestPki().server.cert_pem;
    opts.key_pem = TestPki().server.key_pem;
    opts.client_ca_pem = TestPki().ca.cert_pem;
    opts.worker_threads = 4;
    if (tweak) tweak(opts);
    server_ = NewServer(std::move(opts), std::move(handler));
    absl::Status st = server_->Start();
    ASSERT_TRUE(st.ok()) << st;
    ASSERT_NE(server_->port(), 0);
  }
  void TearDown() override {
    if (server_) server_->Stop();
  }

  static Response Text(std::string body, int status = 200) {
    Response r;
    r.status = status;
    r.content_type = "text/plain";
    r.body = std::move(body);
    return r;
  }

  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, GetAndPostBodies) {
  StartServer([](Request& req) {
    Response r = Text(req.method + " " + req.path + " [" + req.body + "]");
    r.headers.emplace_back("X-Echo-Header", std::string(req.Header("x-custom")));
    return r;
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  auto get = c.RoundTrip("GET", "/healthz");
  EXPECT_EQ(get.result_int(), 200);
  EXPECT_EQ(get.body(), "GET /healthz []");
  EXPECT_EQ(get[bhttp::field::content_type], "text/plain");
  EXPECT_EQ(get[bhttp::field::content_length], "15");

  std::string big(100000, 'x');
  auto post = c.RoundTrip("POST", "/api/v1/pods", big);
  EXPECT_EQ(post.result_int(), 200);
  EXPECT_EQ(post.body(), "POST /api/v1/pods [" + big + "]");

  ASSERT_FALSE(c.SendRaw("GET /h HTTP/1.1\r\nHost: x\r\nX-Custom: hello\r\n\r\n"));
  auto res = c.Read();
  EXPECT_EQ(res["X-Echo-Header"], "hello");
}

TEST_F(ServerTest, QueryAndPathDecoding) {
  absl::Mutex mu;
  Request seen;
  StartServer([&](Request& req) {
    absl::MutexLock lock(&mu);
    seen = req;
    return Text("ok");
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  auto res = c.RoundTrip("GET",
                         "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb&x=1+2&"
                         "command=ls&command=-l&empty");
  ASSERT_EQ(res.result_int(), 200);
  absl::MutexLock lock(&mu);
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(
      seen.target,
      "/api/v1/namespaces/a%20b/pods?labelSelector=app%3Dweb&x=1+2&command=ls&command=-l&empty");
  EXPECT_EQ(seen.path, "/api/v1/namespaces/a b/pods");
  EXPECT_THAT(seen.query,
              ElementsAre(Pair("labelSelector", "app=web"), Pair("x", "1 2"), Pair("command", "ls"),
                          Pair("command", "-l"), Pair("empty", "")));
  EXPECT_THAT(seen.QueryAll("command"), ElementsAre("ls", "-l"));
  EXPECT_EQ(seen.Header("HOST"), "127.0.0.1");
  EXPECT_THAT(seen.remote_address, HasSubstr("127.0.0.1:"));
  EXPECT_FALSE(seen.client_cert.has_value());
}

TEST_F(ServerTest, KeepAliveAndPipelining) {
  std::atomic<int> calls{0};
  StartServer([&](Request& req) {
    calls.fetch_add(1);
    return Text(req.path);
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  for (int i = 0; i < 5; ++i) {
    auto res = c.RoundTrip("GET", "/r" + std::to_string(i));
    ASSERT_EQ(res.result_int(), 200);
    EXPECT_EQ(res.body(), "/r" + std::to_string(i));
    EXPECT_TRUE(res.keep_alive());
  }
  // Three pipelined requests in one write come back in order.
  ASSERT_FALSE(
      c.SendRaw("GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n"
                "GET /p3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  EXPECT_EQ(c.Read().body(), "/p1");
  EXPECT_EQ(c.Read().body(), "/p2");
  auto last = c.Read();
  EXPECT_EQ(last.body(), "/p3");
  EXPECT_FALSE(last.keep_alive());
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_EQ(calls.load(), 8);
}

TEST_F(ServerTest, HeadOmitsBody) {
  StartServer([](Request&) { return Text("twelve bytes"); });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.SendRaw("HEAD /x HTTP/1.1\r\nHost: x\r\n\r\nGET /y HTTP/1.1\r\nHost: x\r\n\r\n"));
  bhttp::response_parser<bhttp::string_body> head;
  head.skip(true);
  boost::system::error_code ec;
  bhttp::read(c.stream(), c.buffer(), head, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(head.get()[bhttp::field::content_length], "12");
  EXPECT_EQ(c.Read().body(), "twelve bytes");
}

TEST_F(ServerTest, BodyTooLargeGets413FromErrorResponse) {
  std::atomic<int> calls{0};
  StartServer(
      [&](Request&) {
        calls.fetch_add(1);
        return Text("ok");
      },
      [](ServerOptions& o) {
        o.max_body_bytes = 1024;
        o.error_response = [](int code, std::string_view msg) {
          Response r;
          r.status = code;
          r.body = "custom " + std::to_string(code) + ": " + std::string(msg);
          return r;
        };
      });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  auto ok = c.RoundTrip("POST", "/small", std::string(1024, 'a'));
  EXPECT_EQ(ok.result_int(), 200);
  ASSERT_FALSE(c.Send("POST", "/big", std::string(2000, 'a')));
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 413);
  EXPECT_THAT(res.body(), HasSubstr("custom 413"));
  EXPECT_FALSE(res.keep_alive());
  EXPECT_EQ(calls.load(), 1);
}

TEST_F(ServerTest, MalformedRequestGets400ThenClose) {
  std::atomic<int> calls{0};
  StartServer([&](Request&) {
    calls.fetch_add(1);
    return Text("ok");
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.SendRaw("THIS IS NOT HTTP\r\n\r\n"));
  auto res = c.Read();
  EXPECT_EQ(res.result_int(), 400);
  EXPECT_THAT(res.body(), HasSubstr("\"kind\":\"Status\""));
  EXPECT_THAT(res.body(), HasSubstr("\"code\":400"));
  EXPECT_TRUE(c.ReadsEof());

  TestClient c2(server_->port());
  ASSERT_FALSE(c2.Connect());
  ASSERT_FALSE(c2.SendRaw("GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(c2.Read().result_int(), 400);

  TestClient c3(server_->port());
  ASSERT_FALSE(c3.Connect());
  ASSERT_FALSE(c3.SendRaw("GET / HTTP/1.1\r\nX-Big: " + std::string(70000, 'h') + "\r\n\r\n"));
  EXPECT_EQ(c3.Read().result_int(), 431);

  // A chunk-size line that never ends.
  TestClient c4(server_->port());
  ASSERT_FALSE(c4.Connect());
  ASSERT_FALSE(c4.SendRaw("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" +
                          std::string(70000, 'e')));
  EXPECT_EQ(c4.Read().result_int(), 400);
  EXPECT_EQ(calls.load(), 0);
}

TEST_F(ServerTest, HandlerExceptionGives500) {
  StartServer([](Request&) -> Response { throw std::runtime_error("boom"); });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  auto res = c.RoundTrip("GET", "/x");
  EXPECT_EQ(res.result_int(), 500);
  // The connection stays usable.
  EXPECT_EQ(c.RoundTrip("GET", "/y").result_int(), 500);
}

TEST_F(ServerTest, ChunkedStreamFromAnotherThreadThenKeepAlive) {
  auto stream = std::make_shared<TestStream>();
  StartServer([&](Request& req) {
    if (req.path == "/watch") {
      Response r;
      r.content_type = "application/json";
      r.headers.emplace_back("X-Stream", "yes");
      r.stream = stream;
      return r;
    }
    return Text("after");
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.Send("GET", "/watch"));

  bhttp::response_parser<bhttp::string_body> p;
  boost::system::error_code ec;
  bhttp::read_header(c.stream(), c.buffer(), p, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_TRUE(p.chunked());
  EXPECT_EQ(p.get()["X-Stream"], "yes");
  ASSERT_TRUE(stream->started.WaitForNotificationWithTimeout(kWait));

  std::thread producer([w = stream->writer()] {
    EXPECT_TRUE(w->Write("{\"type\":\"ADDED\"}\n"));
    EXPECT_TRUE(w->Write(""));  // ignored
    EXPECT_TRUE(w->Write("{\"type\":\"MODIFIED\"}\n"));
  });
  producer.join();
  const std::string expected = "{\"type\":\"ADDED\"}\n{\"type\":\"MODIFIED\"}\n";
  while (p.get().body().size() < expected.size() && !ec) {
    bhttp::read_some(c.stream(), c.buffer(), p, ec);
  }
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.get().body(), expected);
  EXPECT_FALSE(p.is_done());

  std::thread closer([w = stream->writer()] {
    w->Close();
    w->Close();  // idempotent
    EXPECT_FALSE(w->Write("late"));
  });
  closer.join();
  while (!p.is_done() && !ec) bhttp::read_some(c.stream(), c.buffer(), p, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(p.get().body(), expected);

  // Same connection, next request.
  auto res = c.RoundTrip("GET", "/next");
  EXPECT_EQ(res.result_int(), 200);
  EXPECT_EQ(res.body(), "after");
  EXPECT_EQ(stream->gone_calls.load(), 0);
}

TEST_F(ServerTest, ClientDisconnectCallsOnClientGone) {
  auto stream = std::make_shared<TestStream>();
  StartServer([&](Request&) {
    Response r;
    r.stream = stream;
    return r;
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.Send("GET", "/watch"));
  ASSERT_TRUE(stream->started.WaitForNotificationWithTimeout(kWait));
  EXPECT_TRUE(stream->writer()->Write("x"));
  c.CloseSocket();
  // Noticed without any further Write.
  ASSERT_TRUE(stream->gone.WaitForNotificationWithTimeout(kWait));
  EXPECT_FALSE(stream->writer()->Write("y"));
  server_->Stop();
  EXPECT_EQ(stream->gone_calls.load(), 1);
}

TEST_F(ServerTest, BacklogOverflowDropsStream) {
  auto stream = std::make_shared<TestStream>();
  StartServer(
      [&](Request&) {
        Response r;
        r.stream = stream;
        return r;
      },
      [](ServerOptions& o) { o.max_stream_backlog_bytes = 256 * 1024; });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.Send("GET", "/watch"));
  ASSERT_TRUE(stream->started.WaitForNotificationWithTimeout(kWait));
  // The client never reads: eventually more than the backlog limit piles up.
  std::string chunk(16 * 1024, 'z');
  bool refused = false;
  for (int i = 0; i < 64 * 1024 && !refused; ++i) refused = !stream->writer()->Write(chunk);
  EXPECT_TRUE(refused);
  ASSERT_TRUE(stream->gone.WaitForNotificationWithTimeout(kWait));
}

TEST_F(ServerTest, StopEndsLiveStreams) {
  auto stream = std::make_shared<TestStream>();
  StartServer([&](Request&) {
    Response r;
    r.stream = stream;
    return r;
  });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.Send("GET", "/watch"));
  ASSERT_TRUE(stream->started.WaitForNotificationWithTimeout(kWait));
  server_->Stop();
  EXPECT_TRUE(stream->gone.HasBeenNotified());
  EXPECT_EQ(stream->gone_calls.load(), 1);
  EXPECT_FALSE(stream->writer()->Write("after stop"));
  stream->writer()->Close();
  EXPECT_TRUE(c.ReadsEof());
}

std::string DescribeCert(const Request& req) {
  if (!req.client_cert) return "none";
  std::string out = req.client_cert->common_name + "|";
  for (const auto& o : req.client_cert->organizations) out += o + ",";
  return out;
}

TEST_F(ServerTest, ClientCertificateSubjectPropagated) {
  StartServer([](Request& req) { return Text(DescribeCert(req)); });
  TestClient with_cert(server_->port(), &TestPki().alice);
  ASSERT_FALSE(with_cert.Connect());
  EXPECT_EQ(with_cert.RoundTrip("GET", "/whoami").body(), "alice|dev,ops,");

  TestClient anonymous(server_->port());
  ASSERT_FALSE(anonymous.Connect());
  EXPECT_EQ(anonymous.RoundTrip("GET", "/whoami").body(), "none");
}

TEST_F(ServerTest, CertificateFromAnotherCaIsNotTrusted) {
  // The handshake succeeds (so the apiserver can answer 401 as upstream does), but the request
  // carries no verified identity, only the reason the certificate was rejected.
  StartServer([&](Request& req) {
    return Text(DescribeCert(req) + "|" + (req.client_cert_error.empty() ? "ok" : "rejected"));
  });
  TestClient c(server_->port(), &TestPki().mallory);
  ASSERT_FALSE(c.Connect());
  EXPECT_EQ(c.RoundTrip("GET", "/whoami").body(), "none|rejected");
}

TEST_F(ServerTest, IncompleteHeadersTimeOut) {
  StartServer([](Request&) { return Text("ok"); },
              [](ServerOptions& o) { o.request_timeout = std::chrono::milliseconds(300); });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  ASSERT_FALSE(c.SendRaw("GET / HTTP/1.1\r\nHost: x\r\n"));
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.ReadsEof());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST_F(ServerTest, IdleKeepAliveTimesOut) {
  StartServer([](Request&) { return Text("ok"); },
              [](ServerOptions& o) { o.idle_timeout = std::chrono::milliseconds(300); });
  TestClient c(server_->port());
  ASSERT_FALSE(c.Connect());
  EXPECT_EQ(c.RoundTrip("GET", "/x").result_int(), 200);
  EXPECT_TRUE(c.ReadsEof());
}

TEST(ServerStartTest, BadTlsMaterialAndAddress) {
  ServerOptions opts;
  opts.cert_pem = "nope";
  opts.key_pem = TestPki().server.key_pem;
  auto s = NewServer(opts, [](Request&) { return Response{}; });
  EXPECT_FALSE(s->Start().ok());

  opts.cert_pem = TestPki().server.cert_pem;
  opts.key_pem = TestPki().alice.key_pem;  // does not match
  s = NewServer(opts, [](Request&) { return Response{}; });
  EXPECT_FALSE(s->Start().ok());

  opts.key_pem = TestPki().server.key_pem;
  opts.bind_address = "not-an-ip";
  s = NewServer(opts, [](Request&) { return Response{}; });
  EXPECT_FALSE(s->Start().ok());

  opts.bind_address = "127.0.0.1";
  s = NewServer(opts, [](Request&) { return Response{}; });
  ASSERT_TRUE(s->Start().ok());
  // The port is taken now.
  opts.port = s->port();
  auto s2 = NewServer(opts, [](Request&) { return Response{}; });
  EXPECT_FALSE(s2->Start().ok());
  s->Stop();
  s->Stop();  // idempotent
}

}  // namespace
}  // namespace korral::http
