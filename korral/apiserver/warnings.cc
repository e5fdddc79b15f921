#include "korral/apiserver/warnings.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>

#include "korral/api/defaults.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

// The facts of upstream's deprecatedNodeLabels (pkg/api/node).
const std::map<std::string, std::string, std::less<>>& DeprecatedNodeLabels() {
  static const auto* m = new std::map<std::string, std::string, std::less<>>{
      {"beta.kubernetes.io/arch", "deprecated since v1.14; use \"kubernetes.io/arch\" instead"},
      {"beta.kubernetes.io/os", "deprecated since v1.14; use \"kubernetes.io/os\" instead"},
      {"failure-domain.beta.kubernetes.io/region",
       "deprecated since v1.17; use \"topology.kubernetes.io/region\" instead"},
      {"failure-domain.beta.kubernetes.io/zone",
       "deprecated since v1.17; use \"topology.kubernetes.io/zone\" instead"},
      {"beta.kubernetes.io/instance-type",
       "deprecated since v1.17; use \"node.kubernetes.io/instance-type\" instead"},
      {"app.kubernetes.io/created-by", "deprecated since v1.9"},
      {"scheduler.alpha.kubernetes.io/preferAvoidPods",
       "deprecated since v1.22; use Taints and Tolerations instead"},
      {"node-role.kubernetes.io/master", "use \"node-role.kubernetes.io/control-plane\" instead"},
  };
  return *m;
}

const char* NodeLabelMessage(std::string_view key) {
  auto it = DeprecatedNodeLabels().find(key);
  return it == DeprecatedNodeLabels().end() ? nullptr : it->second.c_str();
}

// A field.Path rendering: "a.b[3].c[key]".
class FieldPath {
 public:
  FieldPath() = default;
  explicit FieldPath(std::string s) : s_(std::move(s)) {}
  FieldPath Child(std::string_view name) const {
    return FieldPath(s_.empty() ? std::string(name) : s_ + "." + std::string(name));
  }
  FieldPath Index(size_t i) const { return FieldPath(fmt::format("{}[{}]", s_, i)); }
  FieldPath Key(std::string_view k) const { return FieldPath(fmt::format("{}[{}]", s_, k)); }
  const std::string& str() const { return s_; }

 private:
  std::string s_;
};

const Json& Get(const Json& j, std::string_view key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

bool IsSet(const Json& j, std::string_view key) { return !Get(j, key).is_null(); }

std::string Str(const Json& j, std::string_view key) {
  const Json& v = Get(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

bool FractionalBytes(const Json& q) {
  if (!q.is_string() && !q.is_number()) return false;
  long double v;
  std::string s = q.is_string() ? q.get<std::string>() : q.dump();
  if (!api::defaults::ParseQuantity(s, &v)) return false;
  long double milli = std::ceil(v * 1000);
  return std::fmod(milli, 1000.0L) != 0;
}

std::string QuantityString(const Json& q) {
  return q.is_string() ? q.get<std::string>() : q.dump();
}

void NodeSelectorTermWarnings(const Json& term, const FieldPath& path,
                              std::vector<std::string>* w) {
  const Json& exprs = Get(term, "matchExpressions");
  if (!exprs.is_array()) return;
  for (size_t i = 0; i < exprs.size(); ++i) {
    std::string key = Str(exprs[i], "key");
    if (const char* msg = NodeLabelMessage(key)) {
      w->push_back(fmt::format(
          "{}: {} is {}", path.Child("matchExpressions").Index(i).Child("key").str(), key, msg));
    }
  }
}

void AffinityTermWarnings(const Json& terms, const FieldPath& path, bool weighted,
                          std::vector<std::string>* w) {
  if (!terms.is_array()) return;
  for (size_t i = 0; i < terms.size(); ++i) {
    const Json& term = weighted ? Get(terms[i], "podAffinityTerm") : terms[i];
    if (!IsSet(term, "labelSelector")) {
      FieldPath p = weighted ? path.Index(i).Child("podAffinityTerm") : path.Index(i);
      w->push_back(fmt::format("{}: a null labelSelector results in matching no pod",
                               p.Child("labelSelector").str()));
    }
  }
}

struct Port {
  FieldPath field;
  int64_t host_port;
  std::string host_ip;
};

// Go's %+v of a ContainerPort (used by the hostIP-without-hostPort warning).
std::string PortString(const Json& port) {
  return fmt::format(
      "{{Name:{} HostPort:{} ContainerPort:{} Protocol:{} HostIP:{}}}", Str(port, "name"),
      Get(port, "hostPort").is_number() ? port["hostPort"].get<int64_t>() : 0,
      Get(port, "containerPort").is_number() ? port["containerPort"].get<int64_t>() : 0,
      Str(port, "protocol"), Str(port, "hostIP"));
}

void PodSpecWarnings(const FieldPath& base, const Json& spec, const Json& meta,
                     std::vector<std::string>* w) {
  const FieldPath spec_path = base.Child("spec");
  const Json& annotations = Get(meta, "annotations");

  // Deprecated node labels.
  const Json& node_selector = Get(spec, "nodeSelector");
  if (node_selector.is_object()) {
    for (auto it = node_selector.begin(); it != node_selector.end(); ++it) {
      if (const char* msg = NodeLabelMessage(it.key())) {
        w->push_back(
            fmt::format("{}: {}", spec_path.Child("nodeSelector").Key(it.key()).str(), msg));
      }
    }
  }
  const Json& affinity = Get(spec, "affinity");
  const Json& node_affinity = Get(affinity, "nodeAffinity");
  if (node_affinity.is_object()) {
    FieldPath na = spec_path.Child("affinity").Child("nodeAffinity");
    const Json& terms = Get(Get(node_affinity, "requiredDuringSchedulingIgnoredDuringExecution"),
                            "nodeSelectorTerms");
    if (terms.is_array()) {
      FieldPath tp =
          na.Child("requiredDuringSchedulingIgnoredDuringExecution").Child("nodeSelectorTerms");
      for (size_t i = 0; i < terms.size(); ++i) NodeSelectorTermWarnings(terms[i], tp.Index(i), w);
    }
    const Json& preferred = Get(node_affinity, "preferredDuringSchedulingIgnoredDuringExecution");
    if (preferred.is_array()) {
      FieldPath pp = na.Child("preferredDuringSchedulingIgnoredDuringExecution");
      for (size_t i = 0; i < preferred.size(); ++i) {
        NodeSelectorTermWarnings(Get(preferred[i], "preference"), pp.Index(i).Child("preference"),
                                 w);
      }
    }
  }
  const Json& tsc = Get(spec, "topologySpreadConstraints");
  if (tsc.is_array()) {
    FieldPath tp = spec_path.Child("topologySpreadConstraints");
    for (size_t i = 0; i < tsc.size(); ++i) {
      std::string key = Str(tsc[i], "topologyKey");
      if (const char* msg = NodeLabelMessage(key)) {
        w->push_back(fmt::format("{}: {} is {}", tp.Index(i).Child("topologyKey").str(), key, msg));
      }
      if (!IsSet(tsc[i], "labelSelector")) {
        w->push_back(fmt::format("{}: a null labelSelector results in matching no pod",
                                 tp.Index(i).Child("labelSelector").str()));
      }
    }
  }

  // Deprecated annotations.
  FieldPath ann_path = base.Child("metadata").Child("annotations");
  static const std::pair<const char*, const char*> kDeprecatedAnnotations[] = {
      {"scheduler.alpha.kubernetes.io/critical-pod",
       "non-functional in v1.16+; use the \"priorityClassName\" field instead"},
      {"security.alpha.kubernetes.io/sysctls",
       "non-functional in v1.11+; use the \"sysctls\" field instead"},
      {"security.alpha.kubernetes.io/unsafe-sysctls",
       "non-functional in v1.11+; use the \"sysctls\" field instead"},
  };
  for (const auto& [key, msg] : kDeprecatedAnnotations) {
    if (annotations.is_object() && annotations.contains(key)) {
      w->push_back(fmt::format("{}: {}", ann_path.Key(key).str(), msg));
    }
  }

  // Deprecated and removed volume plugins.
  static const std::pair<const char*, const char*> kVolumePlugins[] = {
      {"photonPersistentDisk", "deprecated in v1.11, non-functional in v1.16+"},
      {"gitRepo", "deprecated in v1.11"},
      {"scaleIO", "deprecated in v1.16, non-functional in v1.22+"},
      {"flocker", "deprecated in v1.22, non-functional in v1.25+"},
      {"storageos", "deprecated in v1.22, non-functional in v1.25+"},
      {"quobyte", "deprecated in v1.22, non-functional in v1.25+"},
      {"glusterfs", "deprecated in v1.25, non-functional in v1.26+"},
      {"cephfs", "deprecated in v1.28, non-functional in v1.31+"},
      {"rbd", "deprecated in v1.28, non-functional in v1.31+"},
  };
  const Json& volumes = Get(spec, "volumes");
  if (volumes.is_array()) {
    for (size_t i = 0; i < volumes.size(); ++i) {
      for (const auto& [plugin, msg] : kVolumePlugins) {
        if (IsSet(volumes[i], plugin)) {
          // Upstream names the storageOS field path in Go's camel case.
          std::string_view field = std::string_view(plugin) == "storageos" ? "storageOS" : plugin;
          w->push_back(
              fmt::format("{}: {}", spec_path.Child("volumes").Index(i).Child(field).str(), msg));
        }
      }
    }
  }

  // Duplicate hostAliases and imagePullSecrets.
  const Json& aliases = Get(spec, "hostAliases");
  if (aliases.is_array() && aliases.size() > 1) {
    std::set<std::string> seen;
    for (size_t i = 0; i < aliases.size(); ++i) {
      std::string ip = Str(aliases[i], "ip");
      if (!seen.insert(ip).second) {
        w->push_back(fmt::format("{}: duplicate ip \"{}\"",
                                 spec_path.Child("hostAliases").Index(i).Child("ip").str(), ip));
      }
    }
  }
  const Json& pull_secrets = Get(spec, "imagePullSecrets");
  if (pull_secrets.is_array()) {
    std::set<std::string> seen;
    for (size_t i = 0; i < pull_secrets.size(); ++i) {
      std::string name = Str(pull_secrets[i], "name");
      if (pull_secrets.size() > 1 && !seen.insert(name).second) {
        w->push_back(fmt::format("{}: duplicate name \"{}\"",
                                 spec_path.Child("imagePullSecrets").Index(i).Child("name").str(),
                                 name));
      }
    }
    for (size_t i = 0; i < pull_secrets.size(); ++i) {
      if (Str(pull_secrets[i], "name").empty()) {
        w->push_back(fmt::format("{}: invalid empty name \"\"",
                                 spec_path.Child("imagePullSecrets").Index(i).Child("name").str()));
      }
    }
  }

  // Fractional byte values of the pod overhead.
  const Json& overhead = Get(spec, "overhead");
  for (const char* r : {"memory", "ephemeral-storage"}) {
    if (IsSet(overhead, r) && FractionalBytes(overhead[r])) {
      w->push_back(fmt::format("{}: fractional byte value \"{}\" is invalid, must be an integer",
                               spec_path.Child("overhead").Key(r).str(),
                               QuantityString(overhead[r])));
    }
  }

  // Seccomp annotations without the field.
  const Json& pod_sc = Get(spec, "securityContext");
  constexpr std::string_view kSeccompPod = "seccomp.security.alpha.kubernetes.io/pod";
  constexpr std::string_view kSeccompContainerPrefix =
      "container.seccomp.security.alpha.kubernetes.io/";
  if (!IsSet(pod_sc, "seccompProfile") && annotations.is_object() &&
      annotations.contains(kSeccompPod)) {
    w->push_back(
        fmt::format("{}: non-functional in v1.27+; use the \"seccompProfile\" field instead",
                    ann_path.Key(kSeccompPod).str()));
  }

  // Per container (init, regular, ephemeral: upstream's VisitContainersWithPath order).
  std::map<std::string, std::vector<Port>> all_ports;
  std::vector<std::string> port_warnings;
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    const Json& containers = Get(spec, list);
    if (!containers.is_array()) continue;
    for (size_t ci = 0; ci < containers.size(); ++ci) {
      const Json& c = containers[ci];
      FieldPath cp = spec_path.Child(list).Index(ci);
      std::string name = Str(c, "name");
      if (!IsSet(Get(c, "securityContext"), "seccompProfile") && annotations.is_object()) {
        std::string key = std::string(kSeccompContainerPrefix) + name;
        if (annotations.contains(key)) {
          w->push_back(
              fmt::format("{}: non-functional in v1.27+; use the \"seccompProfile\" field instead",
                          ann_path.Key(key).str()));
        }
      }
      const Json& resources = Get(c, "resources");
      for (const char* r : {"memory", "ephemeral-storage"}) {
        for (const char* kind : {"limits", "requests"}) {
          const Json& q = Get(Get(resources, kind), r);
          if (!q.is_null() && FractionalBytes(q)) {
            w->push_back(
                fmt::format("{}: fractional byte value \"{}\" is invalid, must be an integer",
                            cp.Child("resources").Child(kind).Key(r).str(), QuantityString(q)));
          }
        }
      }
      const Json& env = Get(c, "env");
      if (env.is_array() && env.size() > 1) {
        std::set<std::string> seen;
        for (size_t i = 0; i < env.size(); ++i) {
          std::string ename = Str(env[i], "name");
          if (seen.insert(ename).second) continue;
          std::string ref = "$(" + ename + ")";
          std::string value = Str(env[i], "value");
          bool bad =
              IsSet(env[i], "valueFrom") || value == ref || value.find(ref) == std::string::npos;
          if (bad) {
            w->push_back(fmt::format(
                "{}: hides previous definition of \"{}\", which may be dropped when using apply",
                cp.Child("env").Index(i).str(), ename));
          }
        }
      }
      const Json& ports = Get(c, "ports");
      if (!ports.is_array()) continue;
      for (size_t i = 0; i < ports.size(); ++i) {
        const Json& port = ports[i];
        FieldPath pp = cp.Child("ports").Index(i);
        int64_t host_port =
            Get(port, "hostPort").is_number_integer() ? port["hostPort"].get<int64_t>() : 0;
        std::string host_ip = Str(port, "hostIP");
        if (!host_ip.empty() && host_port == 0) {
          port_warnings.push_back(
              fmt::format("{}: hostIP set without hostPort: {}", pp.str(), PortString(port)));
        }
        std::string protocol = Str(port, "protocol");
        if (protocol.empty()) protocol = "TCP";
        int64_t container_port = Get(port, "containerPort").is_number_integer()
                                     ? port["containerPort"].get<int64_t>()
                                     : 0;
        std::string k = fmt::format("{}/{}", container_port, protocol);
        auto& others = all_ports[k];
        for (const Port& other : others) {
          if (host_ip == other.host_ip && host_port == other.host_port) {
            port_warnings.push_back(
                fmt::format("{}: duplicate port definition with {}", pp.str(), other.field.str()));
          } else if (host_port == 0 || other.host_port == 0) {
            port_warnings.push_back(fmt::format("{}: overlapping port definition with {}", pp.str(),
                                                other.field.str()));
          } else if (host_port == other.host_port && (host_ip.empty() != other.host_ip.empty())) {
            port_warnings.push_back(fmt::format("{}: dangerously ambiguous port definition with {}",
                                                pp.str(), other.field.str()));
          }
        }
        others.push_back({pp, host_port, host_ip});
      }
    }
  }
  w->insert(w->end(), port_warnings.begin(), port_warnings.end());

  const Json& grace = Get(spec, "terminationGracePeriodSeconds");
  if (grace.is_number() && grace.get<double>() < 0) {
    w->push_back(
        fmt::format("{}: must be >= 0; negative values are invalid and will be treated as 1",
                    spec_path.Child("terminationGracePeriodSeconds").str()));
  }

  const Json& pod_affinity = Get(affinity, "podAffinity");
  const Json& pod_anti_affinity = Get(affinity, "podAntiAffinity");
  for (const auto& [a, name] : {std::pair<const Json*, const char*>{&pod_affinity, "podAffinity"},
                                {&pod_anti_affinity, "podAntiAffinity"}}) {
    if (!a->is_object()) continue;
    FieldPath ap = spec_path.Child("affinity").Child(name);
    AffinityTermWarnings(Get(*a, "requiredDuringSchedulingIgnoredDuringExecution"),
                         ap.Child("requiredDuringSchedulingIgnoredDuringExecution"), false, w);
    AffinityTermWarnings(Get(*a, "preferredDuringSchedulingIgnoredDuringExecution"),
                         ap.Child("preferredDuringSchedulingIgnoredDuringExecution"), true, w);
  }
}

// Where a kind keeps its pod template: nullopt for kinds without one. "" is the Pod itself.
std::optional<std::vector<std::string>> TemplatePath(const api::ResourceType& type) {
  const std::string& g = type.gvk.group;
  const std::string& k = type.gvk.kind;
  if (g.empty() && k == "Pod") return std::vector<std::string>{};
  if (g.empty() && k == "PodTemplate") return std::vector<std::string>{"template"};
  if ((g.empty() && k == "ReplicationController") ||
      (g == "apps" &&
       (k == "Deployment" || k == "ReplicaSet" || k == "StatefulSet" || k == "DaemonSet")) ||
      (g == "batch" && k == "Job")) {
    return std::vector<std::string>{"spec", "template"};
  }
  if (g == "batch" && k == "CronJob") {
    return std::vector<std::string>{"spec", "jobTemplate", "spec", "template"};
  }
  return std::nullopt;
}

}  // namespace

bool WarnsOnUpdate(const api::ResourceType& type) {
  auto path = TemplatePath(type);
  return path && !path->empty();
}

std::vector<std::string> WriteWarnings(const api::ResourceType& type, const Json& obj,
                                       std::optional<int64_t> old_generation) {
  std::vector<std::string> w;
  auto path = TemplatePath(type);
  if (!path) return w;
  if (old_generation) {
    if (path->empty()) return w;  // pod updates never warn
    const Json& gen = Get(Get(obj, "metadata"), "generation");
    int64_t now = gen.is_number_integer() ? gen.get<int64_t>() : 0;
    if (now == *old_generation) return w;
  }
  const Json* tmpl = &obj;
  FieldPath base;
  for (const auto& p : *path) {
    tmpl = &Get(*tmpl, p);
    base = base.Child(p);
  }
  if (!tmpl->is_object()) return w;
  PodSpecWarnings(base, Get(*tmpl, "spec"), Get(*tmpl, "metadata"), &w);
  return w;
}

void AppendWarningHeaders(const std::vector<std::string>& messages, http::HeaderList* headers) {
  for (const auto& m : messages) {
    std::string value = "299 - \"";
    for (char c : m) {
      if (c == '"' || c == '\\') value.push_back('\\');
      value.push_back(c);
    }
    value.push_back('"');
    bool dup = std::any_of(headers->begin(), headers->end(), [&](const auto& h) {
      return h.first == "Warning" && h.second == value;
    });
    if (!dup) headers->push_back({"Warning", std::move(value)});
  }
}

}  // namespace korral::apiserver
