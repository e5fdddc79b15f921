// korral/controllers/deployment/deployment.cc
#include "korral/controllers/deployment/deployment.h"

#include <algorithm>
#include <climits>
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
constexpr char kKind[] = "Deployment";
constexpr size_t kRevisionHistoryLimitChars = 2000;

using RsPtr = std::shared_ptr<Json>;
using RsList = std::vector<RsPtr>;

int64_t Replicas(const Json& o) { return Int(o, {"spec", "replicas"}, 1); }
int64_t StatusInt(const Json& o, std::string_view f) { return Int(o, {"status", f}); }

int64_t ParseInt64(const std::string& s, bool* ok) {
  *ok = false;
  if (s.empty()) return 0;
  try {
    size_t pos = 0;
    long long v = std::stoll(s, &pos);
    if (pos != s.size()) return 0;
    *ok = true;
    return v;
  } catch (...) {
    return 0;
  }
}

int64_t Revision(const Json& rs) {
  bool ok = false;
  int64_t v = ParseInt64(Annotation(rs, kRevisionAnnotation), &ok);
  return ok ? v : 0;
}

bool IsRollingUpdate(const Json& d) {
  return Str(d, {"spec", "strategy", "type"}, "RollingUpdate") == "RollingUpdate";
}

// (surge, unavailable) as upstream ResolveFenceposts.
std::pair<int64_t, int64_t> Fenceposts(const Json& d) {
  int64_t desired = Replicas(d);
  const Json& ru = At(d, {"spec", "strategy", "rollingUpdate"});
  Json surge_v = ru.is_object() && ru.contains("maxSurge") ? ru["maxSurge"] : Json("25%");
  Json unavail_v =
      ru.is_object() && ru.contains("maxUnavailable") ? ru["maxUnavailable"] : Json("25%");
  int64_t surge = ScaledValue(surge_v, desired, true).value_or(0);
  int64_t unavailable = ScaledValue(unavail_v, desired, false).value_or(0);
  if (surge == 0 && unavailable == 0) unavailable = 1;
  return {surge, unavailable};
}

int64_t MaxSurge(const Json& d) {
  if (!IsRollingUpdate(d)) return 0;
  return Fenceposts(d).first;
}

int64_t MaxUnavailable(const Json& d) {
  if (!IsRollingUpdate(d) || Replicas(d) == 0) return 0;
  int64_t u = Fenceposts(d).second;
  return std::min(u, Replicas(d));
}

bool HasProgressDeadline(const Json& d) {
  const Json& v = At(d, {"spec", "progressDeadlineSeconds"});
  return v.is_number_integer() && v.get<int64_t>() != INT32_MAX;
}

Json WithoutHash(const Json& tmpl) {
  Json t = tmpl;
  if (t.is_object() && t.contains("metadata") && t["metadata"].is_object() &&
      t["metadata"].contains("labels") && t["metadata"]["labels"].is_object()) {
    t["metadata"]["labels"].erase(kPodTemplateHashLabel);
  }
  return t;
}

bool EqualIgnoreHash(const Json& a, const Json& b) { return WithoutHash(a) == WithoutHash(b); }

bool ByCreation(const RsPtr& a, const RsPtr& b) {
  auto ta = CreationTime(*a), tb = CreationTime(*b);
  if (ta == tb) return NameOf(*a) < NameOf(*b);
  return ta < tb;
}

int64_t SumSpec(const RsList& l) {
  int64_t n = 0;
  for (const auto& rs : l) {
    if (rs) n += Replicas(*rs);
  }
  return n;
}
int64_t SumStatus(const RsList& l, std::string_view f) {
  int64_t n = 0;
  for (const auto& rs : l) {
    if (rs) n += StatusInt(*rs, f);
  }
  return n;
}

RsList FilterActive(const RsList& l) {
  RsList out;
  for (const auto& rs : l) {
    if (rs && Replicas(*rs) > 0) out.push_back(rs);
  }
  return out;
}

Json NewCondition(std::string_view type, std::string_view status, std::string_view reason,
                  std::string message, TimePoint now) {
  std::string t = FormatTime(now);
  return {{"type", type},        {"status", status},
          {"lastUpdateTime", t}, {"lastTransitionTime", t},
          {"reason", reason},    {"message", std::move(message)}};
}

void RemoveCondition(Json& status, std::string_view type) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) return;
  Json kept = Json::array();
  for (const Json& c : status["conditions"]) {
    if (c.value("type", "") != type) kept.push_back(c);
  }
  status["conditions"] = kept;
}

// Upstream SetDeploymentCondition.
void SetCondition(Json& status, Json cond) {
  const Json* cur = FindCondition(status, cond["type"].get<std::string>());
  if (cur != nullptr && cur->value("status", "") == cond["status"] &&
      cur->value("reason", "") == cond["reason"]) {
    return;
  }
  if (cur != nullptr && cur->value("status", "") == cond["status"]) {
    cond["lastTransitionTime"] = cur->value("lastTransitionTime", "");
  }
  RemoveCondition(status, cond["type"].get<std::string>());
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  status["conditions"].push_back(std::move(cond));
}

bool SkipCopyAnnotation(const std::string& k) {
  return k == "kubectl.kubernetes.io/last-applied-configuration" || k == kRevisionAnnotation ||
         k == kRevisionHistoryAnnotation || k == kDesiredReplicasAnnotation ||
         k == kMaxReplicasAnnotation || k == "deprecated.deployment.rollback.to";
}

Json& Annotations(Json& o) {
  Json& meta = o["metadata"];
  if (!meta.contains("annotations") || !meta["annotations"].is_object()) {
    meta["annotations"] = Json::object();
  }
  return meta["annotations"];
}

bool SetReplicasAnnotations(Json& rs, int64_t desired, int64_t max) {
  bool changed = false;
  Json& a = Annotations(rs);
  std::string ds = std::to_string(desired), ms = std::to_string(max);
  if (a.value(kDesiredReplicasAnnotation, "") != ds) {
    a[kDesiredReplicasAnnotation] = ds;
    changed = true;
  }
  if (a.value(kMaxReplicasAnnotation, "") != ms) {
    a[kMaxReplicasAnnotation] = ms;
    changed = true;
  }
  return changed;
}

bool ReplicasAnnotationsNeedUpdate(const Json& rs, int64_t desired, int64_t max) {
  return Annotation(rs, kDesiredReplicasAnnotation) != std::to_string(desired) ||
         Annotation(rs, kMaxReplicasAnnotation) != std::to_string(max);
}

bool SetNewReplicaSetAnnotations(const Json& d, Json& rs, const std::string& new_revision,
                                 bool exists) {
  bool changed = false;
  const Json& da = At(d, {"metadata", "annotations"});
  Json& ra = Annotations(rs);
  if (da.is_object()) {
    for (auto it = da.begin(); it != da.end(); ++it) {
      if (SkipCopyAnnotation(it.key())) continue;
      if (ra.contains(it.key()) && ra[it.key()] == it.value()) continue;
      ra[it.key()] = it.value();
      changed = true;
    }
  }
  bool had = ra.contains(kRevisionAnnotation);
  std::string old_revision = ra.value(kRevisionAnnotation, "");
  bool ok = false;
  int64_t old_int = ParseInt64(old_revision, &ok);
  if (!ok) {
    if (!old_revision.empty()) return false;
    old_int = 0;
  }
  int64_t new_int = ParseInt64(new_revision, &ok);
  if (!ok) return false;
  if (old_int < new_int) {
    ra[kRevisionAnnotation] = new_revision;
    changed = true;
  }
  if (had && old_int < new_int) {
    std::string hist = ra.value(kRevisionHistoryAnnotation, "");
    if (hist.empty()) {
      ra[kRevisionHistoryAnnotation] = old_revision;
    } else {
      std::vector<std::string> parts;
      size_t start = 0;
      while (true) {
        size_t pos = hist.find(',', start);
        parts.push_back(hist.substr(start, pos == std::string::npos ? pos : pos - start));
        if (pos == std::string::npos) break;
        start = pos + 1;
      }
      size_t total = hist.size() + old_revision.size() + 1;
      size_t first = 0;
      while (total > kRevisionHistoryLimitChars && first < parts.size()) {
        total -= parts[first].size() + 1;
        first++;
      }
      if (total <= kRevisionHistoryLimitChars) {
        std::string out;
        for (size_t i = first; i < parts.size(); ++i) out += parts[i] + ",";
        out += old_revision;
        ra[kRevisionHistoryAnnotation] = out;
      }
    }
  }
  if (!exists && SetReplicasAnnotations(rs, Replicas(d), Replicas(d) + MaxSurge(d))) {
    changed = true;
  }
  return changed;
}

bool DeploymentComplete(const Json& d, const Json& status) {
  int64_t r = Replicas(d);
  return Int(status, {"updatedReplicas"}) == r && Int(status, {"replicas"}) == r &&
         Int(status, {"availableReplicas"}) == r &&
         Int(status, {"observedGeneration"}) >= Int(d, {"metadata", "generation"});
}

bool DeploymentProgressing(const Json& d, const Json& ns) {
  const Json& os = At(d, {"status"});
  int64_t old_old = Int(os, {"replicas"}) - Int(os, {"updatedReplicas"});
  int64_t new_old = Int(ns, {"replicas"}) - Int(ns, {"updatedReplicas"});
  return Int(ns, {"updatedReplicas"}) > Int(os, {"updatedReplicas"}) || new_old < old_old ||
         Int(ns, {"readyReplicas"}) > Int(os, {"readyReplicas"}) ||
         Int(ns, {"availableReplicas"}) > Int(os, {"availableReplicas"});
}

bool DeploymentTimedOut(const Json& d, const Json& ns, TimePoint now) {
  if (!HasProgressDeadline(d)) return false;
  const Json* cond = FindCondition(ns, "Progressing");
  if (cond == nullptr) return false;
  std::string reason = cond->value("reason", "");
  if (reason == "NewReplicaSetAvailable") return false;
  if (reason == "ProgressDeadlineExceeded") return true;
  auto from = ParseTime(cond->value("lastUpdateTime", "")).value_or(TimePoint{});
  return from + std::chrono::seconds(Int(d, {"spec", "progressDeadlineSeconds"})) < now;
}

}  // namespace

// One sync of one Deployment (upstream's DeploymentController methods that take `d`).
struct DeploymentController::SyncState {
  DeploymentController& c;
  Json d;
  RsList rs_list;
  std::map<std::string, std::vector<ObjectPtr>> pod_map;  // rs uid -> pods
  bool annotations_dirty = false;

  TimePoint Now() const { return c.clock_.Now(); }
  std::string Name() const { return NameOf(d); }
  std::string Ns() const { return NamespaceOf(d); }

  void Event(std::string_view type, std::string_view reason, std::string msg) {
    c.recorder().Event(d, kApiVersion, kKind, type, reason, std::move(msg));
  }

  absl::Status UpdateDeploymentStatus() {
    if (annotations_dirty) {
      // Annotations (the revision) go through the main resource: the /status subresource of
      // some servers (and the fake client) keeps metadata. A metadata-only change does not
      // bump metadata.generation.
      auto m = c.client_.Update(DeploymentsRef(), Ns(), d);
      if (!m.ok()) return m.status();
      Json status = d["status"];
      d = std::move(*m);
      d["status"] = std::move(status);
      annotations_dirty = false;
    }
    auto r = c.client_.UpdateStatus(DeploymentsRef(), Ns(), d);
    if (!r.ok()) return r.status();
    d = std::move(*r);
    return absl::OkStatus();
  }

  // FindNewReplicaSet / FindOldReplicaSets.
  RsPtr FindNew() {
    RsList sorted = rs_list;
    std::sort(sorted.begin(), sorted.end(), ByCreation);
    for (const auto& rs : sorted) {
      if (EqualIgnoreHash(At(*rs, {"spec", "template"}), At(d, {"spec", "template"}))) return rs;
    }
    return nullptr;
  }

  absl::StatusOr<std::pair<RsPtr, RsList>> GetAllReplicaSetsAndSyncRevision(bool create) {
    RsPtr existing = FindNew();
    RsList old;
    for (const auto& rs : rs_list) {
      if (rs != existing) old.push_back(rs);
    }
    KORRAL_ASSIGN_OR_RETURN(RsPtr new_rs, GetNewReplicaSet(existing, old, create));
    return std::make_pair(new_rs, old);
  }

  absl::StatusOr<RsPtr> GetNewReplicaSet(RsPtr existing, const RsList& old, bool create) {
    int64_t max_old = 0;
    for (const auto& rs : old) max_old = std::max(max_old, Revision(*rs));
    std::string new_revision = std::to_string(max_old + 1);
    if (existing) {
      Json copy = *existing;
      bool annotations_updated = SetNewReplicaSetAnnotations(d, copy, new_revision, true);
      bool min_ready_update =
          Int(copy, {"spec", "minReadySeconds"}) != Int(d, {"spec", "minReadySeconds"});
      if (annotations_updated || min_ready_update) {
        copy["spec"]["minReadySeconds"] = Int(d, {"spec", "minReadySeconds"});
        KORRAL_ASSIGN_OR_RETURN(Json updated, c.client_.Update(ReplicaSetsRef(), Ns(), copy));
        *existing = std::move(updated);
      }
      bool needs_update = SetDeploymentRevision(Annotation(*existing, kRevisionAnnotation));
      if (HasProgressDeadline(d) && FindCondition(At(d, {"status"}), "Progressing") == nullptr) {
        SetCondition(
            d["status"],
            NewCondition("Progressing", "True", "FoundNewReplicaSet",
                         fmt::format("Found new replica set \"{}\"", NameOf(*existing)), Now()));
        needs_update = true;
      }
      if (needs_update) KORRAL_RETURN_IF_ERROR(UpdateDeploymentStatus());
      return existing;
    }
    if (!create) return RsPtr();

    Json tmpl = At(d, {"spec", "template"});
    std::optional<int64_t> collision;
    if (Has(d, {"status", "collisionCount"})) collision = Int(d, {"status", "collisionCount"});
    std::string hash = ComputeHash(tmpl, collision);
    tmpl["metadata"]["labels"][kPodTemplateHashLabel] = hash;
    Json selector = At(d, {"spec", "selector"});
    if (!selector.is_object()) selector = Json::object();
    selector["matchLabels"][kPodTemplateHashLabel] = hash;
    Json new_rs = {{"apiVersion", kApiVersion},
                   {"kind", "ReplicaSet"},
                   {"metadata",
                    {{"name", Name() + "-" + hash},
                     {"namespace", Ns()},
                     {"labels", tmpl["metadata"]["labels"]},
                     {"ownerReferences", {NewControllerRef(d, kApiVersion, kKind)}}}},
                   {"spec",
                    {{"replicas", 0},
                     {"minReadySeconds", Int(d, {"spec", "minReadySeconds"})},
                     {"selector", selector},
                     {"template", tmpl}}}};
    RsList all = old;
    auto tmp = std::make_shared<Json>(new_rs);
    all.push_back(tmp);
    int64_t new_replicas = NewRSNewReplicas(all, *tmp);
    new_rs["spec"]["replicas"] = new_replicas;
    SetNewReplicaSetAnnotations(d, new_rs, new_revision, false);

    bool already_exists = false;
    RsPtr created;
    auto r = c.client_.Create(ReplicaSetsRef(), Ns(), new_rs);
    if (r.ok()) {
      created = std::make_shared<Json>(std::move(*r));
    } else if (client::IsAlreadyExists(r.status())) {
      already_exists = true;
      auto cur = c.client_.Get(ReplicaSetsRef(), Ns(), NameOf(new_rs));
      if (!cur.ok()) return cur.status();
      const Json* ref = ControllerRefOf(*cur);
      if (ref != nullptr && (*ref)["uid"] == UidOf(d) &&
          EqualIgnoreHash(At(d, {"spec", "template"}), At(*cur, {"spec", "template"}))) {
        created = std::make_shared<Json>(std::move(*cur));
      } else {
        // A hash collision: bump collisionCount so the next hash differs.
        d["status"]["collisionCount"] = collision.value_or(0) + 1;
        KORRAL_RETURN_IF_ERROR(UpdateDeploymentStatus());
        return r.status();
      }
    } else if (IsNamespaceTerminating(r.status())) {
      return r.status();
    } else {
      std::string msg = fmt::format("Failed to create new replica set \"{}\": {}", NameOf(new_rs),
                                    StatusMessage(r.status()));
      if (HasProgressDeadline(d)) {
        SetCondition(d["status"],
                     NewCondition("Progressing", "False", "ReplicaSetCreateError", msg, Now()));
        (void)UpdateDeploymentStatus();
      }
      Event("Warning", "FailedCreate", msg);
      return r.status();
    }
    rs_list.push_back(created);
    if (!already_exists && new_replicas > 0) {
      Event("Normal", "ScalingReplicaSet",
            fmt::format("Scaled up replica set {} from 0 to {}", NameOf(*created), new_replicas));
    }
    bool needs_update = SetDeploymentRevision(new_revision);
    if (!already_exists && HasProgressDeadline(d)) {
      SetCondition(
          d["status"],
          NewCondition("Progressing", "True", "NewReplicaSetCreated",
                       fmt::format("Created new replica set \"{}\"", NameOf(*created)), Now()));
      needs_update = true;
    }
    if (needs_update) KORRAL_RETURN_IF_ERROR(UpdateDeploymentStatus());
    return created;
  }

  bool SetDeploymentRevision(const std::string& revision) {
    if (Annotation(d, kRevisionAnnotation) == revision) return false;
    Annotations(d)[kRevisionAnnotation] = revision;
    annotations_dirty = true;
    return true;
  }

  int64_t NewRSNewReplicas(const RsList& all, const Json& new_rs) {
    if (!IsRollingUpdate(d)) return Replicas(d);
    int64_t current = SumSpec(all);
    int64_t max_total = Replicas(d) + MaxSurge(d);
    if (current >= max_total) return Replicas(new_rs);
    int64_t up = std::min(max_total - current, Replicas(d) - Replicas(new_rs));
    return Replicas(new_rs) + up;
  }

  // Returns whether the size changed.
  absl::StatusOr<bool> ScaleReplicaSet(const RsPtr& rs, int64_t new_scale,
                                       std::string_view operation) {
    bool size_needs_update = Replicas(*rs) != new_scale;
    bool annotations_need_update =
        ReplicasAnnotationsNeedUpdate(*rs, Replicas(d), Replicas(d) + MaxSurge(d));
    if (!size_needs_update && !annotations_need_update) return false;
    int64_t old_scale = Replicas(*rs);
    Json copy = *rs;
    copy["spec"]["replicas"] = new_scale;
    SetReplicasAnnotations(copy, Replicas(d), Replicas(d) + MaxSurge(d));
    KORRAL_ASSIGN_OR_RETURN(Json updated, c.client_.Update(ReplicaSetsRef(), Ns(), copy));
    *rs = std::move(updated);
    if (size_needs_update) {
      Event("Normal", "ScalingReplicaSet",
            fmt::format("Scaled {} replica set {} from {} to {}", operation, NameOf(*rs), old_scale,
                        new_scale));
    }
    return size_needs_update;
  }

  absl::StatusOr<bool> ScaleAndRecord(const RsPtr& rs, int64_t new_scale) {
    if (Replicas(*rs) == new_scale) return false;
    return ScaleReplicaSet(rs, new_scale, Replicas(*rs) < new_scale ? "up" : "down");
  }

  Json CalculateStatus(const RsList& all, const RsPtr& new_rs) {
    int64_t available = SumStatus(all, "availableReplicas");
    int64_t total = SumSpec(all);
    int64_t unavailable = std::max<int64_t>(total - available, 0);
    Json status = At(d, {"status"}).is_object() ? At(d, {"status"}) : Json::object();
    status["observedGeneration"] = Int(d, {"metadata", "generation"}, 1);
    status["replicas"] = SumStatus(all, "replicas");
    status["updatedReplicas"] = new_rs ? StatusInt(*new_rs, "replicas") : 0;
    status["readyReplicas"] = SumStatus(all, "readyReplicas");
    status["availableReplicas"] = available;
    status["unavailableReplicas"] = unavailable;
    if (available >= Replicas(d) - MaxUnavailable(d)) {
      SetCondition(status, NewCondition("Available", "True", "MinimumReplicasAvailable",
                                        "Deployment has minimum availability.", Now()));
    } else {
      SetCondition(status, NewCondition("Available", "False", "MinimumReplicasUnavailable",
                                        "Deployment does not have minimum availability.", Now()));
    }
    return status;
  }

  absl::Status SyncDeploymentStatus(const RsList& all, const RsPtr& new_rs) {
    Json status = CalculateStatus(all, new_rs);
    if (status == At(d, {"status"})) return absl::OkStatus();
    d["status"] = status;
    return UpdateDeploymentStatus();
  }

  absl::Status SyncRolloutStatus(const RsList& all, const RsPtr& new_rs) {
    Json ns = CalculateStatus(all, new_rs);
    if (!HasProgressDeadline(d)) RemoveCondition(ns, "Progressing");
    const Json* cur = FindCondition(ns, "Progressing");
    Json cur_copy = cur != nullptr ? *cur : Json();
    bool is_complete = Int(ns, {"replicas"}) == Int(ns, {"updatedReplicas"}) && cur != nullptr &&
                       cur_copy.value("reason", "") == "NewReplicaSetAvailable";
    if (HasProgressDeadline(d) && !is_complete) {
      if (DeploymentComplete(d, ns)) {
        std::string msg =
            new_rs ? fmt::format("ReplicaSet \"{}\" has successfully progressed.", NameOf(*new_rs))
                   : "Deployment has successfully progressed.";
        SetCondition(ns, NewCondition("Progressing", "True", "NewReplicaSetAvailable", msg, Now()));
      } else if (DeploymentProgressing(d, ns)) {
        std::string msg = new_rs ? fmt::format("ReplicaSet \"{}\" is progressing.", NameOf(*new_rs))
                                 : "Deployment is progressing.";
        Json cond = NewCondition("Progressing", "True", "ReplicaSetUpdated", msg, Now());
        if (!cur_copy.is_null()) {
          if (cur_copy.value("status", "") == "True") {
            cond["lastTransitionTime"] = cur_copy.value("lastTransitionTime", "");
          }
          RemoveCondition(ns, "Progressing");
        }
        SetCondition(ns, cond);
      } else if (DeploymentTimedOut(d, ns, Now())) {
        std::string msg =
            new_rs ? fmt::format("ReplicaSet \"{}\" has timed out progressing.", NameOf(*new_rs))
                   : fmt::format("Deployment \"{}\" has timed out progressing.", Name());
        SetCondition(ns,
                     NewCondition("Progressing", "False", "ProgressDeadlineExceeded", msg, Now()));
      }
    }
    // ReplicaFailure mirrors the new (or any) ReplicaSet's failure condition.
    const Json* failure = nullptr;
    RsList order = all;
    if (new_rs) order.insert(order.begin(), new_rs);
    for (const auto& rs : order) {
      if (!rs) continue;
      failure = FindCondition(At(*rs, {"status"}), "ReplicaFailure");
      if (failure != nullptr) break;
    }
    if (failure != nullptr) {
      SetCondition(
          ns, NewCondition("ReplicaFailure", failure->value("status", ""),
                           failure->value("reason", ""), failure->value("message", ""), Now()));
    } else {
      RemoveCondition(ns, "ReplicaFailure");
    }
    if (ns.contains("conditions") && ns["conditions"].empty()) ns.erase("conditions");
    if (ns == At(d, {"status"})) {
      RequeueStuck(ns);
      return absl::OkStatus();
    }
    d["status"] = ns;
    return UpdateDeploymentStatus();
  }

  void RequeueStuck(const Json& ns) {
    const Json* cur = FindCondition(ns, "Progressing");
    if (!HasProgressDeadline(d) || cur == nullptr) return;
    if (DeploymentComplete(d, ns) || cur->value("reason", "") == "ProgressDeadlineExceeded") return;
    auto last = ParseTime(cur->value("lastUpdateTime", "")).value_or(TimePoint{});
    auto after = last + std::chrono::seconds(Int(d, {"spec", "progressDeadlineSeconds"})) - Now();
    if (after < std::chrono::seconds(1)) {
      c.queue().AddRateLimited(KeyOf(d));
      return;
    }
    c.EnqueueAfter(KeyOf(d), after + std::chrono::seconds(1));
  }

  absl::Status CleanupDeployment(const RsList& old) {
    const Json& limit_v = At(d, {"spec", "revisionHistoryLimit"});
    if (!limit_v.is_number_integer()) return absl::OkStatus();
    int64_t limit = limit_v.get<int64_t>();
    RsList cleanable;
    for (const auto& rs : old) {
      if (rs && !IsBeingDeleted(*rs)) cleanable.push_back(rs);
    }
    int64_t diff = static_cast<int64_t>(cleanable.size()) - limit;
    if (diff <= 0) return absl::OkStatus();
    std::sort(cleanable.begin(), cleanable.end(), [](const RsPtr& a, const RsPtr& b) {
      if (Revision(*a) == Revision(*b)) return ByCreation(a, b);
      return Revision(*a) < Revision(*b);
    });
    for (int64_t i = 0; i < diff; ++i) {
      const Json& rs = *cleanable[i];
      if (StatusInt(rs, "replicas") != 0 || Replicas(rs) != 0 ||
          Int(rs, {"metadata", "generation"}) > StatusInt(rs, "observedGeneration") ||
          IsBeingDeleted(rs)) {
        continue;
      }
      auto r = c.client_.Delete(ReplicaSetsRef(), Ns(), NameOf(rs));
      if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
    }
    return absl::OkStatus();
  }

  bool IsSaturated(const RsPtr& rs) {
    if (!rs) return false;
    bool ok = false;
    int64_t desired = ParseInt64(Annotation(*rs, kDesiredReplicasAnnotation), &ok);
    if (!ok) return false;
    return Replicas(*rs) == Replicas(d) && desired == Replicas(d) &&
           StatusInt(*rs, "availableReplicas") == Replicas(d);
  }

  int64_t ReplicaSetFraction(const Json& rs) {
    if (Replicas(d) == 0) return -Replicas(rs);
    int64_t deployment_replicas = Replicas(d) + MaxSurge(d);
    bool ok = false;
    int64_t annotated = ParseInt64(Annotation(rs, kMaxReplicasAnnotation), &ok);
    if (!ok) annotated = StatusInt(d, "replicas");
    if (annotated == 0) return 0;
    double size =
        static_cast<double>(Replicas(rs) * deployment_replicas) / static_cast<double>(annotated);
    return static_cast<int64_t>(std::round(size)) - Replicas(rs);
  }

  int64_t Proportion(const RsPtr& rs, int64_t to_add, int64_t added) {
    if (!rs || Replicas(*rs) == 0 || to_add == 0 || to_add == added) return 0;
    int64_t fraction = ReplicaSetFraction(*rs);
    int64_t allowed = to_add - added;
    return to_add > 0 ? std::min(fraction, allowed) : std::max(fraction, allowed);
  }

  // Upstream scale(): proportional scaling of every active ReplicaSet.
  absl::Status Scale(const RsPtr& new_rs, RsList old) {
    // FindActiveOrLatest.
    if (new_rs || !old.empty()) {
      RsList sorted = old;
      std::sort(sorted.begin(), sorted.end(),
                [](const RsPtr& a, const RsPtr& b) { return ByCreation(b, a); });
      RsList with_new = sorted;
      with_new.push_back(new_rs);
      RsList active = FilterActive(with_new);
      RsPtr active_or_latest;
      if (active.empty()) {
        active_or_latest = new_rs ? new_rs : sorted[0];
      } else if (active.size() == 1) {
        active_or_latest = active[0];
      }
      if (active_or_latest) {
        if (Replicas(*active_or_latest) == Replicas(d)) return absl::OkStatus();
        return ScaleAndRecord(active_or_latest, Replicas(d)).status();
      }
    }
    if (IsSaturated(new_rs)) {
      for (const auto& rs : FilterActive(old)) {
        KORRAL_RETURN_IF_ERROR(ScaleAndRecord(rs, 0).status());
      }
      return absl::OkStatus();
    }
    if (IsRollingUpdate(d)) {
      RsList all = old;
      all.push_back(new_rs);
      all = FilterActive(all);
      int64_t all_replicas = SumSpec(all);
      int64_t allowed = Replicas(d) > 0 ? Replicas(d) + MaxSurge(d) : 0;
      int64_t to_add = allowed - all_replicas;
      std::string op;
      if (to_add > 0) {
        std::sort(all.begin(), all.end(), [](const RsPtr& a, const RsPtr& b) {
          if (Replicas(*a) == Replicas(*b)) return ByCreation(b, a);  // newer first
          return Replicas(*a) > Replicas(*b);
        });
        op = "up";
      } else if (to_add < 0) {
        std::sort(all.begin(), all.end(), [](const RsPtr& a, const RsPtr& b) {
          if (Replicas(*a) == Replicas(*b)) return ByCreation(a, b);  // older first
          return Replicas(*a) > Replicas(*b);
        });
        op = "down";
      }
      std::map<std::string, int64_t> size;
      int64_t added = 0;
      for (const auto& rs : all) {
        if (to_add != 0) {
          int64_t p = Proportion(rs, to_add, added);
          size[NameOf(*rs)] = Replicas(*rs) + p;
          added += p;
        } else {
          size[NameOf(*rs)] = Replicas(*rs);
        }
      }
      if (!all.empty() && to_add != 0) {
        int64_t leftover = to_add - added;
        int64_t& first = size[NameOf(*all[0])];
        first += leftover;
        if (first < 0) first = 0;
      }
      for (const auto& rs : all) {
        KORRAL_RETURN_IF_ERROR(ScaleReplicaSet(rs, size[NameOf(*rs)], op).status());
      }
    }
    return absl::OkStatus();
  }

  // sync(): scaling and paused deployments.
  absl::Status SyncScaleOnly() {
    KORRAL_ASSIGN_OR_RETURN(auto nr, GetAllReplicaSetsAndSyncRevision(false));
    auto [new_rs, old] = nr;
    KORRAL_RETURN_IF_ERROR(Scale(new_rs, old));
    if (Bool(d, {"spec", "paused"})) KORRAL_RETURN_IF_ERROR(CleanupDeployment(old));
    RsList all = old;
    all.push_back(new_rs);
    return SyncDeploymentStatus(all, new_rs);
  }

  bool IsScalingEvent() {
    auto nr = GetAllReplicaSetsAndSyncRevision(false);
    if (!nr.ok()) return false;
    RsList all = nr->second;
    all.push_back(nr->first);
    for (const auto& rs : FilterActive(all)) {
      bool ok = false;
      int64_t desired = ParseInt64(Annotation(*rs, kDesiredReplicasAnnotation), &ok);
      if (!ok) continue;
      if (desired != Replicas(d)) return true;
    }
    return false;
  }

  absl::Status RolloutRolling() {
    KORRAL_ASSIGN_OR_RETURN(auto nr, GetAllReplicaSetsAndSyncRevision(true));
    auto [new_rs, old] = nr;
    RsList all = old;
    all.push_back(new_rs);
    // reconcileNewReplicaSet.
    bool scaled_up = false;
    if (Replicas(*new_rs) != Replicas(d)) {
      if (Replicas(*new_rs) > Replicas(d)) {
        KORRAL_ASSIGN_OR_RETURN(scaled_up, ScaleAndRecord(new_rs, Replicas(d)));
      } else {
        KORRAL_ASSIGN_OR_RETURN(scaled_up, ScaleAndRecord(new_rs, NewRSNewReplicas(all, *new_rs)));
      }
    }
    if (scaled_up) return SyncRolloutStatus(all, new_rs);
    KORRAL_ASSIGN_OR_RETURN(bool scaled_down, ReconcileOld(all, FilterActive(old), new_rs));
    if (scaled_down) return SyncRolloutStatus(all, new_rs);
    if (DeploymentComplete(d, At(d, {"status"}))) KORRAL_RETURN_IF_ERROR(CleanupDeployment(old));
    return SyncRolloutStatus(all, new_rs);
  }

  absl::StatusOr<bool> ReconcileOld(RsList all, RsList old, const RsPtr& new_rs) {
    int64_t old_count = SumSpec(old);
    if (old_count == 0) return false;
    int64_t all_count = SumSpec(all);
    int64_t max_unavailable = MaxUnavailable(d);
    int64_t min_available = Replicas(d) - max_unavailable;
    int64_t new_unavailable = Replicas(*new_rs) - StatusInt(*new_rs, "availableReplicas");
    int64_t max_scaled_down = all_count - min_available - new_unavailable;
    if (max_scaled_down <= 0) return false;
    // cleanupUnhealthyReplicas.
    std::sort(old.begin(), old.end(), ByCreation);
    int64_t cleaned = 0;
    for (const auto& rs : old) {
      if (cleaned >= max_scaled_down) break;
      if (Replicas(*rs) == 0) continue;
      if (Replicas(*rs) == StatusInt(*rs, "availableReplicas")) continue;
      int64_t n =
          std::min(max_scaled_down - cleaned, Replicas(*rs) - StatusInt(*rs, "availableReplicas"));
      int64_t new_count = Replicas(*rs) - n;
      if (new_count > Replicas(*rs)) {
        return absl::InternalError("when cleaning up unhealthy replicas, got invalid request");
      }
      KORRAL_RETURN_IF_ERROR(ScaleAndRecord(rs, new_count).status());
      cleaned += n;
    }
    // scaleDownOldReplicaSetsForRollingUpdate.
    RsList all2 = old;
    all2.push_back(new_rs);
    int64_t available = SumStatus(all2, "availableReplicas");
    int64_t scaled = 0;
    if (available > min_available) {
      int64_t total_to_scale = available - min_available;
      for (const auto& rs : old) {
        if (scaled >= total_to_scale) break;
        if (Replicas(*rs) == 0) continue;
        int64_t n = std::min(Replicas(*rs), total_to_scale - scaled);
        int64_t new_count = Replicas(*rs) - n;
        KORRAL_RETURN_IF_ERROR(ScaleAndRecord(rs, new_count).status());
        scaled += n;
      }
    }
    return cleaned + scaled > 0;
  }

  absl::Status RolloutRecreate() {
    KORRAL_ASSIGN_OR_RETURN(auto nr, GetAllReplicaSetsAndSyncRevision(false));
    auto [new_rs, old] = nr;
    RsList all = old;
    all.push_back(new_rs);
    bool scaled_down = false;
    for (const auto& rs : FilterActive(old)) {
      KORRAL_ASSIGN_OR_RETURN(bool s, ScaleAndRecord(rs, 0));
      scaled_down = scaled_down || s;
    }
    if (scaled_down) return SyncRolloutStatus(all, new_rs);
    // oldPodsRunning.
    bool old_running = SumStatus(old, "replicas") > 0;
    for (const auto& [uid, pods] : pod_map) {
      if (old_running) break;
      if (new_rs && UidOf(*new_rs) == uid) continue;
      for (const ObjectPtr& p : pods) {
        std::string phase = PodPhase(*p);
        if (phase == "Failed" || phase == "Succeeded") continue;
        old_running = true;
        break;
      }
    }
    if (old_running) return SyncRolloutStatus(all, new_rs);
    if (!new_rs) {
      KORRAL_ASSIGN_OR_RETURN(auto nr2, GetAllReplicaSetsAndSyncRevision(true));
      new_rs = nr2.first;
      old = nr2.second;
      all = old;
      all.push_back(new_rs);
    }
    KORRAL_RETURN_IF_ERROR(ScaleAndRecord(new_rs, Replicas(d)).status());
    if (DeploymentComplete(d, At(d, {"status"}))) KORRAL_RETURN_IF_ERROR(CleanupDeployment(old));
    return SyncRolloutStatus(all, new_rs);
  }

  absl::Status CheckPausedConditions() {
    if (!HasProgressDeadline(d)) return absl::OkStatus();
    const Json* cond = FindCondition(At(d, {"status"}), "Progressing");
    if (cond != nullptr && cond->value("reason", "") == "ProgressDeadlineExceeded") {
      return absl::OkStatus();
    }
    bool paused_cond = cond != nullptr && cond->value("reason", "") == "DeploymentPaused";
    bool paused = Bool(d, {"spec", "paused"});
    if (paused && !paused_cond) {
      SetCondition(d["status"], NewCondition("Progressing", "Unknown", "DeploymentPaused",
                                             "Deployment is paused", Now()));
    } else if (!paused && paused_cond) {
      SetCondition(d["status"], NewCondition("Progressing", "Unknown", "DeploymentResumed",
                                             "Deployment is resumed", Now()));
    } else {
      return absl::OkStatus();
    }
    return UpdateDeploymentStatus();
  }
};

DeploymentController::DeploymentController(ControllerContext& ctx)
    : QueueController("deployment-controller", "deployment-controller", ctx),
      d_informer_(ctx.informers->For(DeploymentsRef())),
      rs_informer_(ctx.informers->For(ReplicaSetsRef())),
      pod_informer_(ctx.informers->For(PodsRef())) {
  EnsureIndex(rs_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  EnsureIndex(pod_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  d_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& d) { Enqueue(KeyOf(*d)); },
      .on_update = [this](const ObjectPtr&, const ObjectPtr& d) { Enqueue(KeyOf(*d)); },
      .on_delete = [this](const ObjectPtr& d, bool) { Enqueue(KeyOf(*d)); },
  });
  rs_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& rs) { OnRsAdd(rs); },
      .on_update = [this](const ObjectPtr& o, const ObjectPtr& n) { OnRsUpdate(o, n); },
      .on_delete = [this](const ObjectPtr& rs, bool) { OnRsDelete(rs); },
  });
  pod_informer_->AddEventHandler({
      .on_delete = [this](const ObjectPtr& p, bool) { OnPodDelete(p); },
  });
}

DeploymentController::~DeploymentController() { Stop(); }

std::string DeploymentController::ResolveControllerRef(const std::string& ns, const Json& ref) {
  if (ref.value("kind", "") != kKind) return "";
  std::string key = ns + "/" + ref.value("name", "");
  ObjectPtr d = d_informer_->indexer().Get(key);
  if (!d || UidOf(*d) != ref.value("uid", "")) return "";
  return key;
}

void DeploymentController::EnqueueDeploymentsMatching(const Json& rs) {
  if (!LabelsOf(rs).is_object() || LabelsOf(rs).empty()) return;
  for (const ObjectPtr& d : d_informer_->indexer().ListNamespace(NamespaceOf(rs))) {
    auto sel = SelectorFromJson(At(*d, {"spec", "selector"}));
    if (!sel.ok() || sel->Empty()) continue;
    if (sel->Matches(LabelsOf(rs))) Enqueue(KeyOf(*d));
  }
}

void DeploymentController::OnRsAdd(const ObjectPtr& rs) {
  if (IsBeingDeleted(*rs)) {
    OnRsDelete(rs);
    return;
  }
  if (const Json* ref = ControllerRefOf(*rs)) {
    std::string key = ResolveControllerRef(NamespaceOf(*rs), *ref);
    if (!key.empty()) Enqueue(key);
    return;
  }
  EnqueueDeploymentsMatching(*rs);
}

void DeploymentController::OnRsUpdate(const ObjectPtr& old_rs, const ObjectPtr& new_rs) {
  if (client::ResourceVersionOf(*old_rs) == client::ResourceVersionOf(*new_rs)) return;
  const Json* cur_ref = ControllerRefOf(*new_rs);
  const Json* old_ref = ControllerRefOf(*old_rs);
  bool ref_changed =
      (cur_ref == nullptr) != (old_ref == nullptr) || (cur_ref != nullptr && *cur_ref != *old_ref);
  if (ref_changed && old_ref != nullptr) {
    std::string key = ResolveControllerRef(NamespaceOf(*old_rs), *old_ref);
    if (!key.empty()) Enqueue(key);
  }
  if (cur_ref != nullptr) {
    std::string key = ResolveControllerRef(NamespaceOf(*new_rs), *cur_ref);
    if (!key.empty()) Enqueue(key);
    return;
  }
  if (LabelsOf(*old_rs) != LabelsOf(*new_rs) || ref_changed) EnqueueDeploymentsMatching(*new_rs);
}

void DeploymentController::OnRsDelete(const ObjectPtr& rs) {
  const Json* ref = ControllerRefOf(*rs);
  if (ref == nullptr) return;
  std::string key = ResolveControllerRef(NamespaceOf(*rs), *ref);
  if (!key.empty()) Enqueue(key);
}

void DeploymentController::OnPodDelete(const ObjectPtr& pod) {
  // Recreate deployments wait for old pods to be gone.
  const Json* ref = ControllerRefOf(*pod);
  if (ref == nullptr || ref->value("kind", "") != "ReplicaSet") return;
  ObjectPtr rs = rs_informer_->indexer().Get(NamespaceOf(*pod) + "/" + ref->value("name", ""));
  if (!rs || UidOf(*rs) != ref->value("uid", "")) return;
  const Json* dref = ControllerRefOf(*rs);
  if (dref == nullptr) return;
  std::string key = ResolveControllerRef(NamespaceOf(*rs), *dref);
  if (key.empty()) return;
  ObjectPtr d = d_informer_->indexer().Get(key);
  if (d && Str(*d, {"spec", "strategy", "type"}) == "Recreate") Enqueue(key);
}

absl::Status DeploymentController::Sync(const std::string& key) {
  ObjectPtr cached = d_informer_->indexer().Get(key);
  if (!cached) return absl::OkStatus();
  SyncState st{*this, *cached, {}, {}, false};
  Json& d = st.d;
  if (!d["status"].is_object()) d["status"] = Json::object();
  const Json& sel_json = At(d, {"spec", "selector"});
  if (sel_json.is_object() && sel_json.empty()) {
    st.Event("Warning", "SelectingAll",
             "This deployment is selecting all pods. A non-empty selector is required.");
    if (Int(d, {"status", "observedGeneration"}) < Int(d, {"metadata", "generation"})) {
      d["status"]["observedGeneration"] = Int(d, {"metadata", "generation"});
      (void)st.UpdateDeploymentStatus();
    }
    return absl::OkStatus();
  }
  auto selector = SelectorFromJson(sel_json);
  if (!selector.ok()) return absl::OkStatus();

  // getReplicaSetsForDeployment: claim by selector.
  std::vector<ObjectPtr> candidates = rs_informer_->indexer().ListNamespace(NamespaceOf(d));
  ClaimSpec claim{.owner = &d,
                  .owner_api_version = kApiVersion,
                  .owner_kind = kKind,
                  .selector = *selector,
                  .child_ref = ReplicaSetsRef(),
                  .can_adopt = RecheckOwner(client_, DeploymentsRef(), d)};
  absl::Status claim_err;
  for (const ObjectPtr& rs : ClaimObjects(client_, claim, candidates, &claim_err)) {
    st.rs_list.push_back(std::make_shared<Json>(*rs));
  }
  if (!claim_err.ok()) return claim_err;
  // getPodMapForDeployment (only the Recreate strategy reads it; the pod cache is packed, so
  // reading every pod of every ReplicaSet on each sync would cost a decode each).
  for (const auto& rs : st.rs_list) {
    if (Str(d, {"spec", "strategy", "type"}) != "Recreate") break;
    auto& v = st.pod_map[UidOf(*rs)];
    for (const ObjectPtr& p : pod_informer_->indexer().ByIndex(kControllerUidIndex, UidOf(*rs))) {
      if (NamespaceOf(*p) == NamespaceOf(d)) v.push_back(p);
    }
  }

  if (IsBeingDeleted(d)) {
    KORRAL_ASSIGN_OR_RETURN(auto nr, st.GetAllReplicaSetsAndSyncRevision(false));
    RsList all = nr.second;
    all.push_back(nr.first);
    return st.SyncDeploymentStatus(all, nr.first);
  }
  KORRAL_RETURN_IF_ERROR(st.CheckPausedConditions());
  if (Bool(d, {"spec", "paused"})) return st.SyncScaleOnly();
  if (st.IsScalingEvent()) return st.SyncScaleOnly();
  if (Str(d, {"spec", "strategy", "type"}) == "Recreate") return st.RolloutRecreate();
  return st.RolloutRolling();
}

}  // namespace workload

ControllerDescriptor DeploymentControllerDescriptor() {
  return ControllerDescriptor{
      .name = "deployment-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::DeploymentController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"deployment"},
  };
}

}  // namespace korral::controllers
