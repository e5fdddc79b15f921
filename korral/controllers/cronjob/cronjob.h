// korral/controllers/cronjob/cronjob.h: the CronJob controller (upstream
// pkg/controller/cronjob, cronjob_controllerv2.go).
//
// For each CronJob: tracks its Jobs in status.active (removing finished and missing ones, with
// SawCompletedJob / MissingJob events), records lastScheduleTime / lastSuccessfulTime, creates
// the Job for the most recent unmet schedule time (named <cronjob>-<unix minutes>, annotated
// batch.kubernetes.io/cronjob-scheduled-timestamp), honours suspend, spec.timeZone,
// startingDeadlineSeconds (MissSchedule), concurrencyPolicy Allow / Forbid (JobAlreadyActive) /
// Replace, and the successful / failed jobs history limits. It requeues itself for the next
// schedule time on the (injectable) clock.
#pragma once

#include <string>

#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

inline constexpr char kCronJobScheduledTimestampAnnotation[] =
    "batch.kubernetes.io/cronjob-scheduled-timestamp";

class CronJobController : public QueueController {
 public:
  explicit CronJobController(ControllerContext& ctx);
  ~CronJobController() override;
  absl::Status Sync(const std::string& key) override;

 private:
  void OnJob(const ObjectPtr& job);
  client::SharedInformer* cj_informer_;
  client::SharedInformer* job_informer_;
};

}  // namespace workload

ControllerDescriptor CronJobControllerDescriptor();

}  // namespace korral::controllers
