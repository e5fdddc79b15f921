// korral/controllers/replicaset/replicaset.h: the ReplicaSet controller (upstream
// pkg/controller/replicaset). Keeps spec.replicas active pods per ReplicaSet: creates pods from
// the template in slow-start batches (at most 500 per sync), deletes surplus pods ranked as
// upstream (unscheduled, pending, not ready, lower deletion cost, doubled-up, newer first),
// adopts matching orphans and releases pods whose labels stopped matching, and reports
// status.replicas/fullyLabeledReplicas/readyReplicas/availableReplicas/observedGeneration and
// the ReplicaFailure condition.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/pod_summary.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

// Upstream's burstReplicas: the most pods created or deleted in one sync.
inline constexpr int kBurstReplicas = 500;

// Sorts `pods` so that the ones to delete first come first (upstream ActivePodsWithRanks with
// LogarithmicScaleDown). `ranks[i]` is the number of related pods on pod i's node.
void SortPodsForDeletion(std::vector<ObjectPtr>& pods, const std::vector<int>& ranks,
                         TimePoint now);
void SortPodsForDeletion(std::vector<PodSummaryPtr>& pods, const std::vector<int>& ranks,
                         TimePoint now);

class ReplicaSetController : public QueueController {
 public:
  explicit ReplicaSetController(ControllerContext& ctx);
  ~ReplicaSetController() override;
  absl::Status Sync(const std::string& key) override;
  Expectations& expectations() { return expectations_; }

 private:
  void OnPodAdd(const ObjectPtr& pod);
  void OnPodUpdate(const ObjectPtr& old_pod, const ObjectPtr& new_pod);
  void OnPodDelete(const ObjectPtr& pod);
  // The ReplicaSet key a pod's controllerRef points to (if it is a cached ReplicaSet).
  std::string ResolveControllerRef(const std::string& ns, const Json& ref);
  std::vector<ObjectPtr> ReplicaSetsMatchingPod(const Json& pod);
  // `active`: the pods the ReplicaSet owns (claimed, active).
  absl::Status ManageReplicas(const std::vector<PodSummaryPtr>& active, const Json& rs,
                              const std::string& key);
  // Summaries of the pods of every ReplicaSet with the same controller.
  std::vector<PodSummaryPtr> RelatedPods(const Json& rs);

  client::SharedInformer* rs_informer_;
  client::SharedInformer* pod_informer_;
  Expectations expectations_;
};

}  // namespace workload

ControllerDescriptor ReplicaSetControllerDescriptor();

}  // namespace korral::controllers
