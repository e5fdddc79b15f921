// korral/apiserver/admission/admission.h: admission plugins, run by the Store around every
// create, update and delete: first every plugin's Admit (mutating), in order, then every
// plugin's Validate, in order (upstream's order: NamespaceLifecycle, LimitRanger,
// ServiceAccount, NodeRestriction, DefaultTolerationSeconds, PodSecurity, Priority,
// ResourceQuota last).
//
// Plugins see the requesting user (null for the apiserver's own internal writes, which skip
// user-dependent checks). Errors are apierrors statuses (403 Forbidden for policy refusals,
// 422 for invalid input). Thread-safe.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "korral/apiserver/authn/user.h"

namespace korral::api {
struct ResourceType;
}

namespace korral::apiserver {
class Store;
}

namespace korral::apiserver::admission {

enum class Operation { kCreate, kUpdate, kDelete };
const char* OperationName(Operation op);

struct Request {
  Operation op = Operation::kCreate;
  const api::ResourceType* type = nullptr;
  std::string ns, name, subresource;
  nlohmann::json* object = nullptr;     // the new object (create/update); null on delete
  const nlohmann::json* old = nullptr;  // the stored object (update/delete)
  const authn::UserInfo* user = nullptr;
  bool dry_run = false;

  bool Is(const char* group, const char* resource) const;
};

class Plugin {
 public:
  virtual ~Plugin() = default;
  virtual const char* Name() const = 0;
  virtual absl::Status Admit(Request& request) { return absl::OkStatus(); }
  virtual absl::Status Validate(const Request& request) { return absl::OkStatus(); }
};

class Chain {
 public:
  explicit Chain(std::vector<std::unique_ptr<Plugin>> plugins) : plugins_(std::move(plugins)) {}
  absl::Status Admit(Request& request) const;
  absl::Status Validate(const Request& request) const;
  std::vector<std::string> Names() const;

 private:
  std::vector<std::unique_ptr<Plugin>> plugins_;
};

// Whether `user` may `verb` the cluster-scoped `resource` named `name` of API group `group`
// (the CSR approval and signing checks ask about certificates.k8s.io "signers").
using AuthorizeFunc = std::function<bool(const authn::UserInfo& user, const std::string& verb,
                                         const std::string& group, const std::string& resource,
                                         const std::string& name)>;

// certificates.k8s.io (certificates.cc): upstream's CSR registry strategy (the requesting
// user recorded in spec on create, /approval limited to the conditions, /status unable to
// change the approval, X.509 checks of spec.request and status.certificate; always on), and
// the CertificateApproval, CertificateSigning and CertificateSubjectRestriction plugins.
std::unique_ptr<Plugin> NewCertificateSigningRequestStrategy();
std::unique_ptr<Plugin> NewCertificateApproval(AuthorizeFunc authorize);
std::unique_ptr<Plugin> NewCertificateSigning(AuthorizeFunc authorize);
std::unique_ptr<Plugin> NewCertificateSubjectRestriction();

// Upstream's default-on plugins that korral implements, in execution order.
std::vector<std::string> DefaultPlugins();
// Every plugin name korral knows, in execution order.
std::vector<std::string> KnownPlugins();

// Builds the enabled chain: defaults plus `enable`, minus `disable`. InvalidArgument for an
// unknown plugin name. `authorize` serves the plugins that check extra permissions (null:
// those checks allow everything).
absl::StatusOr<std::unique_ptr<Chain>> NewChain(Store* store,
                                                const std::vector<std::string>& enable,
                                                const std::vector<std::string>& disable,
                                                AuthorizeFunc authorize = nullptr);

}  // namespace korral::apiserver::admission
