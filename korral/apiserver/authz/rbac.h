// korral/apiserver/authz/rbac.h: RBAC: policy rules, an indexed snapshot of every role and
// binding, the authorizer over it, and the rule-coverage check behind escalation prevention.
//
// The index maps each subject (user name, group name; service accounts become their
// "system:serviceaccount:NS:NAME" user) to the rule lists its bindings grant, so a decision
// costs a few hash lookups plus a scan of that subject's rules, independent of how many roles
// and bindings exist. ClusterRoles with an aggregationRule get the rules of every ClusterRole
// their selectors match (upstream's clusterrole-aggregation controller, applied at index time).
//
// Snapshots are immutable; RbacAuthorizer swaps them atomically. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apiserver/authz/authz.h"

namespace korral::apiserver::authz {

struct PolicyRule {
  std::vector<std::string> verbs, api_groups, resources, resource_names, non_resource_urls;
  static PolicyRule FromJson(const nlohmann::json& rule);
  nlohmann::json ToJson() const;
  // "{APIGroups:[""], Resources:["pods"], Verbs:["get"]}" as upstream prints rules.
  std::string String() const;
};

bool RuleAllows(const PolicyRule& rule, const Attributes& attrs);
// True if the owner rules together grant everything `requested` grants. `missing` gets the
// uncovered atomic rules.
bool Covers(const std::vector<PolicyRule>& owner, const std::vector<PolicyRule>& requested,
            std::vector<PolicyRule>* missing);

class RbacIndex {
 public:
  struct Objects {
    std::vector<nlohmann::json> roles, cluster_roles, role_bindings, cluster_role_bindings;
  };
  static std::shared_ptr<const RbacIndex> Build(const Objects& objects);

  bool Allows(const Attributes& attrs, std::string* reason) const;
  // Every rule the user holds in `ns` ("" for cluster-wide only): cluster-wide grants plus
  // the grants of role bindings in ns.
  void RulesFor(const authn::UserInfo& user, const std::string& ns,
                std::vector<PolicyRule>* out) const;
  // Rules of a role (after aggregation for cluster roles); null if it does not exist.
  std::shared_ptr<const std::vector<PolicyRule>> RoleRules(const std::string& kind,
                                                           const std::string& ns,
                                                           const std::string& name) const;
  // ClusterRoles whose stored rules differ from their aggregated rules: name -> rules JSON.
  const std::map<std::string, nlohmann::json>& aggregated_updates() const { return aggregated_; }
  size_t grant_count() const { return grants_; }

 private:
  struct Grant {
    std::string ns;  // "" = every namespace (ClusterRoleBinding)
    std::shared_ptr<const std::vector<PolicyRule>> rules;
    std::string source;  // for reasons: `RBAC: allowed by ClusterRoleBinding "x" ...`
  };
  void Collect(const std::vector<Grant>* grants, const std::string& ns,
               std::vector<PolicyRule>* out) const;
  std::unordered_map<std::string, std::vector<Grant>> by_user_, by_group_;
  std::map<std::string, std::shared_ptr<const std::vector<PolicyRule>>> cluster_roles_;
  std::map<std::string, std::shared_ptr<const std::vector<PolicyRule>>> roles_;  // "ns/name"
  std::map<std::string, nlohmann::json> aggregated_;
  size_t grants_ = 0;
};

class RbacAuthorizer final : public Authorizer {
 public:
  RbacAuthorizer();
  Decision Authorize(const Attributes& attrs, std::string* reason) const override;
  void SetIndex(std::shared_ptr<const RbacIndex> index);
  std::shared_ptr<const RbacIndex> index() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const RbacIndex> index_;
};

}  // namespace korral::apiserver::authz
