// Tests of --use-service-account-credentials: service accounts, token refresh, mapping.
#include "korral/controllers/sa_credentials.h"

#include <gtest/gtest.h>

#include "korral/client/fake_client.h"

namespace korral::controllers {
namespace {

using Json = nlohmann::json;
const client::ResourceRef kServiceAccounts{"", "v1", "serviceaccounts", true};

// A fake API that answers TokenRequests with numbered tokens and records their specs.
class TokenIssuingClient : public client::FakeClient {
 public:
  absl::StatusOr<Json> Create(const client::ResourceRef& ref, std::string_view ns,
                              const Json& object, std::string_view subresource) override {
    if (subresource != "token") return FakeClient::Create(ref, ns, object, subresource);
    std::lock_guard l(mu);
    requests.push_back(object);
    if (fail_next) {
      fail_next = false;
      return absl::UnavailableError("apiserver down");
    }
    Json r = object;
    r["status"] = {{"token", "token-" + std::to_string(requests.size())}};
    return r;
  }
  std::mutex mu;
  std::vector<Json> requests;
  bool fail_next = false;
};

TEST(ServiceAccountFor, UpstreamAccountNames) {
  EXPECT_EQ(ServiceAccountFor("garbage-collector-controller"), "generic-garbage-collector");
  EXPECT_EQ(ServiceAccountFor("daemonset-controller"), "daemon-set-controller");
  EXPECT_EQ(ServiceAccountFor("node-lifecycle-controller"), "node-controller");
  EXPECT_EQ(ServiceAccountFor("replicaset-controller"), "replicaset-controller");
  EXPECT_EQ(ServiceAccountFor("event-garbage-collector-controller"), "");
}

TEST(ServiceAccountTokenSource, RefreshesAfterFourFifthsOfTheLifetime) {
  TokenIssuingClient api;
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  ServiceAccountTokenSource tokens(api, "job-controller", clock, std::chrono::seconds(3600));
  EXPECT_EQ(tokens.Token(), "token-1");
  ASSERT_EQ(api.requests.size(), 1u);
  EXPECT_EQ(api.requests[0]["metadata"]["name"], "job-controller");
  EXPECT_EQ(api.requests[0]["metadata"]["namespace"], "kube-system");
  EXPECT_EQ(api.requests[0]["spec"]["expirationSeconds"], 3600);
  clock.Advance(std::chrono::seconds(2879));
  EXPECT_EQ(tokens.Token(), "token-1");  // still fresh
  clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(tokens.Token(), "token-2");  // 80% of the lifetime passed
  // A failed refresh keeps the current token and retries on the next call.
  clock.Advance(std::chrono::seconds(2881));
  api.fail_next = true;
  EXPECT_EQ(tokens.Token(), "token-2");
  EXPECT_EQ(tokens.Token(), "token-4");
}

TEST(ServiceAccountClientBuilder, CreatesTheAccountOnceAndCachesTheClient) {
  TokenIssuingClient api;
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  client::RestConfig base;
  base.host = "https://127.0.0.1:1";
  base.client_cert_pem = "not used";
  ServiceAccountClientBuilder builder(api, base, clock);
  auto a = builder.ClientFor("deployment-controller");
  ASSERT_TRUE(a.ok()) << a.status();
  auto b = builder.ClientFor("deployment-controller");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(api.Get(kServiceAccounts, "kube-system", "deployment-controller").ok());
  EXPECT_EQ(api.requests.size(), 1u);  // one token for the cached client
}

TEST(ServiceAccountClientBuilder, FailsWhenNoTokenCanBeIssued) {
  TokenIssuingClient api;
  api.fail_next = true;
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::seconds(1700000000))};
  client::RestConfig base;
  base.host = "https://127.0.0.1:1";
  ServiceAccountClientBuilder builder(api, base, clock);
  EXPECT_FALSE(builder.ClientFor("job-controller").ok());
}

}  // namespace
}  // namespace korral::controllers
