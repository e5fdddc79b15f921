// Real cgroups: creates a cgroup named for the test under the memory, cpu, cpuacct and pids
// hierarchies (v1) or under the unified root (v2), runs a busy child process in it and checks
// that the readers and the sampler see its CPU and memory grow. Needs root; skips otherwise.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "korral/base/clock.h"
#include "korral/kubelet/stats/cgroup.h"
#include "korral/kubelet/stats/sampler.h"
#include "korral/kubelet/stats/summary.h"

namespace korral::kubelet::stats {
namespace {

using namespace std::chrono_literals;

class RealCgroup {
 public:
  RealCgroup(const CgroupLayout& layout, std::string name)
      : layout_(layout), name_(std::move(name)) {
    for (const char* c : Controllers()) {
      std::string dir = layout_.Dir(c, name_);
      if (dir.empty()) continue;
      if (::mkdir(dir.c_str(), 0755) == 0 || errno == EEXIST) dirs_.push_back(dir);
    }
  }
  ~RealCgroup() {
    // Only this test's processes were in it; they are reaped before this runs.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) ::rmdir(it->c_str());
  }
  bool ok() const { return !dirs_.empty(); }
  // Moves `pid` into every hierarchy of the cgroup.
  bool Add(pid_t pid) const {
    bool any = false;
    for (const auto& d : dirs_) {
      std::ofstream f(d + "/cgroup.procs");
      f << pid;
      f.flush();
      any |= f.good();
    }
    return any;
  }
  const std::string& name() const { return name_; }

 private:
  std::vector<const char*> Controllers() const {
    if (layout_.version == CgroupVersion::kV2) return {"memory"};  // one directory
    return {"memory", "cpu", "cpuacct", "pids"};
  }
  const CgroupLayout& layout_;
  std::string name_;
  std::vector<std::string> dirs_;
};

class Provider : public PodStatsProvider {
 public:
  std::vector<PodRef> ListPodsForStats() override { return {pod}; }
  PodRef pod;
};

TEST(RealCgroupTest, BusyChildUsageGrows) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  auto layout = DetectCgroupLayout("/sys/fs/cgroup");
  if (!layout.ok()) GTEST_SKIP() << "no cgroups: " << layout.status();
  RealCgroup cg(*layout, fmt::format("korral-stats-test-{}", getpid()));
  if (!cg.ok()) GTEST_SKIP() << "cannot create cgroups (read-only hierarchy?)";

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // Wait until the parent moved us, then touch 32 MiB and spin (bounded: 20 s at most).
    char c;
    if (::read(ready[0], &c, 1) != 1) _exit(1);
    std::vector<char> mem(32 << 20);
    for (size_t i = 0; i < mem.size(); i += 4096) mem[i] = 1;
    auto end = std::chrono::steady_clock::now() + 20s;
    volatile uint64_t x = 0;
    while (std::chrono::steady_clock::now() < end) x = x + 1;
    _exit(0);
  }
  ::close(ready[0]);
  ASSERT_TRUE(cg.Add(child));
  ASSERT_EQ(::write(ready[1], "g", 1), 1);
  ::close(ready[1]);

  Provider provider;
  provider.pod.ns = "default";
  provider.pod.name = "busy";
  provider.pod.uid = "uid-busy";
  provider.pod.sandbox_pid = child;
  ContainerRef c;
  c.name = "spin";
  c.id = "spin-id";
  c.cgroup_path = "/" + cg.name();
  provider.pod.containers.push_back(c);
  SamplerOptions opts;
  opts.node_name = "real-node";
  Sampler sampler(opts, &provider, &Clock::Real());
  ASSERT_TRUE(sampler.Init().ok());

  auto first = ReadCgroupStats(*layout, cg.name());
  ASSERT_TRUE(first.ok()) << first.status();
  sampler.SampleOnce();
  // Wait (bounded) until the child used 200 ms of CPU and touched its memory.
  absl::StatusOr<CgroupStats> now = first;
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(50ms);
    now = ReadCgroupStats(*layout, cg.name());
    ASSERT_TRUE(now.ok());
    if (now->cpu.usage_ns >= first->cpu.usage_ns + 200'000'000 &&
        now->memory.usage >= (30u << 20)) {
      break;
    }
  }
  sampler.SampleOnce();
  ::kill(child, SIGKILL);
  int status;
  ::waitpid(child, &status, 0);

  EXPECT_TRUE(now->cpu.ok);
  EXPECT_GE(now->cpu.usage_ns, first->cpu.usage_ns + 200'000'000);
  EXPECT_GE(now->memory.usage, 30u << 20);
  EXPECT_GE(now->memory.working_set, 30u << 20);
  EXPECT_GE(now->memory.rss, 30u << 20);
  EXPECT_GE(now->pids.current, 1u);

  auto snap = sampler.Latest();
  ASSERT_EQ(snap->pods.size(), 1u);
  const ContainerSample& cs = snap->pods[0].containers[0];
  ASSERT_TRUE(cs.has_cgroup);
  ASSERT_TRUE(cs.usage_nano_cores.has_value());
  EXPECT_GT(*cs.usage_nano_cores, 100'000'000u);  // a spinning process: well over 0.1 core
  EXPECT_TRUE(snap->pods[0].has_network);         // /proc/<child>/net/dev
  EXPECT_TRUE(snap->node.usage_nano_cores.has_value());
  EXPECT_GT(snap->node.memory_working_set, 0u);
  auto summary = BuildSummary(*snap);
  EXPECT_GE(summary["pods"][0]["containers"][0]["memory"]["workingSetBytes"].get<uint64_t>(),
            30u << 20);
}

}  // namespace
}  // namespace korral::kubelet::stats
