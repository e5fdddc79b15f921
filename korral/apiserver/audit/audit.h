// korral/apiserver/audit/audit.h: audit policy (audit.k8s.io/v1 Policy) and the JSON-lines log
// backend with size-based rotation (--audit-policy-file, --audit-log-path,
// --audit-log-maxsize, --audit-log-maxbackup).
//
// The policy's first matching rule gives the level: None, Metadata, Request (adds the request
// body) or RequestResponse (adds the response body too). Events are written at the
// ResponseComplete stage, one JSON object per line. When a write would grow the file past
// maxsize MB the file is renamed to <name>-<UTC timestamp>.<ext> and a new one started; at most
// maxbackup old files are kept. Thread-safe.
#pragma once

#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace korral::apiserver::audit {

enum class Level { kNone, kMetadata, kRequest, kRequestResponse };
const char* LevelName(Level level);

struct EventAttributes {
  std::string user;
  std::vector<std::string> groups;
  std::string verb;
  bool resource_request = true;
  std::string api_group, resource, subresource, ns, name, path;
};

class Policy {
 public:
  // Parses YAML or JSON; InvalidArgument with the reason for a malformed policy.
  static absl::StatusOr<Policy> Parse(std::string_view text);
  Level LevelFor(const EventAttributes& a) const;
  bool OmitRequestReceived() const { return omit_request_received_; }

 private:
  struct Rule {
    Level level = Level::kNone;
    std::vector<std::string> users, groups, verbs, namespaces, non_resource_urls;
    struct GroupResources {
      std::string group;
      std::vector<std::string> resources, names;
    };
    std::vector<GroupResources> resources;
  };
  std::vector<Rule> rules_;
  bool omit_request_received_ = false;
};

class Logger {
 public:
  // path "-" writes to stdout (no rotation).
  static absl::StatusOr<std::unique_ptr<Logger>> Open(const std::string& path, int max_size_mb,
                                                      int max_backups);
  ~Logger();
  void Write(const nlohmann::json& event);

 private:
  void RotateLocked();
  std::mutex mu_;
  std::string path_;
  FILE* file_ = nullptr;
  int64_t size_ = 0;
  int64_t max_bytes_ = 0;
  int max_backups_ = 0;
};

}  // namespace korral::apiserver::audit
