#include "korral/apiserver/maxinflight.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace korral::apiserver {
namespace {

using Kind = MaxInFlightLimiter::Kind;

http::Request Req(std::string method, std::string path,
                  std::vector<std::pair<std::string, std::string>> query = {}) {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  r.target = r.path;
  for (auto& [k, v] : query) r.query.push_back({k, v});
  return r;
}

const std::vector<std::string> kUser = {"system:authenticated"};
const std::vector<std::string> kMasters = {"system:masters", "system:authenticated"};

TEST(MaxInFlight, ClassifiesLikeUpstream) {
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/namespaces/d/pods")), Kind::kReadOnly);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/namespaces/d/pods/p")),
            Kind::kReadOnly);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/healthz")), Kind::kReadOnly);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("POST", "/api/v1/namespaces/d/pods")),
            Kind::kMutating);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("PATCH", "/apis/apps/v1/namespaces/d/deployments/x")),
            Kind::kMutating);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("DELETE", "/api/v1/namespaces/d/configmaps")),
            Kind::kMutating);
  // Long-running: watches (both spellings), log (even without follow), exec, attach,
  // portforward and every proxy subresource.
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/pods", {{"watch", "true"}})),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/watch/namespaces/d/pods")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/namespaces/d/pods/p/log")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("POST", "/api/v1/namespaces/d/pods/p/exec")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/namespaces/d/pods/p/attach")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("POST", "/api/v1/namespaces/d/pods/p/portforward")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/namespaces/d/pods/p:8080/proxy/a/b")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("PUT", "/api/v1/namespaces/d/services/s/proxy/")),
            Kind::kLongRunning);
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("GET", "/api/v1/nodes/n1/proxy/metrics")),
            Kind::kLongRunning);
  // Status and scale are ordinary.
  EXPECT_EQ(MaxInFlightLimiter::Classify(Req("PUT", "/api/v1/namespaces/d/pods/p/status")),
            Kind::kMutating);
}

TEST(MaxInFlight, SlotsAreHeldUntilTheRequestIsDestroyed) {
  MaxInFlightLimiter limiter({/*max_requests_inflight=*/2, /*max_mutating_requests_inflight=*/1});
  auto r1 = Req("GET", "/api/v1/pods");
  auto r2 = Req("GET", "/api/v1/pods");
  auto r3 = Req("GET", "/api/v1/pods");
  limiter.Admit(r1);
  limiter.Admit(r2);
  limiter.Admit(r3);
  EXPECT_EQ(limiter.InFlight(Kind::kReadOnly), 2);
  EXPECT_FALSE(limiter.ShouldReject(r1, kUser));
  EXPECT_FALSE(limiter.ShouldReject(r2, kUser));
  EXPECT_TRUE(limiter.ShouldReject(r3, kUser));
  EXPECT_EQ(limiter.Rejected(Kind::kReadOnly), 1u);

  // The budgets are separate: a write still fits, a second one does not.
  auto w1 = Req("POST", "/api/v1/namespaces/d/configmaps");
  auto w2 = Req("PUT", "/api/v1/namespaces/d/configmaps/c");
  limiter.Admit(w1);
  limiter.Admit(w2);
  EXPECT_FALSE(limiter.ShouldReject(w1, kUser));
  EXPECT_TRUE(limiter.ShouldReject(w2, kUser));
  EXPECT_EQ(limiter.InFlight(Kind::kMutating), 1);
  EXPECT_EQ(limiter.Rejected(Kind::kMutating), 1u);

  // A finished request frees its slot; a rejected one never held one.
  r3 = http::Request();
  EXPECT_EQ(limiter.InFlight(Kind::kReadOnly), 2);
  r1 = http::Request();
  EXPECT_EQ(limiter.InFlight(Kind::kReadOnly), 1);
  auto r4 = Req("GET", "/api/v1/pods/x");
  limiter.Admit(r4);
  EXPECT_FALSE(limiter.ShouldReject(r4, kUser));
  EXPECT_EQ(limiter.InFlight(Kind::kReadOnly), 2);
}

TEST(MaxInFlight, SystemMastersAndLongRunningRequestsAreNeverRejected) {
  MaxInFlightLimiter limiter({1, 1});
  auto busy = Req("POST", "/api/v1/namespaces/d/pods");
  limiter.Admit(busy);
  auto admin = Req("POST", "/api/v1/namespaces/d/pods");
  limiter.Admit(admin);
  EXPECT_FALSE(limiter.ShouldReject(admin, kMasters));
  EXPECT_EQ(limiter.Rejected(Kind::kMutating), 0u);
  auto exec = Req("POST", "/api/v1/namespaces/d/pods/p/exec");
  limiter.Admit(exec);
  EXPECT_FALSE(exec.admission);
  EXPECT_FALSE(limiter.ShouldReject(exec, kUser));
  auto watch = Req("GET", "/api/v1/pods", {{"watch", "1"}});
  limiter.Admit(watch);
  EXPECT_FALSE(limiter.ShouldReject(watch, kUser));
  EXPECT_EQ(limiter.InFlight(Kind::kMutating), 1);
}

TEST(MaxInFlight, ZeroDisablesABudget) {
  MaxInFlightLimiter limiter({0, 1});
  std::vector<http::Request> reads;
  for (int i = 0; i < 1000; ++i) {
    reads.push_back(Req("GET", "/api/v1/pods"));
    limiter.Admit(reads.back());
    EXPECT_FALSE(limiter.ShouldReject(reads.back(), kUser));
  }
  EXPECT_EQ(limiter.InFlight(Kind::kReadOnly), 0);
}

TEST(MaxInFlight, TicketsOutliveTheLimiter) {
  auto r = Req("GET", "/api/v1/pods");
  {
    MaxInFlightLimiter limiter({1, 1});
    limiter.Admit(r);
  }
  r = http::Request();  // releases into the shared counters without touching freed memory
  SUCCEED();
}

TEST(MaxInFlight, TooManyRequestsResponseMatchesUpstream) {
  http::Response r = MaxInFlightLimiter::TooManyRequests();
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.body, "Too many requests, please try again later.\n");
  EXPECT_EQ(r.content_type, "text/plain; charset=utf-8");
  bool retry_after = false;
  for (const auto& [k, v] : r.headers) retry_after |= k == "Retry-After" && v == "1";
  EXPECT_TRUE(retry_after);
}

}  // namespace
}  // namespace korral::apiserver
