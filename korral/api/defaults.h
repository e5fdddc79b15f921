// korral/api/defaults.h: defaulting shared by the built-in types (pkg/apis/core/v1/defaults.go
// and friends). All functions edit the JSON wire form in place and only fill absent fields.
#pragma once

#include <string>
#include <string_view>

#include "korral/api/resource.h"

namespace korral::api::defaults {

// "Always" for an image without tag or with tag "latest", else "IfNotPresent" (a digest
// counts as "no tag latest").
std::string DefaultImagePullPolicy(std::string_view image);

// core/v1 PodSpec defaults: restartPolicy, dnsPolicy, terminationGracePeriodSeconds,
// schedulerName, securityContext, containers (imagePullPolicy, terminationMessage*, ports
// protocol, probes, resources requests from limits), volumes (defaultMode), serviceAccount
// mirroring.
void DefaultPodSpec(Json& spec);
// A PodTemplateSpec: DefaultPodSpec on template.spec.
void DefaultPodTemplate(Json& tmpl);
// A Pod: DefaultPodSpec plus what upstream fills for Pods only (enableServiceLinks, priority,
// preemptionPolicy, serviceAccountName "default").
void DefaultPod(Json& pod);
// PersistentVolumeClaimSpec: volumeMode Filesystem.
void DefaultPersistentVolumeClaimSpec(Json& spec);

// BestEffort / Burstable / Guaranteed, as upstream's qos.GetPodQOS.
std::string PodQosClass(const Json& pod);

// Parses a resource.Quantity ("100m", "1Gi", "2e3"); false on malformed input.
bool ParseQuantity(std::string_view s, long double* value);

}  // namespace korral::api::defaults
