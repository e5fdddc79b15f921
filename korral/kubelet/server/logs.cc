// korral/kubelet/server/logs.cc: see logs.h.
#include "korral/kubelet/server/logs.h"

#include <sys/stat.h>
#include <zlib.h>

#include <charconv>
#include <cstdio>
#include <ctime>
#include <deque>
#include <fstream>
#include <thread>

#include "korral/kubelet/logrotate.h"

namespace korral::kubelet::server {
namespace {

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

bool Digits(std::string_view s, size_t pos, size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// One parsed CRI log entry.
struct Entry {
  std::string_view time;    // as written
  std::string_view stream;  // stdout|stderr
  bool partial = false;
  std::string_view text;  // without the trailing newline
};

bool ParseEntry(std::string_view line, Entry* e) {
  size_t a = line.find(' ');
  if (a == std::string_view::npos) return false;
  size_t b = line.find(' ', a + 1);
  if (b == std::string_view::npos) return false;
  e->time = line.substr(0, a);
  e->stream = line.substr(a + 1, b - a - 1);
  std::string_view rest = line.substr(b + 1);
  // The tag field (P|F) is optional in old files.
  if (rest.size() >= 2 && (rest[0] == 'P' || rest[0] == 'F') && rest[1] == ' ') {
    e->partial = rest[0] == 'P';
    rest.remove_prefix(2);
  } else if (rest == "P" || rest == "F") {
    e->partial = rest[0] == 'P';
    rest = {};
  }
  e->text = rest;
  return true;
}

// RFC3339Nano with exactly nine fraction digits (upstream's output format for timestamps).
std::string FixedNanoTime(std::string_view t) {
  size_t dot = t.find('.');
  size_t zone = t.find_first_of("Z+-", 19);
  if (zone == std::string_view::npos) return std::string(t);
  std::string out(t.substr(0, 19));
  std::string frac;
  if (dot != std::string_view::npos && dot < zone)
    frac = std::string(t.substr(dot + 1, zone - dot - 1));
  frac.resize(9, '0');
  out += "." + frac;
  out += t.substr(zone);
  return out;
}

}  // namespace

std::optional<int64_t> ParseRfc3339Nanos(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
  size_t pos = 19;
  int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int digits = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (digits < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++digits;
      }
      ++pos;
    }
    if (digits == 0) return std::nullopt;
    for (int i = digits; i < 9; ++i) nanos *= 10;
  }
  int64_t offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om)) {
      return std::nullopt;
    }
    offset = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  std::tm tm{};
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  return secs * 1000000000 + nanos;
}

absl::StatusOr<LogOptions> ParseLogOptions(const QueryLookup& query, int64_t now_unix_nanos) {
  LogOptions o;
  auto boolean = [&](std::string_view name, bool* out) -> absl::Status {
    auto v = query(name);
    if (!v) return absl::OkStatus();
    if (*v == "1" || *v == "t" || *v == "T" || *v == "true" || *v == "TRUE" || *v == "True" ||
        v->empty()) {
      *out = true;
    } else if (*v == "0" || *v == "f" || *v == "F" || *v == "false" || *v == "FALSE" ||
               *v == "False") {
      *out = false;
    } else {
      return absl::InvalidArgumentError("invalid boolean value for " + std::string(name) + ": \"" +
                                        std::string(*v) + "\"");
    }
    return absl::OkStatus();
  };
  auto integer = [&](std::string_view name, std::optional<int64_t>* out) -> absl::Status {
    auto v = query(name);
    if (!v) return absl::OkStatus();
    int64_t n;
    if (!ParseInt(*v, &n)) {
      return absl::InvalidArgumentError("invalid integer value for " + std::string(name) + ": \"" +
                                        std::string(*v) + "\"");
    }
    *out = n;
    return absl::OkStatus();
  };
  if (auto s = boolean("follow", &o.follow); !s.ok()) return s;
  if (auto s = boolean("timestamps", &o.timestamps); !s.ok()) return s;
  if (auto s = integer("tailLines", &o.tail_lines); !s.ok()) return s;
  if (auto s = integer("limitBytes", &o.limit_bytes); !s.ok()) return s;
  std::optional<int64_t> since_seconds;
  if (auto s = integer("sinceSeconds", &since_seconds); !s.ok()) return s;
  auto since_time = query("sinceTime");
  if (o.tail_lines && *o.tail_lines < 0) {
    return absl::InvalidArgumentError("tailLines: Invalid value: " + std::to_string(*o.tail_lines) +
                                      ": must be greater than or equal to 0");
  }
  if (o.limit_bytes && *o.limit_bytes < 1) {
    return absl::InvalidArgumentError("limitBytes: Invalid value: " +
                                      std::to_string(*o.limit_bytes) + ": must be greater than 0");
  }
  if (since_seconds && since_time) {
    return absl::InvalidArgumentError(
        "at most one of `sinceTime` or `sinceSeconds` may be specified");
  }
  if (since_seconds) {
    if (*since_seconds < 1) {
      return absl::InvalidArgumentError(
          "sinceSeconds: Invalid value: " + std::to_string(*since_seconds) +
          ": must be greater than 0");
    }
    o.since_unix_nanos = now_unix_nanos - *since_seconds * 1000000000;
  } else if (since_time) {
    auto t = ParseRfc3339Nanos(*since_time);
    if (!t) {
      return absl::InvalidArgumentError("sinceTime: Invalid value: \"" + std::string(*since_time) +
                                        "\": must be an RFC 3339 time");
    }
    o.since_unix_nanos = *t;
  }
  return o;
}

absl::Status StreamLogFile(const std::string& path, const LogOptions& options,
                           const std::function<bool(std::string_view)>& write,
                           const std::function<bool()>& still_running,
                           std::chrono::milliseconds poll) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError("log file \"" + path + "\" not found");
  struct stat st0 {};
  ::stat(path.c_str(), &st0);
  ino_t inode = st0.st_ino;

  int64_t budget = options.limit_bytes.value_or(-1);
  bool done = false;
  // Emits one entry; returns false once output must stop.
  auto emit = [&](const Entry& e) -> bool {
    if (options.since_unix_nanos) {
      auto t = ParseRfc3339Nanos(e.time);
      if (t && *t < *options.since_unix_nanos) return true;
    }
    std::string out;
    if (options.timestamps) out = FixedNanoTime(e.time) + " ";
    out.append(e.text);
    if (!e.partial) out.push_back('\n');
    if (budget >= 0) {
      if (budget == 0) return false;
      if (static_cast<int64_t>(out.size()) > budget) out.resize(static_cast<size_t>(budget));
      budget -= static_cast<int64_t>(out.size());
    }
    if (!write(out)) return false;
    return budget != 0;
  };

  // Initial content: the rotated files (oldest first) and then the current one; all lines, or
  // the last tailLines of them across the files (counting file lines).
  std::deque<std::string> tail;
  auto feed = [&](std::string line) {
    if (options.tail_lines) {
      if (*options.tail_lines == 0) return;
      tail.push_back(std::move(line));
      if (static_cast<int64_t>(tail.size()) > *options.tail_lines) tail.pop_front();
      return;
    }
    Entry e;
    if (ParseEntry(line, &e) && !emit(e)) done = true;
  };
  for (const std::string& rotated : RotatedLogFiles(path)) {
    if (done) break;
    // gzread reads uncompressed files as they are.
    gzFile gz = gzopen(rotated.c_str(), "rb");
    if (!gz) continue;
    std::string pending;
    char buf[1 << 16];
    int n;
    while (!done && (n = gzread(gz, buf, sizeof buf)) > 0) {
      pending.append(buf, static_cast<size_t>(n));
      size_t start = 0, nl;
      while (!done && (nl = pending.find('\n', start)) != std::string::npos) {
        feed(pending.substr(start, nl - start));
        start = nl + 1;
      }
      pending.erase(0, start);
    }
    if (!done && !pending.empty()) feed(std::move(pending));
    gzclose(gz);
  }
  std::string carry;  // an unterminated last line still being written
  {
    std::string line;
    while (!done && std::getline(in, line)) {
      if (in.eof()) {  // no newline yet: the writer is mid-line
        carry = line;
        break;
      }
      feed(std::move(line));
    }
    for (const std::string& l : tail) {
      if (done) break;
      Entry e;
      if (ParseEntry(l, &e) && !emit(e)) done = true;
    }
  }
  if (done || !options.follow) return absl::OkStatus();

  // Follow: poll for appended data; reopen on rotation/truncation; stop once the container
  // stopped and everything was sent.
  in.clear();
  std::streamoff offset = in.tellg();
  if (offset < 0) offset = 0;
  offset -= static_cast<std::streamoff>(carry.size());
  auto last_check = std::chrono::steady_clock::now();
  bool running = true;
  while (true) {
    std::string line;
    bool progressed = false;
    in.clear();
    in.seekg(offset);
    while (std::getline(in, line)) {
      if (in.eof()) break;  // partial line: read again once complete
      offset += static_cast<std::streamoff>(line.size() + 1);
      progressed = true;
      Entry e;
      if (ParseEntry(line, &e) && !emit(e)) return absl::OkStatus();
    }
    if (!running) return absl::OkStatus();
    if (!progressed) {
      if (!write("")) return absl::OkStatus();  // client gone?
      std::this_thread::sleep_for(poll);
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 &&
          (st.st_ino != inode || st.st_size < static_cast<off_t>(offset))) {
        // Rotated or truncated: continue with the new file from its start.
        in.close();
        in.open(path, std::ios::binary);
        inode = st.st_ino;
        offset = 0;
      }
    }
    auto now = std::chrono::steady_clock::now();
    if (now - last_check >= std::chrono::seconds(1)) {
      last_check = now;
      if (!still_running()) running = false;  // one more pass drains what is left
    }
  }
}

}  // namespace korral::kubelet::server
