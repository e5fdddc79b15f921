// korral/controllers/resourcequota/resourcequota.h: the resource quota controller (upstream
// pkg/controller/resourcequota): keeps every ResourceQuota's status.hard (= spec.hard) and
// status.used up to date. Usage is computed for the keys in spec.hard that korral knows:
//   pods, services, configmaps, secrets, persistentvolumeclaims, replicationcontrollers,
//   resourcequotas, services.loadbalancers, services.nodeports, count/<resource>[.<group>],
//   cpu / requests.cpu, memory / requests.memory, limits.cpu, limits.memory
// (pods in a terminal phase do not count, as upstream). Recomputed when a quota changes, when a
// pod or service in its namespace changes, and every --resource-quota-sync-period.
// Scoped quotas (spec.scopes, spec.scopeSelector) count only the pods their scopes match
// (korral/api/quota.h, shared with the admission plugin) and nothing else.
// TODO(korral): requests.storage and per-storage-class keys, extended resources.
#pragma once

#include <condition_variable>
#include <optional>
#include <thread>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"
#include "korral/controllers/discovery.h"

namespace korral::controllers {

// Parses a Kubernetes quantity ("100m", "1.5", "128Mi", "1G", "2e3") into thousandths of a unit.
std::optional<int64_t> ParseQuantityMilli(const std::string& q);
// Formats thousandths of a unit: "2", "250m".
std::string FormatQuantityMilli(int64_t milli);

class ResourceQuotaController : public Controller {
 public:
  explicit ResourceQuotaController(ControllerContext& ctx);
  ~ResourceQuotaController() override;
  std::string_view Name() const override { return "resourcequota-controller"; }
  void Run(int workers) override;
  void Stop() override;
  absl::Status Sync(const std::string& key);
  QueueWorker& worker() { return worker_; }

 private:
  // `quota`'s usage of `key` in `ns` (its scopes decide which pods count).
  absl::StatusOr<std::optional<int64_t>> Usage(const Json& quota, const std::string& ns,
                                               const std::string& key);
  void EnqueueNamespace(const std::string& ns);

  ControllerContext ctx_;
  client::SharedInformer* quotas_;
  client::SharedInformer* pods_;
  client::SharedInformer* services_;
  QueueWorker worker_;
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;
  std::thread resync_;
};

ControllerDescriptor ResourceQuotaControllerDescriptor();

}  // namespace korral::controllers
