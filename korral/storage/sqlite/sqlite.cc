#include "korral/storage/sqlite/sqlite.h"

#include <sqlite3.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <semaphore>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/storage/internal/range_util.h"
#include "korral/storage/internal/watch_hub.h"

namespace korral::storage {
namespace {

using internal::WatchHub;

absl::Status SqlError(sqlite3* db, int rc, std::string_view what) {
  std::string msg =
      fmt::format("sqlite {}: {} ({})", what, db ? sqlite3_errmsg(db) : "", sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// A prepared statement, reset (and its bindings cleared) by Reset().
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(stmt_); }

  absl::Status Prepare(sqlite3* db, std::string_view sql) {
    db_ = db;
    int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                                SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) return SqlError(db, rc, fmt::format("prepare [{}]", sql));
    return absl::OkStatus();
  }
  void BindBlob(int i, std::string_view v) {
    if (v.empty()) {
      sqlite3_bind_zeroblob(stmt_, i, 0);  // a null pointer would bind NULL
    } else {
      sqlite3_bind_blob64(stmt_, i, v.data(), v.size(), SQLITE_STATIC);
    }
  }
  void BindInt(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int Step() { return sqlite3_step(stmt_); }
  // Runs a statement that returns no rows.
  absl::Status Exec(std::string_view what) {
    int rc = Step();
    Reset();
    if (rc != SQLITE_DONE) return SqlError(db_, rc, what);
    return absl::OkStatus();
  }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }
  std::string Blob(int col) {
    const void* p = sqlite3_column_blob(stmt_, col);
    int n = sqlite3_column_bytes(stmt_, col);
    return p ? std::string(static_cast<const char*>(p), n) : std::string();
  }
  sqlite3* db() const { return db_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

// Resets a statement when leaving a scope.
class ResetOnExit {
 public:
  explicit ResetOnExit(Stmt& s) : s_(s) {}
  ~ResetOnExit() { s_.Reset(); }

 private:
  Stmt& s_;
};

absl::Status ExecSql(sqlite3* db, const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "";
    sqlite3_free(err);
    return SqlError(db, rc, fmt::format("exec [{}]: {}", sql, msg));
  }
  return absl::OkStatus();
}

absl::StatusOr<sqlite3*> OpenConnection(const SqliteOptions& opts, bool reader) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (reader ? 0 : SQLITE_OPEN_CREATE);
  int rc = sqlite3_open_v2(opts.path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    absl::Status st = SqlError(db, rc, fmt::format("open {}", opts.path));
    sqlite3_close_v2(db);
    return st;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, 10000);
  std::string pragmas =
      fmt::format("PRAGMA cache_size=-{}; PRAGMA temp_store=MEMORY; PRAGMA synchronous=FULL;",
                  opts.cache_size_kib);
  if (reader) pragmas += "PRAGMA query_only=1;";
  absl::Status st = ExecSql(db, pragmas.c_str());
  if (!st.ok()) {
    sqlite3_close_v2(db);
    return st;
  }
  return db;
}

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS kv(
  revision INTEGER PRIMARY KEY,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL,
  deleted INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS kv_key_revision ON kv(key, revision);
CREATE TABLE IF NOT EXISTS current(
  key BLOB PRIMARY KEY,
  create_revision INTEGER NOT NULL,
  mod_revision INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta(name TEXT PRIMARY KEY, value INTEGER NOT NULL);
)sql";

// One read connection with its statements. Used by one thread at a time.
struct Reader {
  sqlite3* db = nullptr;
  Stmt begin, commit, rollback, meta, get, history;
  Stmt range_current[2];  // [hi_unbounded]
  Stmt range_past[2];

  ~Reader() {
    // Statements are finalized by their destructors; close_v2 waits for them.
    sqlite3_close_v2(db);
  }

  absl::Status Init() {
    KORRAL_RETURN_IF_ERROR(begin.Prepare(db, "BEGIN"));
    KORRAL_RETURN_IF_ERROR(commit.Prepare(db, "COMMIT"));
    KORRAL_RETURN_IF_ERROR(rollback.Prepare(db, "ROLLBACK"));
    KORRAL_RETURN_IF_ERROR(meta.Prepare(db, "SELECT name, value FROM meta"));
    KORRAL_RETURN_IF_ERROR(
        get.Prepare(db,
                    "SELECT kv.value, c.create_revision, c.mod_revision FROM current AS c "
                    "JOIN kv ON kv.revision = c.mod_revision WHERE c.key = ?1"));
    KORRAL_RETURN_IF_ERROR(history.Prepare(
        db,
        "SELECT revision, key, value, create_revision, prev_revision, deleted FROM kv "
        "WHERE revision >= ?1 AND revision <= ?2 ORDER BY revision"));
    for (int unbounded = 0; unbounded < 2; ++unbounded) {
      const char* hi = unbounded ? "" : " AND c.key < ?2";
      KORRAL_RETURN_IF_ERROR(range_current[unbounded].Prepare(
          db, fmt::format("SELECT c.key, kv.value, c.create_revision, c.mod_revision "
                          "FROM current AS c JOIN kv ON kv.revision = c.mod_revision "
                          "WHERE c.key >= ?1{} ORDER BY c.key LIMIT ?3",
                          hi)));
      const char* hi2 = unbounded ? "" : " AND kv.key < ?2";
      KORRAL_RETURN_IF_ERROR(range_past[unbounded].Prepare(
          db, fmt::format("SELECT kv.key, kv.value, kv.create_revision, kv.revision FROM kv "
                          "WHERE kv.key >= ?1{} AND kv.revision <= ?4 AND kv.deleted = 0 "
                          "AND NOT EXISTS (SELECT 1 FROM kv AS n WHERE n.key = kv.key "
                          "AND n.revision > kv.revision AND n.revision <= ?4) "
                          "ORDER BY kv.key LIMIT ?3",
                          hi2)));
    }
    return absl::OkStatus();
  }

  // Reads (current_revision, compact_revision); call inside a read transaction.
  absl::Status ReadMeta(int64_t* current, int64_t* compact) {
    ResetOnExit r(meta);
    *current = 0;
    *compact = 0;
    int rc;
    while ((rc = meta.Step()) == SQLITE_ROW) {
      std::string name = meta.Blob(0);
      if (name == "current_revision") *current = meta.Int(1);
      if (name == "compact_revision") *compact = meta.Int(1);
    }
    if (rc != SQLITE_DONE) return SqlError(db, rc, "read meta");
    return absl::OkStatus();
  }
};

// A queued write. The caller blocks on done until the writer has committed (or failed) it.
struct Op {
  enum class Kind { kCreate, kUpdate, kDelete, kCompact };
  Kind kind = Kind::kCreate;
  std::string_view key;
  std::string_view value;
  int64_t expected = 0;  // expected mod revision, or the compact revision
  absl::Status status;
  int64_t revision = 0;
  KeyValue deleted;
  std::binary_semaphore done{0};
};

class SqliteBackend final : public Backend {
 public:
  explicit SqliteBackend(const SqliteOptions& options) : opts_(options) {}

  ~SqliteBackend() override {
    {
      std::lock_guard l(qmu_);
      stopping_ = true;
    }
    qcv_.notify_all();
    if (writer_.joinable()) writer_.join();
    {
      std::lock_guard l(ckpt_mu_);
      ckpt_stop_ = true;
    }
    ckpt_cv_.notify_all();
    if (checkpointer_.joinable()) checkpointer_.join();
    sqlite3_close_v2(cdb_);
    if (hub_) hub_->Close();
    {
      std::lock_guard l(pool_mu_);
      idle_readers_.clear();
    }
    // Statements are finalized by their destructors after this; close_v2 defers until then.
    sqlite3_close_v2(wdb_);
  }

  absl::Status Open() {
    KORRAL_ASSIGN_OR_RETURN(wdb_, OpenConnection(opts_, /*reader=*/false));
    {
      // journal_mode returns the resulting mode as a row.
      sqlite3_stmt* s = nullptr;
      int rc = sqlite3_prepare_v2(wdb_, "PRAGMA journal_mode=WAL", -1, &s, nullptr);
      std::string mode;
      if (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        mode = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
      }
      sqlite3_finalize(s);
      if (mode != "wal") return absl::InternalError("sqlite: cannot enable WAL journal mode");
    }
    KORRAL_RETURN_IF_ERROR(ExecSql(wdb_, kSchema));
    KORRAL_RETURN_IF_ERROR(ExecSql(wdb_, "PRAGMA journal_size_limit=67108864;"));
    KORRAL_RETURN_IF_ERROR(w_.Init(wdb_));
    // Restore the revision counters.
    {
      Reader probe;
      probe.db = wdb_;
      KORRAL_RETURN_IF_ERROR(probe.meta.Prepare(wdb_, "SELECT name, value FROM meta"));
      int64_t cur = 0, compact = 0;
      absl::Status st = probe.ReadMeta(&cur, &compact);
      probe.db = nullptr;  // not owned
      KORRAL_RETURN_IF_ERROR(st);
      Stmt max_rev;
      KORRAL_RETURN_IF_ERROR(max_rev.Prepare(wdb_, "SELECT IFNULL(MAX(revision), 0) FROM kv"));
      if (max_rev.Step() == SQLITE_ROW) cur = std::max(cur, max_rev.Int(0));
      max_rev.Reset();
      writer_revision_ = cur;
      current_revision_.store(cur);
      compact_revision_.store(compact);
    }
    hub_ = WatchHub::Create({.max_buffered_events = opts_.max_buffered_watch_events},
                            writer_revision_);
    if (opts_.checkpoint_wal_pages > 0) {
      // Checkpoint from a background connection instead of inside the commit that crosses the
      // threshold (sqlite's autocheckpoint), so that no write pays for copying the WAL back.
      KORRAL_ASSIGN_OR_RETURN(cdb_, OpenConnection(opts_, /*reader=*/false));
      sqlite3_wal_hook(
          wdb_,
          [](void* arg, sqlite3*, const char*, int pages) {
            static_cast<SqliteBackend*>(arg)->OnWalCommit(pages);
            return SQLITE_OK;
          },
          this);
      checkpointer_ = std::thread([this] { CheckpointLoop(); });
    }
    writer_ = std::thread([this] { WriterLoop(); });
    KLOG(Info, "sqlite storage opened at {} (revision {}, compacted at {})", opts_.path,
         writer_revision_, compact_revision_.load());
    return absl::OkStatus();
  }

  absl::StatusOr<int64_t> Create(std::string_view key, std::string_view value) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    Op op;
    op.kind = Op::Kind::kCreate;
    op.key = key;
    op.value = value;
    Submit(op);
    if (!op.status.ok()) return op.status;
    return op.revision;
  }

  absl::StatusOr<int64_t> Update(std::string_view key, std::string_view value,
                                 int64_t expected_mod_revision) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    Op op;
    op.kind = Op::Kind::kUpdate;
    op.key = key;
    op.value = value;
    op.expected = expected_mod_revision;
    Submit(op);
    if (!op.status.ok()) return op.status;
    return op.revision;
  }

  absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_mod_revision) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    Op op;
    op.kind = Op::Kind::kDelete;
    op.key = key;
    op.expected = expected_mod_revision;
    Submit(op);
    if (!op.status.ok()) return op.status;
    return std::move(op.deleted);
  }

  absl::Status Compact(int64_t revision) override {
    Op op;
    op.kind = Op::Kind::kCompact;
    op.expected = revision;
    Submit(op);
    return op.status;
  }

  absl::StatusOr<KeyValue> Get(std::string_view key) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    KORRAL_ASSIGN_OR_RETURN(auto reader, AcquireReader());
    Stmt& s = reader->get;
    absl::StatusOr<KeyValue> result;
    {
      ResetOnExit r(s);
      s.BindBlob(1, key);
      int rc = s.Step();
      if (rc == SQLITE_ROW) {
        result = KeyValue{std::string(key), s.Blob(0), s.Int(1), s.Int(2)};
      } else if (rc == SQLITE_DONE) {
        result = absl::NotFoundError("key not found");
      } else {
        result = SqlError(reader->db, rc, "get");
      }
    }
    ReleaseReader(std::move(reader));
    return result;
  }

  absl::StatusOr<RangeResponse> Range(const RangeRequest& request) override {
    internal::KeyInterval interval;
    KORRAL_RETURN_IF_ERROR(internal::NormalizeRange(request, &interval));
    KORRAL_ASSIGN_OR_RETURN(auto reader, AcquireReader());
    RangeResponse resp;
    absl::Status st = ReadTxn(*reader, [&](int64_t current, int64_t compact) -> absl::Status {
      const int64_t rev = request.revision == 0 ? current : request.revision;
      if (rev > current) return absl::OutOfRangeError("revision is in the future");
      if (rev < compact) return absl::OutOfRangeError("revision has been compacted");
      resp.revision = rev;
      const int unbounded = interval.hi_unbounded ? 1 : 0;
      Stmt& s = rev == current ? reader->range_current[unbounded] : reader->range_past[unbounded];
      ResetOnExit r(s);
      s.BindBlob(1, interval.lo);
      if (!interval.hi_unbounded) s.BindBlob(2, interval.hi);
      s.BindInt(3, request.limit > 0 ? request.limit + 1 : -1);
      if (rev != current) s.BindInt(4, rev);
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) {
        if (request.limit > 0 && static_cast<int64_t>(resp.kvs.size()) == request.limit) {
          resp.more = true;
          break;
        }
        resp.kvs.push_back(KeyValue{s.Blob(0), s.Blob(1), s.Int(2), s.Int(3)});
      }
      if (rc != SQLITE_ROW && rc != SQLITE_DONE) return SqlError(reader->db, rc, "range");
      return absl::OkStatus();
    });
    ReleaseReader(std::move(reader));
    if (!st.ok()) return st;
    return resp;
  }

  absl::StatusOr<WatchPtr> Watch(std::string_view prefix, int64_t start_revision,
                                 WatchHandler handler) override {
    if (start_revision < 0) return absl::InvalidArgumentError("negative start revision");
    if (start_revision != 0 && start_revision < compact_revision_.load()) {
      return absl::OutOfRangeError("watch start revision has been compacted");
    }
    WatchHub::Registration reg =
        hub_->Register(std::string(prefix), start_revision, std::move(handler));
    std::vector<Event> replay;
    if (start_revision != 0 && start_revision < reg.live_from) {
      // Every revision < live_from is committed: replay [start_revision, live_from - 1].
      absl::Status st = ReadHistory(prefix, start_revision, reg.live_from - 1, &replay);
      if (!st.ok()) {
        hub_->Abort(reg.watcher);
        return st;
      }
    }
    return hub_->Activate(reg.watcher, std::move(replay));
  }

  int64_t CurrentRevision() override { return current_revision_.load(); }
  int64_t CompactRevision() override { return compact_revision_.load(); }

 private:
  struct WriterStmts {
    Stmt begin, commit, rollback, get_current, get_value, insert_kv, upsert_current, delete_current,
        set_meta, compact, min_revision;
    absl::Status Init(sqlite3* db) {
      KORRAL_RETURN_IF_ERROR(begin.Prepare(db, "BEGIN IMMEDIATE"));
      KORRAL_RETURN_IF_ERROR(commit.Prepare(db, "COMMIT"));
      KORRAL_RETURN_IF_ERROR(rollback.Prepare(db, "ROLLBACK"));
      KORRAL_RETURN_IF_ERROR(get_current.Prepare(
          db, "SELECT create_revision, mod_revision FROM current WHERE key = ?1"));
      KORRAL_RETURN_IF_ERROR(get_value.Prepare(db, "SELECT value FROM kv WHERE revision = ?1"));
      KORRAL_RETURN_IF_ERROR(insert_kv.Prepare(
          db,
          "INSERT INTO kv(revision, key, value, create_revision, prev_revision, deleted) "
          "VALUES(?1, ?2, ?3, ?4, ?5, ?6)"));
      KORRAL_RETURN_IF_ERROR(upsert_current.Prepare(
          db,
          "INSERT INTO current(key, create_revision, mod_revision) VALUES(?1, ?2, ?3) "
          "ON CONFLICT(key) DO UPDATE SET create_revision = excluded.create_revision, "
          "mod_revision = excluded.mod_revision"));
      KORRAL_RETURN_IF_ERROR(delete_current.Prepare(db, "DELETE FROM current WHERE key = ?1"));
      KORRAL_RETURN_IF_ERROR(
          set_meta.Prepare(db,
                           "INSERT INTO meta(name, value) VALUES(?1, ?2) "
                           "ON CONFLICT(name) DO UPDATE SET value = excluded.value"));
      // Rows in [?2, ?3) below the compact revision ?1 that are tombstones or superseded by a
      // later row at or below ?1.
      KORRAL_RETURN_IF_ERROR(compact.Prepare(
          db,
          "DELETE FROM kv WHERE revision >= ?2 AND revision < ?3 AND revision < ?1 AND "
          "(deleted = 1 OR EXISTS (SELECT 1 FROM kv AS n WHERE n.key = kv.key "
          "AND n.revision > kv.revision AND n.revision <= ?1))"));
      KORRAL_RETURN_IF_ERROR(min_revision.Prepare(db, "SELECT IFNULL(MIN(revision), 1) FROM kv"));
      return absl::OkStatus();
    }
  };

  void Submit(Op& op) {
    {
      std::lock_guard l(qmu_);
      if (stopping_) {
        op.status = absl::UnavailableError("storage backend is closing");
        return;
      }
      queue_.push_back(&op);
    }
    qcv_.notify_one();
    op.done.acquire();
  }

  void WriterLoop() {
    std::vector<Op*> batch;
    for (;;) {
      {
        std::unique_lock l(qmu_);
        qcv_.wait(l, [&] { return stopping_ || !queue_.empty() || CompactPending(); });
        if (queue_.empty() && stopping_) {
          // Drained. A pending compaction resumes with the next Compact after a restart; the
          // compact revision itself is already recorded.
          for (Op* op : compact_waiters_) op->done.release();
          return;
        }
        size_t n = std::min(queue_.size(), opts_.max_batch_ops);
        batch.assign(queue_.begin(), queue_.begin() + n);
        queue_.erase(queue_.begin(), queue_.begin() + n);
      }
      // Runs of writes share a transaction; a compaction runs alone.
      size_t i = 0;
      while (i < batch.size()) {
        if (batch[i]->kind == Op::Kind::kCompact) {
          if (RunCompact(*batch[i])) batch[i]->done.release();
          ++i;
          continue;
        }
        size_t j = i;
        while (j < batch.size() && batch[j]->kind != Op::Kind::kCompact) ++j;
        RunWrites(&batch[i], j - i);
        i = j;
      }
      batch.clear();
      CompactStep();
      MaybeCatchUpCheckpoint();
    }
  }

  // Applies ops in one transaction, then publishes their events and wakes their callers.
  void RunWrites(Op** ops, size_t n) {
    int64_t rev = writer_revision_;
    events_.clear();
    absl::Status st = w_.begin.Exec("begin");
    for (size_t i = 0; st.ok() && i < n; ++i) st = Apply(*ops[i], &rev);
    if (st.ok() && rev != writer_revision_) {
      w_.set_meta.BindBlob(1, "current_revision");
      w_.set_meta.BindInt(2, rev);
      st = w_.set_meta.Exec("set current_revision");
    }
    if (st.ok()) st = w_.commit.Exec("commit");
    if (!st.ok()) {
      KLOG(Error, "storage write batch of {} failed: {}", n, st.ToString());
      if (!sqlite3_get_autocommit(wdb_)) (void)w_.rollback.Exec("rollback");
      for (size_t i = 0; i < n; ++i) {
        ops[i]->status = st;
        ops[i]->done.release();
      }
      return;
    }
    writer_revision_ = rev;
    current_revision_.store(rev);
    hub_->Publish(events_);
    for (size_t i = 0; i < n; ++i) ops[i]->done.release();
  }

  // Applies one op inside the open transaction. A failed check sets op.status and returns OK;
  // a non-OK return is an SQLite failure that aborts the batch.
  absl::Status Apply(Op& op, int64_t* rev) {
    // The live version of the key, if any.
    int64_t create_rev = 0, mod_rev = 0;
    bool exists = false;
    {
      Stmt& s = w_.get_current;
      ResetOnExit r(s);
      s.BindBlob(1, op.key);
      int rc = s.Step();
      if (rc == SQLITE_ROW) {
        exists = true;
        create_rev = s.Int(0);
        mod_rev = s.Int(1);
      } else if (rc != SQLITE_DONE) {
        return SqlError(wdb_, rc, "read current");
      }
    }
    switch (op.kind) {
      case Op::Kind::kCreate:
        if (exists) {
          op.status = absl::AlreadyExistsError("key already exists");
          return absl::OkStatus();
        }
        break;
      case Op::Kind::kUpdate:
      case Op::Kind::kDelete:
        if (!exists) {
          op.status = absl::NotFoundError("key not found");
          return absl::OkStatus();
        }
        if (op.expected != 0 && op.expected != mod_rev) {
          op.status = absl::FailedPreconditionError("mod revision does not match");
          return absl::OkStatus();
        }
        break;
      case Op::Kind::kCompact:
        return absl::InternalError("compact in a write batch");
    }
    const int64_t r = *rev + 1;
    Event e;
    e.kv.key = std::string(op.key);
    e.kv.mod_revision = r;
    e.prev_mod_revision = exists ? mod_rev : 0;
    e.kv.create_revision = exists ? create_rev : r;
    if (op.kind == Op::Kind::kDelete) {
      e.type = EventType::kDelete;
      Stmt& s = w_.get_value;
      ResetOnExit reset(s);
      s.BindInt(1, mod_rev);
      int rc = s.Step();
      if (rc != SQLITE_ROW) return SqlError(wdb_, rc, "read deleted value");
      e.kv.value = s.Blob(0);
    } else {
      e.kv.value = std::string(op.value);
    }
    w_.insert_kv.BindInt(1, r);
    w_.insert_kv.BindBlob(2, op.key);
    w_.insert_kv.BindBlob(3, e.kv.value);
    w_.insert_kv.BindInt(4, e.kv.create_revision);
    w_.insert_kv.BindInt(5, e.prev_mod_revision);
    w_.insert_kv.BindInt(6, op.kind == Op::Kind::kDelete ? 1 : 0);
    KORRAL_RETURN_IF_ERROR(w_.insert_kv.Exec("insert kv"));
    if (op.kind == Op::Kind::kDelete) {
      w_.delete_current.BindBlob(1, op.key);
      KORRAL_RETURN_IF_ERROR(w_.delete_current.Exec("delete current"));
      op.deleted = e.kv;
    } else {
      w_.upsert_current.BindBlob(1, op.key);
      w_.upsert_current.BindInt(2, e.kv.create_revision);
      w_.upsert_current.BindInt(3, r);
      KORRAL_RETURN_IF_ERROR(w_.upsert_current.Exec("upsert current"));
    }
    op.status = absl::OkStatus();
    op.revision = r;
    *rev = r;
    events_.push_back(std::move(e));
    return absl::OkStatus();
  }

  // Records the new compact revision (from then on reads and watches below it fail with
  // OutOfRange, so the history rows below it are unreachable) and schedules their deletion,
  // which CompactStep() then does in small transactions between write batches. Returns true
  // when op is finished; otherwise it is acknowledged when the deletion is complete.
  bool RunCompact(Op& op) {
    const int64_t target = op.expected;
    if (target > writer_revision_) {
      op.status = absl::OutOfRangeError("compact revision is in the future");
      return true;
    }
    if (target <= compact_revision_.load()) {
      op.status = absl::OkStatus();
      return true;
    }
    w_.set_meta.BindBlob(1, "compact_revision");
    w_.set_meta.BindInt(2, target);
    absl::Status st = w_.set_meta.Exec("set compact_revision");  // autocommit
    if (!st.ok()) {
      op.status = st;
      return true;
    }
    compact_revision_.store(target);
    if (compact_next_ == 0) {
      Stmt& s = w_.min_revision;
      ResetOnExit r(s);
      compact_next_ = s.Step() == SQLITE_ROW ? std::max<int64_t>(1, s.Int(0)) : 1;
    }
    compact_target_ = target;
    op.status = absl::OkStatus();
    compact_waiters_.push_back(&op);
    return false;
  }

  bool CompactPending() const { return compact_next_ != 0; }

  // Deletes the superseded history rows of one window of revisions below compact_target_.
  void CompactStep() {
    if (!CompactPending()) return;
    const int64_t hi = std::min(compact_target_, compact_next_ + opts_.compact_window);
    w_.compact.BindInt(1, compact_target_);
    w_.compact.BindInt(2, compact_next_);
    w_.compact.BindInt(3, hi);
    absl::Status st = w_.compact.Exec("compact");  // autocommit: one transaction
    if (!st.ok()) {
      KLOG(Warning, "storage compaction step failed (will retry with the next Compact): {}",
           st.ToString());
      compact_next_ = 0;
    } else {
      compact_next_ = hi >= compact_target_ ? 0 : hi;
    }
    if (compact_next_ == 0) {
      for (Op* op : compact_waiters_) op->done.release();
      compact_waiters_.clear();
    }
  }

  // Writer thread, after each commit: the WAL now holds `pages` pages.
  void OnWalCommit(int pages) {
    wal_pages_ = static_cast<size_t>(pages);
    if (wal_pages_ < opts_.checkpoint_wal_pages) return;
    {
      std::lock_guard l(ckpt_mu_);
      if (ckpt_wanted_) return;
      ckpt_wanted_ = true;
    }
    ckpt_cv_.notify_one();
  }

  // Writer thread, between batches. The background checkpoint copies most of the WAL but,
  // with writes arriving meanwhile, never all of it, and SQLite rewinds the WAL only once
  // every frame has been copied back. So when the WAL has grown past twice the threshold, the
  // writer copies the remainder itself (a small amount, since the background did the bulk)
  // and the next transaction starts the WAL over.
  void MaybeCatchUpCheckpoint() {
    if (opts_.checkpoint_wal_pages == 0 || wal_pages_ < 2 * opts_.checkpoint_wal_pages) return;
    int log = 0, done = 0;
    int rc = sqlite3_wal_checkpoint_v2(wdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc == SQLITE_OK && log == done) wal_pages_ = 0;
  }

  void CheckpointLoop() {
    std::unique_lock l(ckpt_mu_);
    for (;;) {
      ckpt_cv_.wait(l, [&] { return ckpt_stop_ || ckpt_wanted_; });
      if (ckpt_stop_) return;
      l.unlock();
      // PASSIVE never blocks the writer (nor waits for it).
      int log = 0, done = 0;
      int rc = sqlite3_wal_checkpoint_v2(cdb_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
      if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
        KLOG(Warning, "sqlite checkpoint failed: {}", sqlite3_errmsg(cdb_));
      }
      l.lock();
      ckpt_wanted_ = false;
    }
  }

  // Runs fn(current_revision, compact_revision) inside one read transaction (one snapshot).
  template <typename Fn>
  absl::Status ReadTxn(Reader& reader, Fn&& fn) {
    KORRAL_RETURN_IF_ERROR(reader.begin.Exec("begin read"));
    int64_t current = 0, compact = 0;
    absl::Status st = reader.ReadMeta(&current, &compact);
    if (st.ok()) st = fn(current, compact);
    absl::Status end = reader.commit.Exec("end read");
    if (!end.ok() && !sqlite3_get_autocommit(reader.db)) (void)reader.rollback.Exec("rollback");
    return st.ok() ? end : st;
  }

  absl::Status ReadHistory(std::string_view prefix, int64_t from, int64_t to,
                           std::vector<Event>* out) {
    KORRAL_ASSIGN_OR_RETURN(auto reader, AcquireReader());
    absl::Status st = ReadTxn(*reader, [&](int64_t, int64_t compact) -> absl::Status {
      if (from < compact) return absl::OutOfRangeError("watch start revision has been compacted");
      Stmt& s = reader->history;
      ResetOnExit r(s);
      s.BindInt(1, from);
      s.BindInt(2, to);
      int rc;
      while ((rc = s.Step()) == SQLITE_ROW) {
        std::string key = s.Blob(1);
        if (!internal::HasPrefix(key, prefix)) continue;
        Event e;
        e.type = s.Int(5) ? EventType::kDelete : EventType::kPut;
        e.kv = KeyValue{std::move(key), s.Blob(2), s.Int(3), s.Int(0)};
        e.prev_mod_revision = s.Int(4);
        out->push_back(std::move(e));
      }
      if (rc != SQLITE_DONE) return SqlError(reader->db, rc, "read history");
      return absl::OkStatus();
    });
    ReleaseReader(std::move(reader));
    return st;
  }

  absl::StatusOr<std::unique_ptr<Reader>> AcquireReader() {
    {
      std::lock_guard l(pool_mu_);
      if (!idle_readers_.empty()) {
        auto r = std::move(idle_readers_.back());
        idle_readers_.pop_back();
        return r;
      }
    }
    auto r = std::make_unique<Reader>();
    KORRAL_ASSIGN_OR_RETURN(r->db, OpenConnection(opts_, /*reader=*/true));
    KORRAL_RETURN_IF_ERROR(r->Init());
    return r;
  }

  void ReleaseReader(std::unique_ptr<Reader> r) {
    std::lock_guard l(pool_mu_);
    if (idle_readers_.size() < opts_.max_idle_readers) idle_readers_.push_back(std::move(r));
  }

  const SqliteOptions opts_;
  sqlite3* wdb_ = nullptr;
  WriterStmts w_;                // writer thread only (and Open)
  int64_t writer_revision_ = 0;  // writer thread only
  std::vector<Event> events_;    // writer thread only: the events of the batch being written
  std::atomic<int64_t> current_revision_{0};
  std::atomic<int64_t> compact_revision_{0};

  std::mutex qmu_;
  std::condition_variable qcv_;
  std::deque<Op*> queue_;
  bool stopping_ = false;
  std::thread writer_;

  sqlite3* cdb_ = nullptr;  // checkpointer thread only
  std::thread checkpointer_;
  std::mutex ckpt_mu_;
  std::condition_variable ckpt_cv_;
  bool ckpt_wanted_ = false;
  bool ckpt_stop_ = false;
  int64_t compact_target_ = 0;        // writer thread only
  int64_t compact_next_ = 0;          // writer thread only: next revision to compact; 0 when done
  std::vector<Op*> compact_waiters_;  // writer thread only: acknowledged when compaction ends
  size_t wal_pages_ = 0;              // writer thread only: WAL size after the last commit

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Reader>> idle_readers_;

  std::shared_ptr<WatchHub> hub_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Backend>> OpenSqliteBackend(const SqliteOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("sqlite storage: empty path");
  SqliteOptions opts = options;
  if (opts.max_batch_ops == 0) opts.max_batch_ops = 1;
  if (opts.compact_window < 1) opts.compact_window = 1;
  auto backend = std::make_unique<SqliteBackend>(opts);
  KORRAL_RETURN_IF_ERROR(backend->Open());
  return backend;
}

}  // namespace korral::storage
