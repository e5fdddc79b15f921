// korral/apiserver/ephemeral.h: pods/ephemeralcontainers, as upstream's EphemeralContainersREST.
//
// The subresource reads and writes a whole Pod, but only spec.ephemeralContainers is taken from
// the request; ephemeral containers may be added, never changed or removed (422 Forbidden as
// upstream's ValidatePodEphemeralContainersUpdate), and each needs a unique name and an image.
#pragma once

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::apiserver {

// The pod to store: `current` with spec.ephemeralContainers from `desired` (a Pod), validated.
absl::StatusOr<nlohmann::json> MergeEphemeralContainers(const nlohmann::json& current,
                                                        const nlohmann::json& desired);

}  // namespace korral::apiserver
