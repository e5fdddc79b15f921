// Node-pressure eviction and image garbage collection with a fake stats source, the fake
// runtime and a fake clock.
#include <gtest/gtest.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "fmt/format.h"
#include "korral/base/clock.h"
#include "korral/base/status.h"
#include "korral/client/fake_client.h"
#include "korral/cri/fake.h"
#include "korral/kubelet/kubelet.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {
namespace {

using client::resources::Pods;
using std::chrono::minutes;
using std::chrono::seconds;
constexpr int64_t Mi = 1 << 20;
constexpr int64_t Gi = int64_t{1} << 30;

template <typename Fn>
bool Eventually(Fn fn, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fn();
}

Json MakePod(const std::string& name, const Json& resources = Json::object(), int priority = 0,
             const std::string& image = "busybox:1.0") {
  Json c = {{"name", "c"}, {"image", image}};
  if (!resources.empty()) c["resources"] = resources;
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"nodeName", "node-1"},
                {"terminationGracePeriodSeconds", 1},
                {"containers", Json::array({c})}}}};
  if (priority != 0) pod["spec"]["priority"] = priority;
  return pod;
}

TEST(ParseEvictionFlagsTest, HardReplacesDefaultsSoftNeedsGracePeriods) {
  EvictionConfig c;
  ASSERT_TRUE(ParseEvictionFlags("", "", "", &c).ok());
  EXPECT_EQ(c.memory_available.bytes, 100 * Mi);
  EXPECT_EQ(c.nodefs_available.percent, 10);
  EXPECT_FALSE(c.soft_memory_available.IsSet());
  EXPECT_EQ(c.nodefs_inodes_free.percent, 5);
  EXPECT_EQ(c.imagefs_inodes_free.percent, 5);
  EXPECT_FALSE(c.imagefs_available.IsSet());
  EXPECT_FALSE(c.pid_available.IsSet());

  ASSERT_TRUE(ParseEvictionFlags("memory.available<1Gi", "", "", &c).ok());
  EXPECT_EQ(c.memory_available.bytes, Gi);
  EXPECT_FALSE(c.nodefs_available.IsSet());  // a set evictionHard replaces every default

  auto s = ParseEvictionFlags("", "memory.available<1.5Gi, nodefs.available<15%",
                              "memory.available=1m30s,nodefs.available=2m", &c);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(c.soft_memory_available.bytes, Gi * 3 / 2);
  EXPECT_EQ(c.soft_memory_available.grace_period, seconds(90));
  EXPECT_EQ(c.soft_nodefs_available.percent, 15);
  EXPECT_EQ(c.soft_nodefs_available.grace_period, minutes(2));
  EXPECT_EQ(c.soft_nodefs_available.Of(200 * Gi), 30 * Gi);
  EXPECT_EQ(c.memory_available.bytes, Gi);  // untouched

  EvictionConfig before = c;
  s = ParseEvictionFlags("", "memory.available<2Gi", "", &c);
  EXPECT_EQ(StatusMessage(s),
            "grace period must be specified for the soft eviction threshold memory.available");
  EXPECT_EQ(c.soft_memory_available.bytes, before.soft_memory_available.bytes);  // unchanged
  s = ParseEvictionFlags("swap.available<100", "", "", &c);
  EXPECT_EQ(StatusMessage(s),
            "unsupported eviction signal swap.available (supported: memory.available, "
            "nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree, "
            "pid.available)");
  EXPECT_FALSE(ParseEvictionFlags("memory.available>1Gi", "", "", &c).ok());
  EXPECT_FALSE(ParseEvictionFlags("nodefs.available<120%", "", "", &c).ok());
  EXPECT_FALSE(ParseEvictionFlags("memory.available<lots", "", "", &c).ok());
  EXPECT_FALSE(
      ParseEvictionFlags("", "memory.available<1Gi", "memory.available=10parsecs", &c).ok());
  EXPECT_FALSE(ParseEvictionFlags("", "memory.available<1Gi", "memory.available", &c).ok());
}

TEST(ParseEvictionFlagsTest, InodePidAndImageFsSignals) {
  EvictionConfig c;
  auto s = ParseEvictionFlags("pid.available<1000,nodefs.inodesFree<1%,imagefs.available<15%",
                              "imagefs.inodesFree<10%", "imagefs.inodesFree=1m", &c);
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(c.pid_available.bytes, 1000);
  EXPECT_EQ(c.nodefs_inodes_free.percent, 1);
  EXPECT_EQ(c.imagefs_available.percent, 15);
  EXPECT_FALSE(c.memory_available.IsSet());     // replaced
  EXPECT_FALSE(c.imagefs_inodes_free.IsSet());  // replaced (hard)
  EXPECT_EQ(c.soft_imagefs_inodes_free.percent, 10);
  EXPECT_EQ(c.soft_imagefs_inodes_free.grace_period, minutes(1));
  EXPECT_EQ(FormatDecimalQuantity(2000), "2k");
  EXPECT_EQ(FormatDecimalQuantity(1500), "1500");
  EXPECT_EQ(FormatDecimalQuantity(3000000), "3M");
  EXPECT_EQ(FormatDecimalQuantity(0), "0");
}

TEST(RankForEvictionTest, ExceedingRequestsThenPriorityThenUsage) {
  std::vector<Json> pods = {
      MakePod("guaranteed",
              {{"requests", {{"memory", "100Mi"}}}, {"limits", {{"memory", "100Mi"}}}}),
      MakePod("high-prio", Json::object(), 1000),
      MakePod("burstable", {{"requests", {{"memory", "10Mi"}}}}),
      MakePod("besteffort"),
  };
  EvictionObservation obs;
  const int64_t usage[] = {50 * Mi, 500 * Mi, 200 * Mi, 20 * Mi};
  for (size_t i = 0; i < pods.size(); ++i) {
    pods[i]["metadata"]["uid"] = pods[i]["metadata"]["name"];
    obs.pods[pods[i]["metadata"]["name"]].memory_working_set = usage[i];
  }
  EXPECT_EQ(RankForEviction(pods, obs, EvictionSignal::kMemory),
            (std::vector<std::string>{"burstable", "besteffort", "high-prio", "guaranteed"}));
  EXPECT_EQ(FormatBinaryQuantity(200 * Mi), "200Mi");
  EXPECT_EQ(FormatBinaryQuantity(1536), "1536");  // 1.5Ki is not exact: plain bytes... as 1536
  EXPECT_EQ(FormatBinaryQuantity(3 * Gi), "3Gi");
  EXPECT_EQ(FormatBinaryQuantity(123), "123");
}

class EvictionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    KubeletConfig cfg;
    cfg.node_name = "node-1";
    cfg.hollow = true;
    cfg.relist_period = std::chrono::milliseconds(10);
    cfg.clock = &clock_;
    cfg.image_fs_stats = [this]() -> std::optional<std::pair<int64_t, int64_t>> {
      std::lock_guard l(mu_);
      return image_fs_;
    };
    Configure(&cfg);
    kubelet_ = std::make_unique<Kubelet>(client_, runtime_, cfg);
    ASSERT_TRUE(kubelet_->Start().ok());
    kubelet_->SetEvictionStats([this]() -> std::optional<EvictionObservation> {
      std::lock_guard l(mu_);
      if (reclaimed_by_images_ && runtime_.Calls("RemoveImage") > 0) return healthy_;
      return obs_;
    });
  }
  void TearDown() override { kubelet_->Stop(); }
  virtual void Configure(KubeletConfig*) {}

  Json Get(const std::string& name) {
    auto p = client_.Get(Pods(), "default", name);
    return p.ok() ? *p : Json();
  }
  std::string Phase(const std::string& name) {
    return Get(name).value("status", Json::object()).value("phase", "");
  }
  std::string Uid(const std::string& name) { return Get(name)["metadata"]["uid"]; }
  std::string Condition(const std::string& type) {
    auto n = client_.Get(client::resources::Nodes(), "", "node-1");
    for (const auto& c : (*n)["status"]["conditions"]) {
      if (c["type"] == type) return c["status"];
    }
    return "";
  }
  // "Type Reason Kind/name: message" of every event in `ns`.
  std::vector<std::string> Events(const std::string& ns = "default") {
    std::vector<std::string> out;
    auto l = client_.List(client::resources::Events(), ns, client::ListOptions());
    if (!l.ok()) return out;
    for (const auto& e : (*l)["items"]) {
      out.push_back(fmt::format("{} {} {}/{}: {}", e.value("type", ""), e.value("reason", ""),
                                e["involvedObject"].value("kind", ""),
                                e["involvedObject"].value("name", ""), e.value("message", "")));
    }
    return out;
  }
  bool HasEvent(const std::string& want) {
    for (const auto& e : Events()) {
      if (e == want) return true;
    }
    return false;
  }
  void SetObservation(EvictionObservation o) {
    std::lock_guard l(mu_);
    obs_ = std::move(o);
  }
  // Advances past one eviction monitoring period and waits for the housekeeping to run it.
  void Tick(std::chrono::nanoseconds d = seconds(10)) {
    clock_.Advance(d);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }

  FakeClock clock_{std::chrono::system_clock::from_time_t(1767225600)};
  client::FakeClient client_;
  cri::FakeRuntime runtime_;
  std::unique_ptr<Kubelet> kubelet_;
  std::mutex mu_;
  std::optional<EvictionObservation> obs_;
  EvictionObservation healthy_;
  bool reclaimed_by_images_ = false;
  std::optional<std::pair<int64_t, int64_t>> image_fs_;
};

TEST_F(EvictionTest, MemoryPressureEvictsOnePodPerPeriodInUpstreamOrder) {
  ASSERT_TRUE(client_
                  .Create(Pods(), "default",
                          MakePod("guaranteed", {{"requests", {{"memory", "100Mi"}}},
                                                 {"limits", {{"memory", "100Mi"}}}}))
                  .ok());
  ASSERT_TRUE(
      client_.Create(Pods(), "default", MakePod("burstable", {{"requests", {{"memory", "10Mi"}}}}))
          .ok());
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("besteffort")).ok());
  for (const char* n : {"guaranteed", "burstable", "besteffort"}) {
    ASSERT_TRUE(Eventually([&] { return Phase(n) == "Running"; })) << n;
  }
  EXPECT_EQ(Condition("MemoryPressure"), "False");
  EvictionObservation o;
  o.memory_capacity = 4 * Gi;
  o.memory_working_set = 4 * Gi - 50 * Mi;  // memory.available 50Mi < 100Mi
  o.pods[Uid("guaranteed")].memory_working_set = 50 * Mi;
  o.pods[Uid("burstable")].memory_working_set = 200 * Mi;
  o.pods[Uid("burstable")].container_memory["c"] = 200 * Mi;
  o.pods[Uid("besteffort")].memory_working_set = 20 * Mi;
  o.pods[Uid("besteffort")].container_memory["c"] = 20 * Mi;
  SetObservation(o);
  healthy_.memory_capacity = 4 * Gi;
  healthy_.memory_working_set = 1 * Gi;
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("burstable") == "Failed"; }));
  Json st = Get("burstable")["status"];
  EXPECT_EQ(st["reason"], "Evicted");
  EXPECT_EQ(st["message"],
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
            "Container c was using 200Mi, request is 10Mi, has larger consumption of memory. ");
  bool disruption = false;
  for (const auto& c : st["conditions"]) {
    if (c["type"] == "DisruptionTarget") {
      disruption = c["status"] == "True" && c["reason"] == "TerminationByKubelet";
    }
  }
  EXPECT_TRUE(disruption);
  EXPECT_TRUE(HasEvent("Warning EvictionThresholdMet Node/node-1: Attempting to reclaim memory"));
  EXPECT_TRUE(HasEvent(
      "Warning Evicted Pod/burstable: The node was low on resource: memory. Threshold quantity: "
      "100Mi, available: 50Mi. Container c was using 200Mi, request is 10Mi, has larger "
      "consumption of memory. "));
  {
    // Upstream's annotations on the Evicted event.
    Json ann;
    auto l = client_.List(client::resources::Events(), "default", client::ListOptions());
    for (const auto& e : (*l)["items"]) {
      if (e["reason"] == "Evicted") ann = e["metadata"].value("annotations", Json::object());
    }
    EXPECT_EQ(ann, (Json{{"offending_containers", "c"},
                         {"offending_containers_usage", "200Mi"},
                         {"starved_resource", "memory"}}));
  }
  EXPECT_TRUE(Eventually([&] { return Condition("MemoryPressure") == "True"; }));
  // One pod per period.
  EXPECT_EQ(Phase("besteffort"), "Running");
  EXPECT_EQ(Phase("guaranteed"), "Running");
  // Its containers are stopped and it stays Failed (no restart).
  auto ctrs = runtime_.ListContainers(cri::v1::ContainerFilter());
  for (const auto& c : *ctrs) {
    if (c.labels().at(cri::kPodUidLabel) == Uid("burstable")) {
      EXPECT_NE(c.state(), cri::v1::CONTAINER_RUNNING);
    }
  }
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("besteffort") == "Failed"; }));
  EXPECT_EQ(Get("besteffort")["status"]["message"],
            "The node was low on resource: memory. Threshold quantity: 100Mi, available: 50Mi. "
            "Container c was using 20Mi, request is 0, has larger consumption of memory. ");
  EXPECT_EQ(Phase("guaranteed"), "Running");
  EXPECT_EQ(Phase("burstable"), "Failed");
  // Recovery: the condition stays for the transition period (5 min), then clears.
  SetObservation(healthy_);
  Tick();
  Tick(minutes(2));
  EXPECT_EQ(Condition("MemoryPressure"), "True");
  EXPECT_EQ(Phase("guaranteed"), "Running");
  Tick(minutes(4));
  EXPECT_TRUE(Eventually([&] { return Condition("MemoryPressure") == "False"; }));
}

// The race seen once on a real node: the eviction decided while the pod's sync was still
// creating its sandbox. The eviction must win: the pod ends Failed/Evicted with its containers
// terminated, and nothing the in-flight sync created keeps running.
TEST_F(EvictionTest, PodEvictedWhileItsSandboxIsBeingCreatedEndsEvictedWithNothingRunning) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("other")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("other") == "Running"; }));
  std::mutex m;
  std::condition_variable cv;
  bool entered = false, release = false;
  runtime_.SetCallHook([&](const std::string& method) {
    if (method != "RunPodSandbox") return;
    std::unique_lock l(m);
    entered = true;
    cv.notify_all();
    cv.wait_for(l, seconds(20), [&] { return release; });
  });
  auto unblock = [&] {
    std::lock_guard l(m);
    release = true;
    cv.notify_all();
  };
  struct Guard {
    std::function<void()> fn;
    ~Guard() { fn(); }
  } guard{unblock};
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("slow")).ok());
  {
    std::unique_lock l(m);
    ASSERT_TRUE(cv.wait_for(l, seconds(10), [&] { return entered; }));
  }
  const std::string uid = Uid("slow");
  EvictionObservation o;
  o.memory_capacity = 4 * Gi;
  o.memory_working_set = 4 * Gi - 50 * Mi;
  o.pods[uid].memory_working_set = 20 * Mi;
  o.pods[uid].container_memory["c"] = 20 * Mi;
  o.pods[Uid("other")].memory_working_set = 10 * Mi;
  SetObservation(o);
  Tick();  // the eviction picks the pod while RunPodSandbox is still running
  // While that eviction is being carried out, the next period evicts nothing more (upstream
  // waits for the evicted pod's cleanup).
  Tick();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(Phase("other"), "Running");
  unblock();
  auto running = [&] {
    int n = 0;
    auto ctrs = runtime_.ListContainers(cri::v1::ContainerFilter());
    for (const auto& c : *ctrs) {
      if (c.labels().at(cri::kPodUidLabel) == uid && c.state() == cri::v1::CONTAINER_RUNNING) ++n;
    }
    auto sbs = runtime_.ListPodSandbox(cri::v1::PodSandboxFilter());
    for (const auto& s : *sbs) {
      if (s.metadata().uid() == uid && s.state() == cri::v1::SANDBOX_READY) ++n;
    }
    return n;
  };
  auto evicted = [&] {
    Json pod = Get("slow");
    Json st = pod.is_object() ? pod.value("status", Json::object()) : Json::object();
    return st.value("phase", "") == "Failed" && st.value("reason", "") == "Evicted" &&
           st.contains("containerStatuses") &&
           st["containerStatuses"][0]["state"].contains("terminated");
  };
  EXPECT_TRUE(Eventually([&] { return running() == 0 && evicted(); }))
      << "running " << running() << ", status " << Get("slow")["status"].dump();
  // And it stays so: later syncs (relists, informer updates) start nothing again.
  Tick(seconds(1));
  Tick(seconds(1));
  EXPECT_EQ(running(), 0);
  EXPECT_TRUE(evicted()) << Get("slow")["status"].dump();
  // That eviction done, the pressure evicts the next pod.
  Tick();
  EXPECT_TRUE(Eventually([&] { return Phase("other") == "Failed"; }));
}

TEST(AdmitUnderPressureTest, AsUpstreamsEvictionAdmitHandler) {
  Json besteffort = MakePod("be");
  Json burstable = MakePod("bu", {{"requests", {{"memory", "10Mi"}}}});
  Json critical = MakePod("crit", Json::object(), 2000000000);
  Json tolerant = MakePod("tol");
  tolerant["spec"]["tolerations"] = {{{"key", "node.kubernetes.io/memory-pressure"},
                                      {"operator", "Exists"},
                                      {"effect", "NoSchedule"}}};
  Json tolerates_all = MakePod("all");
  tolerates_all["spec"]["tolerations"] = {{{"operator", "Exists"}}};
  Json wrong_effect = MakePod("noexec");
  wrong_effect["spec"]["tolerations"] = {{{"key", "node.kubernetes.io/memory-pressure"},
                                          {"operator", "Exists"},
                                          {"effect", "NoExecute"}}};
  for (const Json* p : {&besteffort, &burstable, &critical, &tolerant}) {
    EXPECT_EQ(AdmitUnderPressure(*p, false, false, false), "");
  }
  // Memory pressure alone: BestEffort pods only, unless they tolerate the taint.
  EXPECT_EQ(AdmitUnderPressure(besteffort, true, false, false),
            "The node had condition: [MemoryPressure]. ");
  EXPECT_EQ(AdmitUnderPressure(wrong_effect, true, false, false),
            "The node had condition: [MemoryPressure]. ");
  EXPECT_EQ(AdmitUnderPressure(burstable, true, false, false), "");
  EXPECT_EQ(AdmitUnderPressure(tolerant, true, false, false), "");
  EXPECT_EQ(AdmitUnderPressure(tolerates_all, true, false, false), "");
  EXPECT_EQ(AdmitUnderPressure(critical, true, false, false), "");
  // Disk (or PID) pressure: every pod but the critical ones; tolerations do not help (upstream
  // checks none there).
  EXPECT_EQ(AdmitUnderPressure(burstable, false, true, false),
            "The node had condition: [DiskPressure]. ");
  EXPECT_EQ(AdmitUnderPressure(tolerant, true, true, false),
            "The node had condition: [MemoryPressure DiskPressure]. ");
  EXPECT_EQ(AdmitUnderPressure(burstable, false, false, true),
            "The node had condition: [PIDPressure]. ");
  EXPECT_EQ(AdmitUnderPressure(critical, true, true, true), "");
}

TEST(TerminateContainerStatusesTest, NeverStartedContainersEndUnknown) {
  Json st = {
      {"initContainerStatuses",
       {{{"name", "i1"}, {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}},
        {{"name", "i2"}, {"state", {{"running", Json::object()}}}},
        {{"name", "i3"}, {"state", {{"waiting", {{"reason", "PodInitializing"}}}}}}}},
      {"containerStatuses",
       {{{"name", "a"},
         {"ready", false},
         {"state", {{"waiting", {{"reason", "PodInitializing"}}}}}},
        {{"name", "b"}, {"state", {{"terminated", {{"exitCode", 137}, {"reason", "Error"}}}}}}}}};
  TerminateContainerStatuses(&st);
  Json unknown = {
      {"terminated",
       {{"exitCode", 137},
        {"reason", "ContainerStatusUnknown"},
        {"message", "The container could not be located when the pod was terminated"}}}};
  EXPECT_EQ(st["initContainerStatuses"][0]["state"]["terminated"]["reason"], "Completed");
  EXPECT_EQ(st["initContainerStatuses"][1]["state"], unknown);
  EXPECT_TRUE(st["initContainerStatuses"][2]["state"].contains("waiting"));  // never started
  EXPECT_EQ(st["containerStatuses"][0]["state"], unknown);
  EXPECT_EQ(st["containerStatuses"][1]["state"]["terminated"]["reason"], "Error");
}

// Admission under node pressure: pods bound while the node reports MemoryPressure /
// DiskPressure are rejected as upstream (phase Failed, reason Evicted, "Pod was rejected: ..."),
// never started, with a Warning Evicted event; others run.
TEST_F(EvictionTest, PodsAreRejectedAtAdmissionUnderPressure) {
  EvictionObservation o;
  o.memory_capacity = 4 * Gi;
  o.memory_working_set = 4 * Gi - 50 * Mi;
  SetObservation(o);
  Tick();
  ASSERT_TRUE(Eventually([&] { return Condition("MemoryPressure") == "True"; }));
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("besteffort")).ok());
  ASSERT_TRUE(
      client_.Create(Pods(), "default", MakePod("burstable", {{"requests", {{"memory", "10Mi"}}}}))
          .ok());
  Json tolerant = MakePod("tolerant");
  tolerant["spec"]["tolerations"] = {{{"key", "node.kubernetes.io/memory-pressure"},
                                      {"operator", "Exists"},
                                      {"effect", "NoSchedule"}}};
  ASSERT_TRUE(client_.Create(Pods(), "default", tolerant).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("besteffort") == "Failed"; }));
  Json st = Get("besteffort")["status"];
  EXPECT_EQ(st["reason"], "Evicted");
  EXPECT_EQ(st["message"], "Pod was rejected: The node had condition: [MemoryPressure]. ");
  EXPECT_EQ(st["qosClass"], "BestEffort");
  EXPECT_FALSE(st.contains("containerStatuses"));
  EXPECT_TRUE(
      HasEvent("Warning Evicted Pod/besteffort: The node had condition: [MemoryPressure]. "));
  ASSERT_TRUE(Eventually([&] { return Phase("burstable") == "Running"; }));
  ASSERT_TRUE(Eventually([&] { return Phase("tolerant") == "Running"; }));
  auto sandboxes_of = [&](const std::string& name) {
    int n = 0;
    auto sbs = runtime_.ListPodSandbox(cri::v1::PodSandboxFilter());
    for (const auto& s : *sbs) n += s.metadata().name() == name;
    return n;
  };
  EXPECT_EQ(sandboxes_of("besteffort"), 0);
  // Later syncs leave the rejected pod alone.
  Tick(seconds(1));
  EXPECT_EQ(Phase("besteffort"), "Failed");
  EXPECT_EQ(sandboxes_of("besteffort"), 0);

  // Disk pressure rejects every pod but critical ones.
  EvictionObservation d;
  d.nodefs_capacity = 100 * Gi;
  d.nodefs_available = 1 * Gi;
  d.memory_capacity = 4 * Gi;
  d.memory_working_set = 4 * Gi - 50 * Mi;
  // Stats that make the running pods rank: one of them is evicted in this period, the new ones
  // are not there yet.
  SetObservation(d);
  Tick();
  ASSERT_TRUE(Eventually([&] { return Condition("DiskPressure") == "True"; }));
  ASSERT_TRUE(
      client_.Create(Pods(), "default", MakePod("burstable2", {{"requests", {{"memory", "10Mi"}}}}))
          .ok());
  ASSERT_TRUE(
      client_.Create(Pods(), "default", MakePod("critical", Json::object(), 2000000000)).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("burstable2") == "Failed"; }));
  EXPECT_EQ(Get("burstable2")["status"]["message"],
            "Pod was rejected: The node had condition: [MemoryPressure DiskPressure]. ");
  ASSERT_TRUE(Eventually([&] { return Phase("critical") == "Running"; }));
  EXPECT_EQ(sandboxes_of("burstable2"), 0);
}

// PID pressure: pid.available = pid_max - processes below its threshold sets PIDPressure and
// evicts the pod with the most processes (no requests for pids: priority, then process count);
// new pods are rejected at admission.
class PidEvictionTest : public EvictionTest {
 protected:
  void Configure(KubeletConfig* cfg) override {
    ASSERT_TRUE(ParseEvictionFlags("pid.available<1000", "", "", &cfg->eviction).ok());
  }
};

TEST_F(PidEvictionTest, PidPressureEvictsTheLargestProcessCountAndRejectsNewPods) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("few")).ok());
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("many")).ok());
  for (const char* n : {"few", "many"}) {
    ASSERT_TRUE(Eventually([&] { return Phase(n) == "Running"; })) << n;
  }
  EXPECT_EQ(Condition("PIDPressure"), "False");
  EvictionObservation o;
  o.pid_max = 32768;
  o.processes = 32000;  // 768 available < 1000
  o.pods[Uid("few")].processes = 3;
  o.pods[Uid("many")].processes = 30000;
  o.pods[Uid("many")].container_memory["c"] = 1 * Gi;  // not reported for pids
  SetObservation(o);
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("many") == "Failed"; }));
  EXPECT_EQ(Get("many")["status"]["message"],
            "The node was low on resource: pids. Threshold quantity: 1k, available: 768. ");
  EXPECT_TRUE(Eventually([&] { return Condition("PIDPressure") == "True"; }));
  EXPECT_EQ(Condition("MemoryPressure"), "False");
  EXPECT_EQ(Condition("DiskPressure"), "False");
  EXPECT_EQ(Phase("few"), "Running");
  EXPECT_TRUE(HasEvent("Warning EvictionThresholdMet Node/node-1: Attempting to reclaim pids"));
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("late")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("late") == "Failed"; }));
  EXPECT_EQ(Get("late")["status"]["message"],
            "Pod was rejected: The node had condition: [PIDPressure]. ");
  // The pressure lasts: the next period evicts the next pod and counts the node event again
  // on the same object.
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("few") == "Failed"; }));
  auto threshold_events = [&] {
    std::vector<int64_t> counts;
    auto l = client_.List(client::resources::Events(), "default", client::ListOptions());
    for (const auto& e : (*l)["items"]) {
      if (e["reason"] == "EvictionThresholdMet") counts.push_back(e.value("count", 0));
    }
    return counts;
  };
  EXPECT_TRUE(Eventually([&] { return threshold_events() == std::vector<int64_t>{2}; }));
}

// Inodes: nodefs.inodesFree (default 5%) sets DiskPressure; unused images go first, then the pod
// using the most inodes. imagefs.inodesFree reads nodefs when the image store shares it.
TEST_F(EvictionTest, InodePressureReclaimsImagesThenEvictsTheLargestInodeUser) {
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("small")).ok());
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("big")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("small") == "Running" && Phase("big") == "Running"; }));
  EvictionObservation o;
  o.nodefs_capacity = 100 * Gi;
  o.nodefs_available = 50 * Gi;
  o.nodefs_inodes = 1000000;
  o.nodefs_inodes_free = 20000;  // 2% < 5%
  o.pods[Uid("small")].inodes = 10;
  o.pods[Uid("big")].inodes = 500000;
  SetObservation(o);
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("big") == "Failed"; }));
  EXPECT_EQ(Get("big")["status"]["message"],
            "The node was low on resource: inodes. Threshold quantity: 50k, available: 20k. ");
  EXPECT_TRUE(Eventually([&] { return Condition("DiskPressure") == "True"; }));
  EXPECT_EQ(Phase("small"), "Running");
}

TEST(LocalStorageViolationTest, EmptyDirSizeLimitPodAndContainerLimits) {
  Json pod = MakePod("p", {{"limits", {{"ephemeral-storage", "10Mi"}}}});
  pod["spec"]["containers"].push_back(
      {{"name", "d"},
       {"image", "busybox:1.0"},
       {"resources", {{"limits", {{"ephemeral-storage", "20Mi"}}}}}});
  pod["spec"]["volumes"] = {{{"name", "scratch"}, {"emptyDir", {{"sizeLimit", "1Mi"}}}},
                            {{"name", "free"}, {"emptyDir", Json::object()}}};
  EvictionObservation::Pod u;
  u.volume_usage["free"] = 1 * Gi;     // no limit
  u.volume_usage["scratch"] = 1 * Mi;  // at the limit: fine
  u.container_disk["c"] = 5 * Mi;
  u.disk_usage = 6 * Mi;
  EXPECT_EQ(LocalStorageViolation(pod, u), "");
  u.volume_usage["scratch"] = 1 * Mi + 1;
  EXPECT_EQ(LocalStorageViolation(pod, u),
            "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ");
  u.volume_usage["scratch"] = 0;
  u.disk_usage = 31 * Mi;  // over 10Mi + 20Mi
  EXPECT_EQ(LocalStorageViolation(pod, u),
            "Pod ephemeral local storage usage exceeds the total limit of containers 30Mi. ");
  u.disk_usage = 12 * Mi;
  u.container_disk["c"] = 11 * Mi;  // over its own 10Mi
  EXPECT_EQ(LocalStorageViolation(pod, u),
            "Container c exceeded its local ephemeral storage limit \"10Mi\". ");
}

// Local storage limits are enforced whatever the node's pressure: the pod goes at once, with
// upstream's message and without a DisruptionTarget condition; the node stays without pressure.
TEST_F(EvictionTest, EmptyDirOverItsSizeLimitIsEvictedWithoutPressure) {
  Json pod = MakePod("writer");
  pod["spec"]["volumes"] = {{{"name", "scratch"}, {"emptyDir", {{"sizeLimit", "1Mi"}}}}};
  ASSERT_TRUE(client_.Create(Pods(), "default", pod).ok());
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("quiet")).ok());
  for (const char* n : {"writer", "quiet"}) {
    ASSERT_TRUE(Eventually([&] { return Phase(n) == "Running"; })) << n;
  }
  EvictionObservation o;
  o.memory_capacity = 4 * Gi;
  o.memory_working_set = 1 * Gi;
  o.nodefs_capacity = 100 * Gi;
  o.nodefs_available = 50 * Gi;
  o.pods[Uid("writer")].volume_usage["scratch"] = 2 * Mi;
  o.pods[Uid("quiet")].volume_usage["x"] = 2 * Mi;
  SetObservation(o);
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("writer") == "Failed"; }));
  Json st = Get("writer")["status"];
  EXPECT_EQ(st["reason"], "Evicted");
  EXPECT_EQ(st["message"], "Usage of EmptyDir volume \"scratch\" exceeds the limit \"1Mi\". ");
  for (const auto& c : st["conditions"]) EXPECT_NE(c["type"], "DisruptionTarget");
  EXPECT_EQ(runtime_.LastStopTimeout(), 1);
  EXPECT_TRUE(
      HasEvent("Warning Evicted Pod/writer: Usage of EmptyDir volume \"scratch\" exceeds the limit "
               "\"1Mi\". "));
  EXPECT_EQ(Phase("quiet"), "Running");
  EXPECT_EQ(Condition("DiskPressure"), "False");
  EXPECT_EQ(Condition("MemoryPressure"), "False");
}

TEST_F(EvictionTest, DiskPressureReclaimsImagesBeforeEvicting) {
  runtime_.AddImage("old:1");
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("small")).ok());
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("big")).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("small") == "Running" && Phase("big") == "Running"; }));
  Tick(minutes(5));  // a GC round (below any threshold) sees old:1
  Tick(minutes(3));  // which is now older than the GC minimum age (2 min)
  EvictionObservation o;
  o.nodefs_capacity = 100 * Gi;
  o.nodefs_available = 5 * Gi;  // 5% < 10%
  o.pods[Uid("small")].disk_usage = 1 * Mi;
  o.pods[Uid("big")].disk_usage = 5 * Gi;
  o.pods[Uid("big")].container_disk["c"] = 5 * Gi;
  healthy_.nodefs_capacity = 100 * Gi;
  healthy_.nodefs_available = 50 * Gi;
  {
    std::lock_guard l(mu_);
    reclaimed_by_images_ = true;
  }
  SetObservation(o);
  Tick();
  ASSERT_TRUE(Eventually([&] { return runtime_.Calls("RemoveImage") > 0; }));
  EXPECT_TRUE(Eventually([&] { return Condition("DiskPressure") == "True"; }));
  auto img = runtime_.ImageStatus([] {
    cri::v1::ImageSpec s;
    s.set_image("old:1");
    return s;
  }());
  EXPECT_FALSE(img->has_value());
  EXPECT_EQ(Phase("big"), "Running");
  EXPECT_EQ(Phase("small"), "Running");
  // Nothing left to reclaim: the pod using the most disk goes.
  {
    std::lock_guard l(mu_);
    reclaimed_by_images_ = false;
  }
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("big") == "Failed"; }));
  EXPECT_EQ(Get("big")["status"]["message"],
            "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, "
            "available: 5Gi. Container c was using 5Gi, request is 0, has larger consumption of "
            "ephemeral-storage. ");
  EXPECT_EQ(Phase("small"), "Running");
}

TEST_F(EvictionTest, CriticalPodsAreNotEvicted) {
  ASSERT_TRUE(
      client_.Create(Pods(), "default", MakePod("critical", Json::object(), 2000000000)).ok());
  ASSERT_TRUE(Eventually([&] { return Phase("critical") == "Running"; }));
  EvictionObservation o;
  o.memory_capacity = 4 * Gi;
  o.memory_working_set = 4 * Gi;
  o.pods[Uid("critical")].memory_working_set = 3 * Gi;
  SetObservation(o);
  Tick();
  EXPECT_TRUE(Eventually([&] { return Condition("MemoryPressure") == "True"; }));
  Tick();
  EXPECT_EQ(Phase("critical"), "Running");
}

TEST_F(EvictionTest, ImageGcRemovesUnusedImagesOldestFirstAboveTheHighThreshold) {
  runtime_.AddImage("b:1");
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("user")).ok());  // uses busybox:1.0
  ASSERT_TRUE(Eventually([&] { return Phase("user") == "Running"; }));
  Tick(minutes(5));  // a GC round below any threshold: b:1 is seen
  EXPECT_EQ(runtime_.Calls("RemoveImage"), 0);
  runtime_.AddImage("a:1");  // seen one round later than b:1
  {
    std::lock_guard l(mu_);
    image_fs_ = std::make_pair(int64_t{100} * Gi, int64_t{10} * Gi);  // 90% used
  }
  Tick(minutes(5));
  ASSERT_TRUE(Eventually([&] { return runtime_.Calls("RemoveImage") == 1; }));
  auto names = [&] {
    std::set<std::string> out;
    auto imgs = runtime_.ListImages(cri::v1::ImageFilter());
    for (const auto& i : *imgs) out.insert(i.repo_tags(0));
    return out;
  };
  // b:1 (older) went first; a:1 is still too young; busybox is in use; pause is pinned.
  EXPECT_EQ(names(),
            (std::set<std::string>{"docker.io/library/a:1", "docker.io/library/busybox:1.0",
                                   "registry.k8s.io/pause:3.6"}));
  Tick(minutes(5));
  ASSERT_TRUE(Eventually([&] { return runtime_.Calls("RemoveImage") == 2; }));
  EXPECT_EQ(names(),
            (std::set<std::string>{"docker.io/library/busybox:1.0", "registry.k8s.io/pause:3.6"}));
  // Below the high threshold nothing is removed.
  {
    std::lock_guard l(mu_);
    image_fs_ = std::make_pair(int64_t{100} * Gi, int64_t{50} * Gi);
  }
  runtime_.AddImage("c:1");
  Tick(minutes(5));
  Tick(minutes(5));
  EXPECT_EQ(runtime_.Calls("RemoveImage"), 2);
}

// Soft thresholds: memory.available<1Gi for 1m30s, evictionMaxPodGracePeriod 20 s; the hard
// default (100Mi) stays.
class SoftEvictionTest : public EvictionTest {
 protected:
  void Configure(KubeletConfig* cfg) override {
    ASSERT_TRUE(
        ParseEvictionFlags("", "memory.available<1Gi", "memory.available=1m30s", &cfg->eviction)
            .ok());
    cfg->eviction.max_pod_grace_period_seconds = 20;
  }
  EvictionObservation Available(int64_t available) {
    EvictionObservation o;
    o.memory_capacity = 4 * Gi;
    o.memory_working_set = 4 * Gi - available;
    o.pods[Uid("burstable")].memory_working_set = 300 * Mi;
    o.pods[Uid("burstable")].container_memory["c"] = 300 * Mi;
    if (!Get("besteffort").is_null()) o.pods[Uid("besteffort")].memory_working_set = 20 * Mi;
    return o;
  }
};

TEST_F(SoftEvictionTest, EvictsGracefullyOnlyAfterTheGracePeriod) {
  Json burstable = MakePod("burstable", {{"requests", {{"memory", "10Mi"}}}});
  burstable["spec"]["terminationGracePeriodSeconds"] = 60;
  burstable["spec"]["containers"][0]["lifecycle"] = {
      {"preStop", {{"exec", {{"command", {"sh", "-c", "echo bye"}}}}}}};
  ASSERT_TRUE(client_.Create(Pods(), "default", burstable).ok());
  ASSERT_TRUE(client_.Create(Pods(), "default", MakePod("besteffort")).ok());
  for (const char* n : {"burstable", "besteffort"}) {
    ASSERT_TRUE(Eventually([&] { return Phase(n) == "Running"; })) << n;
  }
  // Met (800Mi < 1Gi): MemoryPressure at once, no eviction before 1m30s.
  SetObservation(Available(800 * Mi));
  Tick();
  EXPECT_TRUE(Eventually([&] { return Condition("MemoryPressure") == "True"; }));
  Tick(seconds(60));
  EXPECT_EQ(Phase("burstable"), "Running");
  // Recovered before the grace period: the clock starts again when it is met again.
  SetObservation(Available(2 * Gi));
  Tick();
  SetObservation(Available(800 * Mi));
  Tick();
  Tick(seconds(60));
  EXPECT_EQ(Phase("burstable"), "Running");
  EXPECT_EQ(Phase("besteffort"), "Running");
  EXPECT_EQ(runtime_.Calls("ExecSync"), 0);
  // Met for 1m30s: one pod, stopped with its preStop hook and min(60, 20) s.
  Tick(seconds(30));
  ASSERT_TRUE(Eventually([&] { return Phase("burstable") == "Failed"; }));
  Json st = Get("burstable")["status"];
  EXPECT_EQ(st["reason"], "Evicted");
  EXPECT_EQ(st["message"],
            "The node was low on resource: memory. Threshold quantity: 1Gi, available: 800Mi. "
            "Container c was using 300Mi, request is 10Mi, has larger consumption of memory. ");
  EXPECT_EQ(st["containerStatuses"][0]["state"].contains("terminated"), true);
  EXPECT_EQ(runtime_.Calls("ExecSync"), 1);
  EXPECT_EQ(runtime_.LastStopTimeout(), 20);
  EXPECT_EQ(Phase("besteffort"), "Running");
}

TEST_F(SoftEvictionTest, HardThresholdStillEvictsAtOnceWithOneSecond) {
  ASSERT_TRUE(
      client_.Create(Pods(), "default", MakePod("burstable", {{"requests", {{"memory", "10Mi"}}}}))
          .ok());
  ASSERT_TRUE(Eventually([&] { return Phase("burstable") == "Running"; }));
  SetObservation(Available(50 * Mi));  // below the hard 100Mi and the soft 1Gi
  Tick();
  ASSERT_TRUE(Eventually([&] { return Phase("burstable") == "Failed"; }));
  EXPECT_EQ(runtime_.LastStopTimeout(), 1);
}

}  // namespace
}  // namespace korral::kubelet
