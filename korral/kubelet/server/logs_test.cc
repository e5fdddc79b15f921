#include "korral/kubelet/server/logs.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <zlib.h>

#include <filesystem>

namespace korral::kubelet::server {
namespace {

class LogsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/korral-logs-XXXXXX";
    dir_ = mkdtemp(tmpl);
    path_ = dir_ + "/c.log";
    std::ofstream out(path_);
    out << "2026-11-28T10:00:00.1Z stdout F one\n"
        << "2026-11-28T10:00:01.123456789Z stderr F two\n"
        << "2026-11-28T10:00:02Z stdout P thr\n"
        << "2026-11-28T10:00:02.5Z stdout F ee\n"
        << "2026-11-28T10:00:03Z stdout F four\n";
  }
  void TearDown() override {
    std::remove(path_.c_str());
    rmdir(dir_.c_str());
  }
  std::string Read(const LogOptions& o) {
    std::string got;
    absl::Status s = StreamLogFile(
        path_, o,
        [&](std::string_view c) {
          got.append(c);
          return true;
        },
        [] { return false; }, std::chrono::milliseconds(1));
    EXPECT_TRUE(s.ok()) << s;
    return got;
  }
  std::string dir_, path_;
};

TEST_F(LogsTest, AllLinesJoinPartials) { EXPECT_EQ(Read({}), "one\ntwo\nthree\nfour\n"); }

TEST_F(LogsTest, TailLinesCountsFileLines) {
  LogOptions o;
  o.tail_lines = 2;
  EXPECT_EQ(Read(o), "ee\nfour\n");
  o.tail_lines = 0;
  EXPECT_EQ(Read(o), "");
}

TEST_F(LogsTest, TimestampsAreFixedNanos) {
  LogOptions o;
  o.timestamps = true;
  o.tail_lines = 1;
  EXPECT_EQ(Read(o), "2026-11-28T10:00:03.000000000Z four\n");
}

TEST_F(LogsTest, SinceAndLimitBytes) {
  LogOptions o;
  o.since_unix_nanos = *ParseRfc3339Nanos("2026-11-28T10:00:01Z");
  EXPECT_EQ(Read(o), "two\nthree\nfour\n");
  LogOptions l;
  l.limit_bytes = 6;
  EXPECT_EQ(Read(l), "one\ntw");
}

TEST_F(LogsTest, FollowReadsAppendedLinesUntilStopped) {
  LogOptions o;
  o.follow = true;
  o.tail_lines = 0;
  int polls = 0;
  std::string got;
  absl::Status s = StreamLogFile(
      path_, o,
      [&](std::string_view c) {
        got.append(c);
        return true;
      },
      [&] {
        if (++polls == 1) {
          std::ofstream(path_, std::ios::app) << "2026-11-28T10:00:04Z stdout F five\n";
          return true;
        }
        return false;
      },
      std::chrono::milliseconds(300));
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(got, "five\n");
}

TEST(LogOptions, ValidatesLikeUpstream) {
  std::map<std::string, std::string> q;
  auto lookup = [&](std::string_view k) -> std::optional<std::string_view> {
    auto it = q.find(std::string(k));
    if (it == q.end()) return std::nullopt;
    return std::string_view(it->second);
  };
  q = {{"tailLines", "-1"}};
  EXPECT_EQ(ParseLogOptions(lookup, 0).status().message(),
            "tailLines: Invalid value: -1: must be greater than or equal to 0");
  q = {{"sinceSeconds", "5"}, {"sinceTime", "2026-01-01T00:00:00Z"}};
  EXPECT_FALSE(ParseLogOptions(lookup, 0).ok());
  q = {{"follow", "True"}, {"sinceSeconds", "10"}, {"limitBytes", "7"}};
  auto o = ParseLogOptions(lookup, 20'000'000'000);
  ASSERT_TRUE(o.ok());
  EXPECT_TRUE(o->follow);
  EXPECT_EQ(*o->since_unix_nanos, 10'000'000'000);
  EXPECT_EQ(*o->limit_bytes, 7);
  q = {{"tailLines", "x"}};
  EXPECT_FALSE(ParseLogOptions(lookup, 0).ok());
  EXPECT_EQ(*ParseRfc3339Nanos("1970-01-01T01:00:00.5+01:00"), 500'000'000);
  EXPECT_FALSE(ParseRfc3339Nanos("yesterday").has_value());
}

// Rotated files (<log>.<time>.gz and <log>.<time>, see korral/kubelet/logrotate.h) come first,
// oldest first; tailLines and limitBytes span the files.
class RotatedLogsTest : public LogsTest {
 protected:
  void SetUp() override {
    LogsTest::SetUp();
    gzFile gz = gzopen((path_ + ".20261128-095900.gz").c_str(), "wb");
    std::string old = "2026-11-28T09:59:00Z stdout F r1\n2026-11-28T09:59:01Z stdout F r2\n";
    gzwrite(gz, old.data(), static_cast<unsigned>(old.size()));
    gzclose(gz);
    std::ofstream(path_ + ".20261128-095950") << "2026-11-28T09:59:50Z stdout F r3\n";
    std::ofstream(path_ + ".20261128-095950.tmp") << "2026-11-28T09:59:50Z stdout F junk\n";
  }
  void TearDown() override {
    for (const char* s : {".20261128-095900.gz", ".20261128-095950", ".20261128-095950.tmp"}) {
      std::remove((path_ + s).c_str());
    }
    LogsTest::TearDown();
  }
};

TEST_F(RotatedLogsTest, ReadsRotatedFilesFirst) {
  EXPECT_EQ(Read({}), "r1\nr2\nr3\none\ntwo\nthree\nfour\n");
}

TEST_F(RotatedLogsTest, TailLinesAndLimitBytesSpanFiles) {
  LogOptions o;
  o.tail_lines = 7;
  EXPECT_EQ(Read(o), "r2\nr3\none\ntwo\nthree\nfour\n");
  LogOptions l;
  l.limit_bytes = 8;
  EXPECT_EQ(Read(l), "r1\nr2\nr3");
  LogOptions since;
  since.since_unix_nanos = *ParseRfc3339Nanos("2026-11-28T09:59:30Z");
  EXPECT_EQ(Read(since), "r3\none\ntwo\nthree\nfour\n");
}

}  // namespace
}  // namespace korral::kubelet::server
