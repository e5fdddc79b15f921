// korral/kubelet/kubelet.h: the node agent's pod lifecycle (upstream pkg/kubelet).
//
// The Kubelet registers its Node, renews its Lease in kube-node-lease every 10 s, reports
// NodeStatus on change (or every 5 min), watches the pods bound to it (fieldSelector
// spec.nodeName=<node>) and drives each through a CRI runtime (korral/cri): sandbox, volumes,
// init containers in order, containers with env/command/args, restart policy with
// CrashLoopBackOff, image pulls per imagePullPolicy (ImageStatus first), probes, graceful
// termination (preStop, SIGTERM, grace, SIGKILL) and finally deletes the pod object with grace 0.
// The runtime is the source of truth: after a restart the kubelet re-adopts whatever runs
// (containers carry the pod uid / container name labels).
//
// Threads: the pod informer's, `workers` sync workers (one pod is never synced by two at once),
// one housekeeping thread (runtime relist every second, orphan cleanup, lease, node status), the
// prober thread and one thread per pod that is being terminated. In a KubeletGroup the group's
// informer and workers do all of it. Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "korral/base/clock.h"
#include "korral/kubelet/logrotate.h"

namespace korral::client {
class Client;
}
namespace korral::cri {
class Runtime;
}

namespace korral::kubelet {

class KubeletGroup;

// One eviction threshold "<signal> < value": an absolute quantity (bytes; a count for the
// inodesFree and pid.available signals) or a percentage of the capacity (neither set: off). A
// soft threshold has a grace period: it must be met that long before pods are evicted for it.
struct EvictionThreshold {
  int64_t bytes = 0;
  double percent = 0;
  std::chrono::milliseconds grace_period{0};

  bool IsSet() const { return bytes > 0 || percent > 0; }
  // The threshold in bytes for this capacity.
  int64_t Of(int64_t capacity) const {
    return bytes > 0 ? bytes
                     : static_cast<int64_t>(static_cast<double>(capacity) * percent / 100.0);
  }
};

// Node-pressure eviction thresholds (upstream evictionHard defaults; evictionSoft,
// evictionSoftGracePeriod and evictionMaxPodGracePeriod) and timing. Signals as upstream:
// memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree
// (imagefs is nodefs when the runtime's image store is on the node's filesystem) and
// pid.available (pid_max - running processes).
struct EvictionConfig {
  EvictionThreshold memory_available{.bytes = 100 << 20};  // memory.available<100Mi
  EvictionThreshold nodefs_available{.percent = 10};       // nodefs.available<10%
  EvictionThreshold nodefs_inodes_free{.percent = 5};      // nodefs.inodesFree<5%
  // Upstream's default imagefs.available<15% is not set by default: with the image store on the
  // node's filesystem it would put a node whose disk is 85-90% full under DiskPressure (and
  // reject every new pod) while nodefs.available<10% holds.
  EvictionThreshold imagefs_available;
  EvictionThreshold imagefs_inodes_free{.percent = 5};  // imagefs.inodesFree<5%
  EvictionThreshold pid_available;                      // off (as upstream's defaults)
  // Soft thresholds: off unless configured.
  EvictionThreshold soft_memory_available, soft_nodefs_available, soft_nodefs_inodes_free,
      soft_imagefs_available, soft_imagefs_inodes_free, soft_pid_available;
  // Pods evicted for a soft threshold get min(terminationGracePeriodSeconds, this) to stop;
  // hard thresholds give 1 s.
  int64_t max_pod_grace_period_seconds = 0;
  std::chrono::milliseconds monitoring_period{10000};
  // Pressure conditions stay True this long after the signal recovers
  // (evictionPressureTransitionPeriod).
  std::chrono::milliseconds pressure_transition_period{300000};
};

// Parses the kubelet's eviction flags into `out` (upstream syntax):
//   hard / soft: "memory.available<100Mi,nodefs.available<10%" (a set flag replaces every
//     default hard threshold, as upstream; the signals above)
//   soft_grace: "memory.available=1m30s,nodefs.available=2m" (required for each soft threshold)
// Empty strings leave `out` as it is. Errors name the bad statement.
absl::Status ParseEvictionFlags(const std::string& hard, const std::string& soft,
                                const std::string& soft_grace, EvictionConfig* out);

// Image garbage collection (imageGCHighThresholdPercent / Low, imageMinimumGCAge).
struct ImageGcConfig {
  int high_threshold_percent = 85;  // 100: off
  int low_threshold_percent = 80;
  std::chrono::milliseconds minimum_age{120000};
  std::chrono::milliseconds period{300000};  // upstream ImageGCPeriod
};

// What the eviction manager observes: the node and each pod (from the stats sampler).
struct EvictionObservation {
  int64_t memory_capacity = 0, memory_working_set = 0;  // memory.available = capacity - ws
  int64_t nodefs_capacity = 0, nodefs_available = 0;
  int64_t nodefs_inodes = 0, nodefs_inodes_free = 0;
  // The runtime's image filesystem; capacity 0: the same as nodefs.
  int64_t imagefs_capacity = 0, imagefs_available = 0;
  int64_t imagefs_inodes = 0, imagefs_inodes_free = 0;
  int64_t pid_max = 0, processes = 0;  // pid.available = pid_max - processes (0: not observed)
  struct Pod {
    int64_t memory_working_set = 0;
    int64_t disk_usage = 0;  // ephemeral storage: container rootfs + logs + local volumes
    int64_t inodes = 0;      // inodes used by the same
    int64_t processes = 0;
    std::map<std::string, int64_t> container_memory, container_disk;  // by container name
    std::map<std::string, int64_t> volume_usage;  // bytes, by the pod spec's volume name
  };
  std::map<std::string, Pod> pods;  // by pod uid
};
using EvictionStatsFn = std::function<std::optional<EvictionObservation>()>;

// Image filesystem {capacity, available} bytes; default: statvfs of the CRI's image filesystem.
using ImageFsStatsFn = std::function<std::optional<std::pair<int64_t, int64_t>>()>;

struct KubeletConfig {
  std::string node_name;
  // Pod state on disk: <root_dir>/pods/<uid>/volumes/... ("" -> no volumes on disk; hollow).
  std::string root_dir;
  // Container logs: <log_dir>/<ns>_<name>_<uid>/<container>/<attempt>.log.
  std::string log_dir;
  // Root of the QoS cgroup tree ("/kubepods"); empty disables cgroup management.
  std::string cgroup_root = "/kubepods";
  std::string pod_cidr;  // written to spec.podCIDR at registration when the node has none
  std::string node_ip;   // empty: the address of the default route's interface
  std::map<std::string, std::string> node_labels;
  int max_pods = 110;
  int64_t system_reserved_memory = 0;  // bytes, subtracted from allocatable
  int64_t system_reserved_cpu_millis = 0;
  EvictionConfig eviction;  // memory.available also comes off allocatable
  ImageGcConfig image_gc;
  ImageFsStatsFn image_fs_stats;  // null: statvfs of the CRI ImageFsInfo mountpoint
  // Images never garbage collected (the sandbox image, which containerd 1.6 does not pin).
  std::vector<std::string> pinned_images;
  std::string runtime_handler;
  std::string kubelet_version = "v1.32.0";
  int kubelet_port = 10250;  // reported in status.daemonEndpoints
  std::string cluster_dns;   // pod resolv.conf nameserver ("" -> the host's resolv.conf)
  std::string cluster_domain = "cluster.local";
  int workers = 16;  // pods synced in parallel (each mostly waits on CRI calls); hollow nodes use 1
  std::chrono::milliseconds relist_period{1000};
  std::chrono::seconds lease_renew_interval{10};
  int lease_duration_seconds = 40;
  std::chrono::seconds node_status_report_frequency{300};
  // Static pods: pod manifests (YAML or JSON, one pod per file) in this directory run on the node
  // with mirror pods in the API (upstream's staticPodPath); "" disables. Re-read every
  // file_check_frequency (upstream's fileCheckFrequency, 20 s).
  std::string pod_manifest_path;
  std::chrono::milliseconds file_check_frequency{20000};
  // CRI log rotation (containerLogMaxSize / containerLogMaxFiles), checked every
  // container_log_monitor_interval for running containers.
  LogRotationPolicy log_rotation;
  std::chrono::milliseconds container_log_monitor_interval{10000};
  // Fake-runtime mode for hollow nodes: no cgroups, no probes over the network, no files.
  bool hollow = false;
  const Clock* clock = nullptr;  // default: Clock::Real()
  // Many kubelets in one process (hollow nodes): the group's pod informer, work queue, workers
  // and timers replace this kubelet's own (no per-kubelet threads or watches). Must outlive the
  // Kubelet.
  KubeletGroup* group = nullptr;
};

class Kubelet {
 public:
  // `client` and `runtime` must outlive the Kubelet.
  Kubelet(client::Client& client, cri::Runtime& runtime, KubeletConfig config);
  ~Kubelet();
  Kubelet(const Kubelet&) = delete;
  Kubelet& operator=(const Kubelet&) = delete;

  // Registers the node, starts the informer, workers and loops. Returns once the pod cache has
  // synced (or fails if the node cannot be registered).
  absl::Status Start();
  // Stops every thread; running containers keep running (the next Start re-adopts them).
  void Stop();
  // Stops and removes every sandbox this kubelet's pods own (for tests and `--cleanup-on-exit`),
  // then removes the pod cgroups. Call after Stop.
  void CleanupAllPods(std::chrono::seconds grace);

  // Snapshots for the kubelet server and the stats library.
  std::vector<nlohmann::json> ListPods() const;
  const KubeletConfig& config() const;
  // Enables node-pressure eviction with this source of observations (usually the stats
  // sampler's latest snapshot). Without one, no pressure is detected.
  void SetEvictionStats(EvictionStatsFn fn);

  // The pid of the pod's sandbox process (for network stats from its namespace); 0 when not
  // known, for hostNetwork pods, or on runtimes without processes.
  int SandboxPid(const std::string& pod_uid) const;

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

// Shared machinery for many kubelets in one process (`korral hollow-nodes`): one pod informer
// over every scheduled pod (fieldSelector spec.nodeName!=, indexed by node) dispatching events
// to the kubelet of the pod's node, one work queue with `workers` threads running both pod syncs
// and each kubelet's periodic housekeeping (relist, lease, node status) as delayed queue items.
// Per kubelet this leaves only its state: no threads, no watch connection.
class KubeletGroup {
 public:
  // `client` must outlive the group.
  KubeletGroup(client::Client& client, int workers);
  ~KubeletGroup();
  KubeletGroup(const KubeletGroup&) = delete;
  KubeletGroup& operator=(const KubeletGroup&) = delete;

  // Starts the informer (waits for its sync) and the workers.
  absl::Status Start();
  // Stops the workers and the informer. Kubelets of the group must be stopped first.
  void Stop();

  struct Impl;

 private:
  friend class Kubelet;
  std::unique_ptr<Impl> impl_;
};

}  // namespace korral::kubelet
