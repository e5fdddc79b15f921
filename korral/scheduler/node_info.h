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
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "korral/scheduler/types.h"

namespace korral::scheduler {

class NodeInfo {
 public:
  NodeInfo() = default;
  explicit NodeInfo(NodePtr node) { SetNode(std::move(node)); }

  const NodePtr& node() const { return node_; }
  void SetNode(NodePtr node) {
    node_ = std::move(node);
    unschedulable_ = node_ && node_->unschedulable;
    has_taints_ = node_ && !node_->taints.empty();
    allocatable_ = node_ ? node_->allocatable : Resource{};
  }
  // Copies of the node's fields the per-node filters read, so they need not touch the Node.
  bool unschedulable() const { return unschedulable_; }
  bool has_taints() const { return has_taints_; }
  const Resource& allocatable() const { return allocatable_; }
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
  // Position in the snapshot that holds this NodeInfo (-1 outside a snapshot); copies keep it,
  // and Snapshot::DomainOf checks that it still refers to the same node.
  int32_t snapshot_index = -1;

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
  bool unschedulable_ = false;
  bool has_taints_ = false;
  Resource allocatable_;
  std::vector<PodInfoPtr> pods_;
  std::vector<PodInfoPtr> pods_with_affinity_;
  std::vector<PodInfoPtr> pods_with_required_anti_affinity_;
  Resource requested_;
  int64_t non_zero_cpu_ = 0;
  int64_t non_zero_memory_ = 0;
  std::vector<HostPort> used_ports_;
};
using NodeInfoPtr = std::shared_ptr<NodeInfo>;

// The domains of one topology key over a snapshot's nodes: a dense id per distinct label value
// and each node's id (-1 when the node lacks the label). Built lazily per key and per node list,
// so plugins count per (key, value) pair in flat arrays instead of hashing strings per node.
struct TopologyIndex {
  std::string key;
  std::vector<int32_t> domain_of;   // by snapshot node index
  std::vector<std::string> values;  // id -> label value
  std::unordered_map<std::string, int32_t> ids;
  // Id of `value`, -1 if no node of the snapshot has it.
  int32_t Id(const std::string& value) const {
    auto it = ids.find(value);
    return it == ids.end() ? -1 : it->second;
  }
  size_t NumDomains() const { return values.size(); }
};
using TopologyIndexPtr = std::shared_ptr<const TopologyIndex>;

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
  // Identity of the node list: new for every snapshot object and every rebuild of its node list.
  int64_t epoch() const { return epoch_; }
  // Sequence number of the next per-node change within the epoch.
  int64_t change_seq() const {
    return change_log_begin_ + static_cast<int64_t>(change_log_.size());
  }
  // Appends the snapshot indices of the nodes whose NodeInfo was replaced since `seq` (same
  // epoch) to `out`; false when that is no longer known (log trimmed).
  bool ChangedSince(int64_t seq, std::vector<int32_t>* out) const;
  // The domains of `key` (built on first use; rebuilt after the node list changes). Thread-safe.
  TopologyIndexPtr Topology(const std::string& key) const;
  // Domain id of `node` in `index` (-1 without the label): by position when `node` is (a copy of)
  // one of this snapshot's nodes, else by its label value.
  int32_t DomainOf(const TopologyIndex& index, const NodeInfo& node) const {
    int32_t i = node.snapshot_index;
    if (i >= 0 && static_cast<size_t>(i) < index.domain_of.size() &&
        static_cast<size_t>(i) < nodes_.size() &&
        (nodes_[i].get() == &node || nodes_[i]->node() == node.node())) {
      return index.domain_of[i];
    }
    return DomainOfSlow(index, node);
  }

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
  int32_t DomainOfSlow(const TopologyIndex& index, const NodeInfo& node) const;
  static int64_t NextEpoch();
  void NodeListChanged();
  void NodeChanged(int32_t index);
  int64_t epoch_ = NextEpoch();
  std::vector<int32_t> change_log_;
  int64_t change_log_begin_ = 0;
  void ResetTopology();
  std::shared_ptr<std::mutex> topology_mu_ = std::make_shared<std::mutex>();
  mutable std::unordered_map<std::string, TopologyIndexPtr> topology_;
};

// Interns a memo key (process-wide, thread-safe) for NodeInfo::memo.
int InternMemoKey(const std::string& key);
// A canonical string for a selector (for memo keys).
std::string SelectorKey(const LabelSelector& selector);

// Builds a snapshot directly from nodes and pods (tests, preemption dry runs).
std::shared_ptr<Snapshot> NewSnapshot(const std::vector<NodePtr>& nodes,
                                      const std::vector<PodInfoPtr>& pods);

}  // namespace korral::scheduler
