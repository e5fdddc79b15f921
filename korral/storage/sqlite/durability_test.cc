// Durability of acknowledged writes across kill -9.
//
// A child process writes with many threads and reports every acknowledged key (and its
// revision) to the parent over a pipe. The parent kills the child with SIGKILL mid-way, reopens
// the database and checks that every acknowledged write is present at its revision.
//
// This binary must contain only tests that fork before creating threads.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "korral/storage/sqlite/sqlite.h"

namespace korral::storage {
namespace {

constexpr int kWriterThreads = 16;
constexpr size_t kAcksBeforeKill = 3000;

[[noreturn]] void ChildMain(const std::string& path, int fd) {
  SqliteOptions opts;
  opts.path = path;
  auto backend = OpenSqliteBackend(opts);
  if (!backend.ok()) _exit(2);
  std::vector<std::thread> threads;
  const std::string value(1024, 'x');
  for (int t = 0; t < kWriterThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 1000000; ++i) {
        std::string key = "/d/" + std::to_string(t) + "/" + std::to_string(i);
        auto rev = (*backend)->Create(key, value);
        if (!rev.ok()) _exit(3);
        // One short line per write(): atomic on a pipe (< PIPE_BUF).
        std::string line = key + " " + std::to_string(*rev) + "\n";
        if (write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(4);
      }
    });
  }
  for (auto& t : threads) t.join();
  _exit(0);
}

TEST(SqliteDurabilityTest, AcknowledgedWritesSurviveKill9) {
  auto dir =
      std::filesystem::temp_directory_path() / ("korral_durability_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "korral.db").string();

  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(fds[0]);
    ChildMain(path, fds[1]);
  }
  close(fds[1]);

  std::map<std::string, int64_t> acked;
  std::string buf;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  for (;;) {
    if (!killed && acked.size() >= kAcksBeforeKill) {
      ASSERT_EQ(kill(pid, SIGKILL), 0);
      killed = true;
    }
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "child too slow";
    pollfd p{fds[0], POLLIN, 0};
    int n = poll(&p, 1, 1000);
    if (n == 0) continue;
    char chunk[65536];
    ssize_t got = read(fds[0], chunk, sizeof(chunk));
    if (got <= 0) break;  // EOF: the child is dead and every ack has been read
    buf.append(chunk, got);
    size_t pos;
    while ((pos = buf.find('\n')) != std::string::npos) {
      std::istringstream line(buf.substr(0, pos));
      buf.erase(0, pos + 1);
      std::string key;
      int64_t rev = 0;
      line >> key >> rev;
      acked[key] = rev;
    }
  }
  close(fds[0]);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(killed) << "child exited on its own, status " << status;
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << "status " << status;
  ASSERT_GE(acked.size(), kAcksBeforeKill);

  SqliteOptions opts;
  opts.path = path;
  auto backend = OpenSqliteBackend(opts);
  ASSERT_TRUE(backend.ok()) << backend.status();
  int64_t max_acked = 0;
  size_t missing = 0;
  for (const auto& [key, rev] : acked) {
    max_acked = std::max(max_acked, rev);
    auto kv = (*backend)->Get(key);
    if (!kv.ok() || kv->mod_revision != rev) {
      if (++missing < 10) ADD_FAILURE() << "acknowledged write lost: " << key << " @" << rev;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << acked.size() << " acknowledged writes";
  EXPECT_GE((*backend)->CurrentRevision(), max_acked);
  auto next = (*backend)->Create("/after-restart", "v");
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_GT(*next, max_acked);
  backend->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace korral::storage
