// korral/scheduler/cache.h: the scheduler cache (upstream: pkg/scheduler/backend/cache).
//
// Holds every node and every pod bound (or assumed bound) to a node. The scheduling cycle assumes
// a pod onto its chosen node before binding asynchronously; the informer's update carrying
// spec.nodeName confirms it, a failed bind forgets it. UpdateSnapshot refreshes a Snapshot by
// cloning only the NodeInfos that changed since the previous call.
//
// Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "korral/scheduler/node_info.h"

namespace korral::scheduler {

class Cache {
 public:
  void AddNode(NodePtr node);
  void UpdateNode(NodePtr node) { AddNode(std::move(node)); }
  void RemoveNode(const std::string& name);

  // Assumes `pod` (whose node_name is set) is on its node. AlreadyExists if already present.
  absl::Status AssumePod(const PodInfoPtr& pod);
  // Binding finished (nothing to do until the informer confirms).
  void FinishBinding(const PodInfo& pod);
  // Drops an assumed pod (bind failed).
  void ForgetPod(const PodInfo& pod);
  // An assigned pod from the informer (confirms an assumed one, or adds a new one).
  void AddPod(const PodInfoPtr& pod);
  void UpdatePod(const PodInfoPtr& pod) { AddPod(pod); }
  void RemovePod(const PodInfo& pod);
  bool IsAssumed(const std::string& key) const;
  // The pod as the cache knows it (assumed or confirmed), or null.
  PodInfoPtr GetPod(const std::string& key) const;

  void SetNamespace(const std::string& name, Labels labels);
  void RemoveNamespace(const std::string& name);

  // Brings `snapshot` up to date.
  void UpdateSnapshot(Snapshot& snapshot);

  size_t NumNodes() const;
  size_t NumPods() const;

 private:
  struct PodState {
    PodInfoPtr pod;
    bool assumed = false;
  };
  NodeInfoPtr& NodeLocked(const std::string& name);
  void AddPodLocked(const PodInfoPtr& pod);
  void RemovePodLocked(const PodInfo& pod, const std::string& node);
  void TouchLocked(const std::string& name);

  mutable std::mutex mu_;
  std::unordered_map<std::string, NodeInfoPtr> nodes_;  // includes pod-only placeholders
  std::unordered_map<std::string, PodState> pods_;
  std::unordered_map<std::string, Labels> namespaces_;
  std::shared_ptr<const std::unordered_map<std::string, Labels>> namespaces_copy_;
  std::set<std::string> dirty_;
  bool node_set_changed_ = true;
  int64_t generation_ = 0;
};

}  // namespace korral::scheduler
