// korral/apiserver/eviction.h: pods/eviction (policy/v1 Eviction), as upstream's eviction REST.
//
// An eviction deletes the pod unless a PodDisruptionBudget selecting it forbids the disruption:
//   * terminal, pending or already-terminating pods are deleted without consulting budgets;
//   * no budget: the pod is deleted;
//   * more than one budget: 500, as upstream (the eviction subresource does not support it);
//   * one budget: when status.disruptionsAllowed is 0 the answer is 429 TooManyRequests with a
//     DisruptionBudget cause; otherwise disruptionsAllowed is decremented, the pod is recorded in
//     status.disruptedPods (for the disruption controller) in one status write, and the pod is
//     deleted with the eviction's DeleteOptions (graceful deletion applies).
// Unhealthy pods follow the budget's unhealthyPodEvictionPolicy (AlwaysAllow / IfHealthyBudget).
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/apiserver/store.h"
#include "korral/base/clock.h"

namespace korral::apiserver {

// Evicts pod ns/name. `eviction` is the request body (may carry deleteOptions). Returns the
// Status object to answer with (201 Success).
absl::StatusOr<nlohmann::json> EvictPod(Store* store, Clock* clock, std::string_view ns,
                                        std::string_view name, const nlohmann::json& eviction,
                                        bool dry_run);

}  // namespace korral::apiserver
