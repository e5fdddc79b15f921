// PodTopologySpread (upstream plugins/podtopologyspread): hard (DoNotSchedule) constraints as a
// filter, soft (ScheduleAnyway) ones and the cluster default constraints as a score; minDomains,
// nodeAffinityPolicy and nodeTaintsPolicy.
#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

using namespace action;
constexpr char kHostname[] = "kubernetes.io/hostname";
const std::string kScoreKey = "PodTopologySpread/score";

struct Constraint {
  TopologySpreadConstraint c;
  int memo_id = 0;  // "pods in the pod's namespace matching c.selector"
};

// Matching pods per domain of each hard constraint (upstream: preFilterState's TpPairToMatchNum
// and the critical paths), indexed by the snapshot's TopologyIndex of the constraint's key.
struct PtsFilterState : StateData {
  std::vector<Constraint> constraints;
  std::vector<TopologyIndexPtr> index;
  // Per constraint, per domain id: matching pods, and whether the domain counts (some node of
  // it is eligible under nodeAffinityPolicy/nodeTaintsPolicy).
  std::vector<std::vector<int64_t>> counts;
  std::vector<std::vector<char>> present;
  // Domains added later (preemption dry runs on nodes outside the snapshot), by value.
  std::vector<std::unordered_map<std::string, int64_t>> extra;
  std::vector<int64_t> min_match;   // per constraint, kept current by Recompute()
  std::vector<int64_t> self_match;  // 1 if the incoming pod matches the constraint's selector
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<PtsFilterState>(*this);
  }
  void Recompute(size_t i) {
    int64_t domains = static_cast<int64_t>(extra[i].size());
    int64_t mn = INT64_MAX;
    for (size_t d = 0; d < counts[i].size(); ++d) {
      if (!present[i][d]) continue;
      ++domains;
      mn = std::min(mn, counts[i][d]);
    }
    for (const auto& [v, n] : extra[i]) mn = std::min(mn, n);
    if (domains < constraints[i].c.min_domains || mn == INT64_MAX) mn = 0;
    min_match[i] = mn;
  }
};

struct PtsScoreState : StateData {
  std::vector<Constraint> constraints;
  std::vector<std::unordered_map<std::string, int64_t>> counts;
  std::vector<double> weights;
  std::set<std::string> ignored;
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<PtsScoreState>(*this);
  }
};

int64_t CountMatching(const NodeInfo& node, const Constraint& c, const std::string& ns) {
  int64_t v = 0;
  if (node.pods().empty()) return 0;
  if (node.MemoGet(c.memo_id, &v)) return v;
  for (const auto& p : node.pods()) {
    if (p->terminating || p->ns != ns) continue;
    if (c.c.selector.Matches(p->labels)) ++v;
  }
  node.MemoPut(c.memo_id, v);
  return v;
}

bool NodeMatchesPodAffinity(const PodInfo& pod, const Node& n) {
  for (const auto& [k, v] : pod.node_selector) {
    const std::string* have = LabelValue(n.labels, k);
    if (!have || *have != v) return false;
  }
  if (pod.required_node_affinity && !pod.required_node_affinity->Matches(n.labels, n.name)) {
    return false;
  }
  return true;
}

bool Included(const TopologySpreadConstraint& c, const PodInfo& pod, const Node& n) {
  if (c.honor_node_affinity && !NodeMatchesPodAffinity(pod, n)) return false;
  if (c.honor_node_taints) {
    for (const auto& t : n.taints) {
      if ((t.effect == "NoSchedule" || t.effect == "NoExecute") &&
          !TolerationsTolerate(pod.tolerations, t)) {
        return false;
      }
    }
  }
  return true;
}

class PodTopologySpread : public PreFilterPlugin,
                          public FilterPlugin,
                          public PreScorePlugin,
                          public ScorePlugin {
 public:
  PodTopologySpread(Handle* h, std::vector<TopologySpreadConstraint> defaults, bool system_defaults)
      : h_(h), defaults_(std::move(defaults)), system_defaults_(system_defaults) {}
  std::string Name() const override { return "PodTopologySpread"; }

  Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult*) override {
    std::vector<Constraint> cs = Constraints(pod, true);
    if (cs.empty()) return Status(Code::kSkip);
    const Snapshot& snap = h_->snapshot();
    auto s = std::make_shared<PtsFilterState>();
    size_t nc = cs.size();
    s->index.resize(nc);
    s->counts.resize(nc);
    s->present.resize(nc);
    s->extra.resize(nc);
    s->min_match.resize(nc);
    s->self_match.resize(nc);
    bool pod_node_affinity = !pod.node_selector.empty() || pod.required_node_affinity.has_value();
    std::vector<char> check_affinity(nc), check_taints(nc);
    for (size_t i = 0; i < nc; ++i) {
      s->index[i] = snap.Topology(cs[i].c.topology_key);
      s->counts[i].assign(s->index[i]->NumDomains(), 0);
      s->present[i].assign(s->index[i]->NumDomains(), 0);
      s->self_match[i] = cs[i].c.selector.Matches(pod.labels) ? 1 : 0;
      check_affinity[i] = cs[i].c.honor_node_affinity && pod_node_affinity;
      check_taints[i] = cs[i].c.honor_node_taints;
    }
    bool cacheable = true;
    for (size_t i = 0; i < nc; ++i) cacheable &= !check_affinity[i] && !check_taints[i];
    if (cacheable) {
      // Every node with all the keys counts: reuse the previous cycles' per-domain counts and
      // recount only the nodes that changed since.
      DomainCache& dc = CachedCounts(snap, cs, s->index, pod.ns);
      s->counts = dc.counts;
      s->present = dc.present;
    } else {
      const auto& nodes = snap.nodes();
      for (size_t j = 0; j < nodes.size(); ++j) {
        bool has_all = true;
        for (size_t i = 0; i < nc && has_all; ++i) has_all = s->index[i]->domain_of[j] >= 0;
        if (!has_all) continue;
        const NodeInfo& n = *nodes[j];
        const Node& node = *n.node();
        for (size_t i = 0; i < nc; ++i) {
          if ((check_affinity[i] || (check_taints[i] && !node.taints.empty())) &&
              !Included(cs[i].c, pod, node)) {
            continue;
          }
          int32_t d = s->index[i]->domain_of[j];
          s->present[i][d] = 1;
          s->counts[i][d] += CountMatching(n, cs[i], pod.ns);
        }
      }
    }
    s->constraints = std::move(cs);
    for (size_t i = 0; i < nc; ++i) s->Recompute(i);
    state.Write(Name(), s);
    return {};
  }
  bool HasExtensions() const override { return true; }
  Status AddPod(CycleState& state, const PodInfo& pod, const PodInfoPtr& p,
                const NodeInfo& node) override {
    Update(state, pod, *p, node, 1);
    return {};
  }
  Status RemovePod(CycleState& state, const PodInfo& pod, const PodInfoPtr& p,
                   const NodeInfo& node) override {
    Update(state, pod, *p, node, -1);
    return {};
  }

  Status Filter(const CycleState& state, const PodInfo&, const NodeInfo& node) override {
    static const std::string kKey = "PodTopologySpread";
    auto* s = static_cast<PtsFilterState*>(state.Get(kKey));
    if (!s) return Status::Error("reading PodTopologySpread prefilter state");
    const Snapshot& snap = h_->snapshot();
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& c = s->constraints[i].c;
      int32_t d = snap.DomainOf(*s->index[i], node);
      int64_t match = 0;
      if (d >= 0) {
        match = s->counts[i][d];
      } else {
        const std::string* v = LabelValue(node.node()->labels, c.topology_key);
        if (!v) {
          return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable,
                                      kErrReasonNodeLabelNotMatch);
        }
        auto it = s->extra[i].find(*v);
        if (it != s->extra[i].end()) match = it->second;
      }
      if (match + s->self_match[i] - s->min_match[i] > c.max_skew) {
        return KORRAL_STATIC_STATUS(Code::kUnschedulable, kErrReasonConstraintsNotMatch);
      }
    }
    return {};
  }

  Status PreScore(CycleState& state, const PodInfo& pod,
                  const std::vector<NodeInfo*>& filtered) override {
    bool own = !pod.spread_constraints.empty();
    std::vector<Constraint> cs = Constraints(pod, false);
    if (cs.empty()) return Status(Code::kSkip);
    auto s = std::make_shared<PtsScoreState>();
    s->counts.resize(cs.size());
    s->weights.resize(cs.size());
    size_t not_ignored = 0;
    for (NodeInfo* n : filtered) {
      const Node& node = *n->node();
      bool has_all = true;
      for (const auto& c : cs) has_all &= LabelValue(node.labels, c.c.topology_key) != nullptr;
      if (own && !has_all) {
        s->ignored.insert(node.name);
        continue;
      }
      ++not_ignored;
      for (size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].c.topology_key == kHostname) continue;
        const std::string* v = LabelValue(node.labels, cs[i].c.topology_key);
        if (v) s->counts[i].emplace(*v, 0);
      }
    }
    for (size_t i = 0; i < cs.size(); ++i) {
      size_t sz = cs[i].c.topology_key == kHostname ? not_ignored : s->counts[i].size();
      s->weights[i] = std::log(static_cast<double>(sz + 2));
    }
    for (const auto& n : h_->snapshot().nodes()) {
      const Node& node = *n->node();
      for (size_t i = 0; i < cs.size(); ++i) {
        if (cs[i].c.topology_key == kHostname) continue;
        const std::string* v = LabelValue(node.labels, cs[i].c.topology_key);
        if (!v) continue;
        auto it = s->counts[i].find(*v);
        if (it == s->counts[i].end()) continue;
        if (!Included(cs[i].c, pod, node)) continue;
        it->second += CountMatching(*n, cs[i], pod.ns);
      }
    }
    s->constraints = std::move(cs);
    state.Write(kScoreKey, s);
    return {};
  }
  Status Score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) override {
    auto s = std::static_pointer_cast<PtsScoreState>(state.Read(kScoreKey));
    *score = 0;
    if (!s || s->ignored.count(node.name())) return {};
    double total = 0;
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& c = s->constraints[i];
      const std::string* v = LabelValue(node.node()->labels, c.c.topology_key);
      if (!v) continue;
      int64_t cnt = 0;
      if (c.c.topology_key == kHostname) {
        cnt = CountMatching(node, c, pod.ns);
      } else {
        auto it = s->counts[i].find(*v);
        cnt = it == s->counts[i].end() ? 0 : it->second;
      }
      total += static_cast<double>(cnt) * s->weights[i] + static_cast<double>(c.c.max_skew - 1);
    }
    *score = static_cast<int64_t>(std::round(total));
    return {};
  }
  bool HasNormalize() const override { return true; }
  Status NormalizeScore(const CycleState& state, const PodInfo&,
                        std::vector<NodeScore>& scores) override {
    auto s = std::static_pointer_cast<PtsScoreState>(state.Read(kScoreKey));
    if (!s) return {};
    int64_t mn = INT64_MAX, mx = 0;
    for (const auto& sc : scores) {
      if (s->ignored.count(sc.node->name())) continue;
      mn = std::min(mn, sc.score);
      mx = std::max(mx, sc.score);
    }
    for (auto& sc : scores) {
      if (s->ignored.count(sc.node->name())) {
        sc.score = 0;
        continue;
      }
      if (mx == 0) {
        sc.score = kMaxNodeScore;
        continue;
      }
      sc.score = kMaxNodeScore * (mx + mn - sc.score) / mx;
    }
    return {};
  }

  std::vector<ClusterEvent> EventsToRegister() const override {
    return {{EventResource::kPod, kAdd | kDelete | kUpdatePodLabel, "Pod"},
            {EventResource::kNode, kAdd | kDelete | kUpdateNodeLabel | kUpdateNodeTaint, "Node"}};
  }

 private:
  std::vector<Constraint> Constraints(const PodInfo& pod, bool hard) {
    std::vector<Constraint> out;
    if (!pod.spread_constraints.empty()) {
      for (const auto& c : pod.spread_constraints) {
        if (c.hard != hard) continue;
        out.push_back({c, InternMemoKey("pts\x01" + pod.ns + "\x01" + SelectorKey(c.selector))});
      }
      return out;
    }
    // Cluster default constraints: only with a selector from the pod's owners/services.
    bool any = false;
    for (const auto& d : defaults_) any |= d.hard == hard;
    if (!any) return out;
    std::vector<LabelSelector> sels = h_->DefaultSpreadSelectors(pod);
    if (sels.empty()) return out;
    LabelSelector merged;
    for (const auto& s : sels) {
      merged.requirements.insert(merged.requirements.end(), s.requirements.begin(),
                                 s.requirements.end());
    }
    if (merged.Empty()) return out;
    for (auto d : defaults_) {
      if (d.hard != hard) continue;
      d.selector = merged;
      out.push_back({d, InternMemoKey("pts\x01" + pod.ns + "\x01" + SelectorKey(d.selector))});
    }
    return out;
  }

  // Per-domain counts of matching pods for one set of hard constraints (all nodes eligible),
  // kept across cycles: per snapshot epoch, updated from the snapshot's node change log.
  struct DomainCache {
    int64_t epoch = -1;
    int64_t seq = 0;
    std::vector<std::vector<int64_t>> per_node;  // [constraint][snapshot node index]
    std::vector<std::vector<int64_t>> counts;    // [constraint][domain]
    std::vector<std::vector<char>> present;      // [constraint][domain]
  };
  DomainCache& CachedCounts(const Snapshot& snap, const std::vector<Constraint>& cs,
                            const std::vector<TopologyIndexPtr>& index, const std::string& ns) {
    std::string key;
    for (const auto& c : cs) key += std::to_string(c.memo_id) + "\x01" + c.c.topology_key + "\x02";
    if (cache_.size() > 64 && !cache_.count(key)) cache_.clear();
    DomainCache& dc = cache_[key];
    const auto& nodes = snap.nodes();
    size_t nc = cs.size();
    auto has_all = [&](size_t j) {
      for (size_t i = 0; i < nc; ++i) {
        if (index[i]->domain_of[j] < 0) return false;
      }
      return true;
    };
    std::vector<int32_t> changed;
    if (dc.epoch == snap.epoch() && snap.ChangedSince(dc.seq, &changed)) {
      for (int32_t j : changed) {
        if (!has_all(j)) continue;
        for (size_t i = 0; i < nc; ++i) {
          int64_t v = CountMatching(*nodes[j], cs[i], ns);
          dc.counts[i][index[i]->domain_of[j]] += v - dc.per_node[i][j];
          dc.per_node[i][j] = v;
        }
      }
    } else {
      dc.per_node.assign(nc, std::vector<int64_t>(nodes.size(), 0));
      dc.counts.assign(nc, {});
      dc.present.assign(nc, {});
      for (size_t i = 0; i < nc; ++i) {
        dc.counts[i].assign(index[i]->NumDomains(), 0);
        dc.present[i].assign(index[i]->NumDomains(), 0);
      }
      for (size_t j = 0; j < nodes.size(); ++j) {
        if (!has_all(j)) continue;
        for (size_t i = 0; i < nc; ++i) {
          int32_t d = index[i]->domain_of[j];
          int64_t v = CountMatching(*nodes[j], cs[i], ns);
          dc.present[i][d] = 1;
          dc.counts[i][d] += v;
          dc.per_node[i][j] = v;
        }
      }
      dc.epoch = snap.epoch();
    }
    dc.seq = snap.change_seq();
    return dc;
  }

  void Update(CycleState& state, const PodInfo& pod, const PodInfo& p, const NodeInfo& node,
              int64_t m) {
    auto s = std::static_pointer_cast<PtsFilterState>(state.Read(Name()));
    if (!s || p.ns != pod.ns) return;
    const Node& n = *node.node();
    for (const auto& c : s->constraints) {
      if (!LabelValue(n.labels, c.c.topology_key)) return;
    }
    const Snapshot& snap = h_->snapshot();
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& c = s->constraints[i].c;
      if (!Included(c, pod, n) || !c.selector.Matches(p.labels)) continue;
      int32_t d = snap.DomainOf(*s->index[i], node);
      if (d >= 0) {
        s->present[i][d] = 1;
        s->counts[i][d] += m;
      } else {
        s->extra[i][*LabelValue(n.labels, c.topology_key)] += m;
      }
      s->Recompute(i);
    }
  }

  Handle* h_;
  std::vector<TopologySpreadConstraint> defaults_;
  bool system_defaults_;
  std::unordered_map<std::string, DomainCache> cache_;  // scheduling thread only (PreFilter)
};

}  // namespace

absl::StatusOr<PluginPtr> NewPodTopologySpread(const Json& args, Handle* h) {
  std::string type = "System";
  if (args.is_object()) type = args.value("defaultingType", "System");
  std::vector<TopologySpreadConstraint> defaults;
  if (type == "System") {
    TopologySpreadConstraint host;
    host.max_skew = 3;
    host.topology_key = kHostname;
    host.hard = false;
    TopologySpreadConstraint zone;
    zone.max_skew = 5;
    zone.topology_key = "topology.kubernetes.io/zone";
    zone.hard = false;
    defaults = {host, zone};
  } else if (type == "List") {
    for (const Json& c : args.value("defaultConstraints", Json::array())) {
      TopologySpreadConstraint t;
      t.max_skew = c.value("maxSkew", 1);
      t.topology_key = c.value("topologyKey", "");
      t.hard = c.value("whenUnsatisfiable", "DoNotSchedule") != "ScheduleAnyway";
      if (c.contains("labelSelector")) {
        return absl::Status(absl::StatusCode::kInvalidArgument,
                            "defaultConstraints[].labelSelector: Forbidden: constraint must not "
                            "define a selector, as they deduced for each pod");
      }
      defaults.push_back(std::move(t));
    }
  } else {
    return absl::Status(absl::StatusCode::kInvalidArgument,
                        "defaultingType: Unsupported value: \"" + type + "\"");
  }
  return std::make_unique<PodTopologySpread>(h, std::move(defaults), type == "System");
}

}  // namespace korral::scheduler::plugins
