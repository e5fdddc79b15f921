// korral/apiserver/warnings.h: the `Warning: 299 - "..."` response headers upstream's REST
// strategies attach to creates and updates (WarningsOnCreate/WarningsOnUpdate), for the kinds
// korral serves.
//
// Covered (upstream pkg/api/pod/warnings.go and pkg/api/node/util.go), for Pods and for the pod
// templates of PodTemplates, ReplicationControllers, Deployments, ReplicaSets, StatefulSets,
// DaemonSets, Jobs and CronJobs:
//   - deprecated node labels in nodeSelector, node affinity terms and topologySpreadConstraints
//     (beta.kubernetes.io/arch, failure-domain.beta.kubernetes.io/zone, ...);
//   - null labelSelectors in topologySpreadConstraints and pod (anti-)affinity terms;
//   - deprecated annotations (critical-pod, the alpha sysctl annotations, seccomp annotations
//     without the seccompProfile field);
//   - deprecated or removed volume plugins (gitRepo, photonPersistentDisk, scaleIO, flocker,
//     storageOS, quobyte, glusterfs, cephfs, rbd);
//   - duplicate hostAliases IPs, duplicate or empty imagePullSecrets names;
//   - env vars that hide an earlier definition; duplicate/overlapping/ambiguous container ports
//     and hostIP without hostPort;
//   - fractional byte values of memory and ephemeral-storage requests/limits;
//   - negative terminationGracePeriodSeconds.
// As upstream: Pod updates never warn (a hot path humans rarely drive); the workload kinds warn
// on updates that change metadata.generation.
//
// TODO(korral): not covered: warnings of other kinds (Service clusterIPs with leading zeros,
// Ingress, PersistentVolume(Claim) and StorageClass, RuntimeClass, NetworkPolicy, CSR...),
// the AppArmor annotation warning, projected volumes whose paths collide with a
// serviceAccountToken, ephemeral volume claim templates, node label value checks, and
// deprecated-API-version warnings (korral serves no deprecated group-version yet).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/apiserver/http/server.h"

namespace korral::apiserver {

// Warnings for writing `obj` of `type`. `old_generation` is nullopt for a create; for an update
// it is the stored object's metadata.generation before the write.
std::vector<std::string> WriteWarnings(const api::ResourceType& type, const nlohmann::json& obj,
                                       std::optional<int64_t> old_generation);

// True if updates of `type` may warn (the handler then needs the old generation).
bool WarnsOnUpdate(const api::ResourceType& type);

// Appends one `Warning: 299 - "<message>"` header per message not already present.
void AppendWarningHeaders(const std::vector<std::string>& messages, http::HeaderList* headers);

}  // namespace korral::apiserver
