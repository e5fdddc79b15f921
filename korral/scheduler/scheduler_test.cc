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

Json PvJson(const std::string& name, const std::string& cls, const std::string& node) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"capacity", {{"storage", "5Gi"}}},
            {"accessModes", {"ReadWriteOnce"}},
            {"storageClassName", cls},
            {"hostPath", {{"path", "/tmp/" + name}}},
            {"nodeAffinity",
             {{"required",
               {{"nodeSelectorTerms",
                 Json::array({{{"matchExpressions", Json::array({{{"key", "kubernetes.io/hostname"},
                                                                  {"operator", "In"},
                                                                  {"values", {node}}}})}}})}}}}}}},
          {"status", {{"phase", "Available"}}}};
}

Json PvcJson(const std::string& name, const std::string& cls, const std::string& volume = "") {
  Json spec = {{"accessModes", {"ReadWriteOnce"}},
               {"resources", {{"requests", {{"storage", "1Gi"}}}}},
               {"storageClassName", cls}};
  if (!volume.empty()) spec["volumeName"] = volume;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", spec}};
}

Json PodWithClaim(const std::string& name, const std::string& claim) {
  Json p = testing::PodJson(name);
  p["spec"]["volumes"] =
      Json::array({{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", claim}}}}});
  return p;
}

TEST(SchedulerServer, VolumesThroughTheApi) {
  BindingFakeClient fake;
  client::ResourceRef pvs{"", "v1", "persistentvolumes", false};
  client::ResourceRef pvcs{"", "v1", "persistentvolumeclaims", true};
  client::ResourceRef classes{"storage.k8s.io", "v1", "storageclasses", false};
  ASSERT_TRUE(fake.Create(Nodes(), "", testing::NodeJson("a")).ok());
  ASSERT_TRUE(fake.Create(Nodes(), "", testing::NodeJson("b")).ok());
  ASSERT_TRUE(fake.Create(classes, "",
                          {{"apiVersion", "storage.k8s.io/v1"},
                           {"kind", "StorageClass"},
                           {"metadata", {{"name", "local"}}},
                           {"provisioner", "kubernetes.io/no-provisioner"},
                           {"volumeBindingMode", "WaitForFirstConsumer"}})
                  .ok());
  ASSERT_TRUE(fake.Create(pvs, "", PvJson("pv-b", "local", "b")).ok());
  ASSERT_TRUE(fake.Create(pvs, "", PvJson("pv-a", "", "a")).ok());
  ASSERT_TRUE(fake.Create(pvcs, "default", PvcJson("wffc", "local")).ok());
  ASSERT_TRUE(fake.Create(pvcs, "default", PvcJson("bound", "", "pv-a")).ok());
  ASSERT_TRUE(fake.Create(pvcs, "default", PvcJson("imm", "")).ok());
  SchedulerServerOptions o;
  o.config.profiles.push_back(ProfileConfig{});
  o.config.leader_election.leader_elect = false;
  o.bind_workers = 2;
  auto s = SchedulerServer::New(fake, o);
  ASSERT_TRUE(s.ok()) << s.status();
  ASSERT_TRUE((*s)->Start().ok());
  ASSERT_TRUE(fake.Create(Pods(), "default", PodWithClaim("p-wffc", "wffc")).ok());
  ASSERT_TRUE(fake.Create(Pods(), "default", PodWithClaim("p-bound", "bound")).ok());
  ASSERT_TRUE(fake.Create(Pods(), "default", PodWithClaim("p-imm", "imm")).ok());
  // WaitForFirstConsumer: the PV that fits decides the node; PreBind wrote both sides.
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "p-wffc") == "b"; }));
  auto pv = fake.Get(pvs, "", "pv-b");
  ASSERT_TRUE(pv.ok());
  EXPECT_EQ((*pv)["spec"]["claimRef"]["name"], "wffc");
  EXPECT_EQ((*pv)["spec"]["claimRef"]["namespace"], "default");
  auto pvc = fake.Get(pvcs, "default", "wffc");
  ASSERT_TRUE(pvc.ok());
  EXPECT_EQ((*pvc)["spec"]["volumeName"], "pv-b");
  // Bound claim: the PV's node affinity.
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "p-bound") == "a"; }));
  // Unbound Immediate claim: upstream's message.
  EXPECT_TRUE(Eventually([&] {
    auto p = fake.Get(Pods(), "default", "p-imm");
    if (!p.ok() || !(*p)["status"].contains("conditions")) return false;
    for (const auto& c : (*p)["status"]["conditions"]) {
      if (c["type"] == "PodScheduled" && c["status"] == "False" &&
          c["message"] ==
              "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
              "preemption: 0/2 nodes are available: 2 Preemption is not helpful for "
              "scheduling..") {
        return true;
      }
    }
    return false;
  }));
  // Once the claim is bound (here by hand, as a PV controller would), the pod is retried.
  Json imm = *fake.Get(pvcs, "default", "imm");
  imm["spec"]["volumeName"] = "pv-a";
  ASSERT_TRUE(fake.Update(pvcs, "default", imm).ok());
  EXPECT_TRUE(Eventually([&] { return NodeOf(fake, "p-imm") == "a"; }));
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
