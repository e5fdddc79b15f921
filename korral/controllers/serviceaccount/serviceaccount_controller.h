// korral/controllers/serviceaccount/serviceaccount_controller.h: the service account controller
// (upstream pkg/controller/serviceaccount): makes sure every active namespace has the `default`
// ServiceAccount, re-creating it if deleted. Terminating namespaces are skipped.
#pragma once

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

class ServiceAccountController : public Controller {
 public:
  explicit ServiceAccountController(ControllerContext& ctx);
  std::string_view Name() const override { return "serviceaccount-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  // Reconciles namespace `ns` (tests).
  absl::Status Sync(const std::string& ns);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  client::SharedInformer* namespaces_;
  client::SharedInformer* accounts_;
  QueueWorker worker_;
};

ControllerDescriptor ServiceAccountControllerDescriptor();

}  // namespace korral::controllers
