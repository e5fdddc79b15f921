// Node-pressure eviction (upstream pkg/kubelet/eviction) with hard thresholds on
// memory.available and nodefs.available. Every monitoring period (10 s): observe the node,
// set MemoryPressure / DiskPressure (kept for the pressure transition period after the signal
// recovers), reclaim node-level resources first for disk (image GC), then evict at most one pod,
// ranked as upstream: pods whose usage exceeds their requests first, then by priority (lowest
// first), then by usage above the request (largest first). Critical pods (static, mirror,
// priority >= 2000000000) are never evicted. The evicted pod's containers are stopped and its
// status becomes phase Failed, reason Evicted, with upstream's message and a DisruptionTarget
// condition.
#include <algorithm>

#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {

namespace {

constexpr int64_t kSystemCriticalPriority = 2000000000;

int64_t Quantity(const Json& v) {
  if (v.is_number()) return v.get<int64_t>();
  if (!v.is_string()) return 0;
  long double out = 0;
  if (!api::defaults::ParseQuantity(v.get<std::string>(), &out)) return 0;
  return static_cast<int64_t>(out);
}

int64_t ContainerRequest(const Json& c, const char* resource) {
  const Json& r = c.value("resources", Json::object());
  const Json& req = r.value("requests", Json::object());
  if (req.contains(resource)) return Quantity(req[resource]);
  // As the API defaults it: a limit without a request requests the limit.
  const Json& lim = r.value("limits", Json::object());
  if (lim.contains(resource)) return Quantity(lim[resource]);
  return 0;
}

int64_t PodRequest(const Json& pod, const char* resource) {
  int64_t sum = 0;
  for (const auto& c : pod["spec"].value("containers", Json::array())) {
    sum += ContainerRequest(c, resource);
  }
  return sum;
}

}  // namespace

// resource.Quantity's String() for a byte count in BinarySI: the largest exact binary suffix.
std::string FormatBinaryQuantity(int64_t bytes) {
  if (bytes == 0) return "0";
  static const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int i = 0;
  int64_t v = bytes;
  while (i < 6 && v % 1024 == 0) {
    v /= 1024;
    ++i;
  }
  return std::to_string(v) + kSuffix[i];
}

std::vector<std::string> RankForEviction(const std::vector<Json>& pods,
                                         const EvictionObservation& obs, EvictionSignal signal) {
  const char* resource = signal == EvictionSignal::kMemory ? "memory" : "ephemeral-storage";
  struct Ranked {
    std::string uid;
    bool exceeds;
    int64_t priority;
    int64_t above;  // usage - request
  };
  std::vector<Ranked> r;
  for (const auto& p : pods) {
    std::string uid = PodUid(p);
    auto it = obs.pods.find(uid);
    // Upstream ranks pods without stats first (as if they exceed everything); we have no
    // evidence against them, so they go last.
    int64_t usage = 0;
    bool has = false;
    if (it != obs.pods.end()) {
      usage =
          signal == EvictionSignal::kMemory ? it->second.memory_working_set : it->second.disk_usage;
      has = true;
    }
    int64_t request = PodRequest(p, resource);
    r.push_back({uid, has && usage > request, p["spec"].value("priority", int64_t{0}),
                 has ? usage - request : INT64_MIN});
  }
  std::stable_sort(r.begin(), r.end(), [](const Ranked& a, const Ranked& b) {
    if (a.exceeds != b.exceeds) return a.exceeds;
    if (a.priority != b.priority) return a.priority < b.priority;
    return a.above > b.above;
  });
  std::vector<std::string> out;
  for (const auto& x : r) out.push_back(x.uid);
  return out;
}

bool IsCriticalPod(const Json& pod) {
  return IsStaticPod(pod) || IsMirrorPod(pod) ||
         pod["spec"].value("priority", int64_t{0}) >= kSystemCriticalPriority;
}

void Kubelet::SetEvictionStats(EvictionStatsFn fn) {
  std::lock_guard l(impl_->mu);
  impl_->eviction_stats = std::move(fn);
}

void Kubelet::Impl::EvictionTick() {
  EvictionStatsFn fn;
  {
    std::lock_guard l(mu);
    fn = eviction_stats;
  }
  if (!fn) return;
  std::optional<EvictionObservation> obs = fn();
  if (!obs) return;
  const EvictionConfig& ec = cfg.eviction;
  auto now = clock.SteadyNow();
  auto met = [&](const EvictionObservation& o, EvictionSignal s) {
    if (s == EvictionSignal::kMemory) {
      return ec.memory_available > 0 && o.memory_capacity > 0 &&
             o.memory_capacity - o.memory_working_set < ec.memory_available;
    }
    return ec.nodefs_available_percent > 0 && o.nodefs_capacity > 0 &&
           static_cast<double>(o.nodefs_available) <
               static_cast<double>(o.nodefs_capacity) * ec.nodefs_available_percent / 100.0;
  };
  bool mem_met = met(*obs, EvictionSignal::kMemory);
  bool disk_met = met(*obs, EvictionSignal::kNodeFs);
  bool changed = false;
  {
    std::lock_guard l(mu);
    if (mem_met) last_memory_pressure = now;
    if (disk_met) last_disk_pressure = now;
    auto active = [&](std::chrono::steady_clock::time_point last) {
      return last != std::chrono::steady_clock::time_point{} &&
             now - last < ec.pressure_transition_period;
    };
    bool mp = mem_met || active(last_memory_pressure);
    bool dp = disk_met || active(last_disk_pressure);
    changed = mp != memory_pressure || dp != disk_pressure;
    memory_pressure = mp;
    disk_pressure = dp;
  }
  if (changed) {
    KLOG(Info, "kubelet: eviction: memory pressure {}, disk pressure {}", memory_pressure.load(),
         disk_pressure.load());
    UpdateNodeStatus(false);
  }
  if (!mem_met && !disk_met) return;
  EvictionSignal signal = mem_met ? EvictionSignal::kMemory : EvictionSignal::kNodeFs;
  if (!mem_met && disk_met) {
    // Node-level reclaim first: unused images. Enough if the threshold is no longer met.
    int64_t need = static_cast<int64_t>(static_cast<double>(obs->nodefs_capacity) *
                                        ec.nodefs_available_percent / 100.0) -
                   obs->nodefs_available;
    int64_t freed = GarbageCollectImages(need);
    if (freed > 0) {
      auto again = fn();
      if (again && !met(*again, EvictionSignal::kNodeFs)) {
        KLOG(Info, "kubelet: eviction: image garbage collection freed {} bytes, enough", freed);
        return;
      }
      if (again) obs = again;
    }
  }
  // Candidates: the active (non-terminal, not yet evicted) pods of this node.
  std::vector<Json> candidates;
  for (const auto& p : BoundPods()) {
    std::string phase = p->value("status", Json::object()).value("phase", "");
    if (phase == "Succeeded" || phase == "Failed") continue;
    const Json& md = (*p)["metadata"];
    if (md.contains("deletionTimestamp") && !md["deletionTimestamp"].is_null()) continue;
    if (IsMirrorPod(*p)) continue;
    {
      std::lock_guard l(mu);
      auto it = states.find(PodUid(*p));
      if (it != states.end() && it->second.evicted) continue;
    }
    candidates.push_back(*p);
  }
  std::map<std::string, const Json*> by_uid;
  for (const auto& p : candidates) by_uid[PodUid(p)] = &p;
  for (const auto& uid : RankForEviction(candidates, *obs, signal)) {
    const Json& pod = *by_uid[uid];
    if (IsCriticalPod(pod)) continue;
    EvictPod(pod, *obs, signal);
    return;  // at most one pod per monitoring period, as upstream
  }
  KLOG(Warning, "kubelet: eviction: threshold met for {} but no pod to evict",
       signal == EvictionSignal::kMemory ? "memory.available" : "nodefs.available");
}

void Kubelet::Impl::EvictPod(const Json& pod, const EvictionObservation& obs,
                             EvictionSignal signal) {
  std::string uid = PodUid(pod);
  const char* resource = signal == EvictionSignal::kMemory ? "memory" : "ephemeral-storage";
  std::string message = fmt::format("The node was low on resource: {}. ", resource);
  auto pit = obs.pods.find(uid);
  for (const auto& c : pod["spec"].value("containers", Json::array())) {
    std::string name = c.value("name", "");
    if (pit == obs.pods.end()) break;
    const auto& usage_map = signal == EvictionSignal::kMemory ? pit->second.container_memory
                                                              : pit->second.container_disk;
    auto u = usage_map.find(name);
    if (u == usage_map.end()) continue;
    int64_t req = ContainerRequest(c, resource);
    if (u->second > req) {
      message += fmt::format("Container {} was using {}, which exceeds its request of {}. ", name,
                             FormatBinaryQuantity(u->second), FormatBinaryQuantity(req));
    }
  }
  KLOG(Info, "kubelet: evicting pod {}: {}", PodKey(pod), message);
  {
    std::lock_guard l(mu);
    states[uid].evicted = true;
  }
  // Hard threshold: stop the containers right away (upstream's 1 s grace override).
  RemoveProbes(uid);
  auto rp = GetRuntimePod(uid);
  if (rp.ok()) {
    for (const auto& c : rp->containers) {
      if (c.state() == v1::CONTAINER_RUNNING) (void)rt.StopContainer(c.id(), 1);
    }
    for (const auto& s : rp->sandboxes) (void)rt.StopPodSandbox(s.id());
    rp = GetRuntimePod(uid);
  }
  std::string pod_ip;
  {
    std::lock_guard l(mu);
    pod_ip = states[uid].pod_ip;
  }
  Json status = rp.ok() ? BuildStatus(pod, *rp, pod_ip) : pod.value("status", Json::object());
  status["phase"] = "Failed";
  status["reason"] = "Evicted";
  status["message"] = message;
  std::string now = FormatTime(clock.Now());
  Json conds = Json::array();
  for (auto& c : status.value("conditions", Json::array())) {
    std::string t = c.value("type", "");
    if (t == "DisruptionTarget") continue;
    if (t == "Ready" || t == "ContainersReady") {
      if (c.value("status", "") != "False") c["lastTransitionTime"] = now;
      c["status"] = "False";
      c["reason"] = "PodFailed";
      c.erase("message");
    }
    conds.push_back(c);
  }
  conds.push_back({{"type", "DisruptionTarget"},
                   {"status", "True"},
                   {"lastProbeTime", nullptr},
                   {"lastTransitionTime", now},
                   {"reason", "TerminationByKubelet"},
                   {"message", message}});
  status["conditions"] = conds;
  Json patch = {{"metadata", {{"uid", uid}}}, {"status", status}};
  client::PatchOptions po;
  po.subresource = "status";
  auto r = client.Patch(client::resources::Pods(), pod["metadata"].value("namespace", ""),
                        pod["metadata"].value("name", ""), client::PatchType::kMerge, patch, po);
  if (!r.ok()) {
    KLOG(Warning, "kubelet: status of evicted pod {}: {}", PodKey(pod), StatusMessage(r.status()));
  }
  std::lock_guard l(mu);
  states[uid].last_status = status;
}

}  // namespace korral::kubelet
