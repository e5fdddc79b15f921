// korral/kubelet/stats/proc.h: node-level readers over /proc and the filesystem: memory
// (/proc/meminfo), CPU count and time (/proc/stat), network interfaces (/proc/net/dev of a
// process or of a network namespace path), filesystems (statvfs), directory usage (a bounded
// walk, like cAdvisor's du), the pid limit and the process count.
//
// `proc_root` is "/proc" on a real node and a temp dir in tests. Thread-safe; never throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace korral::kubelet::stats {

struct InterfaceStats {
  std::string name;
  uint64_t rx_bytes = 0, rx_packets = 0, rx_errors = 0, rx_dropped = 0;
  uint64_t tx_bytes = 0, tx_packets = 0, tx_errors = 0, tx_dropped = 0;
};

// Parses /proc/net/dev text. InvalidArgument if the two header lines are missing.
absl::StatusOr<std::vector<InterfaceStats>> ParseNetDev(std::string_view text);

// The interfaces of the network namespace `pid` lives in (/proc/<pid>/net/dev).
// NotFound if the process is gone.
absl::StatusOr<std::vector<InterfaceStats>> ReadNetDevOfPid(const std::string& proc_root, int pid);

// The interfaces of the network namespace bound at `netns_path` (e.g. a CNI netns file):
// a short-lived thread joins the namespace with setns(2) and reads /proc/thread-self/net/dev,
// so the caller's namespace never changes. Needs CAP_SYS_ADMIN. NotFound if the path is gone.
absl::StatusOr<std::vector<InterfaceStats>> ReadNetDevOfNetns(const std::string& netns_path);

struct MemInfo {
  uint64_t total = 0, free = 0, available = 0, buffers = 0, cached = 0, inactive_file = 0;
};
// /proc/meminfo (values in bytes).
absl::StatusOr<MemInfo> ReadMemInfo(const std::string& proc_root);
absl::StatusOr<MemInfo> ParseMemInfo(std::string_view text);

struct ProcCpu {
  int num_cpus = 0;
  uint64_t busy_ns = 0;  // user+nice+system+irq+softirq+steal over all CPUs, in ns
};
absl::StatusOr<ProcCpu> ReadProcStat(const std::string& proc_root);
absl::StatusOr<ProcCpu> ParseProcStat(std::string_view text);

struct FsInfo {
  uint64_t capacity = 0, available = 0, used = 0;  // bytes; used = capacity - free
  uint64_t inodes = 0, inodes_free = 0;
};
// statvfs(2) of the filesystem holding `path`.
absl::StatusOr<FsInfo> StatFs(const std::string& path);

struct DirUsage {
  uint64_t bytes = 0;      // allocated bytes (st_blocks * 512), hard links counted once
  uint64_t inodes = 0;     // entries, the root included
  bool truncated = false;  // stopped after max_entries
};
// Walks `path` without following symlinks or crossing filesystems. NotFound if absent.
absl::StatusOr<DirUsage> DiskUsage(const std::string& path, uint64_t max_entries = 1'000'000);

// /proc/sys/kernel/pid_max, and the number of processes (numeric entries of proc_root).
absl::StatusOr<uint64_t> ReadPidMax(const std::string& proc_root);
uint64_t CountProcesses(const std::string& proc_root);

}  // namespace korral::kubelet::stats
