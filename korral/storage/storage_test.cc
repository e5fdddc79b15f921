// Tests of storage helpers and backend-specific behaviour outside the conformance suite.
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>

#include <gtest/gtest.h>

#include "korral/storage/memory/memory.h"
#include "korral/storage/sqlite/sqlite.h"
#include "korral/storage/storage.h"

namespace korral::storage {
namespace {

TEST(PrefixEndTest, IncrementsLastByte) {
  EXPECT_EQ(PrefixEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixEnd("a"), "b");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("a\xfe\xff\xff", 4)), std::string("a\xff", 2));
}

TEST(PrefixEndTest, NoUpperBoundIsNul) {
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(std::string("\xff\xff", 2)), std::string(1, '\0'));
}

TEST(SqliteOptionsTest, EmptyPathIsInvalid) {
  EXPECT_EQ(OpenSqliteBackend({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SqliteOptionsTest, UnopenablePathIsAnError) {
  SqliteOptions opts;
  opts.path = "/nonexistent-dir/korral/x.db";
  EXPECT_FALSE(OpenSqliteBackend(opts).ok());
}

// A handler that blocks until released, so events pile up behind it.
struct BlockingWatcher {
  std::mutex mu;
  std::condition_variable cv;
  bool release = false;
  bool entered = false;
  std::optional<absl::Status> error;
  size_t events = 0;

  WatchHandler Handler() {
    WatchHandler h;
    h.on_events = [this](const std::vector<Event>& ev) {
      std::unique_lock l(mu);
      entered = true;
      events += ev.size();
      cv.notify_all();
      cv.wait(l, [&] { return release; });
    };
    h.on_error = [this](const absl::Status& st) {
      std::lock_guard l(mu);
      error = st;
      cv.notify_all();
    };
    return h;
  }
};

void SlowWatcherIsEndedWithResourceExhausted(Backend& b) {
  BlockingWatcher w;
  auto watch = b.Watch("/", 0, w.Handler());
  ASSERT_TRUE(watch.ok()) << watch.status();
  ASSERT_TRUE(b.Create("/first", "v").ok());
  {
    std::unique_lock l(w.mu);
    ASSERT_TRUE(w.cv.wait_for(l, std::chrono::seconds(30), [&] { return w.entered; }));
  }
  // The handler is stuck; writers must still make progress past the buffer limit (8).
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(b.Create("/k" + std::to_string(i), "v").ok());
  {
    std::unique_lock l(w.mu);
    w.release = true;
    w.cv.notify_all();
    ASSERT_TRUE(w.cv.wait_for(l, std::chrono::seconds(30), [&] { return w.error.has_value(); }));
    EXPECT_EQ(w.error->code(), absl::StatusCode::kResourceExhausted);
    EXPECT_EQ(w.events, 1u);  // the buffered events were dropped, not delivered
  }
}

TEST(MemoryBackendTest, SlowWatcherIsEndedWithResourceExhausted) {
  auto b = NewMemoryBackend({.max_buffered_watch_events = 8});
  SlowWatcherIsEndedWithResourceExhausted(*b);
}

TEST(SqliteBackendTest, SlowWatcherIsEndedWithResourceExhausted) {
  auto dir = std::filesystem::temp_directory_path() /
             ("korral_storage_slow_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  {
    SqliteOptions opts;
    opts.path = (dir / "db").string();
    opts.max_buffered_watch_events = 8;
    auto b = OpenSqliteBackend(opts);
    ASSERT_TRUE(b.ok()) << b.status();
    SlowWatcherIsEndedWithResourceExhausted(**b);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace korral::storage
