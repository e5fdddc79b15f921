// stats_bench: what one stats sample costs for N containers (kubelet housekeeping, as
// cAdvisor's), on a fake cgroup v1 tree in a temp dir and on real cgroup v1/v2 hierarchies
// (root only; empty cgroups named korral-stats-bench-<pid>, removed at the end).
// Prints per-sample wall and CPU time (p50/p99 over the iterations), the share of one core at a
// 10 s interval, and the cost of building the Summary JSON and the /metrics/cadvisor text.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "korral/base/clock.h"
#include "korral/kubelet/stats/cgroup.h"
#include "korral/kubelet/stats/sampler.h"
#include "korral/kubelet/stats/summary.h"

using namespace korral;
using namespace korral::kubelet::stats;

namespace {

struct Args {
  int containers = 100;
  int iterations = 50;
  std::string real = "auto";
};

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto val = [&](const char* name) -> const char* {
      size_t n = std::strlen(name);
      return s.compare(0, n, name) == 0 ? s.c_str() + n : nullptr;
    };
    if (auto v = val("--containers="))
      a.containers = std::max(1, std::atoi(v));
    else if (auto v = val("--iterations="))
      a.iterations = std::max(2, std::atoi(v));
    else if (auto v = val("--real="))
      a.real = v;
    else {
      fmt::print(stderr,
                 "usage: stats_bench [--containers=100] [--iterations=50] "
                 "[--real=auto|yes|no]\n");
      std::exit(2);
    }
  }
  return a;
}

void WriteFile(const std::filesystem::path& p, const std::string& s) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << s;
}

// A v1 cgroup with the files the readers use.
void FakeCgroup(const std::string& root, const std::string& cg, uint64_t seed) {
  for (const char* h : {"cpu", "cpuacct", "memory", "pids", "blkio"}) {
    WriteFile(fmt::format("{}/{}/cgroup.procs", root, h), "");
    WriteFile(fmt::format("{}/{}/{}/cgroup.procs", root, h, cg), "");
  }
  WriteFile(fmt::format("{}/cpuacct/{}/cpuacct.usage", root, cg), fmt::format("{}\n", seed * 7919));
  WriteFile(fmt::format("{}/cpuacct/{}/cpuacct.stat", root, cg), "user 100\nsystem 50\n");
  WriteFile(fmt::format("{}/cpu/{}/cpu.stat", root, cg),
            "nr_periods 10\nnr_throttled 1\nthrottled_time 100\nnr_bursts 0\nburst_time 0\n");
  WriteFile(fmt::format("{}/cpu/{}/cpu.shares", root, cg), "1024\n");
  WriteFile(fmt::format("{}/cpu/{}/cpu.cfs_quota_us", root, cg), "-1\n");
  WriteFile(fmt::format("{}/cpu/{}/cpu.cfs_period_us", root, cg), "100000\n");
  WriteFile(fmt::format("{}/memory/{}/memory.usage_in_bytes", root, cg), "104857600\n");
  WriteFile(fmt::format("{}/memory/{}/memory.max_usage_in_bytes", root, cg), "104857600\n");
  WriteFile(fmt::format("{}/memory/{}/memory.limit_in_bytes", root, cg), "9223372036854771712\n");
  WriteFile(fmt::format("{}/memory/{}/memory.failcnt", root, cg), "0\n");
  // A realistic memory.stat (the kernel's v1 file has ~40 keys).
  std::string stat;
  for (const char* k : {"cache", "rss", "rss_huge", "shmem", "mapped_file", "dirty", "writeback",
                        "swap", "pgpgin", "pgpgout", "pgfault", "pgmajfault", "inactive_anon",
                        "active_anon", "inactive_file", "active_file", "unevictable"}) {
    stat += fmt::format("{} {}\n", k, seed);
  }
  stat += "hierarchical_memory_limit 9223372036854771712\n";
  for (const char* k : {"cache", "rss", "rss_huge", "shmem", "mapped_file", "dirty", "writeback",
                        "swap", "pgpgin", "pgpgout", "pgfault", "pgmajfault", "inactive_anon",
                        "active_anon", "inactive_file", "active_file", "unevictable"}) {
    stat += fmt::format("total_{} {}\n", k, seed * 4096);
  }
  WriteFile(fmt::format("{}/memory/{}/memory.stat", root, cg), stat);
  WriteFile(fmt::format("{}/pids/{}/pids.current", root, cg), "3\n");
  WriteFile(fmt::format("{}/pids/{}/pids.max", root, cg), "max\n");
  WriteFile(
      fmt::format("{}/blkio/{}/blkio.throttle.io_service_bytes", root, cg),
      "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 0\n8:0 Total 12288\nTotal 12288\n");
  WriteFile(fmt::format("{}/blkio/{}/blkio.throttle.io_serviced", root, cg),
            "8:0 Read 1\n8:0 Write 2\n8:0 Sync 0\n8:0 Async 0\n8:0 Total 3\nTotal 3\n");
}

class Pods : public PodStatsProvider {
 public:
  std::vector<PodRef> ListPodsForStats() override { return pods; }
  std::vector<PodRef> pods;
};

// Two containers per pod, each pod with a pod cgroup: N containers -> N/2 pods.
Pods MakePods(const std::string& prefix, int containers, int sandbox_pid) {
  Pods p;
  for (int i = 0; i < containers; i += 2) {
    PodRef pod;
    pod.ns = "bench";
    pod.name = fmt::format("pod-{}", i / 2);
    pod.uid = fmt::format("uid-{}", i / 2);
    pod.cgroup_path = fmt::format("{}/pod{}", prefix, i / 2);
    pod.sandbox_pid = sandbox_pid;
    for (int j = i; j < std::min(i + 2, containers); ++j) {
      ContainerRef c;
      c.name = fmt::format("c{}", j - i);
      c.id = fmt::format("cid{}", j);
      c.image = "busybox";
      c.cgroup_path = fmt::format("{}/c{}", pod.cgroup_path, j);
      pod.containers.push_back(c);
    }
    p.pods.push_back(pod);
  }
  return p;
}

double CpuSeconds() {
  struct rusage ru;
  ::getrusage(RUSAGE_THREAD, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double Pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1) + 0.5));
  return v[i];
}

void Run(const std::string& label, SamplerOptions opts, Pods* pods, int containers,
         int iterations) {
  Sampler sampler(opts, pods, &Clock::Real());
  if (auto s = sampler.Init(); !s.ok()) {
    fmt::print("{}: cannot start: {}\n", label, s.ToString());
    return;
  }
  std::vector<double> wall, cpu, summary_ms, cadvisor_ms;
  size_t summary_bytes = 0, cadvisor_bytes = 0;
  sampler.SampleOnce();  // warm up (and first sample for rates)
  for (int i = 0; i < iterations; ++i) {
    double c0 = CpuSeconds();
    auto t0 = std::chrono::steady_clock::now();
    sampler.SampleOnce();
    auto t1 = std::chrono::steady_clock::now();
    cpu.push_back((CpuSeconds() - c0) * 1e3);
    wall.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
    auto snap = sampler.Latest();
    auto s0 = std::chrono::steady_clock::now();
    std::string js = BuildSummary(*snap).dump();
    auto s1 = std::chrono::steady_clock::now();
    std::string prom = RenderCadvisorMetrics(*snap);
    auto s2 = std::chrono::steady_clock::now();
    summary_ms.push_back(std::chrono::duration<double, std::milli>(s1 - s0).count());
    cadvisor_ms.push_back(std::chrono::duration<double, std::milli>(s2 - s1).count());
    summary_bytes = js.size();
    cadvisor_bytes = prom.size();
  }
  double mean_cpu = 0;
  for (double c : cpu) mean_cpu += c;
  mean_cpu /= cpu.size();
  fmt::print(
      "{:<28} containers={:<4} sample wall p50 {:7.2f} ms p99 {:7.2f} ms | cpu mean {:6.2f} ms"
      " ({:5.1f} us/container) | at 10 s interval: {:.4f} core\n",
      label, containers, Pct(wall, 0.5), Pct(wall, 0.99), mean_cpu, mean_cpu * 1000 / containers,
      mean_cpu / 10000.0);
  fmt::print(
      "{:<28} summary JSON p50 {:6.2f} ms ({} KiB) | /metrics/cadvisor p50 {:6.2f} ms "
      "({} KiB)\n",
      "", Pct(summary_ms, 0.5), summary_bytes / 1024, Pct(cadvisor_ms, 0.5), cadvisor_bytes / 1024);
}

}  // namespace

int main(int argc, char** argv) {
  Args args = Parse(argc, argv);
  char tmpl[] = "/tmp/korral-stats-bench-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  std::string cg_root = dir + "/cgroup";
  // Fake tree: node root + pod and container cgroups.
  FakeCgroup(cg_root, "", 1);
  Pods fake = MakePods("kubepods", args.containers, ::getpid());
  for (const auto& p : fake.pods) {
    FakeCgroup(cg_root, p.cgroup_path, 3);
    for (const auto& c : p.containers) FakeCgroup(cg_root, c.cgroup_path, 5);
  }
  SamplerOptions fo;
  fo.node_name = "bench";
  fo.cgroup_root = cg_root;
  fo.disk_every = 0;
  Run("fake cgroup v1 tree", fo, &fake, args.containers, args.iterations);
  std::filesystem::remove_all(dir);

  bool real = args.real == "yes" || (args.real == "auto" && ::geteuid() == 0);
  if (!real) {
    fmt::print("real cgroups: skipped (needs root)\n");
    return 0;
  }
  auto layout = DetectCgroupLayout("/sys/fs/cgroup");
  if (!layout.ok()) {
    fmt::print("real cgroups: skipped ({})\n", layout.status().ToString());
    return 0;
  }
  std::string prefix = fmt::format("korral-stats-bench-{}", ::getpid());
  Pods real_pods = MakePods(prefix, args.containers, ::getpid());
  std::vector<std::string> created;  // directories, parents first
  auto make = [&](const std::string& cg) {
    std::vector<const char*> ctrls = {"memory", "cpu", "cpuacct", "pids", "blkio"};
    if (layout->version == CgroupVersion::kV2) ctrls = {"memory"};
    for (const char* c : ctrls) {
      std::string d = layout->Dir(c, cg);
      if (!d.empty() && ::mkdir(d.c_str(), 0755) == 0) created.push_back(d);
    }
  };
  make(prefix);
  for (const auto& p : real_pods.pods) {
    make(p.cgroup_path);
    for (const auto& c : p.containers) make(c.cgroup_path);
  }
  SamplerOptions ro;
  ro.node_name = "bench";
  ro.disk_every = 0;
  Run("real cgroups (empty)", ro, &real_pods, args.containers, args.iterations);
  for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
  return 0;
}
