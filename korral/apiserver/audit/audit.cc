#include "korral/apiserver/audit/audit.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "korral/apimachinery/yaml.h"

namespace korral::apiserver::audit {

using Json = nlohmann::json;

const char* LevelName(Level l) {
  switch (l) {
    case Level::kNone:
      return "None";
    case Level::kMetadata:
      return "Metadata";
    case Level::kRequest:
      return "Request";
    case Level::kRequestResponse:
      return "RequestResponse";
  }
  return "None";
}

namespace {

absl::StatusOr<std::vector<std::string>> Strings(const Json& j, const char* key, int rule) {
  std::vector<std::string> out;
  if (!j.contains(key) || j[key].is_null()) return out;
  if (!j[key].is_array()) {
    return absl::InvalidArgumentError(fmt::format("rules[{}].{} must be a list", rule, key));
  }
  for (const auto& v : j[key]) {
    if (!v.is_string()) {
      return absl::InvalidArgumentError(fmt::format("rules[{}].{} must hold strings", rule, key));
    }
    out.push_back(v.get<std::string>());
  }
  return out;
}

bool Matches(const std::vector<std::string>& list, const std::string& v) {
  return list.empty() || std::find(list.begin(), list.end(), v) != list.end();
}

bool AnyMatch(const std::vector<std::string>& list, const std::vector<std::string>& vs) {
  if (list.empty()) return true;
  for (const auto& v : vs) {
    if (std::find(list.begin(), list.end(), v) != list.end()) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<Policy> Policy::Parse(std::string_view text) {
  auto parsed = yaml::YamlToJson(text);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError("audit policy: " + std::string(parsed.status().message()));
  }
  const Json& j = *parsed;
  if (!j.is_object()) return absl::InvalidArgumentError("audit policy: not an object");
  std::string kind = j.value("kind", "");
  if (kind != "Policy") {
    return absl::InvalidArgumentError("audit policy: kind must be Policy, got \"" + kind + "\"");
  }
  std::string av = j.value("apiVersion", "");
  if (av != "audit.k8s.io/v1" && av != "audit.k8s.io/v1beta1") {
    return absl::InvalidArgumentError("audit policy: apiVersion must be audit.k8s.io/v1");
  }
  Policy p;
  if (j.contains("omitStages") && j["omitStages"].is_array()) {
    for (const auto& s : j["omitStages"]) p.omit_request_received_ |= s == "RequestReceived";
  }
  if (!j.contains("rules") || !j["rules"].is_array() || j["rules"].empty()) {
    return absl::InvalidArgumentError("audit policy: rules must be a non-empty list");
  }
  int i = 0;
  for (const auto& r : j["rules"]) {
    if (!r.is_object())
      return absl::InvalidArgumentError(fmt::format("rules[{}] must be an object", i));
    Rule rule;
    std::string level = r.value("level", "");
    if (level == "None") {
      rule.level = Level::kNone;
    } else if (level == "Metadata") {
      rule.level = Level::kMetadata;
    } else if (level == "Request") {
      rule.level = Level::kRequest;
    } else if (level == "RequestResponse") {
      rule.level = Level::kRequestResponse;
    } else {
      return absl::InvalidArgumentError(fmt::format(
          "audit policy: rules[{}].level: Unsupported value: \"{}\": supported values: \"None\", "
          "\"Metadata\", \"Request\", \"RequestResponse\"",
          i, level));
    }
    for (auto [field, dest] : {std::pair{"users", &rule.users},
                               {"userGroups", &rule.groups},
                               {"verbs", &rule.verbs},
                               {"namespaces", &rule.namespaces},
                               {"nonResourceURLs", &rule.non_resource_urls}}) {
      auto v = Strings(r, field, i);
      if (!v.ok()) return v.status();
      *dest = std::move(*v);
    }
    if (r.contains("resources") && r["resources"].is_array()) {
      for (const auto& gr : r["resources"]) {
        Rule::GroupResources g;
        g.group = gr.value("group", "");
        auto res = Strings(gr, "resources", i);
        auto names = Strings(gr, "resourceNames", i);
        if (!res.ok()) return res.status();
        if (!names.ok()) return names.status();
        g.resources = std::move(*res);
        g.names = std::move(*names);
        rule.resources.push_back(std::move(g));
      }
    }
    if (!rule.non_resource_urls.empty() && (!rule.resources.empty() || !rule.namespaces.empty())) {
      return absl::InvalidArgumentError(fmt::format(
          "audit policy: rules[{}]: rules cannot apply to both regular resources and non-resource "
          "URLs",
          i));
    }
    p.rules_.push_back(std::move(rule));
    ++i;
  }
  return p;
}

Level Policy::LevelFor(const EventAttributes& a) const {
  for (const auto& r : rules_) {
    if (!Matches(r.users, a.user)) continue;
    if (!AnyMatch(r.groups, a.groups)) continue;
    if (!Matches(r.verbs, a.verb)) continue;
    if (a.resource_request) {
      if (!r.non_resource_urls.empty()) continue;
      if (!r.namespaces.empty() && !Matches(r.namespaces, a.ns)) continue;
      if (!r.resources.empty()) {
        bool any = false;
        std::string full = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
        for (const auto& g : r.resources) {
          if (g.group != a.api_group && g.group != "*") continue;
          bool res_ok = g.resources.empty();
          for (const auto& x : g.resources) {
            if (x == full || x == "*" || (a.subresource.empty() && x == a.resource) ||
                (x == a.resource + "/*" && !a.subresource.empty()) ||
                (x == "*/" + a.subresource && !a.subresource.empty())) {
              res_ok = true;
            }
          }
          if (res_ok && Matches(g.names, a.name)) any = true;
        }
        if (!any) continue;
      }
    } else {
      if (!r.resources.empty() || !r.namespaces.empty()) continue;
      if (!r.non_resource_urls.empty()) {
        bool any = false;
        for (const auto& u : r.non_resource_urls) {
          if (u == a.path ||
              (!u.empty() && u.back() == '*' && a.path.rfind(u.substr(0, u.size() - 1), 0) == 0)) {
            any = true;
          }
        }
        if (!any) continue;
      }
    }
    return r.level;
  }
  return Level::kNone;
}

absl::StatusOr<std::unique_ptr<Logger>> Logger::Open(const std::string& path, int max_size_mb,
                                                     int max_backups) {
  auto l = std::make_unique<Logger>();
  l->path_ = path;
  l->max_bytes_ = static_cast<int64_t>(max_size_mb) * 1024 * 1024;
  l->max_backups_ = max_backups;
  if (path == "-") {
    l->file_ = stdout;
    return l;
  }
  std::error_code ec;
  auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  l->file_ = std::fopen(path.c_str(), "a");
  if (!l->file_) return absl::InvalidArgumentError("cannot open --audit-log-path " + path);
  ::chmod(path.c_str(), 0600);
  l->size_ = static_cast<int64_t>(std::filesystem::file_size(path, ec));
  return l;
}

Logger::~Logger() {
  if (file_ && file_ != stdout) std::fclose(file_);
}

void Logger::RotateLocked() {
  std::fclose(file_);
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::filesystem::path p(path_);
  std::string stem = p.stem().string(), ext = p.extension().string();
  std::string backup =
      (p.parent_path() / fmt::format("{}-{:04}-{:02}-{:02}T{:02}-{:02}-{:02}.{:03}{}", stem,
                                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                     tm.tm_min, tm.tm_sec, ms % 1000, ext))
          .string();
  std::rename(path_.c_str(), backup.c_str());
  // Prune old backups (oldest first by name: the timestamp sorts).
  std::vector<std::string> backups;
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator(p.parent_path().empty() ? "." : p.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(stem + "-", 0) == 0 && name.size() > ext.size() &&
        name.compare(name.size() - ext.size(), ext.size(), ext) == 0) {
      backups.push_back(e.path().string());
    }
  }
  std::sort(backups.begin(), backups.end());
  while (max_backups_ > 0 && static_cast<int>(backups.size()) > max_backups_) {
    std::filesystem::remove(backups.front(), ec);
    backups.erase(backups.begin());
  }
  file_ = std::fopen(path_.c_str(), "a");
  if (file_) ::chmod(path_.c_str(), 0600);
  size_ = 0;
}

void Logger::Write(const Json& event) {
  std::string line = event.dump(-1, ' ', false, Json::error_handler_t::replace);
  line.push_back('\n');
  std::lock_guard l(mu_);
  if (!file_) return;
  if (file_ != stdout && max_bytes_ > 0 && size_ > 0 &&
      size_ + static_cast<int64_t>(line.size()) > max_bytes_) {
    RotateLocked();
    if (!file_) return;
  }
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  size_ += static_cast<int64_t>(line.size());
}

}  // namespace korral::apiserver::audit
