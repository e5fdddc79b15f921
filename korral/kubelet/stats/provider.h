// korral/kubelet/stats/provider.h: what the kubelet tells the stats library about its pods.
//
// The stats library knows nothing about the kubelet or the CRI: the kubelet implements
// PodStatsProvider and returns, for each pod it runs, the pod's identity, its cgroup, a way
// into its network namespace, and its containers' cgroups. Everything else (reading cgroups,
// /proc, computing rates, building the Summary and Prometheus texts) happens here.
//
// Example (kubelet side):
//   class KubeletPods : public stats::PodStatsProvider {
//     std::vector<stats::PodRef> ListPodsForStats() override {
//       std::vector<stats::PodRef> out;
//       for (const auto& pod : running_pods_) {
//         stats::PodRef p{.ns = pod.ns, .name = pod.name, .uid = pod.uid,
//                         .cgroup_path = "/kubepods/pod" + pod.uid,
//                         .sandbox_pid = pod.sandbox_pid};
//         for (const auto& c : pod.containers)
//           p.containers.push_back({.name = c.name, .id = c.id, .image = c.image,
//                                   .cgroup_path = p.cgroup_path + "/" + c.id});
//         out.push_back(std::move(p));
//       }
//       return out;
//     }
//   };
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace korral::kubelet::stats {

struct ContainerRef {
  std::string name;   // the pod spec's container name
  std::string id;     // runtime container id (cAdvisor's `name` label)
  std::string image;  // image reference as the pod spec names it
  // The container's cgroup path relative to each hierarchy root, as passed to the runtime
  // ("/kubepods/pod<uid>/<id>"). Empty: no cgroup stats for this container.
  std::string cgroup_path;
  std::chrono::system_clock::time_point start_time{};
  // Optional: the container's writable layer directory and its log file (or directory), for
  // rootfs and logs usage. Empty: not reported.
  std::string rootfs_path;
  std::string log_path;
};

struct VolumeRef {
  std::string name;      // the pod spec's volume name
  std::string path;      // the volume's directory on the node
  std::string pvc_name;  // set for persistentVolumeClaim volumes
  // True for volumes that count toward ephemeral storage (emptyDir on disk, configMap, ...).
  bool ephemeral = true;
};

struct PodRef {
  std::string ns;
  std::string name;
  std::string uid;
  // The pod-level cgroup ("/kubepods/burstable/pod<uid>"); empty: pod totals are the sum of
  // the containers.
  std::string cgroup_path;
  // For network stats: a process in the pod's network namespace (e.g. the sandbox's pid), or
  // the namespace's path (e.g. "/var/run/netns/cni-..."). pid wins when both are set. Pods in
  // the host network namespace (hostNetwork) should leave both unset.
  int sandbox_pid = 0;
  std::string netns_path;
  std::chrono::system_clock::time_point start_time{};
  std::vector<ContainerRef> containers;
  std::vector<VolumeRef> volumes;
};

// Implemented by the kubelet. Thread-safe: called from the sampler's thread.
class PodStatsProvider {
 public:
  virtual ~PodStatsProvider() = default;
  // The pods currently running on the node (a snapshot; may be called every interval).
  virtual std::vector<PodRef> ListPodsForStats() = 0;
};

}  // namespace korral::kubelet::stats
