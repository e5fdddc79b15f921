// korral/controllers/rootcacertpublisher/publisher.h: the root CA certificate publisher
// (upstream pkg/controller/certificates/rootcacertpublisher): keeps a `kube-root-ca.crt`
// ConfigMap with data {"ca.crt": <cluster CA bundle>} in every active namespace, recreating it
// when deleted and restoring its data when changed. The bundle comes from
// ControllerOptions::root_ca_file; without one the controller does not start (as upstream).
#pragma once

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

class RootCACertPublisher : public Controller {
 public:
  RootCACertPublisher(ControllerContext& ctx, std::string root_ca);
  std::string_view Name() const override { return "root-ca-certificate-publisher-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& ns);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  const std::string root_ca_;
  client::SharedInformer* namespaces_;
  client::SharedInformer* configmaps_;
  QueueWorker worker_;
};

ControllerDescriptor RootCACertPublisherDescriptor();

}  // namespace korral::controllers
