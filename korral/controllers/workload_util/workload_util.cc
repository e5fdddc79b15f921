// korral/controllers/workload_util/workload_util.cc
#include "korral/controllers/workload_util/workload_util.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "korral/api/resource.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers::workload {

client::ResourceRef PodsRef() { return {"", "v1", "pods", true}; }
client::ResourceRef NodesRef() { return {"", "v1", "nodes", false}; }
client::ResourceRef EventsRef() { return {"", "v1", "events", true}; }
client::ResourceRef ReplicaSetsRef() { return {"apps", "v1", "replicasets", true}; }
client::ResourceRef DeploymentsRef() { return {"apps", "v1", "deployments", true}; }
client::ResourceRef DaemonSetsRef() { return {"apps", "v1", "daemonsets", true}; }
client::ResourceRef StatefulSetsRef() { return {"apps", "v1", "statefulsets", true}; }
client::ResourceRef ControllerRevisionsRef() { return {"apps", "v1", "controllerrevisions", true}; }
client::ResourceRef JobsRef() { return {"batch", "v1", "jobs", true}; }
client::ResourceRef CronJobsRef() { return {"batch", "v1", "cronjobs", true}; }
client::ResourceRef PvcsRef() { return {"", "v1", "persistentvolumeclaims", true}; }

const Json& At(const Json& obj, std::initializer_list<std::string_view> path) {
  static const Json kNull;
  const Json* cur = &obj;
  for (std::string_view p : path) {
    if (!cur->is_object()) return kNull;
    auto it = cur->find(std::string(p));
    if (it == cur->end()) return kNull;
    cur = &*it;
  }
  return *cur;
}

std::string Str(const Json& obj, std::initializer_list<std::string_view> path,
                std::string_view def) {
  const Json& v = At(obj, path);
  return v.is_string() ? v.get<std::string>() : std::string(def);
}

int64_t Int(const Json& obj, std::initializer_list<std::string_view> path, int64_t def) {
  const Json& v = At(obj, path);
  return v.is_number_integer() ? v.get<int64_t>() : def;
}

bool Bool(const Json& obj, std::initializer_list<std::string_view> path, bool def) {
  const Json& v = At(obj, path);
  return v.is_boolean() ? v.get<bool>() : def;
}

bool Has(const Json& obj, std::initializer_list<std::string_view> path) {
  return !At(obj, path).is_null();
}

std::string NameOf(const Json& o) { return Str(o, {"metadata", "name"}); }
std::string NamespaceOf(const Json& o) { return Str(o, {"metadata", "namespace"}); }
std::string UidOf(const Json& o) { return Str(o, {"metadata", "uid"}); }
std::string KeyOf(const Json& o) {
  std::string ns = NamespaceOf(o);
  return ns.empty() ? NameOf(o) : ns + "/" + NameOf(o);
}
std::pair<std::string, std::string> SplitKey(const std::string& key) {
  auto pos = key.find('/');
  if (pos == std::string::npos) return {"", key};
  return {key.substr(0, pos), key.substr(pos + 1)};
}
bool IsBeingDeleted(const Json& o) {
  const Json& t = At(o, {"metadata", "deletionTimestamp"});
  return t.is_string() && !t.get<std::string>().empty();
}
std::string Annotation(const Json& o, std::string_view key, std::string_view def) {
  return Str(o, {"metadata", "annotations", key}, def);
}

std::string FormatTime(TimePoint t) { return api::FormatTime(t); }
std::optional<TimePoint> ParseTime(std::string_view s) {
  if (s.empty()) return std::nullopt;
  return api::ParseTime(s);
}
TimePoint CreationTime(const Json& o) {
  return ParseTime(Str(o, {"metadata", "creationTimestamp"})).value_or(TimePoint{});
}

const Json* ControllerRefOf(const Json& o) {
  const Json& refs = At(o, {"metadata", "ownerReferences"});
  if (!refs.is_array()) return nullptr;
  for (const Json& r : refs) {
    if (r.is_object() && r.value("controller", false)) return &r;
  }
  return nullptr;
}

Json NewControllerRef(const Json& owner, std::string_view api_version, std::string_view kind) {
  return Json{{"apiVersion", api_version}, {"kind", kind},       {"name", NameOf(owner)},
              {"uid", UidOf(owner)},       {"controller", true}, {"blockOwnerDeletion", true}};
}

absl::StatusOr<labels::LabelSelector> SelectorFromJson(const Json& selector) {
  return labels::FromLabelSelectorJson(selector);
}
const Json& LabelsOf(const Json& o) { return At(o, {"metadata", "labels"}); }

bool IsPodReady(const Json& pod) {
  const Json* c = FindCondition(At(pod, {"status"}), "Ready");
  return c != nullptr && c->value("status", "") == "True";
}
std::optional<TimePoint> PodReadyTime(const Json& pod) {
  const Json* c = FindCondition(At(pod, {"status"}), "Ready");
  if (c == nullptr || c->value("status", "") != "True") return std::nullopt;
  return ParseTime(c->value("lastTransitionTime", ""));
}
bool IsPodAvailable(const Json& pod, int64_t min_ready_seconds, TimePoint now) {
  if (!IsPodReady(pod)) return false;
  if (min_ready_seconds == 0) return true;
  auto t = PodReadyTime(pod);
  return t && *t + std::chrono::seconds(min_ready_seconds) < now;
}
std::string PodPhase(const Json& pod) { return Str(pod, {"status", "phase"}); }
bool IsPodTerminal(const Json& pod) {
  std::string p = PodPhase(pod);
  return p == "Succeeded" || p == "Failed";
}
bool IsPodActive(const Json& pod) { return !IsPodTerminal(pod) && !IsBeingDeleted(pod); }

Json PodFromTemplate(const Json& tmpl, const Json& owner, const Json& controller_ref) {
  Json pod = {{"apiVersion", "v1"}, {"kind", "Pod"}};
  Json meta = Json::object();
  meta["generateName"] = NameOf(owner) + "-";
  const Json& tmeta = At(tmpl, {"metadata"});
  for (const char* f : {"labels", "annotations", "finalizers"}) {
    if (tmeta.is_object() && tmeta.contains(f) && !tmeta[f].is_null()) meta[f] = tmeta[f];
  }
  if (!controller_ref.is_null()) meta["ownerReferences"] = Json::array({controller_ref});
  pod["metadata"] = std::move(meta);
  pod["spec"] = At(tmpl, {"spec"}).is_object() ? At(tmpl, {"spec"}) : Json::object();
  return pod;
}

bool IsNamespaceTerminating(const absl::Status& status) {
  auto obj = client::StatusObjectOf(status);
  if (!obj) return false;
  const Json& causes = At(*obj, {"details", "causes"});
  if (!causes.is_array()) return false;
  for (const Json& c : causes) {
    if (c.is_object() && c.value("type", "") == "NamespaceTerminating") return true;
  }
  return false;
}

absl::StatusOr<int64_t> ScaledValue(const Json& v, int64_t total, bool round_up) {
  if (v.is_null()) return 0;
  if (v.is_number_integer()) return v.get<int64_t>();
  if (!v.is_string()) return absl::InvalidArgumentError("invalid int-or-percent value");
  std::string s = v.get<std::string>();
  if (s.empty() || s.back() != '%') {
    return absl::InvalidArgumentError(
        absl::string_view(fmt::format("invalid value for IntOrString: "
                                      "invalid type: string is not a "
                                      "percentage")));
  }
  int64_t pct = 0;
  try {
    pct = std::stoll(s.substr(0, s.size() - 1));
  } catch (...) {
    return absl::InvalidArgumentError(absl::string_view(fmt::format("invalid value \"{}\"", s)));
  }
  double value = static_cast<double>(pct) * static_cast<double>(total) / 100.0;
  return static_cast<int64_t>(round_up ? std::ceil(value) : std::floor(value));
}

uint32_t Fnv32a(std::string_view data, uint32_t h) {
  for (unsigned char c : data) {
    h ^= c;
    h *= 16777619u;
  }
  return h;
}

std::string SafeEncodeString(std::string_view s) {
  static constexpr std::string_view kAlphanums = "bcdfghjklmnpqrstvwxz2456789";
  std::string out(s.size(), ' ');
  for (size_t i = 0; i < s.size(); ++i) {
    out[i] = kAlphanums[static_cast<unsigned char>(s[i]) % kAlphanums.size()];
  }
  return out;
}

std::string ComputeHash(const Json& tmpl, std::optional<int64_t> collision_count) {
  uint32_t h = Fnv32a(tmpl.dump());
  if (collision_count) {
    uint32_t c = static_cast<uint32_t>(*collision_count);
    char bytes[4] = {static_cast<char>(c & 0xff), static_cast<char>((c >> 8) & 0xff),
                     static_cast<char>((c >> 16) & 0xff), static_cast<char>((c >> 24) & 0xff)};
    h = Fnv32a(std::string_view(bytes, 4), h);
  }
  return SafeEncodeString(std::to_string(h));
}

// ---------------- expectations ----------------

namespace {
constexpr auto kExpectationsTimeout = std::chrono::minutes(5);
}

bool Expectations::Satisfied(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return true;
  const Record& r = it->second;
  if (r.adds <= 0 && r.dels <= 0) return true;
  return clock_.SteadyNow() - r.set > kExpectationsTimeout;
}

void Expectations::ExpectCreations(const std::string& key, int n) {
  std::lock_guard l(mu_);
  Record& r = records_[key];
  r.adds = n;
  r.dels = 0;
  r.del_keys.clear();
  r.set = clock_.SteadyNow();
}

void Expectations::ExpectDeletions(const std::string& key,
                                   const std::vector<std::string>& object_keys) {
  std::lock_guard l(mu_);
  Record& r = records_[key];
  r.adds = 0;
  r.del_keys = std::set<std::string>(object_keys.begin(), object_keys.end());
  r.dels = static_cast<int>(r.del_keys.size());
  r.set = clock_.SteadyNow();
}

void Expectations::ExpectDeletionCount(const std::string& key, int n) {
  std::lock_guard l(mu_);
  Record& r = records_[key];
  r.adds = 0;
  r.del_keys.clear();
  r.dels = n;
  r.set = clock_.SteadyNow();
}

void Expectations::CreationObserved(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = records_.find(key);
  if (it != records_.end() && it->second.adds > 0) it->second.adds--;
}

void Expectations::DeletionObserved(const std::string& key, const std::string& object_key) {
  std::lock_guard l(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return;
  Record& r = it->second;
  if (!r.del_keys.empty()) {
    if (r.del_keys.erase(object_key) > 0 && r.dels > 0) r.dels--;
  } else if (r.dels > 0) {
    r.dels--;
  }
}

void Expectations::Delete(const std::string& key) {
  std::lock_guard l(mu_);
  records_.erase(key);
}

std::pair<int, int> Expectations::Pending(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = records_.find(key);
  if (it == records_.end()) return {0, 0};
  return {it->second.adds, it->second.dels};
}

// ---------------- batches ----------------

std::vector<absl::Status> ParallelFor(int count, const std::function<absl::Status(int)>& fn,
                                      int parallelism) {
  std::vector<absl::Status> errors;
  if (count <= 0) return errors;
  if (count == 1 || parallelism <= 1) {
    for (int i = 0; i < count; ++i) {
      absl::Status s = fn(i);
      if (!s.ok()) errors.push_back(s);
    }
    return errors;
  }
  std::mutex mu;
  std::atomic<int> next{0};
  auto work = [&] {
    for (int i = next++; i < count; i = next++) {
      absl::Status s = fn(i);
      if (!s.ok()) {
        std::lock_guard l(mu);
        errors.push_back(std::move(s));
      }
    }
  };
  int n = std::min(count, parallelism);
  std::vector<std::thread> threads;
  threads.reserve(n - 1);
  for (int t = 0; t < n - 1; ++t) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return errors;
}

BatchResult SlowStartBatch(int count, int initial, const std::function<absl::Status(int)>& fn,
                           int parallelism) {
  BatchResult result;
  int remaining = count;
  int done = 0;
  for (int batch = std::min(remaining, std::max(initial, 1)); batch > 0;
       batch = std::min(2 * batch, remaining)) {
    int base = done;
    auto errors = ParallelFor(
        batch, [&](int i) { return fn(base + i); }, parallelism);
    result.successes += batch - static_cast<int>(errors.size());
    done += batch;
    remaining -= batch;
    if (!errors.empty()) {
      result.first_error = errors.front();
      break;
    }
  }
  return result;
}

// ---------------- events ----------------

EventRecorder::EventRecorder(client::Client& client, const Clock& clock, std::string component)
    : client_(client), clock_(clock), component_(std::move(component)) {
  thread_ = std::thread([this] { Loop(); });
}

EventRecorder::~EventRecorder() { Stop(); }

void EventRecorder::Stop() {
  {
    std::lock_guard l(mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void EventRecorder::Event(const Json& object, std::string_view api_version, std::string_view kind,
                          std::string_view type, std::string_view reason, std::string message) {
  auto now = clock_.Now();
  std::string ns = NamespaceOf(object);
  if (ns.empty()) ns = "default";
  Json involved = {{"kind", kind},
                   {"namespace", NamespaceOf(object)},
                   {"name", NameOf(object)},
                   {"uid", UidOf(object)},
                   {"apiVersion", api_version},
                   {"resourceVersion", Str(object, {"metadata", "resourceVersion"})}};
  if (NamespaceOf(object).empty()) involved.erase("namespace");
  std::string ts = FormatTime(now);
  auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  static std::atomic<uint64_t> seq{0};
  Json ev = {{"apiVersion", "v1"},
             {"kind", "Event"},
             {"metadata",
              {{"name", fmt::format("{}.{:x}", NameOf(object),
                                    static_cast<uint64_t>(nanos) + seq.fetch_add(1))},
               {"namespace", ns}}},
             {"involvedObject", involved},
             {"reason", reason},
             {"message", message},
             {"type", type},
             {"source", {{"component", component_}}},
             {"firstTimestamp", ts},
             {"lastTimestamp", ts},
             {"count", 1},
             {"reportingComponent", component_},
             {"reportingInstance", ""}};
  std::string spam_key =
      fmt::format("{}/{}/{}/{}", kind, NamespaceOf(object), NameOf(object), UidOf(object));
  {
    std::lock_guard l(mu_);
    if (stopped_) return;
    recent_.push_back(fmt::format("{} {} {}", type, reason, message));
    if (recent_.size() > 1000) recent_.pop_front();
    // Upstream's spam filter: a token bucket per source+object, burst 25, refill 1 / 5 min.
    auto steady = clock_.SteadyNow();
    auto [it, inserted] = buckets_.try_emplace(spam_key, Bucket{25.0, steady});
    Bucket& b = it->second;
    double elapsed = std::chrono::duration<double>(steady - b.last).count();
    b.tokens = std::min(25.0, b.tokens + elapsed / 300.0);
    b.last = steady;
    if (b.tokens < 1.0) return;
    b.tokens -= 1.0;
    if (buckets_.size() > 4096) buckets_.clear();  // bounded memory; refills everyone
    if (queue_.size() >= 1000) return;  // the API is slow: drop rather than grow unbounded
    queue_.push_back(std::move(ev));
  }
  cv_.notify_all();
}

void EventRecorder::Loop() {
  std::unique_lock l(mu_);
  while (true) {
    cv_.wait(l, [&] { return stopped_ || !queue_.empty(); });
    if (stopped_) return;
    Json ev = std::move(queue_.front());
    queue_.pop_front();
    in_flight_++;
    l.unlock();
    auto r = client_.Create(EventsRef(), ev["metadata"]["namespace"].get<std::string>(), ev);
    if (!r.ok()) {
      KLOG(Debug, "event {} not recorded: {}", ev["reason"].get<std::string>(),
           StatusMessage(r.status()));
    }
    l.lock();
    in_flight_--;
    cv_.notify_all();
  }
}

void EventRecorder::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, timeout, [&] { return stopped_ || (queue_.empty() && in_flight_ == 0); });
}

std::vector<std::string> EventRecorder::Recent() {
  std::lock_guard l(mu_);
  return {recent_.begin(), recent_.end()};
}

// ---------------- QueueController ----------------

QueueController::QueueController(std::string name, std::string component, ControllerContext& ctx)
    : client_(*ctx.client),
      clock_(*ctx.clock),
      informers_(*ctx.informers),
      options_(ctx.options),
      name_(std::move(name)),
      queue_(client::WorkQueueOptions{.clock = ctx.clock, .name = name_}),
      recorder_(*ctx.client, *ctx.clock, std::move(component)) {}

QueueController::~QueueController() { Stop(); }

void QueueController::Run(int workers) {
  for (int i = 0; i < std::max(workers, 1); ++i) workers_.emplace_back([this] { Worker(); });
}

void QueueController::Stop() {
  if (stopped_.exchange(true)) return;
  queue_.ShutDown();
  for (auto& t : workers_) t.join();
  workers_.clear();
  recorder_.Stop();
}

void QueueController::ProcessKey(const std::string& key) {
  absl::Status s;
  try {
    s = Sync(key);
  } catch (const std::exception& e) {
    s = absl::InternalError(absl::string_view(std::string("sync threw: ") + e.what()));
  }
  if (s.ok()) {
    queue_.Forget(key);
  } else {
    KLOG(Info, "{}: error syncing {}: {} (requeued)", name_, key, StatusMessage(s));
    queue_.AddRateLimited(key);
  }
  queue_.Done(key);
}

void QueueController::Worker() {
  while (auto key = queue_.Get()) ProcessKey(*key);
}

int QueueController::ProcessAll(int max_items) {
  int n = 0;
  while (n < max_items) {
    auto key = queue_.GetFor(std::chrono::milliseconds(0));
    if (!key) break;
    ProcessKey(*key);
    ++n;
  }
  return n;
}

void EnsureIndex(client::SharedInformer* informer, const std::string& name, client::IndexFunc fn) {
  absl::Status s = informer->AddIndex(name, std::move(fn));
  (void)s;  // AlreadyExists: another controller added the same index.
}

client::IndexFunc ControllerUidIndexFunc() {
  return [](const Json& o) -> std::vector<std::string> {
    const Json* ref = ControllerRefOf(o);
    if (ref == nullptr) return {};
    return {ref->value("uid", "")};
  };
}

// ---------------- claiming ----------------

namespace {

// Adds or removes the owner reference with `uid` via Update (optimistic concurrency).
absl::StatusOr<Json> SetOwnerRef(client::Client& client, const client::ResourceRef& ref,
                                 const Json& object, const Json* add, const std::string& remove) {
  Json copy = object;
  Json& meta = copy["metadata"];
  Json refs = meta.contains("ownerReferences") && meta["ownerReferences"].is_array()
                  ? meta["ownerReferences"]
                  : Json::array();
  Json out = Json::array();
  for (const Json& r : refs) {
    if (!remove.empty() && r.value("uid", "") == remove) continue;
    out.push_back(r);
  }
  if (add != nullptr) out.push_back(*add);
  if (out.empty()) {
    meta.erase("ownerReferences");
  } else {
    meta["ownerReferences"] = out;
  }
  return client.Update(ref, NamespaceOf(object), copy);
}

}  // namespace

std::vector<ObjectPtr> ClaimObjects(client::Client& client, const ClaimSpec& spec,
                                    const std::vector<ObjectPtr>& candidates, absl::Status* error) {
  std::vector<ObjectPtr> claimed;
  const std::string owner_uid = UidOf(*spec.owner);
  const bool owner_deleting = IsBeingDeleted(*spec.owner);
  std::optional<absl::Status> adopt_ok;
  auto note = [&](const absl::Status& s) {
    if (error != nullptr && error->ok() && !s.ok()) *error = s;
  };
  for (const ObjectPtr& obj : candidates) {
    const Json* ref = ControllerRefOf(*obj);
    bool matches = spec.selector.Matches(LabelsOf(*obj));
    if (ref != nullptr) {
      if (ref->value("uid", "") != owner_uid) continue;  // someone else's
      if (matches) {
        claimed.push_back(obj);
        continue;
      }
      if (owner_deleting) continue;
      // Release: labels no longer match.
      auto r = SetOwnerRef(client, spec.child_ref, *obj, nullptr, owner_uid);
      if (!r.ok() && !client::IsNotFound(r.status())) note(r.status());
      continue;
    }
    // Orphan.
    if (owner_deleting || !matches || IsBeingDeleted(*obj)) continue;
    if (!adopt_ok) adopt_ok = spec.can_adopt ? spec.can_adopt() : absl::OkStatus();
    if (!adopt_ok->ok()) {
      note(*adopt_ok);
      continue;
    }
    Json owner_ref = NewControllerRef(*spec.owner, spec.owner_api_version, spec.owner_kind);
    auto r = SetOwnerRef(client, spec.child_ref, *obj, &owner_ref, "");
    if (!r.ok()) {
      if (!client::IsNotFound(r.status())) note(r.status());
      continue;
    }
    claimed.push_back(std::make_shared<const Json>(std::move(*r)));
  }
  return claimed;
}

std::function<absl::Status()> RecheckOwner(client::Client& client, client::ResourceRef ref,
                                           const Json& owner) {
  std::string ns = NamespaceOf(owner), name = NameOf(owner), uid = UidOf(owner);
  return [&client, ref, ns, name, uid]() -> absl::Status {
    KORRAL_ASSIGN_OR_RETURN(Json fresh, client.Get(ref, ns, name));
    if (UidOf(fresh) != uid) {
      return absl::FailedPreconditionError(
          absl::string_view(fmt::format("original {} {}/{} is gone: got uid {}, wanted {}",
                                        ref.resource, ns, name, UidOf(fresh), uid)));
    }
    if (IsBeingDeleted(fresh)) {
      return absl::FailedPreconditionError(
          absl::string_view(fmt::format("{} {}/{} has just been deleted at {}", ref.resource, ns,
                                        name, Str(fresh, {"metadata", "deletionTimestamp"}))));
    }
    return absl::OkStatus();
  };
}

absl::StatusOr<Json> UpdateStatusWithRetry(client::Client& client, const client::ResourceRef& ref,
                                           const Json& object, const Json& status) {
  Json copy = object;
  copy["status"] = status;
  auto r = client.UpdateStatus(ref, NamespaceOf(object), copy);
  if (r.ok() || !client::IsConflict(r.status())) return r;
  KORRAL_ASSIGN_OR_RETURN(Json fresh, client.Get(ref, NamespaceOf(object), NameOf(object)));
  if (UidOf(fresh) != UidOf(object)) return r.status();
  fresh["status"] = status;
  if (At(status, {"observedGeneration"}).is_number_integer() &&
      Int(fresh, {"metadata", "generation"}) != Int(object, {"metadata", "generation"})) {
    // The spec changed meanwhile: the next sync computes a fresh status.
    return r.status();
  }
  return client.UpdateStatus(ref, NamespaceOf(object), fresh);
}

const Json* FindCondition(const Json& status, std::string_view type) {
  const Json& conds = At(status, {"conditions"});
  if (!conds.is_array()) return nullptr;
  for (const Json& c : conds) {
    if (c.is_object() && c.value("type", "") == type) return &c;
  }
  return nullptr;
}

}  // namespace korral::controllers::workload
