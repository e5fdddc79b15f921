// korral/scheduler/framework.h: the scheduling framework (upstream: k8s.io/kube-scheduler/framework
// interface.go and pkg/scheduler/framework/runtime).
//
// A plugin implements one or more extension-point interfaces below. A Framework is one profile:
// the plugins enabled at each extension point (in order), score weights and plugin args, built
// from a Registry (name -> factory, populated explicitly in plugins/registry.cc) and a
// ProfileConfig (config.h). The Framework runs the plugins of one extension point in order and
// stops at the first non-success status, as upstream does.
//
// Threading: a Framework is used by the one scheduling thread, and by binding threads for the
// Reserve/Permit/PreBind/Bind/PostBind points. Plugins must not keep per-pod state outside
// CycleState.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/scheduler/node_info.h"
#include "korral/scheduler/types.h"
#include "korral/scheduler/volumes.h"

namespace korral::scheduler {

inline constexpr int64_t kMaxNodeScore = 100;
inline constexpr int64_t kMinNodeScore = 0;

enum class Code {
  kSuccess,
  kError,
  kUnschedulable,
  kUnschedulableAndUnresolvable,
  kWait,
  kSkip,
  kPending,
};

// Interns a plugin name (process-wide, thread-safe): the returned pointer stays valid forever.
const std::string* InternPluginName(const std::string& name);

// A plugin's verdict: a code, human-readable reasons, and the plugin that produced it.
//
// Copies are cheap (the reasons are shared, the plugin name is interned), so a plugin may return
// a copy of a function-static Status for a frequent rejection without allocating per node.
class Status {
 public:
  Status() = default;
  Status(Code code, std::vector<std::string> reasons = {})
      : code_(code),
        reasons_(reasons.empty()
                     ? nullptr
                     : std::make_shared<const std::vector<std::string>>(std::move(reasons))) {}
  Status(Code code, std::string reason)
      : code_(code),
        reasons_(std::make_shared<const std::vector<std::string>>(1, std::move(reason))) {}
  static Status Success() { return {}; }
  static Status Error(std::string msg) { return Status(Code::kError, std::move(msg)); }

  Code code() const { return code_; }
  bool IsSuccess() const { return code_ == Code::kSuccess; }
  bool IsSkip() const { return code_ == Code::kSkip; }
  bool IsRejected() const {
    return code_ == Code::kUnschedulable || code_ == Code::kUnschedulableAndUnresolvable ||
           code_ == Code::kPending;
  }
  const std::vector<std::string>& reasons() const {
    static const std::vector<std::string> kNone;
    return reasons_ ? *reasons_ : kNone;
  }
  std::string Message() const;  // reasons joined by ", "
  const std::string& plugin() const {
    static const std::string kNone;
    return plugin_ ? *plugin_ : kNone;
  }
  Status& WithPlugin(const std::string& p) {
    plugin_ = InternPluginName(p);
    return *this;
  }
  // `p` from InternPluginName (no lookup).
  Status& WithInternedPlugin(const std::string* p) {
    plugin_ = p;
    return *this;
  }

 private:
  Code code_ = Code::kSuccess;
  std::shared_ptr<const std::vector<std::string>> reasons_;
  const std::string* plugin_ = nullptr;
};

// Per-cycle plugin state, keyed by plugin name. Clone() deep-copies (preemption dry runs).
class StateData {
 public:
  virtual ~StateData() = default;
  virtual std::shared_ptr<StateData> Clone() const = 0;
};

class CycleState {
 public:
  std::shared_ptr<StateData> Read(const std::string& key) const;
  // Read() without the shared_ptr copy (hot per-node paths); valid while the state holds it.
  StateData* Get(const std::string& key) const;
  void Write(const std::string& key, std::shared_ptr<StateData> data);
  CycleState Clone() const;

  std::set<std::string> skip_filter_plugins;
  std::set<std::string> skip_score_plugins;
  // skip_filter_plugins as a bit per filter plugin index of the Framework that ran PreFilter
  // (valid once that framework's RunPreFilterPlugins has run; the per-node filter loop uses it
  // instead of string lookups).
  uint64_t skip_filter_mask = 0;
  bool skip_filter_mask_valid = false;

 private:
  std::vector<std::pair<std::string, std::shared_ptr<StateData>>> data_;
};

// A pod in the scheduling queue.
struct QueuedPodInfo {
  PodInfoPtr pod;
  std::chrono::steady_clock::time_point timestamp;        // last time it was added to the queue
  std::chrono::steady_clock::time_point initial_attempt;  // first time it was popped
  int attempts = 0;
  std::set<std::string> unschedulable_plugins;  // who rejected it in its last attempt
  bool gated = false;                           // blocked by a PreEnqueue plugin
};

// Kinds of cluster events used to re-queue unschedulable pods (upstream: framework.ClusterEvent).
enum class EventResource {
  kPod,
  kNode,
  kNamespace,
  kPodDisruptionBudget,
  kPersistentVolume,
  kPersistentVolumeClaim,
  kStorageClass,
  kAll
};
namespace action {
inline constexpr uint32_t kAdd = 1;
inline constexpr uint32_t kDelete = 2;
inline constexpr uint32_t kUpdateNodeAllocatable = 4;
inline constexpr uint32_t kUpdateNodeLabel = 8;
inline constexpr uint32_t kUpdateNodeTaint = 16;
inline constexpr uint32_t kUpdatePodLabel = 32;
inline constexpr uint32_t kUpdateOther = 64;
inline constexpr uint32_t kUpdate =
    kUpdateNodeAllocatable | kUpdateNodeLabel | kUpdateNodeTaint | kUpdatePodLabel | kUpdateOther;
inline constexpr uint32_t kAll = kAdd | kDelete | kUpdate;
}  // namespace action
struct ClusterEvent {
  EventResource resource = EventResource::kAll;
  uint32_t actions = action::kAll;
  std::string label;  // for logs/metrics, e.g. "NodeAdd"
  bool Matches(const ClusterEvent& incoming) const {
    return (resource == EventResource::kAll || resource == incoming.resource) &&
           (actions & incoming.actions) != 0;
  }
};

// Per-node filter outcomes of one cycle, for the FitError message and preemption.
struct Diagnosis {
  std::unordered_map<std::string, Status> node_to_status;  // failed nodes only
  std::set<std::string> unschedulable_plugins;
  std::string pre_filter_msg;
  std::string post_filter_msg;
};

// upstream's FitError.Error(): "0/N nodes are available: ...".
std::string FitErrorMessage(int num_all_nodes, const Diagnosis& d);

struct PreFilterResult {
  std::optional<std::set<std::string>> node_names;  // restricts the nodes to evaluate
};
struct PostFilterResult {
  std::string nominated_node_name;
};
struct NodeScore {
  NodeInfo* node = nullptr;
  int64_t score = 0;
};

// A PodDisruptionBudget as preemption needs it.
struct PdbInfo {
  std::string ns, name;
  LabelSelector selector;
  int32_t disruptions_allowed = 0;
  std::set<std::string> disrupted_pods;  // names
};

class Framework;

// What plugins may use (upstream framework.Handle). Owned by the scheduler; outlives plugins.
class Handle {
 public:
  virtual ~Handle() = default;
  // The current cycle's snapshot (valid during a scheduling cycle).
  virtual const Snapshot& snapshot() const = 0;
  // Pods nominated to run on `node` (preemptors waiting for victims to go).
  virtual std::vector<PodInfoPtr> NominatedPodsForNode(const std::string& node) const = 0;
  // False when no pod is nominated to any node (lets the per-node filter loop skip the lookup).
  virtual bool HasNominatedPods() const { return true; }
  virtual std::vector<PdbInfo> Pdbs() const = 0;
  // Selectors of the Services/ReplicaSets/StatefulSets/ReplicationControllers selecting `pod`
  // (for PodTopologySpread's system default constraints).
  virtual std::vector<LabelSelector> DefaultSpreadSelectors(const PodInfo& pod) const = 0;
  // The profile that schedules `pod` (for preemption's dry runs).
  virtual Framework* FrameworkFor(const PodInfo& pod) = 0;
  // API writes.
  virtual absl::Status BindPod(const PodInfo& pod, const std::string& node) = 0;
  virtual absl::Status DeletePod(const PodInfo& pod, const std::string& preemptor_msg) = 0;
  // Clears status.nominatedNodeName of `pod` (a lower-priority nominee displaced by preemption).
  virtual absl::Status ClearNominatedNodeName(const PodInfo& pod) = 0;
  // PersistentVolumes, claims and StorageClasses (never null for the Scheduler's handle).
  virtual VolumeStore* Volumes() { return nullptr; }
  // PUT of a PersistentVolume (`claim` false) or PersistentVolumeClaim, of its status subresource
  // when `status`; returns the stored object. Without an API the object itself.
  virtual absl::StatusOr<Json> UpdateVolumeObject(bool claim, const Json& object, bool status) {
    (void)claim;
    (void)status;
    return object;
  }
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual std::string Name() const = 0;
  // Events that may make a pod this plugin rejected schedulable.
  virtual std::vector<ClusterEvent> EventsToRegister() const { return {}; }
};

class PreEnqueuePlugin : public virtual Plugin {
 public:
  virtual Status PreEnqueue(const PodInfo& pod) = 0;
};
class QueueSortPlugin : public virtual Plugin {
 public:
  virtual bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const = 0;
};
class PreFilterPlugin : public virtual Plugin {
 public:
  virtual Status PreFilter(CycleState& state, const PodInfo& pod, PreFilterResult* result) = 0;
  // PreFilterExtensions: keep the state right when preemption adds/removes pods on a node.
  virtual bool HasExtensions() const { return false; }
  virtual Status AddPod(CycleState&, const PodInfo& /*pod*/, const PodInfoPtr& /*to_add*/,
                        const NodeInfo&) {
    return {};
  }
  virtual Status RemovePod(CycleState&, const PodInfo& /*pod*/, const PodInfoPtr& /*to_remove*/,
                           const NodeInfo&) {
    return {};
  }
};
class FilterPlugin : public virtual Plugin {
 public:
  virtual Status Filter(const CycleState& state, const PodInfo& pod, const NodeInfo& node) = 0;
};
class PostFilterPlugin : public virtual Plugin {
 public:
  virtual Status PostFilter(CycleState& state, const PodInfo& pod, const Diagnosis& diagnosis,
                            PostFilterResult* result) = 0;
};
class PreScorePlugin : public virtual Plugin {
 public:
  virtual Status PreScore(CycleState& state, const PodInfo& pod,
                          const std::vector<NodeInfo*>& nodes) = 0;
};
class ScorePlugin : public virtual Plugin {
 public:
  virtual Status Score(const CycleState& state, const PodInfo& pod, const NodeInfo& node,
                       int64_t* score) = 0;
  virtual bool HasNormalize() const { return false; }
  virtual Status NormalizeScore(const CycleState&, const PodInfo&, std::vector<NodeScore>&) {
    return {};
  }
};
class ReservePlugin : public virtual Plugin {
 public:
  virtual Status Reserve(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
  virtual void Unreserve(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};
class PermitPlugin : public virtual Plugin {
 public:
  // TODO(korral): Wait (gang scheduling) is not supported; a Wait status is treated as success.
  virtual Status Permit(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};
class PreBindPlugin : public virtual Plugin {
 public:
  virtual Status PreBind(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};
class BindPlugin : public virtual Plugin {
 public:
  // Skip: let the next bind plugin bind.
  virtual Status Bind(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};
class PostBindPlugin : public virtual Plugin {
 public:
  virtual void PostBind(CycleState& state, const PodInfo& pod, const std::string& node) = 0;
};

using PluginPtr = std::unique_ptr<Plugin>;
// Builds a plugin from its args (the pluginConfig entry's args, or null) and the handle.
using PluginFactory =
    std::function<absl::StatusOr<PluginPtr>(const nlohmann::json& args, Handle* handle)>;
using Registry = std::map<std::string, PluginFactory>;

// Extension points a profile configures (upstream config.Plugins).
struct PluginSet {
  std::vector<std::pair<std::string, int32_t>> enabled;  // name, weight (score only; 0 = default)
  std::vector<std::string> disabled;                     // "*" disables every default
};
struct ProfileConfig {
  std::string scheduler_name = "default-scheduler";
  std::optional<int> percentage_of_nodes_to_score;
  // Extension point name ("multiPoint", "preFilter", "filter", "score", ...) -> set.
  std::map<std::string, PluginSet> plugins;
  std::map<std::string, nlohmann::json> plugin_config;  // plugin name -> args
};

// One profile: the plugins of every extension point.
class Framework {
 public:
  // Builds the profile: upstream's default plugins (multiPoint) merged with `config`.
  static absl::StatusOr<std::unique_ptr<Framework>> New(const Registry& registry,
                                                        const ProfileConfig& config,
                                                        Handle* handle);

  const std::string& scheduler_name() const { return scheduler_name_; }
  std::optional<int> percentage_of_nodes_to_score() const { return percentage_; }
  // Names of the plugins at each point, for tests ("filter" -> [...]).
  std::map<std::string, std::vector<std::string>> ListPlugins() const;
  int32_t ScoreWeight(const std::string& plugin) const;

  Status RunPreEnqueuePlugins(const PodInfo& pod);
  bool Less(const QueuedPodInfo& a, const QueuedPodInfo& b) const;
  Status RunPreFilterPlugins(CycleState& state, const PodInfo& pod, PreFilterResult* result);
  Status RunPreFilterExtensionAddPod(CycleState& state, const PodInfo& pod,
                                     const PodInfoPtr& to_add, const NodeInfo& node);
  Status RunPreFilterExtensionRemovePod(CycleState& state, const PodInfo& pod,
                                        const PodInfoPtr& to_remove, const NodeInfo& node);
  Status RunFilterPlugins(const CycleState& state, const PodInfo& pod, const NodeInfo& node);
  // Runs the filters with equal-or-higher priority nominated pods added to the node (twice, as
  // upstream: with and without them).
  Status RunFilterPluginsWithNominatedPods(CycleState& state, const PodInfo& pod,
                                           const NodeInfo& node);
  Status RunPostFilterPlugins(CycleState& state, const PodInfo& pod, const Diagnosis& diagnosis,
                              PostFilterResult* result);
  bool HasPostFilterPlugins() const { return !post_filter_.empty(); }
  Status RunPreScorePlugins(CycleState& state, const PodInfo& pod,
                            const std::vector<NodeInfo*>& nodes);
  // Total weighted score per node (same order as `nodes`).
  Status RunScorePlugins(CycleState& state, const PodInfo& pod, const std::vector<NodeInfo*>& nodes,
                         std::vector<int64_t>* totals);
  Status RunReservePluginsReserve(CycleState& state, const PodInfo& pod, const std::string& node);
  void RunReservePluginsUnreserve(CycleState& state, const PodInfo& pod, const std::string& node);
  Status RunPermitPlugins(CycleState& state, const PodInfo& pod, const std::string& node);
  Status RunPreBindPlugins(CycleState& state, const PodInfo& pod, const std::string& node);
  Status RunBindPlugins(CycleState& state, const PodInfo& pod, const std::string& node);
  void RunPostBindPlugins(CycleState& state, const PodInfo& pod, const std::string& node);

  // Every plugin's registered events, with the plugin's name.
  std::vector<std::pair<std::string, ClusterEvent>> EventsToRegister() const;
  Handle* handle() const { return handle_; }

 private:
  std::string scheduler_name_;
  std::optional<int> percentage_;
  Handle* handle_ = nullptr;
  std::vector<PluginPtr> owned_;
  std::vector<PreEnqueuePlugin*> pre_enqueue_;
  QueueSortPlugin* queue_sort_ = nullptr;
  std::vector<PreFilterPlugin*> pre_filter_;
  std::vector<FilterPlugin*> filter_;
  std::vector<PostFilterPlugin*> post_filter_;
  std::vector<PreScorePlugin*> pre_score_;
  std::vector<std::pair<ScorePlugin*, int32_t>> score_;
  std::vector<ReservePlugin*> reserve_;
  std::vector<PermitPlugin*> permit_;
  std::vector<PreBindPlugin*> pre_bind_;
  std::vector<BindPlugin*> bind_;
  std::vector<PostBindPlugin*> post_bind_;
  // Plugin names, cached (Name() builds a std::string on every call).
  std::vector<std::string> pre_filter_names_;
  std::vector<std::string> filter_names_;
  std::vector<const std::string*> filter_name_ptrs_;  // interned filter_names_
  std::vector<std::string> score_names_;
};

// Upstream's DefaultNormalizeScore: scales to [0, max_priority] by the highest score; reversed
// when `reverse`.
void DefaultNormalizeScore(int64_t max_priority, bool reverse, std::vector<NodeScore>& scores);

}  // namespace korral::scheduler
