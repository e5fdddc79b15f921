// korral/controllers/podgc/podgc.cc
#include "korral/controllers/podgc/podgc.h"

#include <algorithm>
#include <set>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/pod_summary.h"

namespace korral::controllers {

PodGCController::PodGCController(ControllerContext& ctx)
    : ctx_(ctx),
      pods_(ctx.informers->For(client::resources::Pods())),
      nodes_(ctx.informers->For(client::resources::Nodes())) {
  EnsurePodNodeNameIndex(pods_);
}

PodGCController::~PodGCController() { Stop(); }

void PodGCController::Run(int) {
  thread_ = std::thread([this] {
    std::unique_lock l(stop_mu_);
    while (!stopped_) {
      stop_cv_.wait_for(l, kCheckPeriod);
      if (stopped_) break;
      l.unlock();
      if (auto s = Gc(); !s.ok()) KLOG(Info, "pod gc: {}", StatusMessage(s));
      l.lock();
    }
  });
}

void PodGCController::Stop() {
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::Status PodGCController::Gc() {
  absl::Status a = GcTerminated(), b = GcOrphaned(), c = GcUnscheduledTerminating();
  if (!a.ok()) return a;
  if (!b.ok()) return b;
  return c;
}

absl::Status PodGCController::DeletePod(const Json& pod, bool mark_failed,
                                        const std::string& message) {
  const auto ref = client::resources::Pods();
  if (mark_failed && !IsPodTerminated(pod)) {
    Json p = pod;
    p["status"]["phase"] = "Failed";
    Json cond = {{"type", "DisruptionTarget"},
                 {"status", "True"},
                 {"reason", "DeletionByPodGC"},
                 {"message", message},
                 {"lastTransitionTime", FormatTime(ctx_.clock->Now())}};
    if (!p["status"].contains("conditions")) p["status"]["conditions"] = Json::array();
    p["status"]["conditions"].push_back(cond);
    auto u = ctx_.client->UpdateStatus(ref, NamespaceOf(pod), p);
    if (!u.ok() && !client::IsNotFound(u.status())) return u.status();
  }
  KLOG(Info, "pod gc: deleting pod {} ({})", client::ObjectKey(pod), message);
  auto d = ctx_.client->Delete(ref, NamespaceOf(pod), NameOf(pod),
                               {{"kind", "DeleteOptions"},
                                {"apiVersion", "v1"},
                                {"gracePeriodSeconds", 0},
                                {"preconditions", {{"uid", UidOf(pod)}}}});
  if (!d.ok() && !client::IsNotFound(d.status()) && !client::IsConflict(d.status())) {
    return d.status();
  }
  return absl::OkStatus();
}

// The passes read pod summaries (the pod cache is packed: pod_summary.h) and decode only the
// pods they delete.
absl::Status PodGCController::DeleteCached(const std::string& key, bool mark_failed,
                                           const std::string& message) {
  client::ObjectPtr pod = pods_->indexer().Get(key);
  if (!pod) return absl::OkStatus();  // gone meanwhile
  return DeletePod(*pod, mark_failed, message);
}

absl::Status PodGCController::GcTerminated() {
  int threshold = ctx_.options.terminated_pod_gc_threshold;
  if (threshold <= 0) return absl::OkStatus();
  std::vector<PodSummaryPtr> terminated;
  for (PodSummaryPtr& p : ListPodSummaries(pods_->indexer())) {
    if (p->Terminal() && !p->deleting) terminated.push_back(std::move(p));
  }
  if (static_cast<int>(terminated.size()) <= threshold) return absl::OkStatus();
  std::sort(terminated.begin(), terminated.end(), [](const auto& a, const auto& b) {
    return a->created != b->created ? a->created < b->created : a->key < b->key;
  });
  size_t excess = terminated.size() - threshold;
  for (size_t i = 0; i < excess; ++i) {
    KORRAL_RETURN_IF_ERROR(
        DeleteCached(terminated[i]->key, false, "terminated pod over the threshold"));
  }
  return absl::OkStatus();
}

absl::Status PodGCController::GcOrphaned() {
  const auto now = ctx_.clock->SteadyNow();
  std::set<std::string> bound;
  for (const PodSummaryPtr& p : ListPodSummaries(pods_->indexer())) {
    if (!p->node_name.empty()) bound.insert(p->node_name);
  }
  for (const auto& node : bound) {
    if (nodes_->indexer().Get(node)) {
      missing_since_.erase(node);
      continue;
    }
    auto [it, fresh] = missing_since_.try_emplace(node, now);
    if (now - it->second < kQuarantine) continue;
    // Make sure it is really gone.
    auto live = ctx_.client->Get(client::resources::Nodes(), "", node);
    if (live.ok()) {
      missing_since_.erase(node);
      continue;
    }
    if (!client::IsNotFound(live.status())) return live.status();
    for (const auto& p : pods_->indexer().ByIndex(kPodNodeNameIndex, node)) {
      KORRAL_RETURN_IF_ERROR(DeletePod(*p, true, "PodGC: node no longer exists"));
    }
  }
  for (auto it = missing_since_.begin(); it != missing_since_.end();) {
    it = bound.count(it->first) ? std::next(it) : missing_since_.erase(it);
  }
  return absl::OkStatus();
}

absl::Status PodGCController::GcUnscheduledTerminating() {
  for (const PodSummaryPtr& p : PodSummariesByIndex(pods_->indexer(), kPodNodeNameIndex, "")) {
    if (!p->deleting) continue;
    KORRAL_RETURN_IF_ERROR(DeleteCached(p->key, false, "unscheduled terminating pod"));
  }
  return absl::OkStatus();
}

ControllerDescriptor PodGCControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "pod-garbage-collector-controller";
  d.aliases = {"podgc"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<PodGCController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
