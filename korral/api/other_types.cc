// korral/api/other_types.cc: events.k8s.io, policy, rbac.authorization.k8s.io,
// coordination.k8s.io and discovery.k8s.io resource types.
#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api::internal {
namespace {

namespace v = validation;
using v::Causes;

constexpr char kRbacGroup[] = "rbac.authorization.k8s.io";

ResourceType Make(std::string group, std::string kind, std::string resource, std::string singular,
                  bool namespaced, std::vector<std::string> short_names = {}) {
  ResourceType t;
  t.gvk = GroupVersionKind{std::move(group), "v1", kind};
  t.resource = std::move(resource);
  t.singular = std::move(singular);
  t.list_kind = kind + "List";
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.verbs = FullVerbs();
  return t;
}

Causes MetaOnly(const Json& o, const Json* old, bool namespaced, v::NameValidator name) {
  Causes out;
  v::ValidateObjectMeta(o, namespaced, name, &out);
  if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
  return out;
}

// ---------------- events.k8s.io ----------------

ResourceType EventsV1() {
  ResourceType t = Make("events.k8s.io", "Event", "events", "event", true, {"ev"});
  t.validate = [](const Json& o, const Json* old) {
    Causes out = MetaOnly(o, old, true, v::IsDns1123Subdomain);
    if (old != nullptr) return out;
    if (GetString(o, {"eventTime"}).empty()) out.push_back(v::Required("eventTime"));
    std::string type = GetString(o, {"type"});
    if (type != "Normal" && type != "Warning") {
      out.push_back(v::Invalid("type", "", "has invalid value: " + type));
    }
    std::string rc = GetString(o, {"reportingController"});
    if (rc.empty()) {
      out.push_back(v::Required("reportingController"));
    } else {
      for (auto& m : v::IsQualifiedName(rc))
        out.push_back(v::Invalid("reportingController", rc, m));
    }
    if (GetString(o, {"reportingInstance"}).empty())
      out.push_back(v::Required("reportingInstance"));
    if (GetString(o, {"action"}).empty()) out.push_back(v::Required("action"));
    if (GetString(o, {"reason"}).empty()) out.push_back(v::Required("reason"));
    return out;
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    static const std::pair<std::string_view, std::string_view> kRegarding[] = {
        {"regarding.kind", "kind"},
        {"regarding.namespace", "namespace"},
        {"regarding.name", "name"},
        {"regarding.uid", "uid"},
        {"regarding.apiVersion", "apiVersion"},
        {"regarding.resourceVersion", "resourceVersion"},
        {"regarding.fieldPath", "fieldPath"},
    };
    for (auto& [name, key] : kRegarding) {
      if (f == name) return GetString(o, {"regarding", key});
    }
    if (f == "reason") return GetString(o, {"reason"});
    if (f == "reportingController") return GetString(o, {"reportingController"});
    if (f == "type") return GetString(o, {"type"});
    return std::nullopt;
  };
  return t;
}

// ---------------- policy ----------------

ResourceType PodDisruptionBudgets() {
  ResourceType t = Make("policy", "PodDisruptionBudget", "poddisruptionbudgets",
                        "poddisruptionbudget", true, {"pdb"});
  t.subresources = {Subresource{"status", GroupVersionKind{"policy", "v1", "PodDisruptionBudget"},
                                StatusVerbs()}};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json{{"disruptionsAllowed", 0},
                       {"currentHealthy", 0},
                       {"desiredHealthy", 0},
                       {"expectedPods", 0}};
    Ensure(o, {"metadata"})["generation"] = 1;
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out = MetaOnly(o, old, true, v::IsDns1123Subdomain);
    const Json& spec = GetObject(o, {"spec"});
    if (Has(spec, {"minAvailable"}) && Has(spec, {"maxUnavailable"})) {
      out.push_back(v::Invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"));
    }
    for (const char* f : {"minAvailable", "maxUnavailable"}) {
      const Json* val = Get(spec, {f});
      if (val == nullptr || val->is_null()) continue;
      if (val->is_number_integer() && val->get<int64_t>() < 0) {
        out.push_back(v::Invalid(v::Child("spec", f), *val, "must be greater than or equal to 0"));
      }
    }
    if (Has(spec, {"selector"})) v::ValidateLabelSelector(spec["selector"], "spec.selector", &out);
    if (Has(spec, {"unhealthyPodEvictionPolicy"})) {
      std::string p = GetString(spec, {"unhealthyPodEvictionPolicy"});
      if (p != "IfHealthyBudget" && p != "AlwaysAllow") {
        out.push_back(v::NotSupported("spec.unhealthyPodEvictionPolicy", p,
                                      {"AlwaysAllow", "IfHealthyBudget"}));
      }
    }
    return out;
  };
  return t;
}

// ---------------- rbac ----------------

void ValidateRules(const Json& o, bool namespaced, Causes* out) {
  const Json& rules = GetArray(o, {"rules"});
  for (size_t i = 0; i < rules.size(); ++i) {
    std::string p = v::Index("rules", i);
    const Json& r = rules[i];
    if (GetArray(r, {"verbs"}).empty()) {
      out->push_back(v::Required(v::Child(p, "verbs"), "verbs must contain at least one value"));
    }
    const Json& urls = GetArray(r, {"nonResourceURLs"});
    if (!urls.empty()) {
      if (namespaced) {
        out->push_back(v::Invalid(v::Child(p, "nonResourceURLs"), urls,
                                  "namespaced rules cannot apply to non-resource URLs"));
      }
      if (!GetArray(r, {"apiGroups"}).empty() || !GetArray(r, {"resources"}).empty() ||
          !GetArray(r, {"resourceNames"}).empty()) {
        out->push_back(v::Invalid(v::Child(p, "nonResourceURLs"), urls,
                                  "rules cannot apply to both regular resources and non-resource "
                                  "URLs"));
      }
      continue;
    }
    if (GetArray(r, {"apiGroups"}).empty()) {
      out->push_back(v::Required(v::Child(p, "apiGroups"),
                                 "resource rules must supply at least one api group"));
    }
    if (GetArray(r, {"resources"}).empty()) {
      out->push_back(v::Required(v::Child(p, "resources"),
                                 "resource rules must supply at least one resource"));
    }
  }
}

ResourceType Roles(bool cluster) {
  ResourceType t = cluster ? Make(kRbacGroup, "ClusterRole", "clusterroles", "clusterrole", false)
                           : Make(kRbacGroup, "Role", "roles", "role", true);
  t.validate = [cluster](const Json& o, const Json* old) {
    Causes out = MetaOnly(o, old, !cluster, v::IsValidPathSegmentName);
    ValidateRules(o, !cluster, &out);
    return out;
  };
  return t;
}

void DefaultBinding(Json& o) {
  if (o.contains("roleRef") && o["roleRef"].is_object()) {
    SetDefaultString(o["roleRef"], "apiGroup", kRbacGroup);
  }
  if (o.contains("subjects") && o["subjects"].is_array()) {
    for (Json& s : o["subjects"]) {
      if (!s.is_object() || s.contains("apiGroup")) continue;
      std::string kind = GetString(s, {"kind"});
      if (kind == "ServiceAccount") s["apiGroup"] = "";
      if (kind == "User" || kind == "Group") s["apiGroup"] = kRbacGroup;
    }
  }
}

ResourceType Bindings(bool cluster) {
  ResourceType t = cluster ? Make(kRbacGroup, "ClusterRoleBinding", "clusterrolebindings",
                                  "clusterrolebinding", false)
                           : Make(kRbacGroup, "RoleBinding", "rolebindings", "rolebinding", true);
  t.apply_defaults = DefaultBinding;
  t.validate = [cluster](const Json& o, const Json* old) {
    Causes out = MetaOnly(o, old, !cluster, v::IsValidPathSegmentName);
    const Json& ref = GetObject(o, {"roleRef"});
    std::string group = GetString(ref, {"apiGroup"});
    if (group != kRbacGroup)
      out.push_back(v::NotSupported("roleRef.apiGroup", group, {kRbacGroup}));
    std::string kind = GetString(ref, {"kind"});
    if (cluster && kind != "ClusterRole") {
      out.push_back(v::NotSupported("roleRef.kind", kind, {"ClusterRole"}));
    } else if (!cluster && kind != "Role" && kind != "ClusterRole") {
      out.push_back(v::NotSupported("roleRef.kind", kind, {"Role", "ClusterRole"}));
    }
    std::string name = GetString(ref, {"name"});
    if (name.empty()) {
      out.push_back(v::Required("roleRef.name"));
    } else {
      for (auto& m : v::IsValidPathSegmentName(name))
        out.push_back(v::Invalid("roleRef.name", name, m));
    }
    const Json& subjects = GetArray(o, {"subjects"});
    for (size_t i = 0; i < subjects.size(); ++i) {
      std::string p = v::Index("subjects", i);
      const Json& s = subjects[i];
      std::string sname = GetString(s, {"name"});
      if (sname.empty()) out.push_back(v::Required(v::Child(p, "name")));
      std::string skind = GetString(s, {"kind"});
      std::string sgroup = GetString(s, {"apiGroup"});
      if (skind == "ServiceAccount") {
        if (!sgroup.empty()) {
          out.push_back(v::NotSupported(v::Child(p, "apiGroup"), sgroup, {""}));
        }
        if (!sname.empty()) {
          for (auto& m : v::IsDns1123Subdomain(sname)) {
            out.push_back(v::Invalid(v::Child(p, "name"), sname, m));
          }
        }
        if (cluster && GetString(s, {"namespace"}).empty()) {
          out.push_back(v::Required(v::Child(p, "namespace")));
        }
      } else if (skind == "User" || skind == "Group") {
        if (sgroup != kRbacGroup) {
          out.push_back(v::NotSupported(v::Child(p, "apiGroup"), sgroup, {kRbacGroup}));
        }
      } else {
        out.push_back(
            v::NotSupported(v::Child(p, "kind"), skind, {"ServiceAccount", "User", "Group"}));
      }
    }
    if (old != nullptr && GetObject(*old, {"roleRef"}) != ref) {
      out.push_back(v::Invalid("roleRef", ref, "cannot change roleRef"));
    }
    return out;
  };
  return t;
}

// ---------------- coordination.k8s.io ----------------

ResourceType Leases() {
  ResourceType t = Make("coordination.k8s.io", "Lease", "leases", "lease", true);
  t.validate = [](const Json& o, const Json* old) {
    Causes out = MetaOnly(o, old, true, v::IsDns1123Subdomain);
    const Json& spec = GetObject(o, {"spec"});
    if (Has(spec, {"leaseDurationSeconds"}) && GetInt(spec, {"leaseDurationSeconds"}) <= 0) {
      out.push_back(v::Invalid("spec.leaseDurationSeconds", GetInt(spec, {"leaseDurationSeconds"}),
                               "must be greater than 0"));
    }
    if (Has(spec, {"leaseTransitions"}) && GetInt(spec, {"leaseTransitions"}) < 0) {
      out.push_back(v::Invalid("spec.leaseTransitions", GetInt(spec, {"leaseTransitions"}),
                               "must be greater than or equal to 0"));
    }
    return out;
  };
  return t;
}

// ---------------- discovery.k8s.io ----------------

ResourceType EndpointSlices() {
  ResourceType t =
      Make("discovery.k8s.io", "EndpointSlice", "endpointslices", "endpointslice", true);
  t.apply_defaults = [](Json& o) {
    if (!o.contains("ports") || !o["ports"].is_array()) return;
    for (Json& p : o["ports"]) {
      if (!p.is_object()) continue;
      SetDefault(p, "name", "");
      SetDefaultString(p, "protocol", "TCP");
    }
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out = MetaOnly(o, old, true, v::IsDns1123Subdomain);
    std::string at = GetString(o, {"addressType"});
    if (at.empty()) {
      out.push_back(v::Required("addressType"));
    } else if (at != "IPv4" && at != "IPv6" && at != "FQDN") {
      out.push_back(v::NotSupported("addressType", at, {"FQDN", "IPv4", "IPv6"}));
    }
    const Json& eps = GetArray(o, {"endpoints"});
    for (size_t i = 0; i < eps.size(); ++i) {
      std::string p = v::Index("endpoints", i);
      const Json& addrs = GetArray(eps[i], {"addresses"});
      if (addrs.empty()) {
        out.push_back(v::Required(v::Child(p, "addresses"), "must contain at least 1 address"));
      }
      for (size_t j = 0; j < addrs.size(); ++j) {
        std::string a = addrs[j].is_string() ? addrs[j].get<std::string>() : "";
        std::string ap = v::Index(v::Child(p, "addresses"), j);
        if (at == "FQDN") {
          for (auto& m : v::IsDns1123Subdomain(a)) out.push_back(v::Invalid(ap, a, m));
        } else {
          for (auto& m : v::IsValidIP(a)) out.push_back(v::Invalid(ap, a, m));
        }
      }
    }
    const Json& ports = GetArray(o, {"ports"});
    for (size_t i = 0; i < ports.size(); ++i) {
      std::string p = v::Index("ports", i);
      if (Has(ports[i], {"port"})) {
        int64_t n = GetInt(ports[i], {"port"});
        for (auto& m : v::IsValidPortNum(n)) out.push_back(v::Invalid(v::Child(p, "port"), n, m));
      }
      std::string proto = GetString(ports[i], {"protocol"});
      if (!proto.empty() && proto != "TCP" && proto != "UDP" && proto != "SCTP") {
        out.push_back(v::NotSupported(v::Child(p, "protocol"), proto, {"SCTP", "TCP", "UDP"}));
      }
    }
    if (old != nullptr) {
      std::string old_at = GetString(*old, {"addressType"});
      if (old_at != at) out.push_back(v::Immutable("addressType", at));
    }
    return out;
  };
  return t;
}

}  // namespace

void AddOtherTypes(std::vector<ResourceType>& out) {
  out.push_back(EventsV1());
  out.push_back(PodDisruptionBudgets());
  out.push_back(Roles(true));
  out.push_back(Bindings(true));
  out.push_back(Bindings(false));
  out.push_back(Roles(false));
  out.push_back(Leases());
  out.push_back(EndpointSlices());
}

}  // namespace korral::api::internal
