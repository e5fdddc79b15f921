#include "korral/kubelet/stats/summary.h"

#include <ctime>

#include <fmt/format.h>

namespace korral::kubelet::stats {

using Json = nlohmann::json;

std::string Rfc3339(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

namespace {

Json CpuJson(const std::string& time, const CgroupCpu& cpu, std::optional<uint64_t> nano_cores) {
  Json j = {{"time", time}};
  if (nano_cores) j["usageNanoCores"] = *nano_cores;
  j["usageCoreNanoSeconds"] = cpu.usage_ns;
  return j;
}

Json MemoryJson(const std::string& time, const CgroupMemory& m) {
  Json j = {{"time", time}};
  if (m.limit > 0) j["availableBytes"] = m.limit > m.working_set ? m.limit - m.working_set : 0;
  j["usageBytes"] = m.usage;
  j["workingSetBytes"] = m.working_set;
  j["rssBytes"] = m.rss;
  j["pageFaults"] = m.pgfault;
  j["majorPageFaults"] = m.pgmajfault;
  return j;
}

Json InterfaceJson(const InterfaceStats& i) {
  return {{"name", i.name},
          {"rxBytes", i.rx_bytes},
          {"rxErrors", i.rx_errors},
          {"txBytes", i.tx_bytes},
          {"txErrors", i.tx_errors}};
}

// Upstream reports the interface named eth0 inline; without one, korral uses the first.
Json NetworkJson(const std::string& time, const std::vector<InterfaceStats>& ifs) {
  Json j = {{"time", time}};
  const InterfaceStats* def = nullptr;
  for (const auto& i : ifs) {
    if (i.name == "eth0") def = &i;
  }
  if (!def && !ifs.empty()) def = &ifs.front();
  if (def) j.update(InterfaceJson(*def));
  Json list = Json::array();
  for (const auto& i : ifs) list.push_back(InterfaceJson(i));
  j["interfaces"] = list;
  return j;
}

Json FsJson(const std::string& time, const std::optional<FsInfo>& fs,
            const std::optional<DirUsage>& used) {
  Json j = {{"time", time}};
  if (fs) {
    j["availableBytes"] = fs->available;
    j["capacityBytes"] = fs->capacity;
    j["inodesFree"] = fs->inodes_free;
    j["inodes"] = fs->inodes;
  }
  if (used) {
    j["usedBytes"] = used->bytes;
    j["inodesUsed"] = used->inodes;
  } else if (fs) {
    j["usedBytes"] = fs->used;
    j["inodesUsed"] = fs->inodes >= fs->inodes_free ? fs->inodes - fs->inodes_free : 0;
  }
  return j;
}

Json ContainerJson(const ContainerSample& c, const std::string& time, const NodeSample& node,
                   bool only_cpu_and_memory) {
  Json j = {{"name", c.ref.name}, {"startTime", Rfc3339(c.ref.start_time)}};
  if (c.has_cgroup && c.cgroup.cpu.ok) j["cpu"] = CpuJson(time, c.cgroup.cpu, c.usage_nano_cores);
  if (c.has_cgroup && c.cgroup.memory.ok) j["memory"] = MemoryJson(time, c.cgroup.memory);
  if (only_cpu_and_memory) return j;
  if (c.rootfs) j["rootfs"] = FsJson(time, node.image_fs, c.rootfs);
  if (c.logs) j["logs"] = FsJson(time, node.fs, c.logs);
  return j;
}

}  // namespace

Json BuildSummary(const Snapshot& s, bool only_cpu_and_memory) {
  const std::string time = Rfc3339(s.time);
  const NodeSample& n = s.node;
  Json node = {{"nodeName", n.name}, {"startTime", Rfc3339(n.start_time)}};
  if (!n.system_containers.empty()) {
    Json sys = Json::array();
    for (const auto& c : n.system_containers) {
      sys.push_back(ContainerJson(c, time, n, only_cpu_and_memory));
    }
    node["systemContainers"] = sys;
  }
  Json cpu = {{"time", time}};
  if (n.usage_nano_cores) cpu["usageNanoCores"] = *n.usage_nano_cores;
  cpu["usageCoreNanoSeconds"] = n.usage_core_ns;
  node["cpu"] = cpu;
  CgroupMemory nm = n.has_cgroup ? n.cgroup.memory : CgroupMemory{};
  nm.usage = n.memory_usage;
  nm.working_set = n.memory_working_set;
  nm.rss = n.memory_rss;
  nm.limit = n.memory_capacity;
  node["memory"] = MemoryJson(time, nm);
  if (!only_cpu_and_memory) {
    node["network"] = NetworkJson(time, n.interfaces);
    if (n.fs) node["fs"] = FsJson(time, n.fs, std::nullopt);
    if (n.image_fs) node["runtime"] = {{"imageFs", FsJson(time, n.image_fs, std::nullopt)}};
    Json rl = {{"time", time}};
    if (n.pid_max) rl["maxpid"] = *n.pid_max;
    rl["curproc"] = n.processes;
    node["rlimit"] = rl;
  }

  Json pods = Json::array();
  for (const auto& p : s.pods) {
    Json pj = {{"podRef", {{"name", p.ref.name}, {"namespace", p.ref.ns}, {"uid", p.ref.uid}}},
               {"startTime", Rfc3339(p.ref.start_time)}};
    Json containers = Json::array();
    for (const auto& c : p.containers) {
      containers.push_back(ContainerJson(c, time, n, only_cpu_and_memory));
    }
    pj["containers"] = containers;
    if (p.cgroup.cpu.ok) pj["cpu"] = CpuJson(time, p.cgroup.cpu, p.usage_nano_cores);
    if (p.cgroup.memory.ok) pj["memory"] = MemoryJson(time, p.cgroup.memory);
    if (!only_cpu_and_memory) {
      if (p.has_network) pj["network"] = NetworkJson(time, p.interfaces);
      Json volumes = Json::array();
      uint64_t eph_bytes = 0, eph_inodes = 0;
      bool have_eph = false;
      for (const auto& v : p.volumes) {
        if (!v.usage && !v.fs) continue;
        Json vj = FsJson(time, v.fs, v.usage);
        vj["name"] = v.ref.name;
        if (!v.ref.pvc_name.empty()) {
          vj["pvcRef"] = {{"name", v.ref.pvc_name}, {"namespace", p.ref.ns}};
        }
        volumes.push_back(vj);
        if (v.ref.ephemeral && v.usage) {
          eph_bytes += v.usage->bytes;
          eph_inodes += v.usage->inodes;
          have_eph = true;
        }
      }
      for (const auto& c : p.containers) {
        for (const auto* u : {&c.rootfs, &c.logs}) {
          if (*u) {
            eph_bytes += (*u)->bytes;
            eph_inodes += (*u)->inodes;
            have_eph = true;
          }
        }
      }
      if (!volumes.empty()) pj["volume"] = volumes;
      if (have_eph) {
        pj["ephemeral-storage"] = FsJson(time, n.fs, DirUsage{eph_bytes, eph_inodes, false});
      }
      if (p.cgroup.pids.ok) pj["process_stats"] = {{"process_count", p.cgroup.pids.current}};
    }
    pods.push_back(std::move(pj));
  }
  return Json{{"node", std::move(node)}, {"pods", std::move(pods)}};
}

StatsResponse ServeStatsPath(const Sampler& sampler, std::string_view path,
                             std::string_view query) {
  StatsResponse r;
  bool summary = path == "/stats/summary" || path == "/stats/summary/";
  bool cadvisor = path == "/metrics/cadvisor";
  bool resource = path == "/metrics/resource";
  if (!summary && !cadvisor && !resource) {
    r.status = 404;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "404 page not found\n";
    return r;
  }
  auto snap = sampler.Latest();
  if (snap->sample_count == 0) {
    r.status = 503;
    r.content_type = "text/plain; charset=utf-8";
    r.body = "stats not yet available: no sample taken\n";
    return r;
  }
  r.status = 200;
  if (summary) {
    bool only = query.find("only_cpu_and_memory=true") != std::string_view::npos;
    r.content_type = "application/json";
    r.body = BuildSummary(*snap, only).dump();
  } else {
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = cadvisor ? RenderCadvisorMetrics(*snap) : RenderResourceMetrics(*snap);
  }
  return r;
}

}  // namespace korral::kubelet::stats
