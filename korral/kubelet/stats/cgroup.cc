#include "korral/kubelet/stats/cgroup.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

namespace korral::kubelet::stats {

namespace {

// Values at or above this mean "no limit" (v1 writes PAGE_COUNTER_MAX * page size).
constexpr uint64_t kUnlimitedThreshold = uint64_t{1} << 62;

bool IsDir(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

bool ParseU64(std::string_view s, uint64_t* v) {
  s = Trim(s);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool ParseI64(std::string_view s, int64_t* v) {
  s = Trim(s);
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Reads a file holding one unsigned number or "max" (-> 0 with *is_max set).
bool ReadU64File(const std::string& path, uint64_t* v, bool* is_max = nullptr) {
  std::string text;
  if (!ReadSmallFile(path, &text)) return false;
  std::string_view t = Trim(text);
  if (t == "max") {
    *v = 0;
    if (is_max) *is_max = true;
    return true;
  }
  return ParseU64(t, v);
}

// Calls fn(key, value) for each "key value" line.
template <typename Fn>
void ForEachKeyValue(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    uint64_t v;
    if (!ParseU64(line.substr(sp + 1), &v)) continue;
    fn(line.substr(0, sp), v);
  }
}

std::string Join(std::string_view dir, std::string_view cgroup) {
  std::string out(dir);
  while (!cgroup.empty() && cgroup.front() == '/') cgroup.remove_prefix(1);
  while (!cgroup.empty() && cgroup.back() == '/') cgroup.remove_suffix(1);
  if (!cgroup.empty()) {
    out += '/';
    out += cgroup;
  }
  return out;
}

DeviceIo* FindDevice(CgroupIo* io, uint32_t major, uint32_t minor) {
  for (auto& d : io->devices) {
    if (d.major == major && d.minor == minor) return &d;
  }
  io->devices.push_back(DeviceIo{major, minor});
  return &io->devices.back();
}

bool ParseDevice(std::string_view s, uint32_t* major, uint32_t* minor) {
  size_t colon = s.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t a, b;
  if (!ParseU64(s.substr(0, colon), &a) || !ParseU64(s.substr(colon + 1), &b)) return false;
  *major = static_cast<uint32_t>(a);
  *minor = static_cast<uint32_t>(b);
  return true;
}

void FinishIo(CgroupIo* io) {
  std::sort(io->devices.begin(), io->devices.end(), [](const DeviceIo& a, const DeviceIo& b) {
    return std::tie(a.major, a.minor) < std::tie(b.major, b.minor);
  });
  io->read_bytes = io->write_bytes = io->reads = io->writes = 0;
  for (const auto& d : io->devices) {
    io->read_bytes += d.read_bytes;
    io->write_bytes += d.write_bytes;
    io->reads += d.reads;
    io->writes += d.writes;
  }
}

uint64_t UserHz() {
  static const uint64_t hz = [] {
    long v = ::sysconf(_SC_CLK_TCK);
    return v > 0 ? static_cast<uint64_t>(v) : uint64_t{100};
  }();
  return hz;
}

void ReadCpuV1(const CgroupLayout& layout, std::string_view cgroup, CgroupCpu* cpu) {
  std::string acct = layout.Dir("cpuacct", cgroup);
  std::string text;
  if (!acct.empty()) {
    cpu->ok = ReadU64File(acct + "/cpuacct.usage", &cpu->usage_ns);
    if (ReadSmallFile(acct + "/cpuacct.stat", &text)) {
      const uint64_t ns_per_tick = 1'000'000'000 / UserHz();
      ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
        if (k == "user") cpu->user_ns = v * ns_per_tick;
        if (k == "system") cpu->system_ns = v * ns_per_tick;
      });
    }
  }
  std::string dir = layout.Dir("cpu", cgroup);
  if (dir.empty()) return;
  if (ReadSmallFile(dir + "/cpu.stat", &text)) ParseCpuStat(text, CgroupVersion::kV1, cpu);
  ReadU64File(dir + "/cpu.shares", &cpu->shares);
  ReadU64File(dir + "/cpu.cfs_period_us", &cpu->period_us);
  if (ReadSmallFile(dir + "/cpu.cfs_quota_us", &text)) {
    int64_t q;
    if (ParseI64(text, &q)) cpu->quota_us = q < 0 ? -1 : q;
  }
}

void ReadCpuV2(const CgroupLayout& layout, std::string_view cgroup, CgroupCpu* cpu) {
  std::string dir = layout.Dir("cpu", cgroup);
  std::string text;
  if (ReadSmallFile(dir + "/cpu.stat", &text)) {
    ParseCpuStat(text, CgroupVersion::kV2, cpu);
    cpu->ok = true;
  }
  uint64_t weight;
  if (ReadU64File(dir + "/cpu.weight", &weight) && weight > 0) {
    // cAdvisor's inverse of the runc shares -> weight mapping.
    cpu->shares = 2 + ((weight - 1) * 262142) / 9999;
  }
  if (ReadSmallFile(dir + "/cpu.max", &text)) {
    std::string_view t = Trim(text);
    size_t sp = t.find(' ');
    std::string_view quota = t.substr(0, sp);
    int64_t q;
    if (quota != "max" && ParseI64(quota, &q)) cpu->quota_us = q;
    uint64_t p;
    if (sp != std::string_view::npos && ParseU64(t.substr(sp + 1), &p)) cpu->period_us = p;
  }
}

void ReadMemory(const CgroupLayout& layout, std::string_view cgroup, CgroupMemory* mem) {
  std::string dir = layout.Dir("memory", cgroup);
  if (dir.empty()) return;
  std::string text;
  bool v2 = layout.version == CgroupVersion::kV2;
  if (!v2) {
    mem->ok = ReadU64File(dir + "/memory.usage_in_bytes", &mem->usage);
    ReadU64File(dir + "/memory.max_usage_in_bytes", &mem->max_usage);
    ReadU64File(dir + "/memory.failcnt", &mem->failcnt);
    ReadU64File(dir + "/memory.limit_in_bytes", &mem->limit);
  } else {
    mem->ok = ReadU64File(dir + "/memory.current", &mem->usage);
    ReadU64File(dir + "/memory.peak", &mem->max_usage);
    ReadU64File(dir + "/memory.max", &mem->limit);
    ReadU64File(dir + "/memory.swap.current", &mem->swap);
    if (ReadSmallFile(dir + "/memory.events", &text)) {
      ForEachKeyValue(text, [&](std::string_view k, uint64_t v) {
        if (k == "max") mem->failcnt = v;
      });
    }
  }
  if (mem->limit >= kUnlimitedThreshold) mem->limit = 0;
  if (ReadSmallFile(dir + "/memory.stat", &text)) {
    ParseMemoryStat(text, layout.version, mem);
  }
  mem->working_set = mem->usage > mem->inactive_file ? mem->usage - mem->inactive_file : 0;
}

void ReadPids(const CgroupLayout& layout, std::string_view cgroup, CgroupPids* pids) {
  std::string dir = layout.Dir("pids", cgroup);
  if (dir.empty()) return;
  pids->ok = ReadU64File(dir + "/pids.current", &pids->current);
  ReadU64File(dir + "/pids.max", &pids->limit);
}

void ReadIo(const CgroupLayout& layout, std::string_view cgroup, CgroupIo* io) {
  std::string text;
  if (layout.version == CgroupVersion::kV2) {
    std::string dir = layout.Dir("io", cgroup);
    if (dir.empty() || !ReadSmallFile(dir + "/io.stat", &text)) return;
    ParseIoStat(text, io);
    io->ok = true;
    return;
  }
  std::string dir = layout.Dir("blkio", cgroup);
  if (dir.empty()) return;
  if (ReadSmallFile(dir + "/blkio.throttle.io_service_bytes_recursive", &text) ||
      ReadSmallFile(dir + "/blkio.throttle.io_service_bytes", &text)) {
    ParseBlkioLines(text, /*bytes=*/true, io);
    io->ok = true;
  }
  if (ReadSmallFile(dir + "/blkio.throttle.io_serviced_recursive", &text) ||
      ReadSmallFile(dir + "/blkio.throttle.io_serviced", &text)) {
    ParseBlkioLines(text, /*bytes=*/false, io);
    io->ok = true;
  }
  FinishIo(io);
}

}  // namespace

bool ReadSmallFile(const std::string& path, std::string* out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char buf[65536];
  size_t total = 0;
  bool ok = true;
  while (total < sizeof(buf)) {
    ssize_t n = ::read(fd, buf + total, sizeof(buf) - total);
    if (n < 0) {
      if (errno == EINTR) continue;
      ok = false;
      break;
    }
    if (n == 0) break;
    total += static_cast<size_t>(n);
  }
  ::close(fd);
  if (!ok) return false;
  out->assign(buf, total);
  return true;
}

std::string CgroupLayout::Dir(std::string_view controller, std::string_view cgroup) const {
  if (version == CgroupVersion::kV2) return Join(unified_root, cgroup);
  auto it = v1_mounts.find(controller);
  if (it == v1_mounts.end()) return "";
  return Join(it->second, cgroup);
}

absl::StatusOr<CgroupLayout> DetectCgroupLayout(const std::string& root) {
  CgroupLayout layout;
  if (Exists(root + "/cgroup.controllers")) {
    layout.version = CgroupVersion::kV2;
    layout.unified_root = root;
    return layout;
  }
  struct Candidate {
    const char* controller;
    std::vector<const char*> dirs;
  };
  const Candidate candidates[] = {
      {"cpu", {"cpu", "cpu,cpuacct", "cpuacct,cpu"}},
      {"cpuacct", {"cpuacct", "cpu,cpuacct", "cpuacct,cpu"}},
      {"memory", {"memory"}},
      {"pids", {"pids"}},
      {"blkio", {"blkio"}},
  };
  for (const auto& c : candidates) {
    for (const char* d : c.dirs) {
      std::string dir = root + "/" + d;
      if (IsDir(dir) && Exists(dir + "/cgroup.procs")) {
        layout.v1_mounts[c.controller] = dir;
        break;
      }
    }
  }
  if (!layout.v1_mounts.count("memory") && !layout.v1_mounts.count("cpuacct")) {
    // A hybrid machine whose v1 hierarchies are absent but whose unified one has controllers.
    std::string text;
    std::string unified = root + "/unified";
    if (ReadSmallFile(unified + "/cgroup.controllers", &text) &&
        text.find("memory") != std::string::npos) {
      CgroupLayout v2;
      v2.version = CgroupVersion::kV2;
      v2.unified_root = unified;
      return v2;
    }
    return absl::NotFoundError(fmt::format("no cgroup memory or cpuacct hierarchy under {}", root));
  }
  return layout;
}

void ParseMemoryStat(std::string_view text, CgroupVersion version, CgroupMemory* m) {
  if (version == CgroupVersion::kV1) {
    ForEachKeyValue(text, [m](std::string_view k, uint64_t v) {
      if (k == "total_cache")
        m->cache = v;
      else if (k == "total_rss")
        m->rss = v;
      else if (k == "total_mapped_file")
        m->mapped_file = v;
      else if (k == "total_swap")
        m->swap = v;
      else if (k == "total_inactive_file")
        m->inactive_file = v;
      else if (k == "pgfault")
        m->pgfault = v;
      else if (k == "pgmajfault")
        m->pgmajfault = v;
      else if (k == "total_pgfault")
        m->hierarchical_pgfault = v;
      else if (k == "total_pgmajfault")
        m->hierarchical_pgmajfault = v;
    });
    return;
  }
  ForEachKeyValue(text, [m](std::string_view k, uint64_t v) {
    if (k == "file")
      m->cache = v;
    else if (k == "anon")
      m->rss = v;
    else if (k == "file_mapped")
      m->mapped_file = v;
    else if (k == "inactive_file")
      m->inactive_file = v;
    else if (k == "pgfault")
      m->pgfault = m->hierarchical_pgfault = v;
    else if (k == "pgmajfault")
      m->pgmajfault = m->hierarchical_pgmajfault = v;
  });
}

void ParseCpuStat(std::string_view text, CgroupVersion version, CgroupCpu* c) {
  if (version == CgroupVersion::kV1) {
    ForEachKeyValue(text, [c](std::string_view k, uint64_t v) {
      if (k == "nr_periods")
        c->periods = v;
      else if (k == "nr_throttled")
        c->throttled_periods = v;
      else if (k == "throttled_time")
        c->throttled_ns = v;
    });
    return;
  }
  ForEachKeyValue(text, [c](std::string_view k, uint64_t v) {
    if (k == "usage_usec")
      c->usage_ns = v * 1000;
    else if (k == "user_usec")
      c->user_ns = v * 1000;
    else if (k == "system_usec")
      c->system_ns = v * 1000;
    else if (k == "nr_periods")
      c->periods = v;
    else if (k == "nr_throttled")
      c->throttled_periods = v;
    else if (k == "throttled_usec")
      c->throttled_ns = v * 1000;
  });
}

void ParseBlkioLines(std::string_view text, bool bytes, CgroupIo* io) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    // "8:0 Read 4096"; the "Total N" summary lines have two fields and are skipped.
    size_t a = line.find(' ');
    if (a == std::string_view::npos) continue;
    size_t b = line.find(' ', a + 1);
    if (b == std::string_view::npos) continue;
    uint32_t major, minor;
    uint64_t v;
    if (!ParseDevice(line.substr(0, a), &major, &minor)) continue;
    if (!ParseU64(line.substr(b + 1), &v)) continue;
    std::string_view op = line.substr(a + 1, b - a - 1);
    if (op != "Read" && op != "Write") continue;
    DeviceIo* d = FindDevice(io, major, minor);
    if (op == "Read")
      (bytes ? d->read_bytes : d->reads) = v;
    else
      (bytes ? d->write_bytes : d->writes) = v;
  }
  FinishIo(io);
}

void ParseIoStat(std::string_view text, CgroupIo* io) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(pos, nl - pos);
    pos = nl + 1;
    size_t sp = line.find(' ');
    uint32_t major, minor;
    if (sp == std::string_view::npos || !ParseDevice(line.substr(0, sp), &major, &minor)) continue;
    DeviceIo* d = FindDevice(io, major, minor);
    std::string_view rest = line.substr(sp + 1);
    while (!rest.empty()) {
      size_t end = rest.find(' ');
      std::string_view kv = rest.substr(0, end);
      rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
      size_t eq = kv.find('=');
      uint64_t v;
      if (eq == std::string_view::npos || !ParseU64(kv.substr(eq + 1), &v)) continue;
      std::string_view k = kv.substr(0, eq);
      if (k == "rbytes")
        d->read_bytes = v;
      else if (k == "wbytes")
        d->write_bytes = v;
      else if (k == "rios")
        d->reads = v;
      else if (k == "wios")
        d->writes = v;
    }
  }
  FinishIo(io);
}

absl::StatusOr<CgroupStats> ReadCgroupStats(const CgroupLayout& layout, std::string_view cgroup) {
  CgroupStats s;
  if (layout.version == CgroupVersion::kV2) {
    if (!IsDir(layout.Dir("memory", cgroup))) {
      return absl::NotFoundError(fmt::format("cgroup {} not found", cgroup));
    }
    ReadCpuV2(layout, cgroup, &s.cpu);
  } else {
    ReadCpuV1(layout, cgroup, &s.cpu);
  }
  ReadMemory(layout, cgroup, &s.memory);
  ReadPids(layout, cgroup, &s.pids);
  ReadIo(layout, cgroup, &s.io);
  if (!s.cpu.ok && !s.memory.ok && !s.pids.ok && !s.io.ok) {
    return absl::NotFoundError(fmt::format("cgroup {} not found", cgroup));
  }
  return s;
}

}  // namespace korral::kubelet::stats
