// korral/scheduler/queue.h: the scheduling queue (upstream: pkg/scheduler/backend/queue).
//
// Three sub-queues: activeQ (ordered by the profile's QueueSort plugin), backoffQ (ordered by
// backoff expiry; exponential backoff per attempt, initial 1s, max 10s) and unschedulablePods (a
// map). Pods rejected by PreEnqueue plugins (scheduling gates) wait in unschedulablePods until
// updated. A cluster event moves an unschedulable pod to backoffQ/activeQ if one of the plugins
// that rejected it registered for that event (upstream's queueing hints without hint
// functions). A move request during a pod's scheduling cycle sends it to backoff instead of
// unschedulable (moveRequestCycle). Pods stuck longer than 5 minutes are flushed back.
//
// Also the nominator: pods nominated to a node by preemption.
//
// Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "korral/base/clock.h"
#include "korral/scheduler/framework.h"

namespace korral::scheduler {

struct QueueOptions {
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{10000};
  std::chrono::milliseconds max_in_unschedulable{5 * 60 * 1000};
};

class SchedulingQueue {
 public:
  using LessFn = std::function<bool(const QueuedPodInfo&, const QueuedPodInfo&)>;
  using PreEnqueueFn = std::function<Status(const PodInfo&)>;

  SchedulingQueue(LessFn less, PreEnqueueFn pre_enqueue, const Clock& clock,
                  QueueOptions options = {});

  // Which plugins care about which events (from every profile).
  void SetRegisteredEvents(std::vector<std::pair<std::string, ClusterEvent>> events);

  // A new pending pod.
  void Add(const PodInfoPtr& pod);
  // A pending pod changed. Moves it out of unschedulable/gated when the spec or labels changed.
  void Update(const PodInfoPtr& old_pod, const PodInfoPtr& new_pod);
  void Delete(const std::string& key);

  // Pops the next pod; waits up to `timeout`. nullopt on timeout or after Close.
  std::optional<QueuedPodInfo> Pop(std::chrono::milliseconds timeout);
  // The pod failed its scheduling cycle `cycle`. unschedulable_plugins empty means an error
  // (goes to backoff).
  void AddUnschedulableIfNotPresent(QueuedPodInfo qpi, int64_t cycle);
  // The pod's scheduling cycle ended with an assumed binding.
  void Done(const std::string& key);
  // A cluster event happened.
  void MoveAllToActiveOrBackoffQueue(const ClusterEvent& event);
  // Moves completed backoffs to activeQ and old unschedulable pods to backoff/active.
  void Flush();
  int64_t SchedulingCycle() const;
  void Close();

  // Nominator.
  void AddNominatedPod(const PodInfoPtr& pod, const std::string& node);
  void DeleteNominatedPodIfExists(const std::string& key);
  std::vector<PodInfoPtr> NominatedPodsForNode(const std::string& node) const;
  bool HasNominatedPods() const { return nominated_count_.load(std::memory_order_relaxed) != 0; }

  struct Counts {
    size_t active = 0, backoff = 0, unschedulable = 0, gated = 0;
  };
  Counts Len() const;
  bool Has(const std::string& key) const;

 private:
  using Entry = std::shared_ptr<QueuedPodInfo>;
  struct ActiveLess {
    const SchedulingQueue* q;
    bool operator()(const Entry& a, const Entry& b) const;
  };
  struct BackoffLess {
    const SchedulingQueue* q;
    bool operator()(const Entry& a, const Entry& b) const;
  };
  std::chrono::steady_clock::time_point BackoffExpiry(const QueuedPodInfo& q) const;
  bool BackingOff(const QueuedPodInfo& q) const;
  void AddToActiveOrGatedLocked(Entry e);
  void MoveLocked(Entry e);
  void RemoveLocked(const std::string& key);
  void FlushLocked();

  LessFn less_;
  PreEnqueueFn pre_enqueue_;
  const Clock& clock_;
  QueueOptions options_;
  std::vector<std::pair<std::string, ClusterEvent>> events_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;
  int64_t scheduling_cycle_ = 0;
  int64_t move_request_cycle_ = -1;
  std::set<Entry, ActiveLess> active_;
  std::set<Entry, BackoffLess> backoff_;
  std::unordered_map<std::string, Entry> unschedulable_;  // includes gated pods
  std::unordered_map<std::string, Entry> index_;          // key -> entry in any sub-queue
  std::set<std::string> in_flight_;
  // Updates that arrived while the pod was being scheduled; applied when it comes back.
  std::unordered_map<std::string, PodInfoPtr> in_flight_updates_;
  std::set<std::string> deleted_in_flight_;  // deleted while being scheduled: not re-queued
  std::unordered_map<std::string, std::pair<std::string, PodInfoPtr>> nominated_;  // key -> node
  std::unordered_map<std::string, std::vector<std::string>> nominated_by_node_;
  std::atomic<size_t> nominated_count_{0};  // nominated_.size(), read without the lock
};

}  // namespace korral::scheduler
