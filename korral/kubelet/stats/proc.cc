#include "korral/kubelet/stats/proc.h"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <set>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "korral/kubelet/stats/cgroup.h"

namespace korral::kubelet::stats {

namespace {

bool ParseU64(std::string_view s, uint64_t* v) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// Splits on runs of spaces/tabs.
std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t') ++j;
    if (j > i) out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

template <typename Fn>
void ForEachLine(std::string_view text, Fn&& fn) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    fn(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
}

}  // namespace

absl::StatusOr<std::vector<InterfaceStats>> ParseNetDev(std::string_view text) {
  std::vector<InterfaceStats> out;
  int line_no = 0;
  bool header = false;
  ForEachLine(text, [&](std::string_view line) {
    ++line_no;
    if (line_no <= 2) {
      if (line.find('|') != std::string_view::npos) header = true;
      return;
    }
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    std::string_view name = line.substr(0, colon);
    while (!name.empty() && name.front() == ' ') name.remove_prefix(1);
    auto f = Fields(line.substr(colon + 1));
    if (f.size() < 16 || name.empty()) return;
    uint64_t v[16];
    for (int i = 0; i < 16; ++i) {
      if (!ParseU64(f[i], &v[i])) return;
    }
    InterfaceStats s;
    s.name = std::string(name);
    s.rx_bytes = v[0];
    s.rx_packets = v[1];
    s.rx_errors = v[2];
    s.rx_dropped = v[3];
    s.tx_bytes = v[8];
    s.tx_packets = v[9];
    s.tx_errors = v[10];
    s.tx_dropped = v[11];
    out.push_back(std::move(s));
  });
  if (!header) return absl::InvalidArgumentError("not a /proc/net/dev file (no header)");
  return out;
}

absl::StatusOr<std::vector<InterfaceStats>> ReadNetDevOfPid(const std::string& proc_root, int pid) {
  std::string text;
  std::string path = fmt::format("{}/{}/net/dev", proc_root, pid);
  if (pid <= 0 || !ReadSmallFile(path, &text)) {
    return absl::NotFoundError(fmt::format("cannot read {}", path));
  }
  return ParseNetDev(text);
}

absl::StatusOr<std::vector<InterfaceStats>> ReadNetDevOfNetns(const std::string& netns_path) {
  int fd = ::open(netns_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        fmt::format("cannot open netns {}: {}", netns_path, std::strerror(errno)));
  }
  absl::StatusOr<std::vector<InterfaceStats>> result = absl::InternalError("not run");
  // setns(CLONE_NEWNET) changes only the calling thread; that thread ends right after.
  std::thread t([&] {
    if (::setns(fd, CLONE_NEWNET) != 0) {
      result = absl::PermissionDeniedError(
          fmt::format("setns {}: {}", netns_path, std::strerror(errno)));
      return;
    }
    std::string text;
    if (!ReadSmallFile("/proc/thread-self/net/dev", &text)) {
      result = absl::InternalError("cannot read /proc/thread-self/net/dev");
      return;
    }
    result = ParseNetDev(text);
  });
  t.join();
  ::close(fd);
  return result;
}

absl::StatusOr<MemInfo> ParseMemInfo(std::string_view text) {
  MemInfo m;
  bool have_total = false;
  ForEachLine(text, [&](std::string_view line) {
    auto f = Fields(line);
    if (f.size() < 2) return;
    uint64_t v;
    if (!ParseU64(f[1], &v)) return;
    if (f.size() >= 3 && f[2] == "kB") v *= 1024;
    std::string_view k = f[0];
    if (k == "MemTotal:") {
      m.total = v;
      have_total = true;
    } else if (k == "MemFree:") {
      m.free = v;
    } else if (k == "MemAvailable:") {
      m.available = v;
    } else if (k == "Buffers:") {
      m.buffers = v;
    } else if (k == "Cached:") {
      m.cached = v;
    } else if (k == "Inactive(file):") {
      m.inactive_file = v;
    }
  });
  if (!have_total) return absl::InvalidArgumentError("meminfo has no MemTotal");
  return m;
}

absl::StatusOr<MemInfo> ReadMemInfo(const std::string& proc_root) {
  std::string text;
  if (!ReadSmallFile(proc_root + "/meminfo", &text)) {
    return absl::NotFoundError(fmt::format("cannot read {}/meminfo", proc_root));
  }
  return ParseMemInfo(text);
}

absl::StatusOr<ProcCpu> ParseProcStat(std::string_view text) {
  ProcCpu c;
  bool have_total = false;
  long hz = ::sysconf(_SC_CLK_TCK);
  const uint64_t ns_per_tick = 1'000'000'000 / static_cast<uint64_t>(hz > 0 ? hz : 100);
  ForEachLine(text, [&](std::string_view line) {
    if (line.rfind("cpu", 0) != 0) return;
    auto f = Fields(line);
    if (f.empty()) return;
    if (f[0] == "cpu") {
      // user nice system idle iowait irq softirq steal
      const int busy[] = {1, 2, 3, 6, 7, 8};
      uint64_t ticks = 0;
      for (int i : busy) {
        uint64_t v;
        if (static_cast<size_t>(i) < f.size() && ParseU64(f[i], &v)) ticks += v;
      }
      c.busy_ns = ticks * ns_per_tick;
      have_total = true;
    } else {
      ++c.num_cpus;
    }
  });
  if (!have_total) return absl::InvalidArgumentError("/proc/stat has no cpu line");
  return c;
}

absl::StatusOr<ProcCpu> ReadProcStat(const std::string& proc_root) {
  std::string text;
  if (!ReadSmallFile(proc_root + "/stat", &text)) {
    return absl::NotFoundError(fmt::format("cannot read {}/stat", proc_root));
  }
  return ParseProcStat(text);
}

absl::StatusOr<FsInfo> StatFs(const std::string& path) {
  struct statvfs st;
  if (::statvfs(path.c_str(), &st) != 0) {
    return absl::NotFoundError(fmt::format("statvfs {}: {}", path, std::strerror(errno)));
  }
  FsInfo fs;
  uint64_t frsize = st.f_frsize ? st.f_frsize : st.f_bsize;
  fs.capacity = static_cast<uint64_t>(st.f_blocks) * frsize;
  fs.available = static_cast<uint64_t>(st.f_bavail) * frsize;
  uint64_t free_bytes = static_cast<uint64_t>(st.f_bfree) * frsize;
  fs.used = fs.capacity > free_bytes ? fs.capacity - free_bytes : 0;
  fs.inodes = st.f_files;
  fs.inodes_free = st.f_ffree;
  return fs;
}

absl::StatusOr<DirUsage> DiskUsage(const std::string& path, uint64_t max_entries) {
  struct stat root;
  if (::lstat(path.c_str(), &root) != 0) {
    return absl::NotFoundError(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  DirUsage u;
  std::set<std::pair<dev_t, ino_t>> linked;  // multiply-linked files seen
  std::vector<std::string> stack{path};
  u.bytes += static_cast<uint64_t>(root.st_blocks) * 512;
  u.inodes = 1;
  if (!S_ISDIR(root.st_mode)) return u;
  while (!stack.empty()) {
    std::string dir = std::move(stack.back());
    stack.pop_back();
    DIR* d = ::opendir(dir.c_str());
    if (!d) continue;
    int dfd = ::dirfd(d);
    while (struct dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (u.inodes >= max_entries) {
        u.truncated = true;
        break;
      }
      struct stat st;
      if (::fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (st.st_dev != root.st_dev) continue;
      if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 &&
          !linked.insert({st.st_dev, st.st_ino}).second) {
        continue;
      }
      ++u.inodes;
      u.bytes += static_cast<uint64_t>(st.st_blocks) * 512;
      if (S_ISDIR(st.st_mode)) stack.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
    if (u.truncated) break;
  }
  return u;
}

absl::StatusOr<uint64_t> ReadPidMax(const std::string& proc_root) {
  std::string text;
  if (!ReadSmallFile(proc_root + "/sys/kernel/pid_max", &text)) {
    return absl::NotFoundError("cannot read pid_max");
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  uint64_t v;
  if (!ParseU64(text, &v)) return absl::InvalidArgumentError("malformed pid_max");
  return v;
}

uint64_t CountProcesses(const std::string& proc_root) {
  DIR* d = ::opendir(proc_root.c_str());
  if (!d) return 0;
  uint64_t n = 0;
  while (struct dirent* e = ::readdir(d)) {
    const char* p = e->d_name;
    if (*p == '\0') continue;
    bool numeric = true;
    for (; *p; ++p) {
      if (*p < '0' || *p > '9') {
        numeric = false;
        break;
      }
    }
    if (numeric) ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace korral::kubelet::stats
