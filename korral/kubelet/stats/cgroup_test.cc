#include "korral/kubelet/stats/cgroup.h"

#include <gtest/gtest.h>

#include "korral/kubelet/stats/fake_tree_test_util.h"
#include "korral/kubelet/stats/proc.h"

namespace korral::kubelet::stats {
namespace {

using testing::FakeTree;

TEST(CgroupLayoutTest, DetectsSeparateV1Mounts) {
  FakeTree t;
  t.V1Cgroup("", 1, 1, 0, 0);
  auto layout = DetectCgroupLayout(t.cgroup_root());
  ASSERT_TRUE(layout.ok()) << layout.status();
  EXPECT_EQ(layout->version, CgroupVersion::kV1);
  EXPECT_EQ(layout->v1_mounts.at("cpu"), t.cgroup_root() + "/cpu");
  EXPECT_EQ(layout->v1_mounts.at("cpuacct"), t.cgroup_root() + "/cpuacct");
  EXPECT_EQ(layout->Dir("memory", "/kubepods/pod1/"), t.cgroup_root() + "/memory/kubepods/pod1");
  EXPECT_EQ(layout->Dir("memory", "/"), t.cgroup_root() + "/memory");
}

TEST(CgroupLayoutTest, DetectsCombinedCpuCpuacct) {
  FakeTree t;
  t.Write("cgroup/cpu,cpuacct/cgroup.procs", "");
  t.Write("cgroup/memory/cgroup.procs", "");
  auto layout = DetectCgroupLayout(t.cgroup_root());
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->v1_mounts.at("cpu"), t.cgroup_root() + "/cpu,cpuacct");
  EXPECT_EQ(layout->v1_mounts.at("cpuacct"), t.cgroup_root() + "/cpu,cpuacct");
  EXPECT_FALSE(layout->v1_mounts.count("pids"));
  EXPECT_EQ(layout->Dir("pids", "/x"), "");
}

TEST(CgroupLayoutTest, DetectsV2AndHybridOnlyHugetlbIsV1) {
  FakeTree t;
  t.Write("cgroup/cgroup.controllers", "cpu memory pids io\n");
  auto layout = DetectCgroupLayout(t.cgroup_root());
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->version, CgroupVersion::kV2);

  FakeTree h;  // this machine: v1 hierarchies plus unified with only hugetlb
  h.V1Cgroup("", 1, 1, 0, 0);
  h.Write("cgroup/unified/cgroup.controllers", "hugetlb\n");
  auto hl = DetectCgroupLayout(h.cgroup_root());
  ASSERT_TRUE(hl.ok());
  EXPECT_EQ(hl->version, CgroupVersion::kV1);
}

TEST(CgroupLayoutTest, NoHierarchiesIsNotFound) {
  FakeTree t;
  t.Write("cgroup/unified/cgroup.controllers", "hugetlb\n");
  auto layout = DetectCgroupLayout(t.cgroup_root());
  EXPECT_EQ(layout.status().code(), absl::StatusCode::kNotFound);
}

TEST(CgroupStatsTest, ReadsV1) {
  FakeTree t;
  t.V1Cgroup("kubepods/pod1/c1", 5'000'000'000, 100 << 20, 30 << 20, 50 << 20, 4);
  auto layout = DetectCgroupLayout(t.cgroup_root());
  ASSERT_TRUE(layout.ok());
  auto s = ReadCgroupStats(*layout, "/kubepods/pod1/c1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_TRUE(s->cpu.ok);
  EXPECT_EQ(s->cpu.usage_ns, 5'000'000'000u);
  EXPECT_EQ(s->cpu.user_ns, 70ull * 1'000'000'000 / sysconf(_SC_CLK_TCK));
  EXPECT_EQ(s->cpu.periods, 40u);
  EXPECT_EQ(s->cpu.throttled_periods, 15u);
  EXPECT_EQ(s->cpu.throttled_ns, 2'500'000'000u);
  EXPECT_EQ(s->cpu.shares, 512u);
  EXPECT_EQ(s->cpu.quota_us, 20000);
  EXPECT_EQ(s->cpu.period_us, 100000u);
  EXPECT_TRUE(s->memory.ok);
  EXPECT_EQ(s->memory.usage, 100u << 20);
  EXPECT_EQ(s->memory.working_set, 70u << 20);  // usage - total_inactive_file
  EXPECT_EQ(s->memory.rss, 50u << 20);
  EXPECT_EQ(s->memory.cache, 8192u);
  EXPECT_EQ(s->memory.limit, 67108864u);
  EXPECT_EQ(s->memory.failcnt, 3u);
  EXPECT_EQ(s->memory.pgfault, 11u);
  EXPECT_EQ(s->memory.hierarchical_pgfault, 1000u);
  EXPECT_EQ(s->memory.hierarchical_pgmajfault, 7u);
  EXPECT_TRUE(s->pids.ok);
  EXPECT_EQ(s->pids.current, 4u);
  EXPECT_EQ(s->pids.limit, 0u);
  EXPECT_TRUE(s->io.ok);
  ASSERT_EQ(s->io.devices.size(), 1u);
  EXPECT_EQ(s->io.read_bytes, 4096u);
  EXPECT_EQ(s->io.write_bytes, 8192u);
  EXPECT_EQ(s->io.reads, 2u);
  EXPECT_EQ(s->io.writes, 3u);
}

TEST(CgroupStatsTest, UnlimitedMemoryAndWorkingSetFloor) {
  FakeTree t;
  t.V1Cgroup("a", 1, 100, 500, 10);  // inactive_file > usage
  t.Write("cgroup/memory/a/memory.limit_in_bytes", "9223372036854771712\n");
  t.Write("cgroup/cpu/a/cpu.cfs_quota_us", "-1\n");
  auto layout = DetectCgroupLayout(t.cgroup_root());
  auto s = ReadCgroupStats(*layout, "a");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->memory.limit, 0u);
  EXPECT_EQ(s->memory.working_set, 0u);
  EXPECT_EQ(s->cpu.quota_us, -1);
}

TEST(CgroupStatsTest, MissingCgroupIsNotFound) {
  FakeTree t;
  t.V1Cgroup("", 1, 1, 0, 0);
  auto layout = DetectCgroupLayout(t.cgroup_root());
  auto s = ReadCgroupStats(*layout, "/kubepods/gone");
  EXPECT_EQ(s.status().code(), absl::StatusCode::kNotFound);
}

TEST(CgroupStatsTest, PartialCgroupKeepsOtherSections) {
  FakeTree t;
  t.V1Cgroup("", 1, 1, 0, 0);
  t.Write("cgroup/memory/only-mem/memory.usage_in_bytes", "4096\n");
  auto layout = DetectCgroupLayout(t.cgroup_root());
  auto s = ReadCgroupStats(*layout, "only-mem");
  ASSERT_TRUE(s.ok());
  EXPECT_FALSE(s->cpu.ok);
  EXPECT_TRUE(s->memory.ok);
  EXPECT_FALSE(s->pids.ok);
  EXPECT_EQ(s->memory.working_set, 4096u);
}

TEST(CgroupStatsTest, ReadsV2) {
  FakeTree t;
  t.Write("cgroup/cgroup.controllers", "cpu memory pids io\n");
  const std::string d = "cgroup/kubepods/pod1/c1/";
  t.Write(d + "cpu.stat",
          "usage_usec 2000000\nuser_usec 1500000\nsystem_usec 500000\nnr_periods 10\n"
          "nr_throttled 4\nthrottled_usec 300000\n");
  t.Write(d + "cpu.max", "50000 100000\n");
  t.Write(d + "cpu.weight", "100\n");
  t.Write(d + "memory.current", "10485760\n");
  t.Write(d + "memory.max", "max\n");
  t.Write(d + "memory.peak", "20971520\n");
  t.Write(d + "memory.events", "low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n");
  t.Write(d + "memory.stat",
          "anon 4194304\nfile 6291456\nfile_mapped 1024\ninactive_file 2097152\n"
          "pgfault 77\npgmajfault 2\n");
  t.Write(d + "pids.current", "3\n");
  t.Write(d + "pids.max", "100\n");
  t.Write(d + "io.stat",
          "8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n"
          "8:16 rbytes=1 wbytes=2 rios=3 wios=4\n");
  auto layout = DetectCgroupLayout(t.cgroup_root());
  ASSERT_TRUE(layout.ok());
  auto s = ReadCgroupStats(*layout, "/kubepods/pod1/c1");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->cpu.usage_ns, 2'000'000'000u);
  EXPECT_EQ(s->cpu.user_ns, 1'500'000'000u);
  EXPECT_EQ(s->cpu.throttled_periods, 4u);
  EXPECT_EQ(s->cpu.throttled_ns, 300'000'000u);
  EXPECT_EQ(s->cpu.quota_us, 50000);
  EXPECT_EQ(s->cpu.period_us, 100000u);
  EXPECT_EQ(s->cpu.shares, 2u + (99u * 262142u) / 9999u);
  EXPECT_EQ(s->memory.usage, 10485760u);
  EXPECT_EQ(s->memory.limit, 0u);
  EXPECT_EQ(s->memory.max_usage, 20971520u);
  EXPECT_EQ(s->memory.failcnt, 9u);
  EXPECT_EQ(s->memory.rss, 4194304u);
  EXPECT_EQ(s->memory.cache, 6291456u);
  EXPECT_EQ(s->memory.working_set, 10485760u - 2097152u);
  EXPECT_EQ(s->memory.pgfault, 77u);
  EXPECT_EQ(s->memory.hierarchical_pgfault, 77u);
  EXPECT_EQ(s->pids.current, 3u);
  EXPECT_EQ(s->pids.limit, 100u);
  ASSERT_EQ(s->io.devices.size(), 2u);
  EXPECT_EQ(s->io.read_bytes, 101u);
  EXPECT_EQ(s->io.writes, 6u);
}

TEST(ParsersTest, MalformedInputIsIgnored) {
  CgroupMemory m;
  ParseMemoryStat("garbage\ntotal_rss notanumber\ntotal_rss 5\n\n \nx y z\n", CgroupVersion::kV1,
                  &m);
  EXPECT_EQ(m.rss, 5u);
  CgroupIo io;
  ParseBlkioLines("8:0\n8:0 Read\nbad Read 4\n8:x Read 4\n8:1 Read 7\n", true, &io);
  EXPECT_EQ(io.read_bytes, 7u);
  CgroupIo io2;
  ParseIoStat("8:0 rbytes\n8:0 rbytes=x wbytes=9\n", &io2);
  EXPECT_EQ(io2.write_bytes, 9u);
}

TEST(ProcTest, ParsesNetDev) {
  auto ifs = ParseNetDev(testing::FakeTree::NetDev({{"lo", 1, 2}, {"eth0", 300, 400}}));
  ASSERT_TRUE(ifs.ok());
  ASSERT_EQ(ifs->size(), 2u);
  EXPECT_EQ((*ifs)[1].name, "eth0");
  EXPECT_EQ((*ifs)[1].rx_bytes, 300u);
  EXPECT_EQ((*ifs)[1].rx_packets, 10u);
  EXPECT_EQ((*ifs)[1].rx_errors, 1u);
  EXPECT_EQ((*ifs)[1].rx_dropped, 2u);
  EXPECT_EQ((*ifs)[1].tx_bytes, 400u);
  EXPECT_EQ((*ifs)[1].tx_errors, 3u);
  EXPECT_FALSE(ParseNetDev("not a net dev file").ok());
}

TEST(ProcTest, RealNetDevOfSelf) {
  auto ifs = ReadNetDevOfPid("/proc", getpid());
  ASSERT_TRUE(ifs.ok()) << ifs.status();
  bool lo = false;
  for (const auto& i : *ifs) lo |= i.name == "lo";
  EXPECT_TRUE(lo);
  EXPECT_EQ(ReadNetDevOfPid("/proc", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ReadNetDevOfNetns("/nonexistent/netns").status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcTest, NetnsPathOfOwnNamespace) {
  if (geteuid() != 0) GTEST_SKIP() << "setns needs root";
  auto ifs = ReadNetDevOfNetns("/proc/self/ns/net");
  ASSERT_TRUE(ifs.ok()) << ifs.status();
  EXPECT_FALSE(ifs->empty());
}

TEST(ProcTest, MemInfoStatAndFs) {
  FakeTree t;
  t.Proc(42);
  auto m = ReadMemInfo(t.proc_root());
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->total, 16384000ull * 1024);
  EXPECT_EQ(m->inactive_file, 512000ull * 1024);
  auto c = ReadProcStat(t.proc_root());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->num_cpus, 2);
  EXPECT_EQ(c->busy_ns, 150ull * 1'000'000'000 / sysconf(_SC_CLK_TCK));
  EXPECT_EQ(*ReadPidMax(t.proc_root()), 4194304u);
  EXPECT_FALSE(ParseMemInfo("nothing").ok());
  auto fs = StatFs(t.root());
  ASSERT_TRUE(fs.ok());
  EXPECT_GT(fs->capacity, 0u);
  EXPECT_GE(fs->capacity, fs->available);
  EXPECT_EQ(StatFs("/nonexistent/x").status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcTest, DiskUsageCountsFilesOnceAndBounds) {
  FakeTree t;
  t.Write("du/a/f1", std::string(10000, 'x'));
  t.Write("du/a/b/f2", std::string(5000, 'y'));
  ::link((t.root() + "/du/a/f1").c_str(), (t.root() + "/du/a/f1-link").c_str());
  auto u = DiskUsage(t.root() + "/du");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->inodes, 5u);  // du, a, b, f1, f2 (the hard link counted once)
  EXPECT_GE(u->bytes, 15000u);
  EXPECT_FALSE(u->truncated);
  auto bounded = DiskUsage(t.root() + "/du", 2);
  ASSERT_TRUE(bounded.ok());
  EXPECT_TRUE(bounded->truncated);
  EXPECT_EQ(DiskUsage(t.root() + "/nope").status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcTest, CountsProcesses) {
  EXPECT_GT(CountProcesses("/proc"), 1u);
  FakeTree t;
  t.Proc(42);
  t.Write("proc/43/stat", "");
  EXPECT_EQ(CountProcesses(t.proc_root()), 2u);
}

}  // namespace
}  // namespace korral::kubelet::stats
