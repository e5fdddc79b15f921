// korral/api/core_types.cc: core/v1 resource types (strategies, discovery, field selectors).
#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "korral/api/defaults.h"
#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api::internal {
namespace {

namespace v = validation;
using v::Causes;

Subresource Sub(std::string name, std::string group, std::string kind,
                std::vector<std::string> verbs, std::string version = "v1") {
  return Subresource{std::move(name),
                     GroupVersionKind{std::move(group), std::move(version), std::move(kind)},
                     std::move(verbs)};
}

std::vector<std::string> ConnectVerbs() { return {"create", "get"}; }
std::vector<std::string> ProxyVerbs() { return {"create", "delete", "get", "patch", "update"}; }

ResourceType Core(std::string kind, std::string resource, std::string singular, bool namespaced,
                  std::vector<std::string> short_names = {}) {
  ResourceType t;
  t.gvk = GroupVersionKind{"", "v1", kind};
  t.resource = std::move(resource);
  t.singular = std::move(singular);
  t.list_kind = kind + "List";
  t.namespaced = namespaced;
  t.short_names = std::move(short_names);
  t.verbs = FullVerbs();
  return t;
}

std::string Str(bool b) { return b ? "true" : "false"; }

// ---------------- pods ----------------

const char kPodUpdatableFields[] =
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only "
    "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set "
    "to 1 if it was previously negative)";

Causes ValidatePod(const Json& obj, const Json* old) {
  Causes out;
  v::ValidateObjectMeta(obj, true, v::IsDns1123Subdomain, &out);
  const Json& spec = GetObject(obj, {"spec"});
  v::ValidatePodSpec(spec, "spec", &out);
  if (old == nullptr) return out;
  v::ValidateObjectMetaUpdate(obj, *old, &out);
  const Json& old_spec = GetObject(*old, {"spec"});
  Json munged = spec;
  // Images may change (same container count).
  for (const char* list : {"containers", "initContainers"}) {
    const Json& nl = GetArray(spec, {list});
    const Json& ol = GetArray(old_spec, {list});
    if (nl.size() == ol.size()) {
      for (size_t i = 0; i < nl.size(); ++i) {
        if (ol[i].is_object() && ol[i].contains("image")) {
          munged[list][i]["image"] = ol[i]["image"];
        } else if (munged[list][i].is_object()) {
          munged[list][i].erase("image");
        }
      }
    }
  }
  // activeDeadlineSeconds may be set or decreased.
  if (Has(spec, {"activeDeadlineSeconds"})) {
    int64_t n = GetInt(spec, {"activeDeadlineSeconds"});
    if (!Has(old_spec, {"activeDeadlineSeconds"}) ||
        n <= GetInt(old_spec, {"activeDeadlineSeconds"})) {
      if (Has(old_spec, {"activeDeadlineSeconds"})) {
        munged["activeDeadlineSeconds"] = old_spec["activeDeadlineSeconds"];
      } else {
        munged.erase("activeDeadlineSeconds");
      }
    }
  }
  // Tolerations may only be added.
  const Json& nt = GetArray(spec, {"tolerations"});
  const Json& ot = GetArray(old_spec, {"tolerations"});
  bool superset = std::all_of(ot.begin(), ot.end(), [&](const Json& t) {
    return std::find(nt.begin(), nt.end(), t) != nt.end();
  });
  if (superset) {
    if (old_spec.contains("tolerations")) {
      munged["tolerations"] = old_spec["tolerations"];
    } else {
      munged.erase("tolerations");
    }
  }
  if (GetInt(old_spec, {"terminationGracePeriodSeconds"}) < 0 &&
      GetInt(spec, {"terminationGracePeriodSeconds"}) == 1) {
    munged["terminationGracePeriodSeconds"] = old_spec["terminationGracePeriodSeconds"];
  }
  if (munged != old_spec) out.push_back(v::Forbidden("spec", kPodUpdatableFields));
  return out;
}

std::optional<std::string> PodField(const Json& o, std::string_view f) {
  if (f == "spec.nodeName") return GetString(o, {"spec", "nodeName"});
  if (f == "spec.restartPolicy") return GetString(o, {"spec", "restartPolicy"});
  if (f == "spec.schedulerName") return GetString(o, {"spec", "schedulerName"});
  if (f == "spec.serviceAccountName") return GetString(o, {"spec", "serviceAccountName"});
  if (f == "spec.hostNetwork") return Str(GetBool(o, {"spec", "hostNetwork"}));
  if (f == "status.phase") return GetString(o, {"status", "phase"});
  if (f == "status.podIP") {
    const Json& ips = GetArray(o, {"status", "podIPs"});
    if (!ips.empty()) return GetString(ips[0], {"ip"});
    return GetString(o, {"status", "podIP"});
  }
  if (f == "status.nominatedNodeName") return GetString(o, {"status", "nominatedNodeName"});
  return std::nullopt;
}

ResourceType Pods() {
  ResourceType t = Core("Pod", "pods", "pod", true, {"po"});
  t.categories = {"all"};
  t.subresources = {
      Sub("attach", "", "PodAttachOptions", ConnectVerbs()),
      Sub("binding", "", "Binding", {"create"}),
      Sub("ephemeralcontainers", "", "Pod", StatusVerbs()),
      Sub("eviction", "policy", "Eviction", {"create"}),
      Sub("exec", "", "PodExecOptions", ConnectVerbs()),
      Sub("log", "", "Pod", {"get"}),
      Sub("portforward", "", "PodPortForwardOptions", ConnectVerbs()),
      Sub("proxy", "", "PodProxyOptions", ProxyVerbs()),
      Sub("status", "", "Pod", StatusVerbs()),
  };
  t.has_status_subresource = true;
  t.apply_defaults = [](Json& o) { defaults::DefaultPod(o); };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json{{"phase", "Pending"}, {"qosClass", defaults::PodQosClass(o)}};
  };
  t.validate = ValidatePod;
  t.field_value = PodField;
  return t;
}

// ---------------- namespaces ----------------

ResourceType Namespaces() {
  ResourceType t = Core("Namespace", "namespaces", "namespace", false, {"ns"});
  t.verbs = {"create", "delete", "get", "list", "patch", "update", "watch"};
  t.subresources = {Sub("finalize", "", "Namespace", {"update"}),
                    Sub("status", "", "Namespace", StatusVerbs())};
  t.has_status_subresource = true;
  t.apply_defaults = [](Json& o) {
    SetDefaultString(Ensure(o, {"status"}), "phase", "Active");
    std::string name = GetString(o, {"metadata", "name"});
    if (!name.empty()) Ensure(o, {"metadata", "labels"})["kubernetes.io/metadata.name"] = name;
  };
  t.prepare_for_create = [](Json& o) {
    o["status"] = Json{{"phase", "Active"}};
    Json& spec = Ensure(o, {"spec"});
    if (!spec.contains("finalizers") || !spec["finalizers"].is_array()) {
      spec["finalizers"] = Json::array();
    }
    Json& f = spec["finalizers"];
    if (std::find(f.begin(), f.end(), Json("kubernetes")) == f.end()) f.push_back("kubernetes");
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Label, &out);
    const Json& f = GetArray(o, {"spec", "finalizers"});
    for (size_t i = 0; i < f.size(); ++i) {
      std::string s = f[i].is_string() ? f[i].get<std::string>() : "";
      if (s != "kubernetes") {
        for (auto& m : v::IsQualifiedName(s)) {
          out.push_back(v::Invalid(v::Index("spec.finalizers", i), s, m));
        }
      }
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "status.phase") return GetString(o, {"status", "phase"});
    return std::nullopt;
  };
  return t;
}

// ---------------- nodes ----------------

ResourceType Nodes() {
  ResourceType t = Core("Node", "nodes", "node", false, {"no"});
  t.subresources = {Sub("proxy", "", "NodeProxyOptions", ProxyVerbs()),
                    Sub("status", "", "Node", StatusVerbs())};
  t.has_status_subresource = true;
  t.apply_defaults = [](Json& o) {
    Json* status = o.contains("status") && o["status"].is_object() ? &o["status"] : nullptr;
    if (status != nullptr && status->contains("capacity") && !status->contains("allocatable")) {
      (*status)["allocatable"] = (*status)["capacity"];
    }
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Subdomain, &out);
    const Json& taints = GetArray(o, {"spec", "taints"});
    for (size_t i = 0; i < taints.size(); ++i) {
      std::string p = v::Index("spec.taints", i);
      std::string key = GetString(taints[i], {"key"});
      for (auto& m : v::IsQualifiedName(key)) out.push_back(v::Invalid(v::Child(p, "key"), key, m));
      std::string effect = GetString(taints[i], {"effect"});
      if (effect.empty()) {
        out.push_back(v::Required(v::Child(p, "effect")));
      } else if (effect != "NoSchedule" && effect != "PreferNoSchedule" && effect != "NoExecute") {
        out.push_back(v::NotSupported(v::Child(p, "effect"), effect,
                                      {"NoSchedule", "PreferNoSchedule", "NoExecute"}));
      }
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "spec.unschedulable") return Str(GetBool(o, {"spec", "unschedulable"}));
    return std::nullopt;
  };
  return t;
}

// ---------------- services ----------------

void ValidateServicePorts(const Json& spec, Causes* out) {
  const Json& ports = GetArray(spec, {"ports"});
  std::set<std::string> names;
  for (size_t i = 0; i < ports.size(); ++i) {
    std::string p = v::Index("spec.ports", i);
    const Json& port = ports[i];
    std::string name = GetString(port, {"name"});
    if (ports.size() > 1 && name.empty()) {
      out->push_back(v::Required(v::Child(p, "name")));
    } else if (!name.empty()) {
      for (auto& m : v::IsDns1123Label(name))
        out->push_back(v::Invalid(v::Child(p, "name"), name, m));
      if (!names.insert(name).second) out->push_back(v::Duplicate(v::Child(p, "name"), name));
    }
    int64_t num = GetInt(port, {"port"});
    for (auto& m : v::IsValidPortNum(num)) out->push_back(v::Invalid(v::Child(p, "port"), num, m));
    std::string proto = GetString(port, {"protocol"});
    if (proto.empty()) {
      out->push_back(v::Required(v::Child(p, "protocol")));
    } else if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
      out->push_back(v::NotSupported(v::Child(p, "protocol"), proto, {"SCTP", "TCP", "UDP"}));
    }
    const Json* tp = Get(port, {"targetPort"});
    if (tp != nullptr && tp->is_number()) {
      int64_t n = tp->get<int64_t>();
      for (auto& m : v::IsValidPortNum(n))
        out->push_back(v::Invalid(v::Child(p, "targetPort"), n, m));
    } else if (tp != nullptr && tp->is_string()) {
      std::string s = tp->get<std::string>();
      for (auto& m : v::IsValidPortName(s)) {
        out->push_back(v::Invalid(v::Child(p, "targetPort"), s, m));
      }
    }
    if (Has(port, {"nodePort"}) && GetString(spec, {"type"}) == "ClusterIP") {
      out->push_back(
          v::Forbidden(v::Child(p, "nodePort"), "may not be used when `type` is 'ClusterIP'"));
    }
  }
}

Json ClusterIPs(const Json& spec) {
  const Json& ips = GetArray(spec, {"clusterIPs"});
  if (!ips.empty()) return ips;
  std::string ip = GetString(spec, {"clusterIP"});
  if (ip.empty()) return Json::array();
  return Json::array({ip});
}

Causes ValidateService(const Json& o, const Json* old) {
  Causes out;
  v::ValidateObjectMeta(o, true, v::IsDns1035Label, &out);
  const Json& spec = GetObject(o, {"spec"});
  std::string type = GetString(spec, {"type"});
  if (type != "ClusterIP" && type != "NodePort" && type != "LoadBalancer" &&
      type != "ExternalName") {
    out.push_back(v::NotSupported("spec.type", type,
                                  {"ClusterIP", "ExternalName", "LoadBalancer", "NodePort"}));
  }
  bool headless = GetString(spec, {"clusterIP"}) == "None";
  if (GetArray(spec, {"ports"}).empty() && !headless && type != "ExternalName") {
    out.push_back(v::Required("spec.ports"));
  }
  if (type == "ExternalName") {
    std::string en = GetString(spec, {"externalName"});
    if (en.empty()) {
      out.push_back(v::Required("spec.externalName"));
    } else {
      for (auto& m : v::IsDns1123Subdomain(en))
        out.push_back(v::Invalid("spec.externalName", en, m));
    }
  }
  ValidateServicePorts(spec, &out);
  Json ips = ClusterIPs(spec);
  for (size_t i = 0; i < ips.size(); ++i) {
    std::string ip = ips[i].is_string() ? ips[i].get<std::string>() : "";
    if (ip == "None" || ip.empty()) continue;
    for (auto& m : v::IsValidIP(ip))
      out.push_back(v::Invalid(v::Index("spec.clusterIPs", i), ip, m));
  }
  std::string affinity = GetString(spec, {"sessionAffinity"});
  if (affinity != "None" && affinity != "ClientIP") {
    out.push_back(v::NotSupported("spec.sessionAffinity", affinity, {"ClientIP", "None"}));
  }
  if (Has(spec, {"internalTrafficPolicy"})) {
    std::string itp = GetString(spec, {"internalTrafficPolicy"});
    if (itp != "Cluster" && itp != "Local") {
      out.push_back(v::NotSupported("spec.internalTrafficPolicy", itp, {"Cluster", "Local"}));
    }
  }
  if (Has(spec, {"ipFamilyPolicy"})) {
    std::string p = GetString(spec, {"ipFamilyPolicy"});
    if (p != "SingleStack" && p != "PreferDualStack" && p != "RequireDualStack") {
      out.push_back(v::NotSupported("spec.ipFamilyPolicy", p,
                                    {"PreferDualStack", "RequireDualStack", "SingleStack"}));
    }
  }
  v::ValidateLabels(GetObject(spec, {"selector"}), "spec.selector", &out);
  if (old != nullptr) {
    v::ValidateObjectMetaUpdate(o, *old, &out);
    const Json& old_spec = GetObject(*old, {"spec"});
    Json old_ips = ClusterIPs(old_spec);
    bool external = type == "ExternalName" || GetString(old_spec, {"type"}) == "ExternalName";
    if (!external && !old_ips.empty() && !ips.empty() && old_ips[0] != ips[0]) {
      out.push_back(v::Invalid("spec.clusterIPs[0]", ips, "may not change once set"));
    }
  }
  return out;
}

ResourceType Services() {
  ResourceType t = Core("Service", "services", "service", true, {"svc"});
  t.categories = {"all"};
  t.subresources = {Sub("proxy", "", "ServiceProxyOptions", ProxyVerbs()),
                    Sub("status", "", "Service", StatusVerbs())};
  t.has_status_subresource = true;
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefaultString(spec, "type", "ClusterIP");
    SetDefaultString(spec, "sessionAffinity", "None");
    std::string type = GetString(spec, {"type"});
    if (GetString(spec, {"sessionAffinity"}) == "ClientIP") {
      SetDefault(Ensure(spec, {"sessionAffinityConfig", "clientIP"}), "timeoutSeconds", 10800);
    }
    if (spec.contains("ports") && spec["ports"].is_array()) {
      for (Json& p : spec["ports"]) {
        if (!p.is_object()) continue;
        SetDefaultString(p, "protocol", "TCP");
        const Json* tp = Get(p, {"targetPort"});
        bool unset = tp == nullptr || tp->is_null() ||
                     (tp->is_number() && tp->get<int64_t>() == 0) ||
                     (tp->is_string() && tp->get<std::string>().empty());
        if (unset && p.contains("port")) p["targetPort"] = p["port"];
      }
    }
    if (type == "NodePort" || type == "LoadBalancer") {
      SetDefaultString(spec, "externalTrafficPolicy", "Cluster");
    }
    if (type == "LoadBalancer") SetDefault(spec, "allocateLoadBalancerNodePorts", true);
    if (type != "ExternalName") {
      SetDefaultString(spec, "internalTrafficPolicy", "Cluster");
      SetDefaultString(spec, "ipFamilyPolicy", "SingleStack");
      SetDefault(spec, "ipFamilies", Json::array({"IPv4"}));
      std::string ip = GetString(spec, {"clusterIP"});
      if (!ip.empty() && !spec.contains("clusterIPs")) spec["clusterIPs"] = Json::array({ip});
    }
  };
  t.prepare_for_create = [](Json& o) { o["status"] = Json{{"loadBalancer", Json::object()}}; };
  t.validate = ValidateService;
  return t;
}

// ---------------- endpoints ----------------

ResourceType Endpoints() {
  ResourceType t = Core("Endpoints", "endpoints", "endpoints", true, {"ep"});
  t.apply_defaults = [](Json& o) {
    if (!o.contains("subsets") || !o["subsets"].is_array()) return;
    for (Json& s : o["subsets"]) {
      if (!s.is_object() || !s.contains("ports") || !s["ports"].is_array()) continue;
      for (Json& p : s["ports"]) {
        if (p.is_object()) SetDefaultString(p, "protocol", "TCP");
      }
    }
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    const Json& subsets = GetArray(o, {"subsets"});
    for (size_t i = 0; i < subsets.size(); ++i) {
      std::string sp = v::Index("subsets", i);
      for (const char* list : {"addresses", "notReadyAddresses"}) {
        const Json& addrs = GetArray(subsets[i], {list});
        for (size_t j = 0; j < addrs.size(); ++j) {
          std::string ip = GetString(addrs[j], {"ip"});
          for (auto& m : v::IsValidIP(ip)) {
            out.push_back(v::Invalid(v::Child(v::Index(v::Child(sp, list), j), "ip"), ip, m));
          }
        }
      }
      const Json& ports = GetArray(subsets[i], {"ports"});
      for (size_t j = 0; j < ports.size(); ++j) {
        std::string pp = v::Index(v::Child(sp, "ports"), j);
        int64_t n = GetInt(ports[j], {"port"});
        for (auto& m : v::IsValidPortNum(n)) out.push_back(v::Invalid(v::Child(pp, "port"), n, m));
      }
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

// ---------------- configmaps / secrets ----------------

void ValidateDataKeys(const Json& o, Causes* out, bool secret) {
  int64_t total = 0;
  const Json& data = GetObject(o, {"data"});
  const Json& binary = GetObject(o, {"binaryData"});
  for (auto it = data.begin(); it != data.end(); ++it) {
    for (auto& m : v::IsConfigMapKey(it.key())) {
      out->push_back(v::Invalid(v::Key("data", it.key()), it.key(), m));
    }
    if (binary.contains(it.key())) {
      out->push_back(
          v::Invalid(v::Key("data", it.key()), it.key(), "duplicate of key present in binaryData"));
    }
    if (it.value().is_string()) {
      const std::string& s = it.value().get_ref<const std::string&>();
      // Secret data is base64 on the wire; its size is the decoded size.
      total += secret ? static_cast<int64_t>(s.size() * 3 / 4) : static_cast<int64_t>(s.size());
    }
  }
  for (auto it = binary.begin(); it != binary.end(); ++it) {
    for (auto& m : v::IsConfigMapKey(it.key())) {
      out->push_back(v::Invalid(v::Key("binaryData", it.key()), it.key(), m));
    }
    if (it.value().is_string()) total += it.value().get_ref<const std::string&>().size() * 3 / 4;
  }
  if (total > v::kMaxSecretSize) out->push_back(v::TooLong("", v::kMaxSecretSize));
}

void ValidateImmutableData(const Json& o, const Json& old, Causes* out) {
  if (!GetBool(old, {"immutable"})) return;
  if (!GetBool(o, {"immutable"})) {
    out->push_back(v::Forbidden("immutable", "field is immutable when `immutable` is set"));
  }
  for (const char* f : {"data", "binaryData"}) {
    if (GetObject(o, {f}) != GetObject(old, {f})) {
      out->push_back(v::Forbidden(f, "field is immutable when `immutable` is set"));
    }
  }
}

ResourceType ConfigMaps() {
  ResourceType t = Core("ConfigMap", "configmaps", "configmap", true, {"cm"});
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    ValidateDataKeys(o, &out, false);
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      ValidateImmutableData(o, *old, &out);
    }
    return out;
  };
  return t;
}

ResourceType Secrets() {
  ResourceType t = Core("Secret", "secrets", "secret", true);
  t.apply_defaults = [](Json& o) {
    SetDefaultString(o, "type", "Opaque");
    // stringData is write-only: merged into data (base64) as upstream's conversion does.
    if (o.contains("stringData")) {
      if (o["stringData"].is_object()) {
        Json& data = Ensure(o, {"data"});
        for (auto it = o["stringData"].begin(); it != o["stringData"].end(); ++it) {
          if (it.value().is_string()) {
            data[it.key()] = absl::Base64Escape(it.value().get<std::string>());
          }
        }
      }
      o.erase("stringData");
    }
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    ValidateDataKeys(o, &out, true);
    std::string type = GetString(o, {"type"});
    const Json& data = GetObject(o, {"data"});
    auto require_key = [&](const char* key) {
      if (!data.contains(key)) out.push_back(v::Required(v::Key("data", key)));
    };
    if (type == "kubernetes.io/service-account-token") {
      if (GetString(o, {"metadata", "annotations", "kubernetes.io/service-account.name"}).empty()) {
        out.push_back(v::Required("metadata.annotations[kubernetes.io/service-account.name]"));
      }
    } else if (type == "kubernetes.io/dockercfg") {
      require_key(".dockercfg");
    } else if (type == "kubernetes.io/dockerconfigjson") {
      require_key(".dockerconfigjson");
    } else if (type == "kubernetes.io/basic-auth") {
      if (!data.contains("username") && !data.contains("password")) {
        out.push_back(v::Required(v::Key("data", "username[password]"),
                                  "either username or password is required"));
      }
    } else if (type == "kubernetes.io/ssh-auth") {
      require_key("ssh-privatekey");
    } else if (type == "kubernetes.io/tls") {
      require_key("tls.crt");
      require_key("tls.key");
    }
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      std::string old_type = GetString(*old, {"type"});
      if (type != old_type) out.push_back(v::Immutable("type", type));
      ValidateImmutableData(o, *old, &out);
    }
    return out;
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "type") return GetString(o, {"type"});
    return std::nullopt;
  };
  return t;
}

// ---------------- serviceaccounts ----------------

ResourceType ServiceAccounts() {
  ResourceType t = Core("ServiceAccount", "serviceaccounts", "serviceaccount", true, {"sa"});
  t.subresources = {Sub("token", "authentication.k8s.io", "TokenRequest", {"create"})};
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

// ---------------- events ----------------

std::optional<std::string> CoreEventField(const Json& o, std::string_view f) {
  static const std::pair<std::string_view, std::string_view> kInvolved[] = {
      {"involvedObject.kind", "kind"},
      {"involvedObject.namespace", "namespace"},
      {"involvedObject.name", "name"},
      {"involvedObject.uid", "uid"},
      {"involvedObject.apiVersion", "apiVersion"},
      {"involvedObject.resourceVersion", "resourceVersion"},
      {"involvedObject.fieldPath", "fieldPath"},
  };
  for (auto& [name, key] : kInvolved) {
    if (f == name) return GetString(o, {"involvedObject", key});
  }
  if (f == "reason") return GetString(o, {"reason"});
  if (f == "reportingComponent") return GetString(o, {"reportingComponent"});
  if (f == "source") return GetString(o, {"source", "component"});
  if (f == "type") return GetString(o, {"type"});
  return std::nullopt;
}

ResourceType CoreEvents() {
  ResourceType t = Core("Event", "events", "event", true, {"ev"});
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    std::string ns = GetString(o, {"metadata", "namespace"});
    std::string ins = GetString(o, {"involvedObject", "namespace"});
    // Events about cluster-scoped objects live in "default" (or no namespace); others must
    // live in their object's namespace.
    bool mismatch = ins.empty() ? (!ns.empty() && ns != "default") : ins != ns;
    if (mismatch) {
      out.push_back(v::Invalid("involvedObject.namespace", ins, "does not match event.namespace"));
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  t.field_value = CoreEventField;
  return t;
}

// ---------------- persistent volumes / claims ----------------

const std::vector<std::string> kAccessModes = {"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce",
                                               "ReadWriteOncePod"};

void ValidateAccessModes(const Json& spec, std::string_view path, bool pvc, Causes* out) {
  const Json& modes = GetArray(spec, {"accessModes"});
  if (modes.empty()) {
    out->push_back(v::Required(v::Child(path, "accessModes"),
                               pvc ? "at least 1 access mode is required" : ""));
  }
  for (const Json& m : modes) {
    std::string s = m.is_string() ? m.get<std::string>() : "";
    if (std::find(kAccessModes.begin(), kAccessModes.end(), s) == kAccessModes.end()) {
      out->push_back(v::NotSupported(v::Child(path, "accessModes"), s, kAccessModes));
    }
  }
}

ResourceType PersistentVolumes() {
  ResourceType t = Core("PersistentVolume", "persistentvolumes", "persistentvolume", false, {"pv"});
  t.subresources = {Sub("status", "", "PersistentVolume", StatusVerbs())};
  t.has_status_subresource = true;
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefaultString(spec, "persistentVolumeReclaimPolicy", "Retain");
    SetDefaultString(spec, "volumeMode", "Filesystem");
    SetDefaultString(Ensure(o, {"status"}), "phase", "Pending");
  };
  t.prepare_for_create = [](Json& o) { o["status"] = Json{{"phase", "Pending"}}; };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, false, v::IsDns1123Subdomain, &out);
    const Json& spec = GetObject(o, {"spec"});
    ValidateAccessModes(spec, "spec", false, &out);
    if (GetObject(spec, {"capacity"}).empty()) out.push_back(v::Required("spec.capacity"));
    std::string rp = GetString(spec, {"persistentVolumeReclaimPolicy"});
    if (rp != "Delete" && rp != "Recycle" && rp != "Retain") {
      out.push_back(v::NotSupported("spec.persistentVolumeReclaimPolicy", rp,
                                    {"Delete", "Recycle", "Retain"}));
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

ResourceType PersistentVolumeClaims() {
  ResourceType t = Core("PersistentVolumeClaim", "persistentvolumeclaims", "persistentvolumeclaim",
                        true, {"pvc"});
  t.subresources = {Sub("status", "", "PersistentVolumeClaim", StatusVerbs())};
  t.has_status_subresource = true;
  t.apply_defaults = [](Json& o) {
    defaults::DefaultPersistentVolumeClaimSpec(Ensure(o, {"spec"}));
    SetDefaultString(Ensure(o, {"status"}), "phase", "Pending");
  };
  t.prepare_for_create = [](Json& o) { o["status"] = Json{{"phase", "Pending"}}; };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    const Json& spec = GetObject(o, {"spec"});
    ValidateAccessModes(spec, "spec", true, &out);
    if (!Has(spec, {"resources", "requests", "storage"})) {
      out.push_back(v::Required("spec.resources[storage]"));
    }
    if (old != nullptr) {
      v::ValidateObjectMetaUpdate(o, *old, &out);
      Json a = spec, b = GetObject(*old, {"spec"});
      for (Json* s : {&a, &b}) {
        if (s->contains("resources")) s->erase("resources");
        if (s->contains("volumeAttributesClassName")) s->erase("volumeAttributesClassName");
      }
      if (GetString(b, {"volumeName"}).empty()) {
        a.erase("volumeName");
        b.erase("volumeName");
      }
      if (a != b) {
        out.push_back(v::Forbidden("spec",
                                   "spec is immutable after creation except resources.requests "
                                   "and volumeAttributesClassName for bound claims"));
      }
    }
    return out;
  };
  return t;
}

// ---------------- limitranges / resourcequotas ----------------

ResourceType LimitRanges() {
  ResourceType t = Core("LimitRange", "limitranges", "limitrange", true, {"limits"});
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    const Json& limits = GetArray(o, {"spec", "limits"});
    for (size_t i = 0; i < limits.size(); ++i) {
      if (GetString(limits[i], {"type"}).empty()) {
        out.push_back(v::Required(v::Child(v::Index("spec.limits", i), "type")));
      }
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

ResourceType ResourceQuotas() {
  ResourceType t = Core("ResourceQuota", "resourcequotas", "resourcequota", true, {"quota"});
  t.subresources = {Sub("status", "", "ResourceQuota", StatusVerbs())};
  t.has_status_subresource = true;
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    const Json& hard = GetObject(o, {"spec", "hard"});
    for (auto it = hard.begin(); it != hard.end(); ++it) {
      long double q;
      std::string s = it.value().is_string() ? it.value().get<std::string>() : it.value().dump();
      if (!defaults::ParseQuantity(s, &q)) {
        out.push_back(v::Invalid(v::Key("spec.hard", it.key()), s,
                                 "quantities must match the regular expression "
                                 "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"));
      } else if (q < 0) {
        out.push_back(
            v::Invalid(v::Key("spec.hard", it.key()), s, "must be greater than or equal to 0"));
      }
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

// ---------------- replicationcontrollers / podtemplates ----------------

ResourceType ReplicationControllers() {
  ResourceType t = Core("ReplicationController", "replicationcontrollers", "replicationcontroller",
                        true, {"rc"});
  t.categories = {"all"};
  t.subresources = {Sub("scale", "autoscaling", "Scale", StatusVerbs()),
                    Sub("status", "", "ReplicationController", StatusVerbs())};
  t.has_status_subresource = true;
  t.tracks_generation = true;
  t.apply_defaults = [](Json& o) {
    Json& spec = Ensure(o, {"spec"});
    SetDefault(spec, "replicas", 1);
    if (spec.contains("template") && spec["template"].is_object()) {
      defaults::DefaultPodTemplate(spec["template"]);
      const Json& labels = GetObject(spec["template"], {"metadata", "labels"});
      if (!labels.empty()) {
        if (GetObject(spec, {"selector"}).empty()) spec["selector"] = labels;
        if (GetObject(o, {"metadata", "labels"}).empty())
          Ensure(o, {"metadata"})["labels"] = labels;
      }
    }
  };
  t.prepare_for_create = [](Json& o) { o["status"] = Json{{"replicas", 0}}; };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    const Json& spec = GetObject(o, {"spec"});
    const Json& selector = GetObject(spec, {"selector"});
    if (selector.empty()) out.push_back(v::Required("spec.selector"));
    v::ValidateLabels(selector, "spec.selector", &out);
    if (GetInt(spec, {"replicas"}) < 0) {
      out.push_back(v::Invalid("spec.replicas", GetInt(spec, {"replicas"}),
                               "must be greater than or equal to 0"));
    }
    if (!Has(spec, {"template"})) {
      out.push_back(v::Required("spec.template"));
    } else {
      const Json& labels = GetObject(spec, {"template", "metadata", "labels"});
      Json sel = Json{{"matchLabels", selector}};
      if (!selector.empty() && !v::SelectorMatches(sel, labels)) {
        out.push_back(v::Invalid("spec.template.metadata.labels", labels,
                                 "`selector` does not match template `labels`"));
      }
      v::ValidatePodTemplateSpec(spec["template"], "spec.template", &out);
      std::string rp = GetString(spec, {"template", "spec", "restartPolicy"});
      if (rp != "Always") {
        out.push_back(v::NotSupported("spec.template.spec.restartPolicy", rp, {"Always"}));
      }
    }
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  t.field_value = [](const Json& o, std::string_view f) -> std::optional<std::string> {
    if (f == "status.replicas") return std::to_string(GetInt(o, {"status", "replicas"}));
    return std::nullopt;
  };
  return t;
}

ResourceType PodTemplates() {
  ResourceType t = Core("PodTemplate", "podtemplates", "podtemplate", true);
  t.apply_defaults = [](Json& o) {
    if (o.contains("template") && o["template"].is_object()) {
      defaults::DefaultPodTemplate(o["template"]);
    }
  };
  t.validate = [](const Json& o, const Json* old) {
    Causes out;
    v::ValidateObjectMeta(o, true, v::IsDns1123Subdomain, &out);
    v::ValidatePodTemplateSpec(GetObject(o, {"template"}), "template", &out);
    if (old != nullptr) v::ValidateObjectMetaUpdate(o, *old, &out);
    return out;
  };
  return t;
}

}  // namespace

void AddCoreTypes(std::vector<ResourceType>& out) {
  std::vector<ResourceType> core;
  core.push_back(ConfigMaps());
  core.push_back(Endpoints());
  core.push_back(CoreEvents());
  core.push_back(LimitRanges());
  core.push_back(Namespaces());
  core.push_back(Nodes());
  core.push_back(PersistentVolumeClaims());
  core.push_back(PersistentVolumes());
  core.push_back(Pods());
  core.push_back(PodTemplates());
  core.push_back(ReplicationControllers());
  core.push_back(ResourceQuotas());
  core.push_back(Secrets());
  core.push_back(ServiceAccounts());
  core.push_back(Services());
  for (auto& t : core) out.push_back(std::move(t));
}

}  // namespace korral::api::internal
