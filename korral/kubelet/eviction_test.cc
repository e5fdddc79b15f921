// Node-pressure eviction and image garbage collection with a fake stats source, the fake
// runtime and a fake clock.
#include <gtest/gtest.h>

#include <thread>

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
  s = ParseEvictionFlags("pid.available<100", "", "", &c);
  EXPECT_EQ(StatusMessage(s),
            "unsupported eviction signal pid.available (supported: memory.available, "
            "nodefs.available)");
  EXPECT_FALSE(ParseEvictionFlags("memory.available>1Gi", "", "", &c).ok());
  EXPECT_FALSE(ParseEvictionFlags("nodefs.available<120%", "", "", &c).ok());
  EXPECT_FALSE(ParseEvictionFlags("memory.available<lots", "", "", &c).ok());
  EXPECT_FALSE(
      ParseEvictionFlags("", "memory.available<1Gi", "memory.available=10parsecs", &c).ok());
  EXPECT_FALSE(ParseEvictionFlags("", "memory.available<1Gi", "memory.available", &c).ok());
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
            "The node was low on resource: memory. Container c was using 200Mi, which exceeds its "
            "request of 10Mi. ");
  bool disruption = false;
  for (const auto& c : st["conditions"]) {
    if (c["type"] == "DisruptionTarget") {
      disruption = c["status"] == "True" && c["reason"] == "TerminationByKubelet";
    }
  }
  EXPECT_TRUE(disruption);
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
            "The node was low on resource: memory. Container c was using 20Mi, which exceeds its "
            "request of 0. ");
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
            "The node was low on resource: ephemeral-storage. Container c was using 5Gi, which "
            "exceeds its request of 0. ");
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
            "The node was low on resource: memory. Container c was using 300Mi, which exceeds its "
            "request of 10Mi. ");
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
