#include "korral/api/quota.h"

#include <algorithm>
#include <string>

#include "korral/api/defaults.h"

namespace korral::api {

namespace {

using Json = nlohmann::json;

const Json& Field(const Json& o, const char* k) {
  static const Json kNull;
  if (!o.is_object()) return kNull;
  auto it = o.find(k);
  return it == o.end() ? kNull : *it;
}

bool HasCrossNamespaceAffinity(const Json& pod) {
  const Json& affinity = Field(Field(pod, "spec"), "affinity");
  for (const char* kind : {"podAffinity", "podAntiAffinity"}) {
    const Json& a = Field(affinity, kind);
    std::vector<const Json*> terms;
    const Json& req = Field(a, "requiredDuringSchedulingIgnoredDuringExecution");
    if (req.is_array()) {
      for (const auto& t : req) terms.push_back(&t);
    }
    const Json& pref = Field(a, "preferredDuringSchedulingIgnoredDuringExecution");
    if (pref.is_array()) {
      for (const auto& w : pref) terms.push_back(&Field(w, "podAffinityTerm"));
    }
    for (const Json* t : terms) {
      const Json& ns = Field(*t, "namespaces");
      if ((ns.is_array() && !ns.empty()) || Field(*t, "namespaceSelector").is_object()) {
        return true;
      }
    }
  }
  return false;
}

// One scope with an operator (In / Exists for the plain spec.scopes entries).
bool ScopeMatches(const std::string& scope, const std::string& op, const Json& values,
                  const Json& pod) {
  const Json& spec = Field(pod, "spec");
  bool positive = op == "In" || op == "Exists";
  if (op != "In" && op != "NotIn" && op != "Exists" && op != "DoesNotExist") return false;
  if (scope == "PriorityClass") {
    const Json& pc = Field(spec, "priorityClassName");
    std::string name = pc.is_string() ? pc.get<std::string>() : "";
    if (op == "Exists") return !name.empty();
    if (op == "DoesNotExist") return name.empty();
    bool in = values.is_array() &&
              std::any_of(values.begin(), values.end(), [&](const Json& v) { return v == name; });
    return op == "In" ? in : !in;
  }
  bool m;
  const Json& deadline = Field(spec, "activeDeadlineSeconds");
  if (scope == "Terminating") {
    m = deadline.is_number() && deadline.get<int64_t>() >= 0;
  } else if (scope == "NotTerminating") {
    m = !(deadline.is_number() && deadline.get<int64_t>() >= 0);
  } else if (scope == "BestEffort") {
    m = defaults::PodQosClass(pod) == "BestEffort";
  } else if (scope == "NotBestEffort") {
    m = defaults::PodQosClass(pod) != "BestEffort";
  } else if (scope == "CrossNamespacePodAffinity") {
    m = HasCrossNamespaceAffinity(pod);
  } else {
    return false;
  }
  return positive ? m : !m;
}

}  // namespace

bool QuotaHasScopes(const Json& quota) {
  const Json& spec = Field(quota, "spec");
  const Json& scopes = Field(spec, "scopes");
  const Json& exprs = Field(Field(spec, "scopeSelector"), "matchExpressions");
  return (scopes.is_array() && !scopes.empty()) || (exprs.is_array() && !exprs.empty());
}

bool QuotaScopesMatchPod(const Json& quota, const Json& pod) {
  const Json& spec = Field(quota, "spec");
  const Json& scopes = Field(spec, "scopes");
  if (scopes.is_array()) {
    for (const auto& s : scopes) {
      if (!s.is_string() || !ScopeMatches(s.get<std::string>(), "Exists", Json(), pod)) {
        return false;
      }
    }
  }
  const Json& exprs = Field(Field(spec, "scopeSelector"), "matchExpressions");
  if (exprs.is_array()) {
    for (const auto& e : exprs) {
      const Json& name = Field(e, "scopeName");
      const Json& op = Field(e, "operator");
      if (!name.is_string() || !op.is_string() ||
          !ScopeMatches(name.get<std::string>(), op.get<std::string>(), Field(e, "values"), pod)) {
        return false;
      }
    }
  }
  return true;
}

}  // namespace korral::api
