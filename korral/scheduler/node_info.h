// korral/scheduler/node_info.h: NodeInfo (a node with the aggregates of the pods on it) and the
// per-cycle Snapshot (upstream: framework.NodeInfo, internal/cache.Snapshot).
//
// NodeInfo keeps precomputed aggregates so filters are O(1) or O(pods with affinity) per node:
// requested resources, non-zero requests (for scoring), used host ports, and the pods that carry
// (anti-)affinity terms. Snapshots are cloned from the cache's NodeInfos only for nodes that
// changed since the previous snapshot, so one cycle costs O(changed nodes).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "korral/scheduler/types.h"

namespace korral::scheduler {

class NodeInfo {
 public:
  NodeInfo() = default;
  explicit NodeInfo(NodePtr node) : node_(std::move(node)) {}

  const NodePtr& node() const { return node_; }
  void SetNode(NodePtr node) { node_ = std::move(node); }
  const std::string& name() const;

  void AddPod(const PodInfoPtr& pod);
  // Removes the pod with `pod`'s key; false if absent.
  bool RemovePod(const PodInfo& pod);

  const std::vector<PodInfoPtr>& pods() const { return pods_; }
  const std::vector<PodInfoPtr>& pods_with_affinity() const { return pods_with_affinity_; }
  const std::vector<PodInfoPtr>& pods_with_required_anti_affinity() const {
    return pods_with_required_anti_affinity_;
  }
  const Resource& requested() const { return requested_; }
  int64_t non_zero_cpu() const { return non_zero_cpu_; }
  int64_t non_zero_memory() const { return non_zero_memory_; }
  // Whether `port` conflicts with a port in use (0.0.0.0 overlaps every IP).
  bool PortConflicts(const HostPort& port) const;

  int64_t generation = 0;

  // Memoized per-node results of plugins (e.g. "pods matching selector S in namespace N"), keyed
  // by an interned id. Only snapshot NodeInfos (owned by the scheduling thread) use it; any
  // change to the node's pods clears it.
  mutable std::vector<std::pair<int, int64_t>> memo;
  bool MemoGet(int id, int64_t* v) const {
    for (const auto& [k, x] : memo) {
      if (k == id) {
        *v = x;
        return true;
      }
    }
    return false;
  }
  void MemoPut(int id, int64_t v) const { memo.emplace_back(id, v); }

 private:
  NodePtr node_;
  std::vector<PodInfoPtr> pods_;
  std::vector<PodInfoPtr> pods_with_affinity_;
  std::vector<PodInfoPtr> pods_with_required_anti_affinity_;
  Resource requested_;
  int64_t non_zero_cpu_ = 0;
  int64_t non_zero_memory_ = 0;
  std::vector<HostPort> used_ports_;
};
using NodeInfoPtr = std::shared_ptr<NodeInfo>;

// A consistent view of the cluster for one scheduling cycle. Read-only during the cycle.
class Snapshot {
 public:
  const std::vector<NodeInfoPtr>& nodes() const { return nodes_; }
  const std::vector<NodeInfoPtr>& have_pods_with_affinity() const { return with_affinity_; }
  const std::vector<NodeInfoPtr>& have_pods_with_required_anti_affinity() const {
    return with_required_anti_affinity_;
  }
  NodeInfo* Get(const std::string& name) const;
  size_t NumNodes() const { return nodes_.size(); }
  // Number of nodes that have `image` (normalized name).
  int NodesWithImage(const std::string& image) const;
  // Labels of namespace `ns` (null if unknown).
  const Labels* NamespaceLabels(const std::string& ns) const;

 private:
  friend class Cache;
  friend std::shared_ptr<Snapshot> NewSnapshot(const std::vector<NodePtr>& nodes,
                                               const std::vector<PodInfoPtr>& pods);
  std::vector<NodeInfoPtr> nodes_;
  std::unordered_map<std::string, size_t> index_;
  std::vector<NodeInfoPtr> with_affinity_;
  std::vector<NodeInfoPtr> with_required_anti_affinity_;
  std::unordered_map<std::string, int> image_nodes_;
  std::shared_ptr<const std::unordered_map<std::string, Labels>> namespaces_;
  int64_t generation_ = 0;
};

// Interns a memo key (process-wide, thread-safe) for NodeInfo::memo.
int InternMemoKey(const std::string& key);
// A canonical string for a selector (for memo keys).
std::string SelectorKey(const LabelSelector& selector);

// Builds a snapshot directly from nodes and pods (tests, preemption dry runs).
std::shared_ptr<Snapshot> NewSnapshot(const std::vector<NodePtr>& nodes,
                                      const std::vector<PodInfoPtr>& pods);

}  // namespace korral::scheduler
