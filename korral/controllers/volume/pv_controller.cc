// korral/controllers/volume/pv_controller.cc
#include "korral/controllers/volume/pv_controller.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "korral/api/defaults.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers::volume {

client::ResourceRef PersistentVolumesRef() { return {"", "v1", "persistentvolumes", false}; }
client::ResourceRef PersistentVolumeClaimsRef() {
  return {"", "v1", "persistentvolumeclaims", true};
}
client::ResourceRef StorageClassesRef() {
  return {"storage.k8s.io", "v1", "storageclasses", false};
}

namespace {

using workload::Annotation;
using workload::At;
using workload::Has;
using workload::Str;

bool HasAnnotation(const Json& obj, const char* key) {
  return Has(obj, {"metadata", "annotations", key});
}
void SetAnnotation(Json& obj, const char* key, const std::string& value) {
  Json& ann = obj["metadata"]["annotations"];
  if (!ann.is_object()) ann = Json::object();
  ann[key] = value;
}
std::string Phase(const Json& obj) { return Str(obj, {"status", "phase"}); }
const Json& ClaimRef(const Json& pv) { return At(SpecOf(pv), {"claimRef"}); }
bool HasClaimRef(const Json& pv) { return ClaimRef(pv).is_object(); }

long double Quantity(const Json& v) {
  if (v.is_number()) return v.get<long double>();
  long double out = 0;
  if (v.is_string() && api::defaults::ParseQuantity(v.get<std::string>(), &out)) return out;
  return 0;
}

std::string VolumeMode(const Json& spec) {
  std::string m = Str(spec, {"volumeMode"});
  return m.empty() ? "Filesystem" : m;
}

std::set<std::string> AccessModes(const Json& spec) {
  std::set<std::string> out;
  const Json& modes = At(spec, {"accessModes"});
  if (!modes.is_array()) return out;
  for (const Json& m : modes) {
    if (m.is_string()) out.insert(m.get<std::string>());
  }
  return out;
}

int64_t ResourceVersion(const Json& obj) {
  std::string rv = client::ResourceVersionOf(obj);
  try {
    return rv.empty() ? 0 : std::stoll(rv);
  } catch (...) {
    return 0;
  }
}

// The newer of the informer's object and the one this controller wrote.
client::ObjectPtr Newest(client::ObjectPtr cached,
                         std::map<std::string, client::ObjectPtr>& written,
                         const std::string& key) {
  auto it = written.find(key);
  if (it == written.end()) return cached;
  if (!cached || ResourceVersion(*cached) >= ResourceVersion(*it->second)) {
    written.erase(it);
    return cached;
  }
  return it->second;
}

// upstream FindMatchingVolume with node == nil.
client::ObjectPtr FindMatchingVolume(const Json& claim,
                                     const std::vector<client::ObjectPtr>& volumes,
                                     bool delay_binding) {
  const Json& spec = SpecOf(claim);
  long double requested = ClaimRequest(claim);
  std::string requested_class = ClaimClass(claim);
  const Json& selector = At(spec, {"selector"});
  client::ObjectPtr smallest;
  long double smallest_qty = 0;
  for (const auto& vp : volumes) {
    const Json& pv = *vp;
    if (HasClaimRef(pv) && !IsVolumeBoundToClaim(pv, claim)) continue;
    long double qty = VolumeCapacity(pv);
    if (qty < requested) continue;
    if (VolumeMode(spec) != VolumeMode(SpecOf(pv))) continue;
    if (IsBeingDeleted(pv)) continue;
    if (IsVolumeBoundToClaim(pv, claim)) return vp;
    if (delay_binding) continue;  // the scheduler binds these
    if (Phase(pv) != "Available") continue;
    if (selector.is_object() && !LabelSelectorMatches(selector, At(pv, {"metadata", "labels"}))) {
      continue;
    }
    if (VolumeClass(pv) != requested_class) continue;
    if (!smallest || smallest_qty > qty) {
      smallest = vp;
      smallest_qty = qty;
    }
  }
  return smallest;
}

}  // namespace

std::string ClaimClass(const Json& claim) {
  if (HasAnnotation(claim, kBetaStorageClassAnnotation)) {
    return Annotation(claim, kBetaStorageClassAnnotation);
  }
  return Str(SpecOf(claim), {"storageClassName"});
}

std::string VolumeClass(const Json& pv) {
  if (HasAnnotation(pv, kBetaStorageClassAnnotation)) {
    return Annotation(pv, kBetaStorageClassAnnotation);
  }
  return Str(SpecOf(pv), {"storageClassName"});
}

bool IsVolumeBoundToClaim(const Json& pv, const Json& claim) {
  const Json& ref = ClaimRef(pv);
  if (!ref.is_object()) return false;
  if (Str(ref, {"name"}) != NameOf(claim) || Str(ref, {"namespace"}) != NamespaceOf(claim)) {
    return false;
  }
  std::string uid = Str(ref, {"uid"});
  return uid.empty() || uid == UidOf(claim);
}

long double ClaimRequest(const Json& claim) {
  return Quantity(At(SpecOf(claim), {"resources", "requests", "storage"}));
}

long double VolumeCapacity(const Json& pv) {
  return Quantity(At(SpecOf(pv), {"capacity", "storage"}));
}

client::ObjectPtr FindBestMatch(const Json& claim, const std::vector<client::ObjectPtr>& volumes,
                                bool delay_binding) {
  // upstream persistentVolumeOrderedIndex: volumes grouped by their access modes; the groups
  // holding every mode of the claim are tried from the fewest modes up.
  std::set<std::string> wanted = AccessModes(SpecOf(claim));
  std::map<std::string, std::vector<client::ObjectPtr>> groups;
  std::map<std::string, size_t> group_size;
  for (const auto& v : volumes) {
    std::set<std::string> modes = AccessModes(SpecOf(*v));
    if (!std::includes(modes.begin(), modes.end(), wanted.begin(), wanted.end())) continue;
    std::string key;
    for (const auto& m : modes) key += m + ",";
    groups[key].push_back(v);
    group_size[key] = modes.size();
  }
  std::vector<std::string> order;
  for (const auto& [k, _] : groups) order.push_back(k);
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    return group_size[a] < group_size[b];
  });
  for (const auto& k : order) {
    if (auto v = FindMatchingVolume(claim, groups[k], delay_binding)) return v;
  }
  return nullptr;
}

std::string CheckVolumeSatisfiesClaim(const Json& pv, const Json& claim) {
  if (IsBeingDeleted(pv))
    return fmt::format("the volume is marked for deletion \"{}\"", NameOf(pv));
  if (VolumeCapacity(pv) < ClaimRequest(claim)) return "requested PV is too small";
  if (VolumeClass(pv) != ClaimClass(claim)) return "storageClassName does not match";
  if (VolumeMode(SpecOf(pv)) != VolumeMode(SpecOf(claim))) return "incompatible volumeMode";
  std::set<std::string> have = AccessModes(SpecOf(pv)), want = AccessModes(SpecOf(claim));
  if (!std::includes(have.begin(), have.end(), want.begin(), want.end())) {
    return "incompatible accessMode";
  }
  return "";
}

// ---------------------------------------------------------------------------------------------

PersistentVolumeController::PersistentVolumeController(ControllerContext& ctx)
    : ctx_(ctx),
      pvs_(ctx.informers->For(PersistentVolumesRef())),
      pvcs_(ctx.informers->For(PersistentVolumeClaimsRef())),
      classes_(ctx.informers->For(StorageClassesRef())),
      recorder_(*ctx.client, *ctx.clock, "persistentvolume-controller"),
      claims_worker_("persistentvolume-claims", *ctx.clock,
                     [this](const std::string& k) { return SyncClaim(k); }),
      volumes_worker_("persistentvolume-volumes", *ctx.clock,
                      [this](const std::string& k) { return SyncVolume(k); }) {
  pvs_->AddEventHandler(EnqueueHandler(volumes_worker_));
  client::ResourceEventHandler claims = EnqueueHandler(claims_worker_);
  // A deleted claim releases its volume: sync the volume bound to it.
  claims.on_delete = [this](const client::ObjectPtr& o, bool) {
    claims_worker_.Add(client::ObjectKey(*o));
    std::string volume = Str(SpecOf(*o), {"volumeName"});
    if (!volume.empty()) volumes_worker_.Add(volume);
    for (const auto& pv : pvs_->indexer().List()) {
      if (IsVolumeBoundToClaim(*pv, *o)) volumes_worker_.Add(NameOf(*pv));
    }
  };
  pvcs_->AddEventHandler(std::move(claims));
}

PersistentVolumeController::~PersistentVolumeController() { Stop(); }

void PersistentVolumeController::Run(int workers) {
  (void)workers;
  // One worker per queue, as upstream; syncs are serialized by sync_mu_ anyway.
  claims_worker_.Run(1);
  volumes_worker_.Run(1);
  running_ = true;
  resync_ = std::thread([this] {
    std::unique_lock l(stop_mu_);
    while (!stopped_) {
      stop_cv_.wait_for(l, kResyncPeriod);
      if (stopped_) break;
      l.unlock();
      Resync();
      l.lock();
    }
  });
}

void PersistentVolumeController::Stop() {
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (resync_.joinable()) resync_.join();
  claims_worker_.Stop();
  volumes_worker_.Stop();
  recorder_.Stop();
}

void PersistentVolumeController::Resync() {
  for (const auto& k : pvcs_->indexer().ListKeys()) claims_worker_.Add(k);
  for (const auto& k : pvs_->indexer().ListKeys()) volumes_worker_.Add(k);
}

client::ObjectPtr PersistentVolumeController::GetVolume(const std::string& name) {
  return Newest(pvs_->indexer().Get(name), written_pvs_, name);
}

client::ObjectPtr PersistentVolumeController::GetClaim(const std::string& key) {
  return Newest(pvcs_->indexer().Get(key), written_pvcs_, key);
}

std::vector<client::ObjectPtr> PersistentVolumeController::ListVolumes() {
  std::vector<client::ObjectPtr> out;
  for (const auto& k : pvs_->indexer().ListKeys()) {
    if (auto v = GetVolume(k)) out.push_back(v);
  }
  return out;
}

bool PersistentVolumeController::DelayBinding(const Json& claim) {
  std::string cls = ClaimClass(claim);
  if (cls.empty()) return false;
  auto sc = classes_->indexer().Get(cls);
  return sc && Str(*sc, {"volumeBindingMode"}) == "WaitForFirstConsumer";
}

void PersistentVolumeController::ClaimEvent(const Json& claim, const std::string& type,
                                            const std::string& reason, const std::string& message) {
  recorder_.Event(claim, "v1", "PersistentVolumeClaim", type, reason, message);
}

void PersistentVolumeController::VolumeEvent(const Json& pv, const std::string& type,
                                             const std::string& reason,
                                             const std::string& message) {
  recorder_.Event(pv, "v1", "PersistentVolume", type, reason, message);
}

absl::StatusOr<Json> PersistentVolumeController::UpdateVolume(const Json& pv) {
  KORRAL_ASSIGN_OR_RETURN(Json out, ctx_.client->Update(PersistentVolumesRef(), "", pv));
  written_pvs_[NameOf(out)] = std::make_shared<const Json>(out);
  return out;
}

absl::StatusOr<Json> PersistentVolumeController::UpdateVolumePhase(Json pv,
                                                                   const std::string& phase,
                                                                   const std::string& message) {
  if (Phase(pv) == phase) return pv;  // nothing to do
  pv["status"]["phase"] = phase;
  pv["status"]["message"] = message;
  if (message.empty()) pv["status"].erase("message");
  pv["status"]["lastPhaseTransitionTime"] = FormatTime(ctx_.clock->Now());
  KORRAL_ASSIGN_OR_RETURN(Json out, ctx_.client->UpdateStatus(PersistentVolumesRef(), "", pv));
  written_pvs_[NameOf(out)] = std::make_shared<const Json>(out);
  return out;
}

absl::StatusOr<Json> PersistentVolumeController::UpdateVolumePhaseWithEvent(
    Json pv, const std::string& phase, const std::string& type, const std::string& reason,
    const std::string& message) {
  if (Phase(pv) == phase) return pv;
  KORRAL_ASSIGN_OR_RETURN(Json out, UpdateVolumePhase(std::move(pv), phase, message));
  VolumeEvent(out, type, reason, message);
  return out;
}

absl::StatusOr<Json> PersistentVolumeController::UpdateClaim(const Json& claim) {
  KORRAL_ASSIGN_OR_RETURN(
      Json out, ctx_.client->Update(PersistentVolumeClaimsRef(), NamespaceOf(claim), claim));
  written_pvcs_[client::ObjectKey(out)] = std::make_shared<const Json>(out);
  return out;
}

absl::StatusOr<Json> PersistentVolumeController::UpdateClaimStatus(Json claim,
                                                                   const std::string& phase,
                                                                   const Json* volume) {
  bool dirty = false;
  Json& status = claim["status"];
  if (!status.is_object()) status = Json::object();
  std::string old_phase = Str(status, {"phase"});
  if (old_phase != phase) {
    status["phase"] = phase;
    dirty = true;
  }
  if (volume == nullptr) {
    for (const char* f : {"accessModes", "capacity"}) {
      if (status.contains(f)) {
        status.erase(f);
        dirty = true;
      }
    }
  } else {
    const Json& modes = At(SpecOf(*volume), {"accessModes"});
    if (At(status, {"accessModes"}) != modes) {
      status["accessModes"] = modes;
      dirty = true;
    }
    // The capacity is set when the claim becomes Bound, not again (a difference may be meant).
    if (old_phase != phase) {
      const Json& cap = At(SpecOf(*volume), {"capacity", "storage"});
      if (cap.is_null()) {
        return absl::FailedPreconditionError(absl::string_view(
            fmt::format("PersistentVolume \"{}\" is without a storage capacity", NameOf(*volume))));
      }
      const Json& have = At(status, {"capacity", "storage"});
      if (have.is_null() || Quantity(have) != Quantity(cap)) {
        status["capacity"] = At(SpecOf(*volume), {"capacity"});
        dirty = true;
      }
    }
  }
  if (!dirty) return claim;
  KORRAL_ASSIGN_OR_RETURN(
      Json out, ctx_.client->UpdateStatus(PersistentVolumeClaimsRef(), NamespaceOf(claim), claim));
  written_pvcs_[client::ObjectKey(out)] = std::make_shared<const Json>(out);
  return out;
}

// ---- claims ----

absl::Status PersistentVolumeController::SyncClaim(const std::string& key) {
  std::lock_guard l(sync_mu_);
  client::ObjectPtr claim = GetClaim(key);
  if (!claim) {
    written_pvcs_.erase(key);
    return absl::OkStatus();
  }
  if (!HasAnnotation(*claim, kAnnBindCompleted)) {
    return SyncUnboundClaim(*claim);
  }
  return SyncBoundClaim(*claim);
}

absl::Status PersistentVolumeController::SyncUnboundClaim(const Json& claim) {
  std::string volume_name = Str(SpecOf(claim), {"volumeName"});
  if (volume_name.empty()) {
    bool delay = DelayBinding(claim);
    client::ObjectPtr volume = FindBestMatch(claim, ListVolumes(), delay);
    if (!volume) {
      if (delay && Annotation(claim, kAnnSelectedNode).empty()) {
        ClaimEvent(claim, "Normal", "WaitForFirstConsumer",
                   "waiting for first consumer to be created before binding");
      } else if (!ClaimClass(claim).empty()) {
        KORRAL_RETURN_IF_ERROR(ProvisionClaim(claim));
        client::ObjectPtr fresh = GetClaim(client::ObjectKey(claim));
        return UpdateClaimStatus(fresh ? *fresh : claim, "Pending", nullptr).status();
      } else {
        ClaimEvent(claim, "Normal", "FailedBinding",
                   "no persistent volumes available for this claim and no storage class is set");
      }
      return UpdateClaimStatus(claim, "Pending", nullptr).status();
    }
    KLOG(Info, "persistentvolume: binding claim {} to volume {}", client::ObjectKey(claim),
         NameOf(*volume));
    return Bind(*volume, claim);
  }
  // The user asked for a specific volume.
  client::ObjectPtr volume = GetVolume(volume_name);
  if (!volume) {
    // TODO(korral): upstream waits for the volume silently; it may yet be created.
    return UpdateClaimStatus(claim, "Pending", nullptr).status();
  }
  if (!HasClaimRef(*volume)) {
    std::string why = CheckVolumeSatisfiesClaim(*volume, claim);
    if (!why.empty()) {
      ClaimEvent(claim, "Warning", "VolumeMismatch",
                 fmt::format("Cannot bind to requested volume \"{}\": {}", volume_name, why));
      return UpdateClaimStatus(claim, "Pending", nullptr).status();
    }
    return Bind(*volume, claim);
  }
  if (IsVolumeBoundToClaim(*volume, claim)) return Bind(*volume, claim);
  ClaimEvent(claim, "Warning", "FailedBinding",
             fmt::format("volume \"{}\" already bound to a different claim.", volume_name));
  if (!HasAnnotation(claim, kAnnBoundByController)) {
    return UpdateClaimStatus(claim, "Pending", nullptr).status();
  }
  return absl::InternalError(absl::string_view(
      fmt::format("invalid binding of claim \"{}\" to volume \"{}\": volume already claimed by "
                  "\"{}/{}\"",
                  client::ObjectKey(claim), volume_name, Str(ClaimRef(*volume), {"namespace"}),
                  Str(ClaimRef(*volume), {"name"}))));
}

absl::Status PersistentVolumeController::SyncBoundClaim(const Json& claim) {
  std::string volume_name = Str(SpecOf(claim), {"volumeName"});
  if (volume_name.empty()) {
    if (Phase(claim) != "Lost") {
      ClaimEvent(claim, "Warning", "ClaimLost",
                 "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!");
    }
    return UpdateClaimStatus(claim, "Lost", nullptr).status();
  }
  client::ObjectPtr volume = GetVolume(volume_name);
  if (!volume) {
    if (Phase(claim) != "Lost") {
      ClaimEvent(claim, "Warning", "ClaimLost",
                 "Bound claim has lost its PersistentVolume. Data on the volume is lost!");
    }
    return UpdateClaimStatus(claim, "Lost", nullptr).status();
  }
  if (!HasClaimRef(*volume)) return Bind(*volume, claim);  // the volume forgot; bind it again
  if (Str(ClaimRef(*volume), {"uid"}) == UidOf(claim)) return Bind(*volume, claim);
  if (Phase(claim) != "Lost") {
    ClaimEvent(claim, "Warning", "ClaimMisbound",
               "Two claims are bound to the same volume, this one is bound incorrectly");
  }
  return UpdateClaimStatus(claim, "Lost", nullptr).status();
}

absl::Status PersistentVolumeController::ProvisionClaim(const Json& claim) {
  std::string cls = ClaimClass(claim);
  auto sc = classes_->indexer().Get(cls);
  if (!sc) {
    ClaimEvent(claim, "Warning", "ProvisioningFailed",
               fmt::format("storageclass.storage.k8s.io \"{}\" not found", cls));
    return absl::OkStatus();
  }
  std::string provisioner = Str(*sc, {"provisioner"});
  if (provisioner.rfind("kubernetes.io/", 0) == 0) {
    // In-tree provisioners (and kubernetes.io/no-provisioner): korral has none.
    ClaimEvent(claim, "Warning", "ProvisioningFailed",
               fmt::format("no volume plugin matched name: {}", provisioner));
    return absl::OkStatus();
  }
  // An external provisioner creates the volume; tell it, as upstream does.
  if (Annotation(claim, kAnnStorageProvisioner) != provisioner ||
      Annotation(claim, kAnnBetaStorageProvisioner) != provisioner) {
    Json c = claim;
    SetAnnotation(c, kAnnStorageProvisioner, provisioner);
    SetAnnotation(c, kAnnBetaStorageProvisioner, provisioner);
    KORRAL_RETURN_IF_ERROR(UpdateClaim(c).status());
  }
  ClaimEvent(claim, "Normal", "ExternalProvisioning",
             fmt::format("Waiting for a volume to be created either by the external provisioner "
                         "'{}' or manually by the system administrator. If volume creation is "
                         "delayed, please verify that the provisioner is running and correctly "
                         "registered.",
                         provisioner));
  return absl::OkStatus();
}

absl::Status PersistentVolumeController::Bind(Json volume, Json claim) {
  // The volume's side: claimRef, bound-by-controller, phase Bound.
  if (!IsVolumeBoundToClaim(volume, claim) || Str(ClaimRef(volume), {"uid"}).empty()) {
    bool by_controller = !IsVolumeBoundToClaim(volume, claim);
    volume["spec"]["claimRef"] = {{"kind", "PersistentVolumeClaim"},
                                  {"namespace", NamespaceOf(claim)},
                                  {"name", NameOf(claim)},
                                  {"uid", UidOf(claim)},
                                  {"apiVersion", "v1"},
                                  {"resourceVersion", client::ResourceVersionOf(claim)}};
    if (by_controller) SetAnnotation(volume, kAnnBoundByController, "yes");
    KORRAL_ASSIGN_OR_RETURN(volume, UpdateVolume(volume));
  }
  KORRAL_ASSIGN_OR_RETURN(volume, UpdateVolumePhase(volume, "Bound", ""));
  // The claim's side: volumeName, annotations, status.
  bool dirty = false;
  if (Str(SpecOf(claim), {"volumeName"}) != NameOf(volume)) {
    claim["spec"]["volumeName"] = NameOf(volume);
    SetAnnotation(claim, kAnnBoundByController, "yes");
    dirty = true;
  }
  if (!HasAnnotation(claim, kAnnBindCompleted)) {
    SetAnnotation(claim, kAnnBindCompleted, "yes");
    dirty = true;
  }
  if (dirty) {
    KORRAL_ASSIGN_OR_RETURN(claim, UpdateClaim(claim));
  }
  return UpdateClaimStatus(claim, "Bound", &volume).status();
}

// ---- volumes ----

absl::Status PersistentVolumeController::SyncVolume(const std::string& name) {
  std::lock_guard l(sync_mu_);
  client::ObjectPtr vp = GetVolume(name);
  if (!vp) {
    written_pvs_.erase(name);
    return absl::OkStatus();
  }
  const Json& volume = *vp;
  if (!HasClaimRef(volume) || Str(ClaimRef(volume), {"uid"}).empty()) {
    // Unused, or pre-bound to a claim that the claim sync will bind.
    if (HasClaimRef(volume)) {
      claims_worker_.Add(Str(ClaimRef(volume), {"namespace"}) + "/" +
                         Str(ClaimRef(volume), {"name"}));
    }
    bool was_available = Phase(volume) == "Available";
    KORRAL_RETURN_IF_ERROR(UpdateVolumePhase(volume, "Available", "").status());
    // A volume that just became Available may serve a pending claim: sync the unbound claims
    // now rather than at the next resync (upstream waits for the resync).
    if (!was_available) {
      for (const auto& claim : pvcs_->indexer().List()) {
        if (Str(SpecOf(*claim), {"volumeName"}).empty()) {
          claims_worker_.Add(client::ObjectKey(*claim));
        }
      }
    }
    return absl::OkStatus();
  }
  const Json& ref = ClaimRef(volume);
  std::string claim_key = Str(ref, {"namespace"}) + "/" + Str(ref, {"name"});
  client::ObjectPtr claim = GetClaim(claim_key);
  if (!claim && Phase(volume) != "Released" && Phase(volume) != "Failed") {
    // Make sure it is really gone before releasing the volume.
    auto live =
        ctx_.client->Get(PersistentVolumeClaimsRef(), Str(ref, {"namespace"}), Str(ref, {"name"}));
    if (live.ok()) {
      claim = std::make_shared<const Json>(std::move(*live));
    } else if (!client::IsNotFound(live.status())) {
      return live.status();
    }
  }
  if (claim && UidOf(*claim) != Str(ref, {"uid"})) claim = nullptr;  // deleted and re-created
  if (!claim) {
    Json v = volume;
    if (Phase(v) != "Released" && Phase(v) != "Failed") {
      KLOG(Info, "persistentvolume: volume {} is released (claim {} is gone)", name, claim_key);
      KORRAL_ASSIGN_OR_RETURN(v, UpdateVolumePhase(v, "Released", ""));
    }
    return ReclaimVolume(std::move(v));
  }
  std::string claim_volume = Str(SpecOf(*claim), {"volumeName"});
  if (claim_volume.empty()) {
    if (VolumeMode(SpecOf(*claim)) != VolumeMode(SpecOf(volume))) {
      VolumeEvent(volume, "Warning", "VolumeMismatch",
                  fmt::format("Cannot bind PersistentVolume to requested PersistentVolumeClaim "
                              "\"{}\" due to incompatible volumeMode.",
                              NameOf(*claim)));
      ClaimEvent(*claim, "Warning", "VolumeMismatch",
                 fmt::format("Cannot bind PersistentVolume \"{}\" to requested "
                             "PersistentVolumeClaim due to incompatible volumeMode.",
                             name));
      return absl::OkStatus();
    }
    // The binding is not complete: the claim sync finishes it.
    claims_worker_.Add(claim_key);
    return absl::OkStatus();
  }
  if (claim_volume == name) return UpdateVolumePhase(volume, "Bound", "").status();
  // Bound to a claim that got another volume.
  if (HasAnnotation(volume, kAnnDynamicallyProvisioned) &&
      Str(SpecOf(volume), {"persistentVolumeReclaimPolicy"}) == "Delete") {
    Json v = volume;
    if (Phase(v) != "Released" && Phase(v) != "Failed") {
      KORRAL_ASSIGN_OR_RETURN(v, UpdateVolumePhase(v, "Released", ""));
    }
    return ReclaimVolume(std::move(v));
  }
  return UnbindVolume(volume);
}

absl::Status PersistentVolumeController::UnbindVolume(Json volume) {
  if (HasAnnotation(volume, kAnnBoundByController)) {
    volume["spec"].erase("claimRef");
    volume["metadata"]["annotations"].erase(kAnnBoundByController);
    if (volume["metadata"]["annotations"].empty()) volume["metadata"].erase("annotations");
  } else {
    // Pre-bound by the user: only the binding's uid goes.
    volume["spec"]["claimRef"].erase("uid");
  }
  KORRAL_ASSIGN_OR_RETURN(volume, UpdateVolume(volume));
  return UpdateVolumePhase(volume, "Available", "").status();
}

absl::Status PersistentVolumeController::ReclaimVolume(Json volume) {
  if (!Annotation(volume, kAnnMigratedTo).empty()) return absl::OkStatus();  // CSI handles it
  std::string policy = Str(SpecOf(volume), {"persistentVolumeReclaimPolicy"});
  if (policy == "Retain") return absl::OkStatus();
  if (Phase(volume) == "Failed") return absl::OkStatus();  // told once; the user must act
  if (policy == "Recycle") {
    // TODO(korral): no recycler (upstream's recycler pod is deprecated).
    return UpdateVolumePhaseWithEvent(volume, "Failed", "Warning", "VolumeFailedRecycle",
                                      "No recycler plugin found for the volume!")
        .status();
  }
  if (policy == "Delete") {
    std::string provisioned_by = Annotation(volume, kAnnDynamicallyProvisioned);
    if (!provisioned_by.empty() && provisioned_by.rfind("kubernetes.io/", 0) != 0) {
      return absl::OkStatus();  // the external provisioner deletes it
    }
    // TODO(korral): no in-tree volume deleters; upstream's error for a volume none can delete.
    std::string message =
        provisioned_by.empty()
            ? fmt::format(
                  "error getting deleter volume plugin for volume \"{}\": no deletable "
                  "volume plugin matched",
                  NameOf(volume))
            : fmt::format("no volume plugin matched name: {}", provisioned_by);
    return UpdateVolumePhaseWithEvent(volume, "Failed", "Warning", "VolumeFailedDelete", message)
        .status();
  }
  return UpdateVolumePhaseWithEvent(volume, "Failed", "Warning", "VolumeUnknownReclaimPolicy",
                                    "Volume has unrecognized PersistentVolumeReclaimPolicy")
      .status();
}

}  // namespace korral::controllers::volume

namespace korral::controllers {

ControllerDescriptor PersistentVolumeBinderControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "persistentvolume-binder-controller";
  d.aliases = {"persistentvolume-binder"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<volume::PersistentVolumeController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
