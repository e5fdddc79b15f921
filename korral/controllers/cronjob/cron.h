// korral/controllers/cronjob/cron.h: cron schedules as the CronJob controller parses them
// (robfig/cron v3 ParseStandard): five fields (minute hour day-of-month month day-of-week) with
// lists, ranges, steps, month and weekday names and `?`; descriptors @yearly @annually @monthly
// @weekly @daily @midnight @hourly and `@every <duration>`; an optional `CRON_TZ=<zone>` or
// `TZ=<zone>` prefix. Times are computed in the schedule's time zone (the IANA database via
// absl::time), so daylight-saving transitions follow robfig's rules.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace korral::controllers::workload {

class CronSchedule {
 public:
  // `default_zone` applies when the spec has no TZ= prefix ("" or "UTC": UTC).
  static absl::StatusOr<CronSchedule> Parse(std::string_view spec,
                                            std::string_view default_zone = "UTC");
  // The first activation strictly after `t` (epoch when none within five years).
  std::chrono::system_clock::time_point Next(std::chrono::system_clock::time_point t) const;

 private:
  bool DayMatches(const absl::CivilSecond& cs) const;
  uint64_t minute_ = 0, hour_ = 0, dom_ = 0, month_ = 0, dow_ = 0;
  bool dom_star_ = false, dow_star_ = false;
  std::optional<std::chrono::seconds> every_;
  absl::TimeZone tz_;
};

// Loads an IANA zone ("" means UTC); InvalidArgument with Go's message shape otherwise.
absl::StatusOr<absl::TimeZone> LoadZone(std::string_view name);

}  // namespace korral::controllers::workload
