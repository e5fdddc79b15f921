// korral/apiserver/security/context.h: the per-request security context seen by admission, and
// the request-attribute helpers the pipeline uses.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "korral/apiserver/authn/user.h"
#include "korral/apiserver/authz/authz.h"

namespace korral::http {
struct Request;
}

namespace korral::apiserver::security {

// The user of the request running on this thread (null outside requests and for the
// apiserver's own writes).
const authn::UserInfo* CurrentUser();
// True while a client request is being handled on this thread.
bool InRequest();

// Sets the current user for the lifetime of the object (null: an internal write).
class ScopedUser {
 public:
  explicit ScopedUser(const authn::UserInfo* user);
  ~ScopedUser();
  ScopedUser(const ScopedUser&) = delete;
  ScopedUser& operator=(const ScopedUser&) = delete;

 private:
  const authn::UserInfo* prev_user_;
  bool prev_in_request_;
};

// Upstream's RequestInfo: verb, namespace, group, version, resource, subresource and name of a
// request (attrs.user is left null).
authz::Attributes RequestAttributes(const http::Request& request);
// `pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the
// namespace "default"` (+ ": reason").
absl::Status ForbiddenStatus(const authz::Attributes& attrs, const std::string& reason);

}  // namespace korral::apiserver::security
