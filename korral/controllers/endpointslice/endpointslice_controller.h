// korral/controllers/endpointslice/endpointslice_controller.h: the EndpointSlice controller
// (upstream pkg/controller/endpointslice) and the EndpointSlice mirroring controller
// (pkg/controller/endpointslicemirroring).
//
// EndpointSliceController: for every Service with a selector, EndpointSlices labelled
// kubernetes.io/service-name=<svc> and endpointslice.kubernetes.io/managed-by=
// endpointslice-controller.k8s.io, owned by the Service: one endpoint per matching pod with a
// podIP that is not terminal, with conditions ready (serving and not terminating), serving (pod
// Ready) and terminating (deletionTimestamp set); ports resolved per pod as for Endpoints; pods
// grouped by port list, at most 100 endpoints per slice. Existing slices are updated in place,
// missing ones created, extra ones deleted. A Service with no pods gets one empty slice.
//
// EndpointSliceMirroringController: for Services without a selector, mirrors the user's
// Endpoints into slices managed by endpointslicemirroring-controller.k8s.io (one slice per
// subset), unless the Endpoints carry endpointslice.kubernetes.io/skip-mirror=true.
#pragma once

#include <map>
#include <mutex>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

inline const client::ResourceRef kEndpointSlices{"discovery.k8s.io", "v1", "endpointslices", true};

class EndpointSliceController : public Controller {
 public:
  // `mirroring`: run as the mirroring controller instead.
  EndpointSliceController(ControllerContext& ctx, bool mirroring);
  std::string_view Name() const override {
    return mirroring_ ? "endpointslice-mirroring-controller" : "endpointslice-controller";
  }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& key);
  QueueWorker& worker() { return worker_; }

  // Desired slices (without metadata names) for a service: each {"ports":[..],"endpoints":[..]}.
  static std::vector<Json> DesiredSlices(const Json& service,
                                         const std::vector<client::ObjectPtr>& pods,
                                         size_t max_per_slice = 100);
  static std::vector<Json> MirroredSlices(const Json& endpoints);

 private:
  absl::Status Reconcile(const Json& service, std::vector<Json> desired);

  // What we wrote last per service (slice name -> resourceVersion, 0 for deleted), so a sync
  // does not act on a cache that has not seen our own writes yet (upstream's
  // endpointSliceTracker).
  bool CacheCaughtUp(const std::string& service_key);
  void RecordWrite(const std::string& service_key, const std::string& slice, int64_t rv);
  std::mutex written_mu_;
  std::map<std::string, std::map<std::string, int64_t>> written_;

  ControllerContext ctx_;
  const bool mirroring_;
  const std::string manager_;
  client::SharedInformer* services_;
  client::SharedInformer* pods_;
  client::SharedInformer* endpoints_;
  client::SharedInformer* slices_;
  QueueWorker worker_;
};

ControllerDescriptor EndpointSliceControllerDescriptor();
ControllerDescriptor EndpointSliceMirroringControllerDescriptor();

}  // namespace korral::controllers
