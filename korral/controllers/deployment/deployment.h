// korral/controllers/deployment/deployment.h: the Deployment controller (upstream
// pkg/controller/deployment).
//
// Owns ReplicaSets named <deployment>-<pod-template-hash>; the new ReplicaSet's template carries
// the pod-template-hash label and its selector requires it. RollingUpdate (maxSurge /
// maxUnavailable) and Recreate, proportional scaling of all ReplicaSets during a rollout, the
// deployment.kubernetes.io/{revision,revision-history,desired-replicas,max-replicas}
// annotations, revisionHistoryLimit cleanup, pause/resume, and the Available / Progressing /
// ReplicaFailure conditions with upstream's reasons (NewReplicaSetCreated, FoundNewReplicaSet,
// ReplicaSetUpdated, NewReplicaSetAvailable, ProgressDeadlineExceeded, DeploymentPaused,
// DeploymentResumed, MinimumReplicasAvailable, MinimumReplicasUnavailable, ...).
//
// `kubectl rollout undo` works client-side (kubectl copies an old ReplicaSet's template into
// the Deployment); the controller then finds that ReplicaSet again by template and gives it the
// next revision, as upstream does.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

inline constexpr char kRevisionAnnotation[] = "deployment.kubernetes.io/revision";
inline constexpr char kRevisionHistoryAnnotation[] = "deployment.kubernetes.io/revision-history";
inline constexpr char kDesiredReplicasAnnotation[] = "deployment.kubernetes.io/desired-replicas";
inline constexpr char kMaxReplicasAnnotation[] = "deployment.kubernetes.io/max-replicas";
inline constexpr char kPodTemplateHashLabel[] = "pod-template-hash";

class DeploymentController : public QueueController {
 public:
  explicit DeploymentController(ControllerContext& ctx);
  ~DeploymentController() override;
  absl::Status Sync(const std::string& key) override;

  struct SyncState;

 private:
  void OnRsAdd(const ObjectPtr& rs);
  void OnRsUpdate(const ObjectPtr& old_rs, const ObjectPtr& new_rs);
  void OnRsDelete(const ObjectPtr& rs);
  void OnPodDelete(const ObjectPtr& pod);
  std::string ResolveControllerRef(const std::string& ns, const Json& ref);
  void EnqueueDeploymentsMatching(const Json& rs);

  client::SharedInformer* d_informer_;
  client::SharedInformer* rs_informer_;
  client::SharedInformer* pod_informer_;
};

}  // namespace workload

ControllerDescriptor DeploymentControllerDescriptor();

}  // namespace korral::controllers
