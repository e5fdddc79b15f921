// Tests for HumanDuration, FormatTime and ParseTime.
#include <chrono>

#include <gtest/gtest.h>

#include "korral/api/resource.h"

namespace korral::api {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(HumanDurationTest, Thresholds) {
  EXPECT_EQ(HumanDuration(seconds(-2)), "<invalid>");
  EXPECT_EQ(HumanDuration(milliseconds(-1500)), "0s");
  EXPECT_EQ(HumanDuration(seconds(0)), "0s");
  EXPECT_EQ(HumanDuration(seconds(119)), "119s");
  EXPECT_EQ(HumanDuration(seconds(120)), "2m");
  EXPECT_EQ(HumanDuration(seconds(123)), "2m3s");
  EXPECT_EQ(HumanDuration(minutes(10) + seconds(5)), "10m");
  EXPECT_EQ(HumanDuration(minutes(179)), "179m");
  EXPECT_EQ(HumanDuration(hours(3)), "3h");
  EXPECT_EQ(HumanDuration(hours(3) + minutes(5)), "3h5m");
  EXPECT_EQ(HumanDuration(hours(8) + minutes(5)), "8h");
  EXPECT_EQ(HumanDuration(hours(47)), "47h");
  EXPECT_EQ(HumanDuration(hours(48)), "2d");
  EXPECT_EQ(HumanDuration(hours(50)), "2d2h");
  EXPECT_EQ(HumanDuration(hours(24 * 8)), "8d");
  EXPECT_EQ(HumanDuration(hours(24 * 400)), "400d");
  EXPECT_EQ(HumanDuration(hours(24 * 730)), "2y");
  EXPECT_EQ(HumanDuration(hours(24 * 731)), "2y1d");
  EXPECT_EQ(HumanDuration(hours(24 * 365 * 9)), "9y");
}

TEST(TimeTest, FormatAndParse) {
  auto t = ParseTime("2026-11-28T08:00:00Z");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(FormatTime(*t), "2026-11-28T08:00:00Z");
  EXPECT_EQ(std::chrono::duration_cast<seconds>(t->time_since_epoch()).count(), 1795852800);
  auto frac = ParseTime("2026-11-28T08:00:00.123456Z");
  ASSERT_TRUE(frac.has_value());
  EXPECT_EQ(std::chrono::duration_cast<milliseconds>(*frac - *t).count(), 123);
  EXPECT_EQ(FormatTime(*frac), "2026-11-28T08:00:00Z");
  auto offset = ParseTime("2026-11-28T10:30:00+02:30");
  ASSERT_TRUE(offset.has_value());
  EXPECT_EQ(*offset, *t);
  EXPECT_EQ(FormatTime(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_FALSE(ParseTime("").has_value());
  EXPECT_FALSE(ParseTime("2026-11-28").has_value());
  EXPECT_FALSE(ParseTime("2026-13-01T00:00:00Z").has_value());
  EXPECT_FALSE(ParseTime("2026-02-30T00:00:00Z").has_value());
  EXPECT_FALSE(ParseTime("2026-11-28T08:00:00").has_value());
  EXPECT_FALSE(ParseTime("2026-11-28T08:00:00Zjunk").has_value());
}

}  // namespace
}  // namespace korral::api
