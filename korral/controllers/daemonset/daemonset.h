// korral/controllers/daemonset/daemonset.h: the DaemonSet controller (upstream
// pkg/controller/daemon).
//
// One pod per eligible node: a node is eligible when the template's nodeName (if any),
// nodeSelector and required node affinity match it and every NoSchedule/NoExecute taint is
// tolerated (the daemon tolerations upstream adds are added here too); pods keep running on a
// node with untolerated NoSchedule taints as long as NoExecute ones are tolerated. Pods are
// pinned with a required node affinity on metadata.name (the scheduler binds them), carry the
// controller-revision-hash label, and the template history lives in ControllerRevisions.
// RollingUpdate with maxUnavailable (delete old, then create) or maxSurge (create new, then
// delete old once available), OnDelete, failed-pod replacement with backoff, and the status
// counters kubectl rollout status reads.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

// (should run, should continue running) for a DaemonSet's pods on `node` (upstream
// NodeShouldRunDaemonPod).
std::pair<bool, bool> NodeShouldRunDaemonPod(const Json& node, const Json& ds);
// The template's pod spec with the daemon tolerations added.
Json DaemonPodSpec(const Json& ds);
// True when every requirement of `term` (matchExpressions on labels, matchFields on
// metadata.name) holds for `node`.
bool NodeSelectorTermMatches(const Json& term, const Json& node);

class DaemonSetController : public QueueController {
 public:
  explicit DaemonSetController(ControllerContext& ctx);
  ~DaemonSetController() override;
  absl::Status Sync(const std::string& key) override;

 private:
  void OnPod(const ObjectPtr& pod, bool added, bool deleted);
  std::string ResolveControllerRef(const std::string& ns, const Json& ref);
  void EnqueueAll();

  client::SharedInformer* ds_informer_;
  client::SharedInformer* pod_informer_;
  client::SharedInformer* node_informer_;
  client::SharedInformer* rev_informer_;
  Expectations expectations_;
  std::mutex mu_;
  // Failed-pod backoff per "ds key/node": (delay, last attempt).
  std::map<std::string, std::pair<std::chrono::seconds, TimePoint>> failed_backoff_;
};

}  // namespace workload

ControllerDescriptor DaemonSetControllerDescriptor();

}  // namespace korral::controllers
