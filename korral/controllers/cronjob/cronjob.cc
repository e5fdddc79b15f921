// korral/controllers/cronjob/cronjob.cc
#include "korral/controllers/cronjob/cronjob.h"

#include <algorithm>

#include <fmt/format.h>

#include "absl/time/time.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/cronjob/cron.h"

namespace korral::controllers {
namespace workload {

namespace {

constexpr char kApiVersion[] = "batch/v1";
constexpr char kKind[] = "CronJob";
constexpr auto kNextScheduleDelta = std::chrono::milliseconds(100);

bool JobCondTrue(const Json& job, std::string_view type) {
  const Json* c = FindCondition(At(job, {"status"}), type);
  return c != nullptr && c->value("status", "") == "True";
}
bool IsJobFinished(const Json& job) {
  return JobCondTrue(job, "Complete") || JobCondTrue(job, "Failed");
}

bool InActive(const Json& cj, const std::string& uid) {
  const Json& a = At(cj, {"status", "active"});
  if (!a.is_array()) return false;
  for (const Json& r : a) {
    if (r.value("uid", "") == uid) return true;
  }
  return false;
}

bool InActiveByName(const Json& cj, const std::string& name) {
  const Json& a = At(cj, {"status", "active"});
  if (!a.is_array()) return false;
  for (const Json& r : a) {
    if (r.value("name", "") == name && r.value("namespace", "") == NamespaceOf(cj)) return true;
  }
  return false;
}

void RemoveFromActive(Json& cj, const std::string& uid) {
  Json& a = cj["status"]["active"];
  if (!a.is_array()) return;
  Json kept = Json::array();
  for (const Json& r : a) {
    if (r.value("uid", "") != uid) kept.push_back(r);
  }
  if (kept.empty()) {
    cj["status"].erase("active");
  } else {
    a = kept;
  }
}

std::string Rfc1123Z(TimePoint t) {
  return absl::FormatTime("%a, %d %b %Y %H:%M:%S %z", absl::FromChrono(t), absl::UTCTimeZone());
}

struct MostRecent {
  TimePoint earliest;
  std::optional<TimePoint> most_recent;
  int64_t missed = 0;
};

// Upstream mostRecentScheduleTime.
absl::StatusOr<MostRecent> MostRecentScheduleTime(const Json& cj, TimePoint now,
                                                  const CronSchedule& sched,
                                                  bool include_deadline) {
  MostRecent r;
  r.earliest = CreationTime(cj);
  if (auto last = ParseTime(Str(cj, {"status", "lastScheduleTime"}))) r.earliest = *last;
  if (include_deadline && Has(cj, {"spec", "startingDeadlineSeconds"})) {
    auto deadline = now - std::chrono::seconds(Int(cj, {"spec", "startingDeadlineSeconds"}));
    if (deadline > r.earliest) r.earliest = deadline;
  }
  TimePoint t1 = sched.Next(r.earliest);
  if (t1.time_since_epoch().count() == 0 || now < t1) return r;
  TimePoint t2 = sched.Next(t1);
  if (now < t2) {
    r.most_recent = t1;
    r.missed = 1;
    return r;
  }
  auto between = std::chrono::duration_cast<std::chrono::seconds>(t2 - t1).count();
  if (between < 1) {
    return absl::InvalidArgumentError(
        "time difference between two schedules is less than 1 second");
  }
  // Walk forward (bounded); past the bound use upstream's arithmetic estimate.
  TimePoint cur = t1;
  int64_t missed = 1;
  for (int i = 0; i < 1000; ++i) {
    TimePoint n = sched.Next(cur);
    if (n.time_since_epoch().count() == 0 || n > now) break;
    cur = n;
    missed++;
  }
  if (sched.Next(cur) <= now) {
    auto elapsed = std::chrono::duration_cast<std::chrono::seconds>(now - t1).count();
    missed = elapsed / between + 1;
    cur = t1 + std::chrono::seconds((missed - 1) * between);
  }
  r.most_recent = cur;
  r.missed = missed;
  return r;
}

std::chrono::nanoseconds NextScheduleDuration(const Json& cj, TimePoint now,
                                              const CronSchedule& sched) {
  auto r = MostRecentScheduleTime(cj, now, sched, false);
  if (!r.ok()) return std::chrono::nanoseconds(-1);
  TimePoint base = r->most_recent.value_or(r->earliest);
  TimePoint next = sched.Next(base);
  if (next.time_since_epoch().count() == 0) return std::chrono::nanoseconds(-1);
  return std::chrono::duration_cast<std::chrono::nanoseconds>(next + kNextScheduleDelta - now);
}

}  // namespace

CronJobController::CronJobController(ControllerContext& ctx)
    : QueueController("cronjob-controller", "cronjob-controller", ctx),
      cj_informer_(ctx.informers->For(CronJobsRef())),
      job_informer_(ctx.informers->For(JobsRef())) {
  EnsureIndex(job_informer_, kControllerUidIndex, ControllerUidIndexFunc());
  cj_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& cj) { Enqueue(KeyOf(*cj)); },
      .on_update = [this](const ObjectPtr&, const ObjectPtr& cj) { Enqueue(KeyOf(*cj)); },
      .on_delete = [this](const ObjectPtr& cj, bool) { Enqueue(KeyOf(*cj)); },
  });
  job_informer_->AddEventHandler({
      .on_add = [this](const ObjectPtr& j) { OnJob(j); },
      .on_update =
          [this](const ObjectPtr& o, const ObjectPtr& n) {
            OnJob(o);
            OnJob(n);
          },
      .on_delete = [this](const ObjectPtr& j, bool) { OnJob(j); },
  });
}

CronJobController::~CronJobController() { Stop(); }

void CronJobController::OnJob(const ObjectPtr& job) {
  const Json* ref = ControllerRefOf(*job);
  if (ref == nullptr || ref->value("kind", "") != kKind) return;
  Enqueue(NamespaceOf(*job) + "/" + ref->value("name", ""));
}

absl::Status CronJobController::Sync(const std::string& key) {
  ObjectPtr cached = cj_informer_->indexer().Get(key);
  if (!cached) return absl::OkStatus();
  Json cj = *cached;
  if (!cj["status"].is_object()) cj["status"] = Json::object();
  const std::string ns = NamespaceOf(cj);
  auto event = [&](std::string_view type, std::string_view reason, std::string msg) {
    recorder().Event(cj, kApiVersion, kKind, type, reason, std::move(msg));
  };
  // Jobs controlled by this CronJob (by name, as upstream getJobsToBeReconciled).
  std::vector<ObjectPtr> jobs;
  for (const ObjectPtr& j : job_informer_->indexer().ListNamespace(ns)) {
    const Json* ref = ControllerRefOf(*j);
    if (ref != nullptr && ref->value("kind", "") == kKind && ref->value("name", "") == NameOf(cj)) {
      jobs.push_back(j);
    }
  }
  const TimePoint now = clock_.Now();
  bool update_status = false;
  std::optional<std::chrono::nanoseconds> requeue_after;

  auto delete_job = [&](const std::string& name, const std::string& uid) -> bool {
    auto r = client_.Delete(JobsRef(), ns, name, Json{{"propagationPolicy", "Background"}});
    if (!r.ok() && !client::IsNotFound(r.status())) {
      event("Warning", "FailedDelete", fmt::format("Deleted job: {}", StatusMessage(r.status())));
      return false;
    }
    RemoveFromActive(cj, uid);
    event("Normal", "SuccessfulDelete", fmt::format("Deleted job {}", name));
    return true;
  };

  // syncCronJob.
  auto sync = [&]() -> absl::Status {
    std::set<std::string> children;
    for (const ObjectPtr& j : jobs) {
      std::string uid = UidOf(*j);
      children.insert(uid);
      bool found = InActive(cj, uid);
      if (!found && !IsJobFinished(*j)) {
        auto fresh = client_.Get(CronJobsRef(), ns, NameOf(cj));
        if (!fresh.ok()) return fresh.status();
        if (InActive(*fresh, uid)) {
          cj = *fresh;
          continue;
        }
        event(
            "Warning", "UnexpectedJob",
            fmt::format("Saw a job that the controller did not create or forgot: {}", NameOf(*j)));
      } else if (found && IsJobFinished(*j)) {
        std::string cond = JobCondTrue(*j, "Complete") ? "Complete" : "Failed";
        RemoveFromActive(cj, uid);
        event("Normal", "SawCompletedJob",
              fmt::format("Saw completed job: {}, condition: {}", NameOf(*j), cond));
        update_status = true;
      } else if (JobCondTrue(*j, "Complete")) {
        std::string ct = Str(*j, {"status", "completionTime"});
        auto ctt = ParseTime(ct);
        auto last = ParseTime(Str(cj, {"status", "lastSuccessfulTime"}));
        if (ctt && (!last || *ctt > *last)) {
          cj["status"]["lastSuccessfulTime"] = ct;
          update_status = true;
        }
      }
    }
    Json active = At(cj, {"status", "active"});
    if (active.is_array()) {
      for (const Json& ref : active) {
        if (children.count(ref.value("uid", ""))) continue;
        auto got = client_.Get(JobsRef(), ref.value("namespace", ns), ref.value("name", ""));
        if (!got.ok() && client::IsNotFound(got.status())) {
          event("Normal", "MissingJob",
                fmt::format("Active job went missing: {}", ref.value("name", "")));
          RemoveFromActive(cj, ref.value("uid", ""));
          update_status = true;
        } else if (!got.ok()) {
          return got.status();
        }
      }
    }
    if (IsBeingDeleted(cj)) return absl::OkStatus();
    std::string tz_name = Str(cj, {"spec", "timeZone"});
    if (Has(cj, {"spec", "timeZone"})) {
      auto tz = LoadZone(tz_name);
      if (!tz.ok()) {
        event("Warning", "UnknownTimeZone",
              fmt::format("invalid timeZone: \"{}\": {}", tz_name, StatusMessage(tz.status())));
        return absl::OkStatus();
      }
    }
    if (Bool(cj, {"spec", "suspend"})) return absl::OkStatus();
    std::string schedule = Str(cj, {"spec", "schedule"});
    auto sched = CronSchedule::Parse(schedule, tz_name);
    if (Has(cj, {"spec", "timeZone"}) && (schedule.find("TZ=") != std::string::npos)) {
      sched = absl::InvalidArgumentError(absl::string_view(
          fmt::format("CRON_TZ or TZ used in schedule \"{}\" is not supported", schedule)));
    }
    if (!sched.ok()) {
      event("Warning", "UnparseableSchedule",
            fmt::format("unparseable schedule: \"{}\" : {}", schedule,
                        StatusMessage(sched.status())));
      return absl::OkStatus();
    }
    auto mr = MostRecentScheduleTime(cj, now, *sched, true);
    if (!mr.ok()) {
      event("Warning", "InvalidSchedule",
            fmt::format("invalid schedule: {} : {}", schedule, StatusMessage(mr.status())));
      return absl::OkStatus();
    }
    if (!mr->most_recent || *mr->most_recent > now) {
      requeue_after = NextScheduleDuration(cj, now, *sched);
      return absl::OkStatus();
    }
    if (mr->missed > 100) {
      event("Warning", "TooManyMissedTimes",
            "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check "
            "clock skew");
    }
    TimePoint scheduled = *mr->most_recent;
    if (Has(cj, {"spec", "startingDeadlineSeconds"}) &&
        scheduled + std::chrono::seconds(Int(cj, {"spec", "startingDeadlineSeconds"})) < now) {
      event("Warning", "MissSchedule",
            fmt::format("Missed scheduled time to start a job: {}", Rfc1123Z(scheduled)));
      requeue_after = NextScheduleDuration(cj, now, *sched);
      return absl::OkStatus();
    }
    auto minutes =
        std::chrono::duration_cast<std::chrono::seconds>(scheduled.time_since_epoch()).count() / 60;
    std::string job_name = fmt::format("{}-{}", NameOf(cj), minutes);
    auto last = ParseTime(Str(cj, {"status", "lastScheduleTime"}));
    if (InActiveByName(cj, job_name) || (last && *last == scheduled)) {
      requeue_after = NextScheduleDuration(cj, now, *sched);
      return absl::OkStatus();
    }
    std::string policy = Str(cj, {"spec", "concurrencyPolicy"}, "Allow");
    if (policy == "Forbid" && At(cj, {"status", "active"}).is_array() &&
        !At(cj, {"status", "active"}).empty()) {
      event("Normal", "JobAlreadyActive",
            "Not starting job because prior execution is running and concurrency policy is "
            "Forbid");
      requeue_after = NextScheduleDuration(cj, now, *sched);
      return absl::OkStatus();
    }
    if (policy == "Replace") {
      Json act = At(cj, {"status", "active"});
      if (act.is_array()) {
        for (const Json& ref : act) {
          auto got = client_.Get(JobsRef(), ns, ref.value("name", ""));
          if (!got.ok()) {
            event("Warning", "FailedGet", fmt::format("Get job: {}", StatusMessage(got.status())));
            return got.status();
          }
          if (!delete_job(NameOf(*got), UidOf(*got))) {
            return absl::InternalError(
                absl::string_view(fmt::format("could not replace job {}/{}", ns, NameOf(*got))));
          }
          update_status = true;
        }
      }
    }
    // getJobFromTemplate2.
    const Json& tmpl = At(cj, {"spec", "jobTemplate"});
    Json job = {{"apiVersion", kApiVersion}, {"kind", "Job"}};
    Json meta = {{"name", job_name}, {"namespace", ns}};
    if (At(tmpl, {"metadata", "labels"}).is_object()) meta["labels"] = tmpl["metadata"]["labels"];
    meta["annotations"] = At(tmpl, {"metadata", "annotations"}).is_object()
                              ? tmpl["metadata"]["annotations"]
                              : Json::object();
    absl::TimeZone zone = LoadZone(tz_name).value_or(absl::UTCTimeZone());
    meta["annotations"][kCronJobScheduledTimestampAnnotation] =
        absl::FormatTime(absl::RFC3339_sec, absl::FromChrono(scheduled), zone);
    meta["ownerReferences"] = Json::array({NewControllerRef(cj, kApiVersion, kKind)});
    job["metadata"] = meta;
    job["spec"] = At(tmpl, {"spec"}).is_object() ? tmpl["spec"] : Json::object();
    auto created = client_.Create(JobsRef(), ns, job);
    bool already_exists = false;
    Json resp;
    if (created.ok()) {
      resp = *created;
    } else if (IsNamespaceTerminating(created.status())) {
      return created.status();
    } else if (client::IsAlreadyExists(created.status())) {
      already_exists = true;
      auto got = client_.Get(JobsRef(), ns, job_name);
      if (!got.ok()) return got.status();
      resp = *got;
      const Json* ref = ControllerRefOf(resp);
      if (ref == nullptr || ref->value("uid", "") != UidOf(cj)) return absl::OkStatus();
      if (InActive(cj, UidOf(resp))) return absl::OkStatus();
    } else {
      event("Warning", "FailedCreate",
            fmt::format("Error creating job: {}", StatusMessage(created.status())));
      return created.status();
    }
    if (!already_exists) {
      event("Normal", "SuccessfulCreate", fmt::format("Created job {}", NameOf(resp)));
    }
    Json ref = {{"kind", "Job"},
                {"namespace", ns},
                {"name", NameOf(resp)},
                {"uid", UidOf(resp)},
                {"apiVersion", kApiVersion},
                {"resourceVersion", client::ResourceVersionOf(resp)}};
    if (!cj["status"]["active"].is_array()) cj["status"]["active"] = Json::array();
    cj["status"]["active"].push_back(ref);
    cj["status"]["lastScheduleTime"] = FormatTime(scheduled);
    update_status = true;
    requeue_after = NextScheduleDuration(cj, now, *sched);
    return absl::OkStatus();
  };
  absl::Status err = sync();
  if (!err.ok()) {
    if (update_status) (void)client_.UpdateStatus(CronJobsRef(), ns, cj);
    return err;
  }
  // cleanupFinishedJobs.
  if (!IsBeingDeleted(cj) && (Has(cj, {"spec", "successfulJobsHistoryLimit"}) ||
                              Has(cj, {"spec", "failedJobsHistoryLimit"}))) {
    std::vector<ObjectPtr> ok_jobs, failed_jobs;
    for (const ObjectPtr& j : jobs) {
      if (JobCondTrue(*j, "Complete")) ok_jobs.push_back(j);
      if (JobCondTrue(*j, "Failed")) failed_jobs.push_back(j);
    }
    auto remove_oldest = [&](std::vector<ObjectPtr>& list, const char* field) {
      if (!Has(cj, {"spec", field})) return;
      int64_t n = static_cast<int64_t>(list.size()) - Int(cj, {"spec", field});
      if (n <= 0) return;
      std::sort(list.begin(), list.end(), [](const ObjectPtr& a, const ObjectPtr& b) {
        auto sa = ParseTime(Str(*a, {"status", "startTime"}));
        auto sb = ParseTime(Str(*b, {"status", "startTime"}));
        if (!sa && sb) return false;
        if (sa && !sb) return true;
        if (sa == sb) return NameOf(*a) < NameOf(*b);
        return *sa < *sb;
      });
      for (int64_t i = 0; i < n; ++i) {
        if (delete_job(NameOf(*list[i]), UidOf(*list[i]))) update_status = true;
      }
    };
    remove_oldest(ok_jobs, "successfulJobsHistoryLimit");
    remove_oldest(failed_jobs, "failedJobsHistoryLimit");
  }
  if (update_status) {
    auto r = client_.UpdateStatus(CronJobsRef(), ns, cj);
    if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  }
  if (requeue_after && requeue_after->count() >= 0) EnqueueAfter(key, *requeue_after);
  return absl::OkStatus();
}

}  // namespace workload

ControllerDescriptor CronJobControllerDescriptor() {
  return ControllerDescriptor{
      .name = "cronjob-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::CronJobController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"cronjob"},
  };
}

}  // namespace korral::controllers
