// korral/controllers/cronjob/cron.cc
#include "korral/controllers/cronjob/cron.h"

#include <cctype>
#include <map>
#include <vector>

#include <fmt/format.h>

#include "absl/time/civil_time.h"

namespace korral::controllers::workload {

namespace {

struct Bounds {
  int min, max;
  const std::map<std::string, int>* names;
};

const std::map<std::string, int> kMonths = {{"jan", 1}, {"feb", 2},  {"mar", 3},  {"apr", 4},
                                            {"may", 5}, {"jun", 6},  {"jul", 7},  {"aug", 8},
                                            {"sep", 9}, {"oct", 10}, {"nov", 11}, {"dec", 12}};
const std::map<std::string, int> kDays = {{"sun", 0}, {"mon", 1}, {"tue", 2}, {"wed", 3},
                                          {"thu", 4}, {"fri", 5}, {"sat", 6}};

absl::Status Err(std::string msg) { return absl::InvalidArgumentError(absl::string_view(msg)); }

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.emplace_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

absl::StatusOr<int> ParseIntOrName(const std::string& expr, const Bounds& b) {
  if (b.names != nullptr) {
    std::string lower;
    for (char c : expr) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    auto it = b.names->find(lower);
    if (it != b.names->end()) return it->second;
  }
  if (expr.empty() || expr.find_first_not_of("0123456789") != std::string::npos) {
    return Err(
        fmt::format("failed to parse int from {}: strconv.Atoi: parsing \"{}\": invalid "
                    "syntax",
                    expr, expr));
  }
  try {
    return std::stoi(expr);
  } catch (...) {
    return Err(fmt::format("failed to parse int from {}", expr));
  }
}

// One comma-separated range: returns the bits and whether it was a star.
absl::StatusOr<std::pair<uint64_t, bool>> ParseRange(const std::string& expr, const Bounds& b) {
  auto range_and_step = Split(expr, '/');
  auto low_high = Split(range_and_step[0], '-');
  bool single = low_high.size() == 1;
  int start = 0, end = 0;
  bool star = false;
  if (low_high[0] == "*" || low_high[0] == "?") {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    auto s = ParseIntOrName(low_high[0], b);
    if (!s.ok()) return s.status();
    start = *s;
    if (low_high.size() == 1) {
      end = start;
    } else if (low_high.size() == 2) {
      auto e = ParseIntOrName(low_high[1], b);
      if (!e.ok()) return e.status();
      end = *e;
    } else {
      return Err(fmt::format("too many hyphens: {}", expr));
    }
  }
  int step = 1;
  if (range_and_step.size() == 2) {
    auto st = ParseIntOrName(range_and_step[1], Bounds{0, 0, nullptr});
    if (!st.ok()) return st.status();
    step = *st;
    if (single) end = b.max;  // "N/step" means N-max/step
    if (step > 1) star = false;
  } else if (range_and_step.size() > 2) {
    return Err(fmt::format("too many slashes: {}", expr));
  }
  if (start < b.min) {
    return Err(fmt::format("beginning of range ({}) below minimum ({}): {}", start, b.min, expr));
  }
  if (end > b.max) {
    return Err(fmt::format("end of range ({}) above maximum ({}): {}", end, b.max, expr));
  }
  if (start > end) {
    return Err(
        fmt::format("beginning of range ({}) beyond end of range ({}): {}", start, end, expr));
  }
  if (step == 0) return Err(fmt::format("step of range should be a positive number: {}", expr));
  uint64_t bits = 0;
  for (int i = start; i <= end; i += step) bits |= uint64_t{1} << i;
  return std::make_pair(bits, star);
}

absl::StatusOr<std::pair<uint64_t, bool>> ParseField(const std::string& field, const Bounds& b) {
  uint64_t bits = 0;
  bool star = false;
  for (const std::string& r : Split(field, ',')) {
    auto p = ParseRange(r, b);
    if (!p.ok()) return p.status();
    bits |= p->first;
    star = star || p->second;
  }
  return std::make_pair(bits, star);
}

// Go's time.ParseDuration for the units cron uses (h, m, s, ms, us, ns).
absl::StatusOr<std::chrono::seconds> ParseGoDuration(std::string_view s) {
  absl::Duration d;
  if (!absl::ParseDuration(std::string(s), &d)) {
    return Err(fmt::format("failed to parse duration {}: time: invalid duration \"{}\"", s, s));
  }
  auto secs = absl::ToInt64Seconds(d);
  if (secs < 1) secs = 1;  // robfig rounds delays below a second up to one second
  return std::chrono::seconds(secs);
}

std::string Trim(std::string_view s) {
  size_t a = s.find_first_not_of(" \t");
  if (a == std::string_view::npos) return "";
  size_t b = s.find_last_not_of(" \t");
  return std::string(s.substr(a, b - a + 1));
}

}  // namespace

absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name) {
  absl::TimeZone tz = absl::UTCTimeZone();
  if (name.empty() || name == "UTC") return tz;
  if (name == "Local") return absl::LocalTimeZone();
  if (!absl::LoadTimeZone(std::string(name), &tz)) {
    return Err(fmt::format("unknown time zone {}", name));
  }
  return tz;
}

absl::StatusOr<CronSchedule> CronSchedule::Parse(std::string_view spec_in,
                                                 std::string_view default_zone) {
  std::string spec = Trim(spec_in);
  if (spec.empty()) return Err("empty spec string");
  CronSchedule s;
  auto tz = LoadZone(default_zone);
  if (!tz.ok()) return tz.status();
  s.tz_ = *tz;
  if (spec.rfind("TZ=", 0) == 0 || spec.rfind("CRON_TZ=", 0) == 0) {
    size_t space = spec.find(' ');
    size_t eq = spec.find('=');
    std::string zone = spec.substr(eq + 1, space == std::string::npos ? space : space - eq - 1);
    auto z = LoadZone(zone);
    if (!z.ok()) {
      return Err(fmt::format("provided bad location {}: unknown time zone {}", zone, zone));
    }
    s.tz_ = *z;
    spec = space == std::string::npos ? "" : Trim(spec.substr(space));
  }
  if (!spec.empty() && spec[0] == '@') {
    static const std::map<std::string, std::string> kDescriptors = {
        {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
        {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
        {"@hourly", "0 * * * *"}};
    auto it = kDescriptors.find(spec);
    if (it != kDescriptors.end()) {
      spec = it->second;
    } else if (spec.rfind("@every ", 0) == 0) {
      auto d = ParseGoDuration(Trim(spec.substr(7)));
      if (!d.ok()) return d.status();
      s.every_ = *d;
      return s;
    } else {
      return Err(fmt::format("unrecognized descriptor: {}", spec));
    }
  }
  std::vector<std::string> fields;
  for (const std::string& f : Split(spec, ' ')) {
    if (!f.empty()) fields.push_back(f);
  }
  if (fields.size() != 5) {
    return Err(fmt::format("expected exactly 5 fields, found {}: {}", fields.size(), spec));
  }
  auto minute = ParseField(fields[0], {0, 59, nullptr});
  if (!minute.ok()) return minute.status();
  auto hour = ParseField(fields[1], {0, 23, nullptr});
  if (!hour.ok()) return hour.status();
  auto dom = ParseField(fields[2], {1, 31, nullptr});
  if (!dom.ok()) return dom.status();
  auto month = ParseField(fields[3], {1, 12, &kMonths});
  if (!month.ok()) return month.status();
  auto dow = ParseField(fields[4], {0, 6, &kDays});
  if (!dow.ok()) return dow.status();
  s.minute_ = minute->first;
  s.hour_ = hour->first;
  s.dom_ = dom->first;
  s.dom_star_ = dom->second;
  s.month_ = month->first;
  s.dow_ = dow->first;
  s.dow_star_ = dow->second;
  return s;
}

bool CronSchedule::DayMatches(const absl::CivilSecond& cs) const {
  bool dom = (dom_ >> cs.day()) & 1;
  int wd = (static_cast<int>(absl::GetWeekday(cs)) + 1) % 7;  // absl: Monday = 0
  bool dow = (dow_ >> wd) & 1;
  if (dom_star_ || dow_star_) return dom && dow;
  return dom || dow;
}

std::chrono::system_clock::time_point CronSchedule::Next(
    std::chrono::system_clock::time_point tp) const {
  absl::Time t = absl::FromChrono(tp);
  if (every_) {
    // robfig ConstantDelaySchedule: t + delay, rounded down to the second.
    absl::Time n = t + absl::Seconds(every_->count());
    n = absl::FromUnixSeconds(absl::ToUnixSeconds(n));
    return absl::ToChronoTime(n);
  }
  // The upcoming second.
  t = absl::FromUnixSeconds(absl::ToUnixSeconds(t)) + absl::Seconds(1);
  bool added = false;
  auto civil = [&](absl::Time x) { return absl::ToCivilSecond(x, tz_); };
  int year_limit = static_cast<int>(civil(t).year()) + 5;
  for (int guard = 0; guard < 100000; ++guard) {
  wrap:
    absl::CivilSecond cs = civil(t);
    if (cs.year() > year_limit) return {};
    while (!((month_ >> cs.month()) & 1)) {
      if (!added) {
        added = true;
        t = absl::FromCivil(absl::CivilSecond(cs.year(), cs.month(), 1, 0, 0, 0), tz_);
        cs = civil(t);
      }
      t = absl::FromCivil(absl::CivilSecond(cs.year(), cs.month() + 1, cs.day(), cs.hour(),
                                            cs.minute(), cs.second()),
                          tz_);
      cs = civil(t);
      if (cs.month() == 1) goto wrap;
    }
    while (!DayMatches(cs)) {
      if (!added) {
        added = true;
        t = absl::FromCivil(absl::CivilSecond(cs.year(), cs.month(), cs.day(), 0, 0, 0), tz_);
        cs = civil(t);
      }
      t = absl::FromCivil(absl::CivilSecond(cs.year(), cs.month(), cs.day() + 1, cs.hour(),
                                            cs.minute(), cs.second()),
                          tz_);
      cs = civil(t);
      if (cs.hour() != 0) {
        if (cs.hour() > 12) {
          t += absl::Hours(24 - cs.hour());
        } else {
          t -= absl::Hours(cs.hour());
        }
        cs = civil(t);
      }
      if (cs.day() == 1) goto wrap;
    }
    while (!((hour_ >> cs.hour()) & 1)) {
      if (!added) {
        added = true;
        t = absl::FromCivil(absl::CivilSecond(cs.year(), cs.month(), cs.day(), cs.hour(), 0, 0),
                            tz_);
      }
      t += absl::Hours(1);
      cs = civil(t);
      if (cs.hour() == 0) goto wrap;
    }
    while (!((minute_ >> cs.minute()) & 1)) {
      if (!added) {
        added = true;
        t = absl::FromUnixSeconds(absl::ToUnixSeconds(t) / 60 * 60);
      }
      t += absl::Minutes(1);
      cs = civil(t);
      if (cs.minute() == 0) goto wrap;
    }
    if (cs.second() != 0) {
      // Seconds field is always 0 in the standard parser.
      if (!added) added = true;
      t = absl::FromUnixSeconds(absl::ToUnixSeconds(t) / 60 * 60) + absl::Minutes(1);
      goto wrap;
    }
    return absl::ToChronoTime(t);
  }
  return {};
}

}  // namespace korral::controllers::workload
