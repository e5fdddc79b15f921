#include "korral/scheduler/cache.h"

#include <algorithm>
#include <map>

namespace korral::scheduler {

NodeInfoPtr& Cache::NodeLocked(const std::string& name) {
  auto& n = nodes_[name];
  if (!n) n = std::make_shared<NodeInfo>();
  return n;
}

void Cache::TouchLocked(const std::string& name) { dirty_.insert(name); }

void Cache::AddNode(NodePtr node) {
  std::lock_guard l(mu_);
  auto& n = NodeLocked(node->name);
  if (!n->node()) node_set_changed_ = true;
  std::string name = node->name;
  n->SetNode(std::move(node));
  n->generation++;
  TouchLocked(name);
  node_set_changed_ = true;  // images, labels (zones) may have changed
}

void Cache::RemoveNode(const std::string& name) {
  std::lock_guard l(mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return;
  if (it->second->pods().empty()) {
    nodes_.erase(it);
  } else {
    it->second->SetNode(nullptr);  // keep pods until they are deleted
  }
  TouchLocked(name);
  node_set_changed_ = true;
}

void Cache::AddPodLocked(const PodInfoPtr& pod) {
  NodeLocked(pod->node_name)->AddPod(pod);
  TouchLocked(pod->node_name);
}

void Cache::RemovePodLocked(const PodInfo& pod, const std::string& node) {
  auto it = nodes_.find(node);
  if (it == nodes_.end()) return;
  it->second->RemovePod(pod);
  if (!it->second->node() && it->second->pods().empty()) {
    nodes_.erase(it);
    node_set_changed_ = true;
  }
  TouchLocked(node);
}

absl::Status Cache::AssumePod(const PodInfoPtr& pod) {
  std::lock_guard l(mu_);
  if (pods_.count(pod->key)) {
    return absl::Status(absl::StatusCode::kAlreadyExists,
                        absl::string_view("pod " + pod->key + " is in the cache"));
  }
  pods_[pod->key] = {pod, true};
  AddPodLocked(pod);
  return absl::OkStatus();
}

void Cache::FinishBinding(const PodInfo&) {}

void Cache::ForgetPod(const PodInfo& pod) {
  std::lock_guard l(mu_);
  auto it = pods_.find(pod.key);
  if (it == pods_.end() || !it->second.assumed) return;
  RemovePodLocked(*it->second.pod, it->second.pod->node_name);
  pods_.erase(it);
}

void Cache::AddPod(const PodInfoPtr& pod) {
  std::lock_guard l(mu_);
  auto it = pods_.find(pod->key);
  if (it != pods_.end()) {
    RemovePodLocked(*it->second.pod, it->second.pod->node_name);
  }
  pods_[pod->key] = {pod, false};
  AddPodLocked(pod);
}

void Cache::RemovePod(const PodInfo& pod) {
  std::lock_guard l(mu_);
  auto it = pods_.find(pod.key);
  if (it == pods_.end()) return;
  RemovePodLocked(*it->second.pod, it->second.pod->node_name);
  pods_.erase(it);
}

bool Cache::IsAssumed(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = pods_.find(key);
  return it != pods_.end() && it->second.assumed;
}

PodInfoPtr Cache::GetPod(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = pods_.find(key);
  return it == pods_.end() ? nullptr : it->second.pod;
}

void Cache::SetNamespace(const std::string& name, Labels labels) {
  std::lock_guard l(mu_);
  namespaces_[name] = std::move(labels);
  namespaces_copy_.reset();
}

void Cache::RemoveNamespace(const std::string& name) {
  std::lock_guard l(mu_);
  namespaces_.erase(name);
  namespaces_copy_.reset();
}

size_t Cache::NumNodes() const {
  std::lock_guard l(mu_);
  size_t n = 0;
  for (const auto& [k, v] : nodes_) n += v->node() != nullptr;
  return n;
}

size_t Cache::NumPods() const {
  std::lock_guard l(mu_);
  return pods_.size();
}

void Cache::UpdateSnapshot(Snapshot& s) {
  std::lock_guard l(mu_);
  if (!namespaces_copy_) {
    namespaces_copy_ = std::make_shared<const std::unordered_map<std::string, Labels>>(namespaces_);
  }
  s.namespaces_ = namespaces_copy_;
  bool affinity_lists_changed = false;
  if (node_set_changed_) {
    // Rebuild the node list: clone dirty nodes, reuse the others. Nodes are interleaved across
    // zones (upstream's nodeTree) so that a partial search still spreads over zones.
    std::map<std::string, std::vector<std::string>> by_zone;
    for (const auto& [name, info] : nodes_) {
      if (!info->node()) continue;
      const std::string* zone = LabelValue(info->node()->labels, "topology.kubernetes.io/zone");
      by_zone[zone ? *zone : ""].push_back(name);
    }
    for (auto& [z, names] : by_zone) std::sort(names.begin(), names.end());
    std::vector<NodeInfoPtr> nodes;
    std::unordered_map<std::string, size_t> index;
    for (size_t i = 0;; ++i) {
      bool any = false;
      for (const auto& [z, names] : by_zone) {
        if (i >= names.size()) continue;
        any = true;
        const std::string& name = names[i];
        NodeInfoPtr info;
        auto old = s.index_.find(name);
        if (old != s.index_.end() && !dirty_.count(name)) {
          info = s.nodes_[old->second];
        } else {
          info = std::make_shared<NodeInfo>(*nodes_[name]);
        }
        index[name] = nodes.size();
        info->snapshot_index = static_cast<int32_t>(nodes.size());
        nodes.push_back(std::move(info));
      }
      if (!any) break;
    }
    s.nodes_ = std::move(nodes);
    s.index_ = std::move(index);
    s.NodeListChanged();
    s.image_nodes_.clear();
    for (const auto& n : s.nodes_) {
      for (const auto& [img, size] : n->node()->images) s.image_nodes_[img]++;
    }
    affinity_lists_changed = true;
    node_set_changed_ = false;
  } else {
    for (const auto& name : dirty_) {
      auto it = nodes_.find(name);
      auto old = s.index_.find(name);
      if (it == nodes_.end() || !it->second->node() || old == s.index_.end()) continue;
      NodeInfoPtr& slot = s.nodes_[old->second];
      bool had_aff = !slot->pods_with_affinity().empty();
      bool had_anti = !slot->pods_with_required_anti_affinity().empty();
      slot = std::make_shared<NodeInfo>(*it->second);
      slot->snapshot_index = static_cast<int32_t>(old->second);
      s.NodeChanged(slot->snapshot_index);
      if (had_aff != !slot->pods_with_affinity().empty() ||
          had_anti != !slot->pods_with_required_anti_affinity().empty() || had_aff || had_anti) {
        affinity_lists_changed = true;
      }
    }
  }
  dirty_.clear();
  if (affinity_lists_changed) {
    s.with_affinity_.clear();
    s.with_required_anti_affinity_.clear();
    for (const auto& n : s.nodes_) {
      if (!n->pods_with_affinity().empty()) s.with_affinity_.push_back(n);
      if (!n->pods_with_required_anti_affinity().empty()) {
        s.with_required_anti_affinity_.push_back(n);
      }
    }
  }
  s.generation_ = ++generation_;
}

}  // namespace korral::scheduler
