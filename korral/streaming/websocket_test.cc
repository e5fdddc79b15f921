#include "korral/streaming/websocket.h"

#include <thread>

#include <gtest/gtest.h>

#include "korral/streaming/conn.h"

namespace korral::streaming::ws {
namespace {

TEST(WebSocket, AcceptKeyMatchesRfcExample) {
  EXPECT_EQ(AcceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocket, ParsesMaskedFramesSplitAnywhere) {
  const uint8_t mask[4] = {1, 2, 3, 4};
  std::string wire = EncodeFrame(Opcode::kBinary, std::string("\x00hello", 6), true, mask) +
                     EncodeFrame(Opcode::kText, std::string(300, 'x'), true, mask) +
                     EncodeFrame(Opcode::kBinary, std::string(70000, 'y'), true, mask);
  for (size_t split : {size_t{0}, size_t{1}, size_t{3}, size_t{7}, size_t{200}, wire.size()}) {
    FrameParser p(/*expect_masked=*/true, 1 << 20);
    p.Feed(wire.substr(0, split));
    std::vector<Frame> frames;
    bool fed = false;
    while (true) {
      auto f = p.Next();
      ASSERT_TRUE(f.ok()) << f.status();
      if (!f->has_value()) {
        if (fed) break;
        p.Feed(wire.substr(split));
        fed = true;
        continue;
      }
      frames.push_back(std::move(**f));
    }
    ASSERT_EQ(frames.size(), 3u) << split;
    EXPECT_EQ(frames[0].payload, std::string("\x00hello", 6));
    EXPECT_EQ(frames[1].opcode, Opcode::kText);
    EXPECT_EQ(frames[1].payload.size(), 300u);
    EXPECT_EQ(frames[2].payload, std::string(70000, 'y'));
  }
}

TEST(WebSocket, RejectsProtocolViolations) {
  const uint8_t mask[4] = {9, 9, 9, 9};
  auto bad = [](std::string wire, bool masked) {
    FrameParser p(masked, 1024);
    p.Feed(wire);
    return p.Next().status();
  };
  // Unmasked client frame.
  EXPECT_FALSE(bad(EncodeFrame(Opcode::kBinary, "x"), true).ok());
  // Reserved bits.
  std::string rsv = EncodeFrame(Opcode::kBinary, "x", true, mask);
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  EXPECT_FALSE(bad(rsv, true).ok());
  // Unknown opcode 3.
  std::string op = EncodeFrame(Opcode::kBinary, "x", true, mask);
  op[0] = static_cast<char>(0x83);
  EXPECT_FALSE(bad(op, true).ok());
  // Fragmented ping.
  EXPECT_FALSE(bad(EncodeFrame(Opcode::kPing, "x", false, mask), true).ok());
  // Over the limit.
  EXPECT_TRUE(absl::IsResourceExhausted(
      bad(EncodeFrame(Opcode::kBinary, std::string(2000, 'a'), true, mask), true)));
}

http::Request UpgradeRequest(std::string protocols) {
  http::Request r;
  r.method = "GET";
  r.headers = {{"Connection", "Upgrade"},
               {"Upgrade", "websocket"},
               {"Sec-WebSocket-Version", "13"},
               {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
               {"Sec-WebSocket-Protocol", protocols}};
  return r;
}

TEST(WebSocket, HandshakePicksServerPreference) {
  http::Response resp;
  auto p = AcceptHandshake(UpgradeRequest("v4.channel.k8s.io, v5.channel.k8s.io"),
                           {"v5.channel.k8s.io", "v4.channel.k8s.io"}, &resp);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(*p, "v5.channel.k8s.io");
  EXPECT_EQ(resp.status, 101);
  auto bad = AcceptHandshake(UpgradeRequest("foo"), {"v5.channel.k8s.io"}, &resp);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_NE(bad.status().message().find("foo"), std::string_view::npos);
}

TEST(WebSocket, MessagesOverPipeWithPingAndClose) {
  auto [a, b] = NewPipe();
  http::Conn* client = b.get();
  WebSocket server(std::move(a), /*server=*/true);
  const uint8_t mask[4] = {5, 6, 7, 8};
  ASSERT_TRUE(client->Write(EncodeFrame(Opcode::kPing, "p", true, mask)).ok());
  ASSERT_TRUE(client->Write(EncodeFrame(Opcode::kText, "hel", false, mask)).ok());
  ASSERT_TRUE(client->Write(EncodeFrame(Opcode::kContinuation, "lo", true, mask)).ok());
  ASSERT_TRUE(
      client->Write(EncodeFrame(Opcode::kClose, std::string("\x03\xe8", 2), true, mask)).ok());
  auto m = server.Read();
  ASSERT_TRUE(m.ok() && m->has_value());
  EXPECT_EQ((*m)->data, "hello");
  EXPECT_EQ((*m)->opcode, Opcode::kText);
  auto end = server.Read();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(server.peer_close_code(), 1000);
  // The client got a pong and the close answer, unmasked.
  char buf[64];
  std::string got;
  while (got.size() < 7) {
    auto n = client->Read(buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    got.append(buf, *n);
  }
  FrameParser cp(/*expect_masked=*/false, 1024);
  cp.Feed(got);
  auto pong = cp.Next();
  ASSERT_TRUE(pong.ok() && pong->has_value());
  EXPECT_EQ((*pong)->opcode, Opcode::kPong);
  auto close = cp.Next();
  ASSERT_TRUE(close.ok() && close->has_value());
  EXPECT_EQ((*close)->opcode, Opcode::kClose);
}

}  // namespace
}  // namespace korral::streaming::ws
