// korral/controllers/pod_summary.h: the typed digest of a cached pod that the controllers' loops
// over many pods read instead of the pod's JSON tree.
//
// Why: at 30,000 pods the controller manager's memory is the pod cache. A replica pod costs
// ~6.3 KB as a (compacted) nlohmann tree but ~0.7 KB packed as MessagePack; the packed cache
// (client::Indexer compact mode) only pays off if the loops that visit every pod of a
// ReplicaSet (its sync, every pass) or of the cluster (pod GC) do not decode them. So the pod
// informer computes a PodSummary once per stored pod version (client::InformerOptions::summarize)
// and those loops read summaries; they decode (Indexer::Get) only the pods they act on (adopt,
// release, delete with preconditions). A summary costs ~0.5 KB.
//
// What is here is what the hot loops read: replicaset (claim: labels, controller ref, deletion;
// status: ready, available; scale down: node, phase, ready time, deletion cost, restarts,
// creation time) and podgc (phase, deletion, node, creation time). Controllers that read one
// pod at a time keep using the JSON.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apimachinery/labels.h"
#include "korral/client/informer.h"

namespace korral::controllers {

struct PodSummary {
  using TimePoint = std::chrono::system_clock::time_point;
  enum class Phase : std::uint8_t { kOther, kPending, kRunning, kSucceeded, kFailed, kUnknown };

  std::string key;  // "namespace/name" (client::ObjectKey)
  std::string uid;
  // metadata.labels with string values, sorted by key.
  std::vector<std::pair<std::string, std::string>> labels;
  // The controller ownerReference (has_controller false: none).
  bool has_controller = false;
  std::string controller_kind, controller_name, controller_uid;
  std::string node_name;  // spec.nodeName
  Phase phase = Phase::kOther;
  bool deleting = false;  // metadata.deletionTimestamp set
  bool ready = false;     // condition Ready is True
  bool has_ready_time = false;
  TimePoint ready_since{};         // that condition's lastTransitionTime (when has_ready_time)
  TimePoint created{};             // metadata.creationTimestamp (epoch if absent)
  int max_restarts = 0;            // max restartCount over containers and init containers
  std::int64_t deletion_cost = 0;  // controller.kubernetes.io/pod-deletion-cost (0 if invalid)

  std::string_view Namespace() const;
  std::string_view Name() const;
  std::string_view PhaseName() const;
  bool Terminal() const { return phase == Phase::kSucceeded || phase == Phase::kFailed; }
  bool Active() const { return !Terminal() && !deleting; }
  // The label's value (null if absent).
  const std::string* Label(std::string_view key) const;
  // Same result as selector.Matches(pod's metadata.labels).
  bool Matches(const labels::LabelSelector& selector) const;
  // Every key/value of `labels` (a JSON object; anything else counts as empty) is on the pod.
  bool HasAllLabels(const nlohmann::json& labels) const;
  // metadata.labels as a JSON object (string values only), for JSON-based selector helpers.
  nlohmann::json LabelsJson() const;
  // Upstream podutil.IsPodAvailable.
  bool Available(std::int64_t min_ready_seconds, TimePoint now) const;
};

using PodSummaryPtr = std::shared_ptr<const PodSummary>;

// Computes the summary of `pod` (any JSON; missing or mistyped fields give the defaults).
PodSummaryPtr SummarizePod(const nlohmann::json& pod);
// The summarizer the informer factory gives pod informers.
client::SummaryFunc PodSummaryFunc();

// Summaries of the pods of `pods` (a pod informer's cache) under index `index_name` = `value`, in
// the index's order. Uses the cache's summaries when it has them, else summarizes each pod.
std::vector<PodSummaryPtr> PodSummariesByIndex(const client::Indexer& pods,
                                               const std::string& index_name,
                                               const std::string& value);
// Every cached pod's summary, in key order.
std::vector<PodSummaryPtr> ListPodSummaries(const client::Indexer& pods);
// The cached pods of namespace `ns` carrying every key/value of `map_selector` (a JSON object
// of strings, e.g. a Service's spec.selector; anything else selects every pod), decoded. The
// pods are filtered by summary first, so only the selected ones are decoded.
std::vector<client::ObjectPtr> PodsWithLabels(const client::Indexer& pods, const std::string& ns,
                                              const nlohmann::json& map_selector);
// The cached pods of namespace `ns` whose summary passes `keep`, decoded (in key order).
std::vector<client::ObjectPtr> PodsWhere(const client::Indexer& pods, const std::string& ns,
                                         const std::function<bool(const PodSummary&)>& keep);

}  // namespace korral::controllers
