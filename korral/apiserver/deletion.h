// korral/apiserver/deletion.h: what a DELETE does to an object, as upstream's
// rest.BeforeDelete + the registry store's finalizer handling decide it.
//
//   * Graceful deletion (pods): a pod bound to a node (spec.nodeName) and not terminal gets
//     deletionTimestamp = now + grace and deletionGracePeriodSeconds = grace, where grace is
//     DeleteOptions.gracePeriodSeconds, else spec.terminationGracePeriodSeconds (30 when
//     unset); negative means 1. Unbound or terminal pods, and grace 0, delete at once. A pod
//     already terminating only accepts a shorter grace period (0 deletes it).
//   * Garbage-collection policy: propagationPolicy Orphan / orphanDependents=true records the
//     "orphan" finalizer, Foreground records "foregroundDeletion", Background removes both; with
//     no option the object's own finalizers decide, then the kind's default (replication
//     controllers orphan).
//   * Pending finalizers (and a namespace's spec.finalizers) keep the object: it gets
//     deletionTimestamp (grace 0) and waits for its finalizers to be removed.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/resource.h"
#include "korral/base/clock.h"

namespace korral::apiserver {

struct DeletePolicy {
  std::string propagation;  // "", "Orphan", "Background", "Foreground"
  std::optional<int64_t> grace_period_seconds;
};

// Parses and validates a metav1.DeleteOptions (422 Invalid as upstream for bad combinations).
absl::StatusOr<DeletePolicy> ParseDeletePolicy(const nlohmann::json& options);

struct DeletionPlan {
  enum Action { kDeleteNow, kUpdate, kPending };
  Action action = kDeleteNow;
  nlohmann::json updated;  // kUpdate: the object to write
};

DeletionPlan PlanDeletion(const api::ResourceType& type, const nlohmann::json& current,
                          const DeletePolicy& policy, std::chrono::system_clock::time_point now);

}  // namespace korral::apiserver
