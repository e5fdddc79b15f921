// korral/apiserver/authz/node.h: the Node authorizer (upstream plugin/pkg/auth/authorizer/node).
//
// A kubelet (user "system:node:<name>" in group system:nodes) may read a secret, configmap or
// persistent volume claim only if a pod bound to its node references it (volumes, env, envFrom,
// imagePullSecrets, projected sources), and may request tokens only for the service accounts of
// its pods. Everything else it may do is upstream's fixed node rule set (its own Node, Lease and
// pod statuses are narrowed further by the NodeRestriction admission plugin).
//
// The graph node -> referenced objects is kept up to date from pod watch events (OnPod).
// Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/apiserver/authz/authz.h"
#include "korral/apiserver/authz/rbac.h"

namespace korral::apiserver::authz {

class NodeGraph {
 public:
  // A pod changed: `before` is its previous state (null on add), `after` its new state (null on
  // delete).
  void OnPod(const nlohmann::json* before, const nlohmann::json* after);
  // Does a pod on `node` reference resource/ns/name ("secrets", "configmaps",
  // "persistentvolumeclaims", "serviceaccounts")?
  bool Has(const std::string& node, const std::string& resource, const std::string& ns,
           const std::string& name) const;
  // Objects a pod references, as "resource/ns/name" keys.
  static std::vector<std::string> References(const nlohmann::json& pod);

 private:
  void Add(const std::string& node, const std::vector<std::string>& refs, int delta);
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::unordered_map<std::string, int>> by_node_;
};

// Extracts the node name of a node identity; false if the user is not one.
bool NodeIdentity(const authn::UserInfo& user, std::string* node);

class NodeAuthorizer final : public Authorizer {
 public:
  explicit NodeAuthorizer(const NodeGraph* graph);
  Decision Authorize(const Attributes& attrs, std::string* reason) const override;

 private:
  const NodeGraph* graph_;
  std::vector<PolicyRule> rules_;
};

}  // namespace korral::apiserver::authz
