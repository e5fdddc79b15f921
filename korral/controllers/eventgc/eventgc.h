// korral/controllers/eventgc/eventgc.h: removes events older than --event-ttl (default 1 h).
// Upstream gets this from etcd leases attached to event writes; korral's storage has no leases,
// so a controller does it: every min(ttl/4, 1 min) it pages through core/v1 events (500 a page)
// and deletes those whose last activity (series.lastObservedTime, lastTimestamp, eventTime, else
// creationTimestamp) is older than the TTL on the controller's clock.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

class EventGCController : public Controller {
 public:
  explicit EventGCController(ControllerContext& ctx) : ctx_(ctx) {}
  ~EventGCController() override { Stop(); }
  std::string_view Name() const override { return "event-garbage-collector-controller"; }
  void Run(int workers) override;
  void Stop() override;
  // One pass; returns the number of events deleted.
  absl::StatusOr<int> Gc();

 private:
  ControllerContext ctx_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  std::thread thread_;
};

ControllerDescriptor EventGCControllerDescriptor();

}  // namespace korral::controllers
