#include "korral/kubelet/stats/sampler.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <mutex>
#include <thread>

#include "korral/base/clock.h"
#include "korral/kubelet/stats/fake_tree_test_util.h"

namespace korral::kubelet::stats {
namespace {

using namespace std::chrono_literals;
using testing::FakeTree;

class FakeProvider : public PodStatsProvider {
 public:
  std::vector<PodRef> ListPodsForStats() override {
    std::lock_guard l(mu);
    return pods;
  }
  std::mutex mu;
  std::vector<PodRef> pods;
};

std::chrono::system_clock::time_point T0() {
  return std::chrono::sys_days{std::chrono::year{2026} / 11 / 28} + 10h;
}

// Node root, pod1 (pod cgroup + container c1) and pod2 (no pod cgroup; containers a and b).
struct Fixture {
  FakeTree tree;
  FakeProvider provider;
  FakeClock clock{T0()};
  SamplerOptions options;

  Fixture() {
    tree.V1Cgroup("", 100'000'000'000, 8ull << 30, 2ull << 30, 1ull << 30, 0);
    tree.V1Cgroup("kubepods", 9'000'000'000, 500 << 20, 100 << 20, 200 << 20, 5);
    tree.V1Cgroup("kubepods/pod1", 2'000'000'000, 120 << 20, 20 << 20, 60 << 20, 3);
    tree.V1Cgroup("kubepods/pod1/c1", 1'000'000'000, 100 << 20, 30 << 20, 50 << 20, 2);
    tree.V1Cgroup("kubepods/pod2/a", 1'000'000'000, 10 << 20, 0, 5 << 20, 1);
    tree.V1Cgroup("kubepods/pod2/b", 3'000'000'000, 30 << 20, 0, 7 << 20, 2);
    tree.Proc(42);
    tree.Write("rootfs/c1/file", std::string(8192, 'z'));
    options.node_name = "node-1";
    options.cgroup_root = tree.cgroup_root();
    options.proc_root = tree.proc_root();
    options.node_fs_path = tree.root();
    options.system_containers = {{"pods", "/kubepods"}, {"kubelet", "/nonexistent"}};
    PodRef p1{"default", "p1", "uid-1", "/kubepods/pod1", 42, "", T0() - 1h, {}, {}};
    ContainerRef c1;
    c1.name = "c1";
    c1.id = "id1";
    c1.image = "busybox";
    c1.cgroup_path = "/kubepods/pod1/c1";
    c1.start_time = T0() - 30min;
    c1.rootfs_path = tree.root() + "/rootfs/c1";
    p1.containers.push_back(c1);
    p1.volumes.push_back(VolumeRef{"data", tree.root() + "/rootfs", "", true});
    PodRef p2{"kube-system", "p2", "uid-2", "", 0, "", T0() - 2h, {}, {}};
    for (const char* n : {"a", "b"}) {
      ContainerRef c;
      c.name = n;
      c.id = std::string("id-") + n;
      c.image = "pause";
      c.cgroup_path = std::string("/kubepods/pod2/") + n;
      p2.containers.push_back(c);
    }
    provider.pods = {p1, p2};
  }
};

TEST(SamplerTest, FirstSampleHasNoRatesSecondHasThem) {
  Fixture f;
  Sampler s(f.options, &f.provider, &f.clock);
  ASSERT_TRUE(s.Init().ok());
  EXPECT_EQ(s.Latest()->sample_count, 0u);
  s.SampleOnce();
  auto first = s.Latest();
  EXPECT_EQ(first->sample_count, 1u);
  EXPECT_EQ(first->window, 0ns);
  ASSERT_EQ(first->pods.size(), 2u);
  EXPECT_FALSE(first->pods[0].containers[0].usage_nano_cores.has_value());
  EXPECT_FALSE(first->node.usage_nano_cores.has_value());

  // 10 s later: c1 used 0.5 s of CPU (0.05 cores), pod1 1 s (0.1 cores), node 5 s (0.5 cores).
  f.tree.SetCpu("kubepods/pod1/c1", 1'500'000'000);
  f.tree.SetCpu("kubepods/pod1", 3'000'000'000);
  f.tree.SetCpu("", 105'000'000'000);
  f.tree.SetCpu("kubepods/pod2/a", 1'200'000'000);
  f.clock.Advance(10s);
  s.SampleOnce();
  auto snap = s.Latest();
  EXPECT_EQ(snap->window, 10s);
  EXPECT_EQ(snap->time, T0() + 10s);
  const PodSample& p1 = snap->pods[0];
  EXPECT_TRUE(p1.has_cgroup);
  EXPECT_EQ(p1.usage_nano_cores, 100'000'000u);
  ASSERT_EQ(p1.containers.size(), 1u);
  EXPECT_EQ(p1.containers[0].usage_nano_cores, 50'000'000u);
  EXPECT_EQ(p1.containers[0].cgroup.memory.working_set, 70u << 20);
  EXPECT_EQ(snap->node.usage_nano_cores, 500'000'000u);
  // Pod without a pod cgroup: totals are the containers' sums.
  const PodSample& p2 = snap->pods[1];
  EXPECT_FALSE(p2.has_cgroup);
  EXPECT_EQ(p2.cgroup.cpu.usage_ns, 4'200'000'000u);
  EXPECT_EQ(p2.usage_nano_cores, 20'000'000u);
  EXPECT_EQ(p2.cgroup.memory.working_set, 40u << 20);
  EXPECT_EQ(p2.cgroup.pids.current, 3u);
  EXPECT_FALSE(p2.has_network);
}

TEST(SamplerTest, NodeNetworkFsAndSystemContainers) {
  Fixture f;
  Sampler s(f.options, &f.provider, &f.clock);
  ASSERT_TRUE(s.Init().ok());
  s.SampleOnce();
  const NodeSample& n = s.Latest()->node;
  EXPECT_EQ(n.name, "node-1");
  EXPECT_EQ(n.num_cpus, 2);
  EXPECT_EQ(n.memory_capacity, 16384000ull * 1024);
  EXPECT_EQ(n.memory_working_set, 6ull << 30);
  EXPECT_EQ(n.usage_core_ns, 100'000'000'000u);
  ASSERT_EQ(n.interfaces.size(), 1u);  // lo and veth* left out
  EXPECT_EQ(n.interfaces[0].name, "eth0");
  EXPECT_TRUE(n.fs.has_value());
  EXPECT_TRUE(n.image_fs.has_value());
  EXPECT_EQ(n.pid_max, 4194304u);
  ASSERT_EQ(n.system_containers.size(), 1u);  // /nonexistent skipped
  EXPECT_EQ(n.system_containers[0].ref.name, "pods");
  // Pod network from the sandbox pid's /proc/<pid>/net/dev, loopback excluded.
  const PodSample& p1 = s.Latest()->pods[0];
  ASSERT_TRUE(p1.has_network);
  ASSERT_EQ(p1.interfaces.size(), 1u);
  EXPECT_EQ(p1.interfaces[0].rx_bytes, 12345u);
}

TEST(SamplerTest, NodeFallsBackToProcWithoutRootCgroupStats) {
  Fixture f;
  std::filesystem::remove(f.tree.cgroup_root() + "/memory/memory.usage_in_bytes");
  std::filesystem::remove(f.tree.cgroup_root() + "/cpuacct/cpuacct.usage");
  Sampler s(f.options, nullptr, &f.clock);
  ASSERT_TRUE(s.Init().ok());
  s.SampleOnce();
  const NodeSample& n = s.Latest()->node;
  EXPECT_EQ(n.memory_usage, (16384000ull - 8192000ull) * 1024);
  EXPECT_EQ(n.memory_working_set, (16384000ull - 8192000ull - 512000ull) * 1024);
  EXPECT_EQ(n.usage_core_ns, 150ull * 1'000'000'000 / sysconf(_SC_CLK_TCK));
  EXPECT_TRUE(s.Latest()->pods.empty());
}

TEST(SamplerTest, GoneContainerAndCounterResetGiveNoRate) {
  Fixture f;
  Sampler s(f.options, &f.provider, &f.clock);
  ASSERT_TRUE(s.Init().ok());
  s.SampleOnce();
  std::filesystem::remove_all(f.tree.cgroup_root() + "/cpuacct/kubepods/pod2/b");
  std::filesystem::remove_all(f.tree.cgroup_root() + "/cpu/kubepods/pod2/b");
  std::filesystem::remove_all(f.tree.cgroup_root() + "/memory/kubepods/pod2/b");
  std::filesystem::remove_all(f.tree.cgroup_root() + "/pids/kubepods/pod2/b");
  std::filesystem::remove_all(f.tree.cgroup_root() + "/blkio/kubepods/pod2/b");
  f.tree.SetCpu("kubepods/pod1/c1", 10);  // restarted container: counter went down
  f.clock.Advance(10s);
  s.SampleOnce();
  auto snap = s.Latest();
  EXPECT_FALSE(snap->pods[0].containers[0].usage_nano_cores.has_value());
  EXPECT_FALSE(snap->pods[1].containers[1].has_cgroup);
  EXPECT_TRUE(snap->pods[1].containers[0].has_cgroup);
}

TEST(SamplerTest, DiskUsageWalkedEveryNthSampleAndCarriedOver) {
  Fixture f;
  f.options.disk_every = 2;
  Sampler s(f.options, &f.provider, &f.clock);
  ASSERT_TRUE(s.Init().ok());
  s.SampleOnce();
  auto first = s.Latest();
  ASSERT_TRUE(first->pods[0].containers[0].rootfs.has_value());
  uint64_t bytes = first->pods[0].containers[0].rootfs->bytes;
  EXPECT_GE(bytes, 8192u);
  ASSERT_TRUE(first->pods[0].volumes[0].usage.has_value());
  f.tree.Write("rootfs/c1/more", std::string(65536, 'q'));
  f.clock.Advance(10s);
  s.SampleOnce();  // no walk: the previous value is carried over
  EXPECT_EQ(s.Latest()->pods[0].containers[0].rootfs->bytes, bytes);
  EXPECT_TRUE(s.Latest()->pods[0].volumes[0].usage.has_value());
  f.clock.Advance(10s);
  s.SampleOnce();  // walk again
  EXPECT_GT(s.Latest()->pods[0].containers[0].rootfs->bytes, bytes);
}

TEST(SamplerTest, InitFailsWithoutCgroups) {
  FakeTree t;
  SamplerOptions o;
  o.cgroup_root = t.root() + "/none";
  FakeClock clock;
  Sampler s(o, nullptr, &clock);
  EXPECT_EQ(s.Init().code(), absl::StatusCode::kNotFound);
}

TEST(SamplerTest, BackgroundThreadSamplesAndStops) {
  Fixture f;
  f.options.interval = std::chrono::hours(1);
  Sampler s(f.options, &f.provider, &Clock::Real());
  ASSERT_TRUE(s.Init().ok());
  s.Start();
  // The first sample is taken immediately; wait (bounded) for it.
  for (int i = 0; i < 400 && s.Latest()->sample_count == 0; ++i) {
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(s.Latest()->sample_count, 1u);
  auto start = std::chrono::steady_clock::now();
  s.Stop();  // must not wait for the hour
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

}  // namespace
}  // namespace korral::kubelet::stats
