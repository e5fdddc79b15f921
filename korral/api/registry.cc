// korral/api/registry.cc: the immutable table of built-in resource types.
#include <algorithm>
#include <map>

#include "korral/api/internal.h"

namespace korral::api {
namespace {

// Group order of upstream's discovery (apiserver group priorities): core first, then apps,
// events.k8s.io, batch, certificates, policy, rbac, scheduling, coordination, discovery.
int GroupRank(const std::string& group) {
  static const std::map<std::string, int> kRanks = {
      {"", 0},
      {"apps", 10},
      {"events.k8s.io", 20},
      {"batch", 30},
      {"certificates.k8s.io", 35},
      {"policy", 40},
      {"rbac.authorization.k8s.io", 50},
      {"storage.k8s.io", 52},
      {"scheduling.k8s.io", 55},
      {"coordination.k8s.io", 60},
      {"discovery.k8s.io", 70},
  };
  auto it = kRanks.find(group);
  return it == kRanks.end() ? 100 : it->second;
}

std::vector<ResourceType> Build() {
  std::vector<ResourceType> types;
  internal::AddCoreTypes(types);
  internal::AddAppsTypes(types);
  internal::AddBatchTypes(types);
  internal::AddOtherTypes(types);
  internal::AddSecurityTypes(types);
  internal::AddStorageTypes(types);
  // Within a group, resources are listed alphabetically (as upstream's discovery does).
  std::stable_sort(types.begin(), types.end(), [](const ResourceType& a, const ResourceType& b) {
    int ra = GroupRank(a.gvk.group), rb = GroupRank(b.gvk.group);
    if (ra != rb) return ra < rb;
    return a.resource < b.resource;
  });
  for (ResourceType& t : types) {
    internal::AttachPrinter(t);
    // Every type answers metadata.name / metadata.namespace itself too.
    auto specific = std::move(t.field_value);
    t.field_value = [specific](const Json& obj,
                               std::string_view field) -> std::optional<std::string> {
      if (field == "metadata.name") return internal::GetString(obj, {"metadata", "name"});
      if (field == "metadata.namespace") {
        return internal::GetString(obj, {"metadata", "namespace"});
      }
      if (specific) return specific(obj, field);
      return std::nullopt;
    };
  }
  return types;
}

}  // namespace

const std::vector<ResourceType>& AllResourceTypes() {
  static const std::vector<ResourceType>* const kTypes = new std::vector<ResourceType>(Build());
  return *kTypes;
}

const ResourceType* FindResourceType(std::string_view group, std::string_view version,
                                     std::string_view resource) {
  for (const ResourceType& t : AllResourceTypes()) {
    if (t.gvk.group == group && t.gvk.version == version && t.resource == resource) return &t;
  }
  return nullptr;
}

}  // namespace korral::api
