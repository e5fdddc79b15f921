// The scheduler's secure port: /healthz and /metrics over HTTPS with a self-signed certificate,
// metrics reflecting real scheduling attempts and the queue.
#include "korral/scheduler/serving.h"

#include <gtest/gtest.h>

#include <map>
#include <mutex>
#include <set>

#include "korral/base/clock.h"
#include "korral/client/fake_client.h"
#include "korral/client/rest.h"
#include "korral/scheduler/scheduler.h"
#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

std::unique_ptr<client::RestClient> ClientFor(const SecureServing& s) {
  client::RestConfig rc;
  rc.host = "https://127.0.0.1:" + std::to_string(s.port());
  rc.ca_pem = s.ca_pem();
  auto c = client::RestClient::New(rc);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? std::move(*c) : nullptr;
}

TEST(SecureServing, HealthzAndMetricsOverTlsWithSelfSignedCert) {
  SchedulerOptions so;
  so.seed = 1;
  auto sched = Scheduler::New(so, nullptr);
  ASSERT_TRUE(sched.ok()) << sched.status();
  Scheduler& s = **sched;
  s.OnNodeAdd(MakeNode(testing::NodeJson("n1", "2", "4Gi")));
  s.OnPodAdd(MakePod(testing::PodJson("fits", "1")));
  s.OnPodAdd(MakePod(testing::PodJson("huge", "8")));
  s.OnPodAdd(MakePod(testing::PodJson("waiting", "1")));
  ASSERT_TRUE(s.ScheduleOne(std::chrono::milliseconds(100)));
  ASSERT_TRUE(s.ScheduleOne(std::chrono::milliseconds(100)));

  SecureServingOptions o;
  o.port = 0;
  o.metrics = [&s] { return s.RenderMetrics(); };
  auto serving = SecureServing::Start(o);
  ASSERT_TRUE(serving.ok()) << serving.status();
  auto c = ClientFor(**serving);
  ASSERT_TRUE(c);

  auto h = c->Do("GET", "/healthz");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->body, "ok");
  auto ready = c->Do("GET", "/readyz");
  ASSERT_TRUE(ready.ok());
  EXPECT_EQ(ready->status, 200);

  auto m = c->Do("GET", "/metrics");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->status, 200);
  EXPECT_NE(m->content_type.find("text/plain"), std::string::npos);
  const std::string& b = m->body;
  // Two attempts so far: one pod fits, the other (8 cpu on a 2-cpu node) does not.
  EXPECT_NE(b.find("scheduler_schedule_attempts_total{profile=\"default-scheduler\",result="
                   "\"scheduled\"} 1\n"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("scheduler_schedule_attempts_total{profile=\"default-scheduler\",result="
                   "\"unschedulable\"} 1\n"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("# TYPE scheduler_scheduling_attempt_duration_seconds histogram"),
            std::string::npos);
  EXPECT_NE(b.find("scheduler_scheduling_attempt_duration_seconds_bucket{profile=\"default-"
                   "scheduler\",result=\"scheduled\",le=\"+Inf\"} 1\n"),
            std::string::npos)
      << b;
  EXPECT_NE(b.find("scheduler_scheduling_attempt_duration_seconds_count{profile=\"default-"
                   "scheduler\",result=\"scheduled\"} 1\n"),
            std::string::npos);
  // "waiting" is still in activeQ, "huge" is unschedulable; read live from the queue.
  EXPECT_NE(b.find("scheduler_pending_pods{queue=\"active\"} 1\n"), std::string::npos) << b;
  EXPECT_NE(b.find("scheduler_pending_pods{queue=\"unschedulable\"} 1\n"), std::string::npos) << b;

  auto nf = c->Do("GET", "/nope");
  ASSERT_TRUE(nf.ok());
  EXPECT_EQ(nf->status, 404);
  auto post = c->Do("POST", "/metrics", "{}");
  ASSERT_TRUE(post.ok());
  EXPECT_EQ(post->status, 405);
  (*serving)->Stop();
}

TEST(SecureServing, UnhealthyReports500) {
  SecureServingOptions o;
  o.health = [] { return std::string("leaderElection failed"); };
  http::Request req;
  req.method = "GET";
  req.path = "/healthz";
  http::Response r = SecureServing::Serve(o, req);
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.body.find("leaderElection failed"), std::string::npos);
  req.path = "/livez";
  EXPECT_EQ(SecureServing::Serve(o, req).status, 500);
}

// Answers TokenReviews from a token table and SubjectAccessReviews from an allow list of
// (user, verb, path); records what it was asked.
class ReviewClient : public client::FakeClient {
 public:
  absl::StatusOr<Json> Create(const client::ResourceRef& ref, std::string_view ns,
                              const Json& object, std::string_view subresource = "") override {
    std::lock_guard l(mu);
    Json out = object;
    if (down) return absl::UnavailableError("apiserver down");
    if (ref.resource == "tokenreviews") {
      ++token_reviews;
      std::string token = object["spec"]["token"];
      auto it = users.find(token);
      out["status"] = {{"authenticated", it != users.end()}};
      if (it != users.end()) {
        out["status"]["user"] = {{"username", it->second},
                                 {"uid", "uid-" + it->second},
                                 {"groups", {"readers", "system:authenticated"}}};
      }
      return out;
    }
    if (ref.resource == "subjectaccessreviews") {
      ++access_reviews;
      last_sar = object;
      const Json& spec = object["spec"];
      std::string key = spec.value("user", "") + " " +
                        spec["nonResourceAttributes"].value("verb", "") + " " +
                        spec["nonResourceAttributes"].value("path", "");
      out["status"] = {{"allowed", allow.count(key) > 0}};
      return out;
    }
    return client::FakeClient::Create(ref, ns, object, subresource);
  }
  std::mutex mu;
  std::map<std::string, std::string> users;  // token -> user
  std::set<std::string> allow;               // "user verb path"
  int token_reviews = 0, access_reviews = 0;
  bool down = false;
  Json last_sar;
};

http::Request Get(const std::string& path, const std::string& token = "") {
  http::Request r;
  r.method = "GET";
  r.path = path;
  if (!token.empty()) r.headers.emplace_back("authorization", "Bearer " + token);
  return r;
}

struct AuthEnv {
  ReviewClient api;
  FakeClock clock;
  SecureServingOptions o;
  AuthEnv() {
    api.users = {{"good", "prometheus"}, {"other", "bob"}};
    api.allow = {"prometheus get /metrics"};
    DelegatedAuthOptions ao;
    ao.authn_client = &api;
    ao.authz_client = &api;
    ao.clock = &clock;
    o.auth = std::make_shared<DelegatedAuth>(ao);
    o.metrics = [] { return std::string("scheduler_x 1\n"); };
  }
  http::Response Serve(const http::Request& r) { return SecureServing::Serve(o, r); }
};

TEST(DelegatedAuth, HealthzIsAlwaysAllowedMetricsNeedsTheNonResourceUrl) {
  AuthEnv e;
  // Anonymous: /healthz is in the always-allow paths, /metrics is not.
  http::Response h = e.Serve(Get("/healthz"));
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok");
  EXPECT_EQ(e.Serve(Get("/readyz")).status, 200);
  EXPECT_EQ(e.Serve(Get("/livez")).status, 200);
  http::Response anon = e.Serve(Get("/metrics"));
  EXPECT_EQ(anon.status, 403);
  Json body = Json::parse(anon.body);
  EXPECT_EQ(body["kind"], "Status");
  EXPECT_EQ(body["reason"], "Forbidden");
  EXPECT_EQ(body["code"], 403);
  EXPECT_EQ(body["message"], "forbidden: User \"system:anonymous\" cannot get path \"/metrics\"");
  {
    std::lock_guard l(e.api.mu);
    EXPECT_EQ(e.api.last_sar["spec"]["user"], "system:anonymous");
    EXPECT_EQ(e.api.last_sar["spec"]["groups"], Json({"system:unauthenticated"}));
    EXPECT_EQ(e.api.last_sar["spec"]["nonResourceAttributes"],
              Json({{"path", "/metrics"}, {"verb", "get"}}));
  }
  // A token the apiserver does not know: 401, on every path.
  EXPECT_EQ(e.Serve(Get("/metrics", "bogus")).status, 401);
  http::Response bad = e.Serve(Get("/healthz", "bogus"));
  EXPECT_EQ(bad.status, 401);
  EXPECT_EQ(Json::parse(bad.body)["reason"], "Unauthorized");
  // An authenticated user without the permission: 403 naming them.
  http::Response bob = e.Serve(Get("/metrics", "other"));
  EXPECT_EQ(bob.status, 403);
  EXPECT_EQ(Json::parse(bob.body)["message"],
            "forbidden: User \"bob\" cannot get path \"/metrics\"");
  // Allowed: the metrics; the SubjectAccessReview carried the reviewed user's identity.
  http::Response ok = e.Serve(Get("/metrics", "good"));
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "scheduler_x 1\n");
  std::lock_guard l(e.api.mu);
  EXPECT_EQ(e.api.last_sar["spec"]["user"], "prometheus");
  EXPECT_EQ(e.api.last_sar["spec"]["uid"], "uid-prometheus");
  EXPECT_EQ(e.api.last_sar["spec"]["groups"], Json({"readers", "system:authenticated"}));
}

TEST(DelegatedAuth, ReviewsAreCachedForTenSeconds) {
  AuthEnv e;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(e.Serve(Get("/metrics", "good")).status, 200);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(e.Serve(Get("/metrics", "bogus")).status, 401);
  {
    std::lock_guard l(e.api.mu);
    EXPECT_EQ(e.api.token_reviews, 2);
    EXPECT_EQ(e.api.access_reviews, 1);
    e.api.allow.clear();  // revoked: still allowed until the cached decision expires
  }
  EXPECT_EQ(e.Serve(Get("/metrics", "good")).status, 200);
  e.clock.Advance(std::chrono::seconds(11));
  EXPECT_EQ(e.Serve(Get("/metrics", "good")).status, 403);
  std::lock_guard l(e.api.mu);
  EXPECT_EQ(e.api.token_reviews, 3);
  EXPECT_EQ(e.api.access_reviews, 2);
}

TEST(DelegatedAuth, ClientCertificateUserAndFailedReviews) {
  AuthEnv e;
  http::Request r = Get("/metrics");
  r.client_cert = http::ClientCertificate{"prometheus", {"monitoring"}};
  EXPECT_EQ(e.Serve(r).status, 200);
  {
    std::lock_guard l(e.api.mu);
    EXPECT_EQ(e.api.token_reviews, 0);
    EXPECT_EQ(e.api.last_sar["spec"]["groups"], Json({"monitoring", "system:authenticated"}));
  }
  // The apiserver cannot be reached: tokens are not accepted, authorization is an error.
  {
    std::lock_guard l(e.api.mu);
    e.api.down = true;
  }
  EXPECT_EQ(e.Serve(Get("/metrics", "fresh")).status, 401);
  http::Request anon = Get("/metrics");
  EXPECT_EQ(e.Serve(anon).status, 500);
  // Healthz stays reachable.
  EXPECT_EQ(e.Serve(Get("/healthz")).status, 200);
}

TEST(DelegatedAuth, OverHttpsWithABearerToken) {
  AuthEnv e;
  e.o.port = 0;
  auto serving = SecureServing::Start(e.o);
  ASSERT_TRUE(serving.ok()) << serving.status();
  client::RestConfig rc;
  rc.host = "https://127.0.0.1:" + std::to_string((*serving)->port());
  rc.ca_pem = (*serving)->ca_pem();
  rc.bearer_token = "good";
  auto c = client::RestClient::New(rc);
  ASSERT_TRUE(c.ok()) << c.status();
  auto m = (*c)->Do("GET", "/metrics");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->status, 200);
  auto anon = ClientFor(**serving)->Do("GET", "/metrics");
  ASSERT_TRUE(anon.ok());
  EXPECT_EQ(anon->status, 403);
  (*serving)->Stop();
}

TEST(SecureServing, RejectsCertWithoutKey) {
  SecureServingOptions o;
  o.port = 0;
  o.cert_pem = "x";
  auto s = SecureServing::Start(o);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace korral::scheduler
