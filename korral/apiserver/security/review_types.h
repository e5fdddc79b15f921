// korral/apiserver/security/review_types.h: discovery entries of the create-only review APIs
// the security pipeline serves itself (authentication.k8s.io/v1 SelfSubjectReview,
// TokenReview; authorization.k8s.io/v1 LocalSubjectAccessReview, SelfSubjectAccessReview,
// SelfSubjectRulesReview, SubjectAccessReview), so `kubectl api-resources` lists them. They are
// not in the api registry: nothing is stored and no generic verb but create applies.
#pragma once

#include <vector>

#include "korral/api/resource.h"

namespace korral::apiserver::security {

const std::vector<api::ResourceType>& ReviewResourceTypes();

}  // namespace korral::apiserver::security
