// korral/kubelet/logrotate.h: CRI container log rotation as upstream's container log manager
// (pkg/kubelet/logs): when a running container's log file reaches containerLogMaxSize (10Mi) it
// is renamed to <log>.<YYYYMMDD-hhmmss> and the runtime reopens the log (ReopenContainerLog);
// older rotated files are gzip-compressed (<log>.<time>.gz) and at most containerLogMaxFiles (5)
// files are kept, the current one included.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::kubelet {

struct LogRotationPolicy {
  int64_t max_size = 10 << 20;  // containerLogMaxSize
  int max_files = 5;            // containerLogMaxFiles (>= 2)
};

// The rotated files of the log at `path` (<path>.<time> and <path>.<time>.gz, not the
// temporary .tmp files nor an uncompressed file whose .gz exists), oldest first.
std::vector<std::string> RotatedLogFiles(const std::string& path);

// Rotates the log at `path` of container `id` if it reached policy.max_size: removes leftovers
// of failed rotations, removes the oldest rotated files beyond max_files - 2, compresses the
// uncompressed rotated files, renames the current file to <path>.<now> and calls `reopen` (the
// CRI ReopenContainerLog); if that fails the file is renamed back. A missing log file is
// reopened. Returns whether it rotated.
absl::StatusOr<bool> RotateContainerLog(const std::string& path, const LogRotationPolicy& policy,
                                        std::chrono::system_clock::time_point now,
                                        const std::function<absl::Status()>& reopen);

}  // namespace korral::kubelet
