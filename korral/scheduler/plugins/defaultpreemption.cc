// DefaultPreemption (upstream plugins/defaultpreemption + framework/preemption): a PostFilter that
// finds nodes where evicting lower-priority pods makes the pod fit, respecting PDBs, picks one,
// deletes the victims through the API and nominates the node.
#include <algorithm>
#include <random>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler::plugins {
namespace {

constexpr char kNotHelpful[] = "Preemption is not helpful for scheduling";
constexpr char kNoVictims[] = "No preemption victims found for incoming pod";

struct Candidate {
  std::string node;
  std::vector<PodInfoPtr> victims;  // most important first
  int num_pdb_violations = 0;
};

bool MoreImportant(const PodInfoPtr& a, const PodInfoPtr& b) {
  if (a->priority != b->priority) return a->priority > b->priority;
  return a->start_time < b->start_time;
}

class DefaultPreemption : public PostFilterPlugin {
 public:
  DefaultPreemption(Handle* h, int min_pct, int min_abs)
      : h_(h), min_candidate_pct_(min_pct), min_candidate_abs_(min_abs) {}
  std::string Name() const override { return "DefaultPreemption"; }

  Status PostFilter(CycleState& state, const PodInfo& pod, const Diagnosis& diagnosis,
                    PostFilterResult* result) override {
    Status s = Preempt(state, pod, diagnosis, result);
    if (!s.IsSuccess() && !s.reasons().empty()) {
      return Status(s.code(), "preemption: " + s.Message());
    }
    return s;
  }

 private:
  Status Preempt(CycleState& state, const PodInfo& pod, const Diagnosis& diagnosis,
                 PostFilterResult* result) {
    const Snapshot& snap = h_->snapshot();
    Framework* fw = h_->FrameworkFor(pod);
    if (!fw) return Status::Error("no framework for pod");
    if (pod.preempt_never) {
      return Status(Code::kUnschedulable, "not eligible due to preemptionPolicy=Never.");
    }
    if (!pod.nominated_node_name.empty()) {
      if (NodeInfo* n = snap.Get(pod.nominated_node_name)) {
        for (const auto& p : n->pods()) {
          if (p->terminating && p->priority < pod.priority) {
            return Status(Code::kUnschedulable,
                          "not eligible due to a terminating pod on the nominated node.");
          }
        }
      }
    }
    // Nodes where preemption might help.
    Diagnosis out;
    std::vector<NodeInfo*> potential;
    for (const auto& n : snap.nodes()) {
      auto it = diagnosis.node_to_status.find(n->name());
      if (it != diagnosis.node_to_status.end() &&
          it->second.code() == Code::kUnschedulableAndUnresolvable) {
        out.node_to_status[n->name()] = Status(Code::kUnschedulableAndUnresolvable, kNotHelpful);
        continue;
      }
      potential.push_back(n.get());
    }
    std::vector<PdbInfo> pdbs = h_->Pdbs();
    std::vector<Candidate> candidates;
    if (!potential.empty()) {
      size_t n = potential.size();
      size_t want = std::max<size_t>(n * static_cast<size_t>(min_candidate_pct_) / 100,
                                     static_cast<size_t>(min_candidate_abs_));
      want = std::min(want, n);
      size_t offset = rng_() % n;
      for (size_t i = 0; i < n && candidates.size() < want; ++i) {
        NodeInfo* node = potential[(offset + i) % n];
        CycleState st = state.Clone();
        NodeInfo copy = *node;
        Candidate c;
        c.node = node->name();
        Status vs = SelectVictims(*fw, st, pod, copy, pdbs, &c);
        if (vs.IsSuccess() && !c.victims.empty()) {
          candidates.push_back(std::move(c));
        } else {
          if (vs.IsSuccess())
            vs = Status::Error("expected at least one victim pod on node " + c.node);
          out.node_to_status[node->name()] = vs;
        }
      }
    }
    if (candidates.empty()) {
      return Status(Code::kUnschedulable, FitErrorMessage(static_cast<int>(snap.NumNodes()), out));
    }
    const Candidate& best = Pick(candidates);
    // Prepare: evict the victims, clear lower-priority nominations on the node.
    for (const auto& v : best.victims) {
      absl::Status ds =
          h_->DeletePod(*v, fmt::format("Preempted by pod {} on node {}", pod.uid, best.node));
      if (!ds.ok()) return Status::Error(std::string(StatusMessage(ds)));
    }
    for (const auto& np : h_->NominatedPodsForNode(best.node)) {
      if (np->priority < pod.priority && np->key != pod.key) {
        (void)h_->ClearNominatedNodeName(*np);
      }
    }
    KLOG(Info, "preemption: pod {} nominated to node {} ({} victims)", pod.key, best.node,
         best.victims.size());
    result->nominated_node_name = best.node;
    return {};
  }

  Status SelectVictims(Framework& fw, CycleState& state, const PodInfo& pod, NodeInfo& node,
                       const std::vector<PdbInfo>& pdbs, Candidate* c) {
    std::vector<PodInfoPtr> potential;
    for (const auto& p : node.pods()) {
      if (p->priority < pod.priority) potential.push_back(p);
    }
    if (potential.empty()) return Status(Code::kUnschedulableAndUnresolvable, kNoVictims);
    for (const auto& p : potential) {
      node.RemovePod(*p);
      Status s = fw.RunPreFilterExtensionRemovePod(state, pod, p, node);
      if (!s.IsSuccess()) return s;
    }
    Status fits = fw.RunFilterPluginsWithNominatedPods(state, pod, node);
    if (!fits.IsSuccess()) return fits;
    std::sort(potential.begin(), potential.end(), MoreImportant);
    std::vector<PodInfoPtr> violating, non_violating;
    SplitByPdb(potential, pdbs, &violating, &non_violating);
    auto reprieve = [&](const PodInfoPtr& p) -> bool {
      node.AddPod(p);
      (void)fw.RunPreFilterExtensionAddPod(state, pod, p, node);
      if (fw.RunFilterPluginsWithNominatedPods(state, pod, node).IsSuccess()) return true;
      node.RemovePod(*p);
      (void)fw.RunPreFilterExtensionRemovePod(state, pod, p, node);
      c->victims.push_back(p);
      return false;
    };
    for (const auto& p : violating) {
      if (!reprieve(p)) c->num_pdb_violations++;
    }
    for (const auto& p : non_violating) reprieve(p);
    std::sort(c->victims.begin(), c->victims.end(), MoreImportant);
    return {};
  }

  static void SplitByPdb(const std::vector<PodInfoPtr>& pods, std::vector<PdbInfo> pdbs,
                         std::vector<PodInfoPtr>* violating, std::vector<PodInfoPtr>* ok) {
    for (const auto& p : pods) {
      bool violates = false;
      for (auto& pdb : pdbs) {
        if (pdb.ns != p->ns || pdb.selector.Empty() || !pdb.selector.Matches(p->labels)) continue;
        if (pdb.disrupted_pods.count(p->name)) continue;
        if (--pdb.disruptions_allowed < 0) violates = true;
      }
      (violates ? violating : ok)->push_back(p);
    }
  }

  static const Candidate& Pick(const std::vector<Candidate>& cs) {
    std::vector<const Candidate*> left;
    for (const auto& c : cs) left.push_back(&c);
    auto keep_min = [&](auto key) {
      auto best = key(*left[0]);
      for (const auto* c : left) best = std::min(best, key(*c));
      std::vector<const Candidate*> next;
      for (const auto* c : left) {
        if (key(*c) == best) next.push_back(c);
      }
      left = std::move(next);
    };
    keep_min([](const Candidate& c) { return c.num_pdb_violations; });
    if (left.size() > 1) keep_min([](const Candidate& c) { return c.victims[0]->priority; });
    if (left.size() > 1) {
      keep_min([](const Candidate& c) {
        int64_t sum = 0;
        for (const auto& v : c.victims) sum += static_cast<int64_t>(v->priority) + INT32_MAX + 1;
        return sum;
      });
    }
    if (left.size() > 1) keep_min([](const Candidate& c) { return c.victims.size(); });
    if (left.size() > 1) {
      // The node whose highest-priority victims started latest.
      keep_min([](const Candidate& c) {
        auto earliest = c.victims[0]->start_time;
        for (const auto& v : c.victims) {
          if (v->priority == c.victims[0]->priority) earliest = std::min(earliest, v->start_time);
        }
        return -earliest.time_since_epoch().count();
      });
    }
    return *left[0];
  }

  Handle* h_;
  int min_candidate_pct_;
  int min_candidate_abs_;
  std::mt19937 rng_{12345};
};

}  // namespace

absl::StatusOr<PluginPtr> NewDefaultPreemption(const Json& args, Handle* h) {
  int pct = 10, abs = 100;
  if (args.is_object()) {
    pct = args.value("minCandidateNodesPercentage", 10);
    abs = args.value("minCandidateNodesAbsolute", 100);
  }
  if (pct < 0 || pct > 100 || abs < 0 || (pct == 0 && abs == 0)) {
    return absl::Status(absl::StatusCode::kInvalidArgument,
                        "minCandidateNodesPercentage/minCandidateNodesAbsolute: invalid value");
  }
  return std::make_unique<DefaultPreemption>(h, pct, abs);
}

}  // namespace korral::scheduler::plugins
