// Tests of storage helpers and backend-specific behaviour outside the conformance suite.
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

#include <sqlite3.h>

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

namespace korral::storage {
namespace {

TEST(SqliteBackendTest, BackgroundCheckpointKeepsTheWalSmall) {
  auto dir =
      std::filesystem::temp_directory_path() / ("korral_storage_wal_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const auto path = dir / "db";
  {
    SqliteOptions opts;
    opts.path = path.string();
    opts.checkpoint_wal_pages = 64;
    auto b = OpenSqliteBackend(opts);
    ASSERT_TRUE(b.ok()) << b.status();
    // ~12 MB of values: far more than the WAL may hold between checkpoints.
    const std::string value(3000, 'w');
    std::vector<std::thread> threads;
    for (int t = 0; t < 16; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 250; ++i) {
          ASSERT_TRUE(
              (*b)->Create("/w/" + std::to_string(t) + "/" + std::to_string(i), value).ok());
        }
      });
    }
    for (auto& t : threads) t.join();
    const auto wal_bytes = std::filesystem::file_size(path.string() + "-wal");
    // Each value is written twice (history and current tables): ~24 MB of pages without
    // checkpoints. The WAL file never shrinks, only gets reused, so under CPU contention it may
    // reach a few times the checkpoint threshold; half the unchecked size proves checkpoints ran.
    EXPECT_LT(wal_bytes, 12u << 20) << "the WAL is not being checkpointed";
    auto kv = (*b)->Get("/w/3/249");
    ASSERT_TRUE(kv.ok()) << kv.status();
    EXPECT_EQ(kv->value, value);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace korral::storage

namespace korral::storage {
namespace {

int64_t CountRows(const std::string& path) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT COUNT(*) FROM kv", -1, &s, nullptr), SQLITE_OK);
  int64_t n = -1;
  if (sqlite3_step(s) == SQLITE_ROW) n = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

TEST(SqliteBackendTest, CompactionInSmallWindowsDeletesSupersededRows) {
  auto dir = std::filesystem::temp_directory_path() /
             ("korral_storage_compact_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "db").string();
  {
    SqliteOptions opts;
    opts.path = path;
    opts.compact_window = 7;
    auto opened = OpenSqliteBackend(opts);
    ASSERT_TRUE(opened.ok()) << opened.status();
    Backend& b = **opened;
    for (int k = 0; k < 20; ++k) {
      const std::string key = "/c/" + std::to_string(k);
      ASSERT_TRUE(b.Create(key, "v0").ok());
      for (int u = 1; u <= 3; ++u) ASSERT_TRUE(b.Update(key, "v" + std::to_string(u), 0).ok());
    }
    for (int k = 0; k < 5; ++k) ASSERT_TRUE(b.Delete("/c/" + std::to_string(k), 0).ok());
    const int64_t mid = b.CurrentRevision();
    ASSERT_TRUE(b.Update("/c/10", "after", 0).ok());
    EXPECT_EQ(CountRows(path), 20 * 4 + 5 + 1);
    ASSERT_TRUE(b.Compact(mid).ok());
    // Kept: the 15 keys live at `mid` (one row each), the deletion at `mid` itself (a watch
    // from `mid` must still see it) and the update after it.
    EXPECT_EQ(CountRows(path), 15 + 1 + 1);
    RangeRequest all{.start = "/c/", .end = PrefixEnd("/c/"), .revision = mid};
    auto r = b.Range(all);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->kvs.size(), 15u);
    for (const auto& kv : r->kvs) EXPECT_EQ(kv.value, "v3");
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace korral::storage
