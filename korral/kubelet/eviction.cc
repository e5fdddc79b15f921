// Node-pressure eviction (upstream pkg/kubelet/eviction) on memory.available,
// nodefs.available, nodefs.inodesFree, imagefs.available, imagefs.inodesFree (nodefs when the
// image store shares it) and pid.available, with hard thresholds and soft ones (evictionSoft +
// evictionSoftGracePeriod + evictionMaxPodGracePeriod). Every monitoring period (10 s): observe
// the node; a threshold met sets MemoryPressure / DiskPressure / PIDPressure at once (kept for
// the pressure transition period after the signal recovers); a hard threshold drives eviction at
// once, a soft one once it has been met continuously for its grace period. A driving threshold
// posts a Warning EvictionThresholdMet event on the node ("Attempting to reclaim memory").
// Node-level resources are reclaimed first for disk (image GC), then at most one pod is evicted,
// ranked as upstream: pods whose usage exceeds their requests first, then by priority (lowest
// first), then by usage above the request (largest first). Critical pods (static, mirror, priority
// >= 2000000000) are never evicted. The eviction posts a Warning Evicted event on the pod with
// upstream's message ("The node was low on resource: memory. Threshold quantity: 100Mi, available:
// 50Mi. Container c was using 200Mi, request is 0, has larger consumption of memory. ") and hands
// the pod to its sync (PodState::pending_kill), so that it is serialized with a sync in flight that
// may still be creating the sandbox or containers: that sync stops the containers (hard: 1 s; soft:
// min(terminationGracePeriodSeconds, evictionMaxPodGracePeriod), with preStop hooks) and the
// sandbox, and writes phase Failed, reason Evicted, the message, a DisruptionTarget condition and
// terminated container statuses (ContainerStatusUnknown for containers that never ran, as
// upstream's status manager). No sync starts anything for the pod again.
// Admission (upstream's eviction admit handler): a pod that has not run on the node yet is
// rejected while the node reports MemoryPressure (BestEffort pods not tolerating
// node.kubernetes.io/memory-pressure:NoSchedule) or DiskPressure / PIDPressure (every pod);
// critical pods are always admitted. Rejected: Warning Evicted event, phase Failed, reason
// Evicted, message "Pod was rejected: The node had condition: [DiskPressure]. ", nothing started.
// Local storage limits (upstream's localStorageEviction, checked every period whatever the
// pressure): a pod using more than an emptyDir's sizeLimit, the sum of its containers'
// ephemeral-storage limits or a container's own limit is evicted at once (1 s), with upstream's
// message and no DisruptionTarget condition.
// TODO(korral): evictionMinimumReclaim, allocatableMemory.available.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <string_view>

#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {

namespace {

constexpr int64_t kSystemCriticalPriority = 2000000000;
constexpr std::chrono::seconds kPodCleanupTimeout{30};  // upstream podCleanupTimeout
constexpr std::chrono::minutes kEventAggregationWindow{10};

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

// The resource a signal reclaims (upstream signalToResource).
const char* ResourceOf(EvictionSignal signal) {
  switch (signal) {
    case EvictionSignal::kMemory:
      return "memory";
    case EvictionSignal::kNodeFs:
    case EvictionSignal::kImageFs:
      return "ephemeral-storage";
    case EvictionSignal::kNodeFsInodes:
    case EvictionSignal::kImageFsInodes:
      return "inodes";
    case EvictionSignal::kPid:
      return "pids";
  }
  return "";
}

bool IsDiskSignal(EvictionSignal s) {
  return s != EvictionSignal::kMemory && s != EvictionSignal::kPid;
}
bool IsCountSignal(EvictionSignal s) {
  return s == EvictionSignal::kNodeFsInodes || s == EvictionSignal::kImageFsInodes ||
         s == EvictionSignal::kPid;
}

// The signal's {capacity, available} in `o`; false when not observed.
bool Observe(const EvictionObservation& o, EvictionSignal s, int64_t* capacity,
             int64_t* available) {
  bool own_imagefs = o.imagefs_capacity > 0;  // else the image store is on nodefs
  switch (s) {
    case EvictionSignal::kMemory:
      *capacity = o.memory_capacity;
      *available = o.memory_capacity - o.memory_working_set;
      break;
    case EvictionSignal::kNodeFs:
      *capacity = o.nodefs_capacity;
      *available = o.nodefs_available;
      break;
    case EvictionSignal::kNodeFsInodes:
      *capacity = o.nodefs_inodes;
      *available = o.nodefs_inodes_free;
      break;
    case EvictionSignal::kImageFs:
      *capacity = own_imagefs ? o.imagefs_capacity : o.nodefs_capacity;
      *available = own_imagefs ? o.imagefs_available : o.nodefs_available;
      break;
    case EvictionSignal::kImageFsInodes:
      *capacity = own_imagefs ? o.imagefs_inodes : o.nodefs_inodes;
      *available = own_imagefs ? o.imagefs_inodes_free : o.nodefs_inodes_free;
      break;
    case EvictionSignal::kPid:
      *capacity = o.pid_max;
      *available = o.pid_max - o.processes;
      break;
  }
  return *capacity > 0;
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

struct SignalDef {
  EvictionSignal signal;
  const char* name;
  EvictionThreshold EvictionConfig::*hard;
  EvictionThreshold EvictionConfig::*soft;
};

// In upstream's order of eviction priority (memory first).
constexpr SignalDef kSignals[] = {
    {EvictionSignal::kMemory, "memory.available", &EvictionConfig::memory_available,
     &EvictionConfig::soft_memory_available},
    {EvictionSignal::kNodeFs, "nodefs.available", &EvictionConfig::nodefs_available,
     &EvictionConfig::soft_nodefs_available},
    {EvictionSignal::kNodeFsInodes, "nodefs.inodesFree", &EvictionConfig::nodefs_inodes_free,
     &EvictionConfig::soft_nodefs_inodes_free},
    {EvictionSignal::kImageFs, "imagefs.available", &EvictionConfig::imagefs_available,
     &EvictionConfig::soft_imagefs_available},
    {EvictionSignal::kImageFsInodes, "imagefs.inodesFree", &EvictionConfig::imagefs_inodes_free,
     &EvictionConfig::soft_imagefs_inodes_free},
    {EvictionSignal::kPid, "pid.available", &EvictionConfig::pid_available,
     &EvictionConfig::soft_pid_available},
};

constexpr const char* kSupportedSignals =
    "memory.available, nodefs.available, nodefs.inodesFree, imagefs.available, "
    "imagefs.inodesFree, pid.available";

const char* SignalName(EvictionSignal s) {
  for (const auto& d : kSignals) {
    if (d.signal == s) return d.name;
  }
  return "";
}

EvictionThreshold* ThresholdOf(EvictionConfig* c, const std::string& signal, bool soft) {
  for (const auto& d : kSignals) {
    if (signal == d.name) return &(c->*(soft ? d.soft : d.hard));
  }
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
          fmt::format("unsupported eviction signal {} (supported: {})", signal, kSupportedSignals));
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
    for (const auto& d : kSignals) c.*d.hard = {};
    KORRAL_RETURN_IF_ERROR(ParseThresholds(hard, false, &c));
  }
  std::map<std::string, std::chrono::milliseconds> graces;
  for (const auto& stmt : SplitComma(soft_grace)) {
    size_t eq = stmt.find('=');
    std::string signal = Trim(std::string_view(stmt).substr(0, eq));
    if (eq == std::string::npos || !ThresholdOf(&c, signal, true)) {
      return BadFlag(
          fmt::format("invalid eviction grace period \"{}\": want <signal>=<duration> "
                      "with signal one of {}",
                      stmt, kSupportedSignals));
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
    for (const auto& d : kSignals) c.*d.soft = {};
    KORRAL_RETURN_IF_ERROR(ParseThresholds(soft, true, &c));
    for (const auto& d : kSignals) {
      const char* signal = d.name;
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

std::string FormatDecimalQuantity(int64_t n) {
  if (n == 0) return "0";
  static const char* kSuffix[] = {"", "k", "M", "G", "T", "P", "E"};
  int i = 0;
  int64_t v = n;
  while (i < 6 && v % 1000 == 0) {
    v /= 1000;
    ++i;
  }
  return std::to_string(v) + kSuffix[i];
}

std::vector<std::string> RankForEviction(const std::vector<Json>& pods,
                                         const EvictionObservation& obs, EvictionSignal signal) {
  // Requests exist for memory and ephemeral storage only (inodes and pids request 0); for pids
  // upstream ranks by priority, then process count.
  const char* resource = ResourceOf(signal);
  const bool by_requests = signal != EvictionSignal::kPid;
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
      const auto& ps = it->second;
      usage = signal == EvictionSignal::kMemory ? ps.memory_working_set
              : signal == EvictionSignal::kPid  ? ps.processes
              : IsCountSignal(signal)           ? ps.inodes
                                                : ps.disk_usage;
      has = true;
    }
    int64_t request = IsCountSignal(signal) ? 0 : PodRequest(p, resource);
    r.push_back({uid, by_requests && has && usage > request,
                 p["spec"].value("priority", int64_t{0}), has ? usage - request : INT64_MIN});
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

// In upstream's order of eviction priority: memory first; hard before soft.
std::vector<ThresholdRef> Thresholds(const EvictionConfig& ec) {
  std::vector<ThresholdRef> out;
  for (const auto& d : kSignals) {
    for (bool soft : {false, true}) {
      const EvictionThreshold* t = &(ec.*(soft ? d.soft : d.hard));
      if (t->IsSet()) out.push_back({d.signal, soft, t});
    }
  }
  return out;
}

bool Met(const EvictionObservation& o, const ThresholdRef& r) {
  int64_t capacity = 0, available = 0;
  return Observe(o, r.signal, &capacity, &available) && available < r.t->Of(capacity);
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
  bool mem_met = false, disk_met = false, pid_met = false;
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
      (r.signal == EvictionSignal::kMemory ? mem_met
       : r.signal == EvictionSignal::kPid  ? pid_met
                                           : disk_met) = true;
      auto first = threshold_first_observed.emplace(key, now).first->second;
      if (!r.soft || now - first >= r.t->grace_period) driving.push_back(r);
    }
    if (mem_met) last_memory_pressure = now;
    if (disk_met) last_disk_pressure = now;
    if (pid_met) last_pid_pressure = now;
    auto active = [&](std::chrono::steady_clock::time_point last) {
      return last != std::chrono::steady_clock::time_point{} &&
             now - last < ec.pressure_transition_period;
    };
    bool mp = mem_met || active(last_memory_pressure);
    bool dp = disk_met || active(last_disk_pressure);
    bool pp = pid_met || active(last_pid_pressure);
    changed = mp != memory_pressure || dp != disk_pressure || pp != pid_pressure;
    memory_pressure = mp;
    disk_pressure = dp;
    pid_pressure = pp;
  }
  if (changed) {
    KLOG(Info, "kubelet: eviction: memory pressure {}, disk pressure {}, pid pressure {}",
         memory_pressure.load(), disk_pressure.load(), pid_pressure.load());
    UpdateNodeStatus(false);
  }
  {
    // As upstream's waitForPodsCleanup: no new eviction while the last one is still being
    // carried out (its pod's sync may be finishing a slow CRI call), for up to 30 s.
    std::lock_guard l(mu);
    for (const auto& [uid, st] : states) {
      if (st.pending_kill && !st.pending_kill->rejected &&
          now - st.pending_kill->since < kPodCleanupTimeout) {
        KLOG(Info, "kubelet: eviction: waiting for the eviction of pod {} to finish", uid);
        return;
      }
    }
  }
  if (LocalStorageEviction(*obs)) return;
  if (driving.empty()) return;
  const ThresholdRef reclaim = driving.front();
  EvictionSignal signal = reclaim.signal;
  RecordEvent(nullptr, "Warning", "EvictionThresholdMet",
              fmt::format("Attempting to reclaim {}", ResourceOf(signal)));
  if (IsDiskSignal(signal)) {
    // Node-level reclaim first: unused images (the image store shares the node's filesystem
    // or is the imagefs). Bytes short of the met byte thresholds; for inodes, every unused
    // image. Enough if no disk threshold is met any more (grace periods aside).
    int64_t need = 0;
    for (const auto& r : thresholds) {
      if (!IsDiskSignal(r.signal) || !Met(*obs, r)) continue;
      if (IsCountSignal(r.signal)) {
        need = -1;
        break;
      }
      int64_t capacity = 0, available = 0;
      Observe(*obs, r.signal, &capacity, &available);
      need = std::max(need, r.t->Of(capacity) - available);
    }
    int64_t freed = GarbageCollectImages(need);
    if (freed > 0) {
      auto again = fn();
      if (again) {
        bool still = false;
        for (const auto& r : thresholds) {
          if (IsDiskSignal(r.signal) && Met(*again, r)) still = true;
        }
        if (!still) {
          KLOG(Info, "kubelet: eviction: image garbage collection freed {} bytes, enough", freed);
          return;
        }
        obs = again;
      }
    }
  }
  std::vector<Json> candidates = EvictionCandidates();
  std::map<std::string, const Json*> by_uid;
  for (const auto& p : candidates) by_uid[PodUid(p)] = &p;
  // Hard thresholds (and soft ones without a grace period, as upstream) stop the pod in 1 s.
  bool hard = !reclaim.soft || reclaim.t->grace_period.count() == 0;
  int64_t capacity = 0, available = 0;
  Observe(*obs, signal, &capacity, &available);
  int64_t threshold = reclaim.t->Of(capacity);
  for (const auto& uid : RankForEviction(candidates, *obs, signal)) {
    const Json& pod = *by_uid[uid];
    if (IsCriticalPod(pod)) continue;
    int64_t grace = 1;
    if (!hard) {
      grace = std::min<int64_t>(std::max<int64_t>(ec.max_pod_grace_period_seconds, 0),
                                pod["spec"].value("terminationGracePeriodSeconds", int64_t{30}));
    }
    Json annotations;
    std::string message = EvictionMessage(pod, *obs, signal, threshold, available, &annotations);
    StartEviction(pod, message, grace, true, annotations);
    return;  // at most one pod per monitoring period, as upstream
  }
  KLOG(Warning, "kubelet: eviction: threshold met for {} but no pod to evict", SignalName(signal));
}

std::vector<Json> Kubelet::Impl::EvictionCandidates() {
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
  return candidates;
}

void Kubelet::Impl::StartEviction(const Json& pod, const std::string& message, int64_t grace,
                                  bool disruption_condition, const Json& annotations) {
  KLOG(Info, "kubelet: evicting pod {} (grace {}s): {}", PodKey(pod), grace, message);
  RecordEvent(&pod, "Warning", "Evicted", message, annotations);
  {
    std::lock_guard l(mu);
    auto& st = states[PodUid(pod)];
    st.evicted = true;  // no sync starts, restarts or reports it from now on
    st.pending_kill =
        PodState::PendingKill{message, grace, false, clock.SteadyNow(), disruption_condition};
  }
  // The pod's sync stops it and writes the status: after any sync in flight (which may still
  // be creating its sandbox or containers), never beside it.
  Enqueue(PodKey(pod));
}

namespace {

// A quantity as the user wrote it (upstream prints the parsed Quantity, which keeps the form).
std::string QuantityText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

}  // namespace

std::string LocalStorageViolation(const Json& pod, const EvictionObservation::Pod& usage) {
  const Json& spec = pod["spec"];
  // emptyDir volumes over their sizeLimit.
  for (const auto& v : spec.value("volumes", Json::array())) {
    if (!v.is_object() || !v.contains("emptyDir") || !v["emptyDir"].is_object()) continue;
    const Json& ed = v["emptyDir"];
    if (!ed.contains("sizeLimit") || ed["sizeLimit"].is_null()) continue;
    int64_t limit = Quantity(ed["sizeLimit"]);
    std::string name = v.value("name", "");
    auto u = usage.volume_usage.find(name);
    if (limit > 0 && u != usage.volume_usage.end() && u->second > limit) {
      return fmt::format("Usage of EmptyDir volume \"{}\" exceeds the limit \"{}\". ", name,
                         QuantityText(ed["sizeLimit"]));
    }
  }
  // The pod's ephemeral storage over the sum of its containers' limits.
  int64_t pod_limit = 0;
  bool any_limit = false;
  for (const auto& c : spec.value("containers", Json::array())) {
    const Json& lim = c.value("resources", Json::object()).value("limits", Json::object());
    if (lim.contains("ephemeral-storage")) {
      any_limit = true;
      pod_limit += Quantity(lim["ephemeral-storage"]);
    }
  }
  if (any_limit && usage.disk_usage > pod_limit) {
    return fmt::format(
        "Pod ephemeral local storage usage exceeds the total limit of containers {}. ",
        FormatBinaryQuantity(pod_limit));
  }
  // A container's rootfs and logs over its own limit.
  for (const auto& c : spec.value("containers", Json::array())) {
    const Json& lim = c.value("resources", Json::object()).value("limits", Json::object());
    if (!lim.contains("ephemeral-storage")) continue;
    int64_t limit = Quantity(lim["ephemeral-storage"]);
    std::string name = c.value("name", "");
    auto u = usage.container_disk.find(name);
    if (limit > 0 && u != usage.container_disk.end() && u->second > limit) {
      return fmt::format("Container {} exceeded its local ephemeral storage limit \"{}\". ", name,
                         QuantityText(lim["ephemeral-storage"]));
    }
  }
  return "";
}

bool Kubelet::Impl::LocalStorageEviction(const EvictionObservation& obs) {
  bool any = false;
  for (const auto& pod : EvictionCandidates()) {
    auto it = obs.pods.find(PodUid(pod));
    if (it == obs.pods.end() || IsCriticalPod(pod)) continue;
    std::string message = LocalStorageViolation(pod, it->second);
    if (message.empty()) continue;
    StartEviction(pod, message, 1, false);
    any = true;
  }
  return any;
}

std::string EvictionMessage(const Json& pod, const EvictionObservation& obs, EvictionSignal signal,
                            int64_t threshold, int64_t available, Json* annotations) {
  const char* resource = ResourceOf(signal);
  auto format = IsCountSignal(signal) ? FormatDecimalQuantity : FormatBinaryQuantity;
  std::string message =
      fmt::format("The node was low on resource: {}. Threshold quantity: {}, available: {}. ",
                  resource, format(threshold), format(available));
  auto pit = obs.pods.find(PodUid(pod));
  if (pit == obs.pods.end()) return message;
  std::vector<std::string> offending, offending_usage;
  auto annotate = [&] {
    if (!annotations) return;
    *annotations = {
        {"offending_containers", fmt::format("{}", fmt::join(offending, ","))},
        {"offending_containers_usage", fmt::format("{}", fmt::join(offending_usage, ","))},
        {"starved_resource", resource}};
  };
  // Container usage is reported for memory and ephemeral storage, as upstream.
  if (IsCountSignal(signal)) {
    annotate();
    return message;
  }
  const auto& usage_map =
      signal == EvictionSignal::kMemory ? pit->second.container_memory : pit->second.container_disk;
  for (const char* list : {"containers", "initContainers"}) {
    for (const auto& c : pod["spec"].value(list, Json::array())) {
      std::string name = c.value("name", "");
      auto u = usage_map.find(name);
      if (u == usage_map.end()) continue;
      // As upstream: the request as set (a limit alone is not taken for a request here).
      int64_t req = 0;
      const Json& requests = c.value("resources", Json::object()).value("requests", Json::object());
      if (requests.contains(resource)) req = Quantity(requests[resource]);
      if (u->second > req) {
        message +=
            fmt::format("Container {} was using {}, request is {}, has larger consumption of {}. ",
                        name, FormatBinaryQuantity(u->second), FormatBinaryQuantity(req), resource);
        offending.push_back(name);
        offending_usage.push_back(FormatBinaryQuantity(u->second));
      }
    }
  }
  annotate();
  return message;
}

namespace {

bool Tolerates(const Json& tolerations, const std::string& key, const std::string& effect) {
  if (!tolerations.is_array()) return false;
  for (const auto& t : tolerations) {
    if (!t.is_object()) continue;
    std::string te = t.value("effect", ""), tk = t.value("key", ""), op = t.value("operator", "");
    if (!te.empty() && te != effect) continue;
    if (!tk.empty() && tk != key) continue;
    if (op == "Exists") return true;
    if ((op.empty() || op == "Equal") && t.value("value", "").empty()) return true;
  }
  return false;
}

}  // namespace

std::string AdmitUnderPressure(const Json& pod, bool memory_pressure, bool disk_pressure,
                               bool pid_pressure) {
  if (!memory_pressure && !disk_pressure && !pid_pressure) return "";
  if (IsCriticalPod(pod)) return "";
  if (memory_pressure && !disk_pressure && !pid_pressure) {
    if (api::defaults::PodQosClass(pod) != "BestEffort") return "";
    if (Tolerates(pod["spec"].value("tolerations", Json::array()),
                  "node.kubernetes.io/memory-pressure", "NoSchedule")) {
      return "";
    }
  }
  std::vector<std::string> conds;
  if (memory_pressure) conds.push_back("MemoryPressure");
  if (disk_pressure) conds.push_back("DiskPressure");
  if (pid_pressure) conds.push_back("PIDPressure");
  return fmt::format("The node had condition: [{}]. ", fmt::join(conds, " "));
}

std::string Kubelet::Impl::AdmitMessage(const Json& pod) const {
  return AdmitUnderPressure(pod, memory_pressure.load(), disk_pressure.load(), pid_pressure.load());
}

void TerminateContainerStatuses(Json* status) {
  const Json unknown = {{"terminated",
                         {{"exitCode", 137},
                          {"reason", "ContainerStatusUnknown"},
                          {"message",
                           "The container could not be located when the pod was "
                           "terminated"}}}};
  auto terminate = [&](Json& cs) {
    if (cs.value("state", Json::object()).contains("terminated")) return;
    cs["state"] = unknown;
    cs["ready"] = false;
    cs["started"] = false;
  };
  if (status->contains("containerStatuses")) {
    for (auto& cs : (*status)["containerStatuses"]) terminate(cs);
  }
  if (status->contains("initContainerStatuses")) {
    // Init containers after the last one that started stay waiting (they never ran).
    Json& inits = (*status)["initContainerStatuses"];
    int last_started = -1;
    for (size_t i = 0; i < inits.size(); ++i) {
      const Json st = inits[i].value("state", Json::object());
      if (st.contains("running") || st.contains("terminated") ||
          !inits[i].value("lastState", Json::object()).empty()) {
        last_started = static_cast<int>(i);
      }
    }
    for (int i = 0; i <= last_started; ++i) terminate(inits[i]);
  }
}

absl::Status Kubelet::Impl::FinishPodKill(const Json& pod, const PodState::PendingKill& kill) {
  std::string uid = PodUid(pod);
  client::PatchOptions po;
  po.subresource = "status";
  const std::string ns = pod["metadata"].value("namespace", ""),
                    name = pod["metadata"].value("name", "");
  if (kill.rejected) {
    // As upstream's rejectPod: phase, reason and message only (nothing ran).
    Json status = {{"phase", "Failed"},
                   {"reason", "Evicted"},
                   {"message", "Pod was rejected: " + kill.message},
                   {"qosClass", api::defaults::PodQosClass(pod)}};
    Json patch = {{"metadata", {{"uid", uid}}}, {"status", status}};
    auto r =
        client.Patch(client::resources::Pods(), ns, name, client::PatchType::kMerge, patch, po);
    if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
    std::lock_guard l(mu);
    auto& st = states[uid];
    st.pending_kill.reset();
    st.terminated_sandbox = true;
    st.last_status = status;
    return absl::OkStatus();
  }
  // Hard threshold: upstream's 1 s grace override; soft: preStop hooks and the given grace.
  RemoveProbes(uid);
  KORRAL_ASSIGN_OR_RETURN(RuntimePod rp, GetRuntimePod(uid));
  std::vector<std::thread> killers;
  for (const auto& c : rp.containers) {
    if (c.state() != v1::CONTAINER_RUNNING) continue;
    const Json* spec_c = SpecContainer(pod, c.metadata().name());
    std::string id = c.id();
    int64_t grace = kill.grace;
    killers.emplace_back([this, &pod, spec_c, id, grace] {
      absl::Status s =
          grace > 1 ? KillContainer(&pod, spec_c, id, grace) : rt.StopContainer(id, grace);
      if (!s.ok()) KLOG(Warning, "kubelet: stop {}: {}", id, StatusMessage(s));
    });
  }
  for (auto& t : killers) t.join();
  for (const auto& s : rp.sandboxes) {
    if (s.state() == v1::SANDBOX_READY) (void)rt.StopPodSandbox(s.id());
  }
  KORRAL_ASSIGN_OR_RETURN(rp, GetRuntimePod(uid));
  std::string pod_ip;
  {
    std::lock_guard l(mu);
    pod_ip = states[uid].pod_ip;
  }
  Json status = BuildStatus(pod, rp, pod_ip);
  status["phase"] = "Failed";
  status["reason"] = "Evicted";
  status["message"] = kill.message;
  TerminateContainerStatuses(&status);
  std::string now = FormatTime(clock.Now());
  Json conds = Json::array();
  for (auto& c : status.value("conditions", Json::array())) {
    std::string t = c.value("type", "");
    if (t == "DisruptionTarget" && kill.disruption_condition) continue;
    if (t == "Ready" || t == "ContainersReady") {
      if (c.value("status", "") != "False") c["lastTransitionTime"] = now;
      c["status"] = "False";
      c["reason"] = "PodFailed";
      c.erase("message");
    }
    conds.push_back(c);
  }
  if (kill.disruption_condition) {
    conds.push_back({{"type", "DisruptionTarget"},
                     {"status", "True"},
                     {"lastProbeTime", nullptr},
                     {"lastTransitionTime", now},
                     {"reason", "TerminationByKubelet"},
                     {"message", kill.message}});
  }
  status["conditions"] = conds;
  Json patch = {{"metadata", {{"uid", uid}}}, {"status", status}};
  auto r = client.Patch(client::resources::Pods(), ns, name, client::PatchType::kMerge, patch, po);
  if (!r.ok() && !client::IsNotFound(r.status())) {
    KLOG(Warning, "kubelet: status of evicted pod {}: {}", PodKey(pod), StatusMessage(r.status()));
    return r.status();  // retried by the worker; what ran is stopped already
  }
  std::lock_guard l(mu);
  auto& st = states[uid];
  st.pending_kill.reset();
  st.terminated_sandbox = true;
  st.last_status = status;
  return absl::OkStatus();
}

void Kubelet::Impl::RecordEvent(const Json* pod, const std::string& type, const std::string& reason,
                                const std::string& message, const Json& annotations) {
  auto now = clock.Now();
  std::string ts = FormatTime(now);
  Json involved;
  std::string ns = "default", obj_name = cfg.node_name;
  if (pod) {
    const Json& md = (*pod)["metadata"];
    ns = md.value("namespace", "default");
    obj_name = md.value("name", "");
    involved = {{"kind", "Pod"},      {"namespace", ns},
                {"name", obj_name},   {"uid", md.value("uid", "")},
                {"apiVersion", "v1"}, {"resourceVersion", md.value("resourceVersion", "")}};
  } else {
    // Upstream's node reference: the node name doubles as its UID.
    involved = {{"kind", "Node"}, {"name", cfg.node_name}, {"uid", cfg.node_name}};
  }
  // The same event again within 10 min (e.g. EvictionThresholdMet every monitoring period under
  // lasting pressure) bumps the count and lastTimestamp of the one already posted, as client-go's
  // event correlator does, instead of adding an object every 10 s.
  const std::string key =
      fmt::format("{}/{}/{}/{}/{}", involved.value("uid", ""), ns, type, reason, message);
  auto steady = clock.SteadyNow();
  std::optional<RecordedEvent> previous;
  {
    std::lock_guard l(mu);
    for (auto it = recorded_events.begin(); it != recorded_events.end();) {
      it = steady - it->second.last > kEventAggregationWindow ? recorded_events.erase(it)
                                                              : std::next(it);
    }
    auto it = recorded_events.find(key);
    if (it != recorded_events.end()) previous = it->second;
  }
  if (previous) {
    Json patch = {{"count", previous->count + 1}, {"lastTimestamp", ts}};
    auto r = client.Patch(client::resources::Events(), ns, previous->name,
                          client::PatchType::kMerge, patch, client::PatchOptions());
    if (r.ok()) {
      std::lock_guard l(mu);
      auto& rec = recorded_events[key];
      rec.count = previous->count + 1;
      rec.last = steady;
      return;
    }
    // Gone (event TTL) or failing: post a new one.
  }
  static std::atomic<uint64_t> seq{0};
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  Json ev = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"name", fmt::format("{}.{:x}", obj_name, static_cast<uint64_t>(nanos) + seq.fetch_add(1))},
        {"namespace", ns}}},
      {"involvedObject", involved},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"source", {{"component", "kubelet"}, {"host", cfg.node_name}}},
      {"firstTimestamp", ts},
      {"lastTimestamp", ts},
      {"count", 1},
      {"reportingComponent", "kubelet"},
      {"reportingInstance", cfg.node_name}};
  if (annotations.is_object() && !annotations.empty()) {
    ev["metadata"]["annotations"] = annotations;
  }
  auto r = client.Create(client::resources::Events(), ns, ev);
  if (!r.ok()) {
    KLOG(Debug, "kubelet: event {} {} not recorded: {}", reason, obj_name,
         StatusMessage(r.status()));
    return;
  }
  std::lock_guard l(mu);
  recorded_events[key] = {ev["metadata"]["name"].get<std::string>(), 1, steady};
}

}  // namespace korral::kubelet
