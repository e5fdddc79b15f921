#include "korral/kubelet/stats/summary.h"

#include <gtest/gtest.h>

#include "korral/base/clock.h"
#include "korral/kubelet/stats/fake_tree_test_util.h"
#include "korral/kubelet/stats/stats_http.h"

namespace korral::kubelet::stats {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;
using testing::FakeTree;

class OnePod : public PodStatsProvider {
 public:
  std::vector<PodRef> ListPodsForStats() override { return {pod}; }
  PodRef pod;
};

std::chrono::system_clock::time_point T0() {
  return std::chrono::sys_days{std::chrono::year{2026} / 11 / 28} + 10h;
}

struct Env {
  FakeTree tree;
  OnePod provider;
  FakeClock clock{T0()};
  std::unique_ptr<Sampler> sampler;

  Env() {
    tree.V1Cgroup("", 100'000'000'000, 8ull << 30, 2ull << 30, 1ull << 30, 0);
    tree.V1Cgroup("kubepods/pod1", 2'000'000'000, 120 << 20, 20 << 20, 60 << 20, 3);
    tree.V1Cgroup("kubepods/pod1/c1", 1'000'000'000, 100 << 20, 30 << 20, 50 << 20, 2);
    tree.Write("cgroup/memory/kubepods/pod1/c1/memory.limit_in_bytes", "268435456\n");
    tree.Proc(42);
    tree.Write("rootfs/c1/file", std::string(8192, 'z'));
    provider.pod = PodRef{"default", "p1", "uid-1", "/kubepods/pod1", 42, "", T0() - 1h, {}, {}};
    ContainerRef c;
    c.name = "c1";
    c.id = "id1";
    c.image = "busybox:1.36";
    c.cgroup_path = "/kubepods/pod1/c1";
    c.start_time = T0() - 30min;
    c.rootfs_path = tree.root() + "/rootfs/c1";
    provider.pod.containers.push_back(c);
    SamplerOptions o;
    o.node_name = "node-1";
    o.cgroup_root = tree.cgroup_root();
    o.proc_root = tree.proc_root();
    o.node_fs_path = tree.root();
    sampler = std::make_unique<Sampler>(o, &provider, &clock);
    EXPECT_TRUE(sampler->Init().ok());
  }

  void TwoSamples() {
    sampler->SampleOnce();
    tree.SetCpu("kubepods/pod1/c1", 1'500'000'000);
    tree.SetCpu("kubepods/pod1", 3'000'000'000);
    tree.SetCpu("", 105'000'000'000);
    clock.Advance(10s);
    sampler->SampleOnce();
  }
};

TEST(SummaryTest, UpstreamFieldNames) {
  Env e;
  e.TwoSamples();
  Json s = BuildSummary(*e.sampler->Latest());
  const Json& node = s["node"];
  EXPECT_EQ(node["nodeName"], "node-1");
  EXPECT_EQ(node["cpu"]["time"], "2026-11-28T10:00:10Z");
  EXPECT_EQ(node["cpu"]["usageNanoCores"], 500'000'000u);
  EXPECT_EQ(node["cpu"]["usageCoreNanoSeconds"], 105'000'000'000u);
  EXPECT_EQ(node["memory"]["workingSetBytes"], 6ull << 30);
  EXPECT_EQ(node["memory"]["availableBytes"], 16384000ull * 1024 - (6ull << 30));
  EXPECT_EQ(node["memory"]["usageBytes"], 8ull << 30);
  EXPECT_EQ(node["network"]["name"], "eth0");
  EXPECT_EQ(node["network"]["rxBytes"], 1000u);
  EXPECT_EQ(node["network"]["interfaces"].size(), 1u);
  EXPECT_TRUE(node["fs"].contains("capacityBytes"));
  EXPECT_TRUE(node["fs"].contains("inodesFree"));
  EXPECT_TRUE(node["runtime"]["imageFs"].contains("availableBytes"));
  EXPECT_EQ(node["rlimit"]["maxpid"], 4194304u);
  EXPECT_TRUE(node["rlimit"].contains("curproc"));

  ASSERT_EQ(s["pods"].size(), 1u);
  const Json& pod = s["pods"][0];
  EXPECT_EQ(pod["podRef"], (Json{{"name", "p1"}, {"namespace", "default"}, {"uid", "uid-1"}}));
  EXPECT_EQ(pod["startTime"], "2026-11-28T09:00:00Z");
  EXPECT_EQ(pod["cpu"]["usageNanoCores"], 100'000'000u);
  EXPECT_EQ(pod["memory"]["workingSetBytes"], 100u << 20);
  EXPECT_EQ(pod["memory"]["availableBytes"], 0u);  // working set above the 64 MiB limit
  EXPECT_EQ(pod["network"]["rxBytes"], 12345u);
  EXPECT_EQ(pod["network"]["txBytes"], 6789u);
  EXPECT_EQ(pod["process_stats"]["process_count"], 3u);
  EXPECT_TRUE(pod["ephemeral-storage"].contains("usedBytes"));
  const Json& c = pod["containers"][0];
  EXPECT_EQ(c["name"], "c1");
  EXPECT_EQ(c["startTime"], "2026-11-28T09:30:00Z");
  EXPECT_EQ(c["cpu"]["usageNanoCores"], 50'000'000u);
  EXPECT_EQ(c["cpu"]["usageCoreNanoSeconds"], 1'500'000'000u);
  EXPECT_EQ(c["memory"]["workingSetBytes"], 70u << 20);
  EXPECT_EQ(c["memory"]["availableBytes"], (256u << 20) - (70u << 20));
  EXPECT_EQ(c["memory"]["rssBytes"], 50u << 20);
  EXPECT_EQ(c["memory"]["pageFaults"], 11u);
  EXPECT_EQ(c["memory"]["majorPageFaults"], 1u);
  EXPECT_GE(c["rootfs"]["usedBytes"].get<uint64_t>(), 8192u);
  EXPECT_TRUE(c["rootfs"].contains("capacityBytes"));
}

TEST(SummaryTest, OnlyCpuAndMemory) {
  Env e;
  e.TwoSamples();
  Json s = BuildSummary(*e.sampler->Latest(), true);
  EXPECT_FALSE(s["node"].contains("network"));
  EXPECT_FALSE(s["node"].contains("fs"));
  EXPECT_TRUE(s["node"].contains("cpu"));
  EXPECT_FALSE(s["pods"][0].contains("network"));
  EXPECT_FALSE(s["pods"][0]["containers"][0].contains("rootfs"));
  EXPECT_TRUE(s["pods"][0]["containers"][0].contains("memory"));
}

TEST(CadvisorMetricsTest, NamesLabelsAndValues) {
  Env e;
  e.TwoSamples();
  std::string text = RenderCadvisorMetrics(*e.sampler->Latest());
  const std::string ts = " 1795860010000\n";
  const std::string labels =
      "container=\"c1\",id=\"/kubepods/pod1/c1\",image=\"busybox:1.36\",name=\"id1\","
      "namespace=\"default\",pod=\"p1\"";
  auto has = [&](const std::string& line) {
    EXPECT_NE(text.find(line), std::string::npos) << "missing: " << line << "\n" << text;
  };
  has("# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed in seconds.\n"
      "# TYPE container_cpu_usage_seconds_total counter\n");
  has("container_cpu_usage_seconds_total{container=\"c1\",cpu=\"total\",id=\"/kubepods/pod1/"
      "c1\",image=\"busybox:1.36\",name=\"id1\",namespace=\"default\",pod=\"p1\"} 1.5" +
      ts);
  has("container_memory_working_set_bytes{" + labels + "} 73400320" + ts);
  has("container_memory_rss{" + labels + "} 52428800" + ts);
  has("container_memory_usage_bytes{" + labels + "} 104857600" + ts);
  has("container_memory_failcnt{" + labels + "} 3" + ts);
  has("container_cpu_cfs_throttled_periods_total{" + labels + "} 15" + ts);
  has("container_cpu_cfs_periods_total{" + labels + "} 40" + ts);
  has("container_spec_cpu_quota{" + labels + "} 20000" + ts);
  has("container_spec_memory_limit_bytes{" + labels + "} 268435456" + ts);
  has("container_processes{" + labels + "} 2" + ts);
  has("container_start_time_seconds{" + labels + "} 1795858200" + ts);
  has("container_memory_failures_total{container=\"c1\",failure_type=\"pgmajfault\",id=\"/"
      "kubepods/pod1/c1\",image=\"busybox:1.36\",name=\"id1\",namespace=\"default\",pod=\"p1\","
      "scope=\"hierarchy\"} 7" +
      ts);
  // Pod-level series: container="" and the pod cgroup id, with the pod's network.
  has("container_network_receive_bytes_total{container=\"\",id=\"/kubepods/pod1\",image=\"\","
      "interface=\"eth0\",name=\"\",namespace=\"default\",pod=\"p1\"} 12345" +
      ts);
  has("container_network_transmit_bytes_total{container=\"\",id=\"/kubepods/pod1\",image=\"\","
      "interface=\"eth0\",name=\"\",namespace=\"default\",pod=\"p1\"} 6789" +
      ts);
  // Root cgroup.
  has("container_cpu_usage_seconds_total{container=\"\",cpu=\"total\",id=\"/\",image=\"\","
      "name=\"\",namespace=\"\",pod=\"\"} 105" +
      ts);
  has("container_fs_usage_bytes{container=\"c1\",device=\"\",");
  has("machine_cpu_cores 2\n");
  has("container_scrape_error 0\n");
  // One HELP per family.
  size_t first = text.find("# HELP container_memory_rss ");
  EXPECT_EQ(text.find("# HELP container_memory_rss ", first + 1), std::string::npos);
}

TEST(CadvisorMetricsTest, EscapesLabelValues) {
  Env e;
  e.provider.pod.name = "we\"ird\\pod";
  e.sampler->SampleOnce();
  std::string text = RenderCadvisorMetrics(*e.sampler->Latest());
  EXPECT_NE(text.find("pod=\"we\\\"ird\\\\pod\""), std::string::npos);
}

TEST(ResourceMetricsTest, Families) {
  Env e;
  e.TwoSamples();
  std::string text = RenderResourceMetrics(*e.sampler->Latest());
  const std::string ts = " 1795860010000\n";
  for (const std::string& line : {
           "container_cpu_usage_seconds_total{container=\"c1\",namespace=\"default\",pod=\"p1\"} "
           "1.5" +
               ts,
           "container_memory_working_set_bytes{container=\"c1\",namespace=\"default\",pod=\"p1\"} "
           "73400320" +
               ts,
           "pod_cpu_usage_seconds_total{namespace=\"default\",pod=\"p1\"} 3" + ts,
           "pod_memory_working_set_bytes{namespace=\"default\",pod=\"p1\"} 104857600" + ts,
           "node_cpu_usage_seconds_total 105" + ts,
           std::string("# TYPE node_memory_working_set_bytes gauge\n"),
       }) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
}

TEST(ServeStatsPathTest, Routes) {
  Env e;
  EXPECT_EQ(ServeStatsPath(*e.sampler, "/stats/summary", "").status, 503);
  e.sampler->SampleOnce();
  auto r = ServeStatsPath(*e.sampler, "/stats/summary", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_EQ(Json::parse(r.body)["node"]["nodeName"], "node-1");
  auto only = ServeStatsPath(*e.sampler, "/stats/summary/", "only_cpu_and_memory=true");
  EXPECT_FALSE(Json::parse(only.body)["node"].contains("network"));
  EXPECT_EQ(ServeStatsPath(*e.sampler, "/metrics/cadvisor", "").status, 200);
  EXPECT_EQ(ServeStatsPath(*e.sampler, "/metrics/resource", "").status, 200);
  EXPECT_EQ(ServeStatsPath(*e.sampler, "/stats/other", "").status, 404);

  auto handler = NewStatsHandler(e.sampler.get());
  http::Request req;
  req.method = "GET";
  req.target = "/stats/summary?only_cpu_and_memory=true";
  req.path = "/stats/summary";
  auto resp = handler(req);
  EXPECT_EQ(resp.status, 200);
  EXPECT_FALSE(Json::parse(resp.body)["node"].contains("network"));
  req.method = "POST";
  EXPECT_EQ(handler(req).status, 405);
}

}  // namespace
}  // namespace korral::kubelet::stats
