#include "korral/client/client.h"

namespace korral::client {

std::string ResourceRef::Path(std::string_view ns, std::string_view name,
                              std::string_view subresource) const {
  std::string path = group.empty() ? "/api/" + version : "/apis/" + group + "/" + version;
  if (namespaced && !ns.empty()) {
    path += "/namespaces/";
    path += ns;
  }
  path += "/";
  path += resource;
  if (!name.empty()) {
    path += "/";
    path += name;
    if (!subresource.empty()) {
      path += "/";
      path += subresource;
    }
  }
  return path;
}

namespace resources {
ResourceRef Pods() { return {"", "v1", "pods", true}; }
ResourceRef Nodes() { return {"", "v1", "nodes", false}; }
ResourceRef Namespaces() { return {"", "v1", "namespaces", false}; }
ResourceRef Services() { return {"", "v1", "services", true}; }
ResourceRef Endpoints() { return {"", "v1", "endpoints", true}; }
ResourceRef ConfigMaps() { return {"", "v1", "configmaps", true}; }
ResourceRef Secrets() { return {"", "v1", "secrets", true}; }
ResourceRef Events() { return {"", "v1", "events", true}; }
ResourceRef Deployments() { return {"apps", "v1", "deployments", true}; }
ResourceRef ReplicaSets() { return {"apps", "v1", "replicasets", true}; }
ResourceRef Leases() { return {"coordination.k8s.io", "v1", "leases", true}; }
}  // namespace resources

std::string_view PatchContentType(PatchType type) {
  switch (type) {
    case PatchType::kMerge:
      return "application/merge-patch+json";
    case PatchType::kJson:
      return "application/json-patch+json";
    case PatchType::kStrategic:
      return "application/strategic-merge-patch+json";
    case PatchType::kApply:
      return "application/apply-patch+yaml";
  }
  return "application/merge-patch+json";
}

Json PartialObjectMetadata(const Json& object) {
  Json out = {{"apiVersion", "meta.k8s.io/v1"}, {"kind", "PartialObjectMetadata"}};
  auto m = object.is_object() ? object.find("metadata") : object.end();
  out["metadata"] = m != object.end() && m->is_object() ? *m : Json::object();
  return out;
}

std::string ObjectKey(const Json& object) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  std::string name = meta->value("name", "");
  std::string ns = meta->value("namespace", "");
  return ns.empty() ? name : ns + "/" + name;
}

std::string ResourceVersionOf(const Json& object) {
  if (!object.is_object()) return "";
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return "";
  auto rv = meta->find("resourceVersion");
  if (rv == meta->end() || !rv->is_string()) return "";
  return *rv;
}

}  // namespace korral::client
