#include "korral/scheduler/config.h"
#include "korral/base/status.h"

#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "korral/apimachinery/yaml.h"

namespace korral::scheduler {
namespace {

absl::Status Invalid(const std::string& m) {
  return absl::Status(absl::StatusCode::kInvalidArgument, absl::string_view(m));
}

const char* kPointNames[] = {"multiPoint", "preEnqueue", "queueSort", "preFilter", "filter",
                             "postFilter", "preScore",   "score",     "reserve",   "permit",
                             "preBind",    "bind",       "postBind"};

absl::StatusOr<PluginSet> ParsePluginSet(const Json& j, const std::string& path) {
  PluginSet set;
  if (!j.is_object()) return Invalid(path + ": must be an object");
  for (const Json& e : j.value("enabled", Json::array())) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) {
      return Invalid(path + ".enabled[].name: Required value");
    }
    int32_t w = 0;
    if (e.contains("weight")) {
      if (!e["weight"].is_number_integer())
        return Invalid(path + ".enabled[].weight: must be an integer");
      w = e["weight"].get<int32_t>();
      if (w < 0) return Invalid(path + ".enabled[].weight: Invalid value: must be positive");
    }
    set.enabled.emplace_back(e["name"].get<std::string>(), w);
  }
  for (const Json& e : j.value("disabled", Json::array())) {
    if (!e.is_object() || !e.contains("name") || !e["name"].is_string()) {
      return Invalid(path + ".disabled[].name: Required value");
    }
    set.disabled.push_back(e["name"].get<std::string>());
  }
  return set;
}

}  // namespace

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  if (s.empty()) return Invalid("empty duration");
  double total_ms = 0;
  size_t i = 0;
  std::string str(s);
  if (str == "0") return std::chrono::milliseconds(0);
  while (i < str.size()) {
    size_t j = i;
    while (j < str.size() && (std::isdigit(static_cast<unsigned char>(str[j])) || str[j] == '.'))
      ++j;
    if (j == i) return Invalid(fmt::format("time: invalid duration \"{}\"", s));
    double v = std::atof(str.substr(i, j - i).c_str());
    size_t k = j;
    while (k < str.size() && std::isalpha(static_cast<unsigned char>(str[k]))) ++k;
    std::string unit = str.substr(j, k - j);
    double mult = unit == "ms"   ? 1
                  : unit == "s"  ? 1000
                  : unit == "m"  ? 60000
                  : unit == "h"  ? 3600000
                  : unit == "us" ? 0.001
                  : unit == "ns" ? 0.000001
                                 : -1;
    if (mult < 0)
      return Invalid(fmt::format("time: unknown unit \"{}\" in duration \"{}\"", unit, s));
    total_ms += v * mult;
    i = k;
  }
  return std::chrono::milliseconds(static_cast<int64_t>(total_ms));
}

absl::StatusOr<SchedulerConfiguration> ParseSchedulerConfiguration(std::string_view text) {
  auto parsed = korral::yaml::YamlToJson(text);
  if (!parsed.ok()) return parsed.status();
  const Json& j = *parsed;
  if (!j.is_object()) return Invalid("KubeSchedulerConfiguration must be an object");
  std::string api = j.value("apiVersion", "");
  std::string kind = j.value("kind", "");
  if (kind != "KubeSchedulerConfiguration") {
    return Invalid(
        fmt::format("kind: Invalid value: \"{}\": must be KubeSchedulerConfiguration", kind));
  }
  if (api != "kubescheduler.config.k8s.io/v1") {
    return Invalid(
        fmt::format("apiVersion: Unsupported value: \"{}\": supported values: "
                    "\"kubescheduler.config.k8s.io/v1\"",
                    api));
  }
  SchedulerConfiguration c;
  if (j.contains("percentageOfNodesToScore")) {
    const Json& p = j["percentageOfNodesToScore"];
    if (!p.is_number_integer() || p.get<int>() < 0 || p.get<int>() > 100) {
      return Invalid("percentageOfNodesToScore: Invalid value: not in valid range [0-100]");
    }
    c.percentage_of_nodes_to_score = p.get<int>();
  }
  if (j.contains("podInitialBackoffSeconds")) {
    c.pod_initial_backoff = std::chrono::seconds(j["podInitialBackoffSeconds"].get<int64_t>());
  }
  if (j.contains("podMaxBackoffSeconds")) {
    c.pod_max_backoff = std::chrono::seconds(j["podMaxBackoffSeconds"].get<int64_t>());
  }
  if (c.pod_initial_backoff.count() <= 0)
    return Invalid("podInitialBackoffSeconds: Invalid value: must be greater than 0");
  if (c.pod_max_backoff < c.pod_initial_backoff) {
    return Invalid(
        "podMaxBackoffSeconds: Invalid value: must be greater than or equal to "
        "PodInitialBackoffSeconds");
  }
  if (j.contains("leaderElection")) {
    const Json& le = j["leaderElection"];
    auto& o = c.leader_election;
    o.leader_elect = le.value("leaderElect", true);
    for (auto [key, field] : {std::pair{"leaseDuration", &o.lease_duration},
                              std::pair{"renewDeadline", &o.renew_deadline},
                              std::pair{"retryPeriod", &o.retry_period}}) {
      if (!le.contains(key)) continue;
      auto d = ParseDuration(le[key].get<std::string>());
      if (!d.ok())
        return Invalid(fmt::format("leaderElection.{}: {}", key, StatusMessage(d.status())));
      *field = *d;
    }
    o.resource_name = le.value("resourceName", o.resource_name);
    o.resource_namespace = le.value("resourceNamespace", o.resource_namespace);
  }
  const Json& profiles = j.contains("profiles") ? j["profiles"] : Json::array();
  int idx = 0;
  for (const Json& p : profiles) {
    std::string path = fmt::format("profiles[{}]", idx++);
    ProfileConfig pc;
    pc.scheduler_name = p.value("schedulerName", "default-scheduler");
    if (pc.scheduler_name.empty()) return Invalid(path + ".schedulerName: Required value");
    if (p.contains("percentageOfNodesToScore")) {
      pc.percentage_of_nodes_to_score = p["percentageOfNodesToScore"].get<int>();
    }
    if (p.contains("plugins")) {
      const Json& pl = p["plugins"];
      for (auto it = pl.begin(); it != pl.end(); ++it) {
        bool known = false;
        for (const char* n : kPointNames) known |= it.key() == n;
        if (!known)
          return Invalid(fmt::format("{}.plugins.{}: unknown extension point", path, it.key()));
        auto set = ParsePluginSet(it.value(), path + ".plugins." + it.key());
        if (!set.ok()) return set.status();
        pc.plugins[it.key()] = std::move(*set);
      }
    }
    for (const Json& pcfg : p.value("pluginConfig", Json::array())) {
      std::string name = pcfg.value("name", "");
      if (name.empty()) return Invalid(path + ".pluginConfig[].name: Required value");
      if (pc.plugin_config.count(name)) {
        return Invalid(fmt::format("{}.pluginConfig: Duplicate value: \"{}\"", path, name));
      }
      pc.plugin_config[name] = pcfg.value("args", Json::object());
    }
    c.profiles.push_back(std::move(pc));
  }
  if (c.profiles.empty()) c.profiles.push_back(ProfileConfig{});
  return c;
}

}  // namespace korral::scheduler
