// korral/kubelet/stats/fake_tree_test_util.h: a cgroup + /proc tree in a temp dir, for tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>

namespace korral::kubelet::stats::testing {

class FakeTree {
 public:
  FakeTree() {
    char tmpl[] = "/tmp/korral-stats-test-XXXXXX";
    root_ = ::mkdtemp(tmpl);
  }
  ~FakeTree() {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }
  const std::string& root() const { return root_; }
  std::string cgroup_root() const { return root_ + "/cgroup"; }
  std::string proc_root() const { return root_ + "/proc"; }

  void Write(const std::string& rel, const std::string& content) const {
    std::filesystem::path p = std::filesystem::path(root_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }

  // A v1 cgroup `cg` ("kubepods/pod1/c1"; "" is the root) in separate cpu and cpuacct mounts.
  void V1Cgroup(const std::string& cg, uint64_t cpu_ns, uint64_t mem_usage, uint64_t inactive_file,
                uint64_t rss, uint64_t pids = 1) const {
    std::string s = cg.empty() ? "" : "/" + cg;
    for (const char* h : {"cpu", "cpuacct", "memory", "pids", "blkio"}) {
      Write(fmt::format("cgroup/{}/cgroup.procs", h), "");  // the hierarchy's root
      Write(fmt::format("cgroup/{}{}/cgroup.procs", h, s), "");
    }
    Write(fmt::format("cgroup/cpuacct{}/cpuacct.usage", s), fmt::format("{}\n", cpu_ns));
    Write(fmt::format("cgroup/cpuacct{}/cpuacct.stat", s), "user 70\nsystem 30\n");
    Write(fmt::format("cgroup/cpu{}/cpu.stat", s),
          "nr_periods 40\nnr_throttled 15\nthrottled_time 2500000000\n");
    Write(fmt::format("cgroup/cpu{}/cpu.shares", s), "512\n");
    Write(fmt::format("cgroup/cpu{}/cpu.cfs_quota_us", s), "20000\n");
    Write(fmt::format("cgroup/cpu{}/cpu.cfs_period_us", s), "100000\n");
    Write(fmt::format("cgroup/memory{}/memory.usage_in_bytes", s), fmt::format("{}\n", mem_usage));
    Write(fmt::format("cgroup/memory{}/memory.max_usage_in_bytes", s),
          fmt::format("{}\n", mem_usage + 4096));
    Write(fmt::format("cgroup/memory{}/memory.limit_in_bytes", s), "67108864\n");
    Write(fmt::format("cgroup/memory{}/memory.failcnt", s), "3\n");
    Write(fmt::format("cgroup/memory{}/memory.stat", s),
          fmt::format("cache 100\nrss 200\npgfault 11\npgmajfault 1\ntotal_cache 8192\n"
                      "total_rss {}\ntotal_mapped_file 4096\ntotal_swap 0\n"
                      "total_inactive_file {}\ntotal_pgfault 1000\ntotal_pgmajfault 7\n",
                      rss, inactive_file));
    Write(fmt::format("cgroup/pids{}/pids.current", s), fmt::format("{}\n", pids));
    Write(fmt::format("cgroup/pids{}/pids.max", s), "max\n");
    Write(fmt::format("cgroup/blkio{}/blkio.throttle.io_service_bytes", s),
          "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 0\n8:0 Total 12288\nTotal 12288\n");
    Write(fmt::format("cgroup/blkio{}/blkio.throttle.io_serviced", s),
          "8:0 Read 2\n8:0 Write 3\n8:0 Total 5\nTotal 5\n");
  }

  void SetCpu(const std::string& cg, uint64_t cpu_ns) const {
    std::string s = cg.empty() ? "" : "/" + cg;
    Write(fmt::format("cgroup/cpuacct{}/cpuacct.usage", s), fmt::format("{}\n", cpu_ns));
  }

  // /proc files for the node and one sandbox process.
  void Proc(int sandbox_pid) const {
    Write("proc/meminfo",
          "MemTotal:       16384000 kB\nMemFree:         8192000 kB\n"
          "MemAvailable:   12000000 kB\nBuffers:           1000 kB\nCached:          2000 kB\n"
          "Inactive(file):   512000 kB\n");
    Write("proc/stat",
          "cpu  100 0 50 1000 0 0 0 0 0 0\ncpu0 50 0 25 500 0 0 0 0 0 0\n"
          "cpu1 50 0 25 500 0 0 0 0 0 0\nintr 0\n");
    Write("proc/sys/kernel/pid_max", "4194304\n");
    Write("proc/net/dev", NetDev({{"lo", 5, 5}, {"eth0", 1000, 2000}, {"veth123", 7, 7}}));
    Write(fmt::format("proc/{}/net/dev", sandbox_pid),
          NetDev({{"lo", 9, 9}, {"eth0", 12345, 6789}}));
  }

  struct If {
    const char* name;
    uint64_t rx, tx;
  };
  static std::string NetDev(std::initializer_list<If> ifs) {
    std::string s =
        "Inter-|   Receive                                                |  Transmit\n"
        " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs "
        "drop fifo colls carrier compressed\n";
    for (const auto& i : ifs) {
      s += fmt::format("{:>6}: {} 10 1 2 0 0 0 0 {} 20 3 4 0 0 0 0\n", i.name, i.rx, i.tx);
    }
    return s;
  }

 private:
  std::string root_;
};

}  // namespace korral::kubelet::stats::testing
