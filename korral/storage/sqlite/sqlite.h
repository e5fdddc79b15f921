// korral/storage/sqlite/sqlite.h: a durable MVCC backend on one SQLite file.
//
// Durability: WAL journal with synchronous=FULL; a write call returns OK only after the
// transaction holding it has been committed (fsync'ed), so it survives kill -9 and power loss.
//
// Group commit: Create/Update/Delete/Compact enqueue an operation and block. One writer thread
// takes every queued operation (up to max_batch_ops), applies them in order inside one
// transaction (each sees the effects of the ones before it; revisions are assigned in queue
// order; an operation that fails its check, e.g. AlreadyExists, consumes no revision), commits
// once and then acknowledges all callers. Concurrent writers thus share one fsync.
//
// Schema: kv(revision PRIMARY KEY, key, value, create_revision, prev_revision, deleted) is the
// history, one row per revision (a deletion row keeps the deleted value, for DELETED events);
// index (key, revision) serves past reads. current(key PRIMARY KEY, create_revision,
// mod_revision) names the live version of every key, for indexed reads at the current revision.
// meta holds current_revision and compact_revision, so a restart continues the sequence.
//
// Reads use a small pool of read-only connections (WAL readers never block the writer).
//
// Watches: after each commit the writer publishes the batch's events to a notifier thread that
// calls handlers outside every lock. A watch from a past revision replays history from the
// database, then continues live without gap or duplicate. A watch more than
// max_buffered_watch_events behind ends with ResourceExhausted.
//
// Compact(rev) first records rev as the compact revision (durably; reads and watches below it
// fail with OutOfRange from then on); the writer thread then deletes the history rows older
// than rev that are superseded at rev (and tombstones older than rev) in transactions of
// compact_window revisions between write batches, so writes are never held up for long.
// Compact returns once the deletion is done.
// Compact at or below the current compact revision is a no-op; above CurrentRevision() it is
// OutOfRange.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "korral/storage/storage.h"

namespace korral::storage {

struct SqliteOptions {
  // Database file; created if missing (with -wal and -shm files beside it). Required.
  std::string path;
  // Most operations committed in one transaction.
  size_t max_batch_ops = 2048;
  // Read connections kept open when idle.
  size_t max_idle_readers = 4;
  // Per-watch limit of undelivered events.
  size_t max_buffered_watch_events = 100000;
  // When a commit leaves more than this many pages in the WAL, a background thread copies them
  // back into the database (a PASSIVE checkpoint, which never blocks writers). Past twice
  // this, the writer copies the few remaining pages itself between two batches so that the
  // WAL can start over. 0 keeps SQLite's own autocheckpoint inside commits.
  size_t checkpoint_wal_pages = 1000;
  // Revisions whose history one compaction transaction covers.
  int64_t compact_window = 5000;
  // SQLite page cache per connection, in KiB.
  int cache_size_kib = 16 * 1024;
};

// Opens (creating if needed) the database. InvalidArgument for an empty path; Internal or
// Unavailable when SQLite cannot open or initialize it.
absl::StatusOr<std::unique_ptr<Backend>> OpenSqliteBackend(const SqliteOptions& options);

}  // namespace korral::storage
