// korral/controllers/workload_util/workload_util.h: helpers shared by the workload controllers
// (replicaset, deployment, daemonset, statefulset, job, cronjob, ttl-after-finished); upstream
// pkg/controller/controller_utils.go, controller_ref_manager.go, history and the event recorder.
//
//   QueueController       base class: a rate-limited work queue, N workers running Sync(key)
//   UidTrackingExpectations ControllerExpectations with the deleted keys tracked
//   ClaimObjects          adoption/orphaning of children by label selector (ControllerRefManager)
//   SlowStartBatch        creates in batches of 1, 2, 4, ... run in parallel
//   EventRecorder         core/v1 Events with upstream's spam filter (25 burst per object)
//   ComputeHash           pod-template-hash / controller-revision-hash values
//
// Everything here is thread-safe unless stated otherwise.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "korral/apimachinery/labels.h"
#include "korral/base/clock.h"
#include "korral/client/client.h"
#include "korral/client/informer.h"
#include "korral/client/workqueue.h"
#include "korral/controllers/controller.h"

namespace korral::controllers::workload {

using Json = nlohmann::json;
using client::ObjectPtr;
using TimePoint = std::chrono::system_clock::time_point;

// --- resources ---
client::ResourceRef PodsRef();
client::ResourceRef NodesRef();
client::ResourceRef EventsRef();
client::ResourceRef ReplicaSetsRef();
client::ResourceRef DeploymentsRef();
client::ResourceRef DaemonSetsRef();
client::ResourceRef StatefulSetsRef();
client::ResourceRef ControllerRevisionsRef();
client::ResourceRef JobsRef();
client::ResourceRef CronJobsRef();
client::ResourceRef PvcsRef();

// --- JSON access (missing or mistyped fields give the default) ---
const Json& At(const Json& obj, std::initializer_list<std::string_view> path);
std::string Str(const Json& obj, std::initializer_list<std::string_view> path,
                std::string_view def = "");
int64_t Int(const Json& obj, std::initializer_list<std::string_view> path, int64_t def = 0);
bool Bool(const Json& obj, std::initializer_list<std::string_view> path, bool def = false);
bool Has(const Json& obj, std::initializer_list<std::string_view> path);

std::string NameOf(const Json& o);
std::string NamespaceOf(const Json& o);
std::string UidOf(const Json& o);
std::string KeyOf(const Json& o);  // "ns/name"
std::pair<std::string, std::string> SplitKey(const std::string& key);
bool IsBeingDeleted(const Json& o);
std::string Annotation(const Json& o, std::string_view key, std::string_view def = "");

// --- time (metav1.Time, RFC 3339, second precision) ---
std::string FormatTime(TimePoint t);
std::optional<TimePoint> ParseTime(std::string_view s);
// metadata.creationTimestamp (epoch if absent).
TimePoint CreationTime(const Json& o);

// --- owner references ---
// The ownerReference with controller=true (null if none).
const Json* ControllerRefOf(const Json& o);
// {apiVersion, kind, name, uid, controller: true, blockOwnerDeletion: true}.
Json NewControllerRef(const Json& owner, std::string_view api_version, std::string_view kind);

// --- label selectors ---
// metav1.LabelSelector -> selector (null gives Nothing()).
absl::StatusOr<labels::LabelSelector> SelectorFromJson(const Json& selector);
const Json& LabelsOf(const Json& o);

// --- pods ---
bool IsPodReady(const Json& pod);
// lastTransitionTime of the Ready condition when it is True.
std::optional<TimePoint> PodReadyTime(const Json& pod);
// Ready for at least minReadySeconds (upstream podutil.IsPodAvailable).
bool IsPodAvailable(const Json& pod, int64_t min_ready_seconds, TimePoint now);
bool IsPodTerminal(const Json& pod);  // Succeeded or Failed
bool IsPodActive(const Json& pod);    // not terminal, not being deleted
std::string PodPhase(const Json& pod);
// A Pod made from a PodTemplateSpec (upstream GetPodFromTemplate): labels, annotations and
// finalizers of the template, generateName "<owner name>-", the owner reference, the spec.
Json PodFromTemplate(const Json& tmpl, const Json& owner, const Json& controller_ref);
// True when `status` carries the NamespaceTerminating cause (creates in a terminating
// namespace, which controllers ignore).
bool IsNamespaceTerminating(const absl::Status& status);

// --- int-or-percent (upstream intstr.GetScaledValueFromIntOrPercent) ---
absl::StatusOr<int64_t> ScaledValue(const Json& v, int64_t total, bool round_up);

// --- hashing (upstream controller.ComputeHash + rand.SafeEncodeString) ---
std::string ComputeHash(const Json& tmpl, std::optional<int64_t> collision_count);
uint32_t Fnv32a(std::string_view data, uint32_t h = 2166136261u);
// rand.SafeEncodeString: maps each byte to the alphabet without vowels/look-alikes.
std::string SafeEncodeString(std::string_view s);

// --- ControllerExpectations with deletions tracked by key (upstream
// UIDTrackingControllerExpectations). Records older than 5 minutes count as satisfied.
class Expectations {
 public:
  explicit Expectations(const Clock& clock) : clock_(clock) {}
  bool Satisfied(const std::string& key);
  void ExpectCreations(const std::string& key, int n);
  // Deletions of the given object keys ("ns/name").
  void ExpectDeletions(const std::string& key, const std::vector<std::string>& object_keys);
  // Deletions counted only (no keys).
  void ExpectDeletionCount(const std::string& key, int n);
  void CreationObserved(const std::string& key);
  void DeletionObserved(const std::string& key, const std::string& object_key = "");
  void Delete(const std::string& key);
  // (pending adds, pending dels); for tests.
  std::pair<int, int> Pending(const std::string& key);

 private:
  struct Record {
    int adds = 0;
    int dels = 0;
    std::set<std::string> del_keys;
    std::chrono::steady_clock::time_point set;
  };
  const Clock& clock_;
  std::mutex mu_;
  std::map<std::string, Record> records_;
};

// --- parallel batches ---
// Calls fn(i) for i in [0, count) in batches of initial, 2*initial, ... ; the calls of one batch
// run in parallel (at most `parallelism` threads). Stops after the first batch with an error.
// Returns the number of successful calls and the first error.
struct BatchResult {
  int successes = 0;
  absl::Status first_error;
};
BatchResult SlowStartBatch(int count, int initial, const std::function<absl::Status(int)>& fn,
                           int parallelism = 16);
// Runs fn(i) for every i in [0, count) with at most `parallelism` threads; returns the errors.
std::vector<absl::Status> ParallelFor(int count, const std::function<absl::Status(int)>& fn,
                                      int parallelism = 16);

// --- events (client-go record.EventRecorder) ---
// Posts core/v1 Events asynchronously on its own thread. A per-object spam filter (burst 25,
// one token per 5 minutes, as upstream's EventSourceObjectSpamFilter) drops the excess.
// TODO(korral): aggregate repeated events into one Event's count/lastTimestamp (upstream's
// EventCorrelator); every event is its own object today.
class EventRecorder {
 public:
  EventRecorder(client::Client& client, const Clock& clock, std::string component);
  ~EventRecorder();
  // `object` needs apiVersion/kind (given separately since cached objects may lack them).
  void Event(const Json& object, std::string_view api_version, std::string_view kind,
             std::string_view type, std::string_view reason, std::string message);
  // Waits until every queued event was posted (bounded by `timeout`).
  void Flush(std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  // The last events recorded ("Type Reason message"), for tests.
  std::vector<std::string> Recent();
  void Stop();

 private:
  void Loop();
  client::Client& client_;
  const Clock& clock_;
  const std::string component_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Json> queue_;
  int in_flight_ = 0;
  bool stopped_ = false;
  std::deque<std::string> recent_;
  struct Bucket {
    double tokens;
    std::chrono::steady_clock::time_point last;
  };
  std::map<std::string, Bucket> buckets_;
  std::thread thread_;
};

// --- base controller ---
class QueueController : public Controller {
 public:
  QueueController(std::string name, std::string component, ControllerContext& ctx);
  ~QueueController() override;
  std::string_view Name() const override { return name_; }
  void Run(int workers) override;
  void Stop() override;

  // Reconciles one key ("ns/name"). Level-triggered and idempotent.
  virtual absl::Status Sync(const std::string& key) = 0;

  void Enqueue(const std::string& key) { queue_.Add(key); }
  void EnqueueAfter(const std::string& key, std::chrono::nanoseconds d) { queue_.AddAfter(key, d); }
  client::WorkQueue& queue() { return queue_; }
  EventRecorder& recorder() { return recorder_; }

  // Tests: runs Sync on the calling thread for every queued (or due) key until the queue is
  // empty or `max_items` were processed. Returns the number processed. Not mixed with Run.
  int ProcessAll(int max_items = 1000);

 protected:
  client::Client& client_;
  Clock& clock_;
  InformerFactory& informers_;
  ControllerOptions options_;

 private:
  void Worker();
  void ProcessKey(const std::string& key);
  const std::string name_;
  client::WorkQueue queue_;
  EventRecorder recorder_;
  std::vector<std::thread> workers_;
  std::atomic<bool> stopped_{false};
};

// Adds an index to `informer` unless one of that name exists already (informers are shared
// between controllers that may add the same index).
void EnsureIndex(client::SharedInformer* informer, const std::string& name, client::IndexFunc fn);
// Index name for "uid of the controller ownerReference" (value: the owner uid).
inline constexpr char kControllerUidIndex[] = "korral.workload/controller-uid";
client::IndexFunc ControllerUidIndexFunc();

// --- claiming children (upstream ControllerRefManager.ClaimObject) ---
struct ClaimSpec {
  const Json* owner = nullptr;  // the controller object (from the cache)
  std::string owner_api_version;
  std::string owner_kind;
  labels::LabelSelector selector;
  client::ResourceRef child_ref;
  // Re-reads the owner from the API and checks it is the same (uid) and not being deleted
  // before the first adoption (upstream RecheckDeletionTimestamp).
  std::function<absl::Status()> can_adopt;
};
// Returns the children that belong to the owner after adopting matching orphans and releasing
// owned children whose labels no longer match. Errors of individual adopt/release calls are
// returned in `error` (first one); the claimed list is still complete for what succeeded.
std::vector<ObjectPtr> ClaimObjects(client::Client& client, const ClaimSpec& spec,
                                    const std::vector<ObjectPtr>& candidates, absl::Status* error);

// A can_adopt check that GETs ref/ns/name and compares the uid (and deletionTimestamp).
std::function<absl::Status()> RecheckOwner(client::Client& client, client::ResourceRef ref,
                                           const Json& owner);

// Updates status through /status; on Conflict re-reads the object and retries once with the
// same status (upstream's status update loops). `mutate` may also change metadata.
absl::StatusOr<Json> UpdateStatusWithRetry(client::Client& client, const client::ResourceRef& ref,
                                           const Json& object, const Json& status);

// --- conditions (generic list of {type,status,reason,message,lastTransitionTime,...}) ---
const Json* FindCondition(const Json& status, std::string_view type);

}  // namespace korral::controllers::workload
