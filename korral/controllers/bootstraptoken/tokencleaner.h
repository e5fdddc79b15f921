// korral/controllers/bootstraptoken/tokencleaner.h: the bootstrap token cleaner (upstream
// pkg/controller/bootstrap/tokencleaner.go): deletes Secrets of type
// bootstrap.kubernetes.io/token in kube-system whose data.expiration (RFC 3339, base64 in the
// wire form) has passed on the controller's clock, and re-checks unexpired ones when they expire.
#pragma once

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

class TokenCleaner : public Controller {
 public:
  explicit TokenCleaner(ControllerContext& ctx);
  std::string_view Name() const override { return "token-cleaner-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& key);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  client::SharedInformer* secrets_;
  QueueWorker worker_;
};

ControllerDescriptor TokenCleanerControllerDescriptor();

}  // namespace korral::controllers
