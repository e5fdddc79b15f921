#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/apiserver/http/internal/request_parsing.h"

namespace korral::http::internal {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

TEST(PercentDecodeTest, DecodesAndRejects) {
  EXPECT_EQ(PercentDecode("a%2Fb%20c+d", false), "a/b c+d");
  EXPECT_EQ(PercentDecode("a%2fb+c", true), "a/b c");
  EXPECT_EQ(PercentDecode("%", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%4", false), std::nullopt);
  EXPECT_EQ(PercentDecode("%zz", false), std::nullopt);
  EXPECT_EQ(PercentDecode("", false), "");
}

TEST(ParseQueryTest, SplitsDecodesKeepsOrderAndRepeats) {
  EXPECT_THAT(
      ParseQuery("a=1&b=x+y&command=ls&command=-l&flag&&c=%3D%26&bad=%zz&=empty"),
      ElementsAre(Pair("a", "1"), Pair("b", "x y"), Pair("command", "ls"), Pair("command", "-l"),
                  Pair("flag", ""), Pair("c", "=&"), Pair("", "empty")));
}

TEST(ParseTargetTest, Forms) {
  Request r;
  ASSERT_TRUE(
      ParseTarget("/api/v1/namespaces/a%2Fb/pods?limit=500&labelSelector=app%3Dweb", &r).ok());
  EXPECT_EQ(r.path, "/api/v1/namespaces/a/b/pods");
  EXPECT_EQ(r.Query("limit"), "500");
  EXPECT_EQ(r.Query("labelSelector"), "app=web");
  EXPECT_EQ(r.Query("missing"), std::nullopt);

  ASSERT_TRUE(ParseTarget("https://host:6443/healthz?verbose", &r).ok());
  EXPECT_EQ(r.path, "/healthz");
  EXPECT_EQ(r.Query("verbose"), "");
  ASSERT_TRUE(ParseTarget("http://host", &r).ok());
  EXPECT_EQ(r.path, "/");
  ASSERT_TRUE(ParseTarget("*", &r).ok());
  EXPECT_EQ(r.path, "*");

  EXPECT_FALSE(ParseTarget("/bad%zzpath", &r).ok());
  EXPECT_FALSE(ParseTarget("relative/path", &r).ok());
  EXPECT_FALSE(ParseTarget("", &r).ok());
}

TEST(ParseRequestBytesTest, FullRequest) {
  auto r = ParseRequestBytes(
      "POST /api/v1/pods?dryRun=All HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "X-Thing: one\r\nx-thing: two\r\nContent-Length: 4\r\n\r\nbody",
      1024, 8192);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->method, "POST");
  EXPECT_EQ(r->target, "/api/v1/pods?dryRun=All");
  EXPECT_EQ(r->path, "/api/v1/pods");
  EXPECT_EQ(r->Query("dryRun"), "All");
  EXPECT_EQ(r->Header("content-type"), "application/json");
  EXPECT_EQ(r->Header("X-THING"), "one");
  EXPECT_EQ(r->Header("absent"), "");
  EXPECT_EQ(r->body, "body");
}

TEST(ParseRequestBytesTest, ChunkedBody) {
  auto r = ParseRequestBytes(
      "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
      "chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
      1024, 8192);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "abcde");
}

TEST(ParseRequestBytesTest, Errors) {
  EXPECT_EQ(HttpStatusFor(ParseRequestBytes("GARBAGE\r\n\r\n", 1024, 8192).status()), 400);
  EXPECT_EQ(HttpStatusFor(ParseRequestBytes("GET /x HTTP/9.9\r\n\r\n", 1024, 8192).status()), 400);
  EXPECT_EQ(
      HttpStatusFor(
          ParseRequestBytes("GET /x HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 1024, 8192).status()),
      400);
  EXPECT_EQ(HttpStatusFor(ParseRequestBytes("GET /%zz HTTP/1.1\r\n\r\n", 1024, 8192).status()),
            400);
  EXPECT_EQ(HttpStatusFor(
                ParseRequestBytes("POST /x HTTP/1.1\r\nContent-Length: 2000\r\n\r\n", 1024, 8192)
                    .status()),
            413);
  std::string big = "GET /x HTTP/1.1\r\nX-Big: " + std::string(10000, 'a') + "\r\n\r\n";
  EXPECT_EQ(HttpStatusFor(ParseRequestBytes(big, 1024, 8192).status()), 431);
  // Incomplete input: nothing to answer.
  EXPECT_EQ(HttpStatusFor(ParseRequestBytes("GET /x HTTP/1.1\r\nHost:", 1024, 8192).status()), 0);
}

}  // namespace
}  // namespace korral::http::internal
