// korral/api/apps_types.cc: apps/v1 resource types.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "korral/api/defaults.h"
#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api::internal {
namespace {

namespace v = validation;
using v::Causes;

ResourceType Apps(std::string kind, std::string resource, std::string singular,
                  std::vector<std::string> short_names) {
  ResourceType t;
  t.gvk = GroupVersionKind{"apps", "v1", kind};
  t.resource = std::move(resource);
  t.singular = std::move(singular);
  t.list_kind = kind + "List";
  t.namespaced = true;
  t.short_names = std::move(short_names);
  t.verbs = FullVerbs();
  return t;
}

Subresource StatusSub(const std::string& kind) {
  return Subresource{"status", GroupVersionKind{"apps", "v1", kind}, StatusVerbs()};
}
Subresource ScaleSub() {
  return Subresource{"scale", GroupVersionKind{"autoscaling", "v1", "Scale"}, StatusVerbs()};
}

void DefaultTemplate(Json& o) {
  Json& spec = Ensure(o, {"spec"});
  if (spec.contains("template") && spec["template"].is_object()) {
    defaults::DefaultPodTemplate(spec["template"]);
  }
}

void NonNegative(const Json& spec, const char* field, Causes* out) {
  if (Has(spec, {field}) && GetInt(spec, {field}) < 0) {
    out->push_back(v::Invalid(std::string("spec.") + field, GetInt(spec, {field}),
                              "must be greater than or equal to 0"));
  }
}

// Checks shared by Deployment, ReplicaSet, StatefulSet and DaemonSet specs.
void ValidateWorkloadSpec(const Json& o, const Json* old, const char* what, Causes* out) {
  const Json& spec = GetObject(o, {"spec"});
  const Json* selector = Get(spec, {"selector"});
  if (selector == nullptr || selector->is_null()) {
    out->push_back(v::Required("spec.selector"));
  } else {
    v::ValidateLabelSelector(*selector, "spec.selector", out);
    if (GetObject(*selector, {"matchLabels"}).empty() &&
        GetArray(*selector, {"matchExpressions"}).empty()) {
      out->push_back(v::Invalid("spec.selector", *selector,
                                std::string("empty selector is invalid for ") + what));
    }
  }
  if (!Has(spec, {"template"})) {
    out->push_back(v::Required("spec.template"));
  } else {
    const Json& labels = GetObject(spec, {"template", "metadata", "labels"});
    if (selector != nullptr && selector->is_object() && !v::SelectorMatches(*selector, labels)) {
      out->push_back(v::Invalid("spec.template.metadata.labels", labels,
                                "`selector` does not match template `labels`"));
    }
    v::ValidatePodTemplateSpec(spec["template"], "spec.template", out);
    std::string rp = GetString(spec, {"template", "spec", "restartPolicy"});
    if (rp != "Always") {
      out->push_back(v::NotSupported("spec.template.spec.restartPolicy", rp, {"Always"}));
    }
    if (Has(spec, {"template", "spec", "activeDeadlineSeconds"})) {
      out->push_back(v::Forbidden("spec.template.spec.activeDeadlineSeconds",
                                  std::string("activeDeadlineSeconds in ") +
                                      GetString(o, {"kind"}, "ReplicaSet") + " is not Supported"));
    }
  }
  NonNegative(spec, "replicas", out);
  NonNegative(spec, "minReadySeconds", out);
  NonNegative(spec, "revisionHistoryLimit", out);
  if (old != nullptr) {
    v::ValidateObjectMetaUpdate(o, *old, out);
    const Json* old_sel = Get(*old, {"spec", "selector"});
    if (old_sel != nullptr && selector != nullptr && *old_sel != *selector) {
      out->push_back(v::Immutable("spec.selector", *selector));
    }
  }
}

// IntOrString "25%" / 1: the value (percent flag set for strings).
bool IntOrPercent(const Json& v, int64_t* value, bool* percent) {
  if (v.is_number_integer()) {
    *value = v.get<int64_t>();
    *percent = false;
    return true;
  }
  if (v.is_string()) {
    std::string s = v.get<std::string>();
    if (!internal::EndsWith(s, "%")) return false;
    *percent = true;
    return absl::SimpleAtoi(s.substr(0, s.size() - 1), value);
  }
  return false;
}

void ValidateIntOrPercent(const Json& spec, std::initializer_list<std::string_view> path,
                          const std::string& field, Causes* out, int64_t* value) {
  *value = 0;
  const Json* v = Get(spec, path);
  if (v == nullptr || v->is_null()) return;
  bool percent = false;
  if (!IntOrPercent(*v, value, &percent)) {
    out->push_back(
        validation::Invalid(field, *v,
                            "a valid percent string must be a numeric string followed by an ending "
                            "'%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"));
    return;
  }
  if (*value < 0) {
    out->push_back(validation::Invalid(field, *v, "must be greater than or equal to 0"));
  } else if (percent && *value > 100) {
    out->push_back(validation::Invalid(field, *v, "must not be greater than 100%"));
  }
}

// ---------------- deployments ----------------

ResourceType Deployments() {
  ResourceType t = Apps("Deployment", "deployments", "deployment", {"deploy"});
  t.categories = {"all"};
  t.subresources = {ScaleSub(), StatusSub("Deployment")};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefault(spec, "replicas", 1);
    Json& strategy = Ensure(spec, {"strategy"});
    SetDefaultString(strategy, "type", "RollingUpdate");
    if (GetString(strategy, {"type"}) == "RollingUpdate") {
      Json& ru = Ensure(strategy, {"rollingUpdate"});
      SetDefault(ru, "maxUnavailable", "25%");
      SetDefault(ru, "maxSurge", "25%");
    }
    SetDefault(spec, "revisionHistoryLimit", 10);
    SetDefault(spec, "progressDeadlineSeconds", 600);
    DefaultTemplate(o);
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json::object();
    Ensure(o, {"metadata"})["generation"] = 1;
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    ValidateWorkloadSpec(o, old, "deployment", &out);
    const Json& spec = GetObject(o, {"spec"});
    std::string type = GetString(spec, {"strategy", "type"});
    if (type != "Recreate" && type != "RollingUpdate") {
      out.push_back(v::NotSupported("spec.strategy.type", type, {"Recreate", "RollingUpdate"}));
    }
    if (type == "Recreate" && Has(spec, {"strategy", "rollingUpdate"})) {
      out.push_back(v::Forbidden("spec.strategy.rollingUpdate",
                                 "may not be specified when strategy `type` is 'Recreate'"));
    }
    if (type == "RollingUpdate") {
      int64_t unavailable = 0, surge = 0;
      ValidateIntOrPercent(spec, {"strategy", "rollingUpdate", "maxUnavailable"},
                           "spec.strategy.rollingUpdate.maxUnavailable", &out, &unavailable);
      ValidateIntOrPercent(spec, {"strategy", "rollingUpdate", "maxSurge"},
                           "spec.strategy.rollingUpdate.maxSurge", &out, &surge);
      if (unavailable == 0 && surge == 0) {
        out.push_back(v::Invalid(
            "spec.strategy.rollingUpdate.maxUnavailable",
            GetObject(spec, {"strategy", "rollingUpdate"}).value("maxUnavailable", Json(0)),
            "may not be 0 when `maxSurge` is 0"));
      }
    }
    if (Has(spec, {"progressDeadlineSeconds"})) {
      int64_t pds = GetInt(spec, {"progressDeadlineSeconds"});
      if (pds <= GetInt(spec, {"minReadySeconds"})) {
        out.push_back(v::Invalid("spec.progressDeadlineSeconds", pds,
                                 "must be greater than minReadySeconds"));
      }
    }
    return out;
  };
  return t;
}

// ---------------- replicasets ----------------

ResourceType ReplicaSets() {
  ResourceType t = Apps("ReplicaSet", "replicasets", "replicaset", {"rs"});
  t.categories = {"all"};
  t.subresources = {ScaleSub(), StatusSub("ReplicaSet")};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.apply_defaults = [](Json& o) {
    SetDefault(Ensure(o, {"spec"}), "replicas", 1);
    DefaultTemplate(o);
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json{{"replicas", 0}};
    Ensure(o, {"metadata"})["generation"] = 1;
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    ValidateWorkloadSpec(o, old, "deployment", &out);
    return out;
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "status.replicas") return std::to_string(GetInt(o, {"status", "replicas"}));
    return std::nullopt;
  };
  return t;
}

// ---------------- statefulsets ----------------

ResourceType StatefulSets() {
  ResourceType t = Apps("StatefulSet", "statefulsets", "statefulset", {"sts"});
  t.categories = {"all"};
  t.subresources = {ScaleSub(), StatusSub("StatefulSet")};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefaultString(spec, "podManagementPolicy", "OrderedReady");
    Json& us = Ensure(spec, {"updateStrategy"});
    if (GetString(us, {"type"}).empty()) {
      us["type"] = "RollingUpdate";
      SetDefault(us, "rollingUpdate", Json::object());
    }
    if (GetString(us, {"type"}) == "RollingUpdate" && us.contains("rollingUpdate") &&
        us["rollingUpdate"].is_object()) {
      SetDefault(us["rollingUpdate"], "partition", 0);
    }
    Json& retention = Ensure(spec, {"persistentVolumeClaimRetentionPolicy"});
    SetDefaultString(retention, "whenDeleted", "Retain");
    SetDefaultString(retention, "whenScaled", "Retain");
    SetDefault(spec, "replicas", 1);
    SetDefault(spec, "revisionHistoryLimit", 10);
    if (spec.contains("volumeClaimTemplates") && spec["volumeClaimTemplates"].is_array()) {
      for (Json& pvc : spec["volumeClaimTemplates"]) {
        if (!pvc.is_object()) continue;
        defaults::DefaultPersistentVolumeClaimSpec(Ensure(pvc, {"spec"}));
        SetDefaultString(Ensure(pvc, {"status"}), "phase", "Pending");
      }
    }
    DefaultTemplate(o);
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json{{"replicas", 0}, {"availableReplicas", 0}};
    Ensure(o, {"metadata"})["generation"] = 1;
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    ValidateWorkloadSpec(o, old, "statefulset", &out);
    const Json& spec = GetObject(o, {"spec"});
    std::string pmp = GetString(spec, {"podManagementPolicy"});
    if (pmp != "OrderedReady" && pmp != "Parallel") {
      out.push_back(v::NotSupported("spec.podManagementPolicy", pmp, {"OrderedReady", "Parallel"}));
    }
    std::string ust = GetString(spec, {"updateStrategy", "type"});
    if (ust != "RollingUpdate" && ust != "OnDelete") {
      out.push_back(
          v::NotSupported("spec.updateStrategy.type", ust, {"OnDelete", "RollingUpdate"}));
    }
    if (ust == "OnDelete" && Has(spec, {"updateStrategy", "rollingUpdate"})) {
      out.push_back(v::Invalid("spec.updateStrategy.rollingUpdate",
                               spec["updateStrategy"]["rollingUpdate"],
                               "only allowed for updateStrategy 'RollingUpdate'"));
    }
    if (GetInt(spec, {"updateStrategy", "rollingUpdate", "partition"}) < 0) {
      out.push_back(v::Invalid("spec.updateStrategy.rollingUpdate.partition",
                               GetInt(spec, {"updateStrategy", "rollingUpdate", "partition"}),
                               "must be greater than or equal to 0"));
    }
    if (old != nullptr) {
      Json a = spec, b = GetObject(*old, {"spec"});
      for (Json* s : {&a, &b}) {
        for (const char* f : {"replicas", "ordinals", "template", "updateStrategy",
                              "persistentVolumeClaimRetentionPolicy", "minReadySeconds"}) {
          if (s->contains(f)) s->erase(f);
        }
      }
      if (a != b) {
        out.push_back(v::Forbidden(
            "spec",
            "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
            "'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
            "'minReadySeconds' are forbidden"));
      }
    }
    return out;
  };
  return t;
}

// ---------------- daemonsets ----------------

ResourceType DaemonSets() {
  ResourceType t = Apps("DaemonSet", "daemonsets", "daemonset", {"ds"});
  t.categories = {"all"};
  t.subresources = {StatusSub("DaemonSet")};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    Json& us = Ensure(spec, {"updateStrategy"});
    SetDefaultString(us, "type", "RollingUpdate");
    if (GetString(us, {"type"}) == "RollingUpdate") {
      Json& ru = Ensure(us, {"rollingUpdate"});
      SetDefault(ru, "maxUnavailable", 1);
      SetDefault(ru, "maxSurge", 0);
    }
    SetDefault(spec, "revisionHistoryLimit", 10);
    DefaultTemplate(o);
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json{{"currentNumberScheduled", 0},
                       {"numberMisscheduled", 0},
                       {"desiredNumberScheduled", 0},
                       {"numberReady", 0}};
    Ensure(o, {"metadata"})["generation"] = 1;
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    ValidateWorkloadSpec(o, old, "daemonset", &out);
    const Json& spec = GetObject(o, {"spec"});
    std::string ust = GetString(spec, {"updateStrategy", "type"});
    if (ust != "RollingUpdate" && ust != "OnDelete") {
      out.push_back(
          v::NotSupported("spec.updateStrategy.type", ust, {"OnDelete", "RollingUpdate"}));
    }
    if (ust == "RollingUpdate") {
      int64_t unavailable = 0, surge = 0;
      ValidateIntOrPercent(spec, {"updateStrategy", "rollingUpdate", "maxUnavailable"},
                           "spec.updateStrategy.rollingUpdate.maxUnavailable", &out, &unavailable);
      ValidateIntOrPercent(spec, {"updateStrategy", "rollingUpdate", "maxSurge"},
                           "spec.updateStrategy.rollingUpdate.maxSurge", &out, &surge);
      if (unavailable == 0 && surge == 0) {
        out.push_back(v::Invalid(
            "spec.updateStrategy.rollingUpdate.maxUnavailable",
            GetObject(spec, {"updateStrategy", "rollingUpdate"}).value("maxUnavailable", Json(0)),
            "may not be 0 when `maxSurge` is 0"));
      }
    }
    return out;
  };
  return t;
}

// ---------------- controllerrevisions ----------------

ResourceType ControllerRevisions() {
  ResourceType t = Apps("ControllerRevision", "controllerrevisions", "controllerrevision", {});
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    if (GetInt(o, {"revision"}) < 0) {
      out.push_back(
          v::Invalid("revision", GetInt(o, {"revision"}), "must be greater than or equal to 0"));
    }
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      const Json* nd = Get(o, {"data"});
      const Json* od = Get(*old, {"data"});
      Json a = nd ? *nd : Json(), b = od ? *od : Json();
      if (a != b) out.push_back(v::Immutable("data", a));
    }
    return out;
  };
  return t;
}

}  // namespace

void AddAppsTypes(std::vector<ResourceType>& out) {
  out.push_back(ControllerRevisions());
  out.push_back(DaemonSets());
  out.push_back(Deployments());
  out.push_back(ReplicaSets());
  out.push_back(StatefulSets());
}

}  // namespace korral::api::internal
