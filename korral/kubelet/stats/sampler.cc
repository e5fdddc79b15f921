#include "korral/kubelet/stats/sampler.h"

#include <utility>

#include "korral/base/clock.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::kubelet::stats {

namespace {

// Interfaces cAdvisor leaves out of a node's (root container's) network stats.
bool IgnoredNodeInterface(std::string_view name) {
  for (std::string_view p : {"lo", "veth", "docker", "nerdctl"}) {
    if (name.rfind(p, 0) == 0) return true;
  }
  return false;
}

// Pod totals when there is no pod cgroup: the sum of the containers.
CgroupStats SumContainers(const std::vector<ContainerSample>& containers) {
  CgroupStats s;
  for (const auto& c : containers) {
    if (!c.has_cgroup) continue;
    const CgroupStats& x = c.cgroup;
    if (x.cpu.ok) {
      s.cpu.ok = true;
      s.cpu.usage_ns += x.cpu.usage_ns;
      s.cpu.user_ns += x.cpu.user_ns;
      s.cpu.system_ns += x.cpu.system_ns;
      s.cpu.periods += x.cpu.periods;
      s.cpu.throttled_periods += x.cpu.throttled_periods;
      s.cpu.throttled_ns += x.cpu.throttled_ns;
    }
    if (x.memory.ok) {
      s.memory.ok = true;
      s.memory.usage += x.memory.usage;
      s.memory.working_set += x.memory.working_set;
      s.memory.rss += x.memory.rss;
      s.memory.cache += x.memory.cache;
      s.memory.mapped_file += x.memory.mapped_file;
      s.memory.swap += x.memory.swap;
      s.memory.failcnt += x.memory.failcnt;
      s.memory.pgfault += x.memory.pgfault;
      s.memory.pgmajfault += x.memory.pgmajfault;
      s.memory.hierarchical_pgfault += x.memory.hierarchical_pgfault;
      s.memory.hierarchical_pgmajfault += x.memory.hierarchical_pgmajfault;
    }
    if (x.pids.ok) {
      s.pids.ok = true;
      s.pids.current += x.pids.current;
    }
    if (x.io.ok) {
      s.io.ok = true;
      s.io.read_bytes += x.io.read_bytes;
      s.io.write_bytes += x.io.write_bytes;
      s.io.reads += x.io.reads;
      s.io.writes += x.io.writes;
    }
  }
  return s;
}

}  // namespace

Sampler::Sampler(SamplerOptions options, PodStatsProvider* provider, Clock* clock)
    : options_(std::move(options)),
      provider_(provider),
      clock_(clock),
      latest_(std::make_shared<Snapshot>()) {}

Sampler::~Sampler() { Stop(); }

absl::Status Sampler::Init() {
  KORRAL_ASSIGN_OR_RETURN(layout_, DetectCgroupLayout(options_.cgroup_root));
  start_time_ = clock_->Now();
  return absl::OkStatus();
}

std::shared_ptr<const Snapshot> Sampler::Latest() const {
  std::lock_guard l(mu_);
  return latest_;
}

std::optional<uint64_t> Sampler::Rate(const std::string& key, uint64_t usage_ns,
                                      std::chrono::system_clock::time_point now,
                                      std::map<std::string, Prev>* next) {
  (*next)[key] = Prev{usage_ns, now};
  auto it = prev_.find(key);
  if (it == prev_.end()) return std::nullopt;
  auto dt = std::chrono::duration_cast<std::chrono::nanoseconds>(now - it->second.time).count();
  if (dt <= 0 || usage_ns < it->second.usage_ns) return std::nullopt;
  unsigned __int128 delta = usage_ns - it->second.usage_ns;
  return static_cast<uint64_t>(delta * 1'000'000'000u / static_cast<uint64_t>(dt));
}

void Sampler::SampleNode(NodeSample* node, std::chrono::system_clock::time_point now,
                         std::map<std::string, Prev>* next) {
  node->name = options_.node_name;
  node->start_time = start_time_;
  auto cg = ReadCgroupStats(layout_, options_.node_cgroup);
  if (cg.ok()) {
    node->has_cgroup = true;
    node->cgroup = std::move(*cg);
  }
  auto cpu = ReadProcStat(options_.proc_root);
  if (cpu.ok()) node->num_cpus = cpu->num_cpus;
  if (node->has_cgroup && node->cgroup.cpu.ok) {
    node->usage_core_ns = node->cgroup.cpu.usage_ns;
  } else if (cpu.ok()) {
    node->usage_core_ns = cpu->busy_ns;
  }
  node->usage_nano_cores = Rate("node", node->usage_core_ns, now, next);

  auto mem = ReadMemInfo(options_.proc_root);
  if (mem.ok()) node->memory_capacity = mem->total;
  if (node->has_cgroup && node->cgroup.memory.ok) {
    node->memory_usage = node->cgroup.memory.usage;
    node->memory_working_set = node->cgroup.memory.working_set;
    node->memory_rss = node->cgroup.memory.rss;
  } else if (mem.ok()) {
    // cgroup v2 has no root memory.current: derive it from /proc/meminfo as cAdvisor does.
    node->memory_usage = mem->total > mem->free ? mem->total - mem->free : 0;
    node->memory_working_set =
        node->memory_usage > mem->inactive_file ? node->memory_usage - mem->inactive_file : 0;
  }
  std::string text;
  if (ReadSmallFile(options_.proc_root + "/net/dev", &text)) {
    auto ifs = ParseNetDev(text);
    if (ifs.ok()) {
      for (auto& i : *ifs) {
        if (!IgnoredNodeInterface(i.name)) node->interfaces.push_back(std::move(i));
      }
    }
  }
  if (auto fs = StatFs(options_.node_fs_path); fs.ok()) node->fs = *fs;
  const std::string& image_path =
      options_.image_fs_path.empty() ? options_.node_fs_path : options_.image_fs_path;
  if (auto fs = StatFs(image_path); fs.ok()) node->image_fs = *fs;
  if (auto pm = ReadPidMax(options_.proc_root); pm.ok()) node->pid_max = *pm;
  node->processes = CountProcesses(options_.proc_root);
  for (const auto& [name, path] : options_.system_containers) {
    auto s = ReadCgroupStats(layout_, path);
    if (!s.ok()) continue;
    ContainerSample cs;
    cs.ref.name = name;
    cs.ref.cgroup_path = path;
    cs.ref.start_time = start_time_;
    cs.has_cgroup = true;
    cs.cgroup = std::move(*s);
    if (cs.cgroup.cpu.ok)
      cs.usage_nano_cores = Rate("s:" + path, cs.cgroup.cpu.usage_ns, now, next);
    node->system_containers.push_back(std::move(cs));
  }
}

void Sampler::SamplePod(const PodRef& ref, bool walk_disks,
                        std::chrono::system_clock::time_point now,
                        std::map<std::string, Prev>* next, PodSample* out) {
  out->ref = ref;
  for (const auto& c : ref.containers) {
    ContainerSample cs;
    cs.ref = c;
    if (!c.cgroup_path.empty()) {
      auto s = ReadCgroupStats(layout_, c.cgroup_path);
      if (s.ok()) {
        cs.has_cgroup = true;
        cs.cgroup = std::move(*s);
        if (cs.cgroup.cpu.ok) {
          cs.usage_nano_cores = Rate("c:" + c.cgroup_path, cs.cgroup.cpu.usage_ns, now, next);
        }
      }
    }
    if (walk_disks) {
      if (!c.rootfs_path.empty()) {
        if (auto u = DiskUsage(c.rootfs_path, options_.disk_max_entries); u.ok()) cs.rootfs = *u;
      }
      if (!c.log_path.empty()) {
        if (auto u = DiskUsage(c.log_path, options_.disk_max_entries); u.ok()) cs.logs = *u;
      }
    }
    out->containers.push_back(std::move(cs));
  }
  if (!ref.cgroup_path.empty()) {
    auto s = ReadCgroupStats(layout_, ref.cgroup_path);
    if (s.ok()) {
      out->has_cgroup = true;
      out->cgroup = std::move(*s);
    }
  }
  if (!out->has_cgroup) out->cgroup = SumContainers(out->containers);
  if (out->cgroup.cpu.ok) {
    out->usage_nano_cores = Rate("p:" + ref.uid, out->cgroup.cpu.usage_ns, now, next);
  }
  absl::StatusOr<std::vector<InterfaceStats>> net = absl::NotFoundError("no netns");
  if (ref.sandbox_pid > 0) {
    net = ReadNetDevOfPid(options_.proc_root, ref.sandbox_pid);
  } else if (!ref.netns_path.empty()) {
    net = ReadNetDevOfNetns(ref.netns_path);
  }
  if (net.ok()) {
    out->has_network = true;
    for (auto& i : *net) {
      if (i.name != "lo") out->interfaces.push_back(std::move(i));
    }
  }
  for (const auto& v : ref.volumes) {
    VolumeSample vs;
    vs.ref = v;
    if (walk_disks && !v.path.empty()) {
      if (auto u = DiskUsage(v.path, options_.disk_max_entries); u.ok()) vs.usage = *u;
      if (auto fs = StatFs(v.path); fs.ok()) vs.fs = *fs;
    }
    out->volumes.push_back(std::move(vs));
  }
}

void Sampler::SampleOnce() {
  std::lock_guard sl(sample_mu_);
  auto snap = std::make_shared<Snapshot>();
  auto now = clock_->Now();
  snap->time = now;
  // assign(count, char): GCC 12 at -O2 reports a false -Wrestrict for operator=("/").
  snap->cgroup_root_id.assign(1, '/');
  if (count_ > 0) snap->window = now - prev_time_;
  std::map<std::string, Prev> next;
  SampleNode(&snap->node, now, &next);
  bool walk_disks = options_.disk_every > 0 && count_ % options_.disk_every == 0;
  std::shared_ptr<const Snapshot> previous = Latest();
  std::map<std::string_view, const PodSample*> previous_pods;
  for (const auto& p : previous->pods) previous_pods[p.ref.uid] = &p;
  if (provider_) {
    for (const auto& ref : provider_->ListPodsForStats()) {
      PodSample ps;
      SamplePod(ref, walk_disks, now, &next, &ps);
      auto found = previous_pods.find(ref.uid);
      if (!walk_disks && found != previous_pods.end()) {
        // Carry directory usage over from the previous sample until the next walk.
        {
          const PodSample& old = *found->second;
          for (auto& c : ps.containers) {
            for (const auto& oc : old.containers) {
              if (oc.ref.id == c.ref.id && oc.ref.name == c.ref.name) {
                c.rootfs = oc.rootfs;
                c.logs = oc.logs;
              }
            }
          }
          for (auto& v : ps.volumes) {
            for (const auto& ov : old.volumes) {
              if (ov.ref.name == v.ref.name) {
                v.usage = ov.usage;
                v.fs = ov.fs;
              }
            }
          }
        }
      }
      snap->pods.push_back(std::move(ps));
    }
  }
  prev_ = std::move(next);
  prev_time_ = now;
  snap->sample_count = ++count_;
  std::lock_guard l(mu_);
  latest_ = std::move(snap);
}

void Sampler::Start() {
  {
    std::lock_guard l(mu_);
    if (thread_.joinable()) return;
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Sampler::Stop() {
  {
    std::lock_guard l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Sampler::Loop() {
  std::unique_lock l(mu_);
  while (!stop_) {
    l.unlock();
    SampleOnce();
    l.lock();
    cv_.wait_for(l, options_.interval, [this] { return stop_; });
  }
}

}  // namespace korral::kubelet::stats
