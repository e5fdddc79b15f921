// korral/controllers/controller_utils.h: pieces every controller shares (upstream:
// pkg/controller/controller_utils.go and friends).
//
//   QueueWorker          a rate-limited work queue plus N worker threads running sync(key)
//   ControllerRefOf...   ownerReferences helpers
//   Expectations         ControllerExpectations (creations/deletions a controller waits to see)
//   ParseGoDuration      "1h30m", "40s", "500ms" (flag values)
//   Time helpers         RFC 3339 timestamps on a Clock
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "korral/base/clock.h"
#include "korral/client/informer.h"
#include "korral/client/workqueue.h"

namespace korral::controllers {

using Json = nlohmann::json;

// A work queue and the worker threads that drain it: each worker takes a key, runs `sync(key)`,
// then Forget on success or AddRateLimited on error (the upstream processNextWorkItem loop).
// Thread-safe.
class QueueWorker {
 public:
  using SyncFunc = std::function<absl::Status(const std::string& key)>;
  // `rate_limiter` defaults to DefaultControllerRateLimiter(clock).
  QueueWorker(std::string name, const Clock& clock, SyncFunc sync,
              std::unique_ptr<client::RateLimiter> rate_limiter = nullptr);
  ~QueueWorker();

  client::WorkQueue& queue() { return queue_; }
  void Add(const std::string& key) { queue_.Add(key); }
  void AddAfter(const std::string& key, std::chrono::nanoseconds d) { queue_.AddAfter(key, d); }
  // Starts `workers` threads. Call once.
  void Run(int workers);
  // Shuts the queue down and joins the workers. Idempotent.
  void Stop();
  // Tests: runs sync on queued items on the calling thread until the queue is empty (delayed
  // items that are due count) or `max_items` were processed; returns the number processed.
  // Must not be mixed with Run.
  int ProcessAll(int max_items = 10000);

 private:
  bool ProcessOne(std::optional<std::string> key);

  const std::string name_;
  SyncFunc sync_;
  client::WorkQueue queue_;
  std::vector<std::thread> threads_;
  std::mutex mu_;
  bool stopped_ = false;
};

// Handler that enqueues ObjectKey(obj) on add/update/delete.
client::ResourceEventHandler EnqueueHandler(QueueWorker& worker);

// --- ownerReferences ---
// The ownerReference with controller=true, if any.
std::optional<Json> ControllerRefOf(const Json& object);
// An ownerReference to `owner` (apiVersion/kind given, since list items may lack TypeMeta) with
// controller=true and blockOwnerDeletion=true (upstream metav1.NewControllerRef).
Json NewControllerRef(const Json& owner, const std::string& api_version, const std::string& kind);
// True if `object` has an ownerReference with this uid.
bool HasOwnerUid(const Json& object, const std::string& uid);

// --- object helpers ---
// object["spec"] if it is an object, else an empty object (never throws or asserts).
const Json& SpecOf(const Json& object);
std::string NameOf(const Json& object);
std::string NamespaceOf(const Json& object);
std::string UidOf(const Json& object);
bool IsBeingDeleted(const Json& object);
// "ns/name" -> {ns, name}; "name" -> {"", name}.
std::pair<std::string, std::string> SplitKey(const std::string& key);
// Label selector (LabelSelector object: matchLabels + matchExpressions) matching; an empty or
// missing selector matches everything when `empty_matches_all`, nothing otherwise.
bool LabelSelectorMatches(const Json& selector, const Json& labels, bool empty_matches_all = true);
// A plain map selector (Service spec.selector): every key/value must match; empty matches nothing.
bool MapSelectorMatches(const Json& selector, const Json& labels);

// --- pods ---
// Index name and function for pods by spec.nodeName (unscheduled pods index under "").
inline constexpr char kPodNodeNameIndex[] = "spec.nodeName";
std::vector<std::string> PodNodeNameIndexFunc(const Json& pod);
// Adds the index to the pod informer unless it already has it.
void EnsurePodNodeNameIndex(client::SharedInformer* pods);
bool IsPodReady(const Json& pod);
// status.phase Succeeded or Failed.
bool IsPodTerminated(const Json& pod);
bool IsPodActive(const Json& pod);  // not terminated and not being deleted

// --- time ---
std::string FormatTime(std::chrono::system_clock::time_point t);
std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view s);
// Go duration syntax: "300ms", "40s", "5m", "1h30m", "0". InvalidArgument otherwise.
absl::StatusOr<std::chrono::milliseconds> ParseGoDuration(std::string_view s);

// --- ControllerExpectations (pkg/controller/controller_utils.go) ---
// Counts the creations/deletions a controller issued and has not yet seen in its informer, so it
// does not act twice on a stale cache. Expectations older than `ttl` (5 min upstream) count as
// satisfied. Thread-safe.
class Expectations {
 public:
  explicit Expectations(const Clock& clock, std::chrono::seconds ttl = std::chrono::minutes(5));
  void ExpectCreations(const std::string& key, int adds);
  void ExpectDeletions(const std::string& key, int dels);
  void CreationObserved(const std::string& key);
  void DeletionObserved(const std::string& key);
  // Lowers the expectation when a create/delete call failed (so it is not waited for).
  void LowerExpectations(const std::string& key, int adds, int dels);
  bool Satisfied(const std::string& key);
  void Delete(const std::string& key);

 private:
  struct Entry {
    int adds = 0, dels = 0;
    std::chrono::steady_clock::time_point set;
  };
  const Clock& clock_;
  const std::chrono::seconds ttl_;
  std::mutex mu_;
  std::map<std::string, Entry> entries_;
};

}  // namespace korral::controllers
