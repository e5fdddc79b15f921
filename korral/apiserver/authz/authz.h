// korral/apiserver/authz/authz.h: authorization attributes, decisions and the authorizer seam.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "korral/apiserver/authn/user.h"

namespace korral::apiserver::authz {

// What a request wants to do (upstream's authorizer.Attributes).
struct Attributes {
  const authn::UserInfo* user = nullptr;
  std::string verb;  // get list watch create update patch delete deletecollection, or any verb
  bool resource_request = true;
  std::string ns, api_group, api_version, resource, subresource, name;
  std::string path;  // non-resource requests
};

enum class Decision { kNoOpinion, kAllow, kDeny };

class Authorizer {
 public:
  virtual ~Authorizer() = default;
  // Thread-safe. `reason` may be set for allow and deny.
  virtual Decision Authorize(const Attributes& attrs, std::string* reason) const = 0;
};

// Tries each authorizer in order; the first allow or deny decides.
class UnionAuthorizer final : public Authorizer {
 public:
  explicit UnionAuthorizer(std::vector<const Authorizer*> list) : list_(std::move(list)) {}
  Decision Authorize(const Attributes& attrs, std::string* reason) const override {
    for (const Authorizer* a : list_) {
      Decision d = a->Authorize(attrs, reason);
      if (d != Decision::kNoOpinion) return d;
    }
    return Decision::kNoOpinion;
  }

 private:
  std::vector<const Authorizer*> list_;
};

// Allows every request from system:masters (upstream's privileged-group authorizer, always
// first).
class PrivilegedGroupAuthorizer final : public Authorizer {
 public:
  Decision Authorize(const Attributes& attrs, std::string*) const override {
    return attrs.user && attrs.user->InGroup(authn::kSystemMasters) ? Decision::kAllow
                                                                    : Decision::kNoOpinion;
  }
};

class AlwaysAllowAuthorizer final : public Authorizer {
 public:
  Decision Authorize(const Attributes&, std::string*) const override { return Decision::kAllow; }
};

}  // namespace korral::apiserver::authz
