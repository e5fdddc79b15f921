// InterPodAffinity (upstream plugins/interpodaffinity): required and preferred pod affinity and
// anti-affinity, namespaces and namespace selectors, plus existing pods' anti-affinity.
#include <algorithm>
#include <map>
#include <unordered_map>

#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

using namespace action;
// Counts per topology pair (key, value) (upstream: topologyToMatchedTermCount), stored per key in
// arrays indexed by the snapshot's TopologyIndex domain ids; values no snapshot node has (nodes
// added by preemption dry runs outside the snapshot) go to `extra`.
struct PairCounts {
  struct PerKey {
    TopologyIndexPtr index;
    std::vector<int64_t> counts;
    std::unordered_map<std::string, int64_t> extra;
  };
  std::vector<PerKey> keys;

  PerKey& For(const Snapshot& snap, const std::string& key) {
    for (auto& k : keys) {
      if (k.index->key == key) return k;
    }
    PerKey k;
    k.index = snap.Topology(key);
    k.counts.assign(k.index->NumDomains(), 0);
    keys.push_back(std::move(k));
    return keys.back();
  }
  const PerKey* Find(const std::string& key) const {
    for (const auto& k : keys) {
      if (k.index->key == key) return &k;
    }
    return nullptr;
  }
  // Adds `m` to the pair of `key` and `node`'s value for it (nothing if the node lacks the label).
  void Add(const Snapshot& snap, const std::string& key, const NodeInfo& node, int64_t m) {
    PerKey& k = For(snap, key);
    int32_t d = snap.DomainOf(*k.index, node);
    if (d >= 0) {
      k.counts[d] += m;
      return;
    }
    if (const std::string* v = LabelValue(node.node()->labels, key)) k.extra[*v] += m;
  }
  // The same by snapshot node index (the node is the snapshot's own).
  void AddAt(const Snapshot& snap, const std::string& key, int32_t j, int64_t m) {
    PerKey& k = For(snap, key);
    int32_t d = k.index->domain_of[j];
    if (d >= 0) k.counts[d] += m;
  }
  // The count of `key` and `node`'s value; *has_label tells whether the node has the label.
  int64_t Get(const Snapshot& snap, const std::string& key, const NodeInfo& node,
              bool* has_label) const {
    const PerKey* k = Find(key);
    int32_t d = k ? snap.DomainOf(*k->index, node) : -1;
    if (d >= 0) {
      *has_label = true;
      return k->counts[d];
    }
    const std::string* v = LabelValue(node.node()->labels, key);
    *has_label = v != nullptr;
    if (!v || !k) return 0;
    auto it = k->extra.find(*v);
    return it == k->extra.end() ? 0 : it->second;
  }
  bool AnyPositive() const {
    for (const auto& k : keys) {
      for (int64_t c : k.counts) {
        if (c > 0) return true;
      }
      for (const auto& [v, c] : k.extra) {
        if (c > 0) return true;
      }
    }
    return false;
  }
  bool Empty() const { return keys.empty(); }
  void Merge(const Snapshot& snap, const PairCounts& o) {
    for (const auto& ok : o.keys) {
      PerKey& k = For(snap, ok.index->key);
      if (k.index == ok.index) {
        for (size_t d = 0; d < ok.counts.size(); ++d) k.counts[d] += ok.counts[d];
      } else {
        for (size_t d = 0; d < ok.counts.size(); ++d) {
          if (ok.counts[d] == 0) continue;
          int32_t id = k.index->Id(ok.index->values[d]);
          if (id >= 0) {
            k.counts[id] += ok.counts[d];
          } else {
            k.extra[ok.index->values[d]] += ok.counts[d];
          }
        }
      }
      for (const auto& [v, c] : ok.extra) k.extra[v] += c;
    }
  }
};

struct IpaState : StateData {
  PairCounts existing_anti;  // existing pods' anti-affinity terms matching the incoming pod
  PairCounts affinity;       // pods matching all of the incoming pod's required affinity terms
  PairCounts anti_affinity;  // pods matching the incoming pod's required anti-affinity terms
  const Labels* ns_labels = nullptr;
  std::shared_ptr<StateData> Clone() const override { return std::make_shared<IpaState>(*this); }
};

// A per-node count kept across cycles (see PodTopologySpread's DomainCache): recomputed only for
// the snapshot nodes that changed since the previous cycle, aggregated into PairCounts.
struct NodeCountCache {
  int64_t epoch = -1;
  int64_t seq = 0;
  std::vector<int64_t> per_node;
  PairCounts counts;
};

std::string TermKey(const AffinityTerm& t) {
  std::string k = t.topology_key + "\x01" + SelectorKey(t.selector) + "\x01";
  for (const auto& n : t.namespaces) k += n + "\x02";
  // An empty namespaceSelector ({}) matches every namespace; an absent one only `namespaces`.
  if (t.namespace_selector) k += "\x04all";
  return k;
}

// Whether a term's match depends only on the pod's namespace name and labels.
bool Cacheable(const AffinityTerm& t) {
  return !t.namespace_selector || t.namespace_selector->Empty();
}

struct IpaScoreState : StateData {
  std::unordered_map<std::string, std::unordered_map<std::string, int64_t>> topology_score;
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<IpaScoreState>(*this);
  }
};

bool MatchesAll(const std::vector<AffinityTerm>& terms, const PodInfo& p, const Labels* ns_labels) {
  if (terms.empty()) return false;
  for (const auto& t : terms) {
    if (!t.Matches(p.ns, p.labels, ns_labels)) return false;
  }
  return true;
}

class InterPodAffinity : public PreFilterPlugin,
                         public FilterPlugin,
                         public PreScorePlugin,
                         public ScorePlugin {
 public:
  InterPodAffinity(Handle* h, int64_t hard_weight, bool ignore_existing_preferred)
      : h_(h), hard_weight_(hard_weight), ignore_existing_preferred_(ignore_existing_preferred) {}
  std::string Name() const override { return "InterPodAffinity"; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    const Snapshot& snap = h_->snapshot();
    if (pod.required_affinity.empty() && pod.required_anti_affinity.empty() &&
        snap.have_pods_with_required_anti_affinity().empty()) {
      return Status(Code::kSkip);
    }
    auto s = std::make_shared<IpaState>();
    s->ns_labels = snap.NamespaceLabels(pod.ns);
    ExistingAnti(snap, pod, s.get());
    if (!pod.required_affinity.empty() || !pod.required_anti_affinity.empty()) {
      bool cacheable = true;
      for (const auto& t : pod.required_affinity) cacheable &= Cacheable(t);
      for (const auto& t : pod.required_anti_affinity) cacheable &= Cacheable(t);
      if (cacheable) {
        IncomingCached(snap, pod, s.get());
      } else {
        for (const auto& n : snap.nodes()) {
          for (const auto& ep : n->pods()) UpdateIncoming(*s, pod, *ep, *n, 1);
        }
      }
    }
    state.Write(Name(), s);
    return {};
  }
  bool HasExtensions() const override { return true; }
  Status AddPod(CycleState& state, const PodInfo& pod, const PodInfoPtr& p,
                const NodeInfo& node) override {
    auto s = std::static_pointer_cast<IpaState>(state.Read(Name()));
    if (!s) return {};
    UpdateExistingAnti(*s, pod, *p, node, 1);
    UpdateIncoming(*s, pod, *p, node, 1);
    return {};
  }
  Status RemovePod(CycleState& state, const PodInfo& pod, const PodInfoPtr& p,
                   const NodeInfo& node) override {
    auto s = std::static_pointer_cast<IpaState>(state.Read(Name()));
    if (!s) return {};
    UpdateExistingAnti(*s, pod, *p, node, -1);
    UpdateIncoming(*s, pod, *p, node, -1);
    return {};
  }

  Status Filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) override {
    static const std::string kKey = "InterPodAffinity";
    auto* s = static_cast<IpaState*>(state.Get(kKey));
    if (!s) return Status::Error("reading InterPodAffinity prefilter state");
    const Snapshot& snap = h_->snapshot();
    // Affinity.
    bool pods_exist = true;
    for (const auto& t : pod.required_affinity) {
      bool has_label = false;
      int64_t c = s->affinity.Get(snap, t.topology_key, node, &has_label);
      if (!has_label) {
        return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable,
                                    kErrReasonAffinityRulesNotMatch);
      }
      if (c <= 0) pods_exist = false;
    }
    if (!pods_exist) {
      if (s->affinity.AnyPositive() || !MatchesAll(pod.required_affinity, pod, s->ns_labels)) {
        return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable,
                                    kErrReasonAffinityRulesNotMatch);
      }
    }
    // Anti-affinity of the incoming pod.
    for (const auto& t : pod.required_anti_affinity) {
      bool has_label = false;
      if (s->anti_affinity.Get(snap, t.topology_key, node, &has_label) > 0) {
        return KORRAL_STATIC_STATUS(Code::kUnschedulable, kErrReasonAntiAffinityRulesNotMatch);
      }
    }
    // Existing pods' anti-affinity: any pair (key, this node's value) with a count.
    for (const auto& k : s->existing_anti.keys) {
      bool has_label = false;
      if (s->existing_anti.Get(snap, k.index->key, node, &has_label) > 0) {
        return KORRAL_STATIC_STATUS(Code::kUnschedulable,
                                    kErrReasonExistingAntiAffinityRulesNotMatch);
      }
    }
    return {};
  }

  Status PreScore(CycleState& state, const PodInfo& pod, const std::vector<NodeInfo*>&) override {
    const Snapshot& snap = h_->snapshot();
    bool has_constraints = !pod.preferred_affinity.empty() || !pod.preferred_anti_affinity.empty();
    if (!has_constraints &&
        (ignore_existing_preferred_ || snap.have_pods_with_affinity().empty())) {
      return Status(Code::kSkip);
    }
    auto s = std::make_shared<IpaScoreState>();
    const Labels* ns_labels = snap.NamespaceLabels(pod.ns);
    const auto& nodes = has_constraints ? snap.nodes() : snap.have_pods_with_affinity();
    for (const auto& n : nodes) {
      const auto& pods = has_constraints ? n->pods() : n->pods_with_affinity();
      for (const auto& ep : pods) ProcessExisting(*s, pod, ns_labels, *ep, *n->node());
    }
    state.Write(Name(), s);
    return {};
  }
  Status Score(const CycleState& state, const PodInfo&, const NodeInfo& node,
               int64_t* score) override {
    auto s = std::static_pointer_cast<IpaScoreState>(state.Read(Name()));
    int64_t total = 0;
    if (s) {
      for (const auto& [key, values] : s->topology_score) {
        const std::string* v = LabelValue(node.node()->labels, key);
        if (!v) continue;
        auto it = values.find(*v);
        if (it != values.end()) total += it->second;
      }
    }
    *score = total;
    return {};
  }
  bool HasNormalize() const override { return true; }
  Status NormalizeScore(const CycleState& state, const PodInfo&,
                        std::vector<NodeScore>& scores) override {
    auto s = std::static_pointer_cast<IpaScoreState>(state.Read(Name()));
    if (!s || s->topology_score.empty() || scores.empty()) return {};
    int64_t mn = INT64_MAX, mx = INT64_MIN;
    for (const auto& sc : scores) {
      mn = std::min(mn, sc.score);
      mx = std::max(mx, sc.score);
    }
    int64_t diff = mx - mn;
    for (auto& sc : scores) {
      sc.score = diff > 0 ? kMaxNodeScore * (sc.score - mn) / diff : 0;
    }
    return {};
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kPod, kAdd | kDelete | kUpdatePodLabel, "Pod"},
            {EventResource::kNode, kAdd | kUpdateNodeLabel, "Node"},
            {EventResource::kNamespace, kAdd | kUpdate, "Namespace"}};
  }

 private:
  void UpdateExistingAnti(IpaState& s, const PodInfo& pod, const PodInfo& existing,
                          const NodeInfo& node, int64_t m) {
    const Snapshot& snap = h_->snapshot();
    for (const auto& t : existing.required_anti_affinity) {
      if (!t.Matches(pod.ns, pod.labels, s.ns_labels)) continue;
      s.existing_anti.Add(snap, t.topology_key, node, m);
    }
  }
  void UpdateIncoming(IpaState& s, const PodInfo& pod, const PodInfo& existing,
                      const NodeInfo& node, int64_t m) {
    const Snapshot& snap = h_->snapshot();
    const Labels* ens = nullptr;
    bool ens_loaded = false;
    auto ns_labels = [&]() {
      if (!ens_loaded) {
        ens = snap.NamespaceLabels(existing.ns);
        ens_loaded = true;
      }
      return ens;
    };
    if (!pod.required_affinity.empty()) {
      bool all = true;
      for (const auto& t : pod.required_affinity) {
        if (!t.Matches(existing.ns, existing.labels, ns_labels())) {
          all = false;
          break;
        }
      }
      if (all) {
        for (const auto& t : pod.required_affinity) s.affinity.Add(snap, t.topology_key, node, m);
      }
    }
    for (const auto& t : pod.required_anti_affinity) {
      if (!t.Matches(existing.ns, existing.labels, ns_labels())) continue;
      s.anti_affinity.Add(snap, t.topology_key, node, m);
    }
  }

  // Brings `c` up to date for `snap`: `count(node)` is the node's value; each change in it is
  // added to the pairs of `keys`.
  template <class Count>
  void SyncCache(const Snapshot& snap, NodeCountCache& c,
                 const std::vector<const std::string*>& keys, Count count) {
    const auto& nodes = snap.nodes();
    std::vector<int32_t> changed;
    bool incremental = c.epoch == snap.epoch() && snap.ChangedSince(c.seq, &changed);
    if (!incremental) {
      c.per_node.assign(nodes.size(), 0);
      c.counts = PairCounts();
      for (const std::string* k : keys) c.counts.For(snap, *k);
      changed.clear();
      for (size_t j = 0; j < nodes.size(); ++j) {
        if (!nodes[j]->pods().empty()) changed.push_back(static_cast<int32_t>(j));
      }
      c.epoch = snap.epoch();
    }
    for (int32_t j : changed) {
      int64_t v = count(*nodes[j]);
      int64_t delta = v - c.per_node[j];
      if (delta == 0) continue;
      c.per_node[j] = v;
      for (const std::string* k : keys) c.counts.AddAt(snap, *k, j, delta);
    }
    c.seq = snap.change_seq();
  }
  NodeCountCache& CacheFor(const std::string& key) {
    if (caches_.size() > 256 && !caches_.count(key)) caches_.clear();
    return caches_[key];
  }

  // Pods matching the incoming pod's terms, per topology pair, from per-node caches.
  void IncomingCached(const Snapshot& snap, const PodInfo& pod, IpaState* s) {
    if (!pod.required_affinity.empty()) {
      std::string key = "aff\x03";
      std::vector<const std::string*> keys;
      for (const auto& t : pod.required_affinity) {
        key += TermKey(t) + "\x03";
        keys.push_back(&t.topology_key);
      }
      NodeCountCache& c = CacheFor(key);
      SyncCache(snap, c, keys, [&](const NodeInfo& n) {
        int64_t v = 0;
        for (const auto& ep : n.pods()) {
          if (MatchesAll(pod.required_affinity, *ep, nullptr)) ++v;
        }
        return v;
      });
      s->affinity.Merge(snap, c.counts);
    }
    for (const auto& t : pod.required_anti_affinity) {
      NodeCountCache& c = CacheFor("anti\x03" + TermKey(t));
      SyncCache(snap, c, {&t.topology_key}, [&](const NodeInfo& n) {
        int64_t v = 0;
        for (const auto& ep : n.pods()) {
          if (t.Matches(ep->ns, ep->labels, nullptr)) ++v;
        }
        return v;
      });
      s->anti_affinity.Merge(snap, c.counts);
    }
  }

  // Existing pods' required anti-affinity terms matching the incoming pod, per topology pair. The
  // match depends only on the incoming pod's namespace, its labels and its namespace's labels,
  // so the per-node counts are cached by those.
  void ExistingAnti(const Snapshot& snap, const PodInfo& pod, IpaState* s) {
    const auto& with = snap.have_pods_with_required_anti_affinity();
    if (with.empty()) return;
    std::string key = "existing\x03" + pod.ns + "\x03";
    for (const auto& [k, v] : pod.labels) key += k + "\x01" + v + "\x02";
    key += "\x03";
    if (s->ns_labels) {
      for (const auto& [k, v] : *s->ns_labels) key += k + "\x01" + v + "\x02";
    }
    ExistingCache& c = existing_[key];
    if (existing_.size() > 64) {
      existing_.clear();
      ExistingCache& fresh = existing_[key];
      return ExistingAntiSync(snap, pod, s, fresh);
    }
    ExistingAntiSync(snap, pod, s, c);
  }
  // Per topology key: per-node counts and their per-pair sums.
  struct ExistingCache {
    int64_t epoch = -1;
    int64_t seq = 0;
    std::map<std::string, std::vector<int64_t>> per_node;  // topology key -> by node index
    PairCounts counts;
  };
  void ExistingAntiSync(const Snapshot& snap, const PodInfo& pod, IpaState* s, ExistingCache& c) {
    const auto& nodes = snap.nodes();
    std::vector<int32_t> changed;
    bool incremental = c.epoch == snap.epoch() && snap.ChangedSince(c.seq, &changed);
    if (!incremental) {
      c.per_node.clear();
      c.counts = PairCounts();
      changed.clear();
      for (const auto& n : snap.have_pods_with_required_anti_affinity()) {
        changed.push_back(n->snapshot_index);
      }
      c.epoch = snap.epoch();
    }
    std::map<std::string, int64_t> fresh;
    for (int32_t j : changed) {
      if (j < 0 || static_cast<size_t>(j) >= nodes.size()) continue;
      fresh.clear();
      for (const auto& ep : nodes[j]->pods_with_required_anti_affinity()) {
        for (const auto& t : ep->required_anti_affinity) {
          if (t.Matches(pod.ns, pod.labels, s->ns_labels)) fresh[t.topology_key]++;
        }
      }
      for (const auto& [k, v] : fresh) {
        auto& vec = c.per_node[k];
        if (vec.empty()) vec.assign(nodes.size(), 0);
      }
      for (auto& [k, vec] : c.per_node) {
        auto it = fresh.find(k);
        int64_t v = it == fresh.end() ? 0 : it->second;
        int64_t delta = v - vec[j];
        if (delta == 0) continue;
        vec[j] = v;
        c.counts.AddAt(snap, k, j, delta);
      }
    }
    c.seq = snap.change_seq();
    s->existing_anti.Merge(snap, c.counts);
  }

  void ProcessExisting(IpaScoreState& s, const PodInfo& pod, const Labels* pod_ns_labels,
                       const PodInfo& existing, const Node& node) {
    const Labels* ens = h_->snapshot().NamespaceLabels(existing.ns);
    auto add = [&](const AffinityTerm& t, int64_t w) {
      const std::string* v = LabelValue(node.labels, t.topology_key);
      if (!v || w == 0) return;
      s.topology_score[t.topology_key][*v] += w;
    };
    for (const auto& t : pod.preferred_affinity) {
      if (t.Matches(existing.ns, existing.labels, ens)) add(t, t.weight);
    }
    for (const auto& t : pod.preferred_anti_affinity) {
      if (t.Matches(existing.ns, existing.labels, ens)) add(t, -t.weight);
    }
    if (hard_weight_ > 0) {
      for (const auto& t : existing.required_affinity) {
        if (t.Matches(pod.ns, pod.labels, pod_ns_labels)) add(t, hard_weight_);
      }
    }
    if (!ignore_existing_preferred_) {
      for (const auto& t : existing.preferred_affinity) {
        if (t.Matches(pod.ns, pod.labels, pod_ns_labels)) add(t, t.weight);
      }
      for (const auto& t : existing.preferred_anti_affinity) {
        if (t.Matches(pod.ns, pod.labels, pod_ns_labels)) add(t, -t.weight);
      }
    }
  }

  Handle* h_;
  int64_t hard_weight_;
  bool ignore_existing_preferred_;
  // Scheduling thread only (PreFilter).
  std::unordered_map<std::string, NodeCountCache> caches_;
  std::unordered_map<std::string, ExistingCache> existing_;
};

}  // namespace

absl::StatusOr<PluginPtr> NewInterPodAffinity(const Json& args, Handle* h) {
  int64_t hard = 1;
  bool ignore = false;
  if (args.is_object()) {
    hard = args.value("hardPodAffinityWeight", static_cast<int64_t>(1));
    ignore = args.value("ignorePreferredTermsOfExistingPods", false);
  }
  if (hard < 0 || hard > 100) {
    return absl::Status(absl::StatusCode::kInvalidArgument,
                        "hardPodAffinityWeight: Invalid value: not in valid range [0-100]");
  }
  return std::make_unique<InterPodAffinity>(h, hard, ignore);
}

}  // namespace korral::scheduler::plugins
