// korral/scheduler/config.h: KubeSchedulerConfiguration (kubescheduler.config.k8s.io/v1) files.
//
// Supported: profiles[] (schedulerName, percentageOfNodesToScore, plugins.<point>.enabled/
// disabled with weights, including multiPoint, pluginConfig[].args), percentageOfNodesToScore,
// podInitialBackoffSeconds, podMaxBackoffSeconds, leaderElection (leaderElect, leaseDuration,
// renewDeadline, retryPeriod, resourceName, resourceNamespace). Unknown plugin names and bad
// args are reported when the profiles are built.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/scheduler/framework.h"

namespace korral::scheduler {

struct LeaderElectionOptions {
  bool leader_elect = true;
  std::chrono::milliseconds lease_duration{15000};
  std::chrono::milliseconds renew_deadline{10000};
  std::chrono::milliseconds retry_period{2000};
  std::string resource_name = "kube-scheduler";
  std::string resource_namespace = "kube-system";
};

struct SchedulerConfiguration {
  std::vector<ProfileConfig> profiles;
  int percentage_of_nodes_to_score = 0;
  std::chrono::milliseconds pod_initial_backoff{1000};
  std::chrono::milliseconds pod_max_backoff{10000};
  LeaderElectionOptions leader_election;
};

// Parses a YAML or JSON KubeSchedulerConfiguration. InvalidArgument with a field path on errors.
absl::StatusOr<SchedulerConfiguration> ParseSchedulerConfiguration(std::string_view text);
// Go duration ("15s", "500ms", "1m30s").
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view s);

}  // namespace korral::scheduler
