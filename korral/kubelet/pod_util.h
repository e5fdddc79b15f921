// korral/kubelet/pod_util.h: pure functions over pod specs the kubelet needs (env resolution,
// $(VAR) expansion, resources -> CRI limits, phase, conditions, backoff bookkeeping). No I/O
// except through the lookup callbacks, so everything here is unit-tested directly.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::kubelet {

using Json = nlohmann::json;

// Looks up a ConfigMap or Secret (namespace, name); NotFound when absent.
using ObjectLookup =
    std::function<absl::StatusOr<Json>(const std::string& ns, const std::string& name)>;

struct EnvContext {
  const Json* pod = nullptr;
  const Json* container = nullptr;
  std::string pod_ip, host_ip;
  // Node allocatable, used by resourceFieldRef when the container has no limit.
  double node_cpu_cores = 1;
  double node_memory_bytes = 0;
  ObjectLookup config_maps, secrets;
};

// The container's environment in order: envFrom first, then env (later entries win), with
// $(VAR) references expanded. Errors are what upstream reports as CreateContainerConfigError:
// `configmap "x" not found`, `couldn't find key k in ConfigMap ns/x`, `secret "s" not found`...
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ResolveEnv(const EnvContext& ctx);

// Upstream's expansion: $(NAME) is replaced when NAME is defined, left as is otherwise; $$ is
// an escaped $.
std::string ExpandVars(const std::string& in, const std::map<std::string, std::string>& env);

// A fieldRef value (metadata.name, metadata.labels['k'], status.podIP, ...).
absl::StatusOr<std::string> FieldRefValue(const Json& pod, const std::string& path,
                                          const std::string& pod_ip, const std::string& host_ip);

// CPU in cores and memory in bytes from a container's resources (0 when absent).
struct ContainerResources {
  double cpu_request = 0, cpu_limit = 0;
  double memory_request = 0, memory_limit = 0;
};
ContainerResources GetResources(const Json& container);

// CRI cgroup settings as upstream computes them: shares from the request (min 2), CFS quota from
// the limit (period 100ms), memory limit, oom_score_adj by QoS.
struct LinuxResources {
  int64_t cpu_shares = 2, cpu_quota = 0, cpu_period = 100000, memory_limit = 0;
  int64_t oom_score_adj = 0;
};
LinuxResources ComputeLinuxResources(const Json& pod, const Json& container, const std::string& qos,
                                     double node_memory_bytes);

// The cgroup parent of a pod under `root` ("/kubepods"): root/pod<uid> (Guaranteed),
// root/burstable/pod<uid>, root/besteffort/pod<uid>.
std::string PodCgroupParent(const std::string& root, const std::string& qos,
                            const std::string& uid);

// Pod phase from container statuses (upstream's getPhase): `init_statuses` and `statuses` are
// the v1 ContainerStatus JSON objects of init and regular containers.
std::string ComputePhase(const Json& spec, const Json& init_statuses, const Json& statuses);

// Exponential backoff per key (upstream's flowcontrol.Backoff): 10 s doubling to 5 min, reset
// after 10 min without failures. Times are steady-clock.
class Backoff {
 public:
  using Time = std::chrono::steady_clock::time_point;
  Backoff(std::chrono::seconds initial = std::chrono::seconds(10),
          std::chrono::seconds max = std::chrono::seconds(300))
      : initial_(initial), max_(max) {}
  // True while `now - event_time` is shorter than the key's current backoff.
  bool InBackoffSince(const std::string& key, Time event_time, Time now) const;
  // Remaining time of the backoff counted from `event_time` (0 if none).
  std::chrono::nanoseconds Remaining(const std::string& key, Time event_time, Time now) const;
  // Records a new attempt: first 10 s, then doubled.
  void Next(const std::string& key, Time now);
  std::chrono::nanoseconds Get(const std::string& key) const;
  void Reset(const std::string& key);
  // Drops every key starting with `prefix`.
  void ResetPrefix(const std::string& prefix);

 private:
  struct Entry {
    std::chrono::nanoseconds duration;
    Time last_update;
  };
  std::chrono::nanoseconds initial_, max_;
  mutable std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

// "5m0s", "10s", "2m40s" (Go's time.Duration.String for whole seconds).
std::string GoDuration(std::chrono::nanoseconds d);

// RFC 3339 with seconds, UTC.
std::string FormatTime(std::chrono::system_clock::time_point t);
std::string FormatNanos(int64_t unix_nanos);
// metav1.MicroTime ("2026-11-28T08:00:00.123456Z").
std::string FormatMicroTime(std::chrono::system_clock::time_point t);

}  // namespace korral::kubelet
