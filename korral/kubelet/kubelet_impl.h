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

// Eviction signals, in upstream's order of eviction priority (memory first).
enum class EvictionSignal { kMemory, kNodeFs, kNodeFsInodes, kImageFs, kImageFsInodes, kPid };
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
  // Evicted for node pressure or rejected at admission: terminal from now on (no sync starts or
  // restarts anything, no sync status write but the final one).
  bool evicted = false;
  bool admitted = false;  // passed admission (or found already running)
  // The end of the pod decided outside its sync (eviction, admission rejection), carried out by
  // the pod's next sync so that it is serialized with a sync in flight (which may be creating
  // the sandbox or containers the eviction must stop). Cleared once the final status is written.
  struct PendingKill {
    std::string message;    // the status message (without "Pod was rejected: ")
    int64_t grace = 1;      // seconds; > 1: preStop hooks run
    bool rejected = false;  // admission rejection: nothing ran, status only
    std::chrono::steady_clock::time_point since{};  // when it was decided
    bool disruption_condition = true;  // a DisruptionTarget condition (not for storage limits)
  };
  std::optional<PendingKill> pending_kill;
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

  // The pod cache: own_pods, or the group's informer (every scheduled pod, index "nodeName").
  std::unique_ptr<client::SharedInformer> own_pods;
  client::SharedInformer* pods = nullptr;
  std::unique_ptr<client::WorkQueue> queue;  // null in a group (the group's queue is used)
  KubeletGroup::Impl* group = nullptr;
  std::atomic<int> group_busy{0};  // group workers inside this kubelet
  std::vector<std::thread> workers;
  std::thread housekeeping_thread, prober_thread;
  std::atomic<bool> stopping{false};
  std::mutex loop_mu;
  std::condition_variable loop_cv;

  mutable std::mutex mu;                           // guards everything below
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
  // Projected service-account tokens by "<uid>/<ns>/<sa>/<audience>/<expirationSeconds>".
  struct CachedToken {
    std::string token;
    std::chrono::system_clock::time_point expiration;
    int64_t expiration_seconds = 0;
  };
  std::map<std::string, CachedToken> tokens;
  // Static pods by key (static_pods.cc).
  std::map<std::string, Json> static_pods;
  std::map<std::string, std::string> static_errors;  // file -> last error logged
  bool static_dir_missing_logged = false;
  std::chrono::steady_clock::time_point last_static_scan{};
  std::chrono::steady_clock::time_point last_log_rotation{};
  // Eviction (eviction.cc).
  EvictionStatsFn eviction_stats;
  std::chrono::steady_clock::time_point last_memory_pressure{}, last_disk_pressure{},
      last_pid_pressure{};
  // When each threshold met now was first seen met (key: signal * 2 + soft).
  std::map<int, std::chrono::steady_clock::time_point> threshold_first_observed;
  std::chrono::steady_clock::time_point last_eviction_check{};
  std::atomic<bool> memory_pressure{false}, disk_pressure{false}, pid_pressure{false};
  // Events posted recently, by involved object/type/reason/message (RecordEvent aggregates
  // repeats into their count).
  struct RecordedEvent {
    std::string name;
    int64_t count = 1;
    std::chrono::steady_clock::time_point last{};
  };
  std::map<std::string, RecordedEvent> recorded_events;
  // Image GC (image_gc.cc): first seen / last used per image id.
  struct ImageRecord {
    std::chrono::steady_clock::time_point first_detected, last_used;
    int64_t size = 0;
  };
  std::map<std::string, ImageRecord> image_records;
  std::chrono::steady_clock::time_point last_image_gc{};

  // Lease / node status bookkeeping.
  std::chrono::steady_clock::time_point last_lease{}, last_status_report{}, last_status_check{};
  // Host facts for nodeInfo, read once.
  std::string machine_id, boot_id, kernel_version, os_image;
  Json last_node_status;      // last reported status without condition times
  Json last_node_conditions;  // with lastTransitionTime
  Json lease;

  // kubelet.cc
  void Worker();
  void Housekeeping();
  // One round of housekeeping: relist, lease, node status.
  void HousekeepingTick();
  // Rotates the log files of running containers that reached the size limit.
  void RotateContainerLogs();
  // Queues a pod sync (own queue or the group's).
  void Enqueue(const std::string& key);
  void EnqueueAfter(const std::string& key, std::chrono::nanoseconds delay);
  // The pods bound to this node, from the cache.
  std::vector<ObjectPtr> BoundPods() const;
  void OnPodDeleted(const Json& pod);
  absl::Status SyncPod(const std::string& key);
  absl::StatusOr<RuntimePod> GetRuntimePod(const std::string& uid);
  absl::Status SyncRunningPod(const Json& pod, PodState* st_copy);
  v1::PodSandboxConfig SandboxConfig(const Json& pod, uint32_t attempt) const;
  absl::Status StartContainer(const Json& pod, const Json& c, const v1::PodSandboxConfig& sb,
                              const std::string& sandbox_id, uint32_t attempt, bool init,
                              const std::string& target_container_id = "");
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

  // eviction.cc
  void EvictionTick();
  // Upstream's local storage eviction: pods over an emptyDir sizeLimit, their containers'
  // ephemeral-storage limits (summed) or a container's own limit are evicted at once, whatever
  // the node's pressure. Returns whether any was.
  bool LocalStorageEviction(const EvictionObservation& obs);
  // Marks the pod evicted with `message` and hands it to its sync (events included).
  void StartEviction(const Json& pod, const std::string& message, int64_t grace,
                     bool disruption_condition, const Json& annotations = Json());
  // The active pods of this node that may be evicted (not terminal, deleted, mirror or evicted).
  std::vector<Json> EvictionCandidates();
  // Carries out a pending eviction or admission rejection in the pod's sync: stops what runs
  // (`kill.grace` seconds, preStop hooks when > 1) and writes the final Failed/Evicted status.
  absl::Status FinishPodKill(const Json& pod, const PodState::PendingKill& kill);
  // Admission under node pressure (upstream's eviction admit handler): "" when admitted, else
  // the rejection message.
  std::string AdmitMessage(const Json& pod) const;
  // Posts a core/v1 Event (source kubelet on this node) about `pod`, or about this node when
  // `pod` is null. Synchronous; failures are logged.
  void RecordEvent(const Json* pod, const std::string& type, const std::string& reason,
                   const std::string& message, const Json& annotations = Json());
  // image_gc.cc: the periodic GC at the high threshold; and removing unused images (oldest
  // first, at least minimum_age old) until `bytes` are freed (< 0: all). Returns bytes freed.
  void ImageGcTick();
  int64_t GarbageCollectImages(int64_t bytes);

  // static_pods.cc
  void ScanStaticPods();
  std::optional<Json> StaticPod(const std::string& key) const;
  std::string StaticPodKeyByUid(const std::string& uid) const;
  // The mirror pod of `static_pod` in the cache (null if none).
  ObjectPtr MirrorPodOf(const Json& static_pod) const;
  // Deletes, re-creates or creates the mirror pod as needed.
  void SyncMirrorPod(const Json& static_pod);
  absl::Status DeleteMirrorPod(const Json& mirror);

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

// static_pods.cc: the pod of one manifest file as the kubelet runs it (name <name>-<node>,
// hash UID, config annotations, NoExecute toleration, defaults).
absl::StatusOr<Json> StaticPodFromManifest(const std::string& path, const std::string& content,
                                           const std::string& node_name);
// The container or init container of the pod's spec named `name` (points into `pod`); null if
// none.
const Json* SpecContainer(const Json& pod, const std::string& name);
bool IsStaticPod(const Json& pod);  // annotation kubernetes.io/config.source=file
bool IsMirrorPod(const Json& pod);  // annotation kubernetes.io/config.mirror

// volumes.cc: whether a projected token must be requested again: at 80% of its lifetime or
// 24 h after it was issued (upstream's token manager, without the jitter).
bool TokenNeedsRefresh(std::chrono::system_clock::time_point expiration, int64_t expiration_seconds,
                       std::chrono::system_clock::time_point now);

// eviction.cc
// Pod uids in eviction order for `signal`: usage above requests first, then lowest priority,
// then largest usage above the request.
std::vector<std::string> RankForEviction(const std::vector<Json>& pods,
                                         const EvictionObservation& obs, EvictionSignal signal);
bool IsCriticalPod(const Json& pod);
std::string FormatBinaryQuantity(int64_t bytes);
// resource.Quantity's String() for a count in DecimalSI ("1500", "2k", "3M").
std::string FormatDecimalQuantity(int64_t n);
// The local storage limit `pod` exceeds in `usage` (upstream's message), or "".
std::string LocalStorageViolation(const Json& pod, const EvictionObservation::Pod& usage);
// Upstream's eviction message: "The node was low on resource: memory. Threshold quantity: 100Mi,
// available: 50Mi. Container c was using 200Mi, request is 10Mi, has larger consumption of
// memory. " (one sentence per container, init containers included, whose usage exceeds its
// request).
std::string EvictionMessage(const Json& pod, const EvictionObservation& obs, EvictionSignal signal,
                            int64_t threshold, int64_t available, Json* annotations = nullptr);
// Upstream's admit handler on the node's pressure conditions: "" to admit, else "The node had
// condition: [MemoryPressure DiskPressure]. ". Under memory pressure alone only BestEffort pods
// not tolerating node.kubernetes.io/memory-pressure:NoSchedule are rejected; under disk or PID
// pressure every pod is; critical pods never are.
std::string AdmitUnderPressure(const Json& pod, bool memory_pressure, bool disk_pressure,
                               bool pid_pressure);
// The status of a pod the kubelet ended (upstream's status manager TerminatePod): containers
// (and init containers up to the last one that started) without a terminated state get
// terminated/ContainerStatusUnknown, exit code 137.
void TerminateContainerStatuses(Json* status);

// group.cc: the KubeletGroup seam.
client::SharedInformer* GroupInformer(KubeletGroup::Impl* g);
void GroupRegister(KubeletGroup::Impl* g, Kubelet::Impl* k);
// Removes `k` and waits until no group worker is inside it.
void GroupUnregister(KubeletGroup::Impl* g, Kubelet::Impl* k);
void GroupEnqueue(KubeletGroup::Impl* g, const std::string& node, const std::string& pod_key,
                  std::chrono::nanoseconds delay);

// "namespace/name".
std::string PodKey(const Json& pod);
std::string PodUid(const Json& pod);

}  // namespace korral::kubelet
