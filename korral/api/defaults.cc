// korral/api/defaults.cc: PodSpec defaulting and QoS classification.
#include "korral/api/defaults.h"

#include <cmath>
#include <cstdlib>
#include <map>
#include <set>

#include "korral/api/internal.h"

namespace korral::api::defaults {

using internal::Ensure;
using internal::GetString;
using internal::SetDefault;
using internal::SetDefaultString;

std::string DefaultImagePullPolicy(std::string_view image) {
  if (image.find('@') != std::string_view::npos) return "IfNotPresent";
  size_t slash = image.rfind('/');
  std::string_view last = slash == std::string_view::npos ? image : image.substr(slash + 1);
  size_t colon = last.rfind(':');
  if (colon == std::string_view::npos) return "Always";
  return last.substr(colon + 1) == "latest" ? "Always" : "IfNotPresent";
}

namespace {

void DefaultProbe(Json& c, const char* name) {
  auto it = c.find(name);
  if (it == c.end() || !it->is_object()) return;
  Json& p = *it;
  SetDefault(p, "timeoutSeconds", 1);
  SetDefault(p, "periodSeconds", 10);
  SetDefault(p, "successThreshold", 1);
  SetDefault(p, "failureThreshold", 3);
  if (p.contains("httpGet") && p["httpGet"].is_object()) {
    SetDefaultString(p["httpGet"], "path", "/");
    SetDefaultString(p["httpGet"], "scheme", "HTTP");
  }
}

void DefaultHandler(Json& lifecycle, const char* name) {
  if (!lifecycle.is_object() || !lifecycle.contains(name)) return;
  Json& h = lifecycle[name];
  if (h.is_object() && h.contains("httpGet") && h["httpGet"].is_object()) {
    SetDefaultString(h["httpGet"], "path", "/");
    SetDefaultString(h["httpGet"], "scheme", "HTTP");
  }
}

void DefaultContainer(Json& c, bool host_network) {
  if (!c.is_object()) return;
  SetDefaultString(c, "imagePullPolicy", DefaultImagePullPolicy(GetString(c, {"image"})));
  SetDefaultString(c, "terminationMessagePath", "/dev/termination-log");
  SetDefaultString(c, "terminationMessagePolicy", "File");
  SetDefault(c, "resources", Json::object());
  Json& res = c["resources"];
  // Requests default to limits for resources that have a limit but no request.
  if (res.contains("limits") && res["limits"].is_object() && !res["limits"].empty()) {
    Json& req = Ensure(res, {"requests"});
    for (auto it = res["limits"].begin(); it != res["limits"].end(); ++it) {
      if (!req.contains(it.key())) req[it.key()] = it.value();
    }
  }
  if (c.contains("ports") && c["ports"].is_array()) {
    for (Json& p : c["ports"]) {
      if (!p.is_object()) continue;
      SetDefaultString(p, "protocol", "TCP");
      if (host_network && !p.contains("hostPort") && p.contains("containerPort")) {
        p["hostPort"] = p["containerPort"];
      }
    }
  }
  if (c.contains("env") && c["env"].is_array()) {
    for (Json& e : c["env"]) {
      if (e.is_object() && e.contains("valueFrom") && e["valueFrom"].is_object() &&
          e["valueFrom"].contains("fieldRef") && e["valueFrom"]["fieldRef"].is_object()) {
        SetDefaultString(e["valueFrom"]["fieldRef"], "apiVersion", "v1");
      }
    }
  }
  for (const char* probe : {"livenessProbe", "readinessProbe", "startupProbe"}) {
    DefaultProbe(c, probe);
  }
  if (c.contains("lifecycle")) {
    DefaultHandler(c["lifecycle"], "postStart");
    DefaultHandler(c["lifecycle"], "preStop");
  }
}

void DefaultVolume(Json& v) {
  if (!v.is_object()) return;
  static const std::set<std::string> kNotSources = {"name"};
  bool has_source = false;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!kNotSources.count(it.key()) && !it.value().is_null()) has_source = true;
  }
  if (!has_source) v["emptyDir"] = Json::object();
  for (const char* src : {"secret", "configMap", "downwardAPI", "projected"}) {
    if (v.contains(src) && v[src].is_object()) SetDefault(v[src], "defaultMode", 420);
  }
  if (v.contains("downwardAPI") && v["downwardAPI"].is_object() &&
      v["downwardAPI"].contains("items") && v["downwardAPI"]["items"].is_array()) {
    for (Json& item : v["downwardAPI"]["items"]) {
      if (item.is_object() && item.contains("fieldRef") && item["fieldRef"].is_object()) {
        SetDefaultString(item["fieldRef"], "apiVersion", "v1");
      }
    }
  }
  if (v.contains("hostPath") && v["hostPath"].is_object()) {
    SetDefault(v["hostPath"], "type", "");
  }
}

}  // namespace

void DefaultPodSpec(Json& spec) {
  if (!spec.is_object()) spec = Json::object();
  SetDefaultString(spec, "dnsPolicy", "ClusterFirst");
  SetDefaultString(spec, "restartPolicy", "Always");
  SetDefault(spec, "terminationGracePeriodSeconds", 30);
  SetDefaultString(spec, "schedulerName", "default-scheduler");
  SetDefault(spec, "securityContext", Json::object());
  bool host_network = internal::GetBool(spec, {"hostNetwork"});
  for (const char* list : {"initContainers", "containers", "ephemeralContainers"}) {
    if (spec.contains(list) && spec[list].is_array()) {
      for (Json& c : spec[list]) DefaultContainer(c, host_network);
    }
  }
  if (spec.contains("volumes") && spec["volumes"].is_array()) {
    for (Json& v : spec["volumes"]) DefaultVolume(v);
  }
  // The deprecated serviceAccount field mirrors serviceAccountName.
  std::string san = GetString(spec, {"serviceAccountName"});
  std::string sa = GetString(spec, {"serviceAccount"});
  if (san.empty() && !sa.empty()) spec["serviceAccountName"] = sa;
  if (!san.empty()) spec["serviceAccount"] = san;
}

void DefaultPodTemplate(Json& tmpl) {
  if (!tmpl.is_object()) tmpl = Json::object();
  DefaultPodSpec(tmpl["spec"]);
}

void DefaultPod(Json& pod) {
  Json& spec = Ensure(pod, {"spec"});
  DefaultPodSpec(spec);
  SetDefault(spec, "enableServiceLinks", true);
  if (GetString(spec, {"priorityClassName"}).empty()) SetDefault(spec, "priority", 0);
  SetDefaultString(spec, "preemptionPolicy", "PreemptLowerPriority");
  SetDefaultString(spec, "serviceAccountName", "default");
  SetDefaultString(spec, "serviceAccount", GetString(spec, {"serviceAccountName"}));
}

void DefaultPersistentVolumeClaimSpec(Json& spec) {
  if (!spec.is_object()) spec = Json::object();
  SetDefaultString(spec, "volumeMode", "Filesystem");
}

bool ParseQuantity(std::string_view s, long double* value) {
  if (s.empty()) return false;
  std::string str(s);
  char* end = nullptr;
  long double num = std::strtold(str.c_str(), &end);
  if (end == str.c_str()) return false;
  std::string suffix(end);
  static const std::map<std::string, long double> kSuffixes = {
      {"", 1},
      {"n", 1e-9L},
      {"u", 1e-6L},
      {"m", 1e-3L},
      {"k", 1e3L},
      {"M", 1e6L},
      {"G", 1e9L},
      {"T", 1e12L},
      {"P", 1e15L},
      {"E", 1e18L},
      {"Ki", 1024.0L},
      {"Mi", 1024.0L * 1024},
      {"Gi", 1024.0L * 1024 * 1024},
      {"Ti", 1024.0L * 1024 * 1024 * 1024},
      {"Pi", 1024.0L * 1024 * 1024 * 1024 * 1024},
      {"Ei", 1024.0L * 1024 * 1024 * 1024 * 1024 * 1024},
  };
  auto it = kSuffixes.find(suffix);
  if (it == kSuffixes.end()) return false;
  *value = num * it->second;
  return std::isfinite(static_cast<double>(*value));
}

namespace {

long double QuantityOf(const Json& v) {
  long double q = 0;
  if (v.is_number()) return v.get<double>();
  if (v.is_string() && ParseQuantity(v.get<std::string>(), &q)) return q;
  return 0;
}

bool QuantityEqual(long double a, long double b) {
  return std::fabs(static_cast<double>(a - b)) <= 1e-9 * std::max(1.0, std::fabs((double)a));
}

}  // namespace

std::string PodQosClass(const Json& pod) {
  static const char* kSupported[] = {"cpu", "memory"};
  std::map<std::string, long double> requests, limits;
  bool guaranteed = true;
  bool any = false;
  auto visit = [&](const Json& c) {
    const Json& req = internal::GetObject(c, {"resources", "requests"});
    const Json& lim = internal::GetObject(c, {"resources", "limits"});
    std::set<std::string> lim_names;
    for (const char* r : kSupported) {
      auto ri = req.find(r);
      if (ri != req.end()) {
        long double q = QuantityOf(*ri);
        if (q != 0) {
          any = true;
          requests[r] += q;
        }
      }
      auto li = lim.find(r);
      if (li != lim.end()) {
        long double q = QuantityOf(*li);
        if (q != 0) {
          any = true;
          lim_names.insert(r);
          limits[r] += q;
        }
      }
    }
    if (lim_names.size() != 2) guaranteed = false;
  };
  for (const char* list : {"initContainers", "containers"}) {
    for (const Json& c : internal::GetArray(pod, {"spec", list})) visit(c);
  }
  if (!any) return "BestEffort";
  if (guaranteed) {
    for (auto& [name, req] : requests) {
      auto it = limits.find(name);
      if (it == limits.end() || !QuantityEqual(it->second, req)) {
        guaranteed = false;
        break;
      }
    }
  }
  if (guaranteed && limits.size() == requests.size()) return "Guaranteed";
  return "Burstable";
}

}  // namespace korral::api::defaults
