// korral/kubelet/stats/cgroup.h: readers for the resource accounting files of one cgroup, for
// cgroup v1 (one hierarchy per controller: cpu, cpuacct, memory, pids, blkio; combined
// "cpu,cpuacct" mounts work too) and cgroup v2 (one unified hierarchy).
//
// The numbers are the ones cAdvisor reports for a container:
//   cpu:    usage (cpuacct.usage | cpu.stat usage_usec), user/system, CFS periods, throttled
//           periods and time (cpu.stat), and the spec (shares/weight, quota, period).
//   memory: usage (memory.usage_in_bytes | memory.current), max usage, limit (0 = unlimited),
//           failcnt (memory.failcnt | memory.events "max"), cache, rss, mapped_file, swap,
//           page faults (container scope and hierarchy), working set = usage - inactive_file
//           (floored at 0), from memory.stat (total_* keys on v1).
//   pids:   pids.current and pids.max (0 = unlimited).
//   io:     bytes and operations per device (blkio.throttle.io_service_bytes[_recursive] and
//           io_serviced | io.stat).
//
// All functions are thread-safe (no shared state) and never throw. Files are read with plain
// read(2) into a stack buffer; a missing file leaves its section with ok == false.
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(CgroupLayout layout, DetectCgroupLayout("/sys/fs/cgroup"));
//   KORRAL_ASSIGN_OR_RETURN(CgroupStats s, ReadCgroupStats(layout, "/kubepods/pod123/abc"));
//   uint64_t ws = s.memory.working_set;
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace korral::kubelet::stats {

enum class CgroupVersion { kV1, kV2 };

// Where each controller's hierarchy is mounted.
struct CgroupLayout {
  CgroupVersion version = CgroupVersion::kV1;
  // v1: controller ("cpu", "cpuacct", "memory", "pids", "blkio") -> mount directory.
  std::map<std::string, std::string, std::less<>> v1_mounts;
  // v2: the unified hierarchy's root directory.
  std::string unified_root;

  // The directory of `cgroup` ("/kubepods/pod1/c1"; "/" or "" is the root) in the hierarchy
  // holding `controller`; empty if that controller is not mounted.
  std::string Dir(std::string_view controller, std::string_view cgroup) const;
};

// Finds the hierarchies under `root` (normally /sys/fs/cgroup):
//  - cgroup v2 if root/cgroup.controllers exists (pure unified mount);
//  - else cgroup v1 with each of cpu, cpuacct, memory, pids, blkio found as root/<name> or in a
//    combined root/cpu,cpuacct directory (hybrid machines' root/unified is ignored unless it
//    is the only hierarchy with controllers).
// Returns NotFound if neither a memory nor a cpu accounting hierarchy exists.
absl::StatusOr<CgroupLayout> DetectCgroupLayout(const std::string& root = "/sys/fs/cgroup");

struct CgroupCpu {
  bool ok = false;  // usage was read
  uint64_t usage_ns = 0;
  uint64_t user_ns = 0;
  uint64_t system_ns = 0;
  uint64_t periods = 0;
  uint64_t throttled_periods = 0;
  uint64_t throttled_ns = 0;
  // Spec: shares (v2: weight converted to shares as cAdvisor does), quota in microseconds
  // (-1 = no quota) and period in microseconds.
  uint64_t shares = 0;
  int64_t quota_us = -1;
  uint64_t period_us = 0;
};

struct CgroupMemory {
  bool ok = false;  // usage was read
  uint64_t usage = 0;
  uint64_t max_usage = 0;
  uint64_t limit = 0;  // 0: unlimited
  uint64_t failcnt = 0;
  uint64_t cache = 0;
  uint64_t rss = 0;
  uint64_t mapped_file = 0;
  uint64_t swap = 0;
  uint64_t inactive_file = 0;
  uint64_t working_set = 0;
  uint64_t pgfault = 0;  // container scope
  uint64_t pgmajfault = 0;
  uint64_t hierarchical_pgfault = 0;  // hierarchy scope
  uint64_t hierarchical_pgmajfault = 0;
};

struct CgroupPids {
  bool ok = false;
  uint64_t current = 0;
  uint64_t limit = 0;  // 0: unlimited
};

struct DeviceIo {
  uint32_t major = 0, minor = 0;
  uint64_t read_bytes = 0, write_bytes = 0, reads = 0, writes = 0;
};

struct CgroupIo {
  bool ok = false;
  std::vector<DeviceIo> devices;                                    // sorted by (major, minor)
  uint64_t read_bytes = 0, write_bytes = 0, reads = 0, writes = 0;  // over all devices
};

struct CgroupStats {
  CgroupCpu cpu;
  CgroupMemory memory;
  CgroupPids pids;
  CgroupIo io;
};

// Reads every section for `cgroup`. Returns NotFound if the cgroup exists in none of the
// mounted hierarchies (e.g. the container is gone); sections whose files are missing or
// unreadable keep ok == false.
absl::StatusOr<CgroupStats> ReadCgroupStats(const CgroupLayout& layout, std::string_view cgroup);

// Parsers, exposed for tests and fuzzing. Unknown keys are ignored; malformed lines skipped.
void ParseMemoryStat(std::string_view text, CgroupVersion version, CgroupMemory* out);
void ParseCpuStat(std::string_view text, CgroupVersion version, CgroupCpu* out);
// v1 blkio "8:0 Read 4096" lines; `bytes` selects which DeviceIo fields get the values.
void ParseBlkioLines(std::string_view text, bool bytes, CgroupIo* out);
// v2 io.stat "8:0 rbytes=1 wbytes=2 rios=3 wios=4 ..." lines.
void ParseIoStat(std::string_view text, CgroupIo* out);

// Reads a small file (at most 64 KiB) into *out. False if it cannot be opened or read.
bool ReadSmallFile(const std::string& path, std::string* out);

}  // namespace korral::kubelet::stats
