// The scheduler wired to informers over the fake client (SchedulerServer): bindings through the
// pods/binding subresource, status conditions, events, leader election.
#include <gtest/gtest.h>

#include <thread>

#include "korral/client/fake_client.h"
#include "korral/scheduler/server.h"
#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

using client::resources::Events;
using client::resources::Nodes;
using client::resources::Pods;

// The fake client plus pods/binding (sets spec.nodeName as the apiserver does).
class BindingFakeClient : public client::FakeClient {
 public:
  absl::StatusOr<Json> Create(const client::ResourceRef& ref, std::string_view ns,
                              const Json& object, std::string_view subresource = "") override {
    if (subresource != "binding") return FakeClient::Create(ref, ns, object, subresource);
    std::string name = object["metadata"]["name"];
    auto pod = Get(Pods(), ns, name);
    if (!pod.ok()) return pod.status();
    Json p = *pod;
    if (!p["spec"].value("nodeName", "").empty()) {
      return absl::Status(absl::StatusCode::kAborted, "already assigned");
    }
    p["spec"]["nodeName"] = object["target"]["name"];
    bindings++;
    return Update(Pods(), ns, p);
  }
  std::atomic<int> bindings{0};
};

template <typename F>
bool Eventually(F f) {
  for (int i = 0; i < 500; ++i) {
    if (f()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::string NodeOf(client::Client& c, const std::string& name) {
  auto p = c.Get(Pods(), "default", name);
  return p.ok() ? (*p)["spec"].value("nodeName", "") : "";
}

TEST(SchedulerServer, BindsThroughTheApiAndReportsFailures) {
  BindingFakeClient fake;
  ASSERT_TRUE(fake.Create(Nodes(), "", testing::NodeJson("n1", "2", "4Gi")).ok());
  ASSERT_TRUE(fake.Create(Pods(), "default", testing::PodJson("fits", "1")).ok());
  ASSERT_TRUE(fake.Create(Pods(), "default", testing::PodJson("huge", "8")).ok());
  SchedulerServerOptions o;
  o.config.profiles.push_back(ProfileConfig{});
  o.config.leader_election.leader_elect = false;
  o.bind_workers = 2;
  auto s = SchedulerServer::New(fake, o);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->Start().ok());
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "fits") == "n1"; }));
  EXPECT_TRUE(Eventually([&] {
    auto p = fake.Get(Pods(), "default", "huge");
    if (!p.ok() || !(*p)["status"].contains("conditions")) return false;
    for (const auto& c : (*p)["status"]["conditions"]) {
      if (c["type"] == "PodScheduled" && c["status"] == "False" && c["reason"] == "Unschedulable" &&
          c["message"] ==
              "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: "
              "1 No preemption victims found for incoming pod..") {
        return true;
      }
    }
    return false;
  }));
  EXPECT_TRUE(Eventually([&] {
    auto evs = fake.List(Events(), "default");
    std::set<std::string> reasons;
    for (const auto& e : (*evs)["items"]) reasons.insert(e["reason"].get<std::string>());
    return reasons.count("Scheduled") && reasons.count("FailedScheduling");
  }));
  // A big node arrives: the pending pod is scheduled onto it.
  ASSERT_TRUE(fake.Create(Nodes(), "", testing::NodeJson("n2", "16", "64Gi")).ok());
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "huge") == "n2"; }));
  (*s)->Stop();
}

TEST(SchedulerServer, OnlyTheLeaderSchedules) {
  BindingFakeClient fake;
  ASSERT_TRUE(fake.Create(Nodes(), "", testing::NodeJson("n1")).ok());
  SchedulerServerOptions o;
  o.config.profiles.push_back(ProfileConfig{});
  o.config.leader_election.lease_duration = std::chrono::milliseconds(600);
  o.config.leader_election.renew_deadline = std::chrono::milliseconds(400);
  o.config.leader_election.retry_period = std::chrono::milliseconds(100);
  o.identity = "a";
  auto a = SchedulerServer::New(fake, o);
  o.identity = "b";
  auto b = SchedulerServer::New(fake, o);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE((*a)->Start().ok());
  EXPECT_TRUE(Eventually([&] { return (*a)->IsLeader(); }));
  ASSERT_TRUE((*b)->Start().ok());
  ASSERT_TRUE(fake.Create(Pods(), "default", testing::PodJson("p1")).ok());
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "p1") == "n1"; }));
  EXPECT_FALSE((*b)->IsLeader());
  (*a)->Stop();  // releases the lease
  EXPECT_TRUE(Eventually([&] { return (*b)->IsLeader(); }));
  ASSERT_TRUE(fake.Create(Pods(), "default", testing::PodJson("p2")).ok());
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "p2") == "n1"; }));
  EXPECT_EQ(fake.bindings.load(), 2);
  (*b)->Stop();
}

}  // namespace
}  // namespace korral::scheduler
