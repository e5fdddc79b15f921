// korral/controllers/cronjob/cron_test.cc
#include "korral/controllers/cronjob/cron.h"

#include <gtest/gtest.h>

#include "korral/controllers/workload_util/workload_util.h"

namespace korral::controllers::workload {
namespace {

TimePoint T(const std::string& s) { return *ParseTime(s); }
std::string Next(const std::string& spec, const std::string& from, const std::string& tz = "") {
  auto s = CronSchedule::Parse(spec, tz);
  EXPECT_TRUE(s.ok()) << s.status();
  if (!s.ok()) return "";
  return FormatTime(s->Next(T(from)));
}

TEST(Cron, Fields) {
  EXPECT_EQ(Next("*/5 * * * *", "2026-01-01T10:02:30Z"), "2026-01-01T10:05:00Z");
  EXPECT_EQ(Next("*/5 * * * *", "2026-01-01T10:05:00Z"), "2026-01-01T10:10:00Z");
  EXPECT_EQ(Next("0 9 * * mon-fri", "2026-01-02T10:00:00Z"), "2026-01-05T09:00:00Z");  // Fri->Mon
  EXPECT_EQ(Next("30 2 1 jan,jul *", "2026-02-01T00:00:00Z"), "2026-07-01T02:30:00Z");
  EXPECT_EQ(Next("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(Next("15,45 1-3 * * *", "2026-01-01T01:50:00Z"), "2026-01-01T02:15:00Z");
  // Day-of-month OR day-of-week when both are restricted.
  EXPECT_EQ(Next("0 0 13 * 5", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
}

TEST(Cron, Descriptors) {
  EXPECT_EQ(Next("@hourly", "2026-01-01T10:02:30Z"), "2026-01-01T11:00:00Z");
  EXPECT_EQ(Next("@daily", "2026-01-01T10:02:30Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(Next("@weekly", "2026-01-01T10:02:30Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(Next("@monthly", "2026-01-01T10:02:30Z"), "2026-02-01T00:00:00Z");
  EXPECT_EQ(Next("@yearly", "2026-01-01T10:02:30Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(Next("@every 90s", "2026-01-01T10:00:00Z"), "2026-01-01T10:01:30Z");
}

TEST(Cron, TimeZones) {
  // 09:00 in New York is 14:00 UTC in winter.
  EXPECT_EQ(Next("0 9 * * *", "2026-01-01T00:00:00Z", "America/New_York"), "2026-01-01T14:00:00Z");
  EXPECT_EQ(Next("CRON_TZ=Asia/Tokyo 0 9 * * *", "2026-01-01T00:00:00Z"), "2026-01-02T00:00:00Z");
  EXPECT_EQ(Next("TZ=Europe/Berlin 0 9 * * *", "2026-07-01T00:00:00Z"), "2026-07-01T07:00:00Z");
}

TEST(Cron, Errors) {
  EXPECT_FALSE(CronSchedule::Parse("* * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("61 * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("@fortnightly").ok());
  EXPECT_FALSE(CronSchedule::Parse("CRON_TZ=Nowhere/City * * * * *").ok());
  EXPECT_FALSE(CronSchedule::Parse("* * * * 7").ok());
  EXPECT_FALSE(LoadZone("Mars/Base").ok());
  auto s = CronSchedule::Parse("* * * *");
  EXPECT_NE(std::string(s.status().message()).find("expected exactly 5 fields"), std::string::npos);
}

}  // namespace
}  // namespace korral::controllers::workload
