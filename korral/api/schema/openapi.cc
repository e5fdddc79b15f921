#include "korral/api/schema/openapi.h"

#include <cctype>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <nlohmann/json.hpp>

#include "korral/api/schema/schema.h"
#include "korral/api/schema/strutil.h"

namespace korral::schema {
namespace {

using Json = nlohmann::json;

constexpr ResourceInfo kResources[] = {
    // group, version, kind, plural, namespaced, status, scale, create_only
    {"", "v1", "Namespace", "namespaces", false, true},
    {"", "v1", "Pod", "pods", true, true},
    {"", "v1", "Node", "nodes", false, true},
    {"", "v1", "Service", "services", true, true},
    {"", "v1", "Endpoints", "endpoints", true},
    {"", "v1", "ConfigMap", "configmaps", true},
    {"", "v1", "Secret", "secrets", true},
    {"", "v1", "ServiceAccount", "serviceaccounts", true},
    {"", "v1", "Event", "events", true},
    {"", "v1", "PersistentVolume", "persistentvolumes", false, true},
    {"", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true, true},
    {"", "v1", "LimitRange", "limitranges", true},
    {"", "v1", "ResourceQuota", "resourcequotas", true, true},
    {"", "v1", "PodTemplate", "podtemplates", true},
    {"", "v1", "ReplicationController", "replicationcontrollers", true, true, true},
    {"", "v1", "Binding", "bindings", true, false, false, true},
    {"apps", "v1", "Deployment", "deployments", true, true, true},
    {"apps", "v1", "ReplicaSet", "replicasets", true, true, true},
    {"apps", "v1", "DaemonSet", "daemonsets", true, true},
    {"apps", "v1", "StatefulSet", "statefulsets", true, true, true},
    {"apps", "v1", "ControllerRevision", "controllerrevisions", true},
    {"batch", "v1", "Job", "jobs", true, true},
    {"batch", "v1", "CronJob", "cronjobs", true, true},
    {"autoscaling", "v1", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true, true},
    {"certificates.k8s.io", "v1", "CertificateSigningRequest", "certificatesigningrequests", false,
     true},
    {"coordination.k8s.io", "v1", "Lease", "leases", true},
    {"discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", true},
    {"events.k8s.io", "v1", "Event", "events", true},
    {"policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true, true},
    {"rbac.authorization.k8s.io", "v1", "Role", "roles", true},
    {"rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true},
    {"rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false},
    {"rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", false},
    {"scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", false},
    {"storage.k8s.io", "v1", "StorageClass", "storageclasses", false},
    {"storage.k8s.io", "v1", "CSIDriver", "csidrivers", false},
    {"storage.k8s.io", "v1", "CSINode", "csinodes", false},
    {"storage.k8s.io", "v1", "VolumeAttachment", "volumeattachments", false, true},
};

constexpr std::string_view kMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.";
constexpr std::string_view kScale = "io.k8s.api.autoscaling.v1.Scale";
constexpr std::string_view kEviction = "io.k8s.api.policy.v1.Eviction";

std::string GvPath(std::string_view group, std::string_view version) {
  return group.empty() ? internal::Cat("api/", version)
                       : internal::Cat("apis/", group, "/", version);
}

std::string Capitalize(std::string_view s) {
  std::string out(s);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

// "rbac.authorization.k8s.io" -> "rbacAuthorization"; "" -> "core".
std::string GroupId(std::string_view group) {
  if (group.empty()) return "core";
  internal::ConsumeSuffix(&group, ".k8s.io");
  std::string out;
  for (std::string_view part : internal::Split(group, '.')) {
    out += out.empty() ? std::string(part) : Capitalize(part);
  }
  return out;
}

Json Ref(std::string_view name) { return {{"$ref", internal::Cat("#/components/schemas/", name)}}; }

Json Gvk(std::string_view group, std::string_view version, std::string_view kind) {
  return {{"group", group}, {"version", version}, {"kind", kind}};
}

Json QueryParam(std::string_view name, std::string_view type, std::string_view desc) {
  return {{"name", name},
          {"in", "query"},
          {"description", desc},
          {"schema", {{"type", type}, {"uniqueItems", true}}}};
}

Json PathParam(std::string_view name, std::string_view desc) {
  return {{"name", name},
          {"in", "path"},
          {"description", desc},
          {"required", true},
          {"schema", {{"type", "string"}, {"uniqueItems", true}}}};
}

Json Param(std::string_view name) {
  static const auto* params = new std::map<std::string, Json, std::less<>>{
      {"allowWatchBookmarks",
       QueryParam("allowWatchBookmarks", "boolean", "Ask for BOOKMARK events on a watch.")},
      {"continue", QueryParam("continue", "string", "Token from a previous page of a list.")},
      {"dryRun", QueryParam("dryRun", "string",
                            "When All, process the request fully but do not persist it.")},
      {"fieldManager",
       QueryParam("fieldManager", "string", "Name of the actor making the change.")},
      {"fieldSelector", QueryParam("fieldSelector", "string", "Restrict results by field values.")},
      {"fieldValidation",
       QueryParam("fieldValidation", "string",
                  "How unknown or duplicate fields in the body are handled: Ignore, Warn or "
                  "Strict.")},
      {"force",
       QueryParam("force", "boolean", "For apply patches: take ownership of conflicting fields.")},
      {"gracePeriodSeconds",
       QueryParam("gracePeriodSeconds", "integer", "Seconds before the object is removed.")},
      {"ignoreStoreReadErrorWithClusterBreakingPotential",
       QueryParam("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean",
                  "Delete even if the stored object cannot be read; dangerous.")},
      {"labelSelector", QueryParam("labelSelector", "string", "Restrict results by label values.")},
      {"limit", QueryParam("limit", "integer", "Maximum number of items per page.")},
      {"orphanDependents",
       QueryParam("orphanDependents", "boolean", "Deprecated; use propagationPolicy.")},
      {"pretty", QueryParam("pretty", "string", "Indent the output when true.")},
      {"propagationPolicy", QueryParam("propagationPolicy", "string",
                                       "Orphan, Background or Foreground deletion of dependents.")},
      {"resourceVersion", QueryParam("resourceVersion", "string",
                                     "Resource version the result must be at least as new as.")},
      {"resourceVersionMatch",
       QueryParam("resourceVersionMatch", "string",
                  "How resourceVersion is applied: Exact or NotOlderThan.")},
      {"sendInitialEvents",
       QueryParam("sendInitialEvents", "boolean", "Start a watch with synthetic ADDED events.")},
      {"timeoutSeconds",
       QueryParam("timeoutSeconds", "integer", "Time limit of a list or watch call.")},
      {"watch", QueryParam("watch", "boolean", "Stream changes instead of returning a list.")},
  };
  return params->at(std::string(name));
}

Json Params(std::initializer_list<std::string_view> names) {
  Json out = Json::array();
  for (std::string_view n : names) out.push_back(Param(n));
  return out;
}

Json Content(std::initializer_list<std::string_view> types, const Json& schema) {
  Json out = Json::object();
  for (std::string_view t : types) out[std::string(t)] = {{"schema", schema}};
  return out;
}

Json Responses(std::initializer_list<std::string_view> codes, std::string_view schema_name) {
  Json out = Json::object();
  for (std::string_view c : codes) {
    std::string_view desc = c == "200" ? "OK" : c == "201" ? "Created" : "Accepted";
    out[std::string(c)] = {{"description", desc},
                           {"content", Content({"application/json", "application/yaml",
                                                "application/vnd.kubernetes.protobuf"},
                                               Ref(schema_name))}};
  }
  out["401"] = {{"description", "Unauthorized"}};
  return out;
}

struct OpSpec {
  std::string_view verb;    // get, list, post, put, patch, delete, deletecollection
  std::string op_id;        // operationId
  std::string_view action;  // x-kubernetes-action
  std::string description;
  std::string schema_name;  // response (and put/post body) schema
  Json gvk;
  std::string tag;
};

Json Operation(const OpSpec& o) {
  Json op = {{"tags", {o.tag}},
             {"description", o.description},
             {"operationId", o.op_id},
             {"x-kubernetes-action", o.action},
             {"x-kubernetes-group-version-kind", o.gvk}};
  const std::string delete_options = internal::Cat(kMeta, "DeleteOptions");
  const std::string status = internal::Cat(kMeta, "Status");
  if (o.verb == "list") {
    op["parameters"] = Params({"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector",
                               "limit", "resourceVersion", "resourceVersionMatch",
                               "sendInitialEvents", "timeoutSeconds", "watch"});
    op["responses"] = Responses({"200"}, o.schema_name);
  } else if (o.verb == "get") {
    op["responses"] = Responses({"200"}, o.schema_name);
  } else if (o.verb == "post" || o.verb == "put") {
    op["parameters"] = Params({"dryRun", "fieldManager", "fieldValidation"});
    op["requestBody"] = {{"content", Content({"application/json"}, Ref(o.schema_name))},
                         {"required", true}};
    op["responses"] = o.verb == "post" ? Responses({"200", "201", "202"}, o.schema_name)
                                       : Responses({"200", "201"}, o.schema_name);
  } else if (o.verb == "patch") {
    op["parameters"] = Params({"dryRun", "fieldManager", "fieldValidation", "force"});
    op["requestBody"] = {
        {"content",
         Content({"application/json-patch+json", "application/merge-patch+json",
                  "application/strategic-merge-patch+json", "application/apply-patch+yaml"},
                 Ref(internal::Cat(kMeta, "Patch")))},
        {"required", true}};
    op["responses"] = Responses({"200", "201"}, o.schema_name);
  } else if (o.verb == "delete") {
    op["parameters"] =
        Params({"dryRun", "gracePeriodSeconds", "ignoreStoreReadErrorWithClusterBreakingPotential",
                "orphanDependents", "propagationPolicy"});
    op["requestBody"] = {{"content", Content({"*/*"}, Ref(delete_options))}};
    op["responses"] = Responses({"200", "202"}, o.schema_name);
  } else if (o.verb == "deletecollection") {
    op["parameters"] = Params({"continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
                               "ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector",
                               "limit", "orphanDependents", "propagationPolicy", "resourceVersion",
                               "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds"});
    op["requestBody"] = {{"content", Content({"*/*"}, Ref(delete_options))}};
    op["responses"] = Responses({"200"}, status);
  }
  return op;
}

struct GvDoc {
  std::string body;
  std::string hash;
};

std::string Sha512Hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha512(), nullptr);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

// Adds the paths of one resource to `paths` and the schema names they use to `roots`.
void AddResource(const ResourceInfo& r, Json* paths, std::vector<std::string>* roots) {
  const Schema* kind_schema = FindKindSchema(
      r.group.empty() ? std::string(r.version) : internal::Cat(r.group, "/", r.version), r.kind);
  if (kind_schema == nullptr) return;
  const std::string& schema_name = kind_schema->name;
  const std::string list_name = schema_name + "List";
  roots->push_back(schema_name);

  const std::string prefix = internal::Cat(Capitalize(GroupId(r.group)), Capitalize(r.version));
  const std::string tag = internal::Cat(GroupId(r.group), "_", r.version);
  const std::string scoped =
      r.namespaced ? internal::Cat("Namespaced", r.kind) : std::string(r.kind);
  const Json gvk = Gvk(r.group, r.version, r.kind);
  const std::string base = internal::Cat("/", GvPath(r.group, r.version));
  const std::string collection =
      internal::Cat(base, r.namespaced ? "/namespaces/{namespace}" : "", "/", r.plural);
  const std::string item = collection + "/{name}";

  Json ns_params = Json::array();
  if (r.namespaced) ns_params.push_back(PathParam("namespace", "Namespace of the objects."));
  auto with = [&](Json params, bool name) {
    if (name)
      params.insert(params.begin(), PathParam("name", internal::Cat("Name of the ", r.kind, ".")));
    params.push_back(Param("pretty"));
    return params;
  };
  auto op = [&](std::string_view verb, std::string op_id, std::string_view action, std::string desc,
                const std::string& sname, const Json& g) {
    return Operation(OpSpec{verb, std::move(op_id), action, std::move(desc), sname, g, tag});
  };

  if (r.create_only) {
    (*paths)[collection] = {{"post", op("post", internal::Cat("create", prefix, scoped), "post",
                                        internal::Cat("Create a ", r.kind, "."), schema_name, gvk)},
                            {"parameters", with(ns_params, false)}};
    return;
  }
  roots->push_back(list_name);

  (*paths)[collection] = {
      {"get", op("list", internal::Cat("list", prefix, scoped), "list",
                 internal::Cat("List or watch objects of kind ", r.kind, "."), list_name, gvk)},
      {"post", op("post", internal::Cat("create", prefix, scoped), "post",
                  internal::Cat("Create a ", r.kind, "."), schema_name, gvk)},
      {"delete", op("deletecollection", internal::Cat("delete", prefix, "Collection", scoped),
                    "deletecollection", internal::Cat("Delete a collection of ", r.kind, "."),
                    schema_name, gvk)},
      {"parameters", with(ns_params, false)}};
  if (r.namespaced) {
    (*paths)[internal::Cat(base, "/", r.plural)] = {
        {"get", op("list", internal::Cat("list", prefix, r.kind, "ForAllNamespaces"), "list",
                   internal::Cat("List or watch objects of kind ", r.kind, " in all namespaces."),
                   list_name, gvk)},
        {"parameters", with(Json::array(), false)}};
  }
  (*paths)[item] = {
      {"get", op("get", internal::Cat("read", prefix, scoped), "get",
                 internal::Cat("Read the specified ", r.kind, "."), schema_name, gvk)},
      {"put", op("put", internal::Cat("replace", prefix, scoped), "put",
                 internal::Cat("Replace the specified ", r.kind, "."), schema_name, gvk)},
      {"patch",
       op("patch", internal::Cat("patch", prefix, scoped), "patch",
          internal::Cat("Partially update the specified ", r.kind, "."), schema_name, gvk)},
      {"delete", op("delete", internal::Cat("delete", prefix, scoped), "delete",
                    internal::Cat("Delete a ", r.kind, "."), schema_name, gvk)},
      {"parameters", with(ns_params, true)}};
  if (r.has_status) {
    (*paths)[item + "/status"] = {
        {"get",
         op("get", internal::Cat("read", prefix, scoped, "Status"), "get",
            internal::Cat("Read the status of the specified ", r.kind, "."), schema_name, gvk)},
        {"put",
         op("put", internal::Cat("replace", prefix, scoped, "Status"), "put",
            internal::Cat("Replace the status of the specified ", r.kind, "."), schema_name, gvk)},
        {"patch", op("patch", internal::Cat("patch", prefix, scoped, "Status"), "patch",
                     internal::Cat("Partially update the status of the specified ", r.kind, "."),
                     schema_name, gvk)},
        {"parameters", with(ns_params, true)}};
  }
  if (r.has_scale) {
    const Json scale_gvk = Gvk("autoscaling", "v1", "Scale");
    const std::string scale(kScale);
    roots->push_back(scale);
    (*paths)[item + "/scale"] = {
        {"get",
         op("get", internal::Cat("read", prefix, scoped, "Scale"), "get",
            internal::Cat("Read the scale of the specified ", r.kind, "."), scale, scale_gvk)},
        {"put",
         op("put", internal::Cat("replace", prefix, scoped, "Scale"), "put",
            internal::Cat("Replace the scale of the specified ", r.kind, "."), scale, scale_gvk)},
        {"patch", op("patch", internal::Cat("patch", prefix, scoped, "Scale"), "patch",
                     internal::Cat("Partially update the scale of the specified ", r.kind, "."),
                     scale, scale_gvk)},
        {"parameters", with(ns_params, true)}};
  }
  if (r.group.empty() && r.kind == "Pod") {
    const std::string eviction(kEviction);
    roots->push_back(eviction);
    (*paths)[item + "/eviction"] = {
        {"post",
         op("post", internal::Cat("create", prefix, scoped, "Eviction"), "post",
            "Create an eviction of the specified Pod.", eviction, Gvk("policy", "v1", "Eviction"))},
        {"parameters", with(ns_params, true)}};
    const Schema* binding = FindKindSchema("v1", "Binding");
    if (binding != nullptr) {
      (*paths)[item + "/binding"] = {
          {"post",
           op("post", internal::Cat("create", prefix, scoped, "Binding"), "post",
              "Bind the specified Pod to a node.", binding->name, Gvk("", "v1", "Binding"))},
          {"parameters", with(ns_params, true)}};
    }
  }
}

struct Documents {
  std::map<std::string, GvDoc, std::less<>> docs;
  Json index;
};

const Documents& GetDocuments() {
  static const Documents* documents = [] {
    auto* d = new Documents;
    std::map<std::string, std::vector<const ResourceInfo*>> by_gv;
    for (const ResourceInfo& r : kResources) by_gv[GvPath(r.group, r.version)].push_back(&r);
    Json index_paths = Json::object();
    for (const auto& [gv, resources] : by_gv) {
      Json paths = Json::object();
      std::vector<std::string> roots = {internal::Cat(kMeta, "Status"),
                                        internal::Cat(kMeta, "DeleteOptions"),
                                        internal::Cat(kMeta, "Patch")};
      for (const ResourceInfo* r : resources) AddResource(*r, &paths, &roots);
      // Every root plus everything it references.
      std::vector<std::string> names;
      for (const std::string& root : roots) {
        Schema ref;
        ref.ref = root;
        CollectReferences(ref, &names);
      }
      Json schemas = Json::object();
      for (const std::string& n : names) {
        if (const Schema* s = FindSchema(n)) schemas[n] = ToOpenApiV3(*s);
      }
      Json doc = {{"openapi", "3.0.0"},
                  {"info", {{"title", "Kubernetes"}, {"version", "v1.32.4"}}},
                  {"paths", std::move(paths)},
                  {"components", {{"schemas", std::move(schemas)}}}};
      GvDoc gd;
      gd.body = doc.dump();
      gd.hash = Sha512Hex(gd.body);
      index_paths[gv] = {
          {"serverRelativeURL", internal::Cat("/openapi/v3/", gv, "?hash=", gd.hash)}};
      d->docs.emplace(gv, std::move(gd));
    }
    d->index = {{"paths", std::move(index_paths)}};
    return d;
  }();
  return *documents;
}

}  // namespace

absl::Span<const ResourceInfo> BuiltinResources() { return kResources; }

nlohmann::json OpenApiV3Index() { return GetDocuments().index; }

const std::string* OpenApiV3Document(std::string_view group_version_path) {
  internal::ConsumePrefix(&group_version_path, "/");
  const Documents& d = GetDocuments();
  auto it = d.docs.find(group_version_path);
  return it == d.docs.end() ? nullptr : &it->second.body;
}

std::string OpenApiV3DocumentHash(std::string_view group_version_path) {
  internal::ConsumePrefix(&group_version_path, "/");
  const Documents& d = GetDocuments();
  auto it = d.docs.find(group_version_path);
  return it == d.docs.end() ? "" : it->second.hash;
}

}  // namespace korral::schema
