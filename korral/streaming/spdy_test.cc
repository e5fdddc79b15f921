#include "korral/streaming/spdy.h"

#include <zlib.h>

#include <thread>

#include <gtest/gtest.h>

#include "korral/streaming/conn.h"
#include "korral/streaming/portforward.h"

namespace korral::streaming::spdy {
namespace {

TEST(Spdy, DictionaryIsTheSpdy3One) {
  const std::string& d = Dictionary();
  EXPECT_EQ(d.size(), 1423u);
  EXPECT_EQ(adler32(1, reinterpret_cast<const Bytef*>(d.data()), static_cast<uInt>(d.size())),
            0xe3c6a7c2u);
  EXPECT_EQ(d.substr(d.size() - 6), "enq=0.");
}

TEST(Spdy, HeaderBlocksRoundTripAcrossFramesWithOneContext) {
  HeaderCompressor c;
  FrameParser p;
  // (Sequenced: the frames share one compression context, so order matters.)
  std::string wire = EncodeSynStream(c, 1, {{"streamtype", "error"}, {"port", "80"}}, 0);
  wire += EncodeSynStream(c, 3, {{"streamtype", "data"}, {"port", "80"}}, 0);
  wire += EncodeData(3, "abc", kFlagFin) + EncodeRstStream(3, kCancel) + EncodePing(7);
  // Byte by byte: the parser must cope with any split.
  std::vector<Frame> frames;
  for (char ch : wire) {
    p.Feed(std::string_view(&ch, 1));
    while (true) {
      auto f = p.Next();
      ASSERT_TRUE(f.ok()) << f.status();
      if (!f->has_value()) break;
      frames.push_back(std::move(**f));
    }
  }
  ASSERT_EQ(frames.size(), 5u);
  EXPECT_EQ(frames[0].type, FrameType::kSynStream);
  EXPECT_EQ(HeaderValue(frames[0].headers, "streamtype"), "error");
  EXPECT_EQ(HeaderValue(frames[1].headers, "streamtype"), "data");
  EXPECT_EQ(frames[1].stream_id, 3u);
  EXPECT_EQ(frames[2].data, "abc");
  EXPECT_EQ(frames[2].flags, kFlagFin);
  EXPECT_EQ(frames[3].value, kCancel);
  EXPECT_EQ(frames[4].value, 7u);
}

TEST(Spdy, RejectsMalformedFrames) {
  FrameParser p;
  // SYN_STREAM with a garbage header block.
  std::string bad(
      "\x80\x03\x00\x01\x00\x00\x00\x0e\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00"
      "\xde\xad\xbe\xef",
      22);
  p.Feed(bad);
  EXPECT_FALSE(p.Next().ok());
  FrameParser v2;
  v2.Feed(std::string("\x80\x02\x00\x06\x00\x00\x00\x04\x00\x00\x00\x01", 12));
  EXPECT_FALSE(v2.Next().ok());
}

// kubectl's side of a port-forward against ServePortForward, through a pipe, to a pipe "pod".
TEST(Spdy, PortForwardRoundTrip) {
  auto [client_end, server_end] = NewPipe();
  std::vector<http::Conn*> pod_sides;
  std::mutex mu;
  std::vector<std::thread> pods;
  PortDialer dial = [&](uint16_t port) -> absl::StatusOr<http::ConnPtr> {
    if (port != 80) return absl::UnavailableError("connection refused");
    auto [x, y] = NewPipe();
    std::lock_guard lock(mu);
    // An echo server on the pod side.
    pods.emplace_back([c = std::shared_ptr<http::Conn>(std::move(y))] {
      char buf[256];
      while (true) {
        auto n = c->Read(buf, sizeof buf);
        if (!n.ok() || *n == 0) break;
        (void)c->Write("echo:" + std::string(buf, *n));
      }
      c->CloseWrite();
    });
    return std::move(x);
  };
  std::thread server([&, conn = std::move(server_end)]() mutable {
    ServePortForward(std::move(conn), dial, "pod default/p");
  });
  Session client(std::move(client_end), /*server=*/false);
  std::thread reader([&] { (void)client.Run(nullptr); });
  // Port 80: echo.
  auto err = client.Open({{"streamtype", "error"}, {"port", "80"}, {"requestid", "0"}}, kFlagFin);
  ASSERT_TRUE(err.ok());
  ASSERT_TRUE((*err)->WaitReply().ok());
  auto data = client.Open({{"streamtype", "data"}, {"port", "80"}, {"requestid", "0"}});
  ASSERT_TRUE(data.ok());
  ASSERT_TRUE((*data)->WaitReply().ok());
  ASSERT_TRUE((*data)->Write("hi").ok());
  ASSERT_TRUE((*data)->CloseWrite().ok());
  std::string got;
  char buf[64];
  while (true) {
    auto n = (*data)->Read(buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    got.append(buf, *n);
  }
  EXPECT_EQ(got, "echo:hi");
  // Port 81: the dial error arrives on the error stream.
  auto err2 = client.Open({{"streamtype", "error"}, {"port", "81"}, {"requestid", "1"}}, kFlagFin);
  ASSERT_TRUE(err2.ok());
  auto data2 = client.Open({{"streamtype", "data"}, {"port", "81"}, {"requestid", "1"}});
  ASSERT_TRUE(data2.ok());
  std::string msg;
  while (true) {
    auto n = (*err2)->Read(buf, sizeof buf);
    if (!n.ok() || *n == 0) break;
    msg.append(buf, *n);
  }
  EXPECT_EQ(msg, "error forwarding port 81 to pod default/p: connection refused");
  client.Close();
  reader.join();
  server.join();
  std::lock_guard lock(mu);
  for (auto& t : pods) t.join();
}

}  // namespace
}  // namespace korral::streaming::spdy
