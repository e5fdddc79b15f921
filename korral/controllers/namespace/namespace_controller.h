// korral/controllers/namespace/namespace_controller.h: the namespace controller (upstream
// pkg/controller/namespace): finishes the deletion of Terminating namespaces.
//
// For a namespace with a deletionTimestamp whose spec.finalizers still holds "kubernetes", it
// deletes every namespaced object of every resource the server serves (discovery; deletecollection
// where supported, else list + delete), reports progress in the namespace conditions
// (NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
// NamespaceDeletionContentFailure, NamespaceContentRemaining, NamespaceFinalizersRemaining, with
// upstream's reasons and messages), waits (requeue after an estimate) while content remains, then
// removes the "kubernetes" finalizer through the namespaces/finalize subresource so the apiserver
// deletes the namespace.
#pragma once

#include <memory>
#include <string>

#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"
#include "korral/controllers/discovery.h"

namespace korral::controllers {

class NamespaceController : public Controller {
 public:
  explicit NamespaceController(ControllerContext& ctx);
  std::string_view Name() const override { return "namespace-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }

  // One reconcile of namespace `name` (exposed for tests).
  absl::Status Sync(const std::string& name);
  QueueWorker& worker() { return worker_; }

 private:
  struct Content {
    int64_t remaining = 0;
    std::map<std::string, int64_t> remaining_by_resource;  // "pods." -> n
    std::map<std::string, int64_t> finalizers;             // finalizer -> n
    std::vector<std::string> errors;
    int64_t estimate_seconds = 0;
  };
  Content DeleteAllContent(const std::string& ns, std::vector<Json>* conditions);
  absl::Status DeleteResource(const ApiResource& r, const std::string& ns, Content* content);

  ControllerContext ctx_;
  QueueWorker worker_;
};

ControllerDescriptor NamespaceControllerDescriptor();

}  // namespace korral::controllers
