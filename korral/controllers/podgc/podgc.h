// korral/controllers/podgc/podgc.h: the pod garbage collector (upstream pkg/controller/podgc).
// Every 20 s (gcCheckPeriod) it:
//  * deletes the oldest terminated (Succeeded/Failed) pods beyond --terminated-pod-gc-threshold
//    (<= 0 disables this part);
//  * deletes pods bound to nodes that no longer exist (after a 40 s quarantine, re-checked with a
//    live GET), first marking non-terminal ones Failed with a DisruptionTarget condition
//    (reason DeletionByPodGC), as upstream;
//  * force-deletes terminating pods that were never scheduled.
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

class PodGCController : public Controller {
 public:
  explicit PodGCController(ControllerContext& ctx);
  ~PodGCController() override;
  std::string_view Name() const override { return "pod-garbage-collector-controller"; }
  void Run(int workers) override;
  void Stop() override;
  // One pass (tests).
  absl::Status Gc();

  static constexpr std::chrono::seconds kCheckPeriod{20};
  static constexpr std::chrono::seconds kQuarantine{40};

 private:
  absl::Status GcTerminated();
  absl::Status GcOrphaned();
  absl::Status GcUnscheduledTerminating();
  absl::Status DeletePod(const Json& pod, bool mark_failed, const std::string& message);
  // DeletePod of the cached pod `key` ("ns/name"); OK if it is gone.
  absl::Status DeleteCached(const std::string& key, bool mark_failed, const std::string& message);

  ControllerContext ctx_;
  client::SharedInformer* pods_;
  client::SharedInformer* nodes_;
  std::map<std::string, std::chrono::steady_clock::time_point> missing_since_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  std::thread thread_;
};

ControllerDescriptor PodGCControllerDescriptor();

}  // namespace korral::controllers
