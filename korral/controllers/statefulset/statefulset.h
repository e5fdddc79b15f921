// korral/controllers/statefulset/statefulset.h: the StatefulSet controller (upstream
// pkg/controller/statefulset).
//
// Pods <set>-<ordinal> for ordinals spec.ordinals.start .. start+replicas-1, with hostname
// <pod>, subdomain spec.serviceName, the labels statefulset.kubernetes.io/pod-name,
// apps.kubernetes.io/pod-index and controller-revision-hash, and one PersistentVolumeClaim per
// volumeClaimTemplate named <template>-<pod> (created before the pod, kept by default).
// OrderedReady creates in ordinal order, each pod only once the lower ones are Running and
// Ready, and scales down from the highest ordinal one at a time; Parallel does both at once.
// Rolling updates replace pods from the highest ordinal down to spec.updateStrategy
// .rollingUpdate.partition, one at a time; OnDelete only uses the new revision for pods that
// were deleted. Failed pods are recreated. Status: replicas, readyReplicas, availableReplicas,
// currentReplicas, updatedReplicas, currentRevision, updateRevision, observedGeneration.
#pragma once

#include <string>

#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

class StatefulSetController : public QueueController {
 public:
  explicit StatefulSetController(ControllerContext& ctx);
  ~StatefulSetController() override;
  absl::Status Sync(const std::string& key) override;

 private:
  void OnPod(const ObjectPtr& pod);
  client::SharedInformer* sts_informer_;
  client::SharedInformer* pod_informer_;
  client::SharedInformer* rev_informer_;
  client::SharedInformer* pvc_informer_;
};

}  // namespace workload

ControllerDescriptor StatefulSetControllerDescriptor();

}  // namespace korral::controllers
