// korral/controllers/endpoints/endpoints_controller.h: the endpoints controller (upstream
// pkg/controller/endpoint) and helpers shared with the EndpointSlice controllers.
//
// For every Service with a selector it keeps an Endpoints object of the same name: pods in the
// namespace matching the selector that have a podIP and are not terminal or terminating; ready
// pods under `addresses`, others under `notReadyAddresses` (all under `addresses` with
// spec.publishNotReadyAddresses); each service port resolved against the pod (a named targetPort
// through the pod's container port names; pods lacking it are left out of that port); subsets
// repacked so that addresses with the same ports share a subset (upstream RepackSubsets), sorted.
// Services without a selector are left alone (their Endpoints are the user's); a deleted Service's
// Endpoints are deleted.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

// The pod port a Service port maps to (targetPort as a number, or a container port name, or
// `port` when targetPort is unset). nullopt when a named port is missing from the pod.
std::optional<int> ResolveTargetPort(const Json& service_port, const Json& pod);
// The keys ("ns/name") of services in `services` (an informer) whose selector matches `pod`.
std::vector<std::string> ServicesSelectingPod(const client::Indexer& services, const Json& pod);
// Enqueues, for a pod event, the services selecting the old and new pod.
client::ResourceEventHandler PodToServiceHandler(const client::Indexer& services,
                                                 QueueWorker& worker);
// The pod's IPv4 address ("" if none).
std::string PodIP(const Json& pod);

class EndpointsController : public Controller {
 public:
  explicit EndpointsController(ControllerContext& ctx);
  std::string_view Name() const override { return "endpoints-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& key);
  QueueWorker& worker() { return worker_; }
  // The subsets for `service` given the pods (exposed for tests).
  static Json ComputeSubsets(const Json& service, const std::vector<client::ObjectPtr>& pods);

 private:
  ControllerContext ctx_;
  client::SharedInformer* services_;
  client::SharedInformer* pods_;
  client::SharedInformer* endpoints_;
  QueueWorker worker_;
};

ControllerDescriptor EndpointsControllerDescriptor();

}  // namespace korral::controllers
