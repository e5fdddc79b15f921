// korral/controllers/garbagecollector/garbagecollector.h: the garbage collector (upstream
// pkg/controller/garbagecollector).
//
// It watches every resource the server serves that supports list, watch and delete (events
// excepted, as upstream) and keeps a graph of ownerReferences keyed by uid. Two kinds of work:
//
//  * attempt-to-delete(uid): for an object whose owners may be gone. Each owner is "solid"
//    (exists, not foreground-deleting), "waiting" (being deleted in the foreground) or
//    "dangling" (absent, or present with another uid; checked with a live GET when the graph
//    does not know it; an owner reference that cannot resolve in the dependent's scope, e.g. a
//    cluster-scoped dependent naming a namespaced kind, is dangling too). With a solid owner the
//    dangling/waiting references are removed; with none the object is deleted: Foreground if
//    it waits on a foreground owner and has dependents of its own, else by its own
//    orphan/foregroundDeletion finalizer, else Background.
//    For an object being deleted with the foregroundDeletion finalizer: its dependents whose
//    reference has blockOwnerDeletion=true are deleted first; when none remain the finalizer is
//    removed (so the apiserver deletes it). Cycles resolve because "waiting" owners count as
//    absent.
//  * attempt-to-orphan(uid): for an object being deleted with the orphan finalizer: removes the
//    ownerReferences to it from every dependent, then removes the finalizer.
//
// New resources (CRDs) are picked up by re-reading discovery every discovery_period.
#pragma once

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"
#include "korral/controllers/discovery.h"

namespace korral::controllers {

class GarbageCollector : public Controller {
 public:
  explicit GarbageCollector(ControllerContext& ctx);
  ~GarbageCollector() override;
  std::string_view Name() const override { return "garbage-collector-controller"; }
  void Run(int workers) override;
  void Stop() override;

  // Reads discovery and starts monitoring resources not monitored yet. Returns the number added.
  absl::StatusOr<int> SyncMonitors();
  // One work item ("delete/<uid>" or "orphan/<uid>"), exposed for tests.
  absl::Status Process(const std::string& key);
  QueueWorker& worker() { return worker_; }
  // Graph size (tests, metrics).
  size_t GraphSize();

 private:
  struct OwnerRef {
    std::string api_version, kind, name, uid;
    bool block_owner_deletion = false;
  };
  struct Node {
    client::ResourceRef ref;
    std::string ns, name, uid;
    std::vector<OwnerRef> owners;
    bool being_deleted = false;
    bool foreground = false;  // being deleted with the foregroundDeletion finalizer
    bool orphan = false;      // being deleted with the orphan finalizer
  };
  enum class OwnerState { kSolid, kWaiting, kDangling };

  void OnUpsert(const client::ResourceRef& ref, const Json& obj);
  void OnDelete(const Json& obj);
  absl::Status AttemptToDelete(const std::string& uid);
  absl::Status AttemptToOrphan(const std::string& uid);
  absl::Status ProcessDeletingDependents(const Node& node);
  absl::StatusOr<OwnerState> ClassifyOwner(const Node& dependent, const OwnerRef& owner);
  // The resource for apiVersion + kind (from discovery).
  std::optional<ApiResource> ResourceFor(const std::string& api_version, const std::string& kind);
  absl::Status RemoveOwnerRefs(const Node& node, const std::set<std::string>& uids);
  absl::Status RemoveFinalizer(const Node& node, const std::string& finalizer);

  ControllerContext ctx_;
  QueueWorker worker_;
  std::mutex mu_;  // guards graph_, monitored_, kinds_
  std::unordered_map<std::string, Node> graph_;
  // owner uid -> dependent uids (kept even while the owner is not in the graph yet).
  std::unordered_map<std::string, std::set<std::string>> dependents_;
  std::set<std::string> monitored_;           // "group/resource"
  std::map<std::string, ApiResource> kinds_;  // "group/Kind" -> resource
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  std::thread discovery_thread_;
};

ControllerDescriptor GarbageCollectorControllerDescriptor();

}  // namespace korral::controllers
