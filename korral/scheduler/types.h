// korral/scheduler/types.h: the scheduler's compact, pre-parsed view of Pods and Nodes.
//
// Informers deliver JSON; the scheduler parses each Pod and Node once, on arrival, into these
// immutable structs (upstream: framework.PodInfo with its pre-parsed affinity terms), so the
// per-node filters never touch JSON. Quantities are integers: CPU in millicores, everything else
// in units (rounded up, as resource.Quantity.Value/MilliValue do).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::scheduler {

using Json = nlohmann::json;

// Parses a resource.Quantity ("100m", "1Gi", "2e3", "1.5"). value(): rounded up to an integer;
// milli: the value times 1000 rounded up. Errors are InvalidArgument.
absl::StatusOr<int64_t> ParseQuantity(std::string_view s);
absl::StatusOr<int64_t> ParseQuantityMilli(std::string_view s);

// Sorted (key, value) pairs: metadata.labels of a pod or node.
using Labels = std::vector<std::pair<std::string, std::string>>;
Labels LabelsFromJson(const Json& labels);
// The value of `key` or null.
const std::string* LabelValue(const Labels& labels, std::string_view key);

enum class SelectorOp { kIn, kNotIn, kExists, kDoesNotExist, kGt, kLt };

struct Requirement {
  std::string key;
  SelectorOp op = SelectorOp::kExists;
  std::vector<std::string> values;  // sorted
  bool Matches(const Labels& labels) const;
  bool MatchesValue(const std::string* value) const;
};

// metav1.LabelSelector (matchLabels + matchExpressions, ANDed). An absent selector (null) in a
// pod affinity term matches nothing; `{}` matches everything.
struct LabelSelector {
  std::vector<Requirement> requirements;
  bool nothing = false;
  bool Matches(const Labels& labels) const;
  bool Empty() const { return !nothing && requirements.empty(); }
  static absl::StatusOr<LabelSelector> FromJson(const Json& selector);  // null -> nothing
};

// core/v1 NodeSelectorTerm: matchExpressions on labels + matchFields (metadata.name only).
struct NodeSelectorTerm {
  std::vector<Requirement> match_expressions;
  std::vector<Requirement> match_fields;
  bool Matches(const Labels& labels, const std::string& node_name) const;
};
// core/v1 NodeSelector: terms ORed.
struct NodeSelector {
  std::vector<NodeSelectorTerm> terms;
  bool Matches(const Labels& labels, const std::string& node_name) const;
};

// Parses a core/v1 NodeSelector ({"nodeSelectorTerms": [...]}).
absl::StatusOr<NodeSelector> ParseNodeSelector(const Json& selector);

struct PreferredSchedulingTerm {
  int32_t weight = 0;
  NodeSelectorTerm preference;
};

struct Resource {
  int64_t milli_cpu = 0;
  int64_t memory = 0;
  int64_t ephemeral_storage = 0;
  int64_t allowed_pods = 0;
  // Extended and hugepage resources, sorted by name.
  std::vector<std::pair<std::string, int64_t>> scalar;

  int64_t Scalar(std::string_view name) const;
  void AddScalar(const std::string& name, int64_t v);
  void Add(const Resource& r);
  void Sub(const Resource& r);
  // Per-resource max (init containers).
  void SetMax(const Resource& r);
  bool IsZero() const;
  // Value of a named resource ("cpu" in millicores, "memory", "ephemeral-storage", "pods", ...).
  int64_t Get(std::string_view name) const;
};
// Parses a ResourceList ({"cpu":"100m",...}).
Resource ResourceFromJson(const Json& list);

struct Toleration {
  std::string key;
  std::string op = "Equal";  // "Equal" or "Exists"
  std::string value;
  std::string effect;  // "" matches every effect
  bool Tolerates(const struct Taint& taint) const;
};

struct Taint {
  std::string key;
  std::string value;
  std::string effect;  // NoSchedule, PreferNoSchedule, NoExecute
};

bool TolerationsTolerate(const std::vector<Toleration>& tolerations, const Taint& taint);

struct HostPort {
  std::string ip;  // "0.0.0.0" when unset
  std::string protocol;
  int32_t port = 0;
};

struct AffinityTerm {
  LabelSelector selector;
  std::vector<std::string> namespaces;  // sorted; from the term or the pod's own namespace
  std::optional<LabelSelector> namespace_selector;  // set when the term has one
  std::string topology_key;
  int32_t weight = 0;  // preferred terms only
  // Whether `pod_labels` in `pod_ns` (with namespace labels `ns_labels`) matches this term.
  bool Matches(const std::string& pod_ns, const Labels& pod_labels, const Labels* ns_labels) const;
};

struct TopologySpreadConstraint {
  int32_t max_skew = 1;
  std::string topology_key;
  bool hard = true;  // whenUnsatisfiable DoNotSchedule
  LabelSelector selector;
  int32_t min_domains = 1;
  bool honor_node_affinity = true;  // nodeAffinityPolicy (default Honor)
  bool honor_node_taints = false;   // nodeTaintsPolicy (default Ignore)
};

struct OwnerRef {
  std::string kind;
  std::string name;
  bool controller = false;
};

// One pod, parsed. Immutable once built; shared between the queue, cache and snapshots.
struct PodInfo {
  std::shared_ptr<const Json> object;  // the full object as last seen
  std::string ns, name, uid, key;      // key = ns/name
  std::string resource_version;
  std::string node_name;
  std::string scheduler_name = "default-scheduler";
  std::string nominated_node_name;
  std::string phase;
  Labels labels;
  int32_t priority = 0;
  bool preempt_never = false;  // preemptionPolicy: Never
  bool terminating = false;    // deletionTimestamp set
  std::chrono::system_clock::time_point creation;
  std::chrono::system_clock::time_point start_time;

  Resource requests;         // effective request (init containers, sidecars, overhead)
  int64_t non_zero_cpu = 0;  // with upstream's 100m / 200Mi defaults per container
  int64_t non_zero_memory = 0;
  bool best_effort = true;  // no cpu/memory requests at all

  Labels node_selector;
  std::optional<NodeSelector> required_node_affinity;
  std::vector<PreferredSchedulingTerm> preferred_node_affinity;
  std::vector<Toleration> tolerations;
  std::vector<HostPort> host_ports;
  std::vector<AffinityTerm> required_affinity;
  std::vector<AffinityTerm> required_anti_affinity;
  std::vector<AffinityTerm> preferred_affinity;
  std::vector<AffinityTerm> preferred_anti_affinity;
  std::vector<TopologySpreadConstraint> spread_constraints;
  std::vector<std::string> scheduling_gates;
  std::vector<std::string> images;  // container images (normalized)
  std::vector<OwnerRef> owners;
  // Claim names of the pod's persistentVolumeClaim volumes and generic ephemeral volumes
  // ("<pod>-<volume>", as upstream's ephemeral.VolumeClaimName), in volume order.
  std::vector<std::string> pvc_names;
  std::vector<bool> pvc_ephemeral;  // parallel to pvc_names: from an ephemeral volume
  // A gcePersistentDisk, awsElasticBlockStore, rbd or iscsi volume (VolumeRestrictions' disk
  // conflict check applies).
  bool has_conflict_volumes = false;

  bool HasAffinity() const {
    return !required_affinity.empty() || !required_anti_affinity.empty() ||
           !preferred_affinity.empty() || !preferred_anti_affinity.empty();
  }
  bool HasRequiredAntiAffinity() const { return !required_anti_affinity.empty(); }
};
using PodInfoPtr = std::shared_ptr<const PodInfo>;

// Parses a Pod. Malformed fields (bad quantity, bad selector) are an InvalidArgument error.
absl::StatusOr<PodInfoPtr> ParsePod(std::shared_ptr<const Json> pod);
// Convenience for tests: parses a JSON literal (asserts nothing; returns null on error).
PodInfoPtr MakePod(const Json& pod);

struct ImageState {
  int64_t size = 0;
};

// One node, parsed. Immutable.
struct Node {
  std::shared_ptr<const Json> object;
  std::string name;
  Labels labels;
  std::vector<Taint> taints;
  bool unschedulable = false;
  Resource allocatable;
  // Image name (every alias in status.images[].names, normalized) -> size.
  std::vector<std::pair<std::string, int64_t>> images;  // sorted by name
  int64_t ImageSize(std::string_view name) const;       // -1 if absent
};
using NodePtr = std::shared_ptr<const Node>;

absl::StatusOr<NodePtr> ParseNode(std::shared_ptr<const Json> node);
NodePtr MakeNode(const Json& node);

// docker.io/library/nginx:latest style normalization used for image locality ("nginx" ->
// "docker.io/library/nginx:latest").
std::string NormalizeImageName(std::string_view image);

// RFC 3339 time ("2024-01-02T03:04:05Z"); epoch on error.
std::chrono::system_clock::time_point ParseTime(std::string_view s);
std::string FormatTime(std::chrono::system_clock::time_point t);

}  // namespace korral::scheduler
