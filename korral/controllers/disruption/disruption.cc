// korral/controllers/disruption/disruption.cc
#include "korral/controllers/disruption/disruption.h"

#include <cmath>
#include <set>

#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/pod_summary.h"

namespace korral::controllers {
namespace {

const client::ResourceRef kPDBs{"policy", "v1", "poddisruptionbudgets", true};
const client::ResourceRef kStatefulSets{"apps", "v1", "statefulsets", true};
const client::ResourceRef kRCs{"", "v1", "replicationcontrollers", true};

// IntOrString: {value, is_percent}.
std::optional<std::pair<int64_t, bool>> IntOrPercent(const Json& v) {
  if (v.is_number_integer()) return std::make_pair(v.get<int64_t>(), false);
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    bool pct = !s.empty() && s.back() == '%';
    if (pct) s.pop_back();
    try {
      return std::make_pair(static_cast<int64_t>(std::stoll(s)), pct);
    } catch (...) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

}  // namespace

DisruptionController::DisruptionController(ControllerContext& ctx)
    : ctx_(ctx),
      pdbs_(ctx.informers->For(kPDBs)),
      pods_(ctx.informers->For(client::resources::Pods())),
      worker_("disruption", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler ph;
  ph.on_add = [this](const client::ObjectPtr& p) { worker_.Add(client::ObjectKey(*p)); };
  ph.on_update = [this](const client::ObjectPtr& o, const client::ObjectPtr& p) {
    if ((*o).value("spec", Json::object()) != (*p).value("spec", Json::object())) {
      worker_.Add(client::ObjectKey(*p));
    }
  };
  pdbs_->AddEventHandler(std::move(ph));
  auto by_pod = [this](const client::ObjectPtr& pod) {
    const Json labels = (*pod)["metadata"].value("labels", Json::object());
    for (const auto& pdb : pdbs_->indexer().ListNamespace(NamespaceOf(*pod))) {
      if (LabelSelectorMatches(SpecOf(*pdb).value("selector", Json::object()), labels)) {
        worker_.Add(client::ObjectKey(*pdb));
      }
    }
  };
  client::ResourceEventHandler h;
  h.on_add = by_pod;
  h.on_update = [by_pod](const client::ObjectPtr& o, const client::ObjectPtr& p) {
    by_pod(o);
    by_pod(p);
  };
  h.on_delete = [by_pod](const client::ObjectPtr& p, bool) { by_pod(p); };
  pods_->AddEventHandler(std::move(h));
}

absl::StatusOr<int64_t> DisruptionController::ExpectedScale(
    const std::vector<client::ObjectPtr>& pods) {
  std::set<std::string> seen;
  int64_t total = 0;
  for (const auto& p : pods) {
    auto ref = ControllerRefOf(*p);
    if (!ref) {
      return absl::FailedPreconditionError(
          absl::string_view("found no controller ref for pod \"" + NameOf(*p) + "\""));
    }
    std::string kind = ref->value("kind", ""), name = ref->value("name", "");
    std::string ns = NamespaceOf(*p);
    client::ResourceRef r;
    if (kind == "ReplicaSet") {
      KORRAL_ASSIGN_OR_RETURN(Json rs,
                              ctx_.client->Get(client::resources::ReplicaSets(), ns, name));
      auto dref = ControllerRefOf(rs);
      if (dref && dref->value("kind", "") == "Deployment") {
        if (!seen.insert("Deployment/" + dref->value("name", "")).second) continue;
        KORRAL_ASSIGN_OR_RETURN(Json d, ctx_.client->Get(client::resources::Deployments(), ns,
                                                         dref->value("name", "")));
        total += SpecOf(d).value("replicas", int64_t{1});
        continue;
      }
      if (!seen.insert("ReplicaSet/" + name).second) continue;
      total += SpecOf(rs).value("replicas", int64_t{1});
      continue;
    }
    if (kind == "StatefulSet") {
      r = kStatefulSets;
    } else if (kind == "ReplicationController") {
      r = kRCs;
    } else {
      return absl::FailedPreconditionError(absl::string_view(
          "pods owned by a " + kind + " have no scale; use an integer minAvailable"));
    }
    if (!seen.insert(kind + "/" + name).second) continue;
    KORRAL_ASSIGN_OR_RETURN(Json o, ctx_.client->Get(r, ns, name));
    total += SpecOf(o).value("replicas", int64_t{1});
  }
  return total;
}

absl::Status DisruptionController::Sync(const std::string& key) {
  auto cached = pdbs_->indexer().Get(key);
  if (!cached) return absl::OkStatus();
  const Json& pdb = *cached;
  std::string ns = NamespaceOf(pdb);
  const Json spec = pdb.value("spec", Json::object());
  const Json selector = spec.value("selector", Json::object());
  // Selected by summary (the pod cache is packed: pod_summary.h); only those are decoded.
  std::vector<client::ObjectPtr> pods = PodsWhere(pods_->indexer(), ns, [&](const PodSummary& s) {
    return LabelSelectorMatches(selector, s.LabelsJson());
  });
  int64_t healthy = 0;
  for (const auto& p : pods) healthy += IsPodReady(*p) && !IsBeingDeleted(*p);
  int64_t expected = 0, desired = 0;
  std::string error;
  if (spec.contains("maxUnavailable")) {
    auto mu = IntOrPercent(spec["maxUnavailable"]);
    auto scale = ExpectedScale(pods);
    if (!scale.ok() || !mu) {
      error = scale.ok() ? "invalid maxUnavailable" : std::string(StatusMessage(scale.status()));
    } else {
      expected = *scale;
      int64_t max_unavailable =
          mu->second ? static_cast<int64_t>(std::ceil(mu->first * expected / 100.0)) : mu->first;
      desired = std::max<int64_t>(0, expected - max_unavailable);
    }
  } else if (spec.contains("minAvailable")) {
    auto ma = IntOrPercent(spec["minAvailable"]);
    if (!ma) {
      error = "invalid minAvailable";
    } else if (!ma->second) {
      expected = static_cast<int64_t>(pods.size());
      desired = ma->first;
    } else {
      auto scale = ExpectedScale(pods);
      if (!scale.ok()) {
        error = std::string(StatusMessage(scale.status()));
      } else {
        expected = *scale;
        desired = static_cast<int64_t>(std::ceil(ma->first * expected / 100.0));
      }
    }
  } else {
    // Neither: upstream treats it as maxUnavailable 0 of the pods found.
    expected = static_cast<int64_t>(pods.size());
    desired = expected;
  }
  Json status = pdb.value("status", Json::object());
  int64_t allowed = error.empty() ? std::max<int64_t>(0, healthy - desired) : 0;
  Json old_cond;
  for (const auto& c : status.value("conditions", Json::array())) {
    if (c.value("type", "") == "DisruptionAllowed") old_cond = c;
  }
  std::string cstatus = allowed > 0 ? "True" : "False";
  std::string reason = !error.empty() ? "SyncFailed"
                       : allowed > 0  ? "SufficientPods"
                                      : "InsufficientPods";
  Json cond = {
      {"type", "DisruptionAllowed"},
      {"status", cstatus},
      {"reason", reason},
      {"message", error},
      {"observedGeneration", pdb["metadata"].value("generation", int64_t{0})},
      {"lastTransitionTime", old_cond.is_object() && old_cond.value("status", "") == cstatus
                                 ? old_cond.value("lastTransitionTime", "")
                                 : FormatTime(ctx_.clock->Now())}};
  Json want = status;
  want["currentHealthy"] = healthy;
  want["desiredHealthy"] = desired;
  want["expectedPods"] = expected;
  want["disruptionsAllowed"] = allowed;
  want["observedGeneration"] = pdb["metadata"].value("generation", int64_t{0});
  want["conditions"] = Json::array({cond});
  if (!want.contains("disruptedPods")) want["disruptedPods"] = Json::object();
  if (want == status) return absl::OkStatus();
  Json updated = pdb;
  updated["status"] = want;
  auto u = ctx_.client->UpdateStatus(kPDBs, ns, updated);
  if (!u.ok() && !client::IsNotFound(u.status())) return u.status();
  return absl::OkStatus();
}

ControllerDescriptor DisruptionControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "disruption-controller";
  d.aliases = {"disruption"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<DisruptionController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
