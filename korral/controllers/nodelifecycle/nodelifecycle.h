// korral/controllers/nodelifecycle/nodelifecycle.h: the node lifecycle controller (upstream
// pkg/controller/nodelifecycle) with taint-based eviction (pkg/controller/tainteviction).
//
// Every node_monitor_period (on the controller's clock):
//  * Health: a node is heard from when its Lease (kube-node-lease/<node>) spec.renewTime or its
//    Ready condition's lastHeartbeatTime changes. Silent for longer than
//    node_monitor_grace_period (node_startup_grace_period before its first Ready condition), its
//    Ready, MemoryPressure, DiskPressure and PIDPressure conditions become Unknown (reason
//    NodeStatusUnknown, "Kubelet stopped posting node status.") and its pods' Ready condition
//    False.
//  * Taints: Ready False -> node.kubernetes.io/not-ready, Ready Unknown ->
//    node.kubernetes.io/unreachable, as NoSchedule at once and as NoExecute (timeAdded set)
//    rate-limited per zone (node_eviction_rate per second in a healthy zone; a zone with at least
//    unhealthy_zone_threshold of its nodes not ready is PartiallyDisrupted and uses
//    secondary_node_eviction_rate if larger than large_cluster_size_threshold, else 0; when every
//    zone is fully disrupted, no NoExecute taints are added, as upstream). All of them are removed
//    once the node is Ready again.
//  * Eviction: a pod on a node with NoExecute taints is deleted at once if it does not tolerate
//    them all, else at taint.timeAdded + the smallest tolerationSeconds of the tolerations used
//    (never if none sets tolerationSeconds).
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "korral/client/rate_limiter.h"
#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

inline constexpr char kTaintUnreachable[] = "node.kubernetes.io/unreachable";
inline constexpr char kTaintNotReady[] = "node.kubernetes.io/not-ready";

// True if `tolerations` (pod spec.tolerations) tolerate `taint`.
bool ToleratesTaint(const Json& tolerations, const Json& taint);

class NodeLifecycleController : public Controller {
 public:
  explicit NodeLifecycleController(ControllerContext& ctx);
  ~NodeLifecycleController() override;
  std::string_view Name() const override { return "node-lifecycle-controller"; }
  void Run(int workers) override;
  void Stop() override;

  // One pass of each loop (tests call these after advancing the fake clock).
  absl::Status MonitorNodeHealth();
  absl::Status ProcessEvictions();

 private:
  struct Health {
    std::string lease_renew;                      // last seen Lease spec.renewTime
    std::string heartbeat;                        // last seen Ready lastHeartbeatTime
    std::string ready_status;                     // last seen Ready status
    std::chrono::steady_clock::time_point probe;  // when we last heard from the node
  };
  struct Zone {
    std::unique_ptr<client::TokenBucket> limiter;
    double rate = -1;
  };
  absl::Status UpdateNode(const Json& node, bool* tainted_noexecute);
  absl::Status MarkPodsNotReady(const std::string& node);
  client::TokenBucket* ZoneLimiter(const std::string& zone, double rate);

  ControllerContext ctx_;
  client::SharedInformer* nodes_;
  client::SharedInformer* leases_;
  client::SharedInformer* pods_;
  std::mutex mu_;
  std::map<std::string, Health> health_;
  std::map<std::string, Zone> zones_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  std::thread thread_;
};

ControllerDescriptor NodeLifecycleControllerDescriptor();

}  // namespace korral::controllers
