// InterPodAffinity (upstream plugins/interpodaffinity): required and preferred pod affinity and
// anti-affinity, namespaces and namespace selectors, plus existing pods' anti-affinity.
#include <algorithm>
#include <unordered_map>

#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

using namespace action;
using Counts = std::unordered_map<std::string, int64_t>;  // "key\0value" -> count

std::string Pair(const std::string& k, const std::string& v) {
  std::string s;
  s.reserve(k.size() + v.size() + 1);
  s += k;
  s.push_back('\0');
  s += v;
  return s;
}

struct IpaState : StateData {
  Counts existing_anti;  // existing pods' anti-affinity terms matching the incoming pod
  Counts affinity;       // pods matching all of the incoming pod's required affinity terms
  Counts anti_affinity;  // pods matching the incoming pod's required anti-affinity terms
  const Labels* ns_labels = nullptr;
  std::shared_ptr<StateData> Clone() const override { return std::make_shared<IpaState>(*this); }
};

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
    for (const auto& n : snap.have_pods_with_required_anti_affinity()) {
      for (const auto& ep : n->pods_with_required_anti_affinity()) {
        UpdateExistingAnti(*s, pod, *ep, *n->node(), 1);
      }
    }
    if (!pod.required_affinity.empty() || !pod.required_anti_affinity.empty()) {
      for (const auto& n : snap.nodes()) {
        for (const auto& ep : n->pods()) UpdateIncoming(*s, pod, *ep, *n->node(), 1);
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
    UpdateExistingAnti(*s, pod, *p, *node.node(), 1);
    UpdateIncoming(*s, pod, *p, *node.node(), 1);
    return {};
  }
  Status RemovePod(CycleState& state, const PodInfo& pod, const PodInfoPtr& p,
                   const NodeInfo& node) override {
    auto s = std::static_pointer_cast<IpaState>(state.Read(Name()));
    if (!s) return {};
    UpdateExistingAnti(*s, pod, *p, *node.node(), -1);
    UpdateIncoming(*s, pod, *p, *node.node(), -1);
    return {};
  }

  Status Filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) override {
    auto s = std::static_pointer_cast<IpaState>(state.Read(Name()));
    if (!s) return Status::Error("reading InterPodAffinity prefilter state");
    const Labels& labels = node.node()->labels;
    // Affinity.
    bool pods_exist = true;
    for (const auto& t : pod.required_affinity) {
      const std::string* v = LabelValue(labels, t.topology_key);
      if (!v) return Status(Code::kUnschedulableAndUnresolvable, kErrReasonAffinityRulesNotMatch);
      auto it = s->affinity.find(Pair(t.topology_key, *v));
      if (it == s->affinity.end() || it->second <= 0) pods_exist = false;
    }
    if (!pods_exist) {
      bool any = false;
      for (const auto& [k, c] : s->affinity) any |= c > 0;
      if (any || !MatchesAll(pod.required_affinity, pod, s->ns_labels)) {
        return Status(Code::kUnschedulableAndUnresolvable, kErrReasonAffinityRulesNotMatch);
      }
    }
    // Anti-affinity of the incoming pod.
    for (const auto& t : pod.required_anti_affinity) {
      const std::string* v = LabelValue(labels, t.topology_key);
      if (!v) continue;
      auto it = s->anti_affinity.find(Pair(t.topology_key, *v));
      if (it != s->anti_affinity.end() && it->second > 0) {
        return Status(Code::kUnschedulable, kErrReasonAntiAffinityRulesNotMatch);
      }
    }
    // Existing pods' anti-affinity.
    if (!s->existing_anti.empty()) {
      for (const auto& [k, v] : labels) {
        auto it = s->existing_anti.find(Pair(k, v));
        if (it != s->existing_anti.end() && it->second > 0) {
          return Status(Code::kUnschedulable, kErrReasonExistingAntiAffinityRulesNotMatch);
        }
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
                          const Node& node, int64_t m) {
    for (const auto& t : existing.required_anti_affinity) {
      if (!t.Matches(pod.ns, pod.labels, s.ns_labels)) continue;
      const std::string* v = LabelValue(node.labels, t.topology_key);
      if (v) s.existing_anti[Pair(t.topology_key, *v)] += m;
    }
  }
  void UpdateIncoming(IpaState& s, const PodInfo& pod, const PodInfo& existing, const Node& node,
                      int64_t m) {
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
        for (const auto& t : pod.required_affinity) {
          const std::string* v = LabelValue(node.labels, t.topology_key);
          if (v) s.affinity[Pair(t.topology_key, *v)] += m;
        }
      }
    }
    for (const auto& t : pod.required_anti_affinity) {
      if (!t.Matches(existing.ns, existing.labels, ns_labels())) continue;
      const std::string* v = LabelValue(node.labels, t.topology_key);
      if (v) s.anti_affinity[Pair(t.topology_key, *v)] += m;
    }
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
