// End-to-end tests of the kubelet server over TLS with the fake backend: WebSocket exec and
// attach, raw SPDY port-forward, logs, authentication and bad requests.
#include "korral/kubelet/server/server.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "korral/kubelet/server/testing/fake_backend.h"
#include "korral/pki/pki.h"
#include "korral/streaming/conn.h"
#include "korral/streaming/spdy.h"
#include "korral/streaming/websocket.h"

namespace korral::kubelet::server {
namespace {

using streaming::ws::Opcode;

struct Reply {
  int status = 0;
  std::string head;
  std::string rest;  // bytes after the head
};

Reply SendRequest(http::Conn& c, const std::string& request) {
  EXPECT_TRUE(c.Write(request).ok());
  Reply r;
  std::string buf;
  char tmp[4096];
  while (buf.find("\r\n\r\n") == std::string::npos) {
    auto n = c.Read(tmp, sizeof tmp);
    if (!n.ok() || *n == 0) break;
    buf.append(tmp, *n);
  }
  size_t end = buf.find("\r\n\r\n");
  if (end == std::string::npos) return r;
  r.head = buf.substr(0, end);
  r.rest = buf.substr(end + 4);
  r.status = std::atoi(r.head.c_str() + 9);
  return r;
}

class KubeletServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/korral-kserver-XXXXXX";
    dir_ = mkdtemp(tmpl);
    auto ca = pki::NewSelfSignedCA("test-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    pki::CertOptions so;
    so.common_name = "kubelet";
    so.ip_addresses = {"127.0.0.1"};
    auto serving = pki::NewSignedCert(ca_, so);
    pki::CertOptions co;
    co.common_name = "kube-apiserver-kubelet-client";
    co.usage = pki::CertUsage::kClient;
    auto client = pki::NewSignedCert(ca_, co);
    ASSERT_TRUE(serving.ok() && client.ok());
    client_ = *client;
    backend_ = std::make_unique<testing::FakeBackend>(dir_);
    Options o;
    o.port = 0;
    o.cert_pem = serving->cert_pem;
    o.key_pem = serving->key_pem;
    o.client_ca_pem = ca_.cert_pem;
    o.backend = backend_.get();
    server_ = NewKubeletServer(o);
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    server_->Stop();
    std::string cmd = "rm -rf " + dir_;
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }

  http::ConnPtr Dial(bool with_cert = true) {
    streaming::TlsClientOptions t;
    t.ca_pem = ca_.cert_pem;
    if (with_cert) {
      t.cert_pem = client_.cert_pem;
      t.key_pem = client_.key_pem;
    }
    auto c = streaming::DialTls("127.0.0.1", server_->port(), t, std::chrono::seconds(5));
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  static std::string WsRequest(const std::string& target, const std::string& protocol) {
    return "GET " + target +
           " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
           "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
           "Sec-WebSocket-Protocol: " +
           protocol + "\r\n\r\n";
  }

  // Runs an exec over WebSocket; returns {channel -> concatenated payload}.
  std::map<int, std::string> RunExec(const std::string& target, const std::string& protocol,
                                     const std::vector<std::string>& stdin_msgs = {}) {
    auto c = Dial();
    Reply r = SendRequest(*c, WsRequest(target, protocol));
    EXPECT_EQ(r.status, 101) << r.head;
    const uint8_t mask[4] = {1, 2, 3, 4};
    for (const auto& m : stdin_msgs) {
      EXPECT_TRUE(c->Write(streaming::ws::EncodeFrame(Opcode::kBinary, m, true, mask)).ok());
    }
    streaming::ws::FrameParser p(false, 1 << 20);
    p.Feed(r.rest);
    std::map<int, std::string> out;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      auto f = p.Next();
      EXPECT_TRUE(f.ok());
      if (!f.ok()) break;
      if (!f->has_value()) {
        auto n = c->Read(buf, sizeof buf);
        if (!n.ok() || *n == 0) break;
        p.Feed(std::string_view(buf, *n));
        continue;
      }
      if ((*f)->opcode == Opcode::kClose) {
        out[-1] = (*f)->payload;
        break;
      }
      if (!(*f)->payload.empty())
        out[static_cast<uint8_t>((*f)->payload[0])] += (*f)->payload.substr(1);
    }
    return out;
  }

  std::string dir_;
  pki::CertKeyPair ca_, client_;
  std::unique_ptr<testing::FakeBackend> backend_;
  std::unique_ptr<KubeletServer> server_;
};

TEST_F(KubeletServerTest, HealthzAndAuthentication) {
  auto c = Dial();
  Reply r = SendRequest(*c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  auto anon = Dial(/*with_cert=*/false);
  Reply a = SendRequest(*anon, "GET /pods HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(a.status, 401);
}

TEST_F(KubeletServerTest, ExecV5EchoAndExitCode) {
  auto out =
      RunExec("/exec/default/web/main?command=echo&command=hi&stdout=true", "v5.channel.k8s.io");
  EXPECT_EQ(out[1], "hi\n");
  EXPECT_EQ(nlohmann::json::parse(out[3])["status"], "Success");
  auto fail =
      RunExec("/exec/default/web/main?command=exit&command=42&stdout=true", "v5.channel.k8s.io");
  auto status = nlohmann::json::parse(fail[3]);
  EXPECT_EQ(status["reason"], "NonZeroExitCode");
  EXPECT_EQ(status["details"]["causes"][0]["reason"], "ExitCode");
  EXPECT_EQ(status["details"]["causes"][0]["message"], "42");
}

TEST_F(KubeletServerTest, ExecStdinWithV5CloseAndV4) {
  auto out = RunExec(
      "/exec/default/web/main?command=cat&stdin=true&stdout=true", "v5.channel.k8s.io",
      {std::string("\x00hello ", 7), std::string("\x00world", 6), std::string("\xff\x00", 2)});
  EXPECT_EQ(out[1], "hello world");
  // v4: stdin ends with the connection; the command still sees its input.
  auto v4 = RunExec("/exec/default/web/main?command=echo&command=v4&stdout=True&stdin=False",
                    "v4.channel.k8s.io");
  EXPECT_EQ(v4[1], "v4\n");
}

TEST_F(KubeletServerTest, ExecErrors) {
  auto c = Dial();
  Reply r = SendRequest(
      *c, WsRequest("/exec/default/web/missing?command=ls&stdout=true", "v5.channel.k8s.io"));
  EXPECT_EQ(r.status, 404);
  auto c2 = Dial();
  Reply r2 = SendRequest(
      *c2, WsRequest("/exec/default/web/main?command=ls&stdout=true", "v9.channel.k8s.io"));
  EXPECT_EQ(r2.status, 400);
  auto c3 = Dial();
  Reply r3 = SendRequest(*c3, WsRequest("/exec/default/web/main?stdout=true", "v5.channel.k8s.io"));
  EXPECT_EQ(r3.status, 400);
  // An unmasked client frame is a protocol error: the server closes with 1002.
  auto c4 = Dial();
  Reply r4 = SendRequest(*c4, WsRequest("/exec/default/web/main?command=cat&stdin=true&stdout=true",
                                        "v5.channel.k8s.io"));
  ASSERT_EQ(r4.status, 101);
  ASSERT_TRUE(c4->Write(streaming::ws::EncodeFrame(Opcode::kBinary, "\x00x")).ok());
  streaming::ws::FrameParser p(false, 1 << 20);
  p.Feed(r4.rest);
  char buf[1024];
  bool saw_1002 = false;
  for (int i = 0; i < 100 && !saw_1002; ++i) {
    auto f = p.Next();
    ASSERT_TRUE(f.ok());
    if (!f->has_value()) {
      auto n = c4->Read(buf, sizeof buf);
      if (!n.ok() || *n == 0) break;
      p.Feed(std::string_view(buf, *n));
      continue;
    }
    if ((*f)->opcode == Opcode::kClose) saw_1002 = (*f)->payload.substr(0, 2) == "\x03\xea";
  }
  EXPECT_TRUE(saw_1002);
}

TEST_F(KubeletServerTest, ContainerLogs) {
  std::ofstream(dir_ + "/default_web_main.log") << "2026-01-01T00:00:00Z stdout F hello\n";
  auto c = Dial();
  Reply r = SendRequest(*c, "GET /containerLogs/default/web/main HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r.status, 200);
  std::string body = r.rest;
  char buf[1024];
  while (body.find("0\r\n\r\n") == std::string::npos) {
    auto n = c->Read(buf, sizeof buf);
    if (!n.ok() || *n == 0) break;
    body.append(buf, *n);
  }
  EXPECT_NE(body.find("hello\n"), std::string::npos);
  auto c2 = Dial();
  Reply r2 = SendRequest(*c2, "GET /containerLogs/default/web/other HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(r2.status, 404);
}

TEST_F(KubeletServerTest, PortForwardRawSpdy) {
  // A TCP server standing in for the pod's port.
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  listen(lfd, 1);
  uint16_t port = ntohs(addr.sin_port);
  std::thread pod([lfd] {
    int fd = accept(lfd, nullptr, nullptr);
    char buf[64];
    ssize_t n = read(fd, buf, sizeof buf);
    std::string reply = "pod got " + std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
    (void)!write(fd, reply.data(), reply.size());
    close(fd);
  });
  auto c = Dial();
  Reply r = SendRequest(*c,
                        "POST /portForward/default/web HTTP/1.1\r\nHost: x\r\nConnection: "
                        "Upgrade\r\nUpgrade: SPDY/3.1\r\nX-Stream-Protocol-Version: "
                        "portforward.k8s.io\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(r.status, 101) << r.head;
  ASSERT_TRUE(r.rest.empty());
  streaming::spdy::Session s(std::move(c), /*server=*/false);
  std::thread reader([&] { (void)s.Run(nullptr); });
  std::string p = std::to_string(port);
  auto err =
      s.Open({{"streamtype", "error"}, {"port", p}, {"requestid", "0"}}, streaming::spdy::kFlagFin);
  ASSERT_TRUE(err.ok());
  ASSERT_TRUE((*err)->WaitReply().ok());
  auto data = s.Open({{"streamtype", "data"}, {"port", p}, {"requestid", "0"}});
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE((*data)->Write("ping").ok());
  std::string got;
  char buf[64];
  while (true) {
    auto n = (*data)->Read(buf, sizeof buf);
    if (!n.ok() || *n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "pod got ping");
  s.Close();
  reader.join();
  pod.join();
  close(lfd);
}

}  // namespace
}  // namespace korral::kubelet::server
