// korral/controllers/job/job.cc
#include "korral/controllers/job/job.h"

#include <algorithm>
#include <climits>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/replicaset/replicaset.h"

namespace korral::controllers {
namespace workload {

namespace {

constexpr char kApiVersion[] = "batch/v1";
constexpr char kKind[] = "Job";
constexpr int kMaxPodCreateDeletePerSync = 500;
constexpr size_t kMaxUncountedPods = 500;
constexpr auto kDefaultBackoff = std::chrono::seconds(10);
constexpr auto kMaxBackoff = std::chrono::minutes(6);
constexpr int64_t kUnknownIndex = -1;

bool HasFinalizer(const Json& pod) {
  const Json& f = At(pod, {"metadata", "finalizers"});
  if (!f.is_array()) return false;
  for (const Json& x : f) {
    if (x.is_string() && x.get<std::string>() == kJobTrackingFinalizer) return true;
  }
  return false;
}

int64_t CompletionIndex(const Json& pod) {
  std::string v = Annotation(pod, kJobCompletionIndexAnnotation);
  if (v.empty()) v = Str(pod, {"metadata", "labels", kJobCompletionIndexAnnotation});
  if (v.empty()) return kUnknownIndex;
  try {
    size_t pos = 0;
    long long n = std::stoll(v, &pos);
    if (pos != v.size() || n < 0) return kUnknownIndex;
    return n;
  } catch (...) {
    return kUnknownIndex;
  }
}

int64_t IndexFailureCount(const Json& pod) {
  std::string v = Annotation(pod, kJobIndexFailureCountAnnotation);
  if (v.empty()) return 0;
  try {
    return std::max<int64_t>(0, std::stoll(v));
  } catch (...) {
    return 0;
  }
}

bool IsIndexed(const Json& job) {
  return Str(job, {"spec", "completionMode"}, "NonIndexed") == "Indexed";
}
bool Suspended(const Json& job) { return Bool(job, {"spec", "suspend"}); }
bool HasPerIndexLimit(const Json& job) {
  return At(job, {"spec", "backoffLimitPerIndex"}).is_number_integer();
}
bool OnlyReplaceFailedPods(const Json& job) {
  if (Str(job, {"spec", "podReplacementPolicy"}) == "Failed") return true;
  return Has(job, {"spec", "podFailurePolicy"});
}

// Upstream isPodFailed.
bool IsPodFailed(const Json& pod, const Json& job) {
  if (PodPhase(pod) == "Failed") return true;
  if (OnlyReplaceFailedPods(job)) return false;
  return IsBeingDeleted(pod) && PodPhase(pod) != "Succeeded";
}

Json NewJobCondition(std::string_view type, std::string_view status, std::string_view reason,
                     std::string_view message, TimePoint now) {
  std::string t = FormatTime(now);
  return {{"type", type},     {"status", status},  {"lastProbeTime", t}, {"lastTransitionTime", t},
          {"reason", reason}, {"message", message}};
}

// Upstream ensureJobConditionStatus. Returns whether the list changed.
bool EnsureCondition(Json& status, std::string_view type, std::string_view cstatus,
                     std::string_view reason, std::string_view message, TimePoint now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  for (Json& c : status["conditions"]) {
    if (c.value("type", "") != type) continue;
    if (c.value("status", "") != cstatus || c.value("reason", "") != reason ||
        c.value("message", "") != message) {
      c = NewJobCondition(type, cstatus, reason, message, now);
      return true;
    }
    return false;
  }
  if (cstatus != "False") {
    status["conditions"].push_back(NewJobCondition(type, cstatus, reason, message, now));
    return true;
  }
  if (status["conditions"].empty()) status.erase("conditions");
  return false;
}

bool ConditionTrue(const Json& status, std::string_view type) {
  const Json* c = FindCondition(status, type);
  return c != nullptr && c->value("status", "") == "True";
}

bool IsJobFinished(const Json& job) {
  return ConditionTrue(At(job, {"status"}), "Complete") ||
         ConditionTrue(At(job, {"status"}), "Failed");
}

std::set<std::string> UidSet(const Json& arr) {
  std::set<std::string> out;
  if (!arr.is_array()) return out;
  for (const Json& x : arr) {
    if (x.is_string()) out.insert(x.get<std::string>());
  }
  return out;
}

bool MatchesExitCodes(const Json& pod, const Json& req, std::string* container,
                      int64_t* exit_code) {
  std::string name = req.value("containerName", "");
  std::string op = req.value("operator", "In");
  std::set<int64_t> values;
  if (req.contains("values") && req["values"].is_array()) {
    for (const Json& v : req["values"]) {
      if (v.is_number_integer()) values.insert(v.get<int64_t>());
    }
  }
  for (const char* f : {"initContainerStatuses", "containerStatuses"}) {
    const Json& st = At(pod, {"status", f});
    if (!st.is_array()) continue;
    for (const Json& cs : st) {
      const Json& term = At(cs, {"state", "terminated"});
      if (!term.is_object()) continue;
      if (!name.empty() && cs.value("name", "") != name) continue;
      int64_t code = term.value("exitCode", int64_t{0});
      if (code == 0) continue;
      bool in = values.count(code) > 0;
      if ((op == "In" && in) || (op == "NotIn" && !in)) {
        *container = cs.value("name", "");
        *exit_code = code;
        return true;
      }
    }
  }
  return false;
}

struct PolicyMatch {
  std::optional<std::string> fail_job_message;
  bool count_failed = true;
  std::string action;  // "" when no rule matched
};

// Upstream matchPodFailurePolicy.
PolicyMatch MatchPodFailurePolicy(const Json& policy, const Json& pod) {
  PolicyMatch m;
  const Json& rules = At(policy, {"rules"});
  if (!rules.is_array()) return m;
  for (size_t i = 0; i < rules.size(); ++i) {
    const Json& rule = rules[i];
    std::string action = rule.value("action", "");
    std::string msg;
    bool matched = false;
    if (rule.contains("onExitCodes") && rule["onExitCodes"].is_object()) {
      std::string container;
      int64_t code = 0;
      if (MatchesExitCodes(pod, rule["onExitCodes"], &container, &code)) {
        matched = true;
        msg = fmt::format(
            "Container {} for pod {}/{} failed with exit code {} matching {} rule at index {}",
            container, NamespaceOf(pod), NameOf(pod), code, action, i);
      }
    } else if (rule.contains("onPodConditions") && rule["onPodConditions"].is_array()) {
      for (const Json& pattern : rule["onPodConditions"]) {
        const Json& conds = At(pod, {"status", "conditions"});
        if (!conds.is_array()) continue;
        for (const Json& c : conds) {
          if (c.value("type", "") == pattern.value("type", "") &&
              c.value("status", "") == pattern.value("status", "True")) {
            matched = true;
            msg = fmt::format("Pod {}/{} has condition {} matching {} rule at index {}",
                              NamespaceOf(pod), NameOf(pod), c.value("type", ""), action, i);
            break;
          }
        }
        if (matched) break;
      }
    }
    if (!matched) continue;
    m.action = action;
    if (action == "Ignore") {
      m.count_failed = false;
    } else if (action == "FailJob") {
      m.fail_job_message = msg;
    }
    return m;
  }
  return m;
}

std::chrono::nanoseconds BackoffDuration(int failures) {
  if (failures <= 0) return std::chrono::nanoseconds(0);
  auto d = std::chrono::duration_cast<std::chrono::nanoseconds>(kDefaultBackoff);
  for (int i = 1; i < failures && d < kMaxBackoff; ++i) d *= 2;
  return std::min<std::chrono::nanoseconds>(d, kMaxBackoff);
}

}  // namespace

std::set<int64_t> ParseIndexes(const std::string& s, int64_t limit) {
  std::set<int64_t> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t comma = s.find(',', start);
    std::string part = s.substr(start, comma == std::string::npos ? comma : comma - start);
    start = comma == std::string::npos ? s.size() : comma + 1;
    if (part.empty()) continue;
    try {
      size_t dash = part.find('-');
      int64_t a = std::stoll(part.substr(0, dash));
      int64_t b = dash == std::string::npos ? a : std::stoll(part.substr(dash + 1));
      for (int64_t i = a; i <= b && i < limit; ++i) out.insert(i);
    } catch (...) {
      continue;
    }
  }
  return out;
}

std::string FormatIndexes(const std::set<int64_t>& indexes) {
  std::string out;
  auto it = indexes.begin();
  while (it != indexes.end()) {
    int64_t first = *it, last = *it;
    ++it;
    while (it != indexes.end() && *it == last + 1) last = *it++;
    if (!out.empty()) out += ",";
    out += first == last ? std::to_string(first) : fmt::format("{}-{}", first, last);
  }
  return out;
}

struct JobController::SyncCtx {
  JobController& c;
  std::string key;
  Json job;
  std::vector<ObjectPtr> pods;
  std::vector<ObjectPtr> active_pods;
  int64_t terminating = 0;
  int64_t succeeded = 0;
  int64_t failed = 0;
  std::set<std::string> expected_rm;
  std::set<std::string> uncounted_succeeded, uncounted_failed;
  std::set<int64_t> prev_succeeded_indexes, succeeded_indexes, failed_indexes;
  std::optional<Json> finished_condition;
  // Per-index: the latest failed pod waiting for its replacement (backoffLimitPerIndex).
  std::map<int64_t, ObjectPtr> delayed_deletion;

  TimePoint Now() const { return c.clock_.Now(); }
  int64_t Completions() const { return Int(job, {"spec", "completions"}, -1); }
  void Event(std::string_view type, std::string_view reason, std::string msg) {
    c.recorder().Event(job, kApiVersion, kKind, type, reason, std::move(msg));
  }
  Json& Status() { return job["status"]; }
};

JobController::JobController(ControllerContext& ctx)
    : QueueController("job-controller", "job-controller", ctx),
      job_informer_(ctx.informers->For(JobsRef())),
      pod_informer_(ctx.informers->For(PodsRef())),
      expectations_(*ctx.clock) {
  EnsureIndex(pod_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  job_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& j) { Enqueue(KeyOf(*j)); },
      .on_update = [this](const ObjectPtr&, const ObjectPtr& j) { Enqueue(KeyOf(*j)); },
      .on_delete =
          [this](const ObjectPtr& j, bool) {
            std::string key = KeyOf(*j);
            expectations_.Delete(key);
            Enqueue(key);
          },
  });
  pod_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& p) { OnPodAdd(p); },
      .on_update = [this](const ObjectPtr& o, const ObjectPtr& n) { OnPodUpdate(o, n); },
      .on_delete = [this](const ObjectPtr& p, bool) { OnPodDelete(p); },
  });
}

JobController::~JobController() { Stop(); }

std::string JobController::ResolveControllerRef(const std::string& ns, const Json& ref) {
  if (ref.value("kind", "") != kKind) return "";
  std::string key = ns + "/" + ref.value("name", "");
  ObjectPtr j = job_informer_->indexer().Get(key);
  if (!j || UidOf(*j) != ref.value("uid", "")) return "";
  return key;
}

void JobController::ExpectFinalizersRemoved(const std::string& key,
                                            const std::vector<std::string>& uids) {
  std::lock_guard l(mu_);
  auto& s = finalizer_expectations_[key];
  s.insert(uids.begin(), uids.end());
}

void JobController::FinalizerRemovalObserved(const std::string& key, const std::string& uid) {
  std::lock_guard l(mu_);
  auto it = finalizer_expectations_.find(key);
  if (it == finalizer_expectations_.end()) return;
  it->second.erase(uid);
  if (it->second.empty()) finalizer_expectations_.erase(it);
}

std::set<std::string> JobController::ExpectedRemovals(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = finalizer_expectations_.find(key);
  return it == finalizer_expectations_.end() ? std::set<std::string>() : it->second;
}

void JobController::OnPodAdd(const ObjectPtr& pod) {
  if (IsBeingDeleted(*pod)) {
    // Counted as a deletion (the pod may linger while it has our finalizer).
    if (const Json* ref = ControllerRefOf(*pod)) {
      std::string key = ResolveControllerRef(NamespaceOf(*pod), *ref);
      if (!key.empty()) {
        expectations_.DeletionObserved(key);
        Enqueue(key);
      }
    }
    return;
  }
  if (const Json* ref = ControllerRefOf(*pod)) {
    std::string key = ResolveControllerRef(NamespaceOf(*pod), *ref);
    if (key.empty()) return;
    expectations_.CreationObserved(key);
    Enqueue(key);
    return;
  }
  // Orphans: jobs whose selector matches.
  for (const ObjectPtr& j : job_informer_->indexer().ListNamespace(NamespaceOf(*pod))) {
    auto sel = SelectorFromJson(At(*j, {"spec", "selector"}));
    if (sel.ok() && !sel->Empty() && sel->Matches(LabelsOf(*pod))) Enqueue(KeyOf(*j));
  }
}

void JobController::OnPodUpdate(const ObjectPtr& old_pod, const ObjectPtr& new_pod) {
  if (client::ResourceVersionOf(*old_pod) == client::ResourceVersionOf(*new_pod)) return;
  const Json* ref = ControllerRefOf(*new_pod);
  if (ref == nullptr) ref = ControllerRefOf(*old_pod);
  if (ref == nullptr) {
    OnPodAdd(new_pod);
    return;
  }
  std::string key = ResolveControllerRef(NamespaceOf(*new_pod), *ref);
  if (key.empty()) return;
  if (IsBeingDeleted(*new_pod) && !IsBeingDeleted(*old_pod)) expectations_.DeletionObserved(key);
  if (HasFinalizer(*old_pod) && !HasFinalizer(*new_pod)) {
    FinalizerRemovalObserved(key, UidOf(*new_pod));
  }
  Enqueue(key);
}

void JobController::OnPodDelete(const ObjectPtr& pod) {
  const Json* ref = ControllerRefOf(*pod);
  if (ref == nullptr) return;
  std::string key = ResolveControllerRef(NamespaceOf(*pod), *ref);
  if (key.empty()) return;
  if (!IsBeingDeleted(*pod)) expectations_.DeletionObserved(key);
  FinalizerRemovalObserved(key, UidOf(*pod));
  Enqueue(key);
}

absl::Status JobController::Sync(const std::string& key) {
  ObjectPtr cached = job_informer_->indexer().Get(key);
  if (!cached) {
    expectations_.Delete(key);
    std::lock_guard l(mu_);
    finalizer_expectations_.erase(key);
    backoff_.erase(key);
    index_failure_time_.erase(key);
    return absl::OkStatus();
  }
  std::string managed_by = Str(*cached, {"spec", "managedBy"});
  if (!managed_by.empty() && managed_by != "kubernetes.io/job-controller") return absl::OkStatus();
  if (IsJobFinished(*cached)) {
    std::lock_guard l(mu_);
    backoff_.erase(key);
    return absl::OkStatus();
  }
  SyncCtx jc{*this, key, *cached};
  Json& job = jc.job;
  if (!job["status"].is_object()) job["status"] = Json::object();
  const bool satisfied = expectations_.Satisfied(key);
  auto selector = SelectorFromJson(At(job, {"spec", "selector"}));
  if (!selector.ok()) return absl::OkStatus();

  // Pods (claim by selector).
  std::vector<ObjectPtr> candidates = pod_informer_->indexer().ListNamespace(NamespaceOf(job));
  ClaimSpec claim{.owner = &job,
                  .owner_api_version = kApiVersion,
                  .owner_kind = kKind,
                  .selector = *selector,
                  .child_ref = PodsRef(),
                  .can_adopt = RecheckOwner(client_, JobsRef(), job)};
  absl::Status claim_err;
  jc.pods = ClaimObjects(client_, claim, candidates, &claim_err);
  if (!claim_err.ok()) return claim_err;
  for (const ObjectPtr& p : jc.pods) {
    if (IsPodActive(*p)) jc.active_pods.push_back(p);
    if (IsBeingDeleted(*p) && !IsPodTerminal(*p)) jc.terminating++;
  }
  int64_t active = static_cast<int64_t>(jc.active_pods.size());
  jc.expected_rm = ExpectedRemovals(key);
  const Json& uncounted = At(job, {"status", "uncountedTerminatedPods"});
  jc.uncounted_succeeded = UidSet(At(uncounted, {"succeeded"}));
  jc.uncounted_failed = UidSet(At(uncounted, {"failed"}));
  const bool indexed = IsIndexed(job);
  const int64_t completions = jc.Completions();
  const Json& pfp = At(job, {"spec", "podFailurePolicy"});

  if (!Has(job, {"status", "startTime"}) && !Suspended(job)) {
    job["status"]["startTime"] = FormatTime(jc.Now());
    if (Has(job, {"spec", "activeDeadlineSeconds"})) {
      EnqueueAfter(key, std::chrono::seconds(Int(job, {"spec", "activeDeadlineSeconds"})));
    }
  }

  // Newly finished pods (not yet counted).
  int64_t new_succeeded = 0, new_failed_counted = 0;
  for (const ObjectPtr& p : jc.pods) {
    std::string uid = UidOf(*p);
    if (!HasFinalizer(*p) || jc.expected_rm.count(uid)) continue;
    if (indexed) {
      int64_t ix = CompletionIndex(*p);
      if (ix == kUnknownIndex || ix >= completions) continue;
    }
    if (PodPhase(*p) == "Succeeded" && !jc.uncounted_succeeded.count(uid)) {
      new_succeeded++;
    } else if (IsPodFailed(*p, job) && !jc.uncounted_failed.count(uid)) {
      if (pfp.is_object() && !MatchPodFailurePolicy(pfp, *p).count_failed) continue;
      new_failed_counted++;
    }
  }
  Backoff backoff;
  {
    std::lock_guard l(mu_);
    backoff = backoff_[key];
  }
  // TODO(korral): upstream dates a failure by the pod's container finish time; this uses the
  // time the controller first counts it.
  if (new_failed_counted > 0) {
    backoff.failures_after_last_success =
        (new_succeeded > 0 ? 0 : backoff.failures_after_last_success) +
        static_cast<int>(new_failed_counted);
    backoff.last_failure = jc.Now();
  } else if (new_succeeded > 0) {
    backoff.failures_after_last_success = 0;
  }
  jc.succeeded = Int(job, {"status", "succeeded"}) + new_succeeded +
                 static_cast<int64_t>(jc.uncounted_succeeded.size());
  jc.failed = Int(job, {"status", "failed"}) + new_failed_counted +
              static_cast<int64_t>(jc.uncounted_failed.size());
  int64_t ready = 0;
  for (const ObjectPtr& p : jc.active_pods) ready += IsPodReady(*p) ? 1 : 0;

  // Finished condition.
  const int64_t backoff_limit =
      Int(job, {"spec", "backoffLimit"}, HasPerIndexLimit(job) ? INT32_MAX : 6);
  if (const Json* ft = FindCondition(job["status"], "FailureTarget");
      ft != nullptr && ft->value("status", "") == "True") {
    jc.finished_condition = NewJobCondition("Failed", "True", ft->value("reason", ""),
                                            ft->value("message", ""), jc.Now());
  } else if (pfp.is_object()) {
    for (const ObjectPtr& p : jc.pods) {
      if (!IsPodFailed(*p, job)) continue;
      auto m = MatchPodFailurePolicy(pfp, *p);
      if (m.fail_job_message) {
        jc.finished_condition = NewJobCondition("FailureTarget", "True", "PodFailurePolicy",
                                                *m.fail_job_message, jc.Now());
        break;
      }
    }
  }
  if (!jc.finished_condition) {
    bool past_backoff_on_failure = false;
    if (Str(job, {"spec", "template", "spec", "restartPolicy"}) == "OnFailure") {
      int64_t restarts = 0;
      for (const ObjectPtr& p : jc.pods) {
        std::string phase = PodPhase(*p);
        if (phase != "Running" && phase != "Pending") continue;
        for (const char* f : {"initContainerStatuses", "containerStatuses"}) {
          const Json& st = At(*p, {"status", f});
          if (!st.is_array()) continue;
          for (const Json& cs : st) restarts += cs.value("restartCount", int64_t{0});
        }
      }
      past_backoff_on_failure = backoff_limit == 0 ? restarts > 0 : restarts >= backoff_limit;
    }
    bool past_deadline = false;
    if (Has(job, {"spec", "activeDeadlineSeconds"}) && !Suspended(job)) {
      auto start = ParseTime(Str(job, {"status", "startTime"}));
      if (start) {
        auto allowed = std::chrono::seconds(Int(job, {"spec", "activeDeadlineSeconds"}));
        past_deadline = jc.Now() - *start >= allowed;
        if (!past_deadline) EnqueueAfter(key, *start + allowed - jc.Now());
      }
    }
    if (jc.failed > backoff_limit || past_backoff_on_failure) {
      jc.finished_condition =
          NewJobCondition("FailureTarget", "True", "BackoffLimitExceeded",
                          "Job has reached the specified backoff limit", jc.Now());
    } else if (past_deadline) {
      jc.finished_condition =
          NewJobCondition("FailureTarget", "True", "DeadlineExceeded",
                          "Job was active longer than specified deadline", jc.Now());
    }
  }
  if (indexed) {
    jc.prev_succeeded_indexes = ParseIndexes(Str(job, {"status", "completedIndexes"}), completions);
    jc.succeeded_indexes = jc.prev_succeeded_indexes;
    for (const ObjectPtr& p : jc.pods) {
      int64_t ix = CompletionIndex(*p);
      if (PodPhase(*p) == "Succeeded" && ix != kUnknownIndex && ix < completions &&
          HasFinalizer(*p)) {
        jc.succeeded_indexes.insert(ix);
      }
    }
    jc.succeeded = static_cast<int64_t>(jc.succeeded_indexes.size());
    if (HasPerIndexLimit(job)) {
      int64_t per_index = Int(job, {"spec", "backoffLimitPerIndex"});
      jc.failed_indexes = ParseIndexes(Str(job, {"status", "failedIndexes"}), completions);
      std::map<int64_t, ObjectPtr> latest_failed;
      std::set<int64_t> active_indexes;
      for (const ObjectPtr& p : jc.pods) {
        int64_t ix = CompletionIndex(*p);
        if (ix == kUnknownIndex || ix >= completions) continue;
        if (IsPodActive(*p)) active_indexes.insert(ix);
        if (!IsPodFailed(*p, job) || !HasFinalizer(*p)) continue;
        auto m = pfp.is_object() ? MatchPodFailurePolicy(pfp, *p) : PolicyMatch{};
        if (m.action == "FailIndex" || (m.count_failed && IndexFailureCount(*p) >= per_index)) {
          jc.failed_indexes.insert(ix);
        }
        auto& cur = latest_failed[ix];
        if (!cur || IndexFailureCount(*p) > IndexFailureCount(*cur) ||
            (IndexFailureCount(*p) == IndexFailureCount(*cur) &&
             CreationTime(*p) > CreationTime(*cur))) {
          cur = p;
        }
      }
      for (auto& [ix, p] : latest_failed) {
        if (jc.failed_indexes.count(ix) || jc.succeeded_indexes.count(ix) ||
            active_indexes.count(ix)) {
          continue;
        }
        jc.delayed_deletion[ix] = p;
      }
      if (!jc.finished_condition) {
        const Json& max_failed = At(job, {"spec", "maxFailedIndexes"});
        if (max_failed.is_number_integer() &&
            static_cast<int64_t>(jc.failed_indexes.size()) > max_failed.get<int64_t>()) {
          jc.finished_condition = NewJobCondition(
              "FailureTarget", "True", "MaxFailedIndexesExceeded",
              "Job has exceeded the specified maximal number of failed indexes", jc.Now());
        } else if (!jc.failed_indexes.empty() &&
                   static_cast<int64_t>(jc.failed_indexes.size() + jc.succeeded_indexes.size()) >=
                       completions) {
          jc.finished_condition = NewJobCondition("FailureTarget", "True", "FailedIndexes",
                                                  "Job has failed indexes", jc.Now());
        }
      }
    }
    // TODO(korral): spec.successPolicy (SuccessCriteriaMet with reason SuccessPolicy).
  }

  bool suspend_cond_changed = false;
  absl::Status manage_err;
  if (jc.finished_condition) {
    // Delete the active pods; the Failed condition waits until they are gone.
    auto errors = ParallelFor(static_cast<int>(jc.active_pods.size()), [&](int i) -> absl::Status {
      const Json& p = *jc.active_pods[i];
      auto r = client_.Delete(PodsRef(), NamespaceOf(p), NameOf(p));
      if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
      jc.Event("Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", NameOf(p)));
      return absl::OkStatus();
    });
    int64_t deleted = static_cast<int64_t>(jc.active_pods.size() - errors.size());
    if (deleted != active || !satisfied) {
      if (jc.finished_condition->value("type", "") == "Failed") jc.finished_condition.reset();
    }
    active -= deleted;
    jc.terminating += deleted;
    if (!errors.empty()) manage_err = errors.front();
  } else {
    bool manage_called = false;
    if (satisfied && !IsBeingDeleted(job)) {
      manage_called = true;
      // manageJob.
      int64_t parallelism = Int(job, {"spec", "parallelism"}, 1);
      if (Suspended(job)) {
        auto errors =
            ParallelFor(static_cast<int>(jc.active_pods.size()), [&](int i) -> absl::Status {
              const Json& p = *jc.active_pods[i];
              auto r = client_.Delete(PodsRef(), NamespaceOf(p), NameOf(p));
              if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
              jc.Event("Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", NameOf(p)));
              return absl::OkStatus();
            });
        active -= static_cast<int64_t>(jc.active_pods.size() - errors.size());
        jc.terminating += static_cast<int64_t>(jc.active_pods.size() - errors.size());
        if (!errors.empty()) manage_err = errors.front();
      } else {
        int64_t want_active = 0;
        if (completions < 0) {
          want_active = jc.succeeded > 0 ? active : parallelism;
        } else {
          want_active = std::clamp<int64_t>(completions - jc.succeeded, 0, parallelism);
        }
        int64_t rm_at_least = std::max<int64_t>(active - want_active, 0);
        std::vector<ObjectPtr> to_delete;
        if (indexed) {
          // Pods with an invalid or duplicated index (or a succeeded index) go first.
          std::map<int64_t, int> seen;
          std::vector<ObjectPtr> rest;
          for (const ObjectPtr& p : jc.active_pods) {
            int64_t ix = CompletionIndex(*p);
            if (ix == kUnknownIndex || ix >= completions || seen[ix]++ > 0 ||
                jc.succeeded_indexes.count(ix) || jc.failed_indexes.count(ix)) {
              to_delete.push_back(p);
            } else {
              rest.push_back(p);
            }
          }
          if (static_cast<int64_t>(to_delete.size()) < rm_at_least) {
            SortPodsForDeletion(rest, std::vector<int>(rest.size(), 0), jc.Now());
            for (const ObjectPtr& p : rest) {
              if (static_cast<int64_t>(to_delete.size()) >= rm_at_least) break;
              to_delete.push_back(p);
            }
          }
        } else if (rm_at_least > 0) {
          to_delete = jc.active_pods;
          SortPodsForDeletion(to_delete, std::vector<int>(to_delete.size(), 0), jc.Now());
          to_delete.resize(rm_at_least);
        }
        if (to_delete.size() > static_cast<size_t>(kMaxPodCreateDeletePerSync)) {
          to_delete.resize(kMaxPodCreateDeletePerSync);
        }
        if (!to_delete.empty()) {
          expectations_.ExpectDeletionCount(key, static_cast<int>(to_delete.size()));
          auto errors = ParallelFor(static_cast<int>(to_delete.size()), [&](int i) -> absl::Status {
            const Json& p = *to_delete[i];
            auto r = client_.Delete(PodsRef(), NamespaceOf(p), NameOf(p));
            if (!r.ok()) {
              expectations_.DeletionObserved(key);
              if (client::IsNotFound(r.status())) return absl::OkStatus();
              return r.status();
            }
            jc.Event("Normal", "SuccessfulDelete", fmt::format("Deleted pod: {}", NameOf(p)));
            return absl::OkStatus();
          });
          active -= static_cast<int64_t>(to_delete.size() - errors.size());
          if (!errors.empty()) manage_err = errors.front();
        } else {
          int64_t terminating_blocking = OnlyReplaceFailedPods(job) ? jc.terminating : 0;
          int64_t diff = want_active - terminating_blocking - active;
          if (diff > 0) {
            std::chrono::nanoseconds remaining{0};
            if (!HasPerIndexLimit(job)) {
              auto wait = BackoffDuration(backoff.failures_after_last_success);
              auto elapsed = jc.Now() - backoff.last_failure;
              if (wait > elapsed) remaining = wait - elapsed;
            }
            std::vector<int64_t> indexes;
            if (remaining.count() == 0) {
              diff = std::min<int64_t>(diff, kMaxPodCreateDeletePerSync);
              if (indexed) {
                std::set<int64_t> taken = jc.succeeded_indexes;
                taken.insert(jc.failed_indexes.begin(), jc.failed_indexes.end());
                for (const ObjectPtr& p : jc.active_pods) taken.insert(CompletionIndex(*p));
                std::chrono::nanoseconds min_wait{0};
                for (int64_t ix = 0;
                     ix < completions && static_cast<int64_t>(indexes.size()) < diff; ++ix) {
                  if (taken.count(ix)) continue;
                  if (HasPerIndexLimit(job) && jc.delayed_deletion.count(ix)) {
                    std::lock_guard l(mu_);
                    auto& times = index_failure_time_[key];
                    if (!times.count(ix)) times[ix] = jc.Now();
                    auto backoff = BackoffDuration(
                        static_cast<int>(IndexFailureCount(*jc.delayed_deletion[ix]) + 1));
                    auto elapsed = jc.Now() - times[ix];
                    if (backoff > elapsed) {
                      auto wait = backoff - elapsed;
                      if (min_wait.count() == 0 || wait < min_wait) min_wait = wait;
                      continue;
                    }
                  }
                  indexes.push_back(ix);
                }
                if (min_wait.count() > 0) EnqueueAfter(key, min_wait);
                diff = static_cast<int64_t>(indexes.size());
              }
            } else {
              EnqueueAfter(key, remaining);
              diff = 0;
            }
            if (diff > 0) {
              expectations_.ExpectCreations(key, static_cast<int>(diff));
              Json ref = NewControllerRef(job, kApiVersion, kKind);
              Json base = PodFromTemplate(At(job, {"spec", "template"}), job, ref);
              Json& fins = base["metadata"]["finalizers"];
              if (!fins.is_array()) fins = Json::array();
              if (std::find(fins.begin(), fins.end(), Json(kJobTrackingFinalizer)) == fins.end()) {
                fins.push_back(kJobTrackingFinalizer);
              }
              if (indexed) {
                for (const char* list : {"containers", "initContainers"}) {
                  Json& cs = base["spec"][list];
                  if (!cs.is_array()) {
                    base["spec"].erase(list);
                    continue;
                  }
                  for (Json& ctr : cs) {
                    Json& env = ctr["env"];
                    if (!env.is_array()) env = Json::array();
                    bool present = false;
                    for (const Json& e : env)
                      present |= e.value("name", "") == "JOB_COMPLETION_INDEX";
                    if (!present) {
                      env.push_back(
                          {{"name", "JOB_COMPLETION_INDEX"},
                           {"valueFrom",
                            {{"fieldRef",
                              {{"fieldPath", fmt::format("metadata.annotations['{}']",
                                                         kJobCompletionIndexAnnotation)}}}}}});
                    }
                  }
                }
              }
              const std::string ns = NamespaceOf(job);
              auto result = SlowStartBatch(static_cast<int>(diff), 1, [&](int i) -> absl::Status {
                Json pod = base;
                if (indexed) {
                  int64_t ix = indexes[i];
                  std::string s = std::to_string(ix);
                  pod["metadata"]["annotations"][kJobCompletionIndexAnnotation] = s;
                  pod["metadata"]["labels"][kJobCompletionIndexAnnotation] = s;
                  if (Str(pod, {"spec", "hostname"}).empty()) {
                    pod["spec"]["hostname"] = NameOf(job) + "-" + s;
                  }
                  std::string suffix = "-" + s + "-";
                  std::string prefix = NameOf(job) + suffix;
                  if (prefix.size() > 58) prefix = prefix.substr(0, 58 - suffix.size()) + suffix;
                  pod["metadata"]["generateName"] = prefix;
                  if (HasPerIndexLimit(job)) {
                    int64_t count = 0;
                    if (auto it = jc.delayed_deletion.find(ix); it != jc.delayed_deletion.end()) {
                      count = IndexFailureCount(*it->second) + 1;
                    }
                    pod["metadata"]["annotations"][kJobIndexFailureCountAnnotation] =
                        std::to_string(count);
                  }
                }
                auto r = client_.Create(PodsRef(), ns, pod);
                if (!r.ok()) {
                  if (IsNamespaceTerminating(r.status())) return absl::OkStatus();
                  jc.Event("Warning", "FailedCreate",
                           fmt::format("Error creating: {}", StatusMessage(r.status())));
                  return r.status();
                }
                jc.Event("Normal", "SuccessfulCreate", fmt::format("Created pod: {}", NameOf(*r)));
                return absl::OkStatus();
              });
              for (int64_t i = result.successes; i < diff; ++i) expectations_.CreationObserved(key);
              active += result.successes;
              manage_err = result.first_error;
            }
          }
        }
      }
    }
    bool complete = completions < 0 ? (jc.succeeded > 0 && active == 0)
                                    : (jc.succeeded >= completions && active == 0);
    if (complete) {
      jc.finished_condition =
          NewJobCondition("SuccessCriteriaMet", "True", "CompletionsReached",
                          "Reached expected number of succeeded pods", jc.Now());
    } else if (manage_called) {
      if (Suspended(job)) {
        if (EnsureCondition(job["status"], "Suspended", "True", "JobSuspended", "Job suspended",
                            jc.Now())) {
          suspend_cond_changed = true;
          jc.Event("Normal", "Suspended", "Job suspended");
        }
      } else if (EnsureCondition(job["status"], "Suspended", "False", "JobResumed", "Job resumed",
                                 jc.Now())) {
        suspend_cond_changed = true;
        jc.Event("Normal", "Resumed", "Job resumed");
        job["status"]["startTime"] = FormatTime(jc.Now());
      }
    }
  }

  // Counters.
  bool needs_flush = suspend_cond_changed || Int(job, {"status", "active"}) != active ||
                     !Has(job, {"status", "ready"}) || Int(job, {"status", "ready"}) != ready ||
                     !Has(job, {"status", "terminating"}) ||
                     Int(job, {"status", "terminating"}) != jc.terminating ||
                     At(cached->value("status", Json::object()), {"startTime"}) !=
                         At(job, {"status", "startTime"});
  Json& st = job["status"];
  if (active > 0) {
    st["active"] = active;
  } else {
    st.erase("active");
  }
  st["ready"] = ready;
  st["terminating"] = jc.terminating;

  // trackJobStatusAndRemoveFinalizers.
  std::set<std::string> uids_with_finalizer;
  for (const ObjectPtr& p : jc.pods) {
    if (HasFinalizer(*p) || jc.expected_rm.count(UidOf(*p))) uids_with_finalizer.insert(UidOf(*p));
  }
  if (!st.contains("uncountedTerminatedPods") || !st["uncountedTerminatedPods"].is_object()) {
    st["uncountedTerminatedPods"] = Json::object();
    needs_flush = true;
  }
  auto clean_uncounted = [&]() {
    bool updated = false;
    Json& u = st["uncountedTerminatedPods"];
    for (const char* f : {"succeeded", "failed"}) {
      if (!u.contains(f) || !u[f].is_array()) continue;
      Json kept = Json::array();
      int64_t moved = 0;
      for (const Json& uid : u[f]) {
        if (uid.is_string() && uids_with_finalizer.count(uid.get<std::string>())) {
          kept.push_back(uid);
        } else {
          moved++;
        }
      }
      if (moved > 0) {
        updated = true;
        if (!(indexed && std::string(f) == "succeeded")) {
          st[f] = Int(st, {f}) + moved;
        }
        if (kept.empty()) {
          u.erase(f);
        } else {
          u[f] = kept;
        }
      }
    }
    return updated;
  };
  if (clean_uncounted()) needs_flush = true;
  std::vector<ObjectPtr> rm_finalizer;
  std::vector<int64_t> new_succeeded_indexes;
  bool reached_max = false;
  std::vector<ObjectPtr> ordered = jc.pods;
  if (indexed) {
    std::stable_sort(ordered.begin(), ordered.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
      return CompletionIndex(*a) < CompletionIndex(*b);
    });
  }
  Json& u = st["uncountedTerminatedPods"];
  auto uncounted_size = [&]() {
    size_t n = new_succeeded_indexes.size();
    for (const char* f : {"succeeded", "failed"}) {
      if (u.contains(f) && u[f].is_array()) n += u[f].size();
    }
    return n;
  };
  const bool finishing_failed =
      jc.finished_condition && jc.finished_condition->value("type", "") != "SuccessCriteriaMet";
  for (const ObjectPtr& p : ordered) {
    std::string uid = UidOf(*p);
    if (!HasFinalizer(*p) || jc.expected_rm.count(uid)) continue;
    bool consider_failed = IsPodFailed(*p, job);
    // canRemoveFinalizer.
    bool can_remove = IsBeingDeleted(job) || jc.finished_condition.has_value() ||
                      PodPhase(*p) == "Succeeded" || consider_failed;
    if (can_remove && consider_failed && HasPerIndexLimit(job) && !jc.finished_condition &&
        !IsBeingDeleted(job)) {
      int64_t ix = CompletionIndex(*p);
      auto it = jc.delayed_deletion.find(ix);
      if (it != jc.delayed_deletion.end() && UidOf(*it->second) == uid) can_remove = false;
    }
    if (!can_remove) continue;
    rm_finalizer.push_back(p);
    if (PodPhase(*p) == "Succeeded" && !jc.uncounted_failed.count(uid)) {
      if (indexed) {
        int64_t ix = CompletionIndex(*p);
        if (ix != kUnknownIndex && ix < completions && !jc.prev_succeeded_indexes.count(ix)) {
          new_succeeded_indexes.push_back(ix);
          needs_flush = true;
        }
      } else if (!jc.uncounted_succeeded.count(uid)) {
        needs_flush = true;
        if (!u.contains("succeeded")) u["succeeded"] = Json::array();
        u["succeeded"].push_back(uid);
      }
    } else if (consider_failed || finishing_failed) {
      int64_t ix = CompletionIndex(*p);
      if (!jc.uncounted_failed.count(uid) &&
          (!indexed || (ix != kUnknownIndex && ix < completions))) {
        bool count = true;
        if (pfp.is_object()) count = MatchPodFailurePolicy(pfp, *p).count_failed;
        if (count) {
          needs_flush = true;
          if (!u.contains("failed")) u["failed"] = Json::array();
          u["failed"].push_back(uid);
        }
      }
    }
    if (uncounted_size() >= kMaxUncountedPods) {
      reached_max = true;
      break;
    }
  }
  if (indexed) {
    std::set<int64_t> all = jc.prev_succeeded_indexes;
    all.insert(new_succeeded_indexes.begin(), new_succeeded_indexes.end());
    std::string s = FormatIndexes(all);
    if (s != Str(st, {"completedIndexes"})) needs_flush = true;
    st["succeeded"] = static_cast<int64_t>(all.size());
    st["completedIndexes"] = s;
    if (HasPerIndexLimit(job)) {
      std::string f = FormatIndexes(jc.failed_indexes);
      if (f != Str(st, {"failedIndexes"})) needs_flush = true;
      st["failedIndexes"] = f;
    }
    if (Int(st, {"succeeded"}) == 0) st.erase("succeeded");
  }
  if (jc.finished_condition && jc.finished_condition->value("type", "") == "FailureTarget") {
    if (!ConditionTrue(st, "FailureTarget")) {
      if (!st.contains("conditions") || !st["conditions"].is_array()) {
        st["conditions"] = Json::array();
      }
      st["conditions"].push_back(*jc.finished_condition);
      needs_flush = true;
    }
    jc.finished_condition =
        NewJobCondition("Failed", "True", jc.finished_condition->value("reason", ""),
                        jc.finished_condition->value("message", ""), jc.Now());
  }
  if (jc.finished_condition && jc.finished_condition->value("type", "") == "SuccessCriteriaMet") {
    if (!ConditionTrue(st, "SuccessCriteriaMet")) {
      if (!st.contains("conditions") || !st["conditions"].is_array()) {
        st["conditions"] = Json::array();
      }
      st["conditions"].push_back(*jc.finished_condition);
      needs_flush = true;
    }
    jc.finished_condition =
        NewJobCondition("Complete", "True", jc.finished_condition->value("reason", ""),
                        jc.finished_condition->value("message", ""), jc.Now());
  }

  auto update_status = [&]() -> absl::Status {
    auto r = client_.UpdateStatus(JobsRef(), NamespaceOf(job), job);
    if (!r.ok()) return r.status();
    // Keep `job` (and references into its status) alive: only the resourceVersion moves on.
    job["metadata"]["resourceVersion"] = Str(*r, {"metadata", "resourceVersion"});
    return absl::OkStatus();
  };
  // flushUncountedAndRemoveFinalizers.
  if (needs_flush) {
    KORRAL_RETURN_IF_ERROR(update_status());
    needs_flush = false;
  }
  {
    std::lock_guard l(mu_);
    backoff_[key] = backoff;
  }
  absl::Status rm_err;
  if (!rm_finalizer.empty()) {
    std::vector<std::string> uids;
    for (const ObjectPtr& p : rm_finalizer) uids.push_back(UidOf(*p));
    ExpectFinalizersRemoved(key, uids);
    std::vector<char> ok(rm_finalizer.size(), 0);
    auto errors = ParallelFor(static_cast<int>(rm_finalizer.size()), [&](int i) -> absl::Status {
      const Json& p = *rm_finalizer[i];
      const Json& fins = At(p, {"metadata", "finalizers"});
      size_t idx = 0;
      for (; idx < fins.size(); ++idx) {
        if (fins[idx] == kJobTrackingFinalizer) break;
      }
      Json patch =
          Json::array({{{"op", "test"},
                        {"path", fmt::format("/metadata/finalizers/{}", idx)},
                        {"value", kJobTrackingFinalizer}},
                       {{"op", "remove"}, {"path", fmt::format("/metadata/finalizers/{}", idx)}}});
      auto r = client_.Patch(PodsRef(), NamespaceOf(p), NameOf(p), client::PatchType::kJson, patch);
      if (!r.ok() && !client::IsNotFound(r.status())) {
        FinalizerRemovalObserved(key, UidOf(p));
        return r.status();
      }
      ok[i] = 1;
      return absl::OkStatus();
    });
    for (size_t i = 0; i < rm_finalizer.size(); ++i) {
      if (ok[i]) uids_with_finalizer.erase(UidOf(*rm_finalizer[i]));
    }
    if (!errors.empty()) rm_err = errors.front();
  }
  if (clean_uncounted()) needs_flush = true;
  if (!rm_err.ok()) {
    if (needs_flush) (void)update_status();
    return rm_err;
  }
  // enactJobFinished.
  bool finished = false;
  if (!reached_max && jc.finished_condition) {
    const Json& uu = At(job, {"status", "uncountedTerminatedPods"});
    size_t pending = At(uu, {"succeeded"}).size() + At(uu, {"failed"}).size();
    if (pending == 0 && jc.terminating == 0) {
      const Json& fc = *jc.finished_condition;
      EnsureCondition(job["status"], fc.value("type", ""), "True", fc.value("reason", ""),
                      fc.value("message", ""), jc.Now());
      if (fc.value("type", "") == "Complete")
        job["status"]["completionTime"] = FormatTime(jc.Now());
      finished = true;
      needs_flush = true;
    } else if (jc.terminating > 0) {
      // Pods still terminating: come back once they are gone (pod events also requeue).
      EnqueueAfter(key, std::chrono::seconds(1));
    }
  }
  if (needs_flush) {
    KORRAL_RETURN_IF_ERROR(update_status());
    if (finished) {
      const Json& fc = *jc.finished_condition;
      if (fc.value("type", "") == "Complete") {
        if (completions >= 0 && Int(job, {"status", "succeeded"}) > completions) {
          jc.Event("Warning", "TooManySucceededPods",
                   "Too many succeeded pods running after completion count reached");
        }
        jc.Event("Normal", "Completed", "Job completed");
      } else {
        jc.Event("Warning", fc.value("reason", ""), fc.value("message", ""));
      }
    }
  }
  return manage_err;
}

}  // namespace workload

ControllerDescriptor JobControllerDescriptor() {
  return ControllerDescriptor{
      .name = "job-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::JobController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"job"},
  };
}

}  // namespace korral::controllers
