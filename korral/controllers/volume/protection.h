// korral/controllers/volume/protection.h: the storage object in-use protection controllers
// (upstream pkg/controller/volume/pvcprotection and pvprotection).
//
//   persistentvolumeclaim-protection-controller: removes the kubernetes.io/pvc-protection
//     finalizer of a claim being deleted once no scheduled pod uses it (checked in the pod
//     cache, then with a live list of the namespace's pods, as upstream); adds the finalizer to
//     live claims that lack it.
//   persistentvolume-protection-controller: removes kubernetes.io/pv-protection from a volume
//     being deleted unless it is Bound; adds it to live volumes that lack it.
#pragma once

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers::volume {

inline constexpr char kPvcProtectionFinalizer[] = "kubernetes.io/pvc-protection";
inline constexpr char kPvProtectionFinalizer[] = "kubernetes.io/pv-protection";

// Whether the scheduled `pod` mounts the claim `claim` (a persistentVolumeClaim volume, or a
// generic ephemeral volume of a running pod whose claim the pod owns).
bool PodUsesClaim(const Json& pod, const Json& claim);

class PvcProtectionController : public Controller {
 public:
  explicit PvcProtectionController(ControllerContext& ctx);
  ~PvcProtectionController() override;
  std::string_view Name() const override { return "persistentvolumeclaim-protection-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& key);
  QueueWorker& worker() { return worker_; }

 private:
  absl::StatusOr<bool> IsBeingUsed(const Json& claim);

  ControllerContext ctx_;
  client::SharedInformer* pvcs_;
  client::SharedInformer* pods_;
  QueueWorker worker_;
};

class PvProtectionController : public Controller {
 public:
  explicit PvProtectionController(ControllerContext& ctx);
  ~PvProtectionController() override;
  std::string_view Name() const override { return "persistentvolume-protection-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& name);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  client::SharedInformer* pvs_;
  QueueWorker worker_;
};

}  // namespace korral::controllers::volume

namespace korral::controllers {
ControllerDescriptor PvcProtectionControllerDescriptor();
ControllerDescriptor PvProtectionControllerDescriptor();
}  // namespace korral::controllers
