// korral/client/informer.h: informers (client-go tools/cache): a reflector keeps a local,
// indexed cache of one resource in sync with the apiserver and calls event handlers.
//
// The reflector lists (resourceVersion "") and then watches from the list's resourceVersion.
// When a watch ends normally it re-watches from the last seen resourceVersion; when it ends
// with 410 Expired/Gone it relists; on other errors it waits (exponential backoff) and
// re-watches. BOOKMARK events only advance the resourceVersion. On relist, objects that vanished
// are deleted from the cache and handlers get OnDelete with final_state_unknown = true (client-go's
// DeletedFinalStateUnknown tombstone); objects whose resourceVersion changed get OnUpdate.
//
// Handlers run on the informer's thread, one at a time, in event order; they must not block for
// long and must not call AddEventHandler. Cached objects are immutable shared_ptrs: never
// modify them (copy first).
//
// Example:
//   SharedInformer pods(NewListerWatcher(client, resources::Pods()));
//   pods.AddIndex("nodeName", [](const Json& p) { return std::vector{p["spec"].value("nodeName",
//   "")}; }); pods.AddEventHandler({.on_add = [&](const ObjectPtr& p) { queue.Add(ObjectKey(*p));
//   }}); pods.Start(); if (!pods.WaitForCacheSync(std::chrono::seconds(30))) ... for (const
//   ObjectPtr& p : pods.indexer().ByIndex("nodeName", "node-1")) ...
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "korral/client/client.h"

namespace korral::client {

using ObjectPtr = std::shared_ptr<const Json>;
// Returns the index values of an object (possibly none, possibly several).
using IndexFunc = std::function<std::vector<std::string>(const Json& object)>;
// A digest of one stored object version, computed once when the object is stored (see
// InformerOptions::summarize): the few fields a controller's hot loops read, in a typed struct
// far smaller than the object's tree. Opaque to the Indexer (the summarizer's owner casts it
// back). Immutable, like cached objects.
using Summary = std::shared_ptr<const void>;
using SummaryFunc = std::function<Summary(const Json& object)>;

inline constexpr char kNamespaceIndex[] = "namespace";
// Indexes by metadata.namespace.
std::vector<std::string> NamespaceIndexFunc(const Json& object);

// A thread-safe store of objects keyed by "namespace/name" (ObjectKey) with secondary indexes.
//
// Compact mode (`compact` = true) keeps each object serialized (MessagePack, about a fifth of
// the memory of its nlohmann tree) and decodes it when Get/List/ByIndex hand it out; an object
// somebody still holds (the informer's handlers, a controller's sync) is handed out again
// without decoding. Costs a few microseconds per object not currently held; meant for caches
// that are large and read by key or small index ranges (the controller manager's pods).
//
// With a summarizer (`summarize`), every stored object also gets a Summary, computed once per
// Upsert; loops over many objects read summaries (no decode) and decode only what they act on.
//
// Index entries point at the key held by the store (no per-index copy of each key string).
class Indexer {
 public:
  explicit Indexer(bool compact = false, SummaryFunc summarize = nullptr);
  // Adds (or replaces) an index; existing objects are indexed right away. Returns
  // AlreadyExists if `name` is taken.
  absl::Status AddIndex(const std::string& name, IndexFunc fn);
  // Inserts or replaces the object under ObjectKey(*object); returns the previous one.
  ObjectPtr Upsert(ObjectPtr object);
  // Removes the object under `key`; returns it (null if absent).
  ObjectPtr Remove(const std::string& key);
  ObjectPtr Get(const std::string& key) const;
  std::vector<ObjectPtr> List() const;
  std::vector<std::string> ListKeys() const;
  // Objects whose index `index_name` yields `value` (empty for an unknown index).
  std::vector<ObjectPtr> ByIndex(const std::string& index_name, const std::string& value) const;
  // Objects in namespace `ns` (uses the namespace index).
  std::vector<ObjectPtr> ListNamespace(const std::string& ns) const {
    return ByIndex(kNamespaceIndex, ns);
  }
  size_t Size() const;
  bool compact() const { return compact_; }

  // Summaries (null / empty without a summarizer), in the same order as Get, List and ByIndex.
  bool has_summaries() const { return static_cast<bool>(summarize_); }
  Summary GetSummary(const std::string& key) const;
  std::vector<Summary> ListSummaries() const;
  std::vector<Summary> SummariesByIndex(const std::string& index_name,
                                        const std::string& value) const;

 private:
  struct Slot {
    ObjectPtr object;                   // not compact
    std::vector<std::uint8_t> packed;   // compact: the MessagePack form
    std::weak_ptr<const Json> decoded;  // compact: the last tree handed out, while alive
    Summary summary;                    // with a summarizer
  };
  using Entry = std::pair<const std::string, Slot>;  // an element of items_
  // Orders index entries (pointers to elements of items_, which std::map keeps stable) by key;
  // looks up by key string.
  struct EntryLess {
    using is_transparent = void;
    bool operator()(const Entry* a, const Entry* b) const { return a->first < b->first; }
    bool operator()(const Entry* a, const std::string& b) const { return a->first < b; }
    bool operator()(const std::string& a, const Entry* b) const { return a < b->first; }
  };
  using EntrySet = std::set<Entry*, EntryLess>;
  // `entry` must be an element of items_ (index entries keep its address).
  void IndexLocked(Entry& entry, const Json& object, bool add);
  ObjectPtr LoadLocked(Slot& slot) const;
  // The elements under index `index_name` value `value` (null if none).
  const EntrySet* IndexedLocked(const std::string& index_name, const std::string& value) const;

  const bool compact_;
  const SummaryFunc summarize_;
  mutable std::mutex mu_;
  // Mutable: compact mode remembers decoded trees (under mu_).
  mutable std::map<std::string, Slot> items_;
  std::map<std::string, IndexFunc> index_funcs_;
  // index name -> value -> elements of items_
  std::map<std::string, std::unordered_map<std::string, EntrySet>> indices_;
};

// Lists and watches one resource (the seam used to test informers).
class ListerWatcher {
 public:
  virtual ~ListerWatcher() = default;
  virtual absl::StatusOr<Json> List(const ListOptions& options) = 0;
  virtual absl::StatusOr<WatchHandlePtr> Watch(const WatchOptions& options,
                                               WatchEventCallback on_event,
                                               WatchDoneCallback on_done) = 0;
};

// A ListerWatcher over `client` (which must outlive it) for `ref` in `ns` ("" = all) with
// optional label/field selectors.
std::unique_ptr<ListerWatcher> NewListerWatcher(Client& client, ResourceRef ref,
                                                std::string ns = "",
                                                std::string label_selector = "",
                                                std::string field_selector = "");

struct ResourceEventHandler {
  std::function<void(const ObjectPtr& object)> on_add;
  std::function<void(const ObjectPtr& old_object, const ObjectPtr& new_object)> on_update;
  // `final_state_unknown`: the deletion was noticed on relist, `object` is the last known state.
  std::function<void(const ObjectPtr& object, bool final_state_unknown)> on_delete;
};

struct InformerOptions {
  // > 0: every period, OnUpdate(obj, obj) for each cached object.
  std::chrono::milliseconds resync_period{0};
  // Backoff after failed lists/watches: initial, doubled up to max.
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{30000};
  // Server-side timeout of each watch request (0: server default).
  int64_t watch_timeout_seconds = 300;
  bool allow_watch_bookmarks = true;
  std::string name;  // for logs
  // Applied to every listed and watched object before it is stored and handed to the handlers
  // (client-go's SetTransform), e.g. StripManagedFields to keep the cache small. Runs on the
  // informer's thread; must keep metadata.namespace, name, uid and resourceVersion.
  std::function<void(Json& object)> transform;
  // Store the cache compactly (see Indexer): less memory, a decode per object handed out.
  bool compact_cache = false;
  // Computes each stored object's Summary (see Indexer), after `transform`. Runs on the
  // informer's thread.
  SummaryFunc summarize;
};

// Transforms for InformerOptions::transform.
// Removes metadata.managedFields (what kube-controller-manager does to every cached object).
void StripManagedFields(Json& object);
// Keeps only apiVersion, kind and metadata without managedFields: the PartialObjectMetadata view
// that metadata informers cache (the garbage collector needs nothing else).
void ToObjectMetadata(Json& object);

class SharedInformer {
 public:
  explicit SharedInformer(std::unique_ptr<ListerWatcher> lister_watcher,
                          InformerOptions options = {});
  // Stops the informer.
  ~SharedInformer();
  SharedInformer(const SharedInformer&) = delete;
  SharedInformer& operator=(const SharedInformer&) = delete;

  // Registers a handler. If the cache already holds objects, the handler first gets OnAdd for
  // each of them. Safe before or after Start (but not from inside a handler).
  void AddEventHandler(ResourceEventHandler handler);
  // See Indexer::AddIndex.
  absl::Status AddIndex(const std::string& name, IndexFunc fn);
  // Starts the reflector thread. Call once.
  void Start();
  // Stops the reflector and waits for it. Idempotent.
  void Stop();
  // True once the first list has been delivered to the store and handlers.
  bool HasSynced() const;
  // Blocks until HasSynced or `timeout` (real time) passes or Stop; returns HasSynced().
  bool WaitForCacheSync(std::chrono::milliseconds timeout);
  // The resourceVersion of the last list, event or bookmark seen.
  std::string LastSyncResourceVersion() const;
  // The number of completed lists (1 after the initial sync; grows on each relist).
  int NumLists() const;

  const Indexer& indexer() const { return indexer_; }

 private:
  struct Item {
    uint64_t generation;
    std::optional<WatchEvent> event;
    std::optional<absl::Status> done;
  };
  void Loop();
  // Returns false if stopped.
  bool ListOnce();
  // Runs one watch until it ends. Returns the status it ended with (or Cancelled when stopped).
  absl::Status WatchOnce();
  void Apply(WatchEvent event);
  void Resync();
  // Waits `d` unless stopped; returns false if stopped.
  bool SleepFor(std::chrono::milliseconds d);
  void SetRv(std::string rv);

  std::unique_ptr<ListerWatcher> lw_;
  const InformerOptions options_;
  Indexer indexer_;

  std::mutex handlers_mu_;  // serializes store mutation + dispatch + handler registration
  std::vector<ResourceEventHandler> handlers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool synced_ = false;
  int num_lists_ = 0;
  std::string rv_;
  uint64_t watch_generation_ = 0;
  std::deque<Item> items_;
  std::thread thread_;
};

// True once every informer has synced (false on timeout).
bool WaitForCacheSync(const std::vector<SharedInformer*>& informers,
                      std::chrono::milliseconds timeout);

}  // namespace korral::client
