// korral/controllers/ttlafterfinished/ttlafterfinished.cc
#include "korral/controllers/ttlafterfinished/ttlafterfinished.h"

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace workload {

namespace {

bool NeedsCleanup(const Json& job) {
  if (!At(job, {"spec", "ttlSecondsAfterFinished"}).is_number_integer()) return false;
  if (IsBeingDeleted(job)) return false;
  for (const char* t : {"Complete", "Failed"}) {
    const Json* c = FindCondition(At(job, {"status"}), t);
    if (c != nullptr && c->value("status", "") == "True") return true;
  }
  return false;
}

// The time left until the job expires (<= 0: expired); error when the finish time is unknown.
absl::StatusOr<std::chrono::nanoseconds> TimeLeft(const Json& job, TimePoint now) {
  for (const char* t : {"Complete", "Failed"}) {
    const Json* c = FindCondition(At(job, {"status"}), t);
    if (c == nullptr || c->value("status", "") != "True") continue;
    auto finished = ParseTime(c->value("lastTransitionTime", ""));
    if (!finished) {
      return absl::FailedPreconditionError(absl::string_view(
          fmt::format("unable to find the time when the Job {} finished", KeyOf(job))));
    }
    if (*finished > now) {
      KLOG(Info, "ttl-after-finished: job {} finished in the future (clock skew)", KeyOf(job));
    }
    auto expire = *finished + std::chrono::seconds(Int(job, {"spec", "ttlSecondsAfterFinished"}));
    return std::chrono::duration_cast<std::chrono::nanoseconds>(expire - now);
  }
  return absl::FailedPreconditionError("job is not finished");
}

}  // namespace

TtlAfterFinishedController::TtlAfterFinishedController(ControllerContext& ctx)
    : QueueController("ttl-after-finished-controller", "ttlafterfinished-controller", ctx),
      job_informer_(ctx.informers->For(JobsRef())) {
  job_informer_->AddEventHandler({
      .on_add =
          [this](const ObjectPtr& j) {
            if (NeedsCleanup(*j)) Enqueue(KeyOf(*j));
          },
      .on_update =
          [this](const ObjectPtr&, const ObjectPtr& j) {
            if (NeedsCleanup(*j)) Enqueue(KeyOf(*j));
          },
  });
}

TtlAfterFinishedController::~TtlAfterFinishedController() { Stop(); }

absl::Status TtlAfterFinishedController::Sync(const std::string& key) {
  ObjectPtr cached = job_informer_->indexer().Get(key);
  if (!cached || !NeedsCleanup(*cached)) return absl::OkStatus();
  auto left = TimeLeft(*cached, clock_.Now());
  if (!left.ok()) return left.status();
  if (left->count() > 0) {
    EnqueueAfter(key, *left);
    return absl::OkStatus();
  }
  // Re-read from the API: the TTL or the conditions may have changed.
  auto [ns, name] = SplitKey(key);
  auto fresh = client_.Get(JobsRef(), ns, name);
  if (!fresh.ok()) return client::IsNotFound(fresh.status()) ? absl::OkStatus() : fresh.status();
  if (!NeedsCleanup(*fresh)) return absl::OkStatus();
  left = TimeLeft(*fresh, clock_.Now());
  if (!left.ok()) return left.status();
  if (left->count() > 0) {
    EnqueueAfter(key, *left);
    return absl::OkStatus();
  }
  Json options = {
      {"propagationPolicy", "Foreground"},
      {"preconditions",
       {{"uid", UidOf(*fresh)}, {"resourceVersion", client::ResourceVersionOf(*fresh)}}}};
  auto r = client_.Delete(JobsRef(), ns, name, options);
  if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  KLOG(Info, "ttl-after-finished: deleted job {}", key);
  return absl::OkStatus();
}

}  // namespace workload

ControllerDescriptor TtlAfterFinishedControllerDescriptor() {
  return ControllerDescriptor{
      .name = "ttl-after-finished-controller",
      .factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
        return std::make_unique<workload::TtlAfterFinishedController>(ctx);
      },
      .enabled_by_default = true,
      .aliases = {"ttl-after-finished"},
  };
}

}  // namespace korral::controllers
