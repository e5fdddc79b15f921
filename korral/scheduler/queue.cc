#include "korral/scheduler/queue.h"

#include <algorithm>

namespace korral::scheduler {

bool SchedulingQueue::ActiveLess::operator()(const Entry& a, const Entry& b) const {
  if (q->less_(*a, *b)) return true;
  if (q->less_(*b, *a)) return false;
  return a->pod->key < b->pod->key;
}

bool SchedulingQueue::BackoffLess::operator()(const Entry& a, const Entry& b) const {
  auto ea = q->BackoffExpiry(*a), eb = q->BackoffExpiry(*b);
  if (ea != eb) return ea < eb;
  return a->pod->key < b->pod->key;
}

SchedulingQueue::SchedulingQueue(LessFn less, PreEnqueueFn pre_enqueue, const Clock& clock,
                                 QueueOptions options)
    : less_(std::move(less)),
      pre_enqueue_(std::move(pre_enqueue)),
      clock_(clock),
      options_(options),
      active_(ActiveLess{this}),
      backoff_(BackoffLess{this}) {}

void SchedulingQueue::SetRegisteredEvents(std::vector<std::pair<std::string, ClusterEvent>> e) {
  std::lock_guard l(mu_);
  events_ = std::move(e);
}

std::chrono::steady_clock::time_point SchedulingQueue::BackoffExpiry(const QueuedPodInfo& q) const {
  auto d = options_.initial_backoff;
  for (int i = 1; i < q.attempts && d < options_.max_backoff; ++i) d *= 2;
  if (d > options_.max_backoff) d = options_.max_backoff;
  return q.timestamp + d;
}

bool SchedulingQueue::BackingOff(const QueuedPodInfo& q) const {
  return q.attempts > 0 && BackoffExpiry(q) > clock_.SteadyNow();
}

void SchedulingQueue::AddToActiveOrGatedLocked(Entry e) {
  Status s = pre_enqueue_ ? pre_enqueue_(*e->pod) : Status();
  const std::string& key = e->pod->key;
  index_[key] = e;
  if (!s.IsSuccess()) {
    e->gated = true;
    unschedulable_[key] = e;
    return;
  }
  e->gated = false;
  active_.insert(e);
  cv_.notify_one();
}

void SchedulingQueue::Add(const PodInfoPtr& pod) {
  std::lock_guard l(mu_);
  if (index_.count(pod->key) || in_flight_.count(pod->key)) return;
  auto e = std::make_shared<QueuedPodInfo>();
  e->pod = pod;
  e->timestamp = clock_.SteadyNow();
  AddToActiveOrGatedLocked(e);
  if (!pod->nominated_node_name.empty()) {
    nominated_[pod->key] = {pod->nominated_node_name, pod};
    nominated_by_node_[pod->nominated_node_name].push_back(pod->key);
    nominated_count_.store(nominated_.size(), std::memory_order_relaxed);
  }
}

void SchedulingQueue::RemoveLocked(const std::string& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return;
  Entry e = it->second;
  active_.erase(e);
  backoff_.erase(e);
  unschedulable_.erase(key);
  index_.erase(it);
}

void SchedulingQueue::Update(const PodInfoPtr& old_pod, const PodInfoPtr& new_pod) {
  std::lock_guard l(mu_);
  auto it = index_.find(new_pod->key);
  if (it == index_.end()) {
    if (in_flight_.count(new_pod->key)) {
      in_flight_updates_[new_pod->key] = new_pod;
      return;
    }
    auto e = std::make_shared<QueuedPodInfo>();
    e->pod = new_pod;
    e->timestamp = clock_.SteadyNow();
    AddToActiveOrGatedLocked(e);
    return;
  }
  Entry e = it->second;
  bool in_active = active_.count(e) > 0;
  bool in_backoff = !in_active && backoff_.count(e) > 0;
  if (in_active) active_.erase(e);
  if (in_backoff) backoff_.erase(e);
  auto copy = std::make_shared<QueuedPodInfo>(*e);
  copy->pod = new_pod;
  index_[new_pod->key] = copy;
  if (in_active) {
    active_.insert(copy);
    return;
  }
  if (in_backoff) {
    backoff_.insert(copy);
    return;
  }
  // In unschedulable (or gated): move if something that matters changed.
  unschedulable_.erase(new_pod->key);
  bool changed = !old_pod || old_pod->object == nullptr || new_pod->object == nullptr ||
                 (*old_pod->object)["spec"] != (*new_pod->object)["spec"] ||
                 old_pod->labels != new_pod->labels;
  if (!changed) {
    unschedulable_[new_pod->key] = copy;
    return;
  }
  if (copy->gated) {
    index_.erase(new_pod->key);
    AddToActiveOrGatedLocked(copy);
    return;
  }
  MoveLocked(copy);
}

void SchedulingQueue::Delete(const std::string& key) {
  std::lock_guard l(mu_);
  RemoveLocked(key);
  in_flight_updates_.erase(key);
  if (in_flight_.count(key)) deleted_in_flight_.insert(key);
  auto nit = nominated_.find(key);
  if (nit != nominated_.end()) {
    auto& v = nominated_by_node_[nit->second.first];
    v.erase(std::remove(v.begin(), v.end(), key), v.end());
    nominated_.erase(nit);
    nominated_count_.store(nominated_.size(), std::memory_order_relaxed);
  }
}

void SchedulingQueue::FlushLocked() {
  auto now = clock_.SteadyNow();
  while (!backoff_.empty()) {
    Entry e = *backoff_.begin();
    if (BackoffExpiry(*e) > now) break;
    backoff_.erase(backoff_.begin());
    active_.insert(e);
    cv_.notify_one();
  }
  std::vector<Entry> old;
  for (const auto& [k, e] : unschedulable_) {
    if (!e->gated && now - e->timestamp > options_.max_in_unschedulable) old.push_back(e);
  }
  for (auto& e : old) {
    unschedulable_.erase(e->pod->key);
    MoveLocked(e);
  }
}

void SchedulingQueue::Flush() {
  std::lock_guard l(mu_);
  FlushLocked();
}

std::optional<QueuedPodInfo> SchedulingQueue::Pop(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (closed_) return std::nullopt;
    FlushLocked();
    if (!active_.empty()) break;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    auto wait = std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                              std::chrono::milliseconds(100));
    cv_.wait_for(l, wait);
  }
  Entry e = *active_.begin();
  active_.erase(active_.begin());
  index_.erase(e->pod->key);
  in_flight_.insert(e->pod->key);
  ++scheduling_cycle_;
  e->attempts++;
  if (e->attempts == 1) e->initial_attempt = clock_.SteadyNow();
  return *e;
}

void SchedulingQueue::MoveLocked(Entry e) {
  index_[e->pod->key] = e;
  if (BackingOff(*e)) {
    backoff_.insert(e);
  } else {
    active_.insert(e);
    cv_.notify_one();
  }
}

void SchedulingQueue::AddUnschedulableIfNotPresent(QueuedPodInfo qpi, int64_t cycle) {
  std::lock_guard l(mu_);
  in_flight_.erase(qpi.pod->key);
  if (deleted_in_flight_.erase(qpi.pod->key)) {
    in_flight_updates_.erase(qpi.pod->key);
    return;
  }
  if (auto u = in_flight_updates_.find(qpi.pod->key); u != in_flight_updates_.end()) {
    qpi.pod = u->second;
    in_flight_updates_.erase(u);
  }
  if (index_.count(qpi.pod->key)) return;
  auto e = std::make_shared<QueuedPodInfo>(std::move(qpi));
  e->timestamp = clock_.SteadyNow();
  if (e->unschedulable_plugins.empty() || move_request_cycle_ >= cycle) {
    MoveLocked(e);
    return;
  }
  index_[e->pod->key] = e;
  unschedulable_[e->pod->key] = e;
}

void SchedulingQueue::MoveAllToActiveOrBackoffQueue(const ClusterEvent& event) {
  std::lock_guard l(mu_);
  std::vector<Entry> move;
  for (const auto& [k, e] : unschedulable_) {
    if (e->gated) continue;
    bool interested = e->unschedulable_plugins.empty();
    for (const auto& [plugin, ce] : events_) {
      if (interested) break;
      if (ce.Matches(event) && e->unschedulable_plugins.count(plugin)) interested = true;
    }
    if (interested) move.push_back(e);
  }
  for (auto& e : move) {
    unschedulable_.erase(e->pod->key);
    MoveLocked(e);
  }
  move_request_cycle_ = scheduling_cycle_;
}

void SchedulingQueue::Done(const std::string& key) {
  std::lock_guard l(mu_);
  in_flight_.erase(key);
  in_flight_updates_.erase(key);
  deleted_in_flight_.erase(key);
}

int64_t SchedulingQueue::SchedulingCycle() const {
  std::lock_guard l(mu_);
  return scheduling_cycle_;
}

void SchedulingQueue::Close() {
  std::lock_guard l(mu_);
  closed_ = true;
  cv_.notify_all();
}

void SchedulingQueue::AddNominatedPod(const PodInfoPtr& pod, const std::string& node) {
  std::lock_guard l(mu_);
  auto nit = nominated_.find(pod->key);
  if (nit != nominated_.end()) {
    auto& v = nominated_by_node_[nit->second.first];
    v.erase(std::remove(v.begin(), v.end(), pod->key), v.end());
  }
  nominated_[pod->key] = {node, pod};
  nominated_by_node_[node].push_back(pod->key);
  nominated_count_.store(nominated_.size(), std::memory_order_relaxed);
}

void SchedulingQueue::DeleteNominatedPodIfExists(const std::string& key) {
  std::lock_guard l(mu_);
  auto nit = nominated_.find(key);
  if (nit == nominated_.end()) return;
  auto& v = nominated_by_node_[nit->second.first];
  v.erase(std::remove(v.begin(), v.end(), key), v.end());
  nominated_.erase(nit);
  nominated_count_.store(nominated_.size(), std::memory_order_relaxed);
}

std::vector<PodInfoPtr> SchedulingQueue::NominatedPodsForNode(const std::string& node) const {
  std::lock_guard l(mu_);
  std::vector<PodInfoPtr> out;
  auto it = nominated_by_node_.find(node);
  if (it == nominated_by_node_.end()) return out;
  for (const auto& k : it->second) {
    auto n = nominated_.find(k);
    if (n != nominated_.end()) out.push_back(n->second.second);
  }
  return out;
}

SchedulingQueue::Counts SchedulingQueue::Len() const {
  std::lock_guard l(mu_);
  Counts c;
  c.active = active_.size();
  c.backoff = backoff_.size();
  for (const auto& [k, e] : unschedulable_) (e->gated ? c.gated : c.unschedulable)++;
  return c;
}

bool SchedulingQueue::Has(const std::string& key) const {
  std::lock_guard l(mu_);
  return index_.count(key) > 0;
}

}  // namespace korral::scheduler
