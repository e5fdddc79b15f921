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
// prober thread and one thread per pod that is being terminated. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "korral/base/clock.h"

namespace korral::client {
class Client;
}
namespace korral::cri {
class Runtime;
}

namespace korral::kubelet {

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
  int64_t eviction_hard_memory = 100 << 20;  // memory.available<100Mi, as upstream's default
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
  // Fake-runtime mode for hollow nodes: no cgroups, no probes over the network, no files.
  bool hollow = false;
  const Clock* clock = nullptr;  // default: Clock::Real()
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
  // The pid of the pod's sandbox process (for network stats from its namespace); 0 when not
  // known, for hostNetwork pods, or on runtimes without processes.
  int SandboxPid(const std::string& pod_uid) const;

  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace korral::kubelet
