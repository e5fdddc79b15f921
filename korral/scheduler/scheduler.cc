#include "korral/scheduler/scheduler.h"
#include "korral/base/status.h"

#include <algorithm>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/scheduler/plugins/plugins.h"

namespace korral::scheduler {
namespace {

constexpr int kMinFeasibleNodesToFind = 100;
constexpr int kMinFeasibleNodesPercentageToFind = 5;

double Seconds(std::chrono::steady_clock::duration d) {
  return std::chrono::duration<double>(d).count();
}

bool Terminal(const PodInfo& p) { return p.phase == "Succeeded" || p.phase == "Failed"; }

}  // namespace

Scheduler::Scheduler(SchedulerOptions options, SchedulerApi* api)
    : options_(std::move(options)),
      api_(api),
      clock_(options_.clock ? *options_.clock : Clock::Real()),
      snapshot_(std::make_shared<Snapshot>()),
      rng_(options_.seed ? options_.seed : std::random_device{}()) {}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::New(SchedulerOptions options,
                                                          SchedulerApi* api) {
  if (options.profiles.empty()) options.profiles.push_back(ProfileConfig{});
  if (options.registry.empty()) options.registry = plugins::NewInTreeRegistry();
  auto s = std::unique_ptr<Scheduler>(new Scheduler(std::move(options), api));
  std::set<std::string> names;
  for (const auto& pc : s->options_.profiles) {
    if (!names.insert(pc.scheduler_name).second) {
      return absl::Status(
          absl::StatusCode::kInvalidArgument,
          absl::string_view("duplicate profile with scheduler name \"" + pc.scheduler_name + "\""));
    }
    auto fw = Framework::New(s->options_.registry, pc, s.get());
    if (!fw.ok()) return fw.status();
    s->profiles_.push_back(std::move(*fw));
  }
  Framework* first = s->profiles_[0].get();
  Framework* fw0 = first;
  s->queue_ = std::make_unique<SchedulingQueue>(
      [fw0](const QueuedPodInfo& a, const QueuedPodInfo& b) { return fw0->Less(a, b); },
      [raw = s.get()](const PodInfo& p) -> Status {
        Framework* fw = raw->Profile(p.scheduler_name);
        return fw ? fw->RunPreEnqueuePlugins(p) : Status();
      },
      s->clock_, s->options_.queue);
  std::vector<std::pair<std::string, ClusterEvent>> events;
  for (const auto& fw : s->profiles_) {
    auto e = fw->EventsToRegister();
    events.insert(events.end(), e.begin(), e.end());
  }
  s->queue_->SetRegisteredEvents(std::move(events));
  return s;
}

Scheduler::~Scheduler() { Stop(); }

Framework* Scheduler::Profile(const std::string& name) {
  for (const auto& p : profiles_) {
    if (p->scheduler_name() == name) return p.get();
  }
  return nullptr;
}

bool Scheduler::Responsible(const PodInfo& pod) const {
  for (const auto& p : profiles_) {
    if (p->scheduler_name() == pod.scheduler_name) return true;
  }
  return false;
}

// ---- event handlers ---------------------------------------------------------------------------

void Scheduler::OnPodAdd(const PodInfoPtr& pod) {
  if (!pod->node_name.empty()) {
    if (Terminal(*pod)) return;
    cache_.AddPod(pod);
    queue_->MoveAllToActiveOrBackoffQueue({EventResource::kPod, action::kAdd, "AssignedPodAdd"});
    return;
  }
  if (Responsible(*pod) && !pod->terminating) queue_->Add(pod);
}

void Scheduler::OnPodUpdate(const PodInfoPtr& old_pod, const PodInfoPtr& new_pod) {
  if (!new_pod->node_name.empty()) {
    if (old_pod && old_pod->node_name.empty()) {
      queue_->Delete(new_pod->key);
    }
    queue_->DeleteNominatedPodIfExists(new_pod->key);
    if (Terminal(*new_pod)) {
      cache_.RemovePod(*new_pod);
      queue_->MoveAllToActiveOrBackoffQueue(
          {EventResource::kPod, action::kDelete, "AssignedPodDelete"});
      return;
    }
    cache_.UpdatePod(new_pod);
    uint32_t a = action::kUpdateOther;
    if (old_pod && old_pod->labels != new_pod->labels) a |= action::kUpdatePodLabel;
    if (old_pod && old_pod->node_name.empty()) a = action::kAdd;
    queue_->MoveAllToActiveOrBackoffQueue({EventResource::kPod, a, "AssignedPodUpdate"});
    return;
  }
  if (!Responsible(*new_pod)) return;
  if (cache_.IsAssumed(new_pod->key)) return;  // bound by us; the informer has not caught up
  if (new_pod->terminating) {
    queue_->Delete(new_pod->key);
    return;
  }
  queue_->Update(old_pod, new_pod);
}

void Scheduler::OnPodDelete(const PodInfoPtr& pod) {
  queue_->DeleteNominatedPodIfExists(pod->key);
  if (!pod->node_name.empty() || cache_.GetPod(pod->key)) {
    cache_.RemovePod(*pod);
    queue_->MoveAllToActiveOrBackoffQueue(
        {EventResource::kPod, action::kDelete, "AssignedPodDelete"});
    return;
  }
  queue_->Delete(pod->key);
}

void Scheduler::OnNodeAdd(const NodePtr& node) {
  cache_.AddNode(node);
  queue_->MoveAllToActiveOrBackoffQueue({EventResource::kNode, action::kAdd, "NodeAdd"});
}

void Scheduler::OnNodeUpdate(const NodePtr& old_node, const NodePtr& new_node) {
  cache_.UpdateNode(new_node);
  uint32_t a = 0;
  if (!old_node) {
    a = action::kUpdate;
  } else {
    const Resource& x = old_node->allocatable;
    const Resource& y = new_node->allocatable;
    if (x.milli_cpu != y.milli_cpu || x.memory != y.memory ||
        x.ephemeral_storage != y.ephemeral_storage || x.allowed_pods != y.allowed_pods ||
        x.scalar != y.scalar) {
      a |= action::kUpdateNodeAllocatable;
    }
    if (old_node->labels != new_node->labels) a |= action::kUpdateNodeLabel;
    if (old_node->unschedulable != new_node->unschedulable ||
        old_node->taints.size() != new_node->taints.size()) {
      a |= action::kUpdateNodeTaint;
    } else {
      for (size_t i = 0; i < old_node->taints.size(); ++i) {
        const auto& t1 = old_node->taints[i];
        const auto& t2 = new_node->taints[i];
        if (t1.key != t2.key || t1.value != t2.value || t1.effect != t2.effect) {
          a |= action::kUpdateNodeTaint;
        }
      }
    }
  }
  if (a) queue_->MoveAllToActiveOrBackoffQueue({EventResource::kNode, a, "NodeUpdate"});
}

void Scheduler::OnNodeDelete(const NodePtr& node) { cache_.RemoveNode(node->name); }

void Scheduler::OnNamespace(const std::string& name, Labels labels, bool deleted) {
  if (deleted) {
    cache_.RemoveNamespace(name);
    return;
  }
  cache_.SetNamespace(name, std::move(labels));
  queue_->MoveAllToActiveOrBackoffQueue({EventResource::kNamespace, action::kAdd, "Namespace"});
}

void Scheduler::OnPdb(const std::string& key, std::optional<PdbInfo> pdb) {
  std::lock_guard l(pdb_mu_);
  if (pdb) {
    pdbs_[key] = std::move(*pdb);
  } else {
    pdbs_.erase(key);
  }
}

void Scheduler::OnPvc(const std::string& key, PvcPtr pvc) {
  if (!pvc) {
    volumes_.RemovePvc(key);
    return;
  }
  volumes_.SetPvc(std::move(pvc));
  queue_->MoveAllToActiveOrBackoffQueue(
      {EventResource::kPersistentVolumeClaim, action::kAdd | action::kUpdateOther, "PvcChange"});
}

void Scheduler::OnPv(const std::string& name, PvPtr pv) {
  if (!pv) {
    volumes_.RemovePv(name);
    return;
  }
  volumes_.SetPv(std::move(pv));
  queue_->MoveAllToActiveOrBackoffQueue(
      {EventResource::kPersistentVolume, action::kAdd | action::kUpdateOther, "PvChange"});
}

void Scheduler::OnStorageClass(const std::string& name, StorageClassPtr sc) {
  if (!sc) {
    volumes_.RemoveStorageClass(name);
    return;
  }
  volumes_.SetStorageClass(std::move(sc));
  queue_->MoveAllToActiveOrBackoffQueue(
      {EventResource::kStorageClass, action::kAdd | action::kUpdateOther, "StorageClassChange"});
}

absl::StatusOr<Json> Scheduler::UpdateVolumeObject(bool claim, const Json& object, bool status) {
  if (!api_) return object;
  return api_->UpdateVolumeObject(claim, object, status);
}

void Scheduler::SetDefaultSelectorsFunc(
    std::function<std::vector<LabelSelector>(const PodInfo&)> f) {
  default_selectors_ = std::move(f);
}

// ---- Handle -----------------------------------------------------------------------------------

std::vector<PodInfoPtr> Scheduler::NominatedPodsForNode(const std::string& node) const {
  return queue_->NominatedPodsForNode(node);
}

std::string Scheduler::RenderMetrics() {
  auto c = queue_->Len();
  metrics_.SetPending(c.active, c.backoff, c.unschedulable, c.gated);
  return metrics_.Render();
}

bool Scheduler::HasNominatedPods() const { return queue_->HasNominatedPods(); }

std::vector<PdbInfo> Scheduler::Pdbs() const {
  std::lock_guard l(pdb_mu_);
  std::vector<PdbInfo> out;
  for (const auto& [k, v] : pdbs_) out.push_back(v);
  return out;
}

std::vector<LabelSelector> Scheduler::DefaultSpreadSelectors(const PodInfo& pod) const {
  if (!default_selectors_) return {};
  return default_selectors_(pod);
}

absl::Status Scheduler::BindPod(const PodInfo& pod, const std::string& node) {
  if (!api_) return absl::OkStatus();
  return api_->Bind(pod, node);
}

absl::Status Scheduler::DeletePod(const PodInfo& pod, const std::string& msg) {
  if (!api_) return absl::OkStatus();
  absl::Status s = api_->DeletePod(pod);
  if (s.ok()) api_->RecordEvent(pod, "Normal", "Preempted", "Preempting", msg);
  return s;
}

absl::Status Scheduler::ClearNominatedNodeName(const PodInfo& pod) {
  queue_->DeleteNominatedPodIfExists(pod.key);
  if (!api_) return absl::OkStatus();
  std::string empty;
  return api_->UpdatePodScheduledCondition(pod, "", "", &empty);
}

// ---- the scheduling cycle ---------------------------------------------------------------------

int Scheduler::NumFeasibleNodesToFind(Framework& fw, int num_all) const {
  if (num_all < kMinFeasibleNodesToFind) return num_all;
  int pct = fw.percentage_of_nodes_to_score().value_or(options_.percentage_of_nodes_to_score);
  if (pct == 0) {
    pct = 50 - num_all / 125;
    if (pct < kMinFeasibleNodesPercentageToFind) pct = kMinFeasibleNodesPercentageToFind;
  }
  if (pct >= 100) return num_all;
  int num = num_all * pct / 100;
  return std::max(num, kMinFeasibleNodesToFind);
}

std::vector<NodeInfo*> Scheduler::FindNodesThatFit(Framework& fw, CycleState& state,
                                                   const PodInfo& pod, Diagnosis* diagnosis,
                                                   Status* status) {
  std::vector<NodeInfo*> feasible;
  PreFilterResult pre;
  Status s = fw.RunPreFilterPlugins(state, pod, &pre);
  const auto& all = snapshot_->nodes();
  if (!s.IsSuccess()) {
    if (!s.IsRejected()) {
      *status = s;
      return feasible;
    }
    diagnosis->pre_filter_msg = s.Message();
    diagnosis->unschedulable_plugins.insert(s.plugin());
    for (const auto& n : all) diagnosis->node_to_status[n->name()] = s;
    *status = s;
    return feasible;
  }
  // A nominated node (from an earlier preemption) is tried first.
  if (!pod.nominated_node_name.empty()) {
    if (NodeInfo* n = snapshot_->Get(pod.nominated_node_name)) {
      if (fw.RunFilterPluginsWithNominatedPods(state, pod, *n).IsSuccess()) {
        feasible.push_back(n);
        return feasible;
      }
    }
  }
  std::vector<NodeInfo*> nodes;
  if (pre.node_names) {
    for (const auto& name : *pre.node_names) {
      if (NodeInfo* n = snapshot_->Get(name)) nodes.push_back(n);
    }
  }
  bool subset = pre.node_names.has_value();
  size_t n = subset ? nodes.size() : all.size();
  if (n == 0) return feasible;
  int want = NumFeasibleNodesToFind(fw, static_cast<int>(n));
  size_t start = subset ? 0 : next_start_node_index_ % n;
  size_t processed = 0;
  rejected_.clear();
  for (size_t i = 0; i < n && static_cast<int>(feasible.size()) < want; ++i) {
    NodeInfo* node = subset ? nodes[(start + i) % n] : all[(start + i) % n].get();
    ++processed;
    // The filters' first touch of a NodeInfo is a cache miss (they are scattered on the heap):
    // fetch the one two steps ahead while this one is filtered.
    if (i + 2 < n) {
      const char* ahead = reinterpret_cast<const char*>(subset ? nodes[(start + i + 2) % n]
                                                               : all[(start + i + 2) % n].get());
      for (size_t off = 0; off < sizeof(NodeInfo); off += 64) __builtin_prefetch(ahead + off);
    }
    Status fs = fw.RunFilterPluginsWithNominatedPods(state, pod, *node);
    if (fs.IsSuccess()) {
      feasible.push_back(node);
    } else if (fs.code() == Code::kError) {
      *status = fs;
      return {};
    } else {
      diagnosis->unschedulable_plugins.insert(fs.plugin());
      rejected_.emplace_back(node, std::move(fs));
    }
  }
  // The per-node statuses matter only when no node fits (the FitError message, preemption);
  // building the map for every scheduled pod cost more than the filters at 5,000 nodes.
  if (feasible.empty()) {
    diagnosis->node_to_status.reserve(rejected_.size());
    for (auto& [node, st] : rejected_) diagnosis->node_to_status[node->name()] = std::move(st);
  }
  rejected_.clear();
  if (subset) {
    // Nodes outside the PreFilter result count as rejected by it.
    for (size_t i = 0; feasible.empty() && i < all.size(); ++i) {
      const auto& a = all[i];
      if (!pre.node_names->count(a->name())) {
        diagnosis->node_to_status[a->name()] = Status(
            Code::kUnschedulableAndUnresolvable, "node(s) didn't satisfy plugin(s) [NodeAffinity]");
      }
    }
  } else {
    next_start_node_index_ = (start + processed) % n;
  }
  return feasible;
}

std::optional<Scheduler::ScheduleResult> Scheduler::SchedulePod(Framework& fw, CycleState& state,
                                                                const PodInfo& pod,
                                                                Diagnosis* diagnosis,
                                                                Status* status) {
  if (snapshot_->NumNodes() == 0) {
    *status = Status(Code::kUnschedulableAndUnresolvable, "no nodes available to schedule pods");
    return std::nullopt;
  }
  Status fs;
  std::vector<NodeInfo*> feasible = FindNodesThatFit(fw, state, pod, diagnosis, &fs);
  if (fs.code() == Code::kError) {
    *status = fs;
    return std::nullopt;
  }
  if (feasible.empty()) {
    *status = Status(Code::kUnschedulable,
                     FitErrorMessage(static_cast<int>(snapshot_->NumNodes()), *diagnosis));
    return std::nullopt;
  }
  ScheduleResult r;
  r.feasible = static_cast<int>(feasible.size());
  if (feasible.size() == 1) {
    r.host = feasible[0]->name();
    return r;
  }
  Status ps = fw.RunPreScorePlugins(state, pod, feasible);
  if (!ps.IsSuccess()) {
    *status = Status::Error(ps.Message());
    return std::nullopt;
  }
  std::vector<int64_t> totals;
  Status ss = fw.RunScorePlugins(state, pod, feasible, &totals);
  if (!ss.IsSuccess()) {
    *status = Status::Error(ss.Message());
    return std::nullopt;
  }
  // Highest score; ties broken uniformly at random (reservoir sampling, as upstream).
  size_t best = 0;
  int ties = 1;
  for (size_t i = 1; i < totals.size(); ++i) {
    if (totals[i] > totals[best]) {
      best = i;
      ties = 1;
    } else if (totals[i] == totals[best]) {
      ++ties;
      if (rng_() % static_cast<uint64_t>(ties) == 0) best = i;
    }
  }
  r.host = feasible[best]->name();
  return r;
}

bool Scheduler::ScheduleOne(std::chrono::milliseconds timeout) {
  auto popped = queue_->Pop(timeout);
  if (!popped) return false;
  QueuedPodInfo qpi = std::move(*popped);
  auto start = clock_.SteadyNow();
  const PodInfoPtr& pod = qpi.pod;
  Framework* fw = Profile(pod->scheduler_name);
  int64_t cycle = queue_->SchedulingCycle();
  if (!fw || pod->terminating || cache_.IsAssumed(pod->key)) {
    queue_->Done(pod->key);
    return true;
  }
  cache_.UpdateSnapshot(*snapshot_);
  auto state = std::make_shared<CycleState>();
  Diagnosis diagnosis;
  Status status;
  auto result = SchedulePod(*fw, *state, *pod, &diagnosis, &status);
  if (!result) {
    std::string nominated;
    std::string message = status.Message();
    if (status.IsRejected() && fw->HasPostFilterPlugins() && !diagnosis.node_to_status.empty()) {
      PostFilterResult pfr;
      Status pf = fw->RunPostFilterPlugins(*state, *pod, diagnosis, &pfr);
      if (pf.IsSuccess()) {
        nominated = pfr.nominated_node_name;
      } else if (!pf.reasons().empty() && pf.code() != Code::kError) {
        diagnosis.post_filter_msg = pf.Message();
      }
      message = FitErrorMessage(static_cast<int>(snapshot_->NumNodes()), diagnosis);
    }
    metrics_.ObserveAttempt(status.IsRejected() ? "unschedulable" : "error", fw->scheduler_name(),
                            Seconds(clock_.SteadyNow() - start));
    HandleFailure(*fw, std::move(qpi), status, diagnosis, nominated, cycle, message);
    return true;
  }
  // Assume, reserve, permit; then bind asynchronously.
  auto assumed_mut = std::make_shared<PodInfo>(*pod);
  assumed_mut->node_name = result->host;
  PodInfoPtr assumed = assumed_mut;
  if (absl::Status as = cache_.AssumePod(assumed); !as.ok()) {
    HandleFailure(*fw, std::move(qpi), Status::Error(std::string(StatusMessage(as))), diagnosis, "",
                  cycle, std::string(StatusMessage(as)));
    return true;
  }
  Status rs = fw->RunReservePluginsReserve(*state, *pod, result->host);
  if (rs.IsSuccess()) rs = fw->RunPermitPlugins(*state, *pod, result->host);
  if (!rs.IsSuccess()) {
    fw->RunReservePluginsUnreserve(*state, *pod, result->host);
    cache_.ForgetPod(*assumed);
    metrics_.ObserveAttempt(rs.IsRejected() ? "unschedulable" : "error", fw->scheduler_name(),
                            Seconds(clock_.SteadyNow() - start));
    if (rs.IsRejected()) diagnosis.unschedulable_plugins.insert(rs.plugin());
    HandleFailure(*fw, std::move(qpi), rs, diagnosis, "", cycle, rs.Message());
    return true;
  }
  queue_->Done(pod->key);
  queue_->DeleteNominatedPodIfExists(pod->key);
  metrics_.ObserveAttempt("scheduled", fw->scheduler_name(), Seconds(clock_.SteadyNow() - start));
  Submit([this, fw, state, qpi = std::move(qpi), assumed, cycle, start]() mutable {
    BindingCycle(fw, state, std::move(qpi), assumed, cycle, start);
  });
  return true;
}

void Scheduler::BindingCycle(Framework* fw, std::shared_ptr<CycleState> state, QueuedPodInfo qpi,
                             PodInfoPtr assumed, int64_t cycle,
                             std::chrono::steady_clock::time_point) {
  const PodInfo& pod = *qpi.pod;
  const std::string& host = assumed->node_name;
  Status s = fw->RunPreBindPlugins(*state, pod, host);
  if (s.IsSuccess()) s = fw->RunBindPlugins(*state, pod, host);
  if (!s.IsSuccess()) {
    fw->RunReservePluginsUnreserve(*state, pod, host);
    cache_.ForgetPod(*assumed);
    // Forgetting frees resources; let other pods retry (upstream: AssignedPodDelete).
    queue_->MoveAllToActiveOrBackoffQueue(
        {EventResource::kPod, action::kDelete, "AssignedPodDelete"});
    qpi.unschedulable_plugins.clear();
    std::string msg = fmt::format("Binding rejected: {}", s.Message());
    KLOG(Warning, "binding {} to {} failed: {}", pod.key, host, s.Message());
    if (api_) {
      api_->RecordEvent(pod, "Warning", "FailedScheduling", "Scheduling", msg);
      (void)api_->UpdatePodScheduledCondition(pod, "SchedulerError", msg, nullptr);
    }
    queue_->AddUnschedulableIfNotPresent(std::move(qpi), cycle);
    return;
  }
  cache_.FinishBinding(*assumed);
  fw->RunPostBindPlugins(*state, pod, host);
  metrics_.ObservePodScheduled(Seconds(clock_.SteadyNow() - qpi.initial_attempt), qpi.attempts);
  if (api_) {
    api_->RecordEvent(pod, "Normal", "Scheduled", "Binding",
                      fmt::format("Successfully assigned {} to {}", pod.key, host));
  }
}

void Scheduler::HandleFailure(Framework&, QueuedPodInfo qpi, const Status& status,
                              const Diagnosis& diagnosis, const std::string& nominated,
                              int64_t cycle, const std::string& message) {
  PodInfoPtr pod = qpi.pod;
  std::string reason = status.IsRejected() ? "Unschedulable" : "SchedulerError";
  if (!nominated.empty()) queue_->AddNominatedPod(pod, nominated);
  qpi.unschedulable_plugins = diagnosis.unschedulable_plugins;
  if (!status.IsRejected()) qpi.unschedulable_plugins.clear();
  queue_->AddUnschedulableIfNotPresent(std::move(qpi), cycle);
  auto c = queue_->Len();
  metrics_.SetPending(c.active, c.backoff, c.unschedulable, c.gated);
  if (!api_) return;
  KLOG(Info, "unable to schedule pod {}: {}", pod->key, message);
  Submit([this, pod, reason, message, nominated] {
    api_->RecordEvent(*pod, "Warning", "FailedScheduling", "Scheduling", message);
    std::string nom = nominated;
    (void)api_->UpdatePodScheduledCondition(*pod, reason, message,
                                            nominated.empty() ? nullptr : &nom);
  });
}

// ---- threads ------------------------------------------------------------------------------------

void Scheduler::Submit(std::function<void()> task) {
  if (workers_.empty()) {
    task();
    return;
  }
  std::lock_guard l(work_mu_);
  work_.push_back(std::move(task));
  work_cv_.notify_one();
}

void Scheduler::WorkerLoop() {
  while (true) {
    std::function<void()> task;
    {
      std::unique_lock l(work_mu_);
      work_cv_.wait(l, [&] { return workers_stop_ || !work_.empty(); });
      if (work_.empty()) return;
      task = std::move(work_.front());
      work_.pop_front();
      ++busy_;
    }
    task();
    {
      std::lock_guard l(work_mu_);
      --busy_;
      if (busy_ == 0 && work_.empty()) idle_cv_.notify_all();
    }
  }
}

void Scheduler::WaitForBindings() {
  std::unique_lock l(work_mu_);
  idle_cv_.wait_for(l, std::chrono::seconds(60), [&] { return busy_ == 0 && work_.empty(); });
}

void Scheduler::Start() {
  for (int i = 0; i < std::max(1, options_.bind_workers); ++i) {
    workers_.emplace_back([this] { WorkerLoop(); });
  }
  loop_ = std::thread([this] {
    while (!stop_.load()) ScheduleOne(std::chrono::milliseconds(200));
  });
}

void Scheduler::Stop() {
  if (stop_.exchange(true)) return;
  if (queue_) queue_->Close();  // null when New() failed part way
  if (loop_.joinable()) loop_.join();
  {
    std::lock_guard l(work_mu_);
    workers_stop_ = true;
    work_cv_.notify_all();
  }
  for (auto& w : workers_) w.join();
  workers_.clear();
}

}  // namespace korral::scheduler
