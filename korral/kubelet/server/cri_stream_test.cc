// The CRI streaming clients against korral's own SPDY servers (remotecommand and
// portforward), standing in for containerd's streaming server on plain HTTP.
#include "korral/kubelet/server/cri_stream.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "korral/kubelet/server/remotecommand.h"
#include "korral/kubelet/server/testing/fake_backend.h"
#include "korral/streaming/conn.h"
#include "korral/streaming/portforward.h"

namespace korral::kubelet::server {
namespace {

int Listen(uint16_t* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  listen(fd, 4);
  *port = ntohs(addr.sin_port);
  return fd;
}

// Reads an HTTP head from `c`; returns the X-Stream-Protocol-Version values offered.
std::string ReadHead(http::Conn& c) {
  std::string buf;
  char tmp[1024];
  while (buf.find("\r\n\r\n") == std::string::npos) {
    auto n = c.Read(tmp, sizeof tmp);
    if (!n.ok() || *n == 0) break;
    buf.append(tmp, *n);
  }
  return buf;
}

// A one-connection stand-in for a runtime's streaming server.
class FakeRuntimeServer {
 public:
  explicit FakeRuntimeServer(std::function<void(http::ConnPtr, const std::string& head)> serve)
      : listen_fd_(Listen(&port_)) {
    thread_ = std::thread([this, serve] {
      int fd = accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;
      auto conn = streaming::AdoptTcpSocket(fd);
      std::string head = ReadHead(*conn);
      serve(std::move(conn), head);
    });
  }
  ~FakeRuntimeServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    thread_.join();
    close(listen_fd_);
  }
  std::string url(const std::string& path) {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }

 private:
  uint16_t port_ = 0;
  int listen_fd_;
  std::thread thread_;
};

class RecordingIO : public CommandIO {
 public:
  explicit RecordingIO(std::string stdin_data) : stdin_(std::move(stdin_data)) {}
  size_t ReadStdin(char* buf, size_t n) override {
    std::lock_guard lock(mu_);
    size_t k = std::min(n, stdin_.size());
    std::memcpy(buf, stdin_.data(), k);
    stdin_.erase(0, k);
    return k;
  }
  bool WriteStdout(std::string_view d) override {
    std::lock_guard lock(mu_);
    out_.append(d);
    return true;
  }
  bool WriteStderr(std::string_view d) override {
    std::lock_guard lock(mu_);
    err_.append(d);
    return true;
  }
  std::optional<TerminalSize> NextResize() override { return std::nullopt; }
  bool ClientGone() override { return false; }
  void CloseStdin() override {}
  std::string out() {
    std::lock_guard lock(mu_);
    return out_;
  }
  std::string err() {
    std::lock_guard lock(mu_);
    return err_;
  }

 private:
  std::mutex mu_;
  std::string stdin_, out_, err_;
};

ExecRequest Request(std::vector<std::string> command, bool in) {
  ExecRequest r;
  r.pod = {"default", "web", ""};
  r.container = "main";
  r.command = std::move(command);
  r.want_stdin = in;
  r.want_stdout = true;
  r.want_stderr = true;
  return r;
}

void ServeExec(http::ConnPtr conn, const std::string& head, ExecRequest request) {
  ASSERT_NE(head.find("X-Stream-Protocol-Version: v4.channel.k8s.io"), std::string::npos);
  ASSERT_TRUE(conn->Write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
                          "SPDY/3.1\r\nX-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n")
                  .ok());
  testing::FakeBackend backend("/nonexistent");
  auto session = backend.Exec(request);
  ASSERT_TRUE(session.ok());
  ServeRemoteCommandSpdy(std::move(conn), "v4.channel.k8s.io", request, std::move(*session));
}

TEST(CriStream, ExecStdinStdoutAndExitCode) {
  ExecRequest cat = Request({"cat"}, true);
  FakeRuntimeServer server(
      [&](http::ConnPtr c, const std::string& h) { ServeExec(std::move(c), h, cat); });
  RecordingIO io("some input");
  auto result = NewCriCommandSession(server.url("/exec/token"), cat)->Run(io);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, 0);
  EXPECT_EQ(io.out(), "some input");

  ExecRequest exit42 = Request({"sh", "-c", "exit 42"}, false);
  FakeRuntimeServer server2(
      [&](http::ConnPtr c, const std::string& h) { ServeExec(std::move(c), h, exit42); });
  RecordingIO io2("");
  auto r2 = NewCriCommandSession(server2.url("/exec/t2"), exit42)->Run(io2);
  ASSERT_TRUE(r2.ok()) << r2.status();
  EXPECT_EQ(*r2, 42);

  ExecRequest err = Request({"stderr", "boom"}, false);
  FakeRuntimeServer server3(
      [&](http::ConnPtr c, const std::string& h) { ServeExec(std::move(c), h, err); });
  RecordingIO io3("");
  ASSERT_TRUE(NewCriCommandSession(server3.url("/exec/t3"), err)->Run(io3).ok());
  EXPECT_EQ(io3.err(), "boom\n");
}

TEST(CriStream, ExecFailureStatusIsAnError) {
  ExecRequest bad = Request({"nosuchbinary"}, false);
  FakeRuntimeServer server(
      [&](http::ConnPtr c, const std::string& h) { ServeExec(std::move(c), h, bad); });
  RecordingIO io("");
  auto r = NewCriCommandSession(server.url("/exec/x"), bad)->Run(io);
  EXPECT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("executable file not found"), std::string::npos);
}

TEST(CriStream, PortForward) {
  // The "pod": an in-memory echo on port 80.
  streaming::PortDialer dial = [](uint16_t port) -> absl::StatusOr<http::ConnPtr> {
    if (port != 80) return absl::UnavailableError("connection refused");
    auto [a, b] = streaming::NewPipe();
    std::thread([c = std::shared_ptr<http::Conn>(std::move(b))] {
      char buf[256];
      while (true) {
        auto n = c->Read(buf, sizeof buf);
        if (!n.ok() || *n == 0) break;
        (void)c->Write("pod:" + std::string(buf, *n));
      }
      c->CloseWrite();
    }).detach();
    return std::move(a);
  };
  FakeRuntimeServer server([&](http::ConnPtr c, const std::string& head) {
    ASSERT_NE(head.find("portforward.k8s.io"), std::string::npos);
    ASSERT_TRUE(c->Write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: "
                         "SPDY/3.1\r\nX-Stream-Protocol-Version: portforward.k8s.io\r\n\r\n")
                    .ok());
    streaming::ServePortForward(std::move(c), dial, "pod default/web");
  });
  auto fwd = NewCriPortForwarder(server.url("/portforward/token"));
  auto conn = fwd->Dial(80);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_TRUE((*conn)->Write("hello").ok());
  char buf[64];
  auto n = (*conn)->Read(buf, sizeof buf);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(buf, *n), "pod:hello");
  // A refused port: the runtime's error text comes back as the read error.
  auto refused = fwd->Dial(81);
  ASSERT_TRUE(refused.ok());
  auto r = (*refused)->Read(buf, sizeof buf);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(std::string(r.status().message()).find("connection refused"), std::string::npos);
  (*conn)->Close();
  conn->reset();
  refused->reset();
  fwd.reset();
}

TEST(CriStream, ParseUrl) {
  auto u = ParseStreamingUrl("http://127.0.0.1:4321/exec/abc?x=1");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, 4321);
  EXPECT_EQ(u->path, "/exec/abc?x=1");
  EXPECT_FALSE(ParseStreamingUrl("https://x/").ok());
  EXPECT_FALSE(ParseStreamingUrl("http://x:99999/").ok());
}

}  // namespace
}  // namespace korral::kubelet::server
