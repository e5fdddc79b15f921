// korral/controllers/registry.cc: every controller korral has, in start order (upstream:
// NewControllerDescriptors in cmd/kube-controller-manager/app/controllermanager.go).
//
// Each controller folder korral/controllers/<name>/ defines one function returning its
// descriptor; declare it below and list it in AllControllers(). Its CMake library
// (korral::controller_<name>) is linked by korral/controllers/CMakeLists.txt.
#include "korral/controllers/controller.h"

namespace korral::controllers {

// --- core controllers (controller-manager engineer) ---
ControllerDescriptor NamespaceControllerDescriptor();
ControllerDescriptor ServiceAccountControllerDescriptor();
ControllerDescriptor RootCACertPublisherDescriptor();
ControllerDescriptor GarbageCollectorControllerDescriptor();
ControllerDescriptor EndpointsControllerDescriptor();
ControllerDescriptor EndpointSliceControllerDescriptor();
ControllerDescriptor EndpointSliceMirroringControllerDescriptor();
ControllerDescriptor PodGCControllerDescriptor();
ControllerDescriptor NodeLifecycleControllerDescriptor();
ControllerDescriptor NodeIpamControllerDescriptor();
ControllerDescriptor EventGCControllerDescriptor();
ControllerDescriptor TokenCleanerControllerDescriptor();
ControllerDescriptor ResourceQuotaControllerDescriptor();
ControllerDescriptor DisruptionControllerDescriptor();
ControllerDescriptor CsrSigningControllerDescriptor();
ControllerDescriptor CsrApprovingControllerDescriptor();
ControllerDescriptor KubeletServingCsrApprovingControllerDescriptor();
ControllerDescriptor PersistentVolumeBinderControllerDescriptor();  // volume/ (storage)
ControllerDescriptor PvcProtectionControllerDescriptor();           // volume/ (storage)
ControllerDescriptor PvProtectionControllerDescriptor();            // volume/ (storage)

// --- workload controllers (workloads engineer): declare your descriptor functions here ---
// BEGIN workload controller declarations
ControllerDescriptor ReplicaSetControllerDescriptor();
ControllerDescriptor DeploymentControllerDescriptor();
ControllerDescriptor JobControllerDescriptor();
ControllerDescriptor CronJobControllerDescriptor();
ControllerDescriptor TtlAfterFinishedControllerDescriptor();
ControllerDescriptor DaemonSetControllerDescriptor();
ControllerDescriptor StatefulSetControllerDescriptor();
// END workload controller declarations

std::vector<ControllerDescriptor> AllControllers() {
  std::vector<ControllerDescriptor> all;
  // BEGIN core controllers
  all.push_back(NamespaceControllerDescriptor());
  all.push_back(ServiceAccountControllerDescriptor());
  all.push_back(RootCACertPublisherDescriptor());
  all.push_back(GarbageCollectorControllerDescriptor());
  all.push_back(EndpointsControllerDescriptor());
  all.push_back(EndpointSliceControllerDescriptor());
  all.push_back(EndpointSliceMirroringControllerDescriptor());
  all.push_back(PodGCControllerDescriptor());
  all.push_back(NodeLifecycleControllerDescriptor());
  all.push_back(NodeIpamControllerDescriptor());
  all.push_back(EventGCControllerDescriptor());
  all.push_back(TokenCleanerControllerDescriptor());
  all.push_back(ResourceQuotaControllerDescriptor());
  all.push_back(DisruptionControllerDescriptor());
  all.push_back(CsrSigningControllerDescriptor());
  all.push_back(CsrApprovingControllerDescriptor());
  all.push_back(KubeletServingCsrApprovingControllerDescriptor());
  all.push_back(PersistentVolumeBinderControllerDescriptor());
  all.push_back(PvcProtectionControllerDescriptor());
  all.push_back(PvProtectionControllerDescriptor());
  // END core controllers

  // --- workload controllers (workloads engineer): one push_back per controller ---
  // BEGIN workload controllers
  all.push_back(ReplicaSetControllerDescriptor());
  all.push_back(DeploymentControllerDescriptor());
  all.push_back(JobControllerDescriptor());
  all.push_back(CronJobControllerDescriptor());
  all.push_back(TtlAfterFinishedControllerDescriptor());
  all.push_back(DaemonSetControllerDescriptor());
  all.push_back(StatefulSetControllerDescriptor());
  // END workload controllers
  return all;
}

}  // namespace korral::controllers
