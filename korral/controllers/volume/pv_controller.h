// korral/controllers/volume/pv_controller.h: the PersistentVolume controller (upstream
// "persistentvolume-binder-controller", pkg/controller/volume/persistentvolume).
//
// Claims (key ns/name) and volumes (key name) are synced by two work queues, one at a time
// (a sync holds the controller's lock), and every 15 s all of them are re-queued:
//   * an unbound claim of Immediate binding (or without a class) is bound to the best Available
//     volume: the access-mode group with the fewest modes that contains the claim's modes, then
//     the smallest capacity that fits, with the same class, volume mode and selector (node
//     affinity is not looked at); a volume pre-bound to the claim (claimRef) wins at once;
//   * a claim with spec.volumeName is bound to that volume when it satisfies it (else a
//     VolumeMismatch event);
//   * binding sets the volume's claimRef (plus pv.kubernetes.io/bound-by-controller when the
//     controller chose it), the volume phase Bound, the claim's volumeName and its
//     pv.kubernetes.io/bind-completed (and bound-by-controller) annotations, and the claim
//     status (Bound, access modes, capacity);
//   * WaitForFirstConsumer claims are left to the scheduler (event WaitForFirstConsumer);
//     claims of a class with a provisioner are annotated volume.kubernetes.io/storage-provisioner
//     and left to the external provisioner (event ExternalProvisioning), as upstream;
//   * a bound claim whose volume vanished becomes Lost (ClaimLost / ClaimMisbound events);
//   * a volume whose claim is gone becomes Released and its reclaim policy runs: Retain keeps
//     it; Delete waits for the external provisioner when pv.kubernetes.io/provisioned-by names
//     one (not kubernetes.io/...), otherwise marks it Failed (VolumeFailedDelete: korral has no
//     in-tree deleters, upstream's message); Recycle marks it Failed (VolumeFailedRecycle).
//   * a volume bound by the controller to a claim that got another volume is unbound again.
//
// Writes go through the API with the cached resourceVersion; the controller remembers the
// objects it wrote until its informers catch up, so a stale cache never undoes a binding.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers::volume {

inline constexpr char kAnnBindCompleted[] = "pv.kubernetes.io/bind-completed";
inline constexpr char kAnnBoundByController[] = "pv.kubernetes.io/bound-by-controller";
inline constexpr char kAnnSelectedNode[] = "volume.kubernetes.io/selected-node";
inline constexpr char kAnnDynamicallyProvisioned[] = "pv.kubernetes.io/provisioned-by";
inline constexpr char kAnnMigratedTo[] = "pv.kubernetes.io/migrated-to";
inline constexpr char kAnnStorageProvisioner[] = "volume.kubernetes.io/storage-provisioner";
inline constexpr char kAnnBetaStorageProvisioner[] =
    "volume.beta.kubernetes.io/storage-provisioner";
inline constexpr char kBetaStorageClassAnnotation[] = "volume.beta.kubernetes.io/storage-class";

client::ResourceRef PersistentVolumesRef();
client::ResourceRef PersistentVolumeClaimsRef();
client::ResourceRef StorageClassesRef();

// upstream storagehelpers: the beta annotation, else spec.storageClassName, else "".
std::string ClaimClass(const Json& claim);
std::string VolumeClass(const Json& pv);
// spec.claimRef names the claim (namespace and name, and uid when the ref has one).
bool IsVolumeBoundToClaim(const Json& pv, const Json& claim);
// spec.resources.requests.storage / spec.capacity.storage in bytes (0 when absent).
long double ClaimRequest(const Json& claim);
long double VolumeCapacity(const Json& pv);
// upstream's findBestMatchForClaim (FindMatchingVolume per access-mode group, no node). Null
// when nothing matches.
client::ObjectPtr FindBestMatch(const Json& claim, const std::vector<client::ObjectPtr>& volumes,
                                bool delay_binding);
// upstream checkVolumeSatisfyClaim: "" when `pv` can serve `claim`, else the reason.
std::string CheckVolumeSatisfiesClaim(const Json& pv, const Json& claim);

class PersistentVolumeController : public Controller {
 public:
  explicit PersistentVolumeController(ControllerContext& ctx);
  ~PersistentVolumeController() override;
  std::string_view Name() const override { return "persistentvolume-binder-controller"; }
  void Run(int workers) override;
  void Stop() override;

  absl::Status SyncClaim(const std::string& key);
  absl::Status SyncVolume(const std::string& name);
  // Queues every claim and volume (the periodic resync).
  void Resync();

  QueueWorker& claim_worker() { return claims_worker_; }
  QueueWorker& volume_worker() { return volumes_worker_; }
  workload::EventRecorder& recorder() { return recorder_; }

  static constexpr std::chrono::seconds kResyncPeriod{15};

 private:
  absl::Status SyncUnboundClaim(const Json& claim);
  absl::Status SyncBoundClaim(const Json& claim);
  absl::Status Bind(Json volume, Json claim);
  absl::Status UnbindVolume(Json volume);
  absl::Status ReclaimVolume(Json volume);
  absl::Status ProvisionClaim(const Json& claim);
  // The API writes; each remembers the object written.
  absl::StatusOr<Json> UpdateVolume(const Json& pv);
  absl::StatusOr<Json> UpdateVolumePhase(Json pv, const std::string& phase,
                                         const std::string& message);
  absl::StatusOr<Json> UpdateVolumePhaseWithEvent(Json pv, const std::string& phase,
                                                  const std::string& type,
                                                  const std::string& reason,
                                                  const std::string& message);
  absl::StatusOr<Json> UpdateClaim(const Json& claim);
  // upstream updateClaimStatus: phase, access modes and capacity from `volume` (null: cleared).
  absl::StatusOr<Json> UpdateClaimStatus(Json claim, const std::string& phase, const Json* volume);
  void ClaimEvent(const Json& claim, const std::string& type, const std::string& reason,
                  const std::string& message);
  void VolumeEvent(const Json& pv, const std::string& type, const std::string& reason,
                   const std::string& message);
  // The newest known version (informer or what this controller wrote); null when absent.
  client::ObjectPtr GetVolume(const std::string& name);
  client::ObjectPtr GetClaim(const std::string& key);
  std::vector<client::ObjectPtr> ListVolumes();
  bool DelayBinding(const Json& claim);

  ControllerContext ctx_;
  client::SharedInformer* pvs_;
  client::SharedInformer* pvcs_;
  client::SharedInformer* classes_;
  workload::EventRecorder recorder_;
  std::mutex sync_mu_;  // one sync at a time; guards the written_* maps
  std::map<std::string, client::ObjectPtr> written_pvs_, written_pvcs_;
  QueueWorker claims_worker_;
  QueueWorker volumes_worker_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  bool running_ = false;
  std::thread resync_;
};

}  // namespace korral::controllers::volume

namespace korral::controllers {
ControllerDescriptor PersistentVolumeBinderControllerDescriptor();
}  // namespace korral::controllers
