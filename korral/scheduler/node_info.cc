#include "korral/scheduler/node_info.h"

#include <algorithm>
#include <atomic>
#include <mutex>

namespace korral::scheduler {

const std::string& NodeInfo::name() const {
  static const std::string kEmpty;
  return node_ ? node_->name : kEmpty;
}

void NodeInfo::AddPod(const PodInfoPtr& pod) {
  pods_.push_back(pod);
  if (pod->HasAffinity()) pods_with_affinity_.push_back(pod);
  if (pod->HasRequiredAntiAffinity()) pods_with_required_anti_affinity_.push_back(pod);
  requested_.Add(pod->requests);
  non_zero_cpu_ += pod->non_zero_cpu;
  non_zero_memory_ += pod->non_zero_memory;
  for (const auto& hp : pod->host_ports) used_ports_.push_back(hp);
  ++generation;
  memo.clear();
}

namespace {
bool EraseByKey(std::vector<PodInfoPtr>& v, const std::string& key) {
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i]->key == key) {
      v[i] = std::move(v.back());
      v.pop_back();
      return true;
    }
  }
  return false;
}
}  // namespace

bool NodeInfo::RemovePod(const PodInfo& pod) {
  PodInfoPtr found;
  for (const auto& p : pods_) {
    if (p->key == pod.key) {
      found = p;
      break;
    }
  }
  if (!found) return false;
  EraseByKey(pods_, pod.key);
  EraseByKey(pods_with_affinity_, pod.key);
  EraseByKey(pods_with_required_anti_affinity_, pod.key);
  requested_.Sub(found->requests);
  non_zero_cpu_ -= found->non_zero_cpu;
  non_zero_memory_ -= found->non_zero_memory;
  for (const auto& hp : found->host_ports) {
    for (size_t i = 0; i < used_ports_.size(); ++i) {
      const auto& u = used_ports_[i];
      if (u.port == hp.port && u.protocol == hp.protocol && u.ip == hp.ip) {
        used_ports_.erase(used_ports_.begin() + static_cast<long>(i));
        break;
      }
    }
  }
  ++generation;
  memo.clear();
  return true;
}

bool NodeInfo::PortConflicts(const HostPort& port) const {
  for (const auto& u : used_ports_) {
    if (u.port != port.port || u.protocol != port.protocol) continue;
    if (u.ip == port.ip || u.ip == "0.0.0.0" || port.ip == "0.0.0.0") return true;
  }
  return false;
}

NodeInfo* Snapshot::Get(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : nodes_[it->second].get();
}

int Snapshot::NodesWithImage(const std::string& image) const {
  auto it = image_nodes_.find(image);
  return it == image_nodes_.end() ? 0 : it->second;
}

const Labels* Snapshot::NamespaceLabels(const std::string& ns) const {
  if (!namespaces_) return nullptr;
  auto it = namespaces_->find(ns);
  return it == namespaces_->end() ? nullptr : &it->second;
}

TopologyIndexPtr Snapshot::Topology(const std::string& key) const {
  std::lock_guard l(*topology_mu_);
  auto& slot = topology_[key];
  if (slot && slot->domain_of.size() == nodes_.size()) return slot;
  auto idx = std::make_shared<TopologyIndex>();
  idx->key = key;
  idx->domain_of.resize(nodes_.size(), -1);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const NodeInfo& n = *nodes_[i];
    if (!n.node()) continue;
    const std::string* v = LabelValue(n.node()->labels, key);
    if (!v) continue;
    auto [it, inserted] = idx->ids.emplace(*v, static_cast<int32_t>(idx->values.size()));
    if (inserted) idx->values.push_back(*v);
    idx->domain_of[i] = it->second;
  }
  slot = idx;
  return slot;
}

int32_t Snapshot::DomainOfSlow(const TopologyIndex& index, const NodeInfo& node) const {
  if (!node.node()) return -1;
  const std::string* v = LabelValue(node.node()->labels, index.key);
  return v ? index.Id(*v) : -1;
}

int64_t Snapshot::NextEpoch() {
  static std::atomic<int64_t> next{1};
  return next.fetch_add(1);
}

void Snapshot::NodeListChanged() {
  epoch_ = NextEpoch();
  change_log_.clear();
  change_log_begin_ = 0;
  ResetTopology();
}

void Snapshot::NodeChanged(int32_t index) {
  constexpr size_t kMaxLog = 16384;
  if (change_log_.size() >= kMaxLog) {
    change_log_begin_ += static_cast<int64_t>(change_log_.size());
    change_log_.clear();
  }
  change_log_.push_back(index);
}

bool Snapshot::ChangedSince(int64_t seq, std::vector<int32_t>* out) const {
  if (seq < change_log_begin_ || seq > change_seq()) return false;
  out->insert(out->end(), change_log_.begin() + (seq - change_log_begin_), change_log_.end());
  return true;
}

void Snapshot::ResetTopology() {
  std::lock_guard l(*topology_mu_);
  topology_.clear();
}

int InternMemoKey(const std::string& key) {
  static std::mutex mu;
  static std::unordered_map<std::string, int> ids;
  std::lock_guard l(mu);
  auto [it, inserted] = ids.emplace(key, static_cast<int>(ids.size()));
  return it->second;
}

std::string SelectorKey(const LabelSelector& selector) {
  if (selector.nothing) return "<nothing>";
  std::string s;
  for (const auto& r : selector.requirements) {
    s += r.key;
    s += '\x01';
    s += std::to_string(static_cast<int>(r.op));
    for (const auto& v : r.values) {
      s += '\x02';
      s += v;
    }
    s += '\x03';
  }
  return s;
}

std::shared_ptr<Snapshot> NewSnapshot(const std::vector<NodePtr>& nodes,
                                      const std::vector<PodInfoPtr>& pods) {
  auto s = std::make_shared<Snapshot>();
  for (const auto& n : nodes) {
    s->index_[n->name] = s->nodes_.size();
    s->nodes_.push_back(std::make_shared<NodeInfo>(n));
    s->nodes_.back()->snapshot_index = static_cast<int32_t>(s->nodes_.size() - 1);
    for (const auto& [img, size] : n->images) s->image_nodes_[img]++;
  }
  for (const auto& p : pods) {
    auto it = s->index_.find(p->node_name);
    if (it != s->index_.end()) s->nodes_[it->second]->AddPod(p);
  }
  for (const auto& n : s->nodes_) {
    if (!n->pods_with_affinity().empty()) s->with_affinity_.push_back(n);
    if (!n->pods_with_required_anti_affinity().empty())
      s->with_required_anti_affinity_.push_back(n);
  }
  return s;
}

}  // namespace korral::scheduler
