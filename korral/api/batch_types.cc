// korral/api/batch_types.cc: batch/v1 resource types (jobs, cronjobs).
#include "korral/api/defaults.h"
#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api::internal {
namespace {

namespace v = validation;
using v::Causes;

constexpr char kControllerUidLabel[] = "batch.kubernetes.io/controller-uid";
constexpr char kJobNameLabel[] = "batch.kubernetes.io/job-name";
constexpr char kLegacyControllerUidLabel[] = "controller-uid";
constexpr char kLegacyJobNameLabel[] = "job-name";

ResourceType Batch(std::string kind, std::string resource, std::string singular,
                   std::vector<std::string> short_names) {
  ResourceType t;
  t.gvk = GroupVersionKind{"batch", "v1", kind};
  t.resource = std::move(resource);
  t.singular = std::move(singular);
  t.list_kind = kind + "List";
  t.namespaced = true;
  t.short_names = std::move(short_names);
  t.categories = {"all"};
  t.verbs = FullVerbs();
  t.subresources = {Subresource{"status", GroupVersionKind{"batch", "v1", kind}, StatusVerbs()}};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  return t;
}

// JobSpec validation at `path` ("spec" or "spec.jobTemplate.spec").
void ValidateJobSpec(const Json& spec, const std::string& path, Causes* out) {
  for (const char* f : {"parallelism", "completions", "backoffLimit"}) {
    if (Has(spec, {f}) && GetInt(spec, {f}) < 0) {
      out->push_back(
          v::Invalid(v::Child(path, f), GetInt(spec, {f}), "must be greater than or equal to 0"));
    }
  }
  if (Has(spec, {"activeDeadlineSeconds"}) && GetInt(spec, {"activeDeadlineSeconds"}) <= 0) {
    out->push_back(v::Invalid(v::Child(path, "activeDeadlineSeconds"),
                              GetInt(spec, {"activeDeadlineSeconds"}), "must be greater than 0"));
  }
  if (Has(spec, {"completionMode"})) {
    std::string cm = GetString(spec, {"completionMode"});
    if (cm != "NonIndexed" && cm != "Indexed") {
      out->push_back(
          v::NotSupported(v::Child(path, "completionMode"), cm, {"NonIndexed", "Indexed"}));
    }
    if (cm == "Indexed" && !Has(spec, {"completions"})) {
      out->push_back(v::Required(v::Child(path, "completions"), "when completion mode is Indexed"));
    }
  }
  if (Has(spec, {"podReplacementPolicy"})) {
    std::string p = GetString(spec, {"podReplacementPolicy"});
    if (p != "TerminatingOrFailed" && p != "Failed") {
      out->push_back(v::NotSupported(v::Child(path, "podReplacementPolicy"), p,
                                     {"TerminatingOrFailed", "Failed"}));
    }
  }
  const Json* selector = Get(spec, {"selector"});
  if (selector != nullptr && selector->is_object()) {
    v::ValidateLabelSelector(*selector, v::Child(path, "selector"), out);
    const Json& labels = GetObject(spec, {"template", "metadata", "labels"});
    if (!v::SelectorMatches(*selector, labels)) {
      out->push_back(v::Invalid(v::Child(path, "template.metadata.labels"), labels,
                                "`selector` does not match template `labels`"));
    }
  }
  std::string tpath = v::Child(path, "template");
  v::ValidatePodTemplateSpec(GetObject(spec, {"template"}), tpath, out);
  std::string rp = GetString(spec, {"template", "spec", "restartPolicy"});
  if (rp != "OnFailure" && rp != "Never") {
    out->push_back(
        v::NotSupported(v::Child(tpath, "spec.restartPolicy"), rp, {"OnFailure", "Never"}));
  }
}

// ---------------- jobs ----------------

void DefaultJobSpec(Json& spec) {
  if (!Has(spec, {"completions"}) && !Has(spec, {"parallelism"})) {
    spec["completions"] = 1;
    spec["parallelism"] = 1;
  }
  SetDefault(spec, "parallelism", 1);
  SetDefault(spec, "backoffLimit", Has(spec, {"backoffLimitPerIndex"}) ? 2147483647 : 6);
  SetDefaultString(spec, "completionMode", "NonIndexed");
  SetDefault(spec, "suspend", false);
  SetDefaultString(spec, "podReplacementPolicy",
                   Has(spec, {"podFailurePolicy"}) ? "Failed" : "TerminatingOrFailed");
  if (spec.contains("template") && spec["template"].is_object()) {
    defaults::DefaultPodTemplate(spec["template"]);
  }
}

// Upstream's generateSelector: labels the template with the job's uid and name and selects on
// the uid, unless spec.manualSelector is true.
void GenerateJobSelector(Json& o) {
  Json& spec = Ensure(o, {"spec"});
  if (GetBool(spec, {"manualSelector"})) return;
  std::string uid = GetString(o, {"metadata", "uid"});
  std::string name = GetString(o, {"metadata", "name"});
  if (uid.empty()) return;
  Json& labels = Ensure(spec, {"template", "metadata", "labels"});
  for (const char* key : {kLegacyControllerUidLabel, kControllerUidLabel}) {
    if (!labels.contains(key)) labels[key] = uid;
  }
  for (const char* key : {kLegacyJobNameLabel, kJobNameLabel}) {
    if (!labels.contains(key)) labels[key] = name;
  }
  Json& selector = Ensure(spec, {"selector"});
  Json& match = Ensure(selector, {"matchLabels"});
  if (!match.contains(kControllerUidLabel)) match[kControllerUidLabel] = uid;
}

Causes ValidateJob(const Json& o, const Json* old) {
  Causes out;
  v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
  const Json& spec = GetObject(o, {"spec"});
  if (!GetBool(spec, {"manualSelector"})) {
    // The selector must be the generated one.
    std::string uid = GetString(o, {"metadata", "uid"});
    const Json* selector = Get(spec, {"selector"});
    if (!uid.empty() && selector != nullptr &&
        GetString(*selector, {"matchLabels", kControllerUidLabel}) != uid) {
      out.push_back(v::Invalid("spec.selector", *selector, "`selector` not auto-generated"));
    }
  } else if (!Has(spec, {"selector"})) {
    out.push_back(v::Required("spec.selector"));
  }
  ValidateJobSpec(spec, "spec", &out);
  if (old != nullptr) {
    v::ValidateObjectMetaUpdate(o, *old, &out);
    const Json& old_spec = GetObject(*old, {"spec"});
    auto immutable = [&](const char* f) {
      const Json* n = Get(spec, {f});
      const Json* p = Get(old_spec, {f});
      Json a = n ? *n : Json(), b = p ? *p : Json();
      if (a != b) out.push_back(v::Immutable(v::Child("spec", f), a));
    };
    immutable("selector");
    immutable("completionMode");
    immutable("podFailurePolicy");
    if (GetString(spec, {"completionMode"}) != "Indexed") immutable("completions");
    // The template is immutable, except scheduling directives of a suspended job.
    Json a = GetObject(spec, {"template"}), b = GetObject(old_spec, {"template"});
    if (GetBool(spec, {"suspend"}) && GetBool(old_spec, {"suspend"})) {
      for (Json* t : {&a, &b}) {
        if (!t->contains("spec") || !(*t)["spec"].is_object()) continue;
        for (const char* f : {"nodeSelector", "affinity", "tolerations", "schedulingGates"}) {
          (*t)["spec"].erase(f);
        }
        if (t->contains("metadata") && (*t)["metadata"].is_object()) {
          (*t)["metadata"].erase("labels");
          (*t)["metadata"].erase("annotations");
        }
      }
    }
    if (a != b) out.push_back(v::Immutable("spec.template", GetObject(spec, {"template"})));
  }
  return out;
}

ResourceType Jobs() {
  ResourceType t = Batch("Job", "jobs", "job", {});
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    DefaultJobSpec(spec);
    const Json& tlabels = GetObject(spec, {"template", "metadata", "labels"});
    if (!tlabels.empty() && GetObject(o, {"metadata", "labels"}).empty()) {
      Ensure(o, {"metadata"})["labels"] = tlabels;
    }
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json::object();
    Ensure(o, {"metadata"})["generation"] = 1;
    GenerateJobSelector(o);
  };
  t.validate = ValidateJob;
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "status.successful") return std::to_string(GetInt(o, {"status", "succeeded"}));
    return std::nullopt;
  };
  return t;
}

// ---------------- cronjobs ----------------

ResourceType CronJobs() {
  ResourceType t = Batch("CronJob", "cronjobs", "cronjob", {"cj"});
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefaultString(spec, "concurrencyPolicy", "Allow");
    SetDefault(spec, "suspend", false);
    SetDefault(spec, "successfulJobsHistoryLimit", 3);
    SetDefault(spec, "failedJobsHistoryLimit", 1);
    Json* tmpl = nullptr;
    if (spec.contains("jobTemplate") && spec["jobTemplate"].is_object() &&
        spec["jobTemplate"].contains("spec") && spec["jobTemplate"]["spec"].is_object() &&
        spec["jobTemplate"]["spec"].contains("template")) {
      tmpl = &spec["jobTemplate"]["spec"]["template"];
    }
    if (tmpl != nullptr && tmpl->is_object()) defaults::DefaultPodTemplate(*tmpl);
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json::object();
    Ensure(o, {"metadata"})["generation"] = 1;
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    std::string name = GetString(o, {"metadata", "name"});
    if (name.size() > 52) {
      out.push_back(v::Invalid("metadata.name", name, "must be no more than 52 characters"));
    }
    const Json& spec = GetObject(o, {"spec"});
    std::string schedule = GetString(spec, {"schedule"});
    if (schedule.empty()) out.push_back(v::Required("spec.schedule"));
    std::string cp = GetString(spec, {"concurrencyPolicy"});
    if (cp != "Allow" && cp != "Forbid" && cp != "Replace") {
      out.push_back(v::NotSupported("spec.concurrencyPolicy", cp, {"Allow", "Forbid", "Replace"}));
    }
    for (const char* f :
         {"startingDeadlineSeconds", "successfulJobsHistoryLimit", "failedJobsHistoryLimit"}) {
      if (Has(spec, {f}) && GetInt(spec, {f}) < 0) {
        out.push_back(v::Invalid(v::Child("spec", f), GetInt(spec, {f}),
                                 "must be greater than or equal to 0"));
      }
    }
    ValidateJobSpec(GetObject(spec, {"jobTemplate", "spec"}), "spec.jobTemplate.spec", &out);
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

}  // namespace

void AddBatchTypes(std::vector<ResourceType>& out) {
  out.push_back(CronJobs());
  out.push_back(Jobs());
}

}  // namespace korral::api::internal
