// korral/controllers/disruption/disruption.h: the disruption controller (upstream
// pkg/controller/disruption): keeps PodDisruptionBudget status up to date.
//
// For each PDB: the pods in its namespace matching spec.selector (policy/v1: an empty selector
// selects every pod in the namespace); currentHealthy = those Ready and not being deleted;
// expectedPods and desiredHealthy from spec.minAvailable (an integer: expected = matching pods,
// desired = the integer; a percentage: expected = the replicas of the pods' controllers, desired =
// ceil(pct * expected)) or spec.maxUnavailable (expected = controllers' replicas, desired =
// expected - maxUnavailable, a percentage rounded up); disruptionsAllowed =
// max(0, currentHealthy - desiredHealthy); the DisruptionAllowed condition (SufficientPods /
// InsufficientPods); observedGeneration. Controllers' scale is read from ReplicaSets (through
// their Deployment when they have one), StatefulSets and ReplicationControllers.
// TODO(korral): the eviction subresource's disruptedPods bookkeeping, unhealthyPodEvictionPolicy.
#pragma once

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

class DisruptionController : public Controller {
 public:
  explicit DisruptionController(ControllerContext& ctx);
  std::string_view Name() const override { return "disruption-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& key);
  QueueWorker& worker() { return worker_; }

 private:
  absl::StatusOr<int64_t> ExpectedScale(const std::vector<client::ObjectPtr>& pods);

  ControllerContext ctx_;
  client::SharedInformer* pdbs_;
  client::SharedInformer* pods_;
  QueueWorker worker_;
};

ControllerDescriptor DisruptionControllerDescriptor();

}  // namespace korral::controllers
