// korral/agent/agent.h: `korral agent`, the node: supervises its own containerd (or uses an
// existing CRI endpoint), a local docker-registry holding the offline images, writes the CNI
// config for the node's podCIDR, and runs the kubelet.
//
// Layout under data_dir:
//   containerd/{config.toml,root,state,opt,certs.d,containerd.sock,containerd.log}
//   cni/{net.d/10-korral.conflist,ipam}
//   registry/{config.yml,data,registry.log}   images/{pause.tar,busybox.tar}
//   kubelet/pods/<uid>/volumes/...            logs/<ns>_<name>_<uid>/<container>/<n>.log
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::client {
class Client;
}

namespace korral::kubelet {
class Kubelet;
}

namespace korral::agent {

struct AgentConfig {
  std::string data_dir;
  std::string kubeconfig;                  // the agent's API credentials
  std::string server;                      // overrides the kubeconfig's server URL when set
  std::string node_name;                   // default: the host name
  std::string node_ip;                     // default: the default route's address
  std::string container_runtime_endpoint;  // empty: start and supervise containerd
  std::string pod_cidr = "10.42.0.0/24";
  std::string cni_bridge = "korral0";
  std::string cgroup_root = "/kubepods";
  int registry_port = 5055;  // local docker-registry on 127.0.0.1 (0: none)
  int kubelet_port = 10250;
  std::string cluster_dns;
  std::string pod_manifest_path;  // static pods (upstream staticPodPath); "" disables
  std::map<std::string, std::string> node_labels;
  // Node-pressure eviction (kubelet.h ParseEvictionFlags syntax); empty: upstream's defaults
  // (hard memory.available<100Mi, nodefs.available<10%; no soft thresholds).
  std::string eviction_hard, eviction_soft, eviction_soft_grace_period;
  int eviction_max_pod_grace_period = 0;  // seconds, for pods evicted by a soft threshold
  // On Stop: stop and remove every pod sandbox, the pod cgroups and the CNI bridge (tests).
  bool cleanup_on_exit = false;
  std::string busybox_path = "/bin/busybox";
  std::string sandbox_image = "registry.k8s.io/pause:3.6";
};

class Agent {
 public:
  explicit Agent(AgentConfig config);
  ~Agent();
  // Starts containerd (+ registry) if needed, imports the offline images, starts the kubelet.
  absl::Status Start();
  void Stop();
  kubelet::Kubelet* kubelet();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// A supervised child process: restarted with backoff when it exits, SIGTERM then SIGKILL on
// Stop. The child dies with the agent (PR_SET_PDEATHSIG).
class Supervisor {
 public:
  Supervisor(std::string name, std::vector<std::string> argv, std::string log_file);
  ~Supervisor();
  absl::Status Start();
  void Stop(std::chrono::seconds grace = std::chrono::seconds(10));
  int pid() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// Writes the OCI archives of the sandbox image and busybox into `dir` (if missing) and returns
// their paths {pause, busybox}.
absl::StatusOr<std::pair<std::string, std::string>> EnsureOfflineImages(
    const std::string& dir, const std::string& busybox_path, const std::string& sandbox_image);

// `korral images import FILE`: loads an OCI archive into containerd (namespace k8s.io, via
// ctr) and pushes it to the local registry (if `registry_port` > 0).
absl::Status ImportImage(const std::string& archive_path, const std::string& containerd_socket,
                         int registry_port);

}  // namespace korral::agent
