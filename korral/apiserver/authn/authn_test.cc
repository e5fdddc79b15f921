#include "korral/apiserver/authn/authn.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "absl/strings/escaping.h"
#include "korral/apiserver/authn/jwt.h"
#include "korral/apiserver/http/server.h"
#include "korral/base/clock.h"

namespace korral::apiserver::authn {
namespace {

using Json = nlohmann::json;

TEST(TokenFileTest, ParsesUpstreamFormat) {
  auto t = ParseTokenFile("tok1,alice,1001\n# comment\n\ntok2,bob,1002,\"g1,g2\"\n");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->at("tok1").name, "alice");
  EXPECT_EQ(t->at("tok2").groups, (std::vector<std::string>{"g1", "g2"}));
  EXPECT_THAT(std::string(ParseTokenFile("x,y\n").status().message()),
              testing::HasSubstr("line 1: want at least 3 columns"));
  EXPECT_FALSE(ParseTokenFile("a,b,c\na,d,e\n").ok());
  EXPECT_FALSE(ParseTokenFile("a,b,\"c\n").ok());
}

class SaTokenTest : public testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::TempDir() + "/korral-authn-" + std::to_string(::getpid());
    std::filesystem::remove_all(dir_);
    auto ks = jwt::KeySet::LoadOrCreate(dir_ + "/sa.key", {});
    ASSERT_TRUE(ks.ok()) << ks.status();
    keys_ = std::move(*ks);
    EXPECT_EQ(std::filesystem::status(dir_ + "/sa.key").permissions() & std::filesystem::perms::all,
              std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    objects_["serviceaccounts/ns/robot"] = {{"metadata", {{"name", "robot"}, {"uid", "sa-uid"}}}};
    objects_["pods/ns/p"] = {{"metadata", {{"name", "p"}, {"uid", "pod-uid"}}}};
    AuthnConfig c;
    c.issuers = {"https://issuer"};
    c.sa_keys = keys_.get();
    c.clock = &clock_;
    c.lookup = [this](std::string_view r, std::string_view ns, std::string_view n) {
      auto it = objects_.find(std::string(r) + "/" + std::string(ns) + "/" + std::string(n));
      return it == objects_.end() ? Json() : it->second;
    };
    auto a = Authenticator::Create(c);
    ASSERT_TRUE(a.ok());
    authn_ = std::move(*a);
  }
  Json Claims() {
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_.Now().time_since_epoch()).count();
    return {{"iss", "https://issuer"},
            {"aud", {"https://issuer"}},
            {"exp", now + 600},
            {"iat", now},
            {"sub", "system:serviceaccount:ns:robot"},
            {"kubernetes.io",
             {{"namespace", "ns"},
              {"serviceaccount", {{"name", "robot"}, {"uid", "sa-uid"}}},
              {"pod", {{"name", "p"}, {"uid", "pod-uid"}}}}}};
  }
  absl::StatusOr<UserInfo> Auth(const std::string& token) {
    std::vector<std::string> matched;
    return authn_->AuthenticateToken(token, {}, &matched);
  }
  std::string dir_;
  FakeClock clock_{std::chrono::system_clock::time_point(std::chrono::hours(500000))};
  std::unique_ptr<jwt::KeySet> keys_;
  std::map<std::string, Json> objects_;
  std::unique_ptr<Authenticator> authn_;
};

TEST_F(SaTokenTest, ValidBoundTokenAuthenticates) {
  auto u = Auth(*keys_->Sign(Claims()));
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->name, "system:serviceaccount:ns:robot");
  EXPECT_THAT(u->groups, testing::ElementsAre("system:serviceaccounts", "system:serviceaccounts:ns",
                                              "system:authenticated"));
  EXPECT_EQ(u->extra.at("authentication.kubernetes.io/pod-name")[0], "p");
}

TEST_F(SaTokenTest, RejectsExpiredForgedWrongIssuerAndDeletedPod) {
  std::string good = *keys_->Sign(Claims());
  clock_.Advance(std::chrono::seconds(600 + 61));
  EXPECT_THAT(std::string(Auth(good).status().message()), testing::HasSubstr("expired"));
  clock_.Advance(-std::chrono::seconds(600 + 61));
  Json wrong = Claims();
  wrong["iss"] = "https://evil";
  EXPECT_EQ(Auth(*keys_->Sign(wrong)).status().code(), absl::StatusCode::kUnauthenticated);
  auto other = jwt::KeySet::LoadOrCreate(dir_ + "/other.key", {});
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(Auth(*(*other)->Sign(Claims())).status().code(), absl::StatusCode::kUnauthenticated);
  // alg "none" and tampered payloads.
  std::string none =
      jwt::Base64UrlEncode(R"({"alg":"none"})") + "." + jwt::Base64UrlEncode(Claims().dump()) + ".";
  EXPECT_FALSE(Auth(none + "x").ok());
  std::string tampered = good;
  tampered[tampered.find('.') + 5] ^= 1;
  EXPECT_FALSE(Auth(tampered).ok());
  objects_.erase("pods/ns/p");
  EXPECT_THAT(std::string(Auth(good).status().message()),
              testing::HasSubstr("pods \"p\" not found"));
  objects_["pods/ns/p"] = {{"metadata", {{"name", "p"}, {"uid", "new-uid"}}}};
  EXPECT_FALSE(Auth(good).ok());
}

// The verified-signature cache must not cache the decision: a token that authenticated once is
// still refused once it expires or its bound pod goes, and a forged token sharing its payload
// is never served from the cache.
TEST_F(SaTokenTest, CachedTokenStillChecksExpiryAndBoundObjects) {
  std::string good = *keys_->Sign(Claims());
  ASSERT_TRUE(Auth(good).ok());
  ASSERT_TRUE(Auth(good).ok());  // served from the cache
  EXPECT_EQ(authn_->CachedTokens(), 1u);
  std::string forged = good.substr(0, good.rfind('.') + 1) + "AAAA";
  EXPECT_EQ(Auth(forged).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authn_->CachedTokens(), 1u);  // failures are not cached
  clock_.Advance(std::chrono::seconds(600 + 61));
  EXPECT_THAT(std::string(Auth(good).status().message()), testing::HasSubstr("expired"));
  clock_.Advance(-std::chrono::seconds(600 + 61));
  ASSERT_TRUE(Auth(good).ok());
  objects_.erase("pods/ns/p");
  EXPECT_THAT(std::string(Auth(good).status().message()),
              testing::HasSubstr("pods \"p\" not found"));
  // More distinct tokens than the cache holds: each still authenticates.
  for (int i = 0; i < 1100; ++i) {
    Json c = Claims();
    c["kubernetes.io"].erase("pod");
    c["jti"] = std::to_string(i);
    ASSERT_TRUE(Auth(*keys_->Sign(c)).ok()) << i;
  }
  EXPECT_LE(authn_->CachedTokens(), 1024u);
}

TEST_F(SaTokenTest, JwksHasTheSigningKey) {
  Json jwks = keys_->Jwks();
  ASSERT_EQ(jwks["keys"].size(), 1u);
  EXPECT_EQ(jwks["keys"][0]["kid"], keys_->signing_kid());
  EXPECT_EQ(jwks["keys"][0]["e"], "AQAB");
}

TEST(AuthenticatorTest, ChainOrderAndAnonymous) {
  AuthnConfig c;
  auto a = Authenticator::Create(c);
  ASSERT_TRUE(a.ok());
  http::Request req;
  auto anon = (*a)->Authenticate(req);
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->name, "system:anonymous");
  EXPECT_THAT(anon->groups, testing::ElementsAre("system:unauthenticated"));
  req.client_cert = http::ClientCertificate{"bob", {"devs"}};
  EXPECT_THAT((*a)->Authenticate(req)->groups,
              testing::ElementsAre("devs", "system:authenticated"));
  req.client_cert.reset();
  req.client_cert_error = "unable to get local issuer certificate";
  EXPECT_EQ((*a)->Authenticate(req).status().code(), absl::StatusCode::kUnauthenticated);
  req.client_cert_error.clear();
  req.headers.push_back({"Authorization", "Bearer nope"});
  EXPECT_EQ((*a)->Authenticate(req).status().code(), absl::StatusCode::kUnauthenticated);
  c.anonymous = false;
  auto strict = Authenticator::Create(c);
  http::Request empty;
  EXPECT_EQ((*strict)->Authenticate(empty).status().code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthenticatorTest, BootstrapTokens) {
  FakeClock clock{std::chrono::system_clock::time_point(std::chrono::hours(500000))};
  auto b64 = [](const std::string& s) { return absl::Base64Escape(s); };
  Json secret = {{"type", "bootstrap.kubernetes.io/token"},
                 {"metadata", {{"name", "bootstrap-token-abcdef"}}},
                 {"data",
                  {{"token-id", b64("abcdef")},
                   {"token-secret", b64("0123456789abcdef")},
                   {"usage-bootstrap-authentication", b64("true")},
                   {"auth-extra-groups", b64("system:bootstrappers:kubeadm:default-node-token")}}}};
  AuthnConfig c;
  c.clock = &clock;
  c.lookup = [&](std::string_view, std::string_view ns, std::string_view name) {
    return ns == "kube-system" && name == "bootstrap-token-abcdef" ? secret : Json();
  };
  auto a = Authenticator::Create(c);
  std::vector<std::string> m;
  auto u = (*a)->AuthenticateToken("abcdef.0123456789abcdef", {}, &m);
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_EQ(u->name, "system:bootstrap:abcdef");
  EXPECT_THAT(u->groups, testing::ElementsAre("system:bootstrappers",
                                              "system:bootstrappers:kubeadm:default-node-token",
                                              "system:authenticated"));
  EXPECT_FALSE((*a)->AuthenticateToken("abcdef.0123456789abcdee", {}, &m).ok());
  secret["data"]["expiration"] = b64("2000-01-01T00:00:00Z");
  EXPECT_FALSE((*a)->AuthenticateToken("abcdef.0123456789abcdef", {}, &m).ok());
}

}  // namespace
}  // namespace korral::apiserver::authn
