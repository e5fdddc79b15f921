#include "korral/scheduler/framework.h"
#include "korral/base/status.h"

#include <algorithm>
#include <mutex>
#include <unordered_set>

#include <fmt/format.h>

namespace korral::scheduler {

const std::string* InternPluginName(const std::string& name) {
  static std::mutex mu;
  static std::unordered_set<std::string>* names = new std::unordered_set<std::string>();
  std::lock_guard l(mu);
  return &*names->insert(name).first;
}

std::string Status::Message() const {
  std::string out;
  const auto& r = reasons();
  for (size_t i = 0; i < r.size(); ++i) {
    if (i) out += ", ";
    out += r[i];
  }
  return out;
}

std::shared_ptr<StateData> CycleState::Read(const std::string& key) const {
  for (const auto& [k, v] : data_) {
    if (k == key) return v;
  }
  return nullptr;
}

StateData* CycleState::Get(const std::string& key) const {
  for (const auto& [k, v] : data_) {
    if (k == key) return v.get();
  }
  return nullptr;
}

void CycleState::Write(const std::string& key, std::shared_ptr<StateData> data) {
  for (auto& [k, v] : data_) {
    if (k == key) {
      v = std::move(data);
      return;
    }
  }
  data_.emplace_back(key, std::move(data));
}

CycleState CycleState::Clone() const {
  CycleState c;
  c.skip_filter_plugins = skip_filter_plugins;
  c.skip_score_plugins = skip_score_plugins;
  c.skip_filter_mask = skip_filter_mask;
  c.skip_filter_mask_valid = skip_filter_mask_valid;
  for (const auto& [k, v] : data_) c.data_.emplace_back(k, v ? v->Clone() : nullptr);
  return c;
}

std::string FitErrorMessage(int num_all_nodes, const Diagnosis& d) {
  std::string msg = fmt::format("0/{} nodes are available:", num_all_nodes);
  if (!d.pre_filter_msg.empty()) {
    msg += fmt::format(" {}.", d.pre_filter_msg);
  } else {
    std::map<std::string, int> histogram;
    for (const auto& [node, status] : d.node_to_status) {
      for (const auto& r : status.reasons()) histogram[r]++;
    }
    std::vector<std::string> reasons;
    for (const auto& [r, n] : histogram) reasons.push_back(fmt::format("{} {}", n, r));
    std::sort(reasons.begin(), reasons.end());
    if (!reasons.empty()) {
      std::string joined;
      for (size_t i = 0; i < reasons.size(); ++i) {
        if (i) joined += ", ";
        joined += reasons[i];
      }
      msg += fmt::format(" {}.", joined);
    }
  }
  if (!d.post_filter_msg.empty()) msg += fmt::format(" {}.", d.post_filter_msg);
  return msg;
}

void DefaultNormalizeScore(int64_t max_priority, bool reverse, std::vector<NodeScore>& scores) {
  int64_t max_count = 0;
  for (const auto& s : scores) max_count = std::max(max_count, s.score);
  if (max_count == 0) {
    if (reverse) {
      for (auto& s : scores) s.score = max_priority;
    }
    return;
  }
  for (auto& s : scores) {
    int64_t score = s.score;
    score = max_priority * score / max_count;
    if (reverse) score = max_priority - score;
    s.score = score;
  }
}

namespace {

// Upstream's default profile (apis/config/v1 getDefaultPlugins), in order, with score weights.
// TODO(korral): NodeVolumeLimits (CSI attach limits) is not implemented.
const std::vector<std::pair<std::string, int32_t>>& DefaultMultiPoint() {
  static const std::vector<std::pair<std::string, int32_t>> kDefaults = {
      {"SchedulingGates", 0},  {"PrioritySort", 0},      {"NodeUnschedulable", 0},
      {"NodeName", 0},         {"TaintToleration", 3},   {"NodeAffinity", 2},
      {"NodePorts", 0},        {"NodeResourcesFit", 1},  {"VolumeRestrictions", 0},
      {"VolumeBinding", 0},    {"VolumeZone", 0},        {"PodTopologySpread", 2},
      {"InterPodAffinity", 2}, {"DefaultPreemption", 0}, {"NodeResourcesBalancedAllocation", 1},
      {"ImageLocality", 1},    {"DefaultBinder", 0},
  };
  return kDefaults;
}

const char* kPoints[] = {"preEnqueue", "queueSort", "preFilter", "filter",
                         "postFilter", "preScore",  "score",     "reserve",
                         "permit",     "preBind",   "bind",      "postBind"};

bool Implements(Plugin* p, const std::string& point) {
  if (point == "preEnqueue") return dynamic_cast<PreEnqueuePlugin*>(p);
  if (point == "queueSort") return dynamic_cast<QueueSortPlugin*>(p);
  if (point == "preFilter") return dynamic_cast<PreFilterPlugin*>(p);
  if (point == "filter") return dynamic_cast<FilterPlugin*>(p);
  if (point == "postFilter") return dynamic_cast<PostFilterPlugin*>(p);
  if (point == "preScore") return dynamic_cast<PreScorePlugin*>(p);
  if (point == "score") return dynamic_cast<ScorePlugin*>(p);
  if (point == "reserve") return dynamic_cast<ReservePlugin*>(p);
  if (point == "permit") return dynamic_cast<PermitPlugin*>(p);
  if (point == "preBind") return dynamic_cast<PreBindPlugin*>(p);
  if (point == "bind") return dynamic_cast<BindPlugin*>(p);
  if (point == "postBind") return dynamic_cast<PostBindPlugin*>(p);
  return false;
}

absl::Status Invalid(const std::string& m) {
  return absl::Status(absl::StatusCode::kInvalidArgument, absl::string_view(m));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Framework>> Framework::New(const Registry& registry,
                                                          const ProfileConfig& config,
                                                          Handle* handle) {
  auto fw = std::unique_ptr<Framework>(new Framework());
  fw->scheduler_name_ = config.scheduler_name;
  fw->percentage_ = config.percentage_of_nodes_to_score;
  fw->handle_ = handle;

  // multiPoint: defaults minus disabled, plus enabled (an enabled default overrides its weight).
  std::vector<std::pair<std::string, int32_t>> multi;
  const PluginSet* user_multi = nullptr;
  if (auto it = config.plugins.find("multiPoint"); it != config.plugins.end()) {
    user_multi = &it->second;
  }
  auto disabled_in = [](const PluginSet* set, const std::string& name) {
    if (!set) return false;
    for (const auto& d : set->disabled) {
      if (d == "*" || d == name) return true;
    }
    return false;
  };
  for (const auto& [name, weight] : DefaultMultiPoint()) {
    if (disabled_in(user_multi, name)) continue;
    multi.emplace_back(name, weight);
  }
  if (user_multi) {
    for (const auto& [name, weight] : user_multi->enabled) {
      bool found = false;
      for (auto& [n, w] : multi) {
        if (n == name) {
          if (weight) w = weight;
          found = true;
        }
      }
      if (!found) multi.emplace_back(name, weight);
    }
  }
  // Instantiate every plugin named anywhere.
  std::map<std::string, Plugin*> instances;
  auto instance = [&](const std::string& name) -> absl::StatusOr<Plugin*> {
    if (auto it = instances.find(name); it != instances.end()) return it->second;
    auto f = registry.find(name);
    if (f == registry.end()) return Invalid(fmt::format("plugin \"{}\" does not exist", name));
    nlohmann::json args;
    if (auto a = config.plugin_config.find(name); a != config.plugin_config.end()) args = a->second;
    auto p = f->second(args, handle);
    if (!p.ok()) {
      return Invalid(
          fmt::format("initializing plugin \"{}\": {}", name, StatusMessage(p.status())));
    }
    Plugin* raw = p->get();
    fw->owned_.push_back(std::move(*p));
    instances[name] = raw;
    return raw;
  };
  for (const char* point_c : kPoints) {
    std::string point = point_c;
    const PluginSet* specific = nullptr;
    if (auto it = config.plugins.find(point); it != config.plugins.end()) specific = &it->second;
    std::vector<std::pair<std::string, int32_t>> list;
    if (specific) {
      for (const auto& e : specific->enabled) list.push_back(e);
    }
    for (const auto& [name, weight] : multi) {
      if (disabled_in(specific, name)) continue;
      bool dup = false;
      for (const auto& e : list) dup |= e.first == name;
      if (dup) continue;
      auto reg = registry.find(name);
      if (reg == registry.end()) {
        return Invalid(fmt::format("plugin \"{}\" does not exist", name));
      }
      auto inst = instance(name);
      if (!inst.ok()) return inst.status();
      if (!Implements(*inst, point)) continue;
      list.emplace_back(name, weight);
    }
    for (const auto& [name, weight] : list) {
      auto inst = instance(name);
      if (!inst.ok()) return inst.status();
      Plugin* p = *inst;
      if (!Implements(p, point)) {
        return Invalid(fmt::format("plugin \"{}\" does not extend {} plugin", name, point));
      }
      if (point == "preEnqueue") fw->pre_enqueue_.push_back(dynamic_cast<PreEnqueuePlugin*>(p));
      if (point == "queueSort") {
        if (fw->queue_sort_) return Invalid("only one queue sort plugin can be enabled");
        fw->queue_sort_ = dynamic_cast<QueueSortPlugin*>(p);
      }
      if (point == "preFilter") fw->pre_filter_.push_back(dynamic_cast<PreFilterPlugin*>(p));
      if (point == "filter") fw->filter_.push_back(dynamic_cast<FilterPlugin*>(p));
      if (point == "postFilter") fw->post_filter_.push_back(dynamic_cast<PostFilterPlugin*>(p));
      if (point == "preScore") fw->pre_score_.push_back(dynamic_cast<PreScorePlugin*>(p));
      if (point == "score") {
        fw->score_.emplace_back(dynamic_cast<ScorePlugin*>(p), weight > 0 ? weight : 1);
      }
      if (point == "reserve") fw->reserve_.push_back(dynamic_cast<ReservePlugin*>(p));
      if (point == "permit") fw->permit_.push_back(dynamic_cast<PermitPlugin*>(p));
      if (point == "preBind") fw->pre_bind_.push_back(dynamic_cast<PreBindPlugin*>(p));
      if (point == "bind") fw->bind_.push_back(dynamic_cast<BindPlugin*>(p));
      if (point == "postBind") fw->post_bind_.push_back(dynamic_cast<PostBindPlugin*>(p));
    }
  }
  if (!fw->queue_sort_) return Invalid("no queue sort plugin is enabled");
  if (fw->bind_.empty()) return Invalid("at least one bind plugin is needed");
  if (fw->filter_.size() > 64) return Invalid("at most 64 filter plugins are supported");
  for (auto* p : fw->pre_filter_) fw->pre_filter_names_.push_back(p->Name());
  for (auto* p : fw->filter_) fw->filter_names_.push_back(p->Name());
  for (const auto& n : fw->filter_names_) fw->filter_name_ptrs_.push_back(InternPluginName(n));
  for (auto& [p, w] : fw->score_) fw->score_names_.push_back(p->Name());
  for (const auto& [name, args] : config.plugin_config) {
    if (!registry.count(name)) return Invalid(fmt::format("plugin \"{}\" does not exist", name));
  }
  return fw;
}

std::map<std::string, std::vector<std::string>> Framework::ListPlugins() const {
  std::map<std::string, std::vector<std::string>> out;
  for (auto* p : pre_enqueue_) out["preEnqueue"].push_back(p->Name());
  if (queue_sort_) out["queueSort"].push_back(queue_sort_->Name());
  for (auto* p : pre_filter_) out["preFilter"].push_back(p->Name());
  for (auto* p : filter_) out["filter"].push_back(p->Name());
  for (auto* p : post_filter_) out["postFilter"].push_back(p->Name());
  for (auto* p : pre_score_) out["preScore"].push_back(p->Name());
  for (auto& [p, w] : score_) out["score"].push_back(p->Name());
  for (auto* p : reserve_) out["reserve"].push_back(p->Name());
  for (auto* p : permit_) out["permit"].push_back(p->Name());
  for (auto* p : pre_bind_) out["preBind"].push_back(p->Name());
  for (auto* p : bind_) out["bind"].push_back(p->Name());
  for (auto* p : post_bind_) out["postBind"].push_back(p->Name());
  return out;
}

int32_t Framework::ScoreWeight(const std::string& plugin) const {
  for (const auto& [p, w] : score_) {
    if (p->Name() == plugin) return w;
  }
  return 0;
}

Status Framework::RunPreEnqueuePlugins(const PodInfo& pod) {
  for (auto* p : pre_enqueue_) {
    Status s = p->PreEnqueue(pod);
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

bool Framework::Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const {
  return queue_sort_->Less(a, b);
}

Status Framework::RunPreFilterPlugins(CycleState& state, const PodInfo& pod,
                                      PreFilterResult* result) {
  state.skip_filter_mask_valid = false;
  for (size_t i = 0; i < pre_filter_.size(); ++i) {
    PreFilterPlugin* p = pre_filter_[i];
    const std::string& name = pre_filter_names_[i];
    PreFilterResult r;
    Status s = p->PreFilter(state, pod, &r);
    if (s.IsSkip()) {
      state.skip_filter_plugins.insert(name);
      continue;
    }
    if (!s.IsSuccess()) return s.WithPlugin(name);
    if (r.node_names) {
      if (!result->node_names) {
        result->node_names = std::move(r.node_names);
      } else {
        std::set<std::string> both;
        for (const auto& n : *r.node_names) {
          if (result->node_names->count(n)) both.insert(n);
        }
        result->node_names = std::move(both);
      }
      if (result->node_names->empty()) {
        return Status(Code::kUnschedulableAndUnresolvable,
                      "node(s) didn't satisfy plugin(s) [" + name + "] simultaneously")
            .WithPlugin(name);
      }
    }
  }
  state.skip_filter_mask = 0;
  for (size_t i = 0; i < filter_.size(); ++i) {
    if (state.skip_filter_plugins.count(filter_names_[i])) state.skip_filter_mask |= 1ULL << i;
  }
  state.skip_filter_mask_valid = true;
  return {};
}

Status Framework::RunPreFilterExtensionAddPod(CycleState& state, const PodInfo& pod,
                                              const PodInfoPtr& to_add, const NodeInfo& node) {
  for (auto* p : pre_filter_) {
    if (!p->HasExtensions() || state.skip_filter_plugins.count(p->Name())) continue;
    Status s = p->AddPod(state, pod, to_add, node);
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

Status Framework::RunPreFilterExtensionRemovePod(CycleState& state, const PodInfo& pod,
                                                 const PodInfoPtr& to_remove,
                                                 const NodeInfo& node) {
  for (auto* p : pre_filter_) {
    if (!p->HasExtensions() || state.skip_filter_plugins.count(p->Name())) continue;
    Status s = p->RemovePod(state, pod, to_remove, node);
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

Status Framework::RunFilterPlugins(const CycleState& state, const PodInfo& pod,
                                   const NodeInfo& node) {
  for (size_t i = 0; i < filter_.size(); ++i) {
    if (state.skip_filter_mask_valid) {
      if (state.skip_filter_mask & (1ULL << i)) continue;
    } else if (!state.skip_filter_plugins.empty() &&
               state.skip_filter_plugins.count(filter_names_[i])) {
      continue;
    }
    Status s = filter_[i]->Filter(state, pod, node);
    if (!s.IsSuccess()) {
      if (!s.IsRejected() && s.code() != Code::kError) continue;
      return s.WithInternedPlugin(filter_name_ptrs_[i]);
    }
  }
  return {};
}

Status Framework::RunFilterPluginsWithNominatedPods(CycleState& state, const PodInfo& pod,
                                                    const NodeInfo& node) {
  std::vector<PodInfoPtr> nominated;
  if (handle_ && handle_->HasNominatedPods()) {
    for (auto& np : handle_->NominatedPodsForNode(node.name())) {
      if (np->key != pod.key && np->priority >= pod.priority) nominated.push_back(np);
    }
  }
  if (nominated.empty()) return RunFilterPlugins(state, pod, node);
  CycleState with_state = state.Clone();
  NodeInfo with_node = node;
  for (const auto& np : nominated) {
    with_node.AddPod(np);
    Status s = RunPreFilterExtensionAddPod(with_state, pod, np, with_node);
    if (!s.IsSuccess()) return s;
  }
  Status s = RunFilterPlugins(with_state, pod, with_node);
  if (!s.IsSuccess()) return s;
  return RunFilterPlugins(state, pod, node);
}

Status Framework::RunPostFilterPlugins(CycleState& state, const PodInfo& pod,
                                       const Diagnosis& diagnosis, PostFilterResult* result) {
  Status last(Code::kUnschedulable);
  for (auto* p : post_filter_) {
    Status s = p->PostFilter(state, pod, diagnosis, result);
    if (s.IsSuccess()) return s.WithPlugin(p->Name());
    if (s.code() == Code::kError) return s.WithPlugin(p->Name());
    last = s.WithPlugin(p->Name());
  }
  return last;
}

Status Framework::RunPreScorePlugins(CycleState& state, const PodInfo& pod,
                                     const std::vector<NodeInfo*>& nodes) {
  for (auto* p : pre_score_) {
    Status s = p->PreScore(state, pod, nodes);
    if (s.IsSkip()) {
      state.skip_score_plugins.insert(p->Name());
      continue;
    }
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

Status Framework::RunScorePlugins(CycleState& state, const PodInfo& pod,
                                  const std::vector<NodeInfo*>& nodes,
                                  std::vector<int64_t>* totals) {
  totals->assign(nodes.size(), 0);
  std::vector<NodeScore> scores(nodes.size());
  for (size_t pi = 0; pi < score_.size(); ++pi) {
    ScorePlugin* p = score_[pi].first;
    int32_t weight = score_[pi].second;
    const std::string& name = score_names_[pi];
    if (state.skip_score_plugins.count(name)) continue;
    for (size_t i = 0; i < nodes.size(); ++i) {
      scores[i].node = nodes[i];
      scores[i].score = 0;
      Status s = p->Score(state, pod, *nodes[i], &scores[i].score);
      if (!s.IsSuccess()) return s.WithPlugin(p->Name());
    }
    if (p->HasNormalize()) {
      Status s = p->NormalizeScore(state, pod, scores);
      if (!s.IsSuccess()) return s.WithPlugin(p->Name());
    }
    for (size_t i = 0; i < nodes.size(); ++i) {
      if (scores[i].score > kMaxNodeScore || scores[i].score < kMinNodeScore) {
        return Status::Error(fmt::format("plugin \"{}\" returns an invalid score {}, it should in "
                                         "the range of [{}, {}] after normalizing",
                                         p->Name(), scores[i].score, kMinNodeScore, kMaxNodeScore))
            .WithPlugin(p->Name());
      }
      (*totals)[i] += scores[i].score * weight;
    }
  }
  return {};
}

Status Framework::RunReservePluginsReserve(CycleState& state, const PodInfo& pod,
                                           const std::string& node) {
  for (auto* p : reserve_) {
    Status s = p->Reserve(state, pod, node);
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

void Framework::RunReservePluginsUnreserve(CycleState& state, const PodInfo& pod,
                                           const std::string& node) {
  for (auto it = reserve_.rbegin(); it != reserve_.rend(); ++it) (*it)->Unreserve(state, pod, node);
}

Status Framework::RunPermitPlugins(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (auto* p : permit_) {
    Status s = p->Permit(state, pod, node);
    if (s.code() == Code::kWait) continue;
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

Status Framework::RunPreBindPlugins(CycleState& state, const PodInfo& pod,
                                    const std::string& node) {
  for (auto* p : pre_bind_) {
    Status s = p->PreBind(state, pod, node);
    if (!s.IsSuccess()) return s.WithPlugin(p->Name());
  }
  return {};
}

Status Framework::RunBindPlugins(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (auto* p : bind_) {
    Status s = p->Bind(state, pod, node);
    if (s.IsSkip()) continue;
    return s.WithPlugin(p->Name());
  }
  return Status(Code::kSkip);
}

void Framework::RunPostBindPlugins(CycleState& state, const PodInfo& pod, const std::string& node) {
  for (auto* p : post_bind_) p->PostBind(state, pod, node);
}

std::vector<std::pair<std::string, ClusterEvent>> Framework::EventsToRegister() const {
  std::vector<std::pair<std::string, ClusterEvent>> out;
  for (const auto& p : owned_) {
    for (const auto& e : p->EventsToRegister()) out.emplace_back(p->Name(), e);
  }
  return out;
}

}  // namespace korral::scheduler
