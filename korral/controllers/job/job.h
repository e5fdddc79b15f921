// korral/controllers/job/job.h: the Job controller (upstream pkg/controller/job, 1.32
// behaviour).
//
// Pods carry the batch.kubernetes.io/job-tracking finalizer; a finished pod is first recorded in
// status.uncountedTerminatedPods, then its finalizer is removed, then it moves into
// status.succeeded / status.failed, so no pod is counted twice or lost across restarts.
// NonIndexed and Indexed completion modes (batch.kubernetes.io/job-completion-index annotation
// and label, hostname <job>-<index>, JOB_COMPLETION_INDEX env), parallelism / completions,
// backoffLimit with exponential pod-creation backoff (10 s .. 6 min), backoffLimitPerIndex with
// maxFailedIndexes, podFailurePolicy (FailJob / Ignore / Count / FailIndex on exit codes or pod
// conditions), activeDeadlineSeconds, suspend / resume, and the conditions FailureTarget /
// SuccessCriteriaMet (interim) then Failed / Complete once no pod is terminating, with
// upstream's reasons and messages.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

inline constexpr char kJobTrackingFinalizer[] = "batch.kubernetes.io/job-tracking";
inline constexpr char kJobCompletionIndexAnnotation[] = "batch.kubernetes.io/job-completion-index";
inline constexpr char kJobIndexFailureCountAnnotation[] =
    "batch.kubernetes.io/job-index-failure-count";

// "1,3-5,7" <-> {1,3,4,5,7} (indexes >= `limit` are dropped when parsing).
std::set<int64_t> ParseIndexes(const std::string& s, int64_t limit);
std::string FormatIndexes(const std::set<int64_t>& indexes);

class JobController : public QueueController {
 public:
  explicit JobController(ControllerContext& ctx);
  ~JobController() override;
  absl::Status Sync(const std::string& key) override;

  struct SyncCtx;

 private:
  void OnPodAdd(const ObjectPtr& pod);
  void OnPodUpdate(const ObjectPtr& old_pod, const ObjectPtr& new_pod);
  void OnPodDelete(const ObjectPtr& pod);
  std::string ResolveControllerRef(const std::string& ns, const Json& ref);

  // Finalizer-removal expectations: pod uids per job key.
  void ExpectFinalizersRemoved(const std::string& key, const std::vector<std::string>& uids);
  void FinalizerRemovalObserved(const std::string& key, const std::string& uid);
  std::set<std::string> ExpectedRemovals(const std::string& key);

  struct Backoff {
    int failures_after_last_success = 0;
    TimePoint last_failure;
  };

  client::SharedInformer* job_informer_;
  client::SharedInformer* pod_informer_;
  Expectations expectations_;
  std::mutex mu_;
  std::map<std::string, std::set<std::string>> finalizer_expectations_;
  std::map<std::string, Backoff> backoff_;
  std::map<std::string, std::map<int64_t, TimePoint>> index_failure_time_;
};

}  // namespace workload

ControllerDescriptor JobControllerDescriptor();

}  // namespace korral::controllers
