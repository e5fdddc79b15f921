// Node-pressure eviction (upstream pkg/kubelet/eviction) on memory.available and
// nodefs.available, with hard thresholds and soft ones (evictionSoft + evictionSoftGracePeriod +
// evictionMaxPodGracePeriod). Every monitoring period (10 s): observe the node; a threshold met
// sets MemoryPressure / DiskPressure at once (kept for the pressure transition period after the
// signal recovers); a hard threshold drives eviction at once, a soft one once it has been met
// continuously for its grace period. Node-level resources are reclaimed first for disk (image
// GC), then at most one pod is evicted, ranked as upstream: pods whose usage exceeds their
// requests first, then by priority (lowest first), then by usage above the request (largest
// first). Critical pods (static, mirror, priority >= 2000000000) are never evicted. The evicted
// pod's containers are stopped (hard: 1 s; soft: min(terminationGracePeriodSeconds,
// evictionMaxPodGracePeriod), with preStop hooks, off the housekeeping thread) and its status
// becomes phase Failed, reason Evicted, with upstream's message and a DisruptionTarget condition.
// TODO(korral): imagefs/inode/pid signals, evictionMinimumReclaim, eviction events, admission
// rejection under pressure, upstream's newer message ("Threshold quantity: ..., available: ...").
#include <algorithm>
#include <cmath>
#include <string_view>

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

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return std::string(s);
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string item = Trim(std::string_view(s).substr(start, end - start));
    if (!item.empty()) out.push_back(item);
    start = end + 1;
  }
  return out;
}

absl::Status BadFlag(const std::string& msg) {
  return absl::InvalidArgumentError(absl::string_view(msg));
}

// A Go duration as the kubelet's flags take it: a sequence of <number><unit> with units h, m,
// s, ms ("1m30s", "90s", "500ms").
absl::StatusOr<std::chrono::milliseconds> ParseGraceDuration(const std::string& s) {
  if (s.empty()) return BadFlag("empty duration");
  double total_ms = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t j = i;
    while (j < s.size() && (std::isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.')) ++j;
    if (j == i) return BadFlag(fmt::format("invalid duration \"{}\"", s));
    double v = std::strtod(s.substr(i, j - i).c_str(), nullptr);
    size_t k = j;
    while (k < s.size() && std::isalpha(static_cast<unsigned char>(s[k]))) ++k;
    std::string unit = s.substr(j, k - j);
    double scale = unit == "h"    ? 3600e3
                   : unit == "m"  ? 60e3
                   : unit == "s"  ? 1e3
                   : unit == "ms" ? 1
                                  : 0;
    if (scale == 0) {
      return BadFlag(fmt::format("invalid duration \"{}\": unknown unit \"{}\"", s, unit));
    }
    total_ms += v * scale;
    i = k;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(total_ms)));
}

EvictionThreshold* ThresholdOf(EvictionConfig* c, const std::string& signal, bool soft) {
  if (signal == "memory.available") return soft ? &c->soft_memory_available : &c->memory_available;
  if (signal == "nodefs.available") return soft ? &c->soft_nodefs_available : &c->nodefs_available;
  return nullptr;
}

// "signal<value" statements; the signals known upstream but not observed here are rejected.
absl::Status ParseThresholds(const std::string& flag, bool soft, EvictionConfig* out) {
  for (const auto& stmt : SplitComma(flag)) {
    size_t lt = stmt.find('<');
    if (lt == std::string::npos) {
      return BadFlag(
          fmt::format("invalid eviction threshold \"{}\": want <signal><<quantity or "
                      "percentage>, e.g. memory.available<100Mi",
                      stmt));
    }
    std::string signal = Trim(std::string_view(stmt).substr(0, lt));
    std::string value = Trim(std::string_view(stmt).substr(lt + 1));
    EvictionThreshold* t = ThresholdOf(out, signal, soft);
    if (!t) {
      return BadFlag(
          fmt::format("unsupported eviction signal {} (supported: memory.available, "
                      "nodefs.available)",
                      signal));
    }
    EvictionThreshold parsed;
    if (!value.empty() && value.back() == '%') {
      char* end = nullptr;
      std::string num = value.substr(0, value.size() - 1);
      parsed.percent = std::strtod(num.c_str(), &end);
      if (num.empty() || *end != '\0' || parsed.percent <= 0 || parsed.percent > 100) {
        return BadFlag(
            fmt::format("eviction percentage threshold {} must be positive and at most 100%: {}",
                        signal, value));
      }
    } else {
      long double q = 0;
      if (!api::defaults::ParseQuantity(value, &q) || q <= 0) {
        return BadFlag(
            fmt::format("eviction threshold {} must be a positive quantity: {}", signal, value));
      }
      parsed.bytes = static_cast<int64_t>(q);
    }
    parsed.grace_period = t->grace_period;
    *t = parsed;
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ParseEvictionFlags(const std::string& hard, const std::string& soft,
                                const std::string& soft_grace, EvictionConfig* out) {
  EvictionConfig c = *out;
  if (!hard.empty()) {
    // As upstream: a set evictionHard replaces the defaults.
    c.memory_available = {};
    c.nodefs_available = {};
    KORRAL_RETURN_IF_ERROR(ParseThresholds(hard, false, &c));
  }
  std::map<std::string, std::chrono::milliseconds> graces;
  for (const auto& stmt : SplitComma(soft_grace)) {
    size_t eq = stmt.find('=');
    std::string signal = Trim(std::string_view(stmt).substr(0, eq));
    if (eq == std::string::npos || !ThresholdOf(&c, signal, true)) {
      return BadFlag(
          fmt::format("invalid eviction grace period \"{}\": want <signal>=<duration> "
                      "with signal memory.available or nodefs.available",
                      stmt));
    }
    auto d = ParseGraceDuration(Trim(std::string_view(stmt).substr(eq + 1)));
    if (!d.ok())
      return BadFlag(
          fmt::format("eviction grace period {}: {}", signal, StatusMessage(d.status())));
    if (d->count() < 0) {
      return BadFlag(fmt::format("eviction grace period {} must be positive", signal));
    }
    graces[signal] = *d;
  }
  if (!soft.empty()) {
    c.soft_memory_available = {};
    c.soft_nodefs_available = {};
    KORRAL_RETURN_IF_ERROR(ParseThresholds(soft, true, &c));
    for (const char* signal : {"memory.available", "nodefs.available"}) {
      EvictionThreshold* t = ThresholdOf(&c, signal, true);
      if (!t->IsSet()) continue;
      auto g = graces.find(signal);
      if (g == graces.end()) {
        return BadFlag(fmt::format(
            "grace period must be specified for the soft eviction threshold {}", signal));
      }
      t->grace_period = g->second;
    }
  }
  *out = c;
  return absl::OkStatus();
}

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

namespace {

struct ThresholdRef {
  EvictionSignal signal;
  bool soft;
  const EvictionThreshold* t;
};

// In upstream's order of eviction priority: memory before disk, hard before soft.
std::vector<ThresholdRef> Thresholds(const EvictionConfig& ec) {
  std::vector<ThresholdRef> out;
  for (const ThresholdRef& r :
       {ThresholdRef{EvictionSignal::kMemory, false, &ec.memory_available},
        ThresholdRef{EvictionSignal::kMemory, true, &ec.soft_memory_available},
        ThresholdRef{EvictionSignal::kNodeFs, false, &ec.nodefs_available},
        ThresholdRef{EvictionSignal::kNodeFs, true, &ec.soft_nodefs_available}}) {
    if (r.t->IsSet()) out.push_back(r);
  }
  return out;
}

bool Met(const EvictionObservation& o, const ThresholdRef& r) {
  if (r.signal == EvictionSignal::kMemory) {
    return o.memory_capacity > 0 &&
           o.memory_capacity - o.memory_working_set < r.t->Of(o.memory_capacity);
  }
  return o.nodefs_capacity > 0 && o.nodefs_available < r.t->Of(o.nodefs_capacity);
}

int ThresholdKey(const ThresholdRef& r) {
  return static_cast<int>(r.signal) * 2 + (r.soft ? 1 : 0);
}

}  // namespace

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
  const std::vector<ThresholdRef> thresholds = Thresholds(ec);
  auto now = clock.SteadyNow();
  bool mem_met = false, disk_met = false;
  // The thresholds that drive eviction now: hard ones met, soft ones met for their grace period.
  std::vector<ThresholdRef> driving;
  bool changed = false;
  {
    std::lock_guard l(mu);
    for (const auto& r : thresholds) {
      int key = ThresholdKey(r);
      if (!Met(*obs, r)) {
        threshold_first_observed.erase(key);
        continue;
      }
      (r.signal == EvictionSignal::kMemory ? mem_met : disk_met) = true;
      auto first = threshold_first_observed.emplace(key, now).first->second;
      if (!r.soft || now - first >= r.t->grace_period) driving.push_back(r);
    }
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
  if (driving.empty()) return;
  const ThresholdRef reclaim = driving.front();
  EvictionSignal signal = reclaim.signal;
  if (signal == EvictionSignal::kNodeFs) {
    // Node-level reclaim first: unused images. Enough if no disk threshold is met any more
    // (grace periods aside).
    int64_t need = 0;
    for (const auto& r : thresholds) {
      if (r.signal == EvictionSignal::kNodeFs) {
        need = std::max(need, r.t->Of(obs->nodefs_capacity) - obs->nodefs_available);
      }
    }
    int64_t freed = GarbageCollectImages(need);
    if (freed > 0) {
      auto again = fn();
      if (again) {
        bool still = false;
        for (const auto& r : thresholds) {
          if (r.signal == EvictionSignal::kNodeFs && Met(*again, r)) still = true;
        }
        if (!still) {
          KLOG(Info, "kubelet: eviction: image garbage collection freed {} bytes, enough", freed);
          return;
        }
        obs = again;
      }
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
  // Hard thresholds (and soft ones without a grace period, as upstream) stop the pod in 1 s.
  bool hard = !reclaim.soft || reclaim.t->grace_period.count() == 0;
  for (const auto& uid : RankForEviction(candidates, *obs, signal)) {
    const Json& pod = *by_uid[uid];
    if (IsCriticalPod(pod)) continue;
    int64_t grace = 1;
    if (!hard) {
      grace = std::min<int64_t>(std::max<int64_t>(ec.max_pod_grace_period_seconds, 0),
                                pod["spec"].value("terminationGracePeriodSeconds", int64_t{30}));
    }
    {
      std::lock_guard l(mu);
      auto& st = states[uid];
      st.evicted = true;             // no sync restarts or stops it from now on
      st.terminated_sandbox = true;  // the eviction stops it
    }
    if (hard) {
      EvictPod(pod, *obs, signal, grace);
    } else {
      // A graceful stop (preStop, SIGTERM, up to `grace` s) must not hold up the housekeeping.
      std::lock_guard l(mu);
      if (stopping) return;
      std::string key = "evict/" + uid;
      auto it = terminators.find(key);
      if (it != terminators.end() && it->second.joinable()) it->second.join();
      terminators[key] =
          std::thread([this, pod, o = *obs, signal, grace] { EvictPod(pod, o, signal, grace); });
    }
    return;  // at most one pod per monitoring period, as upstream
  }
  KLOG(Warning, "kubelet: eviction: threshold met for {} but no pod to evict",
       signal == EvictionSignal::kMemory ? "memory.available" : "nodefs.available");
}

void Kubelet::Impl::EvictPod(const Json& pod, const EvictionObservation& obs, EvictionSignal signal,
                             int64_t grace) {
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
  KLOG(Info, "kubelet: evicting pod {} (grace {}s): {}", PodKey(pod), grace, message);
  {
    std::lock_guard l(mu);
    states[uid].evicted = true;
    states[uid].terminated_sandbox = true;
  }
  // Hard threshold: upstream's 1 s grace override; soft: preStop hooks and the given grace.
  RemoveProbes(uid);
  auto rp = GetRuntimePod(uid);
  if (rp.ok()) {
    std::vector<std::thread> killers;
    for (const auto& c : rp->containers) {
      if (c.state() != v1::CONTAINER_RUNNING) continue;
      const Json* spec_c = SpecContainer(pod, c.metadata().name());
      std::string id = c.id();
      killers.emplace_back([this, &pod, spec_c, id, grace] {
        if (grace > 1) {
          (void)KillContainer(&pod, spec_c, id, grace);
        } else {
          (void)rt.StopContainer(id, grace);
        }
      });
    }
    for (auto& t : killers) t.join();
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
