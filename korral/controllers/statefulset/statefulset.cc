// korral/controllers/statefulset/statefulset.cc
#include "korral/controllers/statefulset/statefulset.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/workload_util/history.h"

namespace korral::controllers {
namespace workload {

namespace {

constexpr char kApiVersion[] = "apps/v1";
constexpr char kKind[] = "StatefulSet";
constexpr char kPodNameLabel[] = "statefulset.kubernetes.io/pod-name";
constexpr char kPodIndexLabel[] = "apps.kubernetes.io/pod-index";

// The ordinal of `pod` if it is named <set>-<n>, else -1.
int64_t OrdinalOf(const std::string& set_name, const Json& pod) {
  std::string name = NameOf(pod);
  if (name.size() <= set_name.size() + 1 || name.compare(0, set_name.size(), set_name) != 0 ||
      name[set_name.size()] != '-') {
    return -1;
  }
  std::string rest = name.substr(set_name.size() + 1);
  if (rest.empty() || rest.find_first_not_of("0123456789") != std::string::npos) return -1;
  try {
    return std::stoll(rest);
  } catch (...) {
    return -1;
  }
}

std::string Revision(const Json& pod) {
  return Str(pod, {"metadata", "labels", kControllerRevisionHashLabel});
}

bool RunningAndReady(const Json& pod) { return PodPhase(pod) == "Running" && IsPodReady(pod); }

// The set's template as of revision `rev` (ApplyRevision).
Json TemplateOf(const Json& set, const Json& rev) {
  const Json& t = At(rev, {"data", "spec", "template"});
  if (!t.is_object()) return At(set, {"spec", "template"});
  Json out = t;
  out.erase("$patch");
  return out;
}

}  // namespace

StatefulSetController::StatefulSetController(ControllerContext& ctx)
    : QueueController("statefulset-controller", "statefulset-controller", ctx),
      sts_informer_(ctx.informers->For(StatefulSetsRef())),
      pod_informer_(ctx.informers->For(PodsRef())),
      rev_informer_(ctx.informers->For(ControllerRevisionsRef())),
      pvc_informer_(ctx.informers->For(PvcsRef())) {
  sts_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& s) { Enqueue(KeyOf(*s)); },
      .on_update = [this](const ObjectPtr&, const ObjectPtr& s) { Enqueue(KeyOf(*s)); },
      .on_delete = [this](const ObjectPtr& s, bool) { Enqueue(KeyOf(*s)); },
  });
  pod_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& p) { OnPod(p); },
      .on_update =
          [this](const ObjectPtr& o, const ObjectPtr& n) {
            if (client::ResourceVersionOf(*o) != client::ResourceVersionOf(*n)) OnPod(n);
          },
      .on_delete = [this](const ObjectPtr& p, bool) { OnPod(p); },
  });
}

StatefulSetController::~StatefulSetController() { Stop(); }

void StatefulSetController::OnPod(const ObjectPtr& pod) {
  const Json* ref = ControllerRefOf(*pod);
  if (ref != nullptr) {
    if (ref->value("kind", "") == kKind) {
      Enqueue(NamespaceOf(*pod) + "/" + ref->value("name", ""));
    }
    return;
  }
  for (const ObjectPtr& s : sts_informer_->indexer().ListNamespace(NamespaceOf(*pod))) {
    auto sel = SelectorFromJson(At(*s, {"spec", "selector"}));
    if (sel.ok() && !sel->Empty() && sel->Matches(LabelsOf(*pod))) Enqueue(KeyOf(*s));
  }
}

absl::Status StatefulSetController::Sync(const std::string& key) {
  ObjectPtr cached = sts_informer_->indexer().Get(key);
  if (!cached) return absl::OkStatus();
  Json set = *cached;
  if (!set["status"].is_object()) set["status"] = Json::object();
  const std::string ns = NamespaceOf(set), name = NameOf(set);
  auto event = [&](std::string_view type, std::string_view reason, std::string msg) {
    recorder().Event(set, kApiVersion, kKind, type, reason, std::move(msg));
  };
  auto selector = SelectorFromJson(At(set, {"spec", "selector"}));
  if (!selector.ok()) return absl::OkStatus();

  // Pods (claimed).
  ClaimSpec claim{.owner = &set,
                  .owner_api_version = kApiVersion,
                  .owner_kind = kKind,
                  .selector = *selector,
                  .child_ref = PodsRef(),
                  .can_adopt = RecheckOwner(client_, StatefulSetsRef(), set)};
  absl::Status claim_err;
  std::vector<ObjectPtr> pods =
      ClaimObjects(client_, claim, pod_informer_->indexer().ListNamespace(ns), &claim_err);
  if (!claim_err.ok()) return claim_err;

  // Revisions.
  int64_t collision = Int(set, {"status", "collisionCount"});
  auto history = ConstructHistory(client_, rev_informer_, set, kKind, *selector, &collision);
  if (!history.ok()) {
    if (collision != Int(set, {"status", "collisionCount"})) {
      set["status"]["collisionCount"] = collision;
      (void)client_.UpdateStatus(StatefulSetsRef(), ns, set);
    }
    return history.status();
  }
  const Json update_rev = history->current;
  Json current_rev = update_rev;
  std::string status_current = Str(set, {"status", "currentRevision"});
  for (const Json& r : history->revisions) {
    if (NameOf(r) == status_current) current_rev = r;
  }
  const std::string update_name = NameOf(update_rev);
  const std::string current_name = NameOf(current_rev);
  const std::string update_hash =
      Str(update_rev, {"metadata", "labels", kControllerRevisionHashLabel});
  const std::string current_hash =
      Str(current_rev, {"metadata", "labels", kControllerRevisionHashLabel});

  const int64_t replicas = Int(set, {"spec", "replicas"}, 1);
  const int64_t start = Int(set, {"spec", "ordinals", "start"}, 0);
  const bool parallel = Str(set, {"spec", "podManagementPolicy"}) == "Parallel";
  const bool monotonic = !parallel;
  const std::string strategy = Str(set, {"spec", "updateStrategy", "type"}, "RollingUpdate");
  const int64_t partition = Int(set, {"spec", "updateStrategy", "rollingUpdate", "partition"}, 0);
  const int64_t min_ready = Int(set, {"spec", "minReadySeconds"});
  const auto now = clock_.Now();

  std::vector<std::optional<Json>> slots(replicas);
  std::vector<Json> condemned;
  for (const ObjectPtr& p : pods) {
    int64_t ord = OrdinalOf(name, *p);
    if (ord < 0) continue;
    if (ord >= start && ord < start + replicas) {
      slots[ord - start] = *p;
    } else {
      condemned.push_back(*p);
    }
  }
  std::sort(condemned.begin(), condemned.end(),
            [&](const Json& a, const Json& b) { return OrdinalOf(name, a) > OrdinalOf(name, b); });

  auto new_pod = [&](int64_t ordinal) {
    bool use_current = strategy == "RollingUpdate" && ordinal < start + partition;
    const Json& rev = use_current ? current_rev : update_rev;
    const std::string& hash = use_current ? current_hash : update_hash;
    Json tmpl = TemplateOf(set, rev);
    std::string pod_name = fmt::format("{}-{}", name, ordinal);
    Json& labels_json = tmpl["metadata"]["labels"];
    if (!labels_json.is_object()) labels_json = Json::object();
    labels_json[kPodNameLabel] = pod_name;
    labels_json[kPodIndexLabel] = std::to_string(ordinal);
    labels_json[kControllerRevisionHashLabel] = hash;
    Json pod = PodFromTemplate(tmpl, set, NewControllerRef(set, kApiVersion, kKind));
    pod["metadata"].erase("generateName");
    pod["metadata"]["name"] = pod_name;
    pod["metadata"]["namespace"] = ns;
    pod["spec"]["hostname"] = pod_name;
    if (!Str(set, {"spec", "serviceName"}).empty()) {
      pod["spec"]["subdomain"] = Str(set, {"spec", "serviceName"});
    }
    const Json& claims = At(set, {"spec", "volumeClaimTemplates"});
    if (claims.is_array() && !claims.empty()) {
      Json vols = Json::array();
      std::set<std::string> claim_names;
      for (const Json& c : claims) {
        std::string cname = Str(c, {"metadata", "name"});
        claim_names.insert(cname);
        vols.push_back(
            {{"name", cname}, {"persistentVolumeClaim", {{"claimName", cname + "-" + pod_name}}}});
      }
      const Json& existing = At(pod, {"spec", "volumes"});
      if (existing.is_array()) {
        for (const Json& v : existing) {
          if (!claim_names.count(v.value("name", ""))) vols.push_back(v);
        }
      }
      pod["spec"]["volumes"] = vols;
    }
    return pod;
  };

  auto create_claims = [&](const Json& pod) -> absl::Status {
    const Json& claims = At(set, {"spec", "volumeClaimTemplates"});
    if (!claims.is_array()) return absl::OkStatus();
    for (const Json& c : claims) {
      std::string claim_name = Str(c, {"metadata", "name"}) + "-" + NameOf(pod);
      if (pvc_informer_->indexer().Get(ns + "/" + claim_name)) continue;
      Json pvc = {{"apiVersion", "v1"}, {"kind", "PersistentVolumeClaim"}};
      Json meta = {{"name", claim_name}, {"namespace", ns}};
      Json labels_json =
          At(c, {"metadata", "labels"}).is_object() ? c["metadata"]["labels"] : Json::object();
      const Json& ml = At(set, {"spec", "selector", "matchLabels"});
      if (ml.is_object()) {
        for (auto it = ml.begin(); it != ml.end(); ++it) labels_json[it.key()] = it.value();
      }
      meta["labels"] = labels_json;
      if (At(c, {"metadata", "annotations"}).is_object()) {
        meta["annotations"] = c["metadata"]["annotations"];
      }
      if (Str(set, {"spec", "persistentVolumeClaimRetentionPolicy", "whenDeleted"}) == "Delete") {
        Json ref = NewControllerRef(set, kApiVersion, kKind);
        ref["controller"] = false;
        meta["ownerReferences"] = Json::array({ref});
      }
      // TODO(korral): persistentVolumeClaimRetentionPolicy.whenScaled=Delete (pod-owned claims).
      pvc["metadata"] = meta;
      pvc["spec"] = At(c, {"spec"}).is_object() ? c["spec"] : Json::object();
      auto r = client_.Create(PvcsRef(), ns, pvc);
      if (!r.ok() && !client::IsAlreadyExists(r.status())) {
        event("Warning", "FailedCreate",
              fmt::format("create Claim {} for Pod {} in StatefulSet {} failed error: {}",
                          claim_name, NameOf(pod), name, StatusMessage(r.status())));
        return r.status();
      }
      if (r.ok()) {
        event("Normal", "SuccessfulCreate",
              fmt::format("create Claim {} Pod {} in StatefulSet {} success", claim_name,
                          NameOf(pod), name));
      }
    }
    return absl::OkStatus();
  };

  auto create_pod = [&](Json pod) -> absl::StatusOr<Json> {
    KORRAL_RETURN_IF_ERROR(create_claims(pod));
    auto r = client_.Create(PodsRef(), ns, pod);
    if (!r.ok()) {
      if (client::IsAlreadyExists(r.status())) return client_.Get(PodsRef(), ns, NameOf(pod));
      event("Warning", "FailedCreate",
            fmt::format("create Pod {} in StatefulSet {} failed error: {}", NameOf(pod), name,
                        StatusMessage(r.status())));
      return r.status();
    }
    event("Normal", "SuccessfulCreate",
          fmt::format("create Pod {} in StatefulSet {} successful", NameOf(pod), name));
    return r;
  };
  auto delete_pod = [&](const Json& pod) -> absl::Status {
    auto r = client_.Delete(PodsRef(), ns, NameOf(pod));
    if (!r.ok() && !client::IsNotFound(r.status())) {
      event("Warning", "FailedDelete",
            fmt::format("delete Pod {} in StatefulSet {} failed error: {}", NameOf(pod), name,
                        StatusMessage(r.status())));
      return r.status();
    }
    event("Normal", "SuccessfulDelete",
          fmt::format("delete Pod {} in StatefulSet {} successful", NameOf(pod), name));
    return absl::OkStatus();
  };

  // updateStatefulSet: returns when a monotonic step has to wait.
  auto update = [&]() -> absl::Status {
    if (IsBeingDeleted(set)) return absl::OkStatus();
    for (int64_t i = 0; i < replicas; ++i) {
      auto& slot = slots[i];
      if (slot && IsPodTerminal(*slot) && !IsBeingDeleted(*slot)) {
        event(
            "Warning", "RecreatingFailedPod",
            fmt::format("StatefulSet {}/{} is recreating failed Pod {}", ns, name, NameOf(*slot)));
        KORRAL_RETURN_IF_ERROR(delete_pod(*slot));
        slot.reset();
      }
      if (!slot) {
        KORRAL_ASSIGN_OR_RETURN(Json created, create_pod(new_pod(start + i)));
        slot = created;
        if (monotonic) return absl::OkStatus();
        continue;
      }
      if (IsBeingDeleted(*slot)) {
        if (monotonic) return absl::OkStatus();
        continue;
      }
      if (!RunningAndReady(*slot) || !IsPodAvailable(*slot, min_ready, now)) {
        if (monotonic) {
          if (min_ready > 0 && RunningAndReady(*slot)) {
            EnqueueAfter(key, std::chrono::seconds(min_ready));
          }
          return absl::OkStatus();
        }
        continue;
      }
      KORRAL_RETURN_IF_ERROR(create_claims(*slot));
    }
    // Scale down, highest ordinal first.
    for (const Json& target : condemned) {
      if (IsBeingDeleted(target)) {
        if (monotonic) return absl::OkStatus();
        continue;
      }
      KORRAL_RETURN_IF_ERROR(delete_pod(target));
      if (monotonic) return absl::OkStatus();
    }
    // Rolling update from the highest ordinal down to the partition.
    if (strategy == "RollingUpdate") {
      for (int64_t i = replicas - 1; i >= std::max<int64_t>(partition, 0); --i) {
        auto& slot = slots[i];
        if (!slot) return absl::OkStatus();
        if (Revision(*slot) != update_hash && !IsBeingDeleted(*slot)) {
          return delete_pod(*slot);
        }
        if (!RunningAndReady(*slot)) return absl::OkStatus();
      }
    }
    return absl::OkStatus();
  };
  absl::Status update_err = update();

  // Status.
  Json status = set["status"];
  int64_t created = 0, ready = 0, available = 0, current = 0, updated = 0;
  std::vector<Json> all;
  for (auto& s : slots) {
    if (s) all.push_back(*s);
  }
  for (const Json& p : condemned) all.push_back(p);
  for (const Json& p : all) {
    created++;
    if (RunningAndReady(p)) {
      ready++;
      if (IsPodAvailable(p, min_ready, now)) available++;
    }
    if (IsBeingDeleted(p)) continue;
    if (Revision(p) == current_hash) current++;
    if (Revision(p) == update_hash) updated++;
  }
  status["replicas"] = created;
  status["readyReplicas"] = ready;
  status["availableReplicas"] = available;
  status["currentReplicas"] = current;
  status["updatedReplicas"] = updated;
  status["currentRevision"] = current_name;
  status["updateRevision"] = update_name;
  status["observedGeneration"] = Int(set, {"metadata", "generation"}, 1);
  status["collisionCount"] = collision;
  // completeRollingUpdate.
  if (strategy == "RollingUpdate" && updated == replicas && ready == replicas &&
      created == replicas) {
    status["currentRevision"] = update_name;
    status["currentReplicas"] = updated;
  }
  if (status != set["status"]) {
    auto r = UpdateStatusWithRetry(client_, StatefulSetsRef(), set, status);
    if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  }
  // Keep at most revisionHistoryLimit unused revisions.
  std::set<std::string> live = {current_hash, update_hash};
  for (const Json& p : all) live.insert(Revision(p));
  (void)TruncateHistory(client_, *history, live, Int(set, {"spec", "revisionHistoryLimit"}, 10));
  return update_err;
}

}  // namespace workload

ControllerDescriptor StatefulSetControllerDescriptor() {
  return ControllerDescriptor{
      .name = "statefulset-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::StatefulSetController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"statefulset"},
  };
}

}  // namespace korral::controllers
