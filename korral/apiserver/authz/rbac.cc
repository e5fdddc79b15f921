#include "korral/apiserver/authz/rbac.h"

#include <fmt/format.h>

#include <algorithm>

#include "korral/apimachinery/labels.h"

namespace korral::apiserver::authz {

using Json = nlohmann::json;

namespace {

std::vector<std::string> Strings(const Json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.is_object() || !j.contains(key) || !j[key].is_array()) return out;
  for (const auto& v : j[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

bool Has(const std::vector<std::string>& v, std::string_view s) {
  for (const auto& x : v) {
    if (x == s) return true;
  }
  return false;
}

bool VerbMatches(const PolicyRule& r, std::string_view verb) {
  return Has(r.verbs, "*") || Has(r.verbs, verb);
}

bool GroupMatches(const PolicyRule& r, std::string_view group) {
  return Has(r.api_groups, "*") || Has(r.api_groups, group);
}

bool ResourceMatches(const PolicyRule& r, std::string_view resource, std::string_view sub) {
  for (const auto& x : r.resources) {
    if (x == "*") return true;
    if (sub.empty()) {
      if (x == resource) return true;
      continue;
    }
    // "pods/log", "pods/*", "*/log"
    size_t slash = x.find('/');
    if (slash == std::string::npos) continue;
    std::string_view xr(x.data(), slash), xs(x.data() + slash + 1, x.size() - slash - 1);
    if ((xr == resource || xr == "*") && (xs == sub || xs == "*")) return true;
  }
  return false;
}

bool NameMatches(const PolicyRule& r, std::string_view name) {
  if (r.resource_names.empty()) return true;
  return Has(r.resource_names, name);
}

bool UrlMatches(const PolicyRule& r, std::string_view path) {
  for (const auto& u : r.non_resource_urls) {
    if (u == "*" || u == path) return true;
    if (!u.empty() && u.back() == '*' && path.substr(0, u.size() - 1) == u.substr(0, u.size() - 1))
      return true;
  }
  return false;
}

std::string Quoted(const std::vector<std::string>& v) {
  std::string out = "[";
  for (size_t i = 0; i < v.size(); ++i) out += (i ? " \"" : "\"") + v[i] + "\"";
  return out + "]";
}

// Does the single owner rule cover the atomic requested rule?
bool RuleCovers(const PolicyRule& o, const PolicyRule& r) {
  if (!r.non_resource_urls.empty()) {
    if (o.non_resource_urls.empty()) return false;
    if (!VerbMatches(o, r.verbs[0])) return false;
    const std::string& u = r.non_resource_urls[0];
    for (const auto& ou : o.non_resource_urls) {
      if (ou == "*" || ou == u) return true;
      if (!ou.empty() && ou.back() == '*' && u.rfind(ou.substr(0, ou.size() - 1), 0) == 0)
        return true;
    }
    return false;
  }
  if (!VerbMatches(o, r.verbs[0])) return false;
  if (!GroupMatches(o, r.api_groups[0])) return false;
  const std::string& res = r.resources[0];
  bool res_ok = false;
  for (const auto& x : o.resources) {
    if (x == "*" || x == res) {
      res_ok = true;
      break;
    }
    // owner "pods/*" covers "pods/log"; owner "*/log" covers "pods/log"
    size_t slash = x.find('/'), rslash = res.find('/');
    if (slash != std::string::npos && rslash != std::string::npos) {
      std::string xr = x.substr(0, slash), xs = x.substr(slash + 1);
      std::string rr = res.substr(0, rslash), rs = res.substr(rslash + 1);
      if ((xr == rr || xr == "*") && (xs == rs || xs == "*")) {
        res_ok = true;
        break;
      }
    }
  }
  if (!res_ok) return false;
  if (o.resource_names.empty()) return true;
  if (r.resource_names.empty()) return false;
  return Has(o.resource_names, r.resource_names[0]);
}

// Splits a rule into rules with one verb, group, resource and name each.
void Breakdown(const PolicyRule& r, std::vector<PolicyRule>* out) {
  for (const auto& v : r.verbs) {
    for (const auto& u : r.non_resource_urls) {
      PolicyRule a;
      a.verbs = {v};
      a.non_resource_urls = {u};
      out->push_back(std::move(a));
    }
    for (const auto& g : r.api_groups) {
      for (const auto& res : r.resources) {
        if (r.resource_names.empty()) {
          PolicyRule a;
          a.verbs = {v};
          a.api_groups = {g};
          a.resources = {res};
          out->push_back(std::move(a));
        }
        for (const auto& n : r.resource_names) {
          PolicyRule a;
          a.verbs = {v};
          a.api_groups = {g};
          a.resources = {res};
          a.resource_names = {n};
          out->push_back(std::move(a));
        }
      }
    }
  }
}

}  // namespace

PolicyRule PolicyRule::FromJson(const Json& j) {
  PolicyRule r;
  r.verbs = Strings(j, "verbs");
  r.api_groups = Strings(j, "apiGroups");
  r.resources = Strings(j, "resources");
  r.resource_names = Strings(j, "resourceNames");
  r.non_resource_urls = Strings(j, "nonResourceURLs");
  return r;
}

Json PolicyRule::ToJson() const {
  Json j = Json::object();
  j["verbs"] = verbs;
  if (!api_groups.empty()) j["apiGroups"] = api_groups;
  if (!resources.empty()) j["resources"] = resources;
  if (!resource_names.empty()) j["resourceNames"] = resource_names;
  if (!non_resource_urls.empty()) j["nonResourceURLs"] = non_resource_urls;
  return j;
}

std::string PolicyRule::String() const {
  std::string s = "{";
  std::vector<std::string> parts;
  if (!api_groups.empty()) parts.push_back("APIGroups:" + Quoted(api_groups));
  if (!resources.empty()) parts.push_back("Resources:" + Quoted(resources));
  if (!resource_names.empty()) parts.push_back("ResourceNames:" + Quoted(resource_names));
  if (!non_resource_urls.empty()) parts.push_back("NonResourceURLs:" + Quoted(non_resource_urls));
  parts.push_back("Verbs:" + Quoted(verbs));
  for (size_t i = 0; i < parts.size(); ++i) s += (i ? ", " : "") + parts[i];
  return s + "}";
}

bool RuleAllows(const PolicyRule& r, const Attributes& a) {
  if (!a.resource_request) {
    return !r.non_resource_urls.empty() && VerbMatches(r, a.verb) && UrlMatches(r, a.path);
  }
  return !r.resources.empty() && VerbMatches(r, a.verb) && GroupMatches(r, a.api_group) &&
         ResourceMatches(r, a.resource, a.subresource) && NameMatches(r, a.name);
}

bool Covers(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& requested,
            std::vector<PolicyRule>* missing) {
  std::vector<PolicyRule> atoms;
  for (const auto& r : requested) Breakdown(r, &atoms);
  bool ok = true;
  for (const auto& a : atoms) {
    bool covered = false;
    for (const auto& o : owner) {
      if (RuleCovers(o, a)) {
        covered = true;
        break;
      }
    }
    if (!covered) {
      ok = false;
      if (missing) missing->push_back(a);
    }
  }
  return ok;
}

std::shared_ptr<const RbacIndex> RbacIndex::Build(const Objects& objs) {
  auto idx = std::make_shared<RbacIndex>();
  auto rules_of = [](const Json& role) {
    auto v = std::make_shared<std::vector<PolicyRule>>();
    if (role.contains("rules") && role["rules"].is_array()) {
      for (const auto& r : role["rules"]) v->push_back(PolicyRule::FromJson(r));
    }
    return v;
  };
  auto name_of = [](const Json& o) -> std::string {
    return o.contains("metadata") ? o["metadata"].value("name", "") : "";
  };
  auto ns_of = [](const Json& o) -> std::string {
    return o.contains("metadata") ? o["metadata"].value("namespace", "") : "";
  };
  // Cluster roles, then aggregation. Aggregated roles can select other aggregated roles
  // (admin selects edit, edit selects view), so iterate to a fixed point.
  std::map<std::string, Json> effective;
  std::vector<const Json*> aggregating;
  for (const auto& cr : objs.cluster_roles) {
    Json rules = cr.contains("rules") && cr["rules"].is_array() ? cr["rules"] : Json::array();
    effective[name_of(cr)] = rules;
    if (cr.contains("aggregationRule") && cr["aggregationRule"].is_object())
      aggregating.push_back(&cr);
  }
  for (int pass = 0; pass < 8; ++pass) {
    bool changed = false;
    for (const Json* agg : aggregating) {
      const Json& sels = (*agg)["aggregationRule"].value("clusterRoleSelectors", Json::array());
      Json combined = Json::array();
      for (const auto& sel : sels) {
        auto ls = labels::FromLabelSelectorJson(sel);
        if (!ls.ok()) continue;
        for (const auto& cr : objs.cluster_roles) {
          if (&cr == agg) continue;
          Json lbls = cr["metadata"].value("labels", Json::object());
          if (!ls->Matches(lbls)) continue;
          for (const auto& r : effective[name_of(cr)]) {
            // Deduplicate (a role can match several selectors).
            if (std::find(combined.begin(), combined.end(), r) == combined.end())
              combined.push_back(r);
          }
        }
      }
      Json& cur = effective[name_of(*agg)];
      if (cur != combined) {
        cur = std::move(combined);
        changed = true;
      }
    }
    if (!changed) break;
  }
  for (const auto& [name, rules] : effective) {
    auto v = std::make_shared<std::vector<PolicyRule>>();
    for (const auto& r : rules) v->push_back(PolicyRule::FromJson(r));
    idx->cluster_roles_[name] = v;
  }
  for (const Json* agg : aggregating) {
    Json stored = agg->value("rules", Json::array());
    if (stored.is_null()) stored = Json::array();
    if (stored != effective[name_of(*agg)])
      idx->aggregated_[name_of(*agg)] = effective[name_of(*agg)];
  }
  for (const auto& r : objs.roles) idx->roles_[ns_of(r) + "/" + name_of(r)] = rules_of(r);

  auto add_binding = [&](const Json& b, bool cluster) {
    const Json& ref = b.value("roleRef", Json::object());
    std::string kind = ref.value("kind", ""), rname = ref.value("name", "");
    std::string ns = cluster ? "" : ns_of(b);
    std::shared_ptr<const std::vector<PolicyRule>> rules;
    if (kind == "ClusterRole") {
      auto it = idx->cluster_roles_.find(rname);
      if (it != idx->cluster_roles_.end()) rules = it->second;
    } else if (kind == "Role" && !cluster) {
      auto it = idx->roles_.find(ns + "/" + rname);
      if (it != idx->roles_.end()) rules = it->second;
    }
    if (!rules) return;
    std::string source =
        cluster ? fmt::format("ClusterRoleBinding \"{}\" of ClusterRole \"{}\"", name_of(b), rname)
                : fmt::format("RoleBinding \"{}/{}\" of {} \"{}\"", ns, name_of(b), kind, rname);
    if (!b.contains("subjects") || !b["subjects"].is_array()) return;
    for (const auto& s : b["subjects"]) {
      if (!s.is_object()) continue;
      std::string skind = s.value("kind", ""), sname = s.value("name", "");
      Grant g{ns, rules, source};
      if (skind == "User") {
        idx->by_user_[sname].push_back(std::move(g));
      } else if (skind == "Group") {
        idx->by_group_[sname].push_back(std::move(g));
      } else if (skind == "ServiceAccount") {
        std::string sns = s.value("namespace", "");
        if (sns.empty()) sns = ns;
        idx->by_user_[std::string(authn::kServiceAccountPrefix) + sns + ":" + sname].push_back(
            std::move(g));
      } else {
        continue;
      }
      ++idx->grants_;
    }
  };
  for (const auto& b : objs.cluster_role_bindings) add_binding(b, true);
  for (const auto& b : objs.role_bindings) add_binding(b, false);
  return idx;
}

bool RbacIndex::Allows(const Attributes& a, std::string* reason) const {
  auto check = [&](const std::vector<Grant>& grants) {
    for (const Grant& g : grants) {
      if (!g.ns.empty() && g.ns != a.ns) continue;
      for (const PolicyRule& r : *g.rules) {
        if (RuleAllows(r, a)) {
          if (reason) *reason = "RBAC: allowed by " + g.source;
          return true;
        }
      }
    }
    return false;
  };
  if (auto it = by_user_.find(a.user->name); it != by_user_.end() && check(it->second)) return true;
  for (const auto& grp : a.user->groups) {
    if (auto it = by_group_.find(grp); it != by_group_.end() && check(it->second)) return true;
  }
  return false;
}

void RbacIndex::Collect(const std::vector<Grant>* grants, const std::string& ns,
                        std::vector<PolicyRule>* out) const {
  if (!grants) return;
  for (const Grant& g : *grants) {
    if (!g.ns.empty() && g.ns != ns) continue;
    out->insert(out->end(), g.rules->begin(), g.rules->end());
  }
}

void RbacIndex::RulesFor(const authn::UserInfo& user, const std::string& ns,
                         std::vector<PolicyRule>* out) const {
  if (auto it = by_user_.find(user.name); it != by_user_.end()) Collect(&it->second, ns, out);
  for (const auto& grp : user.groups) {
    if (auto it = by_group_.find(grp); it != by_group_.end()) Collect(&it->second, ns, out);
  }
}

std::shared_ptr<const std::vector<PolicyRule>> RbacIndex::RoleRules(const std::string& kind,
                                                                    const std::string& ns,
                                                                    const std::string& name) const {
  if (kind == "ClusterRole") {
    auto it = cluster_roles_.find(name);
    return it == cluster_roles_.end() ? nullptr : it->second;
  }
  auto it = roles_.find(ns + "/" + name);
  return it == roles_.end() ? nullptr : it->second;
}

RbacAuthorizer::RbacAuthorizer() : index_(RbacIndex::Build({})) {}

Decision RbacAuthorizer::Authorize(const Attributes& attrs, std::string* reason) const {
  auto idx = index();
  return idx->Allows(attrs, reason) ? Decision::kAllow : Decision::kNoOpinion;
}

void RbacAuthorizer::SetIndex(std::shared_ptr<const RbacIndex> index) {
  std::lock_guard l(mu_);
  index_ = std::move(index);
}

std::shared_ptr<const RbacIndex> RbacAuthorizer::index() const {
  std::lock_guard l(mu_);
  return index_;
}

}  // namespace korral::apiserver::authz
