// korral/storage/storage.h: the MVCC key-value contract every storage backend implements.
//
// The model is etcd v3's: one global, monotonically increasing revision; every successful write
// (create, update, delete) gets the next revision; each key remembers the revision that created it
// (create_revision) and the revision of its last change (mod_revision). Old revisions are kept
// until Compact() drops them, so range reads and watches can start in the past. Only the
// apiserver talks to a Backend; it maps resourceVersion 1:1 onto revisions.
//
// Errors (absl codes, mapped to Kubernetes reasons by the apiserver):
//   NotFound            the key does not exist (Get, Update, Delete)
//   AlreadyExists       Create of a key that exists
//   FailedPrecondition  Update/Delete whose expected mod revision does not match (-> 409 Conflict)
//   OutOfRange          a revision that was compacted away (-> 410 Expired), or one from the future
//   InvalidArgument     malformed request (empty key, bad range)
//   Unavailable/Internal I/O failures; the write did not happen.
//
// Thread safety: every method may be called from any thread concurrently. A write is durable
// (for persistent backends) once its call returns OK.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace korral::storage {

struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
};

enum class EventType { kPut, kDelete };

// One change. For kPut, kv is the new state (kv.create_revision == kv.mod_revision on create).
// For kDelete, kv.key is the key, kv.mod_revision the revision of the deletion, and kv.value /
// kv.create_revision the last state before deletion (what Kubernetes puts in a DELETED event).
// prev_mod_revision is the mod revision the key had before this event (0 on create).
struct Event {
  EventType type = EventType::kPut;
  KeyValue kv;
  int64_t prev_mod_revision = 0;
};

struct RangeRequest {
  // Keys in [start, end). end empty means "exactly the key start"; end == "\0" (one NUL byte,
  // as etcd) means "every key >= start" (PrefixEnd("") returns it, so a prefix range over the
  // empty prefix reads everything). InvalidArgument if start is empty and end is empty, or if
  // end < start (other than the "\0" case).
  std::string start;
  std::string end;
  // At most this many keys; 0 means no limit. RangeResponse::more says whether more exist.
  int64_t limit = 0;
  // Read the state as of this revision; 0 means the current revision.
  int64_t revision = 0;
};

struct RangeResponse {
  std::vector<KeyValue> kvs;  // sorted by key
  bool more = false;          // true when limit cut the result short
  int64_t revision = 0;       // the revision the read was served at
};

// Returns the smallest key greater than every key with this prefix ("/a/" -> "/a0"),
// for building [prefix, PrefixEnd(prefix)) ranges. When no such key exists (empty prefix, or
// only 0xff bytes) returns "\0", the "no upper bound" marker of RangeRequest::end.
std::string PrefixEnd(std::string_view prefix);

// A live watch. Destroying it (or calling Cancel) stops delivery; after Cancel returns the
// callback is not running and will not be called again.
class Watch {
 public:
  virtual ~Watch() = default;
  virtual void Cancel() = 0;
};
using WatchPtr = std::unique_ptr<Watch>;

// Receives events strictly in revision order, never concurrently with itself for one watch,
// with no gaps and no duplicates. A non-OK status ends the watch (for instance OutOfRange when
// the watcher fell behind a compaction, or Cancelled when the backend closes); no events follow.
struct WatchHandler {
  std::function<void(const std::vector<Event>&)> on_events;
  std::function<void(const absl::Status&)> on_error;
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // Creates key with value if absent. Returns the new revision. AlreadyExists otherwise.
  virtual absl::StatusOr<int64_t> Create(std::string_view key, std::string_view value) = 0;

  // Replaces the value of an existing key if its mod revision equals expected_mod_revision
  // (0 means unconditional). Returns the new revision.
  virtual absl::StatusOr<int64_t> Update(std::string_view key, std::string_view value,
                                         int64_t expected_mod_revision) = 0;

  // Deletes an existing key under the same precondition as Update. Returns the deleted state
  // with mod_revision set to the revision of the deletion.
  virtual absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_mod_revision) = 0;

  // Reads one key at the current revision.
  virtual absl::StatusOr<KeyValue> Get(std::string_view key) = 0;

  // Reads a key range, optionally at a past revision. OutOfRange if request.revision is
  // below CompactRevision() or above CurrentRevision().
  virtual absl::StatusOr<RangeResponse> Range(const RangeRequest& request) = 0;

  // Starts watching keys with the given prefix, delivering every event whose revision is
  // >= start_revision (0 means "from the next write on"; a start in the future waits for it).
  // OutOfRange if start_revision < CompactRevision() (a watch from exactly the compact revision
  // works). Handlers run on a backend thread, never under locks writers need; a watch that
  // falls too far behind (backend-specific buffer limit) ends with ResourceExhausted, and
  // closing the backend ends every watch with Cancelled.
  virtual absl::StatusOr<WatchPtr> Watch(std::string_view prefix, int64_t start_revision,
                                         WatchHandler handler) = 0;

  // Drops history before revision: the state at `revision` and every event from `revision` on
  // stay readable; Range/Watch below it return OutOfRange. OutOfRange if revision >
  // CurrentRevision(); a revision <= CompactRevision() is a no-op returning OK.
  virtual absl::Status Compact(int64_t revision) = 0;

  // The revision of the last committed write (0 for an empty store).
  virtual int64_t CurrentRevision() = 0;
  // The revision of the last compaction (0 if never compacted).
  virtual int64_t CompactRevision() = 0;
};
using BackendPtr = std::unique_ptr<Backend>;

}  // namespace korral::storage
