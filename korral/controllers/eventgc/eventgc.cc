// korral/controllers/eventgc/eventgc.cc
#include "korral/controllers/eventgc/eventgc.h"

#include <algorithm>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {

void EventGCController::Run(int) {
  auto period = std::min<std::chrono::seconds>(
      std::chrono::seconds(60),
      std::max<std::chrono::seconds>(std::chrono::seconds(1), ctx_.options.event_ttl / 4));
  thread_ = std::thread([this, period] {
    std::unique_lock l(stop_mu_);
    while (!stopped_) {
      stop_cv_.wait_for(l, period);
      if (stopped_) break;
      l.unlock();
      auto n = Gc();
      if (!n.ok()) KLOG(Info, "event gc: {}", StatusMessage(n.status()));
      l.lock();
    }
  });
}

void EventGCController::Stop() {
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

absl::StatusOr<int> EventGCController::Gc() {
  const auto cutoff = ctx_.clock->Now() - ctx_.options.event_ttl;
  int deleted = 0;
  client::ListOptions opts;
  opts.limit = 500;
  for (int page = 0; page < 100000; ++page) {
    KORRAL_ASSIGN_OR_RETURN(Json list, ctx_.client->List(client::resources::Events(), "", opts));
    for (const auto& e : list.value("items", Json::array())) {
      std::string last;
      if (e.contains("series") && e["series"].is_object()) {
        last = e["series"].value("lastObservedTime", "");
      }
      if (last.empty() && e.contains("lastTimestamp") && e["lastTimestamp"].is_string()) {
        last = e["lastTimestamp"].get<std::string>();
      }
      if (last.empty() && e.contains("eventTime") && e["eventTime"].is_string()) {
        last = e["eventTime"].get<std::string>();
      }
      if (last.empty()) last = e["metadata"].value("creationTimestamp", "");
      auto t = ParseTime(last);
      if (!t || *t >= cutoff) continue;
      auto d = ctx_.client->Delete(client::resources::Events(), NamespaceOf(e), NameOf(e));
      if (!d.ok() && !client::IsNotFound(d.status())) return d.status();
      ++deleted;
    }
    std::string next = list["metadata"].value("continue", "");
    if (next.empty()) break;
    opts.continue_token = next;
  }
  if (deleted > 0) KLOG(Info, "event gc: deleted {} events older than the TTL", deleted);
  return deleted;
}

ControllerDescriptor EventGCControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "event-garbage-collector-controller";
  d.aliases = {"eventgc"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<EventGCController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
