// korral/kubelet/kubelet_impl.h: internals of the Kubelet shared by its .cc files
// (kubelet.cc: pod workers; node_status.cc: node, lease; volumes.cc; prober.cc).
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "korral/client/client.h"
#include "korral/client/informer.h"
#include "korral/client/workqueue.h"
#include "korral/cri/cri.h"
#include "korral/kubelet/kubelet.h"
#include "korral/kubelet/pod_util.h"

namespace korral::kubelet {

namespace v1 = ::runtime::v1;
using client::ObjectPtr;

// What the runtime has for one pod: sandboxes and container statuses, newest first.
struct RuntimePod {
  std::vector<v1::PodSandbox> sandboxes;
  std::vector<v1::ContainerStatus> containers;
  // Newest instance of container `name` (in any sandbox), or null.
  const v1::ContainerStatus* Latest(const std::string& name, int skip = 0) const;
  bool AnyRunning() const;
};

// A container start failure as upstream reports it in the waiting state.
struct WaitingReason {
  std::string reason, message;
};

// A probe being run for one container.
struct ProbeWorker {
  std::string pod_key, uid, container, container_id, kind;  // kind: liveness|readiness|startup
  Json probe;
  std::string pod_ip;
  std::chrono::steady_clock::time_point next;
  int successes = 0, failures = 0;
  bool result = false;   // current result (readiness starts false, liveness/startup true)
  bool started = false;  // initialDelaySeconds passed
};

struct PodState {
  std::map<std::string, WaitingReason> waiting;  // container name -> reason
  std::optional<WaitingReason> pod_waiting;      // volume errors: every container waits
  Json last_status;                              // last status written (or seen)
  std::string sandbox_id, pod_ip;
  int sandbox_pid = 0;  // a process in the pod's network namespace (0: unknown / host network)
  // Startup accounting until the pod first reports all containers running: time in syncs and,
  // of that, in runtime (CRI) calls. Logged once (bench/node reads it).
  std::chrono::nanoseconds startup_sync{0}, startup_cri{0};
  bool startup_reported = false;
  bool volumes_ready = false;
  std::chrono::steady_clock::time_point volumes_synced{};
  bool terminated_sandbox = false;  // terminal pod whose sandbox was stopped
  std::map<std::string, std::chrono::steady_clock::time_point> pull_failed_at;  // by container
};

struct Kubelet::Impl {
  Impl(client::Client& c, cri::Runtime& r, KubeletConfig cfg);

  client::Client& client;
  cri::Runtime& rt;
  KubeletConfig cfg;
  const Clock& clock;

  // Node facts.
  double node_cpu_cores = 1;
  double node_memory_bytes = 0;
  std::string node_ip, runtime_name = "containerd", runtime_version;
  std::string node_uid;

  std::unique_ptr<client::SharedInformer> pods;
  std::unique_ptr<client::WorkQueue> queue;
  std::vector<std::thread> workers;
  std::thread housekeeping_thread, prober_thread;
  std::atomic<bool> stopping{false};
  std::mutex loop_mu;
  std::condition_variable loop_cv;

  std::mutex mu;                                   // guards everything below
  std::map<std::string, PodState> states;          // by uid
  std::map<std::string, std::thread> terminators;  // by uid
  std::set<std::string> terminating;               // uids being terminated
  std::map<std::string, Json> last_known;          // uid -> last pod object (for orphans)
  std::map<std::string, std::string> pleg;         // uid -> runtime signature
  std::vector<std::shared_ptr<ProbeWorker>> probes;
  std::map<std::string, bool> readiness;  // container id -> ready
  std::map<std::string, bool> startup;    // container id -> started
  std::set<std::string> liveness_failed;  // container ids to restart
  Backoff backoff;

  // Lease / node status bookkeeping.
  std::chrono::steady_clock::time_point last_lease{}, last_status_report{};
  Json last_node_status;      // last reported status without condition times
  Json last_node_conditions;  // with lastTransitionTime
  Json lease;

  // kubelet.cc
  void Worker();
  void Housekeeping();
  absl::Status SyncPod(const std::string& key);
  absl::StatusOr<RuntimePod> GetRuntimePod(const std::string& uid);
  absl::Status SyncRunningPod(const Json& pod, PodState* st_copy);
  v1::PodSandboxConfig SandboxConfig(const Json& pod, uint32_t attempt) const;
  absl::Status StartContainer(const Json& pod, const Json& c, const v1::PodSandboxConfig& sb,
                              const std::string& sandbox_id, uint32_t attempt, bool init);
  // >0 while `c`'s image pull is backing off (its waiting reason becomes ImagePullBackOff).
  std::chrono::nanoseconds ImagePullBackoff(const std::string& uid, const Json& c,
                                            std::chrono::steady_clock::time_point now);
  absl::StatusOr<std::string> EnsureImage(const Json& pod, const Json& c,
                                          const v1::PodSandboxConfig& sb);
  void SetWaiting(const std::string& uid, const std::string& container, std::string reason,
                  std::string message);
  void ClearWaiting(const std::string& uid, const std::string& container);
  Json BuildStatus(const Json& pod, const RuntimePod& rp, const std::string& pod_ip);
  Json ContainerStatusJson(const Json& pod, const Json& c, const RuntimePod& rp,
                           const std::string& sandbox_id, bool init, bool pod_initialized);
  void WriteStatus(const Json& pod, Json status);
  void StartTermination(const Json& pod, int64_t grace, bool delete_object);
  void TerminatePod(Json pod, int64_t grace, bool delete_object);
  absl::Status KillContainer(const Json* pod, const Json* container,
                             const std::string& container_id, int64_t grace);
  void RemovePodResources(const std::string& uid, const Json* pod);
  void Relist();
  bool RunHook(const Json& handler, const std::string& container_id, const std::string& pod_ip,
               std::chrono::seconds timeout, std::string* message);
  Json GetPodFromCache(const std::string& key) const;

  // node_status.cc
  absl::Status RegisterNode();
  void DetectNodeFacts();
  Json NodeStatus();
  void UpdateNodeStatus(bool force);
  void RenewLease();

  // volumes.cc
  absl::Status SetupVolumes(const Json& pod);
  std::vector<v1::Mount> ContainerMounts(const Json& pod, const Json& c, std::string* error);
  void TeardownVolumes(const std::string& uid);
  std::string PodDir(const std::string& uid) const;

  // prober.cc
  void ProberLoop();
  void SyncProbes(const Json& pod, const RuntimePod& rp, const std::string& pod_ip);
  void RemoveProbes(const std::string& uid);
  bool RunProbe(const Json& probe, const std::string& container_id, const std::string& pod_ip,
                std::string* output);
  bool IsReady(const std::string& container_id, const Json& c);
  bool IsStarted(const std::string& container_id, const Json& c);

  // cgroups (kubelet.cc)
  void EnsurePodCgroup(const Json& pod);
  void RemovePodCgroup(const std::string& parent);
};

// "namespace/name".
std::string PodKey(const Json& pod);
std::string PodUid(const Json& pod);

}  // namespace korral::kubelet
