// korral/controllers/replicaset/replicaset.cc
#include "korral/controllers/replicaset/replicaset.h"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace workload {

namespace {

constexpr char kApiVersion[] = "apps/v1";
constexpr char kKind[] = "ReplicaSet";
// Pods without a controller, by namespace: with the controller-uid index, a sync reads only the
// pods it owns and the ones it may adopt instead of every pod in the namespace (the cache is
// packed, so each pod read costs a decode).
constexpr char kOrphanPodsIndex[] = "korral.replicaset/orphans-by-namespace";
// The sync reads pods through their summaries (pod_summary.h): the pod cache is packed, and
// decoding every pod of a large ReplicaSet on each pass costs both CPU and (transient) memory.
// Only pods to adopt or release are decoded.

std::vector<std::string> OrphanNamespaceIndexFunc(const Json& pod) {
  if (ControllerRefOf(pod) != nullptr) return {};
  return {NamespaceOf(pod)};
}

bool IsZero(TimePoint t) { return t.time_since_epoch().count() == 0; }

// afterOrZero: zero times first, then later times first.
bool AfterOrZero(TimePoint a, TimePoint b) {
  if (IsZero(a) || IsZero(b)) return IsZero(a);
  return a > b;
}

int LogarithmicRankDiff(TimePoint a, TimePoint b, TimePoint now) {
  auto d1 = std::chrono::duration_cast<std::chrono::nanoseconds>(now - a).count();
  auto d2 = std::chrono::duration_cast<std::chrono::nanoseconds>(now - b).count();
  int r1 = -1, r2 = -1;
  if (d1 > 0) r1 = static_cast<int>(std::log2(static_cast<double>(d1)));
  if (d2 > 0) r2 = static_cast<int>(std::log2(static_cast<double>(d2)));
  return r1 - r2;
}

int PhaseOrdinal(const PodSummary& pod) {
  if (pod.phase == PodSummary::Phase::kUnknown) return 1;
  if (pod.phase == PodSummary::Phase::kRunning) return 2;
  return 0;  // Pending (and anything else)
}

struct RankedPod {
  size_t index;
  const PodSummary* pod;
  int rank;
};

bool DeleteFirst(const RankedPod& a, const RankedPod& b, TimePoint now) {
  const PodSummary& pi = *a.pod;
  const PodSummary& pj = *b.pod;
  const std::string &ni = pi.node_name, &nj = pj.node_name;
  // 1. Unassigned < assigned.
  if (ni != nj && (ni.empty() || nj.empty())) return ni.empty();
  // 2. Pending < Unknown < Running.
  if (PhaseOrdinal(pi) != PhaseOrdinal(pj)) return PhaseOrdinal(pi) < PhaseOrdinal(pj);
  // 3. Not ready < ready.
  if (pi.ready != pj.ready) return !pi.ready;
  // 4. Lower pod-deletion-cost < higher.
  if (pi.deletion_cost != pj.deletion_cost) return pi.deletion_cost < pj.deletion_cost;
  // 5. Doubled up (more related pods on the node) < not.
  if (a.rank != b.rank) return a.rank > b.rank;
  // 6. Ready for less time < more time (log scale).
  if (pi.ready && pj.ready) {
    TimePoint ri = pi.has_ready_time ? pi.ready_since : TimePoint{};
    TimePoint rj = pj.has_ready_time ? pj.ready_since : TimePoint{};
    if (ri != rj) {
      if (IsZero(now) || IsZero(ri) || IsZero(rj)) return AfterOrZero(ri, rj);
      int d = LogarithmicRankDiff(ri, rj, now);
      if (d == 0) return pi.uid < pj.uid;
      return d < 0;
    }
  }
  // 7. Higher restart counts < lower.
  if (pi.max_restarts != pj.max_restarts) return pi.max_restarts > pj.max_restarts;
  // 8. Newer < older (log scale).
  TimePoint ci = pi.created, cj = pj.created;
  if (ci != cj) {
    if (IsZero(now) || IsZero(ci) || IsZero(cj)) return AfterOrZero(ci, cj);
    int d = LogarithmicRankDiff(ci, cj, now);
    if (d == 0) return pi.uid < pj.uid;
    return d < 0;
  }
  return false;
}

// The permutation that puts `pods` in deletion order.
std::vector<size_t> DeletionOrder(const std::vector<const PodSummary*>& pods,
                                  const std::vector<int>& ranks, TimePoint now) {
  std::vector<RankedPod> ranked;
  ranked.reserve(pods.size());
  for (size_t i = 0; i < pods.size(); ++i) {
    ranked.push_back({i, pods[i], i < ranks.size() ? ranks[i] : 0});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [&](const RankedPod& a, const RankedPod& b) { return DeleteFirst(a, b, now); });
  std::vector<size_t> order;
  order.reserve(ranked.size());
  for (const RankedPod& r : ranked) order.push_back(r.index);
  return order;
}

}  // namespace

void SortPodsForDeletion(std::vector<ObjectPtr>& pods, const std::vector<int>& ranks,
                         TimePoint now) {
  std::vector<PodSummaryPtr> summaries;
  std::vector<const PodSummary*> ptrs;
  for (const ObjectPtr& p : pods) {
    summaries.push_back(SummarizePod(*p));
    ptrs.push_back(summaries.back().get());
  }
  std::vector<ObjectPtr> sorted;
  sorted.reserve(pods.size());
  for (size_t i : DeletionOrder(ptrs, ranks, now)) sorted.push_back(pods[i]);
  pods = std::move(sorted);
}

void SortPodsForDeletion(std::vector<PodSummaryPtr>& pods, const std::vector<int>& ranks,
                         TimePoint now) {
  std::vector<const PodSummary*> ptrs;
  for (const PodSummaryPtr& p : pods) ptrs.push_back(p.get());
  std::vector<PodSummaryPtr> sorted;
  sorted.reserve(pods.size());
  for (size_t i : DeletionOrder(ptrs, ranks, now)) sorted.push_back(pods[i]);
  pods = std::move(sorted);
}

ReplicaSetController::ReplicaSetController(ControllerContext& ctx)
    : QueueController("replicaset-controller", "replicaset-controller", ctx),
      rs_informer_(ctx.informers->For(ReplicaSetsRef())),
      pod_informer_(ctx.informers->For(PodsRef())),
      expectations_(*ctx.clock) {
  EnsureIndex(rs_informer_, client::kNamespaceIndex, client::NamespaceIndexFunc);
  EnsureIndex(pod_informer_, client::kNamespaceIndex, client::NamespaceIndexFunc);
  EnsureIndex(pod_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  EnsureIndex(rs_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  EnsureIndex(pod_informer_, kOrphanPodsIndex, OrphanNamespaceIndexFunc);
  rs_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& rs) { Enqueue(KeyOf(*rs)); },
      .on_update = [this](const ObjectPtr&, const ObjectPtr& rs) { Enqueue(KeyOf(*rs)); },
      .on_delete =
          [this](const ObjectPtr& rs, bool) {
            expectations_.Delete(KeyOf(*rs));
            Enqueue(KeyOf(*rs));
          },
  });
  pod_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& p) { OnPodAdd(p); },
      .on_update = [this](const ObjectPtr& o, const ObjectPtr& n) { OnPodUpdate(o, n); },
      .on_delete = [this](const ObjectPtr& p, bool) { OnPodDelete(p); },
  });
}

ReplicaSetController::~ReplicaSetController() { Stop(); }

std::string ReplicaSetController::ResolveControllerRef(const std::string& ns, const Json& ref) {
  if (ref.value("kind", "") != kKind) return "";
  std::string key = ns + "/" + ref.value("name", "");
  ObjectPtr rs = rs_informer_->indexer().Get(key);
  if (!rs || UidOf(*rs) != ref.value("uid", "")) return "";
  return key;
}

std::vector<ObjectPtr> ReplicaSetController::ReplicaSetsMatchingPod(const Json& pod) {
  std::vector<ObjectPtr> out;
  if (!LabelsOf(pod).is_object() || LabelsOf(pod).empty()) return out;
  for (const ObjectPtr& rs : rs_informer_->indexer().ListNamespace(NamespaceOf(pod))) {
    auto sel = SelectorFromJson(At(*rs, {"spec", "selector"}));
    if (!sel.ok() || sel->Empty()) continue;
    if (sel->Matches(LabelsOf(pod))) out.push_back(rs);
  }
  return out;
}

void ReplicaSetController::OnPodAdd(const ObjectPtr& pod) {
  if (IsBeingDeleted(*pod)) {
    OnPodDelete(pod);
    return;
  }
  if (const Json* ref = ControllerRefOf(*pod)) {
    std::string key = ResolveControllerRef(NamespaceOf(*pod), *ref);
    if (key.empty()) return;
    expectations_.CreationObserved(key);
    Enqueue(key);
    return;
  }
  for (const ObjectPtr& rs : ReplicaSetsMatchingPod(*pod)) Enqueue(KeyOf(*rs));
}

void ReplicaSetController::OnPodUpdate(const ObjectPtr& old_pod, const ObjectPtr& new_pod) {
  if (client::ResourceVersionOf(*old_pod) == client::ResourceVersionOf(*new_pod)) return;
  bool label_changed = LabelsOf(*old_pod) != LabelsOf(*new_pod);
  if (IsBeingDeleted(*new_pod)) {
    OnPodDelete(new_pod);
    if (label_changed) OnPodDelete(old_pod);
    return;
  }
  const Json* cur_ref = ControllerRefOf(*new_pod);
  const Json* old_ref = ControllerRefOf(*old_pod);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref != nullptr && *cur_ref != *old_ref);
  if (ref_changed && old_ref != nullptr) {
    std::string key = ResolveControllerRef(NamespaceOf(*old_pod), *old_ref);
    if (!key.empty()) Enqueue(key);
  }
  if (cur_ref != nullptr) {
    std::string key = ResolveControllerRef(NamespaceOf(*new_pod), *cur_ref);
    if (key.empty()) return;
    Enqueue(key);
    ObjectPtr rs = rs_informer_->indexer().Get(key);
    int64_t min_ready = rs ? Int(*rs, {"spec", "minReadySeconds"}) : 0;
    if (!IsPodReady(*old_pod) && IsPodReady(*new_pod) && min_ready > 0) {
      EnqueueAfter(key, std::chrono::seconds(min_ready + 1));
    }
    return;
  }
  if (label_changed || ref_changed) {
    for (const ObjectPtr& rs : ReplicaSetsMatchingPod(*new_pod)) Enqueue(KeyOf(*rs));
  }
}

void ReplicaSetController::OnPodDelete(const ObjectPtr& pod) {
  const Json* ref = ControllerRefOf(*pod);
  if (ref == nullptr) return;
  std::string key = ResolveControllerRef(NamespaceOf(*pod), *ref);
  if (key.empty()) return;
  expectations_.DeletionObserved(key, KeyOf(*pod));
  Enqueue(key);
}

std::vector<PodSummaryPtr> ReplicaSetController::RelatedPods(const Json& rs) {
  // Pods of every ReplicaSet with the same controller (e.g. all of a Deployment's ReplicaSets).
  std::vector<std::string> uids;
  if (const Json* ref = ControllerRefOf(rs)) {
    for (const ObjectPtr& other :
         rs_informer_->indexer().ByIndex(kControllerUidIndex, ref->value("uid", ""))) {
      if (NamespaceOf(*other) == NamespaceOf(rs)) uids.push_back(UidOf(*other));
    }
  } else {
    uids.push_back(UidOf(rs));
  }
  std::vector<PodSummaryPtr> out;
  for (const std::string& uid : uids) {
    for (PodSummaryPtr& p :
         PodSummariesByIndex(pod_informer_->indexer(), kControllerUidIndex, uid)) {
      out.push_back(std::move(p));
    }
  }
  return out;
}

absl::Status ReplicaSetController::ManageReplicas(const std::vector<PodSummaryPtr>& active,
                                                  const Json& rs, const std::string& key) {
  int64_t replicas = Int(rs, {"spec", "replicas"}, 1);
  int64_t diff = static_cast<int64_t>(active.size()) - replicas;
  const std::string ns = NamespaceOf(rs);
  if (diff < 0) {
    int n = static_cast<int>(std::min<int64_t>(-diff, kBurstReplicas));
    expectations_.ExpectCreations(key, n);
    Json ref = NewControllerRef(rs, kApiVersion, kKind);
    Json pod = PodFromTemplate(At(rs, {"spec", "template"}), rs, ref);
    auto result = SlowStartBatch(n, 1, [&](int) -> absl::Status {
      auto created = client_.Create(PodsRef(), ns, pod);
      if (!created.ok()) {
        if (IsNamespaceTerminating(created.status())) return absl::OkStatus();
        recorder().Event(rs, kApiVersion, kKind, "Warning", "FailedCreate",
                         fmt::format("Error creating: {}", StatusMessage(created.status())));
        return created.status();
      }
      recorder().Event(rs, kApiVersion, kKind, "Normal", "SuccessfulCreate",
                       fmt::format("Created pod: {}", NameOf(*created)));
      return absl::OkStatus();
    });
    // Creations that failed or were never attempted will not be observed.
    for (int i = result.successes; i < n; ++i) expectations_.CreationObserved(key);
    return result.first_error;
  }
  if (diff > 0) {
    int n = static_cast<int>(std::min<int64_t>(diff, kBurstReplicas));
    std::vector<PodSummaryPtr> pods = active;
    if (static_cast<size_t>(n) < pods.size()) {
      std::map<std::string, int> on_node;
      for (const PodSummaryPtr& p : RelatedPods(rs)) {
        if (p->Active()) on_node[p->node_name]++;
      }
      std::vector<int> ranks;
      for (const PodSummaryPtr& p : pods) ranks.push_back(on_node[p->node_name]);
      SortPodsForDeletion(pods, ranks, clock_.Now());
    }
    pods.resize(n);
    std::vector<std::string> keys;
    for (const PodSummaryPtr& p : pods) keys.push_back(p->key);
    expectations_.ExpectDeletions(key, keys);
    auto errors = ParallelFor(n, [&](int i) -> absl::Status {
      const PodSummary& p = *pods[i];
      auto r = client_.Delete(PodsRef(), ns, std::string(p.Name()));
      if (!r.ok()) {
        expectations_.DeletionObserved(key, p.key);
        if (client::IsNotFound(r.status())) return absl::OkStatus();
        recorder().Event(rs, kApiVersion, kKind, "Warning", "FailedDelete",
                         fmt::format("Error deleting: {}", StatusMessage(r.status())));
        return r.status();
      }
      recorder().Event(rs, kApiVersion, kKind, "Normal", "SuccessfulDelete",
                       fmt::format("Deleted pod: {}", p.Name()));
      return absl::OkStatus();
    });
    if (!errors.empty()) return errors.front();
  }
  return absl::OkStatus();
}

absl::Status ReplicaSetController::Sync(const std::string& key) {
  ObjectPtr cached = rs_informer_->indexer().Get(key);
  if (!cached) {
    expectations_.Delete(key);
    return absl::OkStatus();
  }
  const Json& rs = *cached;
  auto selector = SelectorFromJson(At(rs, {"spec", "selector"}));
  if (!selector.ok()) {
    KLOG(Warning, "replicaset {}: invalid selector: {}", key, StatusMessage(selector.status()));
    return absl::OkStatus();
  }
  bool needs_sync = expectations_.Satisfied(key);
  // Upstream lists the namespace's pods and claims them (ClaimPods): pods with another
  // controller are skipped by the claim, so only this ReplicaSet's pods and orphans matter. Its
  // own pods whose labels still match are claimed without an API call; the rest (its pods to
  // release, orphans to adopt) go through ClaimObjects, decoded.
  const client::Indexer& pod_cache = pod_informer_->indexer();
  const std::string ns = NamespaceOf(rs);
  const bool rs_deleting = IsBeingDeleted(rs);
  std::vector<PodSummaryPtr> pods;
  std::vector<ObjectPtr> to_claim;
  for (PodSummaryPtr& p : PodSummariesByIndex(pod_cache, kControllerUidIndex, UidOf(rs))) {
    if (p->Namespace() != ns || !p->Active()) continue;
    if (p->Matches(*selector)) {
      pods.push_back(std::move(p));
    } else if (!rs_deleting) {
      if (ObjectPtr full = pod_cache.Get(p->key)) to_claim.push_back(std::move(full));
    }
  }
  if (!rs_deleting) {
    for (const PodSummaryPtr& p : PodSummariesByIndex(pod_cache, kOrphanPodsIndex, ns)) {
      if (!p->Active() || !p->Matches(*selector)) continue;
      if (ObjectPtr full = pod_cache.Get(p->key)) to_claim.push_back(std::move(full));
    }
  }
  if (!to_claim.empty()) {
    ClaimSpec claim{.owner = &rs,
                    .owner_api_version = kApiVersion,
                    .owner_kind = kKind,
                    .selector = *selector,
                    .child_ref = PodsRef(),
                    .can_adopt = RecheckOwner(client_, ReplicaSetsRef(), rs)};
    absl::Status claim_err;
    std::vector<ObjectPtr> claimed = ClaimObjects(client_, claim, to_claim, &claim_err);
    if (!claim_err.ok()) return claim_err;
    for (const ObjectPtr& p : claimed) {
      if (IsPodActive(*p)) pods.push_back(SummarizePod(*p));
    }
  }

  absl::Status manage_err;
  if (needs_sync && !rs_deleting) manage_err = ManageReplicas(pods, rs, key);

  // Status.
  int64_t replicas = Int(rs, {"spec", "replicas"}, 1);
  int64_t min_ready = Int(rs, {"spec", "minReadySeconds"});
  const Json& tmpl_labels = At(rs, {"spec", "template", "metadata", "labels"});
  auto now = clock_.Now();
  int64_t fully = 0, ready = 0, available = 0;
  for (const PodSummaryPtr& p : pods) {
    if (p->HasAllLabels(tmpl_labels)) fully++;
    if (p->ready) {
      ready++;
      if (p->Available(min_ready, now)) available++;
    }
  }
  Json status = At(rs, {"status"}).is_object() ? At(rs, {"status"}) : Json::object();
  Json old_status = status;
  status["replicas"] = static_cast<int64_t>(pods.size());
  status["fullyLabeledReplicas"] = fully;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["observedGeneration"] = Int(rs, {"metadata", "generation"}, 1);
  const Json* failure = FindCondition(status, "ReplicaFailure");
  if (!manage_err.ok() && failure == nullptr) {
    int64_t d = static_cast<int64_t>(pods.size()) - replicas;
    Json cond = {{"type", "ReplicaFailure"},
                 {"status", "True"},
                 {"reason", d < 0 ? "FailedCreate" : (d > 0 ? "FailedDelete" : "")},
                 {"message", std::string(StatusMessage(manage_err))},
                 {"lastTransitionTime", FormatTime(now)}};
    if (!status.contains("conditions") || !status["conditions"].is_array()) {
      status["conditions"] = Json::array();
    }
    status["conditions"].push_back(cond);
  } else if (manage_err.ok() && failure != nullptr) {
    Json kept = Json::array();
    for (const Json& c : status["conditions"]) {
      if (c.value("type", "") != "ReplicaFailure") kept.push_back(c);
    }
    if (kept.empty()) {
      status.erase("conditions");
    } else {
      status["conditions"] = kept;
    }
  }
  if (status != old_status) {
    auto r = UpdateStatusWithRetry(client_, ReplicaSetsRef(), rs, status);
    if (!r.ok() && !client::IsNotFound(r.status())) {
      return manage_err.ok() ? r.status() : manage_err;
    }
  }
  if (manage_err.ok() && min_ready > 0 && ready == replicas && available != replicas) {
    EnqueueAfter(key, std::chrono::seconds(min_ready));
  }
  return manage_err;
}

}  // namespace workload

ControllerDescriptor ReplicaSetControllerDescriptor() {
  return ControllerDescriptor{
      .name = "replicaset-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::ReplicaSetController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"replicaset"},
  };
}

}  // namespace korral::controllers
