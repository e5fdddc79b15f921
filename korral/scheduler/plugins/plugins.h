// korral/scheduler/plugins/plugins.h: the in-tree plugins (upstream
// pkg/scheduler/framework/plugins) and their explicit registry.
#pragma once

#include <string>

#include "korral/scheduler/framework.h"

namespace korral::scheduler::plugins {

// Every in-tree plugin by name (upstream NewInTreeRegistry).
Registry NewInTreeRegistry();

// Factories (each .cc file defines its own).
absl::StatusOr<PluginPtr> NewPrioritySort(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewSchedulingGates(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewNodeName(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewNodeUnschedulable(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewNodePorts(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewTaintToleration(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewNodeAffinity(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewImageLocality(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewDefaultBinder(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewNodeResourcesFit(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewBalancedAllocation(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewInterPodAffinity(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewPodTopologySpread(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewDefaultPreemption(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewVolumeRestrictions(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewVolumeBinding(const Json& args, Handle* h);
absl::StatusOr<PluginPtr> NewVolumeZone(const Json& args, Handle* h);

// A Status for a frequent per-node rejection, built once per call site: returning a copy
// allocates nothing. `reason` must be a string literal / static array.
#define KORRAL_STATIC_STATUS(code, reason)                    \
  ([]() -> const ::korral::scheduler::Status& {               \
    static const ::korral::scheduler::Status s(code, reason); \
    return s;                                                 \
  }())

// Upstream's failure reasons (shown in FailedScheduling messages).
inline constexpr char kErrReasonNodeName[] = "node(s) didn't match the requested node name";
inline constexpr char kErrReasonUnschedulable[] = "node(s) were unschedulable";
inline constexpr char kErrReasonPorts[] =
    "node(s) didn't have free ports for the requested pod ports";
inline constexpr char kErrReasonNodeAffinity[] =
    "node(s) didn't match Pod's node affinity/selector";
inline constexpr char kErrReasonTooManyPods[] = "Too many pods";
inline constexpr char kErrReasonAffinityRulesNotMatch[] = "node(s) didn't match pod affinity rules";
inline constexpr char kErrReasonAntiAffinityRulesNotMatch[] =
    "node(s) didn't match pod anti-affinity rules";
inline constexpr char kErrReasonExistingAntiAffinityRulesNotMatch[] =
    "node(s) didn't satisfy existing pods anti-affinity rules";
inline constexpr char kErrReasonConstraintsNotMatch[] =
    "node(s) didn't match pod topology spread constraints";
inline constexpr char kErrReasonNodeLabelNotMatch[] =
    "node(s) didn't match pod topology spread constraints (missing required label)";

inline constexpr char kErrReasonDiskConflict[] = "node(s) had no available disk";
inline constexpr char kErrReasonReadWriteOncePodConflict[] =
    "node has pod using PersistentVolumeClaim with the same name and ReadWriteOncePod access mode";
inline constexpr char kErrReasonVolumeBindConflict[] =
    "node(s) didn't find available persistent volumes to bind";
inline constexpr char kErrReasonVolumeNodeConflict[] = "node(s) had volume node affinity conflict";
inline constexpr char kErrReasonPVNotExist[] =
    "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
inline constexpr char kErrReasonVolumeZoneConflict[] = "node(s) had no available volume zone";

}  // namespace korral::scheduler::plugins
