// korral/apiserver/watch_cache.h: the apiserver's in-memory mirror of storage.
//
// One storage watch on the "/registry/" prefix feeds every resource's cache, so N client
// watches cost one storage watch, and every list or get is served from memory. Because every
// committed write reaches the cache through that single watch, the cache revision is the global
// storage revision it has caught up with; WaitForRevision() gives reads the "not older than"
// guarantee (a read with no resourceVersion waits for the revision storage reports as current,
// which is how upstream's consistent reads from cache work).
//
// Each resource keeps a bounded history of events so watches can resume from a recent
// resourceVersion; older ones get 410 Expired, and clients relist.
//
// Thread-safe. Watch sinks are called in revision order and must not block. Live events are
// delivered by the storage watch's (single) notifier thread outside the cache lock, so readers
// and new watches never wait on a fan-out; replays for a new watch and bookmarks are delivered
// under the lock. Sinks must not call back into the cache.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/storage/storage.h"

namespace korral::apiserver {

using Json = nlohmann::json;

// An immutable snapshot of one stored object, shared by the cache, list results and events.
struct CachedObject {
  std::string key;
  int64_t resource_version = 0;  // mod revision (or the deletion revision in DELETED events)
  Json object;                   // decoded, with metadata.resourceVersion set
  std::string json;              // object.dump(), serialized once
};
using ObjectPtr = std::shared_ptr<const CachedObject>;

// An object on its way to storage: the bytes to store and the decoded form that becomes the
// cache's (and the response's) snapshot once the write's revision is known.
class PendingWrite {
 public:
  // Serializes `object` (without metadata.resourceVersion) once; value() is what is stored.
  PendingWrite(std::string key, Json object);
  PendingWrite(const PendingWrite&) = delete;
  PendingWrite& operator=(const PendingWrite&) = delete;

  const std::string& key() const { return key_; }
  const std::string& value() const { return value_; }
  // The object to be written. Only the writing thread may use it, and only before Finalize.
  const Json& object() const { return object_; }

  // The snapshot at revision `rv` (metadata.resourceVersion set, serialized once). Thread-safe:
  // the writer and the cache's event thread may both call it; the first builds it.
  ObjectPtr Finalize(int64_t rv);

 private:
  const std::string key_;
  const std::string value_;
  Json object_;
  std::mutex mu_;
  ObjectPtr result_;
};

// `dumped` is nlohmann's compact dump of an object whose "metadata" object has no
// "resourceVersion"; returns the dump of the same object with metadata.resourceVersion = `rv`
// (a string), byte for byte what dumping the changed tree gives, by inserting the member at its
// sorted place. nullopt if `dumped` is not such a dump (no metadata object, a resourceVersion
// already there, or escaped metadata keys whose order this does not decide): dump instead.
// Saves the second serialization of every written object (PendingWrite::Finalize).
std::optional<std::string> SpliceResourceVersion(std::string_view dumped, std::string_view rv);

enum class WatchEventType { kAdded, kModified, kDeleted };

struct CacheEvent {
  WatchEventType type;
  ObjectPtr object;  // new state; for kDeleted the last state at the deletion revision
  ObjectPtr prev;    // previous state (null for kAdded)
  int64_t revision;
};

// Receives a watch's events. Called with the cache lock held; must be quick.
class WatchSink {
 public:
  virtual ~WatchSink() = default;
  // Returns false to end the watch.
  virtual bool OnEvent(WatchEventType type, const ObjectPtr& object) = 0;
  // The watch cannot continue (e.g. 410 Expired); no more events follow.
  virtual void OnError(const absl::Status& status) = 0;
  // Every event up to `revision` has been delivered (for BOOKMARK events). Returns false to
  // end the watch.
  virtual bool OnBookmark(int64_t revision) { return true; }
};

using ObjectFilter = std::function<bool(const CachedObject&)>;

class WatchCache {
 public:
  // `backend` must outlive the cache. `history_per_resource` bounds resumable events.
  explicit WatchCache(storage::Backend* backend, size_t history_per_resource = 10000);
  ~WatchCache();

  // Loads the current state and starts the storage watch.
  absl::Status Start();
  void Stop();

  // The newest storage revision the cache reflects.
  int64_t Revision() const;
  // Blocks until Revision() >= revision or the timeout passes. Returns whether it caught up.
  bool WaitForRevision(int64_t revision, std::chrono::milliseconds timeout) const;
  // True when the cache already reflects every committed write (no wait needed).
  bool IsFresh() const;
  // Waits until the cache reflects every write committed before the call (consistent read).
  bool WaitFresh(std::chrono::milliseconds timeout = std::chrono::seconds(3)) const;

  // Current object at key, or null.
  ObjectPtr Get(const std::string& key) const;

  struct ListResult {
    std::vector<ObjectPtr> items;  // sorted by key
    int64_t revision = 0;
    bool more = false;
    std::string next_key;  // when more: the first key not returned
  };
  // Objects whose key starts with `prefix` and is >= `start_key` (if not empty), passing
  // `filter` (may be null), at most `limit` (0: all).
  ListResult List(std::string_view prefix, std::string_view start_key, int64_t limit,
                  const ObjectFilter& filter) const;

  // Registers a watch on keys with `prefix`. start_revision 0: first an ADDED for every
  // current object, then changes. Otherwise every change after start_revision; OutOfRange
  // (410) when that history is gone. Returns an id for CancelWatch.
  absl::StatusOr<uint64_t> Watch(std::string_view prefix, int64_t start_revision,
                                 ObjectFilter filter, std::shared_ptr<WatchSink> sink);
  void CancelWatch(uint64_t id);
  // Calls the watch's OnBookmark with the cache revision, ordered with its events.
  void Bookmark(uint64_t id);
  size_t WatcherCount() const;

  // Decodes a stored value into a CachedObject (exposed for paging reads from storage).
  static absl::StatusOr<ObjectPtr> Decode(const storage::KeyValue& kv);

  // Announces a write before it reaches storage, so the cache can take the writer's decoded
  // object for the matching storage event instead of decoding the stored bytes again (the event
  // usually reaches the cache before the writing thread resumes, so announcing afterwards loses
  // that race). The event matches by key and exact stored bytes. Call AbandonWrite when the
  // write failed; a successful write's announcement is consumed by its event. Purely an
  // optimisation: an event without a match is decoded.
  void BeginWrite(std::shared_ptr<PendingWrite> write);
  void AbandonWrite(const std::shared_ptr<PendingWrite>& write);

 private:
  struct Watcher {
    uint64_t id;
    std::string prefix;
    ObjectFilter filter;
    std::shared_ptr<WatchSink> sink;
  };
  using WatcherPtr = std::shared_ptr<Watcher>;
  struct ResourceState {
    std::map<std::string, ObjectPtr, std::less<>> objects;
    std::deque<CacheEvent> history;
    // Every event with revision > complete_since is in history.
    int64_t complete_since = 0;
  };

  void OnStorageEvents(const std::vector<storage::Event>& events);
  void OnStorageError(const absl::Status& status);
  // "/registry/pods/ns/name" -> "/registry/pods/"
  static std::string ResourcePrefixOf(std::string_view key);
  ResourceState& StateFor(const std::string& resource_prefix);
  static bool Deliver(Watcher& w, const CacheEvent& event);

  storage::Backend* backend_;
  size_t history_limit_;
  storage::WatchPtr storage_watch_;

  mutable std::mutex mu_;
  mutable std::condition_variable revision_cv_;
  int64_t revision_ = 0;
  int64_t start_revision_ = 0;
  std::map<std::string, ResourceState, std::less<>> resources_;
  std::map<uint64_t, WatcherPtr> watchers_;
  // The newest revision whose events every registered watcher has been handed.
  int64_t delivered_revision_ = 0;
  // Announced writes not yet matched by their storage event (bounded: only a shortcut).
  std::multimap<std::string, std::shared_ptr<PendingWrite>, std::less<>> pending_;
  uint64_t next_watch_id_ = 1;
  absl::Status broken_;
};

}  // namespace korral::apiserver
