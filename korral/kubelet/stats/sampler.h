// korral/kubelet/stats/sampler.h: samples node, pod and container stats on an interval, as
// cAdvisor's housekeeping does, and keeps the latest snapshot with CPU rates computed from the
// last two samples (usageNanoCores = delta usage / delta time).
//
// SampleOnce() takes one sample synchronously (tests drive it with a FakeClock); Start() runs
// it every `interval` on a background thread until Stop(). Latest() returns an immutable
// snapshot that the Summary/Prometheus builders read; it is safe to call from any thread.
//
// Example:
//   stats::SamplerOptions opts;
//   opts.node_name = "node-1";
//   stats::Sampler sampler(opts, &my_pod_provider, &Clock::Real());
//   KORRAL_RETURN_IF_ERROR(sampler.Init());
//   sampler.Start();
//   ...  std::string body = stats::BuildSummary(*sampler.Latest()).dump();
//   sampler.Stop();
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "korral/kubelet/stats/cgroup.h"
#include "korral/kubelet/stats/proc.h"
#include "korral/kubelet/stats/provider.h"

namespace korral {
class Clock;
}

namespace korral::kubelet::stats {

struct SamplerOptions {
  std::string node_name;
  std::string cgroup_root = "/sys/fs/cgroup";
  std::string proc_root = "/proc";
  // The node's own cgroup for node totals ("/" = everything, as upstream).
  std::string node_cgroup = "/";
  // Filesystems for node.fs (the kubelet's root dir) and runtime.imageFs (the runtime's
  // image store); empty image_fs_path reuses node_fs_path.
  std::string node_fs_path = "/";
  std::string image_fs_path;
  // Directory walks (container rootfs/logs, volumes) happen every `disk_every` samples
  // (cAdvisor refreshes disk usage less often than CPU and memory); 0 disables them.
  int disk_every = 6;
  uint64_t disk_max_entries = 100'000;
  std::chrono::milliseconds interval{10'000};
  // Summary API systemContainers: name ("kubelet", "runtime", "pods", "misc") -> cgroup path
  // (e.g. {"pods", "/kubepods"}). Missing cgroups are left out of the summary.
  std::map<std::string, std::string> system_containers;
};

// One container's sample.
struct ContainerSample {
  ContainerRef ref;
  bool has_cgroup = false;
  CgroupStats cgroup;
  std::optional<uint64_t> usage_nano_cores;  // needs two samples
  std::optional<DirUsage> rootfs, logs;
};

struct VolumeSample {
  VolumeRef ref;
  std::optional<DirUsage> usage;
  std::optional<FsInfo> fs;
};

struct PodSample {
  PodRef ref;
  bool has_cgroup = false;  // stats read from ref.cgroup_path (else: sums of containers)
  CgroupStats cgroup;
  std::optional<uint64_t> usage_nano_cores;
  bool has_network = false;
  std::vector<InterfaceStats> interfaces;  // loopback excluded
  std::vector<ContainerSample> containers;
  std::vector<VolumeSample> volumes;
};

struct NodeSample {
  std::string name;
  std::chrono::system_clock::time_point start_time{};  // when the sampler started
  bool has_cgroup = false;
  CgroupStats cgroup;  // the node cgroup (root)
  std::optional<uint64_t> usage_nano_cores;
  uint64_t usage_core_ns = 0;    // cpu usage (cgroup, else /proc/stat busy time)
  uint64_t memory_capacity = 0;  // MemTotal
  uint64_t memory_usage = 0;
  uint64_t memory_working_set = 0;
  uint64_t memory_rss = 0;
  int num_cpus = 0;
  std::vector<InterfaceStats> interfaces;  // loopback excluded
  std::optional<FsInfo> fs, image_fs;
  std::optional<uint64_t> pid_max;
  uint64_t processes = 0;
  // The system containers that exist (name -> stats; cpu rate in usage_nano_cores).
  std::vector<ContainerSample> system_containers;
};

struct Snapshot {
  std::chrono::system_clock::time_point time{};
  // Time between this sample and the previous one (0 for the first sample).
  std::chrono::nanoseconds window{0};
  NodeSample node;
  std::vector<PodSample> pods;
  std::string cgroup_root_id;  // always "/" (the root of the ids in metrics)
  uint64_t sample_count = 0;
};

class Sampler {
 public:
  // `provider` and `clock` must outlive the sampler. provider may be null (node stats only).
  Sampler(SamplerOptions options, PodStatsProvider* provider, Clock* clock);
  ~Sampler();
  Sampler(const Sampler&) = delete;
  Sampler& operator=(const Sampler&) = delete;

  // Detects the cgroup layout. NotFound if there are no cgroup hierarchies.
  absl::Status Init();

  // Takes one sample now and publishes it. REQUIRES: Init() succeeded.
  void SampleOnce();

  // The latest snapshot; an empty one (sample_count 0) before the first sample. Never null.
  std::shared_ptr<const Snapshot> Latest() const;

  // Samples immediately, then every interval on a background thread, until Stop().
  void Start();
  void Stop();

  const CgroupLayout& layout() const { return layout_; }
  const SamplerOptions& options() const { return options_; }

 private:
  struct Prev {
    uint64_t usage_ns = 0;
    std::chrono::system_clock::time_point time{};
  };
  std::optional<uint64_t> Rate(const std::string& key, uint64_t usage_ns,
                               std::chrono::system_clock::time_point now,
                               std::map<std::string, Prev>* next);
  void SampleNode(NodeSample* node, std::chrono::system_clock::time_point now,
                  std::map<std::string, Prev>* next);
  void SamplePod(const PodRef& ref, bool walk_disks, std::chrono::system_clock::time_point now,
                 std::map<std::string, Prev>* next, PodSample* out);
  void Loop();

  SamplerOptions options_;
  PodStatsProvider* provider_;
  Clock* clock_;
  CgroupLayout layout_;
  std::chrono::system_clock::time_point start_time_{};
  std::map<std::string, Prev> prev_;  // key -> previous cpu usage (sampler thread only)
  std::chrono::system_clock::time_point prev_time_{};
  uint64_t count_ = 0;

  mutable std::mutex mu_;
  std::shared_ptr<const Snapshot> latest_;  // guarded by mu_
  std::mutex sample_mu_;                    // serializes SampleOnce
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace korral::kubelet::stats
