// korral/kubelet/server/logs.h: reading CRI container log files as `kubectl logs` wants them.
//
// CRI log lines are "<RFC3339Nano time> <stdout|stderr> <P|F> <text>\n"; P marks a partial line
// continued by the next entry. Options follow upstream's (k8s.io/api PodLogOptions).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::kubelet::server {

struct LogOptions {
  bool follow = false;
  bool timestamps = false;
  std::optional<int64_t> tail_lines;
  std::optional<int64_t> limit_bytes;
  std::optional<int64_t> since_unix_nanos;  // from sinceSeconds or sinceTime
};

// Parses the query parameters of a containerLogs / pods/log request (follow, timestamps,
// tailLines, limitBytes, sinceSeconds, sinceTime; previous and container are the caller's).
// `now_unix_nanos` anchors sinceSeconds. InvalidArgument with upstream-like messages.
using QueryLookup = std::function<std::optional<std::string_view>(std::string_view)>;
absl::StatusOr<LogOptions> ParseLogOptions(const QueryLookup& query, int64_t now_unix_nanos);

// Parses an RFC 3339 time ("2024-01-02T03:04:05.123456789Z", offsets allowed) to unix nanos.
std::optional<int64_t> ParseRfc3339Nanos(std::string_view text);

// Streams the file at `path` to `write` per `options`. Returns when the content is exhausted
// (not following), `write` returns false (client gone), the byte limit is reached, or — when
// following — once `still_running` returned false and the rest was sent. `poll` is the
// following poll interval. NotFound if the file does not exist.
absl::Status StreamLogFile(const std::string& path, const LogOptions& options,
                           const std::function<bool(std::string_view)>& write,
                           const std::function<bool()>& still_running,
                           std::chrono::milliseconds poll = std::chrono::milliseconds(200));

}  // namespace korral::kubelet::server
