// korral/apiserver/rbac_bootstrap.h: upstream's default ClusterRoles and ClusterRoleBindings
// (plugin/pkg/auth/authorizer/rbac/bootstrappolicy), created at start-up when missing.
//
// Includes cluster-admin, admin/edit/view (aggregated from system:aggregate-to-*),
// system:basic-user, system:discovery, system:public-info-viewer, system:monitoring,
// system:node, system:node-proxier, system:node-bootstrapper, system:kube-scheduler,
// system:volume-scheduler, system:kube-controller-manager, system:kube-dns,
// system:auth-delegator, system:service-account-issuer-discovery and the per-controller
// system:controller:* roles, each bound as upstream binds it.
//
// Deviation: korral's controller manager runs every controller under one identity
// (system:kube-controller-manager) rather than one service account per controller, so each
// system:controller:* binding also names that user.
#pragma once

#include <vector>

#include <nlohmann/json.hpp>

namespace korral::apiserver {

// The rules upstream's Node authorizer and the system:node role grant to kubelets.
std::vector<nlohmann::json> NodeRules();

struct BootstrapPolicy {
  std::vector<nlohmann::json> cluster_roles;
  std::vector<nlohmann::json> cluster_role_bindings;
};
const BootstrapPolicy& DefaultBootstrapPolicy();

}  // namespace korral::apiserver
