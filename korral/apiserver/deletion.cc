#include "korral/apiserver/deletion.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "korral/apimachinery/errors.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

constexpr const char* kOrphan = "orphan";
constexpr const char* kForeground = "foregroundDeletion";
constexpr int64_t kDefaultTerminationGracePeriod = 30;

bool IsCore(const api::ResourceType& type, std::string_view resource) {
  return type.gvk.group.empty() && type.resource == resource;
}

// The finalizers after applying the deletion's garbage-collection policy.
Json GcFinalizers(const api::ResourceType& type, const Json& finalizers,
                  const DeletePolicy& policy) {
  bool has_orphan = false, has_foreground = false;
  Json out = Json::array();
  for (const auto& f : finalizers) {
    if (f == kOrphan) {
      has_orphan = true;
      continue;
    }
    if (f == kForeground) {
      has_foreground = true;
      continue;
    }
    out.push_back(f);
  }
  bool orphan, foreground;
  if (!policy.propagation.empty()) {
    orphan = policy.propagation == "Orphan";
    foreground = policy.propagation == "Foreground";
  } else if (has_orphan || has_foreground) {
    orphan = has_orphan;
    foreground = !has_orphan && has_foreground;
  } else {
    orphan = IsCore(type, "replicationcontrollers");
    foreground = false;
  }
  if (orphan) out.push_back(kOrphan);
  if (foreground) out.push_back(kForeground);
  return out;
}

std::set<std::string> AsSet(const Json& list) {
  std::set<std::string> s;
  for (const auto& f : list)
    if (f.is_string()) s.insert(f.get<std::string>());
  return s;
}

}  // namespace

absl::StatusOr<DeletePolicy> ParseDeletePolicy(const Json& options) {
  DeletePolicy p;
  if (!options.is_object()) return p;
  if (auto it = options.find("propagationPolicy"); it != options.end() && it->is_string()) {
    p.propagation = it->get<std::string>();
    if (p.propagation != "Foreground" && p.propagation != "Background" &&
        p.propagation != "Orphan") {
      return apierrors::NewInvalid("", "DeleteOptions", "",
                                   {{"FieldValueNotSupported",
                                     fmt::format("Unsupported value: \"{}\": supported values: "
                                                 "\"Foreground\", \"Background\", \"Orphan\"",
                                                 p.propagation),
                                     "propagationPolicy"}});
    }
  }
  if (auto it = options.find("orphanDependents"); it != options.end() && it->is_boolean()) {
    if (!p.propagation.empty()) {
      return apierrors::NewInvalid(
          "", "DeleteOptions", "",
          {{"FieldValueInvalid", "orphanDependents and propagationPolicy cannot both be set",
            "propagationPolicy"}});
    }
    p.propagation = it->get<bool>() ? "Orphan" : "Background";
  }
  if (auto it = options.find("gracePeriodSeconds"); it != options.end() && !it->is_null()) {
    if (!it->is_number_integer()) {
      return apierrors::NewBadRequest("gracePeriodSeconds must be an integer");
    }
    p.grace_period_seconds = it->get<int64_t>();
    if (*p.grace_period_seconds < 0) p.grace_period_seconds = 1;
  }
  return p;
}

DeletionPlan PlanDeletion(const api::ResourceType& type, const Json& current,
                          const DeletePolicy& policy, std::chrono::system_clock::time_point now) {
  DeletionPlan plan;
  Json desired = current;
  Json& meta = desired["metadata"];
  const bool deleting = meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null();
  const bool pod = IsCore(type, "pods");
  bool graceful = false;
  if (deleting && pod) {
    int64_t old_grace = meta.value("deletionGracePeriodSeconds", int64_t{0});
    if (old_grace > 0) {
      if (!policy.grace_period_seconds || *policy.grace_period_seconds >= old_grace) {
        plan.action = DeletionPlan::kPending;
        return plan;
      }
      int64_t period = *policy.grace_period_seconds;
      if (period > 0) {
        auto ts = api::ParseTime(meta.value("deletionTimestamp", ""));
        std::chrono::system_clock::time_point base = ts ? *ts : now;
        meta["deletionTimestamp"] =
            api::FormatTime(base - std::chrono::seconds(old_grace) + std::chrono::seconds(period));
        meta["deletionGracePeriodSeconds"] = period;
        graceful = true;
      } else {
        meta["deletionGracePeriodSeconds"] = 0;
      }
    }
  } else if (pod) {
    const Json& spec = desired.contains("spec") ? desired["spec"] : Json::object();
    int64_t period = policy.grace_period_seconds.value_or(
        spec.is_object() && spec.contains("terminationGracePeriodSeconds") &&
                spec["terminationGracePeriodSeconds"].is_number_integer()
            ? spec["terminationGracePeriodSeconds"].get<int64_t>()
            : kDefaultTerminationGracePeriod);
    std::string phase = desired.contains("status") && desired["status"].is_object()
                            ? desired["status"].value("phase", "")
                            : "";
    if (!spec.is_object() || spec.value("nodeName", "").empty()) period = 0;
    if (phase == "Succeeded" || phase == "Failed") period = 0;
    if (period < 0) period = 1;
    if (period > 0) {
      meta["deletionTimestamp"] = api::FormatTime(now + std::chrono::seconds(period));
      meta["deletionGracePeriodSeconds"] = period;
      graceful = true;
    }
  }
  const Json old_finalizers = meta.contains("finalizers") && meta["finalizers"].is_array()
                                  ? meta["finalizers"]
                                  : Json::array();
  Json finalizers = GcFinalizers(type, old_finalizers, policy);
  if (AsSet(finalizers) != AsSet(old_finalizers)) {
    if (finalizers.empty()) {
      meta.erase("finalizers");
    } else {
      meta["finalizers"] = finalizers;
    }
  }
  bool namespace_finalizers =
      IsCore(type, "namespaces") && desired.contains("spec") && desired["spec"].is_object() &&
      desired["spec"].contains("finalizers") && desired["spec"]["finalizers"].is_array() &&
      !desired["spec"]["finalizers"].empty();
  if (!finalizers.empty() || namespace_finalizers) {
    if (!meta.contains("deletionTimestamp") || meta["deletionTimestamp"].is_null()) {
      meta["deletionTimestamp"] = api::FormatTime(now);
      meta["deletionGracePeriodSeconds"] = 0;
    }
    if (IsCore(type, "namespaces")) desired["status"]["phase"] = "Terminating";
    graceful = true;
  }
  if (!graceful) return plan;  // kDeleteNow
  if (desired == current) {
    plan.action = DeletionPlan::kPending;
    return plan;
  }
  plan.action = DeletionPlan::kUpdate;
  plan.updated = std::move(desired);
  return plan;
}

}  // namespace korral::apiserver
