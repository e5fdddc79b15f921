// Tests of the kubelet server's API authorizer (TokenReview / SubjectAccessReview) against a
// scripted client, and of its plain-text 401/403 answers through the real server.
#include "korral/kubelet/server/auth.h"

#include <map>
#include <mutex>
#include <set>

#include <gtest/gtest.h>

#include "korral/base/status.h"
#include "korral/client/client.h"
#include "korral/kubelet/server/testing/fake_backend.h"
#include "korral/pki/pki.h"
#include "korral/streaming/conn.h"

namespace korral::kubelet::server {
namespace {

using Json = nlohmann::json;

// Answers TokenReviews from `tokens` (token -> user) and SubjectAccessReviews from `allowed`
// ("user verb subresource"); records every review.
class ReviewClient : public client::Client {
 public:
  std::map<std::string, Json> tokens;
  std::set<std::string> allowed;
  absl::Status fail_sar = absl::OkStatus();
  std::vector<Json> token_reviews, access_reviews;

  absl::StatusOr<Json> Create(const client::ResourceRef& ref, std::string_view, const Json& obj,
                              std::string_view) override {
    std::lock_guard lock(mu_);
    Json out = obj;
    if (ref.resource == "tokenreviews") {
      token_reviews.push_back(obj);
      auto it = tokens.find(obj["spec"]["token"].get<std::string>());
      out["status"] = {{"authenticated", it != tokens.end()}};
      if (it != tokens.end()) out["status"]["user"] = it->second;
      return out;
    }
    if (ref.resource == "subjectaccessreviews") {
      access_reviews.push_back(obj);
      if (!fail_sar.ok()) return fail_sar;
      const Json& ra = obj["spec"]["resourceAttributes"];
      std::string key = obj["spec"]["user"].get<std::string>() + " " +
                        ra["verb"].get<std::string>() + " " + ra["subresource"].get<std::string>();
      out["status"] = {{"allowed", allowed.count(key) > 0}};
      return out;
    }
    return absl::UnimplementedError("unexpected create");
  }
  absl::StatusOr<Json> Get(const client::ResourceRef&, std::string_view, std::string_view,
                           std::string_view) override {
    return absl::UnimplementedError("get");
  }
  absl::StatusOr<Json> List(const client::ResourceRef&, std::string_view,
                            const client::ListOptions&) override {
    return absl::UnimplementedError("list");
  }
  absl::StatusOr<Json> Update(const client::ResourceRef&, std::string_view, const Json&,
                              std::string_view) override {
    return absl::UnimplementedError("update");
  }
  absl::StatusOr<Json> Patch(const client::ResourceRef&, std::string_view, std::string_view,
                             client::PatchType, const Json&, const client::PatchOptions&) override {
    return absl::UnimplementedError("patch");
  }
  absl::StatusOr<Json> Delete(const client::ResourceRef&, std::string_view, std::string_view,
                              const Json&) override {
    return absl::UnimplementedError("delete");
  }
  absl::StatusOr<client::WatchHandlePtr> Watch(const client::ResourceRef&, std::string_view,
                                               const client::WatchOptions&,
                                               client::WatchEventCallback,
                                               client::WatchDoneCallback) override {
    return absl::UnimplementedError("watch");
  }

 private:
  std::mutex mu_;
};

http::Request MakeRequest(std::string method, std::string path) {
  http::Request r;
  r.method = std::move(method);
  r.path = std::move(path);
  return r;
}

class ApiAuthorizerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    client_.tokens["good"] = {
        {"username", "alice"}, {"uid", "u-1"}, {"groups", {"devs", "system:authenticated"}}};
    ApiAuthOptions o;
    o.client = &client_;
    o.node_name = "node-1";
    o.clock = &clock_;
    authorize_ = NewApiAuthorizer(o);
  }
  ReviewClient client_;
  FakeClock clock_;
  Authorizer authorize_;
};

TEST(RequestAttributesTest, VerbAndSubresourceAsUpstream) {
  auto a = RequestAttributesFor("GET", "/stats/summary");
  EXPECT_EQ(a.verb, "get");
  EXPECT_EQ(a.subresource, "stats");
  EXPECT_EQ(RequestAttributesFor("GET", "/stats").subresource, "stats");
  EXPECT_EQ(RequestAttributesFor("GET", "/statsx").subresource, "proxy");
  EXPECT_EQ(RequestAttributesFor("GET", "/metrics").subresource, "metrics");
  EXPECT_EQ(RequestAttributesFor("GET", "/metrics/cadvisor").subresource, "metrics");
  EXPECT_EQ(RequestAttributesFor("GET", "/logs/syslog").subresource, "log");
  EXPECT_EQ(RequestAttributesFor("GET", "/containerLogs/ns/p/c").subresource, "proxy");
  EXPECT_EQ(RequestAttributesFor("GET", "/pods").subresource, "proxy");
  EXPECT_EQ(RequestAttributesFor("GET", "/healthz").subresource, "proxy");
  EXPECT_EQ(RequestAttributesFor("GET", "/spec/").subresource, "spec");
  auto e = RequestAttributesFor("POST", "/exec/ns/p/c");
  EXPECT_EQ(e.verb, "create");
  EXPECT_EQ(e.subresource, "proxy");
  EXPECT_EQ(RequestAttributesFor("PUT", "/x").verb, "update");
  EXPECT_EQ(RequestAttributesFor("PATCH", "/x").verb, "patch");
  EXPECT_EQ(RequestAttributesFor("DELETE", "/x").verb, "delete");
  EXPECT_EQ(RequestAttributesFor("HEAD", "/x").verb, "get");
}

TEST_F(ApiAuthorizerTest, NoCredentialsIsUnauthenticated) {
  absl::Status s = authorize_(MakeRequest("GET", "/pods"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(client_.token_reviews.empty());
  EXPECT_TRUE(client_.access_reviews.empty());
}

TEST_F(ApiAuthorizerTest, BadTokenIsUnauthenticatedAndCached) {
  auto r = MakeRequest("GET", "/pods");
  r.headers = {{"Authorization", "Bearer nope"}};
  EXPECT_EQ(authorize_(r).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(authorize_(r).code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(client_.token_reviews.size(), 1u);
  EXPECT_TRUE(client_.access_reviews.empty());
}

TEST_F(ApiAuthorizerTest, ClientCertificateUserIsReviewed) {
  client_.allowed.insert("admin get proxy");
  auto r = MakeRequest("GET", "/containerLogs/default/web/main");
  r.client_cert = http::ClientCertificate{"admin", {"system:masters"}};
  ASSERT_TRUE(authorize_(r).ok());
  ASSERT_EQ(client_.access_reviews.size(), 1u);
  const Json& spec = client_.access_reviews[0]["spec"];
  EXPECT_EQ(spec["user"], "admin");
  EXPECT_EQ(spec["groups"], Json({"system:masters", "system:authenticated"}));
  EXPECT_EQ(spec["resourceAttributes"], Json({{"verb", "get"},
                                              {"group", ""},
                                              {"version", "v1"},
                                              {"resource", "nodes"},
                                              {"subresource", "proxy"},
                                              {"name", "node-1"}}));
  EXPECT_TRUE(client_.token_reviews.empty());
}

TEST_F(ApiAuthorizerTest, TokenUserWithoutPermissionIsForbidden) {
  client_.allowed.insert("alice get stats");
  auto exec = MakeRequest("POST", "/exec/default/web/main");
  exec.headers = {{"Authorization", "Bearer good"}};
  absl::Status s = authorize_(exec);
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(StatusMessage(s),
            "Forbidden (user=alice, verb=create, resource=nodes, "
            "subresource=proxy)");
  auto stats = MakeRequest("GET", "/stats/summary");
  stats.headers = {{"Authorization", "Bearer good"}};
  EXPECT_TRUE(authorize_(stats).ok());
  ASSERT_EQ(client_.access_reviews.size(), 2u);
  EXPECT_EQ(client_.access_reviews[1]["spec"]["uid"], "u-1");
  // The token review was cached.
  EXPECT_EQ(client_.token_reviews.size(), 1u);
}

TEST_F(ApiAuthorizerTest, DecisionsAreCachedForTheirTtl) {
  auto r = MakeRequest("GET", "/pods");
  r.headers = {{"Authorization", "Bearer good"}};
  EXPECT_EQ(authorize_(r).code(), absl::StatusCode::kPermissionDenied);
  client_.allowed.insert("alice get proxy");
  // Denials are cached for 30 s.
  EXPECT_EQ(authorize_(r).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client_.access_reviews.size(), 1u);
  clock_.Advance(std::chrono::seconds(31));
  EXPECT_TRUE(authorize_(r).ok());
  EXPECT_EQ(client_.access_reviews.size(), 2u);
  // Allowed decisions for 5 min (the token review expired after 2 min and is redone).
  client_.allowed.clear();
  clock_.Advance(std::chrono::seconds(200));
  EXPECT_TRUE(authorize_(r).ok());
  EXPECT_EQ(client_.access_reviews.size(), 2u);
  EXPECT_EQ(client_.token_reviews.size(), 2u);
  clock_.Advance(std::chrono::seconds(101));
  EXPECT_EQ(authorize_(r).code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(client_.access_reviews.size(), 3u);
}

TEST_F(ApiAuthorizerTest, ReviewFailureIsAnInternalError) {
  client_.fail_sar = absl::UnavailableError("connection refused");
  auto r = MakeRequest("GET", "/pods");
  r.client_cert = http::ClientCertificate{"admin", {"system:masters"}};
  absl::Status s = authorize_(r);
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_EQ(StatusMessage(s),
            "Authorization error (user=admin, verb=get, resource=nodes, subresource=proxy)");
  // Not cached: the next request asks again.
  client_.fail_sar = absl::OkStatus();
  client_.allowed.insert("admin get proxy");
  EXPECT_TRUE(authorize_(r).ok());
}

// Through the real server: plain-text answers as upstream's kubelet.
TEST_F(ApiAuthorizerTest, ServerAnswers401And403InPlainText) {
  auto ca = pki::NewSelfSignedCA("test-ca");
  ASSERT_TRUE(ca.ok());
  pki::CertOptions so;
  so.common_name = "kubelet";
  so.ip_addresses = {"127.0.0.1"};
  auto serving = pki::NewSignedCert(*ca, so);
  ASSERT_TRUE(serving.ok());
  char tmpl[] = "/tmp/korral-kauth-XXXXXX";
  std::string dir = mkdtemp(tmpl);
  testing::FakeBackend backend(dir);
  Options o;
  o.port = 0;
  o.cert_pem = serving->cert_pem;
  o.key_pem = serving->key_pem;
  o.client_ca_pem = ca->cert_pem;
  o.backend = &backend;
  o.authorize = authorize_;
  auto server = NewKubeletServer(o);
  ASSERT_TRUE(server->Start().ok());
  client_.allowed.insert("alice get stats");
  auto get = [&](const std::string& headers) {
    auto c = streaming::DialTls("127.0.0.1", server->port(), {}, std::chrono::seconds(5));
    EXPECT_TRUE(c.ok());
    if (!c.ok()) return std::string();
    EXPECT_TRUE(
        (*c)->Write("GET /pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + headers + "\r\n")
            .ok());
    std::string out;
    char buf[4096];
    for (int i = 0; i < 1000; ++i) {
      auto n = (*c)->Read(buf, sizeof buf);
      if (!n.ok() || *n == 0) break;
      out.append(buf, *n);
    }
    return out;
  };
  std::string anon = get("");
  EXPECT_EQ(anon.substr(0, 12), "HTTP/1.1 401") << anon;
  EXPECT_NE(anon.find("\r\n\r\nUnauthorized"), std::string::npos) << anon;
  std::string denied = get("Authorization: Bearer good\r\n");
  EXPECT_EQ(denied.substr(0, 12), "HTTP/1.1 403") << denied;
  EXPECT_NE(denied.find("Forbidden (user=alice, verb=get, resource=nodes, subresource=proxy)"),
            std::string::npos)
      << denied;
  client_.allowed.insert("alice get proxy");
  clock_.Advance(std::chrono::seconds(31));
  std::string ok = get("Authorization: Bearer good\r\n");
  EXPECT_EQ(ok.substr(0, 12), "HTTP/1.1 200") << ok;
  server->Stop();
  std::string cmd = "rm -rf " + dir;
  (void)std::system(cmd.c_str());
}

}  // namespace
}  // namespace korral::kubelet::server
