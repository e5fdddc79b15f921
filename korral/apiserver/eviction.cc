#include "korral/apiserver/eviction.h"

#include <fmt/format.h>

#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/labels.h"
#include "korral/base/status.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

constexpr size_t kMaxDisruptedPods = 2000;
constexpr int kMaxRetries = 5;

bool PodReady(const Json& pod) {
  if (!pod.contains("status") || !pod["status"].contains("conditions")) return false;
  for (const auto& c : pod["status"]["conditions"]) {
    if (c.is_object() && c.value("type", "") == "Ready") return c.value("status", "") == "True";
  }
  return false;
}

absl::Status BudgetBlocks(const std::string& message, const std::string& cause) {
  Json status = {{"kind", "Status"},
                 {"apiVersion", "v1"},
                 {"metadata", Json::object()},
                 {"status", "Failure"},
                 {"message", message},
                 {"reason", "TooManyRequests"},
                 {"details",
                  {{"causes", Json::array({{{"reason", "DisruptionBudget"}, {"message", cause}}})},
                   {"retryAfterSeconds", 0}}},
                 {"code", 429}};
  return apierrors::FromStatusObject(absl::StatusCode::kResourceExhausted, status);
}

Json SuccessStatus() {
  return {{"kind", "Status"},
          {"apiVersion", "v1"},
          {"metadata", Json::object()},
          {"status", "Success"},
          {"code", 201}};
}

}  // namespace

absl::StatusOr<Json> EvictPod(Store* store, Clock* clock, std::string_view ns,
                              std::string_view name, const Json& eviction, bool dry_run) {
  const api::ResourceType* pods = api::FindResourceType("", "v1", "pods");
  const api::ResourceType* pdbs = api::FindResourceType("policy", "v1", "poddisruptionbudgets");
  if (!pods || !pdbs) return apierrors::NewInternalError("pods or poddisruptionbudgets missing");
  if (!eviction.is_object()) return apierrors::NewBadRequest("the body must be an Eviction");
  if (eviction.contains("metadata") && eviction["metadata"].is_object()) {
    std::string body_name = eviction["metadata"].value("name", "");
    if (!body_name.empty() && body_name != name) {
      return apierrors::NewBadRequest("name in URL does not match name in Eviction object");
    }
  }
  Json delete_options = Json::object();
  if (auto it = eviction.find("deleteOptions"); it != eviction.end() && it->is_object()) {
    delete_options = *it;
    if (delete_options.contains("dryRun") && delete_options["dryRun"].is_array() &&
        !delete_options["dryRun"].empty()) {
      dry_run = true;
    }
  }
  auto delete_pod = [&]() -> absl::StatusOr<Json> {
    KORRAL_RETURN_IF_ERROR(store->Delete(*pods, ns, name, delete_options, dry_run).status());
    return SuccessStatus();
  };
  for (int attempt = 0; attempt < kMaxRetries; ++attempt) {
    KORRAL_ASSIGN_OR_RETURN(ObjectPtr pod, store->Get(*pods, ns, name, std::nullopt));
    const Json& p = pod->object;
    std::string phase = p.contains("status") ? p["status"].value("phase", "") : "";
    if (phase == "Succeeded" || phase == "Failed" || phase == "Pending" ||
        p["metadata"].contains("deletionTimestamp")) {
      return delete_pod();
    }
    // Budgets whose selector matches the pod's labels.
    KORRAL_ASSIGN_OR_RETURN(ListResult list, store->List(*pdbs, ns, ListOptions{}));
    static const Json kNoLabels = Json::object();
    const Json& labels = p["metadata"].contains("labels") ? p["metadata"]["labels"] : kNoLabels;
    std::vector<ObjectPtr> matching;
    for (const auto& pdb : list.items) {
      const Json& spec = pdb->object.contains("spec") ? pdb->object["spec"] : kNoLabels;
      if (!spec.contains("selector") || spec["selector"].is_null()) continue;
      auto sel = labels::FromLabelSelectorJson(spec["selector"]);
      if (!sel.ok()) continue;  // policy/v1: an empty selector matches every pod
      if (sel->Matches(labels)) matching.push_back(pdb);
    }
    if (matching.empty()) return delete_pod();
    if (matching.size() > 1) {
      return apierrors::NewInternalError(
          "This pod has more than one PodDisruptionBudget, which the eviction subresource does "
          "not support.");
    }
    Json pdb = matching[0]->object;
    Json& status = pdb["status"];
    if (!status.is_object()) status = Json::object();
    const std::string pdb_name = pdb["metadata"].value("name", "");
    int64_t generation = pdb["metadata"].value("generation", int64_t{0});
    int64_t observed = status.value("observedGeneration", int64_t{0});
    if (observed < generation) {
      return BudgetBlocks(
          "Cannot evict pod as it would violate the pod's disruption budget.",
          fmt::format("The disruption budget {} is still being processed by the server.",
                      pdb_name));
    }
    int64_t allowed = status.value("disruptionsAllowed", int64_t{0});
    int64_t current = status.value("currentHealthy", int64_t{0});
    int64_t desired = status.value("desiredHealthy", int64_t{0});
    if (!PodReady(p)) {
      std::string policy =
          pdb["spec"].is_object() ? pdb["spec"].value("unhealthyPodEvictionPolicy", "") : "";
      if (policy == "AlwaysAllow" || current >= desired) return delete_pod();
    }
    if (allowed < 0) {
      return apierrors::NewForbidden("poddisruptionbudgets.policy", pdb_name,
                                     "pdb disruptions allowed is negative");
    }
    if (status.contains("disruptedPods") && status["disruptedPods"].is_object() &&
        status["disruptedPods"].size() > kMaxDisruptedPods) {
      return apierrors::NewForbidden(
          "poddisruptionbudgets.policy", pdb_name,
          "DisruptedPods map too big - too many evictions not confirmed by PDB controller");
    }
    if (allowed == 0) {
      return BudgetBlocks("Cannot evict pod as it would violate the pod's disruption budget.",
                          fmt::format("The disruption budget {} needs {} healthy pods and has {} "
                                      "currently",
                                      pdb_name, desired, current));
    }
    status["disruptionsAllowed"] = allowed - 1;
    if (allowed - 1 == 0) {
      // Upstream's UpdateDisruptionAllowedCondition.
      Json& conds = status["conditions"];
      if (!conds.is_array()) conds = Json::array();
      Json cond = {
          {"type", "DisruptionAllowed"},    {"status", "False"},
          {"reason", "InsufficientPods"},   {"message", ""},
          {"observedGeneration", observed}, {"lastTransitionTime", api::FormatTime(clock->Now())}};
      bool found = false;
      for (auto& c : conds) {
        if (c.is_object() && c.value("type", "") == "DisruptionAllowed") {
          if (c.value("status", "") != "False") c = cond;
          found = true;
        }
      }
      if (!found) conds.push_back(cond);
    }
    Json& disrupted = status["disruptedPods"];
    if (!disrupted.is_object()) disrupted = Json::object();
    disrupted[std::string(name)] = api::FormatTime(clock->Now());
    if (!dry_run) {
      // Pinned to the budget's resourceVersion: a concurrent eviction retries from the top.
      pdb["metadata"]["resourceVersion"] = std::to_string(matching[0]->resource_version);
      WriteOptions wo{false, "status"};
      wo.field_manager = "korral-eviction";
      auto written = store->Update(*pdbs, ns, pdb_name, pdb, wo);
      if (!written.ok()) {
        if (apierrors::IsConflict(written.status())) continue;
        return written.status();
      }
    }
    return delete_pod();
  }
  return apierrors::NewConflict("poddisruptionbudgets.policy", "",
                                "too many concurrent evictions; please try again");
}

}  // namespace korral::apiserver
