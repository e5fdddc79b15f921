// korral/controllers/ttlafterfinished/ttlafterfinished.h: the TTL-after-finished controller
// (upstream pkg/controller/ttlafterfinished). Deletes a finished Job (Complete or Failed)
// spec.ttlSecondsAfterFinished seconds after the finishing condition's lastTransitionTime, with
// foreground propagation and uid/resourceVersion preconditions, after re-reading the Job from
// the API. Waits on the injectable clock (the queue's AddAfter).
#pragma once

#include <optional>
#include <string>

#include "korral/controllers/controller.h"
#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers {

namespace workload {

class TtlAfterFinishedController : public QueueController {
 public:
  explicit TtlAfterFinishedController(ControllerContext& ctx);
  ~TtlAfterFinishedController() override;
  absl::Status Sync(const std::string& key) override;

 private:
  client::SharedInformer* job_informer_;
};

}  // namespace workload

ControllerDescriptor TtlAfterFinishedControllerDescriptor();

}  // namespace korral::controllers
