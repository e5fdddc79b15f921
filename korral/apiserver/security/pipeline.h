// korral/apiserver/security/pipeline.h: the apiserver's request security pipeline:
// authenticate -> impersonate -> authorize -> (the handler runs; the Store calls admission)
// -> audit. It also serves the security APIs itself: SelfSubjectAccessReview,
// SelfSubjectRulesReview, SubjectAccessReview, LocalSubjectAccessReview, SelfSubjectReview,
// TokenReview, serviceaccounts/token (TokenRequest), and the OIDC discovery documents.
//
// The RBAC index and the Node authorizer's graph are rebuilt from the watch cache (the
// apiserver reading its own store): a watch on the rbac prefix marks the index stale and the
// next decision rebuilds it; pod events update the node graph incrementally.
//
// Thread-safe. One per apiserver.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "korral/apiserver/http/server.h"
#include "korral/apiserver/security/options.h"

namespace korral {
class Clock;
}

namespace korral::apiserver {
class Store;
class WatchCache;
}  // namespace korral::apiserver

namespace korral::apiserver::security {

// Lives for one request (between Begin and Finish); holds the authenticated user so admission
// (called by the Store on this thread) can see it.
class RequestScope {
 public:
  virtual ~RequestScope() = default;
  // Set when the pipeline answered the request itself (401, 403, or a security API).
  std::optional<http::Response> response;
  // Records the audit event once the handler has answered.
  virtual void Finish(const http::Response& response) = 0;
};

class SecurityPipeline {
 public:
  virtual ~SecurityPipeline() = default;
  // Starts the pipeline: loads or creates the service-account key under data_dir, reads the
  // token file and audit policy, subscribes to the watch cache and installs the Store's
  // admission hook. InvalidArgument for bad flags/files.
  static absl::StatusOr<std::unique_ptr<SecurityPipeline>> Create(const SecurityOptions& options,
                                                                  const std::string& data_dir,
                                                                  Store* store, Clock* clock);
  virtual std::unique_ptr<RequestScope> Begin(http::Request& request) = 0;
  // Creates the default RBAC roles and bindings that are missing and loads the index.
  virtual absl::Status Bootstrap() = 0;
  virtual void Stop() = 0;
};

}  // namespace korral::apiserver::security
