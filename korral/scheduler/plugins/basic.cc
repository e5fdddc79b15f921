// The small in-tree plugins: PrioritySort, SchedulingGates, NodeName, NodeUnschedulable,
// NodePorts, TaintToleration, NodeAffinity, ImageLocality, DefaultBinder.
#include <algorithm>

#include <fmt/format.h>

#include "korral/base/status.h"
#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

using namespace action;

ClusterEvent NodeEv(uint32_t a) { return {EventResource::kNode, a, "Node"}; }
ClusterEvent PodEv(uint32_t a) { return {EventResource::kPod, a, "Pod"}; }

class PrioritySort : public QueueSortPlugin {
 public:
  std::string Name() const override { return "PrioritySort"; }
  bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const override {
    if (a.pod->priority != b.pod->priority) return a.pod->priority > b.pod->priority;
    return a.timestamp < b.timestamp;
  }
};

class SchedulingGates : public PreEnqueuePlugin {
 public:
  std::string Name() const override { return "SchedulingGates"; }
  Status PreEnqueue(const PodInfo& pod) override {
    if (pod.scheduling_gates.empty()) return {};
    std::string gates;
    for (size_t i = 0; i < pod.scheduling_gates.size(); ++i) {
      if (i) gates += " ";
      gates += pod.scheduling_gates[i];
    }
    return Status(Code::kUnschedulableAndUnresolvable,
                  fmt::format("waiting for scheduling gates: [{}]", gates));
  }
  std::vector<ClusterEvent> EventsToRegister() const override { return {PodEv(kUpdateOther)}; }
};

class NodeName : public FilterPlugin {
 public:
  std::string Name() const override { return "NodeName"; }
  Status Filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) override {
    if (!pod.node_name.empty() && pod.node_name != node.name()) {
      return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable, kErrReasonNodeName);
    }
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override { return {NodeEv(kAdd | kUpdate)}; }
};

class NodeUnschedulable : public FilterPlugin {
 public:
  std::string Name() const override { return "NodeUnschedulable"; }
  Status Filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) override {
    if (!node.unschedulable()) return {};
    Taint t{"node.kubernetes.io/unschedulable", "", "NoSchedule"};
    if (TolerationsTolerate(pod.tolerations, t)) return {};
    return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable, kErrReasonUnschedulable);
  }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {NodeEv(kAdd | kUpdateNodeTaint)};
  }
};

class NodePorts : public PreFilterPlugin, public FilterPlugin {
 public:
  std::string Name() const override { return "NodePorts"; }
  Status PreFilter(CycleState&, const PodInfo& pod, PreFilterResult*) override {
    if (pod.host_ports.empty()) return Status(Code::kSkip);
    return {};
  }
  Status Filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) override {
    for (const auto& hp : pod.host_ports) {
      if (node.PortConflicts(hp))
        return KORRAL_STATIC_STATUS(Code::kUnschedulable, kErrReasonPorts);
    }
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {PodEv(kDelete), NodeEv(kAdd | kUpdate)};
  }
};

struct TaintState : StateData {
  std::vector<Toleration> prefer_tolerations;
  std::shared_ptr<StateData> Clone() const override { return std::make_shared<TaintState>(*this); }
};

class TaintToleration : public FilterPlugin, public PreScorePlugin, public ScorePlugin {
 public:
  std::string Name() const override { return "TaintToleration"; }
  Status Filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) override {
    if (!node.has_taints()) return {};
    for (const auto& t : node.node()->taints) {
      if (t.effect != "NoSchedule" && t.effect != "NoExecute") continue;
      if (TolerationsTolerate(pod.tolerations, t)) continue;
      return Status(Code::kUnschedulableAndUnresolvable,
                    fmt::format("node(s) had untolerated taint {{{}: {}}}", t.key, t.value));
    }
    return {};
  }
  Status PreScore(CycleState& state, const PodInfo& pod, const std::vector<NodeInfo*>&) override {
    auto s = std::make_shared<TaintState>();
    for (const auto& t : pod.tolerations) {
      if (t.effect.empty() || t.effect == "PreferNoSchedule") s->prefer_tolerations.push_back(t);
    }
    state.Write(Name(), s);
    return {};
  }
  Status Score(const CycleState& state, const PodInfo&, const NodeInfo& node,
               int64_t* score) override {
    if (!node.has_taints()) {
      *score = 0;
      return {};
    }
    auto s = std::static_pointer_cast<TaintState>(state.Read(Name()));
    int64_t n = 0;
    for (const auto& t : node.node()->taints) {
      if (t.effect != "PreferNoSchedule") continue;
      if (!s || !TolerationsTolerate(s->prefer_tolerations, t)) ++n;
    }
    *score = n;
    return {};
  }
  bool HasNormalize() const override { return true; }
  Status NormalizeScore(const CycleState&, const PodInfo&, std::vector<NodeScore>& s) override {
    DefaultNormalizeScore(kMaxNodeScore, true, s);
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {NodeEv(kAdd | kUpdateNodeTaint), PodEv(kUpdateOther)};
  }
};

struct NodeAffinityState : StateData {
  std::vector<PreferredSchedulingTerm> preferred;
  std::shared_ptr<StateData> Clone() const override {
    return std::make_shared<NodeAffinityState>(*this);
  }
};

class NodeAffinity : public PreFilterPlugin,
                     public FilterPlugin,
                     public PreScorePlugin,
                     public ScorePlugin {
 public:
  explicit NodeAffinity(std::optional<NodeSelector> added_required,
                        std::vector<PreferredSchedulingTerm> added_preferred)
      : added_required_(std::move(added_required)), added_preferred_(std::move(added_preferred)) {}
  std::string Name() const override { return "NodeAffinity"; }
  Status PreFilter(CycleState&, const PodInfo& pod, PreFilterResult* result) override {
    if (pod.node_selector.empty() && !pod.required_node_affinity && !added_required_) {
      return Status(Code::kSkip);
    }
    // Terms that only name nodes through metadata.name restrict the nodes to evaluate.
    if (pod.required_node_affinity) {
      std::set<std::string> names;
      for (const auto& t : pod.required_node_affinity->terms) {
        bool by_name = false;
        for (const auto& f : t.match_fields) {
          if (f.key == "metadata.name" && f.op == SelectorOp::kIn) {
            by_name = true;
            names.insert(f.values.begin(), f.values.end());
          }
        }
        if (!by_name) return {};
      }
      if (!pod.required_node_affinity->terms.empty()) result->node_names = std::move(names);
    }
    return {};
  }
  Status Filter(const CycleState&, const PodInfo& pod, const NodeInfo& node) override {
    const Node& n = *node.node();
    if (added_required_ && !added_required_->Matches(n.labels, n.name)) {
      return Status(Code::kUnschedulableAndUnresolvable,
                    "node(s) didn't match scheduler-enforced node affinity");
    }
    for (const auto& [k, v] : pod.node_selector) {
      const std::string* have = LabelValue(n.labels, k);
      if (!have || *have != v) {
        return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable, kErrReasonNodeAffinity);
      }
    }
    if (pod.required_node_affinity && !pod.required_node_affinity->Matches(n.labels, n.name)) {
      return KORRAL_STATIC_STATUS(Code::kUnschedulableAndUnresolvable, kErrReasonNodeAffinity);
    }
    return {};
  }
  Status PreScore(CycleState& state, const PodInfo& pod, const std::vector<NodeInfo*>&) override {
    if (pod.preferred_node_affinity.empty() && added_preferred_.empty()) return Status(Code::kSkip);
    auto s = std::make_shared<NodeAffinityState>();
    s->preferred = pod.preferred_node_affinity;
    s->preferred.insert(s->preferred.end(), added_preferred_.begin(), added_preferred_.end());
    state.Write(Name(), s);
    return {};
  }
  Status Score(const CycleState& state, const PodInfo&, const NodeInfo& node,
               int64_t* score) override {
    auto s = std::static_pointer_cast<NodeAffinityState>(state.Read(Name()));
    int64_t total = 0;
    if (s) {
      for (const auto& t : s->preferred) {
        if (t.weight != 0 && t.preference.Matches(node.node()->labels, node.name()))
          total += t.weight;
      }
    }
    *score = total;
    return {};
  }
  bool HasNormalize() const override { return true; }
  Status NormalizeScore(const CycleState&, const PodInfo&, std::vector<NodeScore>& s) override {
    DefaultNormalizeScore(kMaxNodeScore, false, s);
    return {};
  }
  std::vector<ClusterEvent> EventsToRegister() const override {
    return {NodeEv(kAdd | kUpdateNodeLabel), PodEv(kUpdateOther)};
  }

 private:
  std::optional<NodeSelector> added_required_;
  std::vector<PreferredSchedulingTerm> added_preferred_;
};

class ImageLocality : public ScorePlugin {
 public:
  explicit ImageLocality(Handle* h) : h_(h) {}
  std::string Name() const override { return "ImageLocality"; }
  Status Score(const CycleState&, const PodInfo& pod, const NodeInfo& node,
               int64_t* score) override {
    constexpr int64_t kMb = 1024 * 1024;
    constexpr int64_t kMin = 23 * kMb;
    constexpr int64_t kMaxPerContainer = 1000 * kMb;
    const Snapshot& snap = h_->snapshot();
    int total = static_cast<int>(std::max<size_t>(1, snap.NumNodes()));
    int64_t sum = 0;
    for (const auto& img : pod.images) {
      if (snap.NodesWithImage(img) == 0) continue;  // no node has it (skips the Node lookup)
      int64_t size = node.node()->ImageSize(img);
      if (size < 0) continue;
      double spread = static_cast<double>(snap.NodesWithImage(img)) / total;
      sum += static_cast<int64_t>(static_cast<double>(size) * spread);
    }
    int64_t max = kMaxPerContainer * static_cast<int64_t>(std::max<size_t>(1, pod.images.size()));
    sum = std::clamp(sum, kMin, max);
    *score = kMaxNodeScore * (sum - kMin) / (max - kMin);
    return {};
  }

 private:
  Handle* h_;
};

class DefaultBinder : public BindPlugin {
 public:
  explicit DefaultBinder(Handle* h) : h_(h) {}
  std::string Name() const override { return "DefaultBinder"; }
  Status Bind(CycleState&, const PodInfo& pod, const std::string& node) override {
    absl::Status s = h_->BindPod(pod, node);
    if (!s.ok()) return Status::Error(std::string(StatusMessage(s)));
    return {};
  }

 private:
  Handle* h_;
};

absl::StatusOr<NodeSelectorTerm> TermFromJson(const Json& t) {
  // Reuse the pod parser: build a pod with the term as its only required term.
  Json pod = {{"metadata", {{"name", "x"}, {"namespace", "x"}}},
              {"spec",
               {{"affinity",
                 {{"nodeAffinity",
                   {{"requiredDuringSchedulingIgnoredDuringExecution",
                     {{"nodeSelectorTerms", Json::array({t})}}}}}}}}}};
  auto p = ParsePod(std::make_shared<const Json>(pod));
  if (!p.ok()) return p.status();
  return (*p)->required_node_affinity->terms[0];
}

}  // namespace

absl::StatusOr<PluginPtr> NewPrioritySort(const Json&, Handle*) {
  return std::make_unique<PrioritySort>();
}
absl::StatusOr<PluginPtr> NewSchedulingGates(const Json&, Handle*) {
  return std::make_unique<SchedulingGates>();
}
absl::StatusOr<PluginPtr> NewNodeName(const Json&, Handle*) { return std::make_unique<NodeName>(); }
absl::StatusOr<PluginPtr> NewNodeUnschedulable(const Json&, Handle*) {
  return std::make_unique<NodeUnschedulable>();
}
absl::StatusOr<PluginPtr> NewNodePorts(const Json&, Handle*) {
  return std::make_unique<NodePorts>();
}
absl::StatusOr<PluginPtr> NewTaintToleration(const Json&, Handle*) {
  return std::make_unique<TaintToleration>();
}
absl::StatusOr<PluginPtr> NewNodeAffinity(const Json& args, Handle*) {
  // NodeAffinityArgs.addedAffinity: required and preferred terms applied to every pod.
  std::optional<NodeSelector> required;
  std::vector<PreferredSchedulingTerm> preferred;
  if (args.is_object() && args.contains("addedAffinity")) {
    const Json& aa = args["addedAffinity"];
    if (aa.contains("requiredDuringSchedulingIgnoredDuringExecution")) {
      NodeSelector ns;
      for (const Json& t : aa["requiredDuringSchedulingIgnoredDuringExecution"].value(
               "nodeSelectorTerms", Json::array())) {
        auto term = TermFromJson(t);
        if (!term.ok()) return term.status();
        ns.terms.push_back(std::move(*term));
      }
      required = std::move(ns);
    }
    for (const Json& t :
         aa.value("preferredDuringSchedulingIgnoredDuringExecution", Json::array())) {
      auto term = TermFromJson(t.value("preference", Json::object()));
      if (!term.ok()) return term.status();
      preferred.push_back({t.value("weight", 0), std::move(*term)});
    }
  }
  return std::make_unique<NodeAffinity>(std::move(required), std::move(preferred));
}
absl::StatusOr<PluginPtr> NewImageLocality(const Json&, Handle* h) {
  return std::make_unique<ImageLocality>(h);
}
absl::StatusOr<PluginPtr> NewDefaultBinder(const Json&, Handle* h) {
  return std::make_unique<DefaultBinder>(h);
}

Registry NewInTreeRegistry() {
  return {
      {"PrioritySort", NewPrioritySort},
      {"SchedulingGates", NewSchedulingGates},
      {"NodeName", NewNodeName},
      {"NodeUnschedulable", NewNodeUnschedulable},
      {"NodePorts", NewNodePorts},
      {"TaintToleration", NewTaintToleration},
      {"NodeAffinity", NewNodeAffinity},
      {"ImageLocality", NewImageLocality},
      {"DefaultBinder", NewDefaultBinder},
      {"NodeResourcesFit", NewNodeResourcesFit},
      {"NodeResourcesBalancedAllocation", NewBalancedAllocation},
      {"InterPodAffinity", NewInterPodAffinity},
      {"PodTopologySpread", NewPodTopologySpread},
      {"DefaultPreemption", NewDefaultPreemption},
      {"VolumeRestrictions", NewVolumeRestrictions},
      {"VolumeBinding", NewVolumeBinding},
      {"VolumeZone", NewVolumeZone},
  };
}

}  // namespace korral::scheduler::plugins
