// korral/scheduler/scheduler.h: the scheduler core (upstream pkg/scheduler: scheduler.go,
// schedule_one.go, eventhandlers.go).
//
// Fed with pod/node/namespace events (by informers in server.h, or directly by benchmarks and
// tests), it keeps the cache and the queue, runs one scheduling cycle at a time on its own thread
// (PreFilter, Filter over a percentage of nodes, PostFilter, PreScore, Score, Reserve, Permit),
// assumes the pod and binds asynchronously on a pool of binding threads (PreBind, Bind,
// PostBind). Failures update the PodScheduled condition and emit FailedScheduling events with
// upstream's message; successes emit Scheduled.
//
// All API side effects go through SchedulerApi, so the core runs against an apiserver, a fake
// client or nothing at all (benchmarks).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "korral/base/clock.h"
#include "korral/scheduler/cache.h"
#include "korral/scheduler/framework.h"
#include "korral/scheduler/metrics.h"
#include "korral/scheduler/queue.h"

namespace korral::scheduler {

// The API writes the scheduler makes. Implementations must be thread-safe.
class SchedulerApi {
 public:
  virtual ~SchedulerApi() = default;
  // POST pods/NAME/binding.
  virtual absl::Status Bind(const PodInfo& pod, const std::string& node) = 0;
  virtual absl::Status DeletePod(const PodInfo& pod) = 0;
  // Sets the PodScheduled condition (and status.nominatedNodeName when `nominated` is non-null;
  // "" clears it).
  virtual absl::Status UpdatePodScheduledCondition(const PodInfo& pod, const std::string& reason,
                                                   const std::string& message,
                                                   const std::string* nominated) = 0;
  // type "Normal"/"Warning", reason "Scheduled"/"FailedScheduling"/"Preempted", action
  // "Binding"/"Scheduling"/"Preempting".
  virtual void RecordEvent(const PodInfo& pod, const std::string& type, const std::string& reason,
                           const std::string& action, const std::string& message) = 0;
  // PUT of a PersistentVolume (`claim` false) or PersistentVolumeClaim (its status subresource
  // when `status`); returns the stored object (VolumeBinding's PreBind). Default: no API, the
  // object is returned as is.
  virtual absl::StatusOr<Json> UpdateVolumeObject(bool claim, const Json& object, bool status) {
    (void)claim;
    (void)status;
    return object;
  }
};

struct SchedulerOptions {
  std::vector<ProfileConfig> profiles;   // empty: one "default-scheduler" profile
  int percentage_of_nodes_to_score = 0;  // 0: adaptive (50 - nodes/125, at least 5)
  QueueOptions queue;
  int bind_workers = 8;
  const Clock* clock = nullptr;  // default Clock::Real()
  uint64_t seed = 0;             // tie-breaking between equal scores (0: random)
  Registry registry;             // empty: the in-tree registry
};

class Scheduler : public Handle {
 public:
  static absl::StatusOr<std::unique_ptr<Scheduler>> New(SchedulerOptions options,
                                                        SchedulerApi* api);
  ~Scheduler() override;

  // ---- the event feed (eventhandlers.go) ----
  void OnPodAdd(const PodInfoPtr& pod);
  void OnPodUpdate(const PodInfoPtr& old_pod, const PodInfoPtr& new_pod);
  void OnPodDelete(const PodInfoPtr& pod);
  void OnNodeAdd(const NodePtr& node);
  void OnNodeUpdate(const NodePtr& old_node, const NodePtr& new_node);
  void OnNodeDelete(const NodePtr& node);
  void OnNamespace(const std::string& name, Labels labels, bool deleted);
  void OnPdb(const std::string& key, std::optional<PdbInfo> pdb);  // nullopt: deleted
  // PersistentVolumeClaims, PersistentVolumes and StorageClasses (null new object: deleted).
  void OnPvc(const std::string& key, PvcPtr pvc);
  void OnPv(const std::string& name, PvPtr pv);
  void OnStorageClass(const std::string& name, StorageClassPtr sc);
  void SetDefaultSelectorsFunc(std::function<std::vector<LabelSelector>(const PodInfo&)> f);

  // Runs one scheduling cycle if a pod arrives within `timeout`; false if none did.
  bool ScheduleOne(std::chrono::milliseconds timeout);
  // Starts the scheduling thread and the binding workers.
  void Start();
  // Stops them (waits for in-flight bindings).
  void Stop();
  // Waits until no binding is in flight (tests, benchmarks).
  void WaitForBindings();

  Cache& cache() { return cache_; }
  SchedulingQueue& queue() { return *queue_; }
  Metrics& metrics() { return metrics_; }
  // The Prometheus text of metrics(), with scheduler_pending_pods read from the queue now.
  std::string RenderMetrics();
  Framework* Profile(const std::string& scheduler_name);

  // Handle.
  const Snapshot& snapshot() const override { return *snapshot_; }
  std::vector<PodInfoPtr> NominatedPodsForNode(const std::string& node) const override;
  bool HasNominatedPods() const override;
  std::vector<PdbInfo> Pdbs() const override;
  std::vector<LabelSelector> DefaultSpreadSelectors(const PodInfo& pod) const override;
  Framework* FrameworkFor(const PodInfo& pod) override { return Profile(pod.scheduler_name); }
  absl::Status BindPod(const PodInfo& pod, const std::string& node) override;
  absl::Status DeletePod(const PodInfo& pod, const std::string& msg) override;
  absl::Status ClearNominatedNodeName(const PodInfo& pod) override;
  VolumeStore* Volumes() override { return &volumes_; }
  absl::StatusOr<Json> UpdateVolumeObject(bool claim, const Json& object, bool status) override;

 private:
  Scheduler(SchedulerOptions options, SchedulerApi* api);
  struct ScheduleResult {
    std::string host;
    int evaluated = 0;
    int feasible = 0;
  };
  // Returns the chosen node; on failure `status` is set and `diagnosis` explains it.
  std::optional<ScheduleResult> SchedulePod(Framework& fw, CycleState& state, const PodInfo& pod,
                                            Diagnosis* diagnosis, Status* status);
  std::vector<NodeInfo*> FindNodesThatFit(Framework& fw, CycleState& state, const PodInfo& pod,
                                          Diagnosis* diagnosis, Status* status);
  int NumFeasibleNodesToFind(Framework& fw, int num_all) const;
  void HandleFailure(Framework& fw, QueuedPodInfo qpi, const Status& status,
                     const Diagnosis& diagnosis, const std::string& nominated, int64_t cycle,
                     const std::string& message);
  void BindingCycle(Framework* fw, std::shared_ptr<CycleState> state, QueuedPodInfo qpi,
                    PodInfoPtr assumed, int64_t cycle, std::chrono::steady_clock::time_point start);
  bool Responsible(const PodInfo& pod) const;
  void Submit(std::function<void()> task);
  void WorkerLoop();

  SchedulerOptions options_;
  SchedulerApi* api_;
  const Clock& clock_;
  std::vector<std::unique_ptr<Framework>> profiles_;
  Cache cache_;
  VolumeStore volumes_;
  std::unique_ptr<SchedulingQueue> queue_;
  std::shared_ptr<Snapshot> snapshot_;
  Metrics metrics_;
  std::mt19937_64 rng_;
  size_t next_start_node_index_ = 0;
  std::vector<std::pair<NodeInfo*, Status>> rejected_;  // FindNodesThatFit's scratch

  mutable std::mutex pdb_mu_;
  std::map<std::string, PdbInfo> pdbs_;
  std::function<std::vector<LabelSelector>(const PodInfo&)> default_selectors_;

  std::atomic<bool> stop_{false};
  std::thread loop_;
  std::vector<std::thread> workers_;
  std::mutex work_mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<std::function<void()>> work_;
  int busy_ = 0;
  bool workers_stop_ = false;
};

}  // namespace korral::scheduler
