#include "korral/apiserver/request_timeout.h"

#include <gtest/gtest.h>

#include <future>

#include <nlohmann/json.hpp>

namespace korral::apiserver {
namespace {

using std::chrono::nanoseconds;
using namespace std::chrono_literals;

TEST(ParseGoDuration, AcceptsGoSyntax) {
  EXPECT_EQ(*ParseGoDuration("0"), 0ns);
  EXPECT_EQ(*ParseGoDuration("30s"), 30s);
  EXPECT_EQ(*ParseGoDuration("1m30s"), 90s);
  EXPECT_EQ(*ParseGoDuration("1h2m3s"), 3723s);
  EXPECT_EQ(*ParseGoDuration("500ms"), 500ms);
  EXPECT_EQ(*ParseGoDuration("1.5s"), 1500ms);
  EXPECT_EQ(*ParseGoDuration(".5s"), 500ms);
  EXPECT_EQ(*ParseGoDuration("10us"), 10us);
  EXPECT_EQ(*ParseGoDuration("10\xC2\xB5s"), 10us);
  EXPECT_EQ(*ParseGoDuration("7ns"), 7ns);
  EXPECT_EQ(*ParseGoDuration("-2s"), -2s);
  EXPECT_EQ(*ParseGoDuration("+2s"), 2s);
}

TEST(ParseGoDuration, RejectsWithGoMessages) {
  EXPECT_EQ(ParseGoDuration("abc").status().message(), "time: invalid duration \"abc\"");
  EXPECT_EQ(ParseGoDuration("").status().message(), "time: invalid duration \"\"");
  EXPECT_EQ(ParseGoDuration("10").status().message(), "time: missing unit in duration \"10\"");
  EXPECT_EQ(ParseGoDuration("3x").status().message(),
            "time: unknown unit \"x\" in duration \"3x\"");
  EXPECT_EQ(ParseGoDuration("s").status().message(), "time: invalid duration \"s\"");
  EXPECT_EQ(ParseGoDuration("1.s5").status().message(), "time: missing unit in duration \"1.s5\"");
  EXPECT_FALSE(ParseGoDuration("99999999999h").ok());
}

http::Request Req(std::string method, std::string path, std::string timeout) {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  if (!timeout.empty()) r.query.push_back({"timeout", timeout});
  return r;
}

TEST(RequestDeadline, CapsAtTheMaximumAndSkipsLongRunningRequests) {
  const nanoseconds max = 60s;
  EXPECT_EQ(*RequestDeadline(Req("GET", "/api/v1/pods", ""), max), std::nullopt);
  EXPECT_EQ(**RequestDeadline(Req("GET", "/api/v1/pods", "5s"), max), 5s);
  EXPECT_EQ(**RequestDeadline(Req("POST", "/api/v1/namespaces/d/pods", "90s"), max), 60s);
  EXPECT_EQ(**RequestDeadline(Req("GET", "/api/v1/pods", "0s"), max), 60s);
  auto bad = RequestDeadline(Req("GET", "/api/v1/pods", "5"), max);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(),
            "invalid timeout specified in the request URL - time: missing unit in duration "
            "\"5\"");
  auto watch = Req("GET", "/api/v1/pods", "1s");
  watch.query.push_back({"watch", "true"});
  EXPECT_EQ(*RequestDeadline(watch, max), std::nullopt);
  EXPECT_EQ(*RequestDeadline(Req("GET", "/api/v1/namespaces/d/pods/p/log", "1s"), max),
            std::nullopt);
}

TEST(DeadlineRunner, AnswersWhenTheHandlerIsFastEnough) {
  DeadlineRunner runner;
  auto req = Req("GET", "/api/v1/pods", "10s");
  http::Response r = runner.Run(req, 10s, [](http::Request& in) {
    http::Response out;
    out.status = 200;
    out.body = in.path;
    return out;
  });
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/api/v1/pods");
}

TEST(DeadlineRunner, TimesOutWith504AndLetsTheWorkFinish) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> finished;
  auto finished_future = finished.get_future();
  {
    DeadlineRunner runner;
    auto req = Req("POST", "/api/v1/namespaces/d/configmaps", "20ms");
    http::Response r = runner.Run(req, 20ms, [&](http::Request&) {
      released.wait();  // blocked until the test has seen the 504
      finished.set_value();
      return http::Response();
    });
    EXPECT_EQ(r.status, 504);
    auto status = nlohmann::json::parse(r.body);
    EXPECT_EQ(status["reason"], "Timeout");
    EXPECT_EQ(status["code"], 504);
    EXPECT_EQ(status["message"],
              "Timeout: request did not complete within requested timeout - context deadline "
              "exceeded");
    release.set_value();
    // ~DeadlineRunner waits for the abandoned handler.
  }
  EXPECT_EQ(finished_future.wait_for(0s), std::future_status::ready);
}

}  // namespace
}  // namespace korral::apiserver
