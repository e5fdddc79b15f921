#include "korral/kubelet/pod_util.h"

#include <algorithm>
#include <cmath>
#include <ctime>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/base/status.h"

namespace korral::kubelet {
namespace {

absl::Status Err(const std::string& msg) {
  return absl::Status(absl::StatusCode::kFailedPrecondition, absl::string_view(msg));
}

double Quantity(const Json& v) {
  if (v.is_number()) return v.get<double>();
  if (!v.is_string()) return 0;
  long double out = 0;
  if (!api::defaults::ParseQuantity(v.get<std::string>(), &out)) return 0;
  return static_cast<double>(out);
}

std::string StrOr(const Json& o, const char* key, const std::string& def = "") {
  if (o.is_object() && o.contains(key) && o[key].is_string()) return o[key].get<std::string>();
  return def;
}

// Values of a ConfigMap (data + binaryData decoded) or Secret (data decoded + stringData).
std::map<std::string, std::string> ObjectData(const Json& obj, bool secret) {
  std::map<std::string, std::string> out;
  if (obj.contains("data") && obj["data"].is_object()) {
    for (auto& [k, v] : obj["data"].items()) {
      if (!v.is_string()) continue;
      if (secret) {
        std::string dec;
        absl::Base64Unescape(v.get<std::string>(), &dec);
        out[k] = dec;
      } else {
        out[k] = v.get<std::string>();
      }
    }
  }
  if (!secret && obj.contains("binaryData") && obj["binaryData"].is_object()) {
    for (auto& [k, v] : obj["binaryData"].items()) {
      std::string dec;
      if (v.is_string()) absl::Base64Unescape(v.get<std::string>(), &dec);
      out[k] = dec;
    }
  }
  return out;
}

absl::StatusOr<std::string> ResourceFieldValue(const EnvContext& ctx, const Json& ref) {
  std::string resource = StrOr(ref, "resource");
  std::string cname = StrOr(ref, "containerName");
  const Json* c = ctx.container;
  if (!cname.empty()) {
    c = nullptr;
    for (const char* list : {"containers", "initContainers"}) {
      for (const auto& cc : (*ctx.pod)["spec"].value(list, Json::array())) {
        if (cc.value("name", "") == cname) c = &cc;
      }
    }
    if (!c) return Err(fmt::format("container {} not found", cname));
  }
  ContainerResources r = GetResources(*c);
  double divisor = ref.contains("divisor") ? Quantity(ref["divisor"]) : 0;
  double value = 0;
  bool cpu = false;
  if (resource == "limits.cpu") {
    value = r.cpu_limit > 0 ? r.cpu_limit : ctx.node_cpu_cores;
    cpu = true;
  } else if (resource == "requests.cpu") {
    value = r.cpu_request;
    cpu = true;
  } else if (resource == "limits.memory") {
    value = r.memory_limit > 0 ? r.memory_limit : ctx.node_memory_bytes;
  } else if (resource == "requests.memory") {
    value = r.memory_request;
  } else if (resource == "limits.ephemeral-storage" || resource == "requests.ephemeral-storage") {
    value = 0;
  } else {
    return Err(fmt::format("unsupported container resource : {}", resource));
  }
  if (divisor <= 0) divisor = 1;
  double q = std::ceil(value / divisor - 1e-9);
  if (cpu && q < 1 && value > 0 && divisor >= 1) q = 1;
  return fmt::format("{}", static_cast<int64_t>(q));
}

}  // namespace

absl::StatusOr<std::string> FieldRefValue(const Json& pod, const std::string& path,
                                          const std::string& pod_ip, const std::string& host_ip) {
  const Json& md = pod.value("metadata", Json::object());
  auto bracket = [&](const std::string& prefix, const char* field) -> std::optional<std::string> {
    if (path.rfind(prefix, 0) != 0) return std::nullopt;
    std::string key = path.substr(prefix.size());
    if (key.size() >= 4 && key.front() == '[' && key.back() == ']') {
      key = key.substr(2, key.size() - 4);  // ['key']
    }
    const Json& m = md.value(field, Json::object());
    return m.is_object() && m.contains(key) ? m[key].get<std::string>() : "";
  };
  if (path == "metadata.name") return StrOr(md, "name");
  if (path == "metadata.namespace") return StrOr(md, "namespace");
  if (path == "metadata.uid") return StrOr(md, "uid");
  if (auto v = bracket("metadata.labels", "labels")) return *v;
  if (auto v = bracket("metadata.annotations", "annotations")) return *v;
  const Json& spec = pod.value("spec", Json::object());
  if (path == "spec.nodeName") return StrOr(spec, "nodeName");
  if (path == "spec.serviceAccountName") return StrOr(spec, "serviceAccountName");
  if (path == "status.podIP" || path == "status.podIPs") return pod_ip;
  if (path == "status.hostIP" || path == "status.hostIPs") return host_ip;
  return Err(fmt::format("unsupported fieldPath: {}", path));
}

std::string ExpandVars(const std::string& in, const std::map<std::string, std::string>& env) {
  std::string out;
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '$' || i + 1 >= in.size()) {
      out += in[i];
      continue;
    }
    if (in[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    if (in[i + 1] == '(') {
      auto close = in.find(')', i + 2);
      if (close != std::string::npos) {
        std::string name = in.substr(i + 2, close - i - 2);
        auto it = env.find(name);
        if (it != env.end()) {
          out += it->second;
        } else {
          out += in.substr(i, close - i + 1);
        }
        i = close;
        continue;
      }
    }
    out += in[i];
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> ResolveEnv(const EnvContext& ctx) {
  const Json& pod = *ctx.pod;
  const Json& c = *ctx.container;
  std::string ns = pod["metadata"].value("namespace", "default");
  std::vector<std::pair<std::string, std::string>> out;
  std::map<std::string, std::string> seen;
  auto set = [&](const std::string& k, const std::string& v) {
    if (seen.count(k)) {
      for (auto& p : out) {
        if (p.first == k) p.second = v;
      }
    } else {
      out.emplace_back(k, v);
    }
    seen[k] = v;
  };
  std::map<std::string, Json> cm_cache, secret_cache;
  auto get_obj = [&](bool secret, const std::string& name,
                     bool optional) -> absl::StatusOr<std::optional<Json>> {
    auto& cache = secret ? secret_cache : cm_cache;
    auto it = cache.find(name);
    if (it != cache.end()) return std::optional<Json>(it->second);
    const ObjectLookup& lookup = secret ? ctx.secrets : ctx.config_maps;
    absl::StatusOr<Json> obj =
        lookup ? lookup(ns, name) : absl::StatusOr<Json>(absl::NotFoundError("no lookup"));
    if (!obj.ok()) {
      if (optional && obj.status().code() == absl::StatusCode::kNotFound) {
        return std::optional<Json>();
      }
      if (obj.status().code() == absl::StatusCode::kNotFound) {
        return Err(fmt::format("{} \"{}\" not found", secret ? "secret" : "configmap", name));
      }
      return obj.status();
    }
    cache[name] = *obj;
    return std::optional<Json>(*obj);
  };

  for (const auto& from : c.value("envFrom", Json::array())) {
    std::string prefix = StrOr(from, "prefix");
    bool secret = from.contains("secretRef");
    const Json& ref = secret ? from["secretRef"] : from.value("configMapRef", Json::object());
    std::string name = StrOr(ref, "name");
    bool optional = ref.value("optional", false);
    KORRAL_ASSIGN_OR_RETURN(auto obj, get_obj(secret, name, optional));
    if (!obj) continue;
    for (const auto& [k, v] : ObjectData(*obj, secret)) set(prefix + k, v);
  }
  for (const auto& e : c.value("env", Json::array())) {
    std::string name = StrOr(e, "name");
    if (e.contains("value") && e["value"].is_string()) {
      set(name, ExpandVars(e["value"].get<std::string>(), seen));
      continue;
    }
    if (!e.contains("valueFrom")) {
      set(name, "");
      continue;
    }
    const Json& vf = e["valueFrom"];
    if (vf.contains("fieldRef")) {
      KORRAL_ASSIGN_OR_RETURN(std::string v, FieldRefValue(pod, StrOr(vf["fieldRef"], "fieldPath"),
                                                           ctx.pod_ip, ctx.host_ip));
      set(name, v);
    } else if (vf.contains("resourceFieldRef")) {
      KORRAL_ASSIGN_OR_RETURN(std::string v, ResourceFieldValue(ctx, vf["resourceFieldRef"]));
      set(name, v);
    } else if (vf.contains("configMapKeyRef") || vf.contains("secretKeyRef")) {
      bool secret = vf.contains("secretKeyRef");
      const Json& ref = secret ? vf["secretKeyRef"] : vf["configMapKeyRef"];
      std::string obj_name = StrOr(ref, "name"), key = StrOr(ref, "key");
      bool optional = ref.value("optional", false);
      KORRAL_ASSIGN_OR_RETURN(auto obj, get_obj(secret, obj_name, optional));
      if (!obj) continue;
      auto data = ObjectData(*obj, secret);
      auto it = data.find(key);
      if (it == data.end()) {
        if (optional) continue;
        return Err(fmt::format("couldn't find key {} in {} {}/{}", key,
                               secret ? "Secret" : "ConfigMap", ns, obj_name));
      }
      set(name, it->second);
    }
  }
  return out;
}

ContainerResources GetResources(const Json& container) {
  ContainerResources r;
  const Json& res = container.value("resources", Json::object());
  const Json& req = res.value("requests", Json::object());
  const Json& lim = res.value("limits", Json::object());
  if (req.contains("cpu")) r.cpu_request = Quantity(req["cpu"]);
  if (req.contains("memory")) r.memory_request = Quantity(req["memory"]);
  if (lim.contains("cpu")) r.cpu_limit = Quantity(lim["cpu"]);
  if (lim.contains("memory")) r.memory_limit = Quantity(lim["memory"]);
  // Requests default to limits (the apiserver defaults them too).
  if (!req.contains("cpu") && r.cpu_limit > 0) r.cpu_request = r.cpu_limit;
  if (!req.contains("memory") && r.memory_limit > 0) r.memory_request = r.memory_limit;
  return r;
}

LinuxResources ComputeLinuxResources(const Json& pod, const Json& container, const std::string& qos,
                                     double node_memory_bytes) {
  LinuxResources out;
  ContainerResources r = GetResources(container);
  out.cpu_shares = std::max<int64_t>(2, static_cast<int64_t>(r.cpu_request * 1024));
  if (r.cpu_limit > 0) {
    out.cpu_quota = std::max<int64_t>(1000, static_cast<int64_t>(r.cpu_limit * 100000));
  }
  out.memory_limit = static_cast<int64_t>(r.memory_limit);
  if (qos == "Guaranteed") {
    out.oom_score_adj = -997;
  } else if (qos == "BestEffort") {
    out.oom_score_adj = 1000;
  } else {
    double frac = node_memory_bytes > 0 ? r.memory_request / node_memory_bytes : 0;
    int64_t adj = 1000 - static_cast<int64_t>(1000 * frac);
    out.oom_score_adj = std::clamp<int64_t>(adj, 3, 999);
  }
  return out;
}

std::string PodCgroupParent(const std::string& root, const std::string& qos,
                            const std::string& uid) {
  std::string base = root.empty() ? "/kubepods" : root;
  if (qos == "Guaranteed") return base + "/pod" + uid;
  if (qos == "BestEffort") return base + "/besteffort/pod" + uid;
  return base + "/burstable/pod" + uid;
}

std::string ComputePhase(const Json& spec, const Json& init_statuses, const Json& statuses) {
  std::string policy = spec.value("restartPolicy", "Always");
  // Init containers first.
  size_t n_init = spec.value("initContainers", Json::array()).size();
  bool init_done = true;
  for (size_t i = 0; i < n_init; ++i) {
    const Json* st = i < init_statuses.size() ? &init_statuses[i] : nullptr;
    bool ok = st && st->contains("state") && (*st)["state"].contains("terminated") &&
              (*st)["state"]["terminated"].value("exitCode", -1) == 0;
    if (!ok) {
      init_done = false;
      bool failed = st && st->contains("state") && (*st)["state"].contains("terminated");
      if (failed && policy == "Never") return "Failed";
      break;
    }
  }
  if (!init_done) return "Pending";
  int running = 0, waiting = 0, stopped = 0, succeeded = 0;
  for (const auto& st : statuses) {
    const Json& s = st.value("state", Json::object());
    if (s.contains("running")) {
      running++;
    } else if (s.contains("terminated")) {
      stopped++;
      if (s["terminated"].value("exitCode", -1) == 0) succeeded++;
    } else if (s.contains("waiting")) {
      if (st.contains("lastState") && st["lastState"].contains("terminated")) {
        stopped++;
      } else {
        waiting++;
      }
    } else {
      waiting++;
    }
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped > 0) {
    if (policy == "Always") return "Running";
    if (stopped == succeeded) return "Succeeded";
    if (policy == "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

bool Backoff::InBackoffSince(const std::string& key, Time event_time, Time now) const {
  return Remaining(key, event_time, now).count() > 0;
}

std::chrono::nanoseconds Backoff::Remaining(const std::string& key, Time event_time,
                                            Time now) const {
  std::lock_guard l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::chrono::nanoseconds(0);
  auto elapsed = now - event_time;
  if (elapsed >= it->second.duration) return std::chrono::nanoseconds(0);
  return it->second.duration - elapsed;
}

void Backoff::Next(const std::string& key, Time now) {
  std::lock_guard l(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end() || now - it->second.last_update > 2 * max_) {
    entries_[key] = Entry{initial_, now};
    return;
  }
  it->second.duration = std::min(it->second.duration * 2, max_);
  it->second.last_update = now;
}

std::chrono::nanoseconds Backoff::Get(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = entries_.find(key);
  return it == entries_.end() ? std::chrono::nanoseconds(0) : it->second.duration;
}

void Backoff::Reset(const std::string& key) {
  std::lock_guard l(mu_);
  entries_.erase(key);
}

void Backoff::ResetPrefix(const std::string& prefix) {
  std::lock_guard l(mu_);
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0;) {
    it = entries_.erase(it);
  }
}

std::string GoDuration(std::chrono::nanoseconds d) {
  int64_t s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{}s", s / 60, s % 60);
  return fmt::format("{}h{}m{}s", s / 3600, (s % 3600) / 60, s % 60);
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string FormatNanos(int64_t unix_nanos) {
  return FormatTime(std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::nanoseconds(unix_nanos))));
}

std::string FormatMicroTime(std::chrono::system_clock::time_point t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count() % 1000000;
  return fmt::format("{}.{:06d}Z", buf, us);
}

}  // namespace korral::kubelet
