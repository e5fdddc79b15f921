// korral/apiserver/security/review_types.cc
#include "korral/apiserver/security/review_types.h"

namespace korral::apiserver::security {
namespace {

api::ResourceType Review(const char* group, const char* kind, const char* resource,
                         const char* singular, bool namespaced) {
  api::ResourceType t;
  t.gvk = api::GroupVersionKind{group, "v1", kind};
  t.resource = resource;
  t.singular = singular;
  t.namespaced = namespaced;
  t.verbs = {"create"};
  return t;
}

}  // namespace

const std::vector<api::ResourceType>& ReviewResourceTypes() {
  static const auto* const kTypes = new std::vector<api::ResourceType>{
      Review("authentication.k8s.io", "SelfSubjectReview", "selfsubjectreviews",
             "selfsubjectreview", false),
      Review("authentication.k8s.io", "TokenReview", "tokenreviews", "tokenreview", false),
      Review("authorization.k8s.io", "LocalSubjectAccessReview", "localsubjectaccessreviews",
             "localsubjectaccessreview", true),
      Review("authorization.k8s.io", "SelfSubjectAccessReview", "selfsubjectaccessreviews",
             "selfsubjectaccessreview", false),
      Review("authorization.k8s.io", "SelfSubjectRulesReview", "selfsubjectrulesreviews",
             "selfsubjectrulesreview", false),
      Review("authorization.k8s.io", "SubjectAccessReview", "subjectaccessreviews",
             "subjectaccessreview", false),
  };
  return *kTypes;
}

}  // namespace korral::apiserver::security
