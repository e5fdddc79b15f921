// CRI log rotation on temp files.
#include "korral/kubelet/logrotate.h"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace korral::kubelet {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

class LogRotateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("korral-logrotate-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    log_ = (dir_ / "0.log").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  void Append(const std::string& path, size_t bytes) {
    std::ofstream f(path, std::ios::app);
    f << std::string(bytes, 'x');
  }
  std::vector<std::string> Names() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_)) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }
  std::chrono::system_clock::time_point At(int s) {
    return std::chrono::system_clock::from_time_t(1767225600) + seconds(s);  // 2026-01-01
  }
  fs::path dir_;
  std::string log_;
  int reopened_ = 0;
  std::function<absl::Status()> reopen_ = [this] {
    ++reopened_;
    std::ofstream(log_, std::ios::app);  // the runtime's new file
    return absl::OkStatus();
  };
};

TEST_F(LogRotateTest, BelowTheLimitNothingHappens) {
  Append(log_, 99);
  LogRotationPolicy p{.max_size = 100, .max_files = 5};
  auto r = RotateContainerLog(log_, p, At(0), reopen_);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r);
  EXPECT_EQ(reopened_, 0);
  EXPECT_EQ(Names(), std::vector<std::string>{"0.log"});
}

TEST_F(LogRotateTest, RotatesCompressesAndKeepsMaxFiles) {
  LogRotationPolicy p{.max_size = 100, .max_files = 3};
  for (int i = 0; i < 4; ++i) {
    Append(log_, 100);
    auto r = RotateContainerLog(log_, p, At(i), reopen_);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(*r);
  }
  EXPECT_EQ(reopened_, 4);
  // max_files 3: the current file, the newest rotated one (uncompressed, the runtime may still
  // be finishing it) and one older compressed one.
  auto names = Names();
  ASSERT_EQ(names.size(), 3u) << ::testing::PrintToString(names);
  EXPECT_EQ(names[0], "0.log");
  EXPECT_NE(names[1].find(".gz"), std::string::npos);
  EXPECT_EQ(names[2].find(".gz"), std::string::npos);
  EXPECT_EQ(RotatedLogFiles(log_).size(), 2u);
  // The compressed file holds the original bytes.
  gzFile gz = gzopen((dir_ / names[1]).c_str(), "rb");
  ASSERT_NE(gz, nullptr);
  char buf[512];
  int n = gzread(gz, buf, sizeof buf);
  gzclose(gz);
  EXPECT_EQ(n, 100);
}

TEST_F(LogRotateTest, FailedReopenRenamesBack) {
  Append(log_, 200);
  LogRotationPolicy p{.max_size = 100, .max_files = 5};
  auto r =
      RotateContainerLog(log_, p, At(0), [] { return absl::UnavailableError("runtime down"); });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(Names(), std::vector<std::string>{"0.log"});
  EXPECT_EQ(fs::file_size(log_), 200u);
}

TEST_F(LogRotateTest, MissingFileIsReopenedAndLeftoversCleaned) {
  LogRotationPolicy p{.max_size = 100, .max_files = 5};
  auto r = RotateContainerLog(log_, p, At(0), reopen_);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(reopened_, 1);
  EXPECT_TRUE(fs::exists(log_));
  // A .tmp from an interrupted compression and a file whose .gz exists are removed.
  std::ofstream(log_ + ".20250101-000000.tmp") << "t";
  std::ofstream(log_ + ".20250101-000001") << "u";
  std::ofstream(log_ + ".20250101-000001.gz") << "g";
  EXPECT_EQ(RotatedLogFiles(log_), std::vector<std::string>{log_ + ".20250101-000001.gz"});
  Append(log_, 100);
  ASSERT_TRUE(RotateContainerLog(log_, p, At(1), reopen_).ok());
  EXPECT_FALSE(fs::exists(log_ + ".20250101-000000.tmp"));
  EXPECT_FALSE(fs::exists(log_ + ".20250101-000001"));
  EXPECT_TRUE(fs::exists(log_ + ".20250101-000001.gz"));
}

}  // namespace
}  // namespace korral::kubelet
