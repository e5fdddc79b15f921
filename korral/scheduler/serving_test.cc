// The scheduler's secure port: /healthz and /metrics over HTTPS with a self-signed certificate,
// metrics reflecting real scheduling attempts and the queue.
#include "korral/scheduler/serving.h"

#include <gtest/gtest.h>

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

TEST(SecureServing, RejectsCertWithoutKey) {
  SecureServingOptions o;
  o.port = 0;
  o.cert_pem = "x";
  auto s = SecureServing::Start(o);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace korral::scheduler
