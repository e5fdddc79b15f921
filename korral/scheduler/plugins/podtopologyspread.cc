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

struct Constraint {
  TopologySpreadConstraint c;
  int memo_id = 0;  // "pods in the pod's namespace matching c.selector"
};

struct PtsFilterState : StateData {
  std::vector<Constraint> constraints;
  // Per constraint: domain value -> matching pods.
  std::vector<std::unordered_map<std::string, int64_t>> counts;
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<PtsFilterState>(*this);
  }
  int64_t MinMatch(size_t i) const {
    if (static_cast<int64_t>(counts[i].size()) < constraints[i].c.min_domains) return 0;
    int64_t mn = INT64_MAX;
    for (const auto& [v, n] : counts[i]) mn = std::min(mn, n);
    return mn == INT64_MAX ? 0 : mn;
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
    auto s = std::make_shared<PtsFilterState>();
    s->counts.resize(cs.size());
    for (const auto& n : h_->snapshot().nodes()) {
      const Node& node = *n->node();
      bool has_all = true;
      for (const auto& c : cs) has_all &= LabelValue(node.labels, c.c.topology_key) != nullptr;
      if (!has_all) continue;
      for (size_t i = 0; i < cs.size(); ++i) {
        if (!Included(cs[i].c, pod, node)) continue;
        const std::string* v = LabelValue(node.labels, cs[i].c.topology_key);
        s->counts[i][*v] += CountMatching(*n, cs[i], pod.ns);
      }
    }
    s->constraints = std::move(cs);
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

  Status Filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) override {
    auto s = std::static_pointer_cast<PtsFilterState>(state.Read(Name()));
    if (!s) return Status::Error("reading PodTopologySpread prefilter state");
    const Labels& labels = node.node()->labels;
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& c = s->constraints[i].c;
      const std::string* v = LabelValue(labels, c.topology_key);
      if (!v) return Status(Code::kUnschedulableAndUnresolvable, kErrReasonNodeLabelNotMatch);
      int64_t min_match = s->MinMatch(i);
      int64_t self = c.selector.Matches(pod.labels) ? 1 : 0;
      auto it = s->counts[i].find(*v);
      int64_t match = it == s->counts[i].end() ? 0 : it->second;
      if (match + self - min_match > c.max_skew) {
        return Status(Code::kUnschedulable, kErrReasonConstraintsNotMatch);
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
    state.Write(std::string(Name()) + "/score", s);
    return {};
  }
  Status Score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) override {
    auto s = std::static_pointer_cast<PtsScoreState>(state.Read(std::string(Name()) + "/score"));
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
    auto s = std::static_pointer_cast<PtsScoreState>(state.Read(std::string(Name()) + "/score"));
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

  void Update(CycleState& state, const PodInfo& pod, const PodInfo& p, const NodeInfo& node,
              int64_t m) {
    auto s = std::static_pointer_cast<PtsFilterState>(state.Read(Name()));
    if (!s || p.ns != pod.ns) return;
    const Node& n = *node.node();
    for (const auto& c : s->constraints) {
      if (!LabelValue(n.labels, c.c.topology_key)) return;
    }
    for (size_t i = 0; i < s->constraints.size(); ++i) {
      const auto& c = s->constraints[i].c;
      if (!Included(c, pod, n) || !c.selector.Matches(p.labels)) continue;
      s->counts[i][*LabelValue(n.labels, c.topology_key)] += m;
    }
  }

  Handle* h_;
  std::vector<TopologySpreadConstraint> defaults_;
  bool system_defaults_;
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
