#include "korral/kubelet/logrotate.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <set>

#include "absl/status/statusor.h"
#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::kubelet {

namespace fs = std::filesystem;

namespace {

constexpr char kGz[] = ".gz";
constexpr char kTmp[] = ".tmp";

bool EndsWith(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix.data(), suffix.size()) == 0;
}

// Every file named <path>.* (upstream's glob), sorted.
std::vector<std::string> Glob(const std::string& path) {
  std::vector<std::string> out;
  fs::path p(path);
  std::string prefix = p.filename().string() + ".";
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p.parent_path(), ec)) {
    std::string name = e.path().filename().string();
    if (name.size() > prefix.size() && name.compare(0, prefix.size(), prefix) == 0) {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Upstream's isInUse: temporary files are not, compressed files are, and an uncompressed file is
// unless its compressed copy exists.
bool InUse(const std::string& l, const std::set<std::string>& all) {
  if (EndsWith(l, kTmp)) return false;
  if (EndsWith(l, kGz)) return true;
  return all.count(l + kGz) == 0;
}

absl::Status Compress(const std::string& log) {
  FILE* in = std::fopen(log.c_str(), "rb");
  if (!in) return absl::InternalError("open " + log);
  std::string tmp = log + kTmp;
  gzFile out = gzopen(tmp.c_str(), "wb");
  if (!out) {
    std::fclose(in);
    return absl::InternalError("create " + tmp);
  }
  char buf[1 << 16];
  size_t n;
  bool ok = true;
  while ((n = std::fread(buf, 1, sizeof buf, in)) > 0) {
    if (gzwrite(out, buf, static_cast<unsigned>(n)) != static_cast<int>(n)) {
      ok = false;
      break;
    }
  }
  std::fclose(in);
  if (gzclose(out) != Z_OK) ok = false;
  if (!ok) {
    std::remove(tmp.c_str());
    return absl::InternalError("compress " + log);
  }
  std::error_code ec;
  fs::rename(tmp, log + kGz, ec);
  if (ec) return absl::InternalError("rename " + tmp + ": " + ec.message());
  fs::remove(log, ec);
  return absl::OkStatus();
}

}  // namespace

std::vector<std::string> RotatedLogFiles(const std::string& path) {
  std::vector<std::string> all = Glob(path);
  std::set<std::string> set(all.begin(), all.end());
  std::vector<std::string> out;
  for (const auto& l : all) {
    if (InUse(l, set)) out.push_back(l);
  }
  // Sorted by name = by timestamp (a .gz sorts right after its uncompressed name, which is
  // never listed next to it).
  return out;
}

absl::StatusOr<bool> RotateContainerLog(const std::string& path, const LogRotationPolicy& policy,
                                        std::chrono::system_clock::time_point now,
                                        const std::function<absl::Status()>& reopen) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    // The log file is gone (removed by hand, or a rotation that failed half way): have the
    // runtime create it again.
    KORRAL_RETURN_IF_ERROR(reopen());
    return false;
  }
  if (st.st_size < policy.max_size) return false;
  // Leftovers of failed rotations.
  std::vector<std::string> logs;
  {
    std::vector<std::string> all = Glob(path);
    std::set<std::string> set(all.begin(), all.end());
    for (const auto& l : all) {
      if (InUse(l, set)) {
        logs.push_back(l);
      } else {
        std::remove(l.c_str());
      }
    }
  }
  // The runtime starts a new file and the current one becomes a rotated one: keep at most
  // max_files - 2 older rotated files, removing the oldest first.
  size_t keep = static_cast<size_t>(std::max(0, policy.max_files - 2));
  while (logs.size() > keep) {
    std::remove(logs.front().c_str());
    logs.erase(logs.begin());
  }
  for (const auto& l : logs) {
    if (EndsWith(l, kGz)) continue;
    absl::Status s = Compress(l);
    if (!s.ok()) KLOG(Warning, "kubelet: compress rotated log: {}", StatusMessage(s));
  }
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  localtime_r(&t, &tm);  // as upstream (time.Now().Format)
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y%m%d-%H%M%S", &tm);
  std::string rotated = path + "." + ts;
  std::error_code ec;
  fs::rename(path, rotated, ec);
  if (ec) return absl::InternalError(fmt::format("rename {}: {}", path, ec.message()));
  absl::Status s = reopen();
  if (!s.ok()) {
    // Rotate again next round.
    fs::rename(rotated, path, ec);
    return absl::Status(s.code(), absl::string_view(fmt::format(
                                      "failed to reopen container log: {}", StatusMessage(s))));
  }
  return true;
}

}  // namespace korral::kubelet
