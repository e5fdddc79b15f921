// The volume plugins (upstream pkg/scheduler/framework/plugins/{volumebinding,volumerestrictions,
// volumezone}):
//
// - VolumeRestrictions: disk conflicts on a node (GCE PD, AWS EBS, iSCSI, RBD mounted read-write
//   by two pods) and ReadWriteOncePod claims already used by another pod.
// - VolumeBinding: pods with unbound Immediate claims are unschedulable; bound claims' PVs must
//   allow the node (PV nodeAffinity); WaitForFirstConsumer claims are matched to Available PVs
//   (capacity, access modes, volume mode, class, selector, node affinity; the smallest fits) or,
//   when the class has a provisioner, left to dynamic provisioning on the node (allowedTopologies).
//   Reserve assumes the chosen PVs; PreBind writes the binding through the API.
// - VolumeZone: the zone/region labels of bound PVs must match the node's.
//
// TODO(korral): NodeVolumeLimits (CSI attach limits per node, CSINode) and storage capacity
// (CSIStorageCapacity) checks are not implemented.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

using namespace action;

const Json& Field(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const Json& j, const char* key) {
  const Json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

bool Bool(const Json& j, const char* key) {
  const Json& v = Field(j, key);
  return v.is_boolean() && v.get<bool>();
}

ClusterEvent Ev(EventResource r, uint32_t a, const char* label) { return {r, a, label}; }

Status NotFound(const std::string& claim) {
  return Status(Code::kUnschedulableAndUnresolvable,
                fmt::format("persistentvolumeclaim \"{}\" not found", claim));
}

// ---- VolumeRestrictions ---------------------------------------------------------------------

// Whether volume `v` of one pod conflicts with any volume of `other` (upstream isVolumeConflict).
bool VolumeConflicts(const Json& v, const Json& other) {
  const Json& vols = Field(Field(other, "spec"), "volumes");
  if (!vols.is_array()) return false;
  for (const Json& e : vols) {
    const Json& gce = Field(v, "gcePersistentDisk");
    const Json& egce = Field(e, "gcePersistentDisk");
    if (gce.is_object() && egce.is_object() && Str(gce, "pdName") == Str(egce, "pdName") &&
        !(Bool(gce, "readOnly") && Bool(egce, "readOnly"))) {
      return true;
    }
    const Json& ebs = Field(v, "awsElasticBlockStore");
    const Json& eebs = Field(e, "awsElasticBlockStore");
    if (ebs.is_object() && eebs.is_object() && Str(ebs, "volumeID") == Str(eebs, "volumeID")) {
      return true;
    }
    const Json& iscsi = Field(v, "iscsi");
    const Json& eiscsi = Field(e, "iscsi");
    if (iscsi.is_object() && eiscsi.is_object() && Str(iscsi, "iqn") == Str(eiscsi, "iqn") &&
        !(Bool(iscsi, "readOnly") && Bool(eiscsi, "readOnly"))) {
      return true;
    }
    const Json& rbd = Field(v, "rbd");
    const Json& erbd = Field(e, "rbd");
    if (rbd.is_object() && erbd.is_object()) {
      auto pool = [](const Json& r) {
        std::string p = Str(r, "pool");
        return p.empty() ? std::string("rbd") : p;
      };
      bool overlap = false;
      const Json& m1 = Field(rbd, "monitors");
      const Json& m2 = Field(erbd, "monitors");
      if (m1.is_array() && m2.is_array()) {
        for (const Json& a : m1) {
          for (const Json& b : m2) overlap |= a == b;
        }
      }
      if (overlap && pool(rbd) == pool(erbd) && Str(rbd, "image") == Str(erbd, "image") &&
          !(Bool(rbd, "readOnly") && Bool(erbd, "readOnly"))) {
        return true;
      }
    }
  }
  return false;
}

struct RestrictionsState : StateData {
  std::set<std::string> rwop_claims;  // ns/name of the pod's ReadWriteOncePod claims
  int conflicting = 0;                // pods (on nodes) using one of them
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<RestrictionsState>(*this);
  }
};

class VolumeRestrictions : public PreFilterPlugin, public FilterPlugin {
 public:
  explicit VolumeRestrictions(Handle* h) : h_(h) {}
  std::string Name() const override { return "VolumeRestrictions"; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    if (pod.pvc_names.empty() && !pod.has_conflict_volumes) return Status(Code::kSkip);
    auto s = std::make_shared<RestrictionsState>();
    VolumeStore* vs = h_->Volumes();
    for (size_t i = 0; i < pod.pvc_names.size(); ++i) {
      if (pod.pvc_ephemeral[i]) continue;
      PvcPtr pvc = vs ? vs->GetPvc(pod.ns, pod.pvc_names[i]) : nullptr;
      if (!pvc) return NotFound(pod.pvc_names[i]);
      if (pvc->HasAccessMode("ReadWriteOncePod")) s->rwop_claims.insert(pvc->key);
    }
    if (!s->rwop_claims.empty()) {
      for (const auto& n : h_->snapshot().nodes()) {
        for (const auto& p : n->pods()) s->conflicting += Uses(*p, *s);
      }
    }
    if (!pod.has_conflict_volumes && s->conflicting == 0) return Status(Code::kSkip);
    state.Write(Name(), s);
    return {};
  }
  bool HasExtensions() const override { return true; }
  Status AddPod(CycleState& state, const PodInfo&, const PodInfoPtr& to_add,
                const NodeInfo&) override {
    if (auto* s = static_cast<RestrictionsState*>(state.Get(Name()))) {
      s->conflicting += Uses(*to_add, *s);
    }
    return {};
  }
  Status RemovePod(CycleState& state, const PodInfo&, const PodInfoPtr& to_remove,
                   const NodeInfo&) override {
    if (auto* s = static_cast<RestrictionsState*>(state.Get(Name()))) {
      s->conflicting -= Uses(*to_remove, *s);
    }
    return {};
  }

  Status Filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) override {
    if (pod.has_conflict_volumes && pod.object) {
      const Json& vols = Field(Field(*pod.object, "spec"), "volumes");
      for (const auto& existing : node.pods()) {
        if (!existing->has_conflict_volumes || !existing->object) continue;
        for (const Json& v : vols) {
          if (VolumeConflicts(v, *existing->object)) {
            return Status(Code::kUnschedulable, kErrReasonDiskConflict);
          }
        }
      }
    }
    auto* s = static_cast<RestrictionsState*>(state.Get(Name()));
    if (s && s->conflicting > 0) {
      return Status(Code::kUnschedulable, kErrReasonReadWriteOncePodConflict);
    }
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {Ev(EventResource::kPod, kDelete, "PodDelete"),
            Ev(EventResource::kPersistentVolumeClaim, kAdd | kUpdate, "PvcChange"),
            Ev(EventResource::kNode, kAdd | kUpdateNodeLabel, "NodeChange")};
  }

 private:
  // 1 if `p` uses one of the state's ReadWriteOncePod claims.
  static int Uses(const PodInfo& p, const RestrictionsState& s) {
    for (size_t i = 0; i < p.pvc_names.size(); ++i) {
      if (s.rwop_claims.count(p.ns + "/" + p.pvc_names[i])) return 1;
    }
    return 0;
  }
  Handle* h_;
};

// ---- VolumeBinding --------------------------------------------------------------------------

// What the pod needs on one node: static bindings (claim -> PV) and claims to provision there.
struct NodeDecision {
  std::vector<std::pair<PvcPtr, PvPtr>> bindings;
  std::vector<PvcPtr> provisions;
};

struct BindingState : StateData {
  std::vector<PvcPtr> bound;  // claims with spec.volumeName
  std::vector<PvcPtr> delay;  // unbound WaitForFirstConsumer claims
  std::vector<PvPtr> pvs;     // every PV (as assumed), for matching the delay claims
  std::shared_ptr<std::unordered_map<std::string, NodeDecision>> decisions =
      std::make_shared<std::unordered_map<std::string, NodeDecision>>();
  NodeDecision reserved;  // the node's decision, once reserved
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<BindingState>(*this);
  }
};

// upstream pvutil.FindMatchingVolume on the scheduler path (node given, delayBinding true).
PvPtr FindMatchingVolume(const PersistentVolumeClaim& claim, const std::vector<PvPtr>& pvs,
                         const NodeInfo& node, const std::set<std::string>& excluded) {
  PvPtr smallest;
  for (const auto& pv : pvs) {
    if (excluded.count(pv->name)) continue;
    if (pv->has_claim_ref && !pv->BoundTo(claim)) continue;
    if (pv->capacity < claim.request) continue;
    if (pv->volume_mode != claim.volume_mode) continue;
    if (pv->deleting) continue;
    bool affinity_ok = pv->NodeAffinityMatches(node.node()->labels, node.name());
    if (pv->BoundTo(claim)) {
      // Pre-bound to this claim: it is this PV or none.
      return affinity_ok ? pv : nullptr;
    }
    if (pv->phase != "Available") continue;
    if (claim.selector && !claim.selector->Matches(pv->labels)) continue;
    if (pv->storage_class != claim.storage_class) continue;
    if (!affinity_ok) continue;
    bool modes = true;
    for (const auto& m : claim.access_modes) {
      if (std::find(pv->access_modes.begin(), pv->access_modes.end(), m) ==
          pv->access_modes.end()) {
        modes = false;
      }
    }
    if (!modes) continue;
    if (!smallest || smallest->capacity > pv->capacity) smallest = pv;
  }
  return smallest;
}

class VolumeBinding : public PreFilterPlugin,
                      public FilterPlugin,
                      public ReservePlugin,
                      public PreBindPlugin {
 public:
  VolumeBinding(Handle* h, std::chrono::seconds bind_timeout)
      : h_(h), bind_timeout_(bind_timeout) {}
  std::string Name() const override { return "VolumeBinding"; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    if (pod.pvc_names.empty()) return Status(Code::kSkip);
    VolumeStore* vs = h_->Volumes();
    auto s = std::make_shared<BindingState>();
    int immediate = 0;
    for (size_t i = 0; i < pod.pvc_names.size(); ++i) {
      const std::string& name = pod.pvc_names[i];
      PvcPtr pvc = vs ? vs->GetPvc(pod.ns, name) : nullptr;
      if (!pvc) return NotFound(name);
      if (pvc->deleting) {
        return Status(Code::kUnschedulableAndUnresolvable,
                      fmt::format("persistentvolumeclaim \"{}\" is being deleted", name));
      }
      if (pod.pvc_ephemeral[i] && !OwnedBy(*pvc, pod)) {
        return Status(Code::kUnschedulableAndUnresolvable,
                      fmt::format("PVC {}/{} was not created for pod {}/{} (pod is not owner)",
                                  pvc->ns, pvc->name, pod.ns, pod.name));
      }
      if (!pvc->volume_name.empty()) {
        s->bound.push_back(pvc);
      } else if (vs->DelayBinding(*pvc)) {
        s->delay.push_back(pvc);
      } else {
        ++immediate;
      }
    }
    if (immediate > 0) {
      return Status(Code::kUnschedulableAndUnresolvable,
                    "pod has unbound immediate PersistentVolumeClaims");
    }
    if (!s->delay.empty()) s->pvs = vs->ListPvs();
    state.Write(Name(), s);
    return {};
  }

  Status Filter(const CycleState& state, const PodInfo&, const NodeInfo& node) override {
    auto* s = static_cast<BindingState*>(state.Get(Name()));
    if (!s) return {};
    VolumeStore* vs = h_->Volumes();
    const Labels& labels = node.node()->labels;
    bool bound_ok = true, pvs_found = true, unbound_ok = true;
    for (const auto& claim : s->bound) {
      PvPtr pv = vs->GetPv(claim->volume_name);
      if (!pv) {
        pvs_found = false;
        break;
      }
      if (!pv->NodeAffinityMatches(labels, node.name())) {
        bound_ok = false;
        break;
      }
    }
    NodeDecision d;
    if (bound_ok && pvs_found && !s->delay.empty()) {
      std::set<std::string> chosen;
      std::vector<PvcPtr> to_provision;
      for (const auto& claim : s->delay) {
        if (!claim->selected_node.empty()) {
          // Provisioning already started for a node: only that node will do.
          if (claim->selected_node != node.name()) {
            unbound_ok = false;
            break;
          }
          d.provisions.push_back(claim);
          continue;
        }
        if (PvPtr pv = FindMatchingVolume(*claim, s->pvs, node, chosen)) {
          chosen.insert(pv->name);
          d.bindings.emplace_back(claim, pv);
        } else {
          to_provision.push_back(claim);
        }
      }
      for (const auto& claim : to_provision) {
        if (!unbound_ok) break;
        StorageClassPtr sc = vs->GetStorageClass(claim->storage_class);
        if (!sc) {
          return Status::Error(
              fmt::format("storageclass.storage.k8s.io \"{}\" not found", claim->storage_class));
        }
        if (sc->provisioner.empty() || sc->provisioner == kNotSupportedProvisioner ||
            !sc->TopologyAllows(labels)) {
          unbound_ok = false;
          break;
        }
        d.provisions.push_back(claim);
      }
    }
    std::vector<std::string> reasons;
    if (!bound_ok) reasons.push_back(kErrReasonVolumeNodeConflict);
    if (!unbound_ok) reasons.push_back(kErrReasonVolumeBindConflict);
    if (!pvs_found) reasons.push_back(kErrReasonPVNotExist);
    if (!reasons.empty()) return Status(Code::kUnschedulableAndUnresolvable, std::move(reasons));
    if (!s->delay.empty()) {
      std::lock_guard l(mu_);
      (*s->decisions)[node.name()] = std::move(d);
    }
    return {};
  }

  Status Reserve(CycleState& state, const PodInfo& pod, const std::string& node) override {
    auto* s = static_cast<BindingState*>(state.Get(Name()));
    if (!s || s->delay.empty()) return {};
    {
      std::lock_guard l(mu_);
      auto it = s->decisions->find(node);
      if (it == s->decisions->end()) {
        return Status::Error(
            fmt::format("no volume decisions for pod {} on node {}", pod.key, node));
      }
      s->reserved = it->second;
    }
    VolumeStore* vs = h_->Volumes();
    for (size_t i = 0; i < s->reserved.bindings.size(); ++i) {
      const auto& [claim, pv] = s->reserved.bindings[i];
      if (!vs->AssumePv(pv->name, *claim)) {
        for (size_t j = 0; j < i; ++j) vs->RestorePv(s->reserved.bindings[j].second->name);
        s->reserved = {};
        return Status(Code::kUnschedulable, kErrReasonVolumeBindConflict);
      }
    }
    return {};
  }

  void Unreserve(CycleState& state, const PodInfo&, const std::string&) override {
    auto* s = static_cast<BindingState*>(state.Get(Name()));
    if (!s) return;
    for (const auto& [claim, pv] : s->reserved.bindings) h_->Volumes()->RestorePv(pv->name);
  }

  Status PreBind(CycleState& state, const PodInfo& pod, const std::string& node) override {
    auto* s = static_cast<BindingState*>(state.Get(Name()));
    if (!s || (s->reserved.bindings.empty() && s->reserved.provisions.empty())) return {};
    VolumeStore* vs = h_->Volumes();
    for (const auto& [claim, pv] : s->reserved.bindings) {
      if (absl::Status st = BindStatic(*claim, *pv); !st.ok()) {
        return Status::Error(fmt::format("binding volumes: {}", StatusMessage(st)));
      }
    }
    for (const auto& claim : s->reserved.provisions) {
      if (claim->selected_node == node) continue;
      Json obj = *claim->object;
      obj["metadata"]["annotations"][kAnnSelectedNode] = node;
      auto r = h_->UpdateVolumeObject(true, obj, false);
      if (!r.ok()) {
        return Status::Error(fmt::format("binding volumes: {}", StatusMessage(r.status())));
      }
      if (auto p = ParsePersistentVolumeClaim(std::make_shared<const Json>(*r)); p.ok()) {
        vs->SetPvc(*p);
      }
    }
    if (s->reserved.provisions.empty()) return {};
    // Dynamic provisioning: wait for the provisioner and the PV controller to bind the claims
    // (upstream checkBindings, bounded by bindTimeoutSeconds).
    auto deadline = std::chrono::steady_clock::now() + bind_timeout_;
    while (true) {
      bool all = true;
      for (const auto& claim : s->reserved.provisions) {
        PvcPtr cur = vs->GetPvc(claim->ns, claim->name);
        if (!cur) {
          return Status::Error(
              fmt::format("binding volumes: persistentvolumeclaim \"{}\" not found", claim->name));
        }
        if (cur->selected_node != node && cur->volume_name.empty()) {
          return Status::Error(fmt::format(
              "binding volumes: selectedNode annotation reset for PVC \"{}\"", claim->name));
        }
        if (cur->volume_name.empty() || !vs->GetPv(cur->volume_name)) all = false;
      }
      if (all) return {};
      if (std::chrono::steady_clock::now() >= deadline) {
        return Status::Error(
            fmt::format("binding volumes: context deadline exceeded (pod {})", pod.key));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {Ev(EventResource::kPersistentVolumeClaim, kAdd | kUpdate, "PvcChange"),
            Ev(EventResource::kPersistentVolume, kAdd | kUpdate, "PvChange"),
            Ev(EventResource::kStorageClass, kAdd | kUpdate, "StorageClassChange"),
            Ev(EventResource::kNode, kAdd | kUpdateNodeLabel | kUpdateNodeTaint, "NodeChange")};
  }

 private:
  static bool OwnedBy(const PersistentVolumeClaim& pvc, const PodInfo& pod) {
    const Json& owners = Field(Field(*pvc.object, "metadata"), "ownerReferences");
    if (!owners.is_array()) return false;
    for (const Json& o : owners) {
      if (Bool(o, "controller") && Str(o, "uid") == pod.uid) return true;
    }
    return false;
  }

  // Binds `pv` to `claim`: the PV's spec.claimRef (as upstream's scheduler binder), then the
  // claim's spec.volumeName with the bind annotations (upstream: the persistentvolume-binder
  // controller, which korral does not have yet).
  // TODO(korral): the PV and claim phases (status Bound) are left to a PV controller; the
  // scheduler's identity (system:volume-scheduler) may not write status.
  absl::Status BindStatic(const PersistentVolumeClaim& claim, const PersistentVolume& pv) {
    VolumeStore* vs = h_->Volumes();
    const Json& claim_meta = Field(*claim.object, "metadata");
    Json pv_obj = *pv.object;
    if (!pv.BoundTo(claim) || Str(Field(Field(pv_obj, "spec"), "claimRef"), "uid").empty()) {
      pv_obj["spec"]["claimRef"] = {{"kind", "PersistentVolumeClaim"},
                                    {"apiVersion", "v1"},
                                    {"namespace", claim.ns},
                                    {"name", claim.name},
                                    {"uid", claim.uid},
                                    {"resourceVersion", Str(claim_meta, "resourceVersion")}};
      pv_obj["metadata"]["annotations"][kAnnBoundByController] = "yes";
      KORRAL_ASSIGN_OR_RETURN(pv_obj, h_->UpdateVolumeObject(false, pv_obj, false));
      if (auto p = ParsePersistentVolume(std::make_shared<const Json>(pv_obj)); p.ok()) {
        vs->SetPv(*p);
      }
    }
    Json pvc_obj = *claim.object;
    pvc_obj["spec"]["volumeName"] = pv.name;
    pvc_obj["metadata"]["annotations"][kAnnBindCompleted] = "yes";
    pvc_obj["metadata"]["annotations"][kAnnBoundByController] = "yes";
    KORRAL_ASSIGN_OR_RETURN(pvc_obj, h_->UpdateVolumeObject(true, pvc_obj, false));
    if (auto p = ParsePersistentVolumeClaim(std::make_shared<const Json>(pvc_obj)); p.ok()) {
      vs->SetPvc(*p);
    }
    return absl::OkStatus();
  }

  Handle* h_;
  std::chrono::seconds bind_timeout_;
  std::mutex mu_;
};

// ---- VolumeZone -----------------------------------------------------------------------------

const char* const kTopologyLabels[] = {
    "failure-domain.beta.kubernetes.io/zone", "failure-domain.beta.kubernetes.io/region",
    "topology.kubernetes.io/zone", "topology.kubernetes.io/region"};

std::string GaLabel(const std::string& key) {
  if (key == "failure-domain.beta.kubernetes.io/zone") return "topology.kubernetes.io/zone";
  if (key == "failure-domain.beta.kubernetes.io/region") return "topology.kubernetes.io/region";
  return key;
}

struct ZoneState : StateData {
  std::vector<std::pair<std::string, std::set<std::string>>> topologies;  // key -> allowed values
  std::shared_ptr<StateData> Clone() const override { return std::make_shared<ZoneState>(*this); }
};

class VolumeZone : public PreFilterPlugin, public FilterPlugin {
 public:
  explicit VolumeZone(Handle* h) : h_(h) {}
  std::string Name() const override { return "VolumeZone"; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    if (pod.pvc_names.empty()) return Status(Code::kSkip);
    VolumeStore* vs = h_->Volumes();
    auto s = std::make_shared<ZoneState>();
    for (const auto& name : pod.pvc_names) {
      if (name.empty()) {
        return Status(Code::kUnschedulableAndUnresolvable, "PersistentVolumeClaim had no name");
      }
      PvcPtr pvc = vs ? vs->GetPvc(pod.ns, name) : nullptr;
      if (!pvc) return NotFound(name);
      if (pvc->volume_name.empty()) {
        if (pvc->storage_class.empty()) {
          return Status(Code::kUnschedulableAndUnresolvable,
                        "PersistentVolumeClaim had no pv name and storageClass name");
        }
        StorageClassPtr sc = vs->GetStorageClass(pvc->storage_class);
        if (!sc) {
          return Status(
              Code::kUnschedulableAndUnresolvable,
              fmt::format("storageclass.storage.k8s.io \"{}\" not found", pvc->storage_class));
        }
        if (!sc->binding_mode) {
          return Status(Code::kUnschedulableAndUnresolvable,
                        fmt::format("VolumeBindingMode not set for StorageClass \"{}\"", sc->name));
        }
        if (sc->WaitForFirstConsumer()) continue;  // decided by VolumeBinding
        return Status(Code::kUnschedulableAndUnresolvable, "PersistentVolume had no name");
      }
      PvPtr pv = vs->GetPv(pvc->volume_name);
      if (!pv) {
        return Status(Code::kUnschedulableAndUnresolvable,
                      fmt::format("persistentvolume \"{}\" not found", pvc->volume_name));
      }
      for (const char* key : kTopologyLabels) {
        const std::string* v = LabelValue(pv->labels, key);
        if (!v) continue;
        // upstream volumehelpers.LabelZonesToSet: "a__b" is the set {a, b}.
        std::set<std::string> values;
        size_t start = 0;
        while (true) {
          size_t pos = v->find("__", start);
          std::string part = v->substr(start, pos == std::string::npos ? pos : pos - start);
          if (!part.empty()) values.insert(part);
          if (pos == std::string::npos) break;
          start = pos + 2;
        }
        s->topologies.emplace_back(key, std::move(values));
      }
    }
    if (s->topologies.empty()) return Status(Code::kSkip);
    state.Write(Name(), s);
    return {};
  }

  Status Filter(const CycleState& state, const PodInfo&, const NodeInfo& node) override {
    auto* s = static_cast<ZoneState*>(state.Get(Name()));
    if (!s) return {};
    const Labels& labels = node.node()->labels;
    bool has_any = false;
    for (const char* key : kTopologyLabels) has_any |= LabelValue(labels, key) != nullptr;
    if (!has_any) return {};
    for (const auto& [key, values] : s->topologies) {
      const std::string* v = LabelValue(labels, key);
      if (!v) v = LabelValue(labels, GaLabel(key));
      if (!v || !values.count(*v)) {
        return Status(Code::kUnschedulableAndUnresolvable, kErrReasonVolumeZoneConflict);
      }
    }
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {Ev(EventResource::kPersistentVolumeClaim, kAdd | kUpdate, "PvcChange"),
            Ev(EventResource::kPersistentVolume, kAdd | kUpdate, "PvChange"),
            Ev(EventResource::kStorageClass, kAdd | kUpdate, "StorageClassChange"),
            Ev(EventResource::kNode, kAdd | kUpdateNodeLabel, "NodeChange")};
  }

 private:
  Handle* h_;
};

}  // namespace

absl::StatusOr<PluginPtr> NewVolumeRestrictions(const Json&, Handle* h) {
  return PluginPtr(new VolumeRestrictions(h));
}

absl::StatusOr<PluginPtr> NewVolumeBinding(const Json& args, Handle* h) {
  int64_t timeout = 600;
  if (args.is_object() && args.contains("bindTimeoutSeconds")) {
    const Json& t = args["bindTimeoutSeconds"];
    if (!t.is_number_integer() || t.get<int64_t>() < 0) {
      return absl::InvalidArgumentError("bindTimeoutSeconds: must be a non-negative integer");
    }
    timeout = t.get<int64_t>();
  }
  return PluginPtr(new VolumeBinding(h, std::chrono::seconds(timeout)));
}

absl::StatusOr<PluginPtr> NewVolumeZone(const Json&, Handle* h) {
  return PluginPtr(new VolumeZone(h));
}

}  // namespace korral::scheduler::plugins
