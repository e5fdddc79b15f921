// korral/controllers/manager.h: the controller manager (upstream cmd/kube-controller-manager/app):
// builds the ControllerContext, constructs every enabled controller, starts the shared
// informers, waits for their caches, then runs the controllers. Stop reverses it.
//
// --controllers semantics (upstream): a list of names; "*" enables every controller that is on by
// default, "foo" enables foo, "-foo" disables foo. Names match loosely: case, dashes and a
// "-controller" suffix are ignored, and upstream's pre-1.28 short names ("podgc", "endpoint",
// "root-ca-cert-publisher", "tokencleaner", ...) work as aliases.
//
// Thread-safe: Start once, Stop from any thread (idempotent).
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "korral/controllers/controller.h"
#include "korral/controllers/sa_credentials.h"

namespace korral::controllers {

struct ManagerConfig {
  std::vector<std::string> controllers = {"*"};  // --controllers
  ControllerOptions options;
  Clock* clock = nullptr;  // default: Clock::Real()
  // Options of every shared informer; an empty transform means CompactCachedObject.
  client::InformerOptions informer_options;
  std::chrono::milliseconds cache_sync_timeout{60000};
  // --use-service-account-credentials: when set, each controller with an upstream service
  // account (ServiceAccountFor) gets that account's client; the informers keep `client`.
  ServiceAccountClientBuilder* service_account_clients = nullptr;
};

// The normalized name used for matching (lowercase, no dashes, no "controller" suffix, aliases
// resolved).
std::string NormalizeControllerName(std::string_view name);
// True if `name` is enabled by `controllers` (see the file comment).
bool IsControllerEnabled(const ControllerDescriptor& d,
                         const std::vector<std::string>& controllers);
// InvalidArgument if an entry names no known controller.
absl::Status ValidateControllersFlag(const std::vector<std::string>& controllers,
                                     const std::vector<ControllerDescriptor>& descriptors);

class ControllerManager {
 public:
  // `client` and `discovery` (may be null) must outlive the manager.
  static absl::StatusOr<std::unique_ptr<ControllerManager>> Start(
      client::Client& client, Discovery* discovery, ManagerConfig config,
      std::vector<ControllerDescriptor> descriptors = AllControllers());
  ~ControllerManager();
  void Stop();
  // Names of the running controllers, in start order.
  std::vector<std::string> Running() const;
  InformerFactory& informers() { return *informers_; }

 private:
  ControllerManager() = default;
  ControllerContext ctx_;
  std::unique_ptr<InformerFactory> informers_;
  // Per-controller contexts (own client) under --use-service-account-credentials.
  std::deque<ControllerContext> controller_contexts_;
  std::vector<std::unique_ptr<Controller>> controllers_;
  std::mutex mu_;
  bool stopped_ = false;
  bool ran_ = false;
};

}  // namespace korral::controllers
