// korral/controllers/volume/protection.cc
#include "korral/controllers/volume/protection.h"

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/volume/pv_controller.h"

namespace korral::controllers::volume {
namespace {

constexpr char kPodClaimIndex[] = "korral/pvc-protection-claims";

bool HasFinalizer(const Json& obj, const char* finalizer) {
  const Json& meta = obj.value("metadata", Json::object());
  auto it = meta.find("finalizers");
  if (it == meta.end() || !it->is_array()) return false;
  for (const Json& f : *it) {
    if (f == finalizer) return true;
  }
  return false;
}

// Adds or removes `finalizer` with an update of the cached object (its resourceVersion guards
// it: a conflict re-queues the key). An update, not a patch: upstream's pvc-protection-controller
// and pv-protection-controller roles grant `update` only.
absl::Status SetFinalizer(client::Client& c, const client::ResourceRef& ref, const Json& obj,
                          const char* finalizer, bool present) {
  Json list = Json::array();
  const Json& meta = obj.value("metadata", Json::object());
  if (auto it = meta.find("finalizers"); it != meta.end() && it->is_array()) {
    for (const Json& f : *it) {
      if (f != finalizer) list.push_back(f);
    }
  }
  if (present) list.push_back(finalizer);
  Json updated = obj;
  if (list.empty()) {
    updated["metadata"].erase("finalizers");
  } else {
    updated["metadata"]["finalizers"] = std::move(list);
  }
  auto r = c.Update(ref, NamespaceOf(obj), updated);
  if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  return absl::OkStatus();
}

// The claims a pod's volumes name (ns/name), for the index and for the pod event handler.
std::vector<std::string> PodClaimKeys(const Json& pod) {
  std::vector<std::string> out;
  const Json& vols = SpecOf(pod).value("volumes", Json::array());
  if (!vols.is_array()) return out;
  for (const Json& v : vols) {
    if (!v.is_object()) continue;
    if (auto it = v.find("persistentVolumeClaim"); it != v.end() && it->is_object()) {
      out.push_back(NamespaceOf(pod) + "/" + it->value("claimName", ""));
    } else if (v.contains("ephemeral")) {
      out.push_back(NamespaceOf(pod) + "/" + NameOf(pod) + "-" + v.value("name", ""));
    }
  }
  return out;
}

}  // namespace

bool PodUsesClaim(const Json& pod, const Json& claim) {
  // Only scheduled pods count: the kubelet refuses to start a pod whose claim is being deleted.
  if (SpecOf(pod).value("nodeName", "").empty()) return false;
  if (NamespaceOf(pod) != NamespaceOf(claim)) return false;
  const Json& vols = SpecOf(pod).value("volumes", Json::array());
  if (!vols.is_array()) return false;
  for (const Json& v : vols) {
    if (!v.is_object()) continue;
    if (auto it = v.find("persistentVolumeClaim"); it != v.end() && it->is_object()) {
      if (it->value("claimName", "") == NameOf(claim)) return true;
    } else if (v.contains("ephemeral") && !IsPodTerminated(pod)) {
      if (NameOf(pod) + "-" + v.value("name", "") == NameOf(claim) &&
          HasOwnerUid(claim, UidOf(pod))) {
        return true;
      }
    }
  }
  return false;
}

// ---- pvc-protection ----

PvcProtectionController::PvcProtectionController(ControllerContext& ctx)
    : ctx_(ctx),
      pvcs_(ctx.informers->For(PersistentVolumeClaimsRef())),
      pods_(ctx.informers->For(client::resources::Pods())),
      worker_("pvcprotection", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler claims;
  claims.on_add = [this](const client::ObjectPtr& o) { worker_.Add(client::ObjectKey(*o)); };
  claims.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    worker_.Add(client::ObjectKey(*o));
  };
  pvcs_->AddEventHandler(std::move(claims));
  auto status = pods_->AddIndex(kPodClaimIndex, PodClaimKeys);
  if (!status.ok()) KLOG(Info, "pvc-protection: pod index: {}", StatusMessage(status));
  client::ResourceEventHandler pods;
  // A pod that goes away (or is updated, e.g. terminated) may release its claims.
  pods.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    for (const auto& k : PodClaimKeys(*o)) worker_.Add(k);
  };
  pods.on_delete = [this](const client::ObjectPtr& o, bool) {
    for (const auto& k : PodClaimKeys(*o)) worker_.Add(k);
  };
  pods_->AddEventHandler(std::move(pods));
}

PvcProtectionController::~PvcProtectionController() { Stop(); }

absl::StatusOr<bool> PvcProtectionController::IsBeingUsed(const Json& claim) {
  for (const auto& pod : pods_->indexer().ByIndex(kPodClaimIndex, client::ObjectKey(claim))) {
    if (PodUsesClaim(*pod, claim)) return true;
  }
  // The cache may lag behind: make sure with a live list, as upstream.
  KORRAL_ASSIGN_OR_RETURN(Json list,
                          ctx_.client->List(client::resources::Pods(), NamespaceOf(claim)));
  for (const Json& pod : list.value("items", Json::array())) {
    if (PodUsesClaim(pod, claim)) return true;
  }
  return false;
}

absl::Status PvcProtectionController::Sync(const std::string& key) {
  client::ObjectPtr claim = pvcs_->indexer().Get(key);
  if (!claim) return absl::OkStatus();
  bool has = HasFinalizer(*claim, kPvcProtectionFinalizer);
  if (IsBeingDeleted(*claim)) {
    if (!has) return absl::OkStatus();
    KORRAL_ASSIGN_OR_RETURN(bool used, IsBeingUsed(*claim));
    if (used) return absl::OkStatus();  // a pod event brings the claim back
    KLOG(Info, "pvc-protection: removing the finalizer of claim {} (no pod uses it)", key);
    return SetFinalizer(*ctx_.client, PersistentVolumeClaimsRef(), *claim, kPvcProtectionFinalizer,
                        false);
  }
  if (has) return absl::OkStatus();
  return SetFinalizer(*ctx_.client, PersistentVolumeClaimsRef(), *claim, kPvcProtectionFinalizer,
                      true);
}

// ---- pv-protection ----

PvProtectionController::PvProtectionController(ControllerContext& ctx)
    : ctx_(ctx),
      pvs_(ctx.informers->For(PersistentVolumesRef())),
      worker_("pvprotection", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler h;
  h.on_add = [this](const client::ObjectPtr& o) { worker_.Add(NameOf(*o)); };
  h.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    worker_.Add(NameOf(*o));
  };
  pvs_->AddEventHandler(std::move(h));
}

PvProtectionController::~PvProtectionController() { Stop(); }

absl::Status PvProtectionController::Sync(const std::string& name) {
  client::ObjectPtr pv = pvs_->indexer().Get(name);
  if (!pv) return absl::OkStatus();
  bool has = HasFinalizer(*pv, kPvProtectionFinalizer);
  if (IsBeingDeleted(*pv)) {
    if (!has) return absl::OkStatus();
    if (pv->value("status", Json::object()).value("phase", "") == "Bound") {
      return absl::OkStatus();  // the PV controller's status update brings it back
    }
    KLOG(Info, "pv-protection: removing the finalizer of volume {}", name);
    return SetFinalizer(*ctx_.client, PersistentVolumesRef(), *pv, kPvProtectionFinalizer, false);
  }
  if (has) return absl::OkStatus();
  return SetFinalizer(*ctx_.client, PersistentVolumesRef(), *pv, kPvProtectionFinalizer, true);
}

}  // namespace korral::controllers::volume

namespace korral::controllers {

ControllerDescriptor PvcProtectionControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "persistentvolumeclaim-protection-controller";
  d.aliases = {"pvc-protection"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<volume::PvcProtectionController>(ctx);
  };
  return d;
}

ControllerDescriptor PvProtectionControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "persistentvolume-protection-controller";
  d.aliases = {"pv-protection"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<volume::PvProtectionController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
