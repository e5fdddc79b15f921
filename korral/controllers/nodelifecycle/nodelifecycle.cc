// korral/controllers/nodelifecycle/nodelifecycle.cc
#include "korral/controllers/nodelifecycle/nodelifecycle.h"

#include <algorithm>
#include <optional>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace {

constexpr char kLeaseNamespace[] = "kube-node-lease";

Json* FindCondition(Json& node, const std::string& type) {
  if (!node.contains("status") || !node["status"].contains("conditions")) return nullptr;
  for (auto& c : node["status"]["conditions"]) {
    if (c.value("type", "") == type) return &c;
  }
  return nullptr;
}

std::string ReadyStatus(const Json& node) {
  Json copy = node;
  Json* c = FindCondition(copy, "Ready");
  return c ? c->value("status", "") : "";
}

std::string ZoneOf(const Json& node) {
  Json labels = node["metadata"].value("labels", Json::object());
  return labels.value("topology.kubernetes.io/region", "") +
         ":\x00:" + labels.value("topology.kubernetes.io/zone", "");
}

bool IsNoExecute(const Json& t) { return t.value("effect", "") == "NoExecute"; }

}  // namespace

bool ToleratesTaint(const Json& tolerations, const Json& taint) {
  if (!tolerations.is_array()) return false;
  for (const auto& t : tolerations) {
    std::string effect = t.value("effect", "");
    if (!effect.empty() && effect != taint.value("effect", "")) continue;
    std::string key = t.value("key", "");
    std::string op = t.value("operator", "Equal");
    if (op == "Exists") {
      if (key.empty() || key == taint.value("key", "")) return true;
      continue;
    }
    if (key == taint.value("key", "") && t.value("value", "") == taint.value("value", "")) {
      return true;
    }
  }
  return false;
}

NodeLifecycleController::NodeLifecycleController(ControllerContext& ctx)
    : ctx_(ctx),
      nodes_(ctx.informers->For(client::resources::Nodes())),
      leases_(ctx.informers->For(client::resources::Leases())),
      pods_(ctx.informers->For(client::resources::Pods())) {
  EnsurePodNodeNameIndex(pods_);
}

NodeLifecycleController::~NodeLifecycleController() { Stop(); }

void NodeLifecycleController::Run(int) {
  thread_ = std::thread([this] {
    std::unique_lock l(stop_mu_);
    while (!stopped_) {
      stop_cv_.wait_for(l, ctx_.options.node_monitor_period);
      if (stopped_) break;
      l.unlock();
      if (auto s = MonitorNodeHealth(); !s.ok()) {
        KLOG(Info, "node lifecycle: {}", StatusMessage(s));
      }
      if (auto s = ProcessEvictions(); !s.ok()) {
        KLOG(Info, "node lifecycle: {}", StatusMessage(s));
      }
      l.lock();
    }
  });
}

void NodeLifecycleController::Stop() {
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

client::TokenBucket* NodeLifecycleController::ZoneLimiter(const std::string& zone, double rate) {
  Zone& z = zones_[zone];
  if (z.rate != rate || !z.limiter) {
    z.rate = rate;
    z.limiter = rate > 0 ? std::make_unique<client::TokenBucket>(rate, 1, *ctx_.clock) : nullptr;
  }
  return z.limiter.get();
}

absl::Status NodeLifecycleController::MarkPodsNotReady(const std::string& node) {
  absl::Status first;
  for (const auto& p : pods_->indexer().ByIndex(kPodNodeNameIndex, node)) {
    if (!IsPodReady(*p) || IsPodTerminated(*p)) continue;
    Json pod = *p;
    for (auto& c : pod["status"]["conditions"]) {
      if (c.value("type", "") == "Ready") {
        c["status"] = "False";
        c["lastTransitionTime"] = FormatTime(ctx_.clock->Now());
      }
    }
    auto u = ctx_.client->UpdateStatus(client::resources::Pods(), NamespaceOf(pod), pod);
    if (!u.ok() && !client::IsNotFound(u.status()) && first.ok()) first = u.status();
  }
  return first;
}

namespace {

// Upstream's TaintNodesByCondition: a NoSchedule taint for each pressure or network condition
// that is True, and for spec.unschedulable (so a cordoned node repels pods through taints too).
constexpr std::pair<const char*, const char*> kConditionTaints[] = {
    {"MemoryPressure", "node.kubernetes.io/memory-pressure"},
    {"DiskPressure", "node.kubernetes.io/disk-pressure"},
    {"PIDPressure", "node.kubernetes.io/pid-pressure"},
    {"NetworkUnavailable", "node.kubernetes.io/network-unavailable"},
};
constexpr char kTaintUnschedulable[] = "node.kubernetes.io/unschedulable";

// Drops condition taints whose condition is gone and adds the missing ones, keeping the rest.
void ReconcileConditionTaints(const Json& node, Json* taints) {
  std::vector<std::string> want;
  const Json& status = node.contains("status") ? node["status"] : Json::object();
  for (const auto& [type, key] : kConditionTaints) {
    for (const auto& c : status.value("conditions", Json::array())) {
      if (c.value("type", "") == type && c.value("status", "") == "True") want.emplace_back(key);
    }
  }
  if (SpecOf(node).value("unschedulable", false)) want.emplace_back(kTaintUnschedulable);
  auto managed = [](const std::string& key) {
    if (key == kTaintUnschedulable) return true;
    for (const auto& [type, k] : kConditionTaints) {
      if (key == k) return true;
    }
    return false;
  };
  Json out = Json::array();
  std::vector<std::string> present;
  for (auto& t : *taints) {
    std::string key = t.value("key", "");
    if (managed(key) && t.value("effect", "") == "NoSchedule") {
      if (std::find(want.begin(), want.end(), key) == want.end()) continue;  // condition gone
      present.push_back(key);
    }
    out.push_back(std::move(t));
  }
  for (const auto& key : want) {
    if (std::find(present.begin(), present.end(), key) == present.end()) {
      out.push_back({{"key", key}, {"effect", "NoSchedule"}});
    }
  }
  *taints = std::move(out);
}

}  // namespace

absl::Status NodeLifecycleController::MonitorNodeHealth() {
  const auto now = ctx_.clock->SteadyNow();
  const std::string now_str = FormatTime(ctx_.clock->Now());
  absl::Status first;
  auto note = [&](const absl::Status& s) {
    if (!s.ok() && first.ok()) first = s;
  };
  // Pass 1: health and conditions.
  std::vector<Json> nodes;
  for (const auto& cached : nodes_->indexer().List()) {
    Json node = *cached;
    std::string name = NameOf(node);
    std::string renew;
    if (auto lease = leases_->indexer().Get(std::string(kLeaseNamespace) + "/" + name)) {
      if (lease->contains("spec")) renew = SpecOf(*lease).value("renewTime", "");
    }
    Json* ready = FindCondition(node, "Ready");
    std::string heartbeat = ready ? ready->value("lastHeartbeatTime", "") : "";
    std::string status = ready ? ready->value("status", "") : "";
    bool silent = false;
    {
      std::lock_guard l(mu_);
      auto [it, fresh] = health_.try_emplace(name);
      Health& h = it->second;
      if (fresh || h.lease_renew != renew || h.heartbeat != heartbeat ||
          (h.ready_status != status && status != "Unknown")) {
        h.probe = now;
      }
      h.lease_renew = renew;
      h.heartbeat = heartbeat;
      h.ready_status = status;
      auto grace =
          ready ? ctx_.options.node_monitor_grace_period : ctx_.options.node_startup_grace_period;
      silent = now - h.probe > grace;
    }
    if (silent && status != "Unknown") {
      KLOG(Info, "node {}: no status for longer than the grace period, marking Ready=Unknown",
           name);
      if (!node["status"].contains("conditions")) node["status"]["conditions"] = Json::array();
      if (ready == nullptr) {
        node["status"]["conditions"].push_back({{"type", "Ready"},
                                                {"status", "Unknown"},
                                                {"reason", "NodeStatusNeverUpdated"},
                                                {"message", "Kubelet never posted node status."},
                                                {"lastHeartbeatTime", now_str},
                                                {"lastTransitionTime", now_str}});
      }
      for (const char* type : {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}) {
        Json* c = FindCondition(node, type);
        if (c == nullptr || c->value("status", "") == "Unknown") continue;
        (*c)["status"] = "Unknown";
        (*c)["reason"] = "NodeStatusUnknown";
        (*c)["message"] = "Kubelet stopped posting node status.";
        (*c)["lastTransitionTime"] = now_str;
      }
      auto u = ctx_.client->UpdateStatus(client::resources::Nodes(), "", node);
      if (u.ok()) {
        node = std::move(*u);
        std::lock_guard l(mu_);
        health_[name].ready_status = "Unknown";
        health_[name].heartbeat = heartbeat;
      } else {
        note(u.status());
        continue;
      }
      note(MarkPodsNotReady(name));
    }
    nodes.push_back(std::move(node));
  }
  // Zone states.
  std::map<std::string, std::pair<int, int>> zone_counts;  // zone -> {nodes, not ready}
  for (const auto& n : nodes) {
    auto& zc = zone_counts[ZoneOf(n)];
    ++zc.first;
    if (ReadyStatus(n) != "True") ++zc.second;
  }
  bool all_fully_disrupted = !zone_counts.empty();
  for (const auto& [z, c] : zone_counts) all_fully_disrupted &= c.second == c.first && c.first > 0;
  // Pass 2: taints.
  for (auto& node : nodes) {
    std::string status = ReadyStatus(node);
    std::string want_key = status == "False"                       ? kTaintNotReady
                           : status == "Unknown" || status.empty() ? kTaintUnreachable
                                                                   : "";
    if (status.empty()) want_key = "";  // never reported: upstream waits for the startup grace
    Json taints = SpecOf(node).value("taints", Json::array());
    Json kept = Json::array();
    bool has_noexec = false, has_nosched = false;
    for (const auto& t : taints) {
      std::string key = t.value("key", "");
      bool ours = key == kTaintNotReady || key == kTaintUnreachable;
      if (!ours) {
        kept.push_back(t);
        continue;
      }
      if (key != want_key) continue;  // stale: drop
      kept.push_back(t);
      if (IsNoExecute(t)) has_noexec = true;
      if (t.value("effect", "") == "NoSchedule") has_nosched = true;
    }
    if (!want_key.empty() && !has_nosched) {
      kept.push_back({{"key", want_key}, {"effect", "NoSchedule"}});
    }
    ReconcileConditionTaints(node, &kept);
    if (!want_key.empty() && !has_noexec) {
      // Swapping not-ready <-> unreachable is not rate limited (upstream).
      bool swap = false;
      for (const auto& t : taints) {
        std::string key = t.value("key", "");
        swap |= IsNoExecute(t) && (key == kTaintNotReady || key == kTaintUnreachable);
      }
      const auto& zc = zone_counts[ZoneOf(node)];
      double rate = ctx_.options.node_eviction_rate;
      bool fully = zc.second == zc.first;
      bool partial =
          !fully && zc.first > 2 &&
          static_cast<double>(zc.second) / zc.first >= ctx_.options.unhealthy_zone_threshold;
      if (partial) {
        rate = zc.first > ctx_.options.large_cluster_size_threshold
                   ? ctx_.options.secondary_node_eviction_rate
                   : 0;
      }
      bool allowed = swap;
      if (!allowed && !all_fully_disrupted) {
        std::lock_guard l(mu_);
        client::TokenBucket* b = ZoneLimiter(ZoneOf(node), rate);
        allowed = b != nullptr && b->TryAccept();
      }
      if (allowed) {
        kept.push_back({{"key", want_key}, {"effect", "NoExecute"}, {"timeAdded", now_str}});
      }
    }
    if (kept == taints) continue;
    Json updated = node;
    if (!updated["spec"].is_object()) updated["spec"] = Json::object();
    if (kept.empty()) {
      updated["spec"].erase("taints");
    } else {
      updated["spec"]["taints"] = kept;
    }
    KLOG(Info, "node {}: taints {}", NameOf(node), kept.dump());
    auto u = ctx_.client->Update(client::resources::Nodes(), "", updated);
    if (!u.ok() && !client::IsNotFound(u.status())) note(u.status());
  }
  // Forget nodes that are gone.
  {
    std::lock_guard l(mu_);
    for (auto it = health_.begin(); it != health_.end();) {
      if (!nodes_->indexer().Get(it->first)) {
        it = health_.erase(it);
      } else {
        ++it;
      }
    }
  }
  return first;
}

absl::Status NodeLifecycleController::ProcessEvictions() {
  const auto now = ctx_.clock->Now();
  absl::Status first;
  for (const auto& node : nodes_->indexer().List()) {
    std::vector<Json> noexec;
    for (const auto& t : SpecOf(*node).value("taints", Json::array())) {
      if (IsNoExecute(t)) noexec.push_back(t);
    }
    if (noexec.empty()) continue;
    for (const auto& p : pods_->indexer().ByIndex(kPodNodeNameIndex, NameOf(*node))) {
      if (IsBeingDeleted(*p)) continue;
      Json tolerations = SpecOf(*p).value("tolerations", Json::array());
      bool all = true;
      std::optional<int64_t> min_secs;  // nullopt: tolerated forever
      std::chrono::system_clock::time_point added = now;
      for (const auto& taint : noexec) {
        if (!ToleratesTaint(tolerations, taint)) {
          all = false;
          break;
        }
        for (const auto& t : tolerations) {
          if (!ToleratesTaint(Json::array({t}), taint) || !t.contains("tolerationSeconds") ||
              !t["tolerationSeconds"].is_number()) {
            continue;
          }
          int64_t s = std::max<int64_t>(0, t["tolerationSeconds"].get<int64_t>());
          min_secs = min_secs ? std::min(*min_secs, s) : s;
        }
        if (auto ta = ParseTime(taint.value("timeAdded", "")); ta && *ta < added) added = *ta;
      }
      bool evict = !all || (min_secs && now >= added + std::chrono::seconds(*min_secs));
      if (!evict) continue;
      KLOG(Info, "node lifecycle: evicting pod {} from node {} (NoExecute taint)",
           client::ObjectKey(*p), NameOf(*node));
      auto d = ctx_.client->Delete(client::resources::Pods(), NamespaceOf(*p), NameOf(*p));
      if (!d.ok() && !client::IsNotFound(d.status()) && first.ok()) first = d.status();
    }
  }
  return first;
}

ControllerDescriptor NodeLifecycleControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "node-lifecycle-controller";
  d.aliases = {"nodelifecycle"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<NodeLifecycleController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
