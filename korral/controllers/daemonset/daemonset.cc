// korral/controllers/daemonset/daemonset.cc
#include "korral/controllers/daemonset/daemonset.h"

#include <algorithm>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/workload_util/history.h"

namespace korral::controllers {
namespace workload {

namespace {

constexpr char kApiVersion[] = "apps/v1";
constexpr char kKind[] = "DaemonSet";
constexpr int kBurstReplicas = 250;

bool TolerationMatches(const Json& tol, const Json& taint) {
  std::string effect = tol.value("effect", "");
  if (!effect.empty() && effect != taint.value("effect", "")) return false;
  std::string key = tol.value("key", "");
  std::string op = tol.value("operator", "Equal");
  if (key.empty()) return op == "Exists";
  if (key != taint.value("key", "")) return false;
  if (op == "Exists") return true;
  return tol.value("value", "") == taint.value("value", "");
}

bool Tolerated(const Json& taint, const Json& tolerations) {
  if (!tolerations.is_array()) return false;
  for (const Json& t : tolerations) {
    if (TolerationMatches(t, taint)) return true;
  }
  return false;
}

// Whether some taint with one of `effects` is not tolerated.
bool HasUntoleratedTaint(const Json& node, const Json& tolerations,
                         std::initializer_list<std::string_view> effects) {
  const Json& taints = At(node, {"spec", "taints"});
  if (!taints.is_array()) return false;
  for (const Json& taint : taints) {
    std::string e = taint.value("effect", "");
    if (std::find(effects.begin(), effects.end(), e) == effects.end()) continue;
    if (!Tolerated(taint, tolerations)) return true;
  }
  return false;
}

bool RequirementMatches(const Json& req, const std::string& value, bool present) {
  std::string op = req.value("operator", "");
  std::vector<std::string> values;
  if (req.contains("values") && req["values"].is_array()) {
    for (const Json& v : req["values"]) {
      if (v.is_string()) values.push_back(v.get<std::string>());
    }
  }
  auto in = [&] { return std::find(values.begin(), values.end(), value) != values.end(); };
  if (op == "In") return present && in();
  if (op == "NotIn") return !present || !in();
  if (op == "Exists") return present;
  if (op == "DoesNotExist") return !present;
  if (op == "Gt" || op == "Lt") {
    if (!present || values.size() != 1) return false;
    try {
      long long a = std::stoll(value), b = std::stoll(values[0]);
      return op == "Gt" ? a > b : a < b;
    } catch (...) {
      return false;
    }
  }
  return false;
}

std::string TargetNodeName(const Json& pod) {
  std::string n = Str(pod, {"spec", "nodeName"});
  if (!n.empty()) return n;
  const Json& terms =
      At(pod, {"spec", "affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
               "nodeSelectorTerms"});
  if (!terms.is_array()) return "";
  for (const Json& t : terms) {
    const Json& fields = At(t, {"matchFields"});
    if (!fields.is_array()) continue;
    for (const Json& f : fields) {
      if (f.value("key", "") == "metadata.name" && f.value("operator", "") == "In" &&
          f.contains("values") && f["values"].is_array() && f["values"].size() == 1) {
        return f["values"][0].get<std::string>();
      }
    }
  }
  return "";
}

Json PinToNode(Json spec, const std::string& node) {
  Json term = {
      {"matchFields", {{{"key", "metadata.name"}, {"operator", "In"}, {"values", {node}}}}}};
  spec["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
      ["nodeSelectorTerms"] = Json::array({term});
  return spec;
}

bool ByCreationAndPhase(const ObjectPtr& a, const ObjectPtr& b) {
  // Running pods first among equals: upstream podByCreationTimestampAndPhase.
  bool ar = PodPhase(*a) == "Running", br = PodPhase(*b) == "Running";
  if (ar != br) return ar;
  if (CreationTime(*a) == CreationTime(*b)) return NameOf(*a) < NameOf(*b);
  return CreationTime(*a) < CreationTime(*b);
}

}  // namespace

bool NodeSelectorTermMatches(const Json& term, const Json& node) {
  bool any = false;
  const Json& exprs = At(term, {"matchExpressions"});
  if (exprs.is_array()) {
    for (const Json& r : exprs) {
      any = true;
      const Json& l = At(node, {"metadata", "labels", r.value("key", "")});
      if (!RequirementMatches(r, l.is_string() ? l.get<std::string>() : "", l.is_string())) {
        return false;
      }
    }
  }
  const Json& fields = At(term, {"matchFields"});
  if (fields.is_array()) {
    for (const Json& r : fields) {
      any = true;
      if (r.value("key", "") != "metadata.name") return false;
      if (!RequirementMatches(r, NameOf(node), true)) return false;
    }
  }
  return any;  // an empty term matches nothing
}

Json DaemonPodSpec(const Json& ds) {
  Json spec = At(ds, {"spec", "template", "spec"});
  if (!spec.is_object()) spec = Json::object();
  Json& tols = spec["tolerations"];
  if (!tols.is_array()) tols = Json::array();
  std::vector<std::pair<std::string, std::string>> add = {
      {"node.kubernetes.io/not-ready", "NoExecute"},
      {"node.kubernetes.io/unreachable", "NoExecute"},
      {"node.kubernetes.io/disk-pressure", "NoSchedule"},
      {"node.kubernetes.io/memory-pressure", "NoSchedule"},
      {"node.kubernetes.io/pid-pressure", "NoSchedule"},
      {"node.kubernetes.io/unschedulable", "NoSchedule"}};
  if (spec.value("hostNetwork", false)) {
    add.push_back({"node.kubernetes.io/network-unavailable", "NoSchedule"});
  }
  for (const auto& [key, effect] : add) {
    bool present = false;
    for (const Json& t : tols) {
      present |= t.value("key", "") == key && t.value("effect", "") == effect &&
                 t.value("operator", "") == "Exists";
    }
    if (!present) tols.push_back({{"key", key}, {"operator", "Exists"}, {"effect", effect}});
  }
  return spec;
}

std::pair<bool, bool> NodeShouldRunDaemonPod(const Json& node, const Json& ds) {
  Json spec = DaemonPodSpec(ds);
  std::string node_name = spec.value("nodeName", "");
  if (!node_name.empty() && node_name != NameOf(node)) return {false, false};
  // Node affinity: nodeSelector and the required terms.
  const Json& sel = At(spec, {"nodeSelector"});
  if (sel.is_object()) {
    for (auto it = sel.begin(); it != sel.end(); ++it) {
      if (At(node, {"metadata", "labels", it.key()}) != it.value()) return {false, false};
    }
  }
  const Json& terms =
      At(spec, {"affinity", "nodeAffinity", "requiredDuringSchedulingIgnoredDuringExecution",
                "nodeSelectorTerms"});
  if (terms.is_array()) {
    bool ok = false;
    for (const Json& t : terms) ok = ok || NodeSelectorTermMatches(t, node);
    if (!ok) return {false, false};
  }
  const Json& tols = spec["tolerations"];
  if (HasUntoleratedTaint(node, tols, {"NoSchedule", "NoExecute"})) {
    return {false, !HasUntoleratedTaint(node, tols, {"NoExecute"})};
  }
  return {true, true};
}

DaemonSetController::DaemonSetController(ControllerContext& ctx)
    : QueueController("daemonset-controller", "daemonset-controller", ctx),
      ds_informer_(ctx.informers->For(DaemonSetsRef())),
      pod_informer_(ctx.informers->For(PodsRef())),
      node_informer_(ctx.informers->For(NodesRef())),
      rev_informer_(ctx.informers->For(ControllerRevisionsRef())),
      expectations_(*ctx.clock) {
  EnsureIndex(pod_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  ds_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& ds) { Enqueue(KeyOf(*ds)); },
      .on_update = [this](const ObjectPtr&, const ObjectPtr& ds) { Enqueue(KeyOf(*ds)); },
      .on_delete =
          [this](const ObjectPtr& ds, bool) {
            expectations_.Delete(KeyOf(*ds));
            Enqueue(KeyOf(*ds));
          },
  });
  pod_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& p) { OnPod(p, true, false); },
      .on_update =
          [this](const ObjectPtr& o, const ObjectPtr& n) {
            if (client::ResourceVersionOf(*o) == client::ResourceVersionOf(*n)) return;
            if (IsBeingDeleted(*n) && !IsBeingDeleted(*o)) {
              OnPod(n, false, true);
            } else {
              OnPod(n, false, false);
            }
          },
      .on_delete =
          [this](const ObjectPtr& p, bool) {
            if (!IsBeingDeleted(*p))
              OnPod(p, false, true);
            else
              OnPod(p, false, false);
          },
  });
  // Node changes may change eligibility of every DaemonSet.
  node_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr&) { EnqueueAll(); },
      .on_update =
          [this](const ObjectPtr& o, const ObjectPtr& n) {
            if (LabelsOf(*o) != LabelsOf(*n) || At(*o, {"spec"}) != At(*n, {"spec"})) EnqueueAll();
          },
      .on_delete = [this](const ObjectPtr&, bool) { EnqueueAll(); },
  });
}

DaemonSetController::~DaemonSetController() { Stop(); }

void DaemonSetController::EnqueueAll() {
  for (const std::string& k : ds_informer_->indexer().ListKeys()) Enqueue(k);
}

std::string DaemonSetController::ResolveControllerRef(const std::string& ns, const Json& ref) {
  if (ref.value("kind", "") != kKind) return "";
  std::string key = ns + "/" + ref.value("name", "");
  ObjectPtr ds = ds_informer_->indexer().Get(key);
  if (!ds || UidOf(*ds) != ref.value("uid", "")) return "";
  return key;
}

void DaemonSetController::OnPod(const ObjectPtr& pod, bool added, bool deleted) {
  const Json* ref = ControllerRefOf(*pod);
  if (ref == nullptr) {
    if (added) {
      for (const ObjectPtr& ds : ds_informer_->indexer().ListNamespace(NamespaceOf(*pod))) {
        auto sel = SelectorFromJson(At(*ds, {"spec", "selector"}));
        if (sel.ok() && !sel->Empty() && sel->Matches(LabelsOf(*pod))) Enqueue(KeyOf(*ds));
      }
    }
    return;
  }
  std::string key = ResolveControllerRef(NamespaceOf(*pod), *ref);
  if (key.empty()) return;
  if (added && !IsBeingDeleted(*pod)) expectations_.CreationObserved(key);
  if ((added && IsBeingDeleted(*pod)) || deleted) {
    expectations_.DeletionObserved(key, KeyOf(*pod));
    expectations_.DeletionObserved(key + "#del", KeyOf(*pod));
  }
  Enqueue(key);
}

absl::Status DaemonSetController::Sync(const std::string& key) {
  ObjectPtr cached = ds_informer_->indexer().Get(key);
  if (!cached) {
    expectations_.Delete(key);
    return absl::OkStatus();
  }
  Json ds = *cached;
  if (!ds["status"].is_object()) ds["status"] = Json::object();
  auto event = [&](std::string_view type, std::string_view reason, std::string msg) {
    recorder().Event(ds, kApiVersion, kKind, type, reason, std::move(msg));
  };
  const Json& sel_json = At(ds, {"spec", "selector"});
  if (sel_json.is_object() && sel_json.empty()) {
    event("Warning", "SelectingAll",
          "This daemon set is selecting all pods. A non-empty selector is required.");
    return absl::OkStatus();
  }
  auto selector = SelectorFromJson(sel_json);
  if (!selector.ok()) return absl::OkStatus();
  if (IsBeingDeleted(ds)) return absl::OkStatus();
  const std::string ns = NamespaceOf(ds);
  const auto now = clock_.Now();
  const int64_t min_ready = Int(ds, {"spec", "minReadySeconds"});

  // History.
  int64_t collision = Int(ds, {"status", "collisionCount"});
  auto history = ConstructHistory(client_, rev_informer_, ds, kKind, *selector, &collision);
  if (!history.ok()) {
    if (collision != Int(ds, {"status", "collisionCount"})) {
      ds["status"]["collisionCount"] = collision;
      (void)client_.UpdateStatus(DaemonSetsRef(), ns, ds);
    }
    return history.status();
  }
  const std::string hash = history->hash;

  std::vector<ObjectPtr> nodes = node_informer_->indexer().List();
  auto node_pods = [&]() -> absl::StatusOr<std::map<std::string, std::vector<ObjectPtr>>> {
    ClaimSpec claim{.owner = &ds,
                    .owner_api_version = kApiVersion,
                    .owner_kind = kKind,
                    .selector = *selector,
                    .child_ref = PodsRef(),
                    .can_adopt = RecheckOwner(client_, DaemonSetsRef(), ds)};
    absl::Status err;
    auto pods = ClaimObjects(client_, claim, pod_informer_->indexer().ListNamespace(ns), &err);
    if (!err.ok()) return err;
    std::map<std::string, std::vector<ObjectPtr>> out;
    for (const ObjectPtr& p : pods) {
      std::string n = TargetNodeName(*p);
      if (!n.empty()) out[n].push_back(p);
    }
    return out;
  };

  // syncNodes: deletes pods, creates one pod per node.
  auto sync_nodes = [&](const std::vector<std::string>& to_delete,
                        const std::vector<std::string>& nodes_needing) -> absl::Status {
    int create_diff = std::min<int>(static_cast<int>(nodes_needing.size()), kBurstReplicas);
    int delete_diff = std::min<int>(static_cast<int>(to_delete.size()), kBurstReplicas);
    std::vector<std::string> del_keys;
    for (int i = 0; i < delete_diff; ++i) del_keys.push_back(ns + "/" + to_delete[i]);
    if (create_diff > 0) expectations_.ExpectCreations(key, create_diff);
    if (delete_diff > 0) {
      if (create_diff > 0) {
        // Both: track creations by count and deletions by key.
        expectations_.ExpectDeletions(key + "#del", del_keys);
      } else {
        expectations_.ExpectDeletions(key, del_keys);
      }
    }
    Json tmpl = At(ds, {"spec", "template"});
    Json labels_json = At(tmpl, {"metadata", "labels"});
    if (!labels_json.is_object()) labels_json = Json::object();
    labels_json[kControllerRevisionHashLabel] = hash;
    tmpl["metadata"]["labels"] = labels_json;
    Json ref = NewControllerRef(ds, kApiVersion, kKind);
    Json base = PodFromTemplate(tmpl, ds, ref);
    Json spec = DaemonPodSpec(ds);
    auto result = SlowStartBatch(create_diff, 1, [&](int i) -> absl::Status {
      Json pod = base;
      pod["spec"] = PinToNode(spec, nodes_needing[i]);
      auto r = client_.Create(PodsRef(), ns, pod);
      if (!r.ok()) {
        if (IsNamespaceTerminating(r.status())) return absl::OkStatus();
        event("Warning", "FailedCreate",
              fmt::format("Error creating: {}", StatusMessage(r.status())));
        return r.status();
      }
      event("Normal", "SuccessfulCreate", fmt::format("Created pod: {}", NameOf(*r)));
      return absl::OkStatus();
    });
    for (int i = result.successes; i < create_diff; ++i) expectations_.CreationObserved(key);
    auto errors = ParallelFor(delete_diff, [&](int i) -> absl::Status {
      auto r = client_.Delete(PodsRef(), ns, to_delete[i]);
      if (!r.ok()) {
        expectations_.DeletionObserved(key, del_keys[i]);
        if (client::IsNotFound(r.status())) return absl::OkStatus();
        event("Warning", "FailedDelete",
              fmt::format("Error deleting: {}", StatusMessage(r.status())));
        return r.status();
      }
      event("Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", to_delete[i]));
      return absl::OkStatus();
    });
    if (!result.first_error.ok()) return result.first_error;
    if (!errors.empty()) return errors.front();
    return absl::OkStatus();
  };

  absl::Status manage_err;
  if (expectations_.Satisfied(key) && expectations_.Satisfied(key + "#del")) {
    // manage.
    KORRAL_ASSIGN_OR_RETURN(auto by_node, node_pods());
    std::vector<std::string> needing, to_delete;
    const bool surge =
        Str(ds, {"spec", "updateStrategy", "type"}) == "RollingUpdate" &&
        ScaledValue(At(ds, {"spec", "updateStrategy", "rollingUpdate", "maxSurge"}), 1, true)
                .value_or(0) > 0;
    for (const ObjectPtr& node : nodes) {
      auto [should_run, should_continue] = NodeShouldRunDaemonPod(*node, ds);
      auto it = by_node.find(NameOf(*node));
      bool exists = it != by_node.end();
      if (should_run && !exists) {
        needing.push_back(NameOf(*node));
      } else if (should_continue && exists) {
        std::vector<ObjectPtr> running;
        for (const ObjectPtr& p : it->second) {
          if (IsBeingDeleted(*p)) continue;
          if (PodPhase(*p) == "Failed") {
            std::string bkey = key + "/" + NameOf(*node);
            std::lock_guard l(mu_);
            auto& [delay, last] = failed_backoff_[bkey];
            if (delay.count() > 0 && now - last < delay) {
              EnqueueAfter(key, delay - (now - last));
              continue;
            }
            delay = delay.count() == 0
                        ? std::chrono::seconds(1)
                        : std::min<std::chrono::seconds>(delay * 2, std::chrono::minutes(15));
            last = now;
            event("Warning", "FailedDaemonPod",
                  fmt::format("Found failed daemon pod {}/{} on node {}, will try to kill it", ns,
                              NameOf(*p), NameOf(*node)));
            to_delete.push_back(NameOf(*p));
          } else if (PodPhase(*p) == "Succeeded") {
            event("Normal", "SucceededDaemonPod",
                  fmt::format("Found succeeded daemon pod {}/{} on node {}, will try to delete it",
                              ns, NameOf(*p), NameOf(*node)));
            to_delete.push_back(NameOf(*p));
          } else {
            running.push_back(p);
          }
        }
        if (running.size() <= 1) continue;
        std::sort(running.begin(), running.end(), ByCreationAndPhase);
        if (!surge) {
          for (size_t i = 1; i < running.size(); ++i) to_delete.push_back(NameOf(*running[i]));
          continue;
        }
        ObjectPtr oldest_new, oldest_old;
        for (const ObjectPtr& p : running) {
          bool is_new = Str(*p, {"metadata", "labels", kControllerRevisionHashLabel}) == hash;
          if (is_new && !oldest_new) {
            oldest_new = p;
          } else if (!is_new && !oldest_old) {
            oldest_old = p;
          } else {
            to_delete.push_back(NameOf(*p));
          }
        }
        if (oldest_new && oldest_old) {
          if (!IsPodReady(*oldest_old) || IsPodAvailable(*oldest_new, min_ready, now)) {
            to_delete.push_back(NameOf(*oldest_old));
          }
        }
      } else if (!should_continue && exists) {
        for (const ObjectPtr& p : it->second) {
          if (!IsBeingDeleted(*p)) to_delete.push_back(NameOf(*p));
        }
      }
    }
    manage_err = sync_nodes(to_delete, needing);
    // rollingUpdate.
    // Rolling updates only once the creations/deletions above were observed.
    if (manage_err.ok() && Str(ds, {"spec", "updateStrategy", "type"}) == "RollingUpdate" &&
        expectations_.Satisfied(key) && expectations_.Satisfied(key + "#del")) {
      KORRAL_ASSIGN_OR_RETURN(by_node, node_pods());
      int64_t desired = 0;
      for (const ObjectPtr& node : nodes) desired += NodeShouldRunDaemonPod(*node, ds).first;
      const Json& ru = At(ds, {"spec", "updateStrategy", "rollingUpdate"});
      int64_t max_surge = ScaledValue(At(ru, {"maxSurge"}), desired, true).value_or(0);
      Json mu = At(ru, {"maxUnavailable"}).is_null() ? Json(1) : At(ru, {"maxUnavailable"});
      int64_t max_unavailable = ScaledValue(mu, desired, true).value_or(1);
      if (max_surge == 0 && max_unavailable == 0) max_unavailable = 1;
      auto find_updated = [&](const std::vector<ObjectPtr>& pods, ObjectPtr* new_pod,
                              ObjectPtr* old_pod) {
        for (const ObjectPtr& p : pods) {
          if (IsBeingDeleted(*p)) continue;
          bool is_new = Str(*p, {"metadata", "labels", kControllerRevisionHashLabel}) == hash;
          ObjectPtr* slot = is_new ? new_pod : old_pod;
          if (*slot) return false;
          *slot = p;
        }
        return true;
      };
      std::vector<std::string> old_to_delete, new_nodes;
      if (max_surge == 0) {
        int64_t unavailable = 0;
        std::vector<std::string> allowed, candidates;
        for (auto& [node_name, pods] : by_node) {
          ObjectPtr np, op;
          if (!find_updated(pods, &np, &op)) {
            unavailable++;
            continue;
          }
          if ((!op && !np) || (op && np)) {
            unavailable++;
          } else if (np) {
            if (!IsPodAvailable(*np, min_ready, now)) unavailable++;
          } else if (!IsPodAvailable(*op, min_ready, now)) {
            allowed.push_back(NameOf(*op));
          } else if (unavailable < max_unavailable) {
            candidates.push_back(NameOf(*op));
          }
        }
        int64_t remaining = std::clamp<int64_t>(max_unavailable - unavailable, 0,
                                                static_cast<int64_t>(candidates.size()));
        old_to_delete = allowed;
        old_to_delete.insert(old_to_delete.end(), candidates.begin(),
                             candidates.begin() + remaining);
      } else {
        int64_t num_surge = 0;
        std::vector<std::string> allowed_nodes, candidate_nodes;
        for (auto& [node_name, pods] : by_node) {
          ObjectPtr np, op;
          if (!find_updated(pods, &np, &op)) {
            num_surge++;
            continue;
          }
          if (!op) continue;
          if (!np) {
            if (!IsPodAvailable(*op, min_ready, now)) {
              allowed_nodes.push_back(node_name);
            } else if (num_surge < max_surge) {
              candidate_nodes.push_back(node_name);
            }
            continue;
          }
          if (!IsPodAvailable(*np, min_ready, now)) {
            num_surge++;
            continue;
          }
          old_to_delete.push_back(NameOf(*op));
        }
        int64_t remaining = std::clamp<int64_t>(max_surge - num_surge, 0,
                                                static_cast<int64_t>(candidate_nodes.size()));
        new_nodes = allowed_nodes;
        new_nodes.insert(new_nodes.end(), candidate_nodes.begin(),
                         candidate_nodes.begin() + remaining);
      }
      if (!old_to_delete.empty() || !new_nodes.empty()) {
        manage_err = sync_nodes(old_to_delete, new_nodes);
      }
    }
    // cleanupHistory.
    if (manage_err.ok()) {
      std::set<std::string> live;
      for (const ObjectPtr& p : pod_informer_->indexer().ListNamespace(ns)) {
        const Json* r = ControllerRefOf(*p);
        if (r != nullptr && r->value("uid", "") == UidOf(ds)) {
          live.insert(Str(*p, {"metadata", "labels", kControllerRevisionHashLabel}));
        }
      }
      (void)TruncateHistory(client_, *history, live, Int(ds, {"spec", "revisionHistoryLimit"}, 10));
    }
  }

  // Status.
  KORRAL_ASSIGN_OR_RETURN(auto by_node, node_pods());
  int64_t desired = 0, current = 0, misscheduled = 0, ready = 0, available = 0, updated = 0;
  for (const ObjectPtr& node : nodes) {
    bool should_run = NodeShouldRunDaemonPod(*node, ds).first;
    auto it = by_node.find(NameOf(*node));
    bool scheduled = it != by_node.end() && !it->second.empty();
    if (should_run) {
      desired++;
      if (!scheduled) continue;
      current++;
      std::vector<ObjectPtr> pods = it->second;
      std::sort(pods.begin(), pods.end(), ByCreationAndPhase);
      const Json& pod = *pods[0];
      if (IsPodReady(pod)) {
        ready++;
        if (IsPodAvailable(pod, min_ready, now)) available++;
      }
      if (Str(pod, {"metadata", "labels", kControllerRevisionHashLabel}) == hash) updated++;
    } else if (scheduled) {
      misscheduled++;
    }
  }
  Json status = ds["status"];
  status["currentNumberScheduled"] = current;
  status["numberMisscheduled"] = misscheduled;
  status["desiredNumberScheduled"] = desired;
  status["numberReady"] = ready;
  status["observedGeneration"] = Int(ds, {"metadata", "generation"}, 1);
  status["updatedNumberScheduled"] = updated;
  status["numberAvailable"] = available;
  status["numberUnavailable"] = desired - available;
  if (collision > 0) status["collisionCount"] = collision;
  if (status != ds["status"]) {
    auto r = UpdateStatusWithRetry(client_, DaemonSetsRef(), ds, status);
    if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  }
  if (min_ready > 0 && ready != available) EnqueueAfter(key, std::chrono::seconds(min_ready));
  return manage_err;
}

}  // namespace workload

ControllerDescriptor DaemonSetControllerDescriptor() {
  return ControllerDescriptor{
      .name = "daemonset-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::DaemonSetController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"daemonset"},
  };
}

}  // namespace korral::controllers
