#include "korral/scheduler/volumes.h"

#include <algorithm>

#include "korral/base/status.h"

namespace korral::scheduler {
namespace {

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

std::vector<std::string> Strings(const Json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const Json& v : j) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

absl::StatusOr<int64_t> Storage(const Json& list) {
  const Json& q = Field(list, "storage");
  if (q.is_string()) return ParseQuantity(q.get<std::string>());
  if (q.is_number()) return static_cast<int64_t>(q.get<double>());
  return 0;
}

// upstream storagehelpers.GetPersistentVolume(Claim)Class: the beta annotation wins.
std::string ClassOf(const Json& meta, const Json& spec) {
  const Json& ann = Field(meta, "annotations");
  if (Field(ann, kBetaStorageClassAnnotation).is_string()) {
    return Str(ann, kBetaStorageClassAnnotation);
  }
  return Str(spec, "storageClassName");
}

}  // namespace

bool PersistentVolumeClaim::HasAccessMode(std::string_view m) const {
  return std::find(access_modes.begin(), access_modes.end(), m) != access_modes.end();
}

bool PersistentVolume::BoundTo(const PersistentVolumeClaim& claim) const {
  if (!has_claim_ref) return false;
  if (claim_name != claim.name || claim_ns != claim.ns) return false;
  return claim_uid.empty() || claim_uid == claim.uid;
}

bool PersistentVolume::NodeAffinityMatches(const Labels& node_labels,
                                           const std::string& node_name) const {
  if (!node_affinity) return true;
  return node_affinity->Matches(node_labels, node_name);
}

bool StorageClass::TopologyAllows(const Labels& node_labels) const {
  if (allowed_topologies.empty()) return true;
  for (const auto& term : allowed_topologies) {
    bool ok = true;
    for (const auto& [key, values] : term) {
      const std::string* v = LabelValue(node_labels, key);
      if (!v || std::find(values.begin(), values.end(), *v) == values.end()) {
        ok = false;
        break;
      }
    }
    if (ok) return true;
  }
  return false;
}

absl::StatusOr<PvcPtr> ParsePersistentVolumeClaim(std::shared_ptr<const Json> obj) {
  auto c = std::make_shared<PersistentVolumeClaim>();
  const Json& meta = Field(*obj, "metadata");
  const Json& spec = Field(*obj, "spec");
  c->ns = Str(meta, "namespace");
  c->name = Str(meta, "name");
  c->uid = Str(meta, "uid");
  c->key = c->ns + "/" + c->name;
  c->deleting = !Field(meta, "deletionTimestamp").is_null();
  c->selected_node = Str(Field(meta, "annotations"), kAnnSelectedNode);
  c->volume_name = Str(spec, "volumeName");
  c->storage_class = ClassOf(meta, spec);
  c->access_modes = Strings(Field(spec, "accessModes"));
  if (std::string m = Str(spec, "volumeMode"); !m.empty()) c->volume_mode = m;
  KORRAL_ASSIGN_OR_RETURN(c->request, Storage(Field(Field(spec, "resources"), "requests")));
  if (!Field(spec, "selector").is_null()) {
    KORRAL_ASSIGN_OR_RETURN(auto sel, LabelSelector::FromJson(Field(spec, "selector")));
    c->selector = std::move(sel);
  }
  c->phase = Str(Field(*obj, "status"), "phase");
  c->object = std::move(obj);
  return PvcPtr(std::move(c));
}

absl::StatusOr<PvPtr> ParsePersistentVolume(std::shared_ptr<const Json> obj) {
  auto v = std::make_shared<PersistentVolume>();
  const Json& meta = Field(*obj, "metadata");
  const Json& spec = Field(*obj, "spec");
  v->name = Str(meta, "name");
  v->deleting = !Field(meta, "deletionTimestamp").is_null();
  v->labels = LabelsFromJson(Field(meta, "labels"));
  KORRAL_ASSIGN_OR_RETURN(v->capacity, Storage(Field(spec, "capacity")));
  v->access_modes = Strings(Field(spec, "accessModes"));
  if (std::string m = Str(spec, "volumeMode"); !m.empty()) v->volume_mode = m;
  v->storage_class = ClassOf(meta, spec);
  const Json& req = Field(Field(spec, "nodeAffinity"), "required");
  if (req.is_object()) {
    KORRAL_ASSIGN_OR_RETURN(auto ns, ParseNodeSelector(req));
    v->node_affinity = std::move(ns);
  }
  const Json& ref = Field(spec, "claimRef");
  if (ref.is_object()) {
    v->has_claim_ref = true;
    v->claim_ns = Str(ref, "namespace");
    v->claim_name = Str(ref, "name");
    v->claim_uid = Str(ref, "uid");
  }
  v->phase = Str(Field(*obj, "status"), "phase");
  v->object = std::move(obj);
  return PvPtr(std::move(v));
}

StorageClassPtr ParseStorageClass(const Json& obj) {
  auto sc = std::make_shared<StorageClass>();
  sc->name = Str(Field(obj, "metadata"), "name");
  sc->provisioner = Str(obj, "provisioner");
  if (Field(obj, "volumeBindingMode").is_string()) {
    sc->binding_mode = Str(obj, "volumeBindingMode");
  }
  const Json& topo = Field(obj, "allowedTopologies");
  if (topo.is_array()) {
    for (const Json& t : topo) {
      std::vector<std::pair<std::string, std::vector<std::string>>> term;
      const Json& exprs = Field(t, "matchLabelExpressions");
      if (exprs.is_array()) {
        for (const Json& e : exprs) term.emplace_back(Str(e, "key"), Strings(Field(e, "values")));
      }
      sc->allowed_topologies.push_back(std::move(term));
    }
  }
  return sc;
}

PvcPtr MakePvc(const Json& obj) {
  auto r = ParsePersistentVolumeClaim(std::make_shared<const Json>(obj));
  return r.ok() ? *r : nullptr;
}

PvPtr MakePv(const Json& obj) {
  auto r = ParsePersistentVolume(std::make_shared<const Json>(obj));
  return r.ok() ? *r : nullptr;
}

// ---- VolumeStore --------------------------------------------------------------------------------

void VolumeStore::SetPvc(PvcPtr pvc) {
  std::lock_guard l(mu_);
  pvcs_[pvc->key] = std::move(pvc);
}

void VolumeStore::RemovePvc(const std::string& key) {
  std::lock_guard l(mu_);
  pvcs_.erase(key);
}

void VolumeStore::SetPv(PvPtr pv) {
  std::lock_guard l(mu_);
  assumed_.erase(pv->name);
  pvs_[pv->name] = std::move(pv);
}

void VolumeStore::RemovePv(const std::string& name) {
  std::lock_guard l(mu_);
  assumed_.erase(name);
  pvs_.erase(name);
}

void VolumeStore::SetStorageClass(StorageClassPtr sc) {
  std::lock_guard l(mu_);
  classes_[sc->name] = std::move(sc);
}

void VolumeStore::RemoveStorageClass(const std::string& name) {
  std::lock_guard l(mu_);
  classes_.erase(name);
}

PvcPtr VolumeStore::GetPvc(const std::string& ns, const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = pvcs_.find(ns + "/" + name);
  return it == pvcs_.end() ? nullptr : it->second;
}

PvPtr VolumeStore::GetPv(const std::string& name) const {
  std::lock_guard l(mu_);
  if (auto a = assumed_.find(name); a != assumed_.end()) return a->second;
  auto it = pvs_.find(name);
  return it == pvs_.end() ? nullptr : it->second;
}

std::vector<PvPtr> VolumeStore::ListPvs() const {
  std::lock_guard l(mu_);
  std::vector<PvPtr> out;
  out.reserve(pvs_.size());
  for (const auto& [name, pv] : pvs_) {
    auto a = assumed_.find(name);
    out.push_back(a == assumed_.end() ? pv : a->second);
  }
  return out;
}

StorageClassPtr VolumeStore::GetStorageClass(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = classes_.find(name);
  return it == classes_.end() ? nullptr : it->second;
}

bool VolumeStore::DelayBinding(const PersistentVolumeClaim& claim) const {
  if (claim.storage_class.empty()) return false;
  StorageClassPtr sc = GetStorageClass(claim.storage_class);
  return sc && sc->WaitForFirstConsumer();
}

bool VolumeStore::HasPvcs() const {
  std::lock_guard l(mu_);
  return !pvcs_.empty();
}

bool VolumeStore::AssumePv(const std::string& pv, const PersistentVolumeClaim& claim) {
  std::lock_guard l(mu_);
  PvPtr cur;
  if (auto a = assumed_.find(pv); a != assumed_.end()) {
    cur = a->second;
  } else if (auto it = pvs_.find(pv); it != pvs_.end()) {
    cur = it->second;
  }
  if (!cur) return false;
  if (cur->has_claim_ref && !cur->BoundTo(claim)) return false;
  auto copy = std::make_shared<PersistentVolume>(*cur);
  copy->has_claim_ref = true;
  copy->claim_ns = claim.ns;
  copy->claim_name = claim.name;
  copy->claim_uid = claim.uid;
  assumed_[pv] = std::move(copy);
  return true;
}

void VolumeStore::RestorePv(const std::string& pv) {
  std::lock_guard l(mu_);
  assumed_.erase(pv);
}

}  // namespace korral::scheduler
