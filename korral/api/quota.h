// korral/api/quota.h: which objects a ResourceQuota's scopes cover (upstream
// pkg/quota/v1/evaluator/core/pods.go podMatchesScopeFunc and quota.Matches), shared by the
// ResourceQuota admission plugin and the resource quota controller so both count alike.
#pragma once

#include <nlohmann/json.hpp>

namespace korral::api {

// Whether the quota (a ResourceQuota object) applies to `pod`: every spec.scopes entry and every
// spec.scopeSelector.matchExpressions requirement must match. Scopes: Terminating
// (activeDeadlineSeconds set), NotTerminating, BestEffort (QoS class), NotBestEffort,
// PriorityClass (spec.priorityClassName, with In / NotIn / Exists / DoesNotExist) and
// CrossNamespacePodAffinity (a pod (anti-)affinity term with namespaces or a namespaceSelector).
// A quota without scopes applies to every pod; an unknown scope or operator matches nothing.
bool QuotaScopesMatchPod(const nlohmann::json& quota, const nlohmann::json& pod);
// Whether the quota has any scope (then it covers pods only: other objects are not charged).
bool QuotaHasScopes(const nlohmann::json& quota);

}  // namespace korral::api
