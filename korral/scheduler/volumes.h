// korral/scheduler/volumes.h: the scheduler's view of PersistentVolumes, PersistentVolumeClaims
// and StorageClasses (upstream: the PV/PVC/StorageClass listers and the volumebinding
// AssumeCache), parsed once on arrival like Pods and Nodes.
//
// The VolumeBinding plugin assumes a PV bound to a claim when it reserves a node for a pod (so the
// next pod does not pick the same PV before the API write lands); the assumption is dropped on
// Unreserve, or replaced by the informer's next version of the PV.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "korral/scheduler/types.h"

namespace korral::scheduler {

// Upstream's annotations and constants (pkg/controller/volume/persistentvolume/util).
inline constexpr char kBetaStorageClassAnnotation[] = "volume.beta.kubernetes.io/storage-class";
inline constexpr char kAnnSelectedNode[] = "volume.kubernetes.io/selected-node";
inline constexpr char kAnnBindCompleted[] = "pv.kubernetes.io/bind-completed";
inline constexpr char kAnnBoundByController[] = "pv.kubernetes.io/bound-by-controller";
inline constexpr char kNotSupportedProvisioner[] = "kubernetes.io/no-provisioner";

struct PersistentVolumeClaim {
  std::shared_ptr<const Json> object;
  std::string ns, name, uid, key;  // key = ns/name
  std::string volume_name;         // spec.volumeName
  std::string storage_class;       // the beta annotation, else spec.storageClassName, else ""
  std::vector<std::string> access_modes;
  std::string volume_mode = "Filesystem";
  int64_t request = 0;  // spec.resources.requests.storage (bytes)
  std::optional<LabelSelector> selector;
  std::string selected_node;  // volume.kubernetes.io/selected-node
  std::string phase;
  bool deleting = false;
  bool HasAccessMode(std::string_view m) const;
};
using PvcPtr = std::shared_ptr<const PersistentVolumeClaim>;

struct PersistentVolume {
  std::shared_ptr<const Json> object;
  std::string name;
  int64_t capacity = 0;  // spec.capacity.storage (bytes)
  std::vector<std::string> access_modes;
  std::string volume_mode = "Filesystem";
  std::string storage_class;
  Labels labels;
  std::optional<NodeSelector> node_affinity;  // spec.nodeAffinity.required
  bool has_claim_ref = false;
  std::string claim_ns, claim_name, claim_uid;
  std::string phase;
  bool deleting = false;
  // Whether spec.claimRef names `claim` (and its uid, when the ref has one).
  bool BoundTo(const PersistentVolumeClaim& claim) const;
  // upstream volume.CheckNodeAffinity: no required affinity, or it matches the node.
  bool NodeAffinityMatches(const Labels& node_labels, const std::string& node_name) const;
};
using PvPtr = std::shared_ptr<const PersistentVolume>;

struct StorageClass {
  std::string name;
  std::string provisioner;
  std::optional<std::string> binding_mode;  // volumeBindingMode (defaulted to Immediate upstream)
  // allowedTopologies: terms ORed, each a list of (key, values) ANDed. Empty: everywhere.
  std::vector<std::vector<std::pair<std::string, std::vector<std::string>>>> allowed_topologies;
  bool WaitForFirstConsumer() const {
    return binding_mode && *binding_mode == "WaitForFirstConsumer";
  }
  bool TopologyAllows(const Labels& node_labels) const;
};
using StorageClassPtr = std::shared_ptr<const StorageClass>;

absl::StatusOr<PvcPtr> ParsePersistentVolumeClaim(std::shared_ptr<const Json> obj);
absl::StatusOr<PvPtr> ParsePersistentVolume(std::shared_ptr<const Json> obj);
StorageClassPtr ParseStorageClass(const Json& obj);
// Test helpers (null on a parse error).
PvcPtr MakePvc(const Json& obj);
PvPtr MakePv(const Json& obj);

class VolumeStore {
 public:
  void SetPvc(PvcPtr pvc);
  void RemovePvc(const std::string& key);
  // Replaces the PV and drops an assumption on it.
  void SetPv(PvPtr pv);
  void RemovePv(const std::string& name);
  void SetStorageClass(StorageClassPtr sc);
  void RemoveStorageClass(const std::string& name);

  PvcPtr GetPvc(const std::string& ns, const std::string& name) const;
  // The PV as assumed (if assumed), else as last seen.
  PvPtr GetPv(const std::string& name) const;
  // Every PV (assumed versions where assumed), sorted by name.
  std::vector<PvPtr> ListPvs() const;
  StorageClassPtr GetStorageClass(const std::string& name) const;
  // upstream IsDelayBindingMode: the claim's class exists and is WaitForFirstConsumer. A class
  // that does not exist means Immediate.
  bool DelayBinding(const PersistentVolumeClaim& claim) const;
  bool HasPvcs() const;

  // Assumes `pv` bound to `claim` (Reserve). Returns false if the PV is gone or already taken by
  // another claim.
  bool AssumePv(const std::string& pv, const PersistentVolumeClaim& claim);
  // Drops the assumption (Unreserve, or a failed binding).
  void RestorePv(const std::string& pv);

 private:
  mutable std::mutex mu_;
  std::map<std::string, PvcPtr> pvcs_;
  std::map<std::string, PvPtr> pvs_;
  std::map<std::string, PvPtr> assumed_;
  std::map<std::string, StorageClassPtr> classes_;
};

}  // namespace korral::scheduler
