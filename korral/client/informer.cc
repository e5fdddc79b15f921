#include "korral/client/informer.h"

#include <algorithm>

#include "korral/base/log.h"
#include "korral/client/errors.h"

namespace korral::client {

std::vector<std::string> NamespaceIndexFunc(const Json& object) {
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    return {m->value("namespace", "")};
  }
  return {""};
}

void StripManagedFields(Json& object) {
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    m->erase("managedFields");
  }
}

void ToObjectMetadata(Json& object) {
  if (!object.is_object()) return;
  for (auto it = object.begin(); it != object.end();) {
    const std::string& k = it.key();
    if (k == "metadata" || k == "apiVersion" || k == "kind") {
      ++it;
    } else {
      it = object.erase(it);
    }
  }
  StripManagedFields(object);
}

// ---- Indexer ----

Indexer::Indexer(bool compact, SummaryFunc summarize)
    : compact_(compact), summarize_(std::move(summarize)) {
  index_funcs_[kNamespaceIndex] = NamespaceIndexFunc;
}

ObjectPtr Indexer::LoadLocked(Slot& slot) const {
  if (!compact_) return slot.object;
  if (ObjectPtr held = slot.decoded.lock()) return held;
  auto tree = std::make_shared<const Json>(Json::from_msgpack(slot.packed));
  slot.decoded = tree;
  return tree;
}

void Indexer::IndexLocked(Entry& entry, const Json& object, bool add) {
  for (const auto& [name, fn] : index_funcs_) {
    auto& index = indices_[name];
    for (const std::string& value : fn(object)) {
      if (add) {
        index[value].insert(&entry);
      } else if (auto it = index.find(value); it != index.end()) {
        if (auto k = it->second.find(entry.first); k != it->second.end()) it->second.erase(k);
        if (it->second.empty()) index.erase(it);
      }
    }
  }
}

const Indexer::EntrySet* Indexer::IndexedLocked(const std::string& index_name,
                                                const std::string& value) const {
  auto idx = indices_.find(index_name);
  if (idx == indices_.end()) return nullptr;
  auto keys = idx->second.find(value);
  if (keys == idx->second.end()) return nullptr;
  return &keys->second;
}

absl::Status Indexer::AddIndex(const std::string& name, IndexFunc fn) {
  std::lock_guard l(mu_);
  if (index_funcs_.count(name)) return absl::AlreadyExistsError("index " + name + " exists");
  auto& index = indices_[name];
  for (Entry& entry : items_) {
    ObjectPtr obj = LoadLocked(entry.second);
    for (const std::string& value : fn(*obj)) index[value].insert(&entry);
  }
  index_funcs_[name] = std::move(fn);
  return absl::OkStatus();
}

ObjectPtr Indexer::Upsert(ObjectPtr object) {
  std::string key = ObjectKey(*object);
  std::vector<std::uint8_t> packed;
  if (compact_) {
    packed = Json::to_msgpack(*object);
    packed.shrink_to_fit();
  }
  Summary summary = summarize_ ? summarize_(*object) : nullptr;
  std::lock_guard l(mu_);
  auto [it, inserted] = items_.try_emplace(std::move(key));
  Slot& slot = it->second;
  ObjectPtr old = inserted ? nullptr : LoadLocked(slot);
  if (old) IndexLocked(*it, *old, false);
  IndexLocked(*it, *object, true);
  slot.summary = std::move(summary);
  if (compact_) {
    slot.packed = std::move(packed);
    slot.decoded = object;
  } else {
    slot.object = std::move(object);
  }
  return old;
}

ObjectPtr Indexer::Remove(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = items_.find(key);
  if (it == items_.end()) return nullptr;
  ObjectPtr old = LoadLocked(it->second);
  IndexLocked(*it, *old, false);  // before the erase: index entries point at *it
  items_.erase(it);
  return old;
}

ObjectPtr Indexer::Get(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : LoadLocked(it->second);
}

std::vector<ObjectPtr> Indexer::List() const {
  std::lock_guard l(mu_);
  std::vector<ObjectPtr> out;
  out.reserve(items_.size());
  for (auto& [k, slot] : items_) out.push_back(LoadLocked(slot));
  return out;
}

std::vector<std::string> Indexer::ListKeys() const {
  std::lock_guard l(mu_);
  std::vector<std::string> out;
  out.reserve(items_.size());
  for (const auto& [k, v] : items_) out.push_back(k);
  return out;
}

std::vector<ObjectPtr> Indexer::ByIndex(const std::string& index_name,
                                        const std::string& value) const {
  std::lock_guard l(mu_);
  std::vector<ObjectPtr> out;
  const EntrySet* entries = IndexedLocked(index_name, value);
  if (entries == nullptr) return out;
  out.reserve(entries->size());
  for (Entry* e : *entries) out.push_back(LoadLocked(e->second));
  return out;
}

size_t Indexer::Size() const {
  std::lock_guard l(mu_);
  return items_.size();
}

Summary Indexer::GetSummary(const std::string& key) const {
  std::lock_guard l(mu_);
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : it->second.summary;
}

std::vector<Summary> Indexer::ListSummaries() const {
  std::vector<Summary> out;
  if (!summarize_) return out;
  std::lock_guard l(mu_);
  out.reserve(items_.size());
  for (const auto& [k, slot] : items_) out.push_back(slot.summary);
  return out;
}

std::vector<Summary> Indexer::SummariesByIndex(const std::string& index_name,
                                               const std::string& value) const {
  std::vector<Summary> out;
  if (!summarize_) return out;
  std::lock_guard l(mu_);
  const EntrySet* entries = IndexedLocked(index_name, value);
  if (entries == nullptr) return out;
  out.reserve(entries->size());
  for (const Entry* e : *entries) out.push_back(e->second.summary);
  return out;
}

// ---- ListerWatcher over a Client ----

namespace {
class ClientListerWatcher : public ListerWatcher {
 public:
  ClientListerWatcher(Client& client, ResourceRef ref, std::string ns, std::string labels,
                      std::string fields)
      : client_(client),
        ref_(std::move(ref)),
        ns_(std::move(ns)),
        labels_(std::move(labels)),
        fields_(std::move(fields)) {}

  absl::StatusOr<Json> List(const ListOptions& options) override {
    ListOptions o = options;
    o.label_selector = labels_;
    o.field_selector = fields_;
    return client_.List(ref_, ns_, o);
  }
  absl::StatusOr<WatchHandlePtr> Watch(const WatchOptions& options, WatchEventCallback on_event,
                                       WatchDoneCallback on_done) override {
    WatchOptions o = options;
    o.label_selector = labels_;
    o.field_selector = fields_;
    return client_.Watch(ref_, ns_, o, std::move(on_event), std::move(on_done));
  }

 private:
  Client& client_;
  const ResourceRef ref_;
  const std::string ns_, labels_, fields_;
};
}  // namespace

std::unique_ptr<ListerWatcher> NewListerWatcher(Client& client, ResourceRef ref, std::string ns,
                                                std::string label_selector,
                                                std::string field_selector) {
  return std::make_unique<ClientListerWatcher>(
      client, std::move(ref), std::move(ns), std::move(label_selector), std::move(field_selector));
}

// ---- SharedInformer ----

SharedInformer::SharedInformer(std::unique_ptr<ListerWatcher> lister_watcher,
                               InformerOptions options)
    : lw_(std::move(lister_watcher)),
      options_(std::move(options)),
      indexer_(options_.compact_cache, options_.summarize) {}

SharedInformer::~SharedInformer() { Stop(); }

void SharedInformer::AddEventHandler(ResourceEventHandler handler) {
  std::lock_guard l(handlers_mu_);
  if (handler.on_add) {
    for (const ObjectPtr& obj : indexer_.List()) handler.on_add(obj);
  }
  handlers_.push_back(std::move(handler));
}

absl::Status SharedInformer::AddIndex(const std::string& name, IndexFunc fn) {
  return indexer_.AddIndex(name, std::move(fn));
}

void SharedInformer::Start() {
  std::lock_guard l(mu_);
  if (thread_.joinable() || stopped_) return;
  thread_ = std::thread([this] { Loop(); });
}

void SharedInformer::Stop() {
  {
    std::lock_guard l(mu_);
    stopped_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

bool SharedInformer::HasSynced() const {
  std::lock_guard l(mu_);
  return synced_;
}

bool SharedInformer::WaitForCacheSync(std::chrono::milliseconds timeout) {
  std::unique_lock l(mu_);
  cv_.wait_for(l, timeout, [&] { return synced_ || stopped_; });
  return synced_;
}

std::string SharedInformer::LastSyncResourceVersion() const {
  std::lock_guard l(mu_);
  return rv_;
}

int SharedInformer::NumLists() const {
  std::lock_guard l(mu_);
  return num_lists_;
}

void SharedInformer::SetRv(std::string rv) {
  if (rv.empty()) return;
  std::lock_guard l(mu_);
  rv_ = std::move(rv);
}

bool SharedInformer::SleepFor(std::chrono::milliseconds d) {
  std::unique_lock l(mu_);
  return !cv_.wait_for(l, d, [&] { return stopped_; });
}

bool SharedInformer::ListOnce() {
  auto backoff = options_.backoff_initial;
  while (true) {
    {
      std::lock_guard l(mu_);
      if (stopped_) return false;
    }
    absl::StatusOr<Json> list = lw_->List(ListOptions{});
    if (list.ok() && (*list)["items"].is_array()) {
      std::string list_rv = (*list)["metadata"].value("resourceVersion", "");
      std::string kind = list->value("kind", "");
      if (kind.size() > 4 && kind.compare(kind.size() - 4, 4, "List") == 0) {
        kind.resize(kind.size() - 4);
      } else {
        kind.clear();
      }
      std::string api_version = list->value("apiVersion", "");
      std::map<std::string, ObjectPtr> fresh;
      for (Json& item : (*list)["items"]) {
        // List items carry no kind/apiVersion on the wire; restore them like client-go does.
        if (!kind.empty() && !item.contains("kind")) item["kind"] = kind;
        if (!api_version.empty() && !item.contains("apiVersion")) item["apiVersion"] = api_version;
        if (options_.transform) options_.transform(item);
        std::string key = ObjectKey(item);
        fresh[key] = std::make_shared<const Json>(std::move(item));
      }
      {
        std::lock_guard hl(handlers_mu_);
        for (const std::string& key : indexer_.ListKeys()) {
          if (fresh.count(key)) continue;
          ObjectPtr old = indexer_.Remove(key);
          for (auto& h : handlers_) {
            if (h.on_delete && old) h.on_delete(old, /*final_state_unknown=*/true);
          }
        }
        for (auto& [key, obj] : fresh) {
          ObjectPtr old = indexer_.Upsert(obj);
          for (auto& h : handlers_) {
            if (!old) {
              if (h.on_add) h.on_add(obj);
            } else if (ResourceVersionOf(*old) != ResourceVersionOf(*obj)) {
              if (h.on_update) h.on_update(old, obj);
            }
          }
        }
      }
      std::lock_guard l(mu_);
      rv_ = list_rv;
      synced_ = true;
      num_lists_++;
      cv_.notify_all();
      return true;
    }
    absl::Status s = list.ok() ? absl::InternalError("list response has no items") : list.status();
    KLOG(Warning, "informer {}: list failed: {}", options_.name, s.ToString());
    if (!SleepFor(backoff)) return false;
    backoff = std::min(backoff * 2, options_.backoff_max);
  }
}

void SharedInformer::Apply(WatchEvent event) {
  std::string rv = ResourceVersionOf(event.object);
  if (event.type == "BOOKMARK") {
    SetRv(std::move(rv));
    return;
  }
  if (options_.transform) options_.transform(event.object);
  auto obj = std::make_shared<const Json>(std::move(event.object));
  {
    std::lock_guard hl(handlers_mu_);
    if (event.type == "ADDED" || event.type == "MODIFIED") {
      ObjectPtr old = indexer_.Upsert(obj);
      for (auto& h : handlers_) {
        if (old) {
          if (h.on_update) h.on_update(old, obj);
        } else if (h.on_add) {
          h.on_add(obj);
        }
      }
    } else if (event.type == "DELETED") {
      ObjectPtr old = indexer_.Remove(ObjectKey(*obj));
      for (auto& h : handlers_) {
        if (h.on_delete) h.on_delete(obj, false);
      }
    } else {
      KLOG(Warning, "informer {}: unexpected watch event type {}", options_.name, event.type);
    }
  }
  SetRv(std::move(rv));
}

void SharedInformer::Resync() {
  std::lock_guard hl(handlers_mu_);
  for (const ObjectPtr& obj : indexer_.List()) {
    for (auto& h : handlers_) {
      if (h.on_update) h.on_update(obj, obj);
    }
  }
}

absl::Status SharedInformer::WatchOnce() {
  uint64_t gen;
  WatchOptions wo;
  {
    std::lock_guard l(mu_);
    if (stopped_) return absl::CancelledError("stopped");
    gen = ++watch_generation_;
    items_.clear();
    wo.resource_version = rv_;
  }
  wo.timeout_seconds = options_.watch_timeout_seconds;
  wo.allow_watch_bookmarks = options_.allow_watch_bookmarks;
  auto push = [this, gen](Item item) {
    std::lock_guard l(mu_);
    if (gen != watch_generation_) return;
    items_.push_back(std::move(item));
    cv_.notify_all();
  };
  absl::StatusOr<WatchHandlePtr> handle = lw_->Watch(
      wo,
      [push](WatchEvent e) {
        push(Item{0, std::move(e), std::nullopt});
      },
      [push](absl::Status s) {
        push(Item{0, std::nullopt, std::move(s)});
      });
  if (!handle.ok()) return handle.status();

  using Steady = std::chrono::steady_clock;
  std::optional<Steady::time_point> next_resync;
  if (options_.resync_period.count() > 0) next_resync = Steady::now() + options_.resync_period;
  absl::Status result;
  int events_seen = 0;
  while (true) {
    std::unique_lock l(mu_);
    auto ready = [&] { return stopped_ || !items_.empty(); };
    if (next_resync) {
      cv_.wait_until(l, *next_resync, ready);
    } else {
      cv_.wait(l, ready);
    }
    if (stopped_) {
      result = absl::CancelledError("stopped");
      break;
    }
    if (items_.empty()) {  // resync time
      l.unlock();
      Resync();
      next_resync = Steady::now() + options_.resync_period;
      continue;
    }
    Item item = std::move(items_.front());
    items_.pop_front();
    l.unlock();
    if (item.done) {
      result = *item.done;
      break;
    }
    events_seen++;
    Apply(std::move(*item.event));
  }
  {
    std::lock_guard l(mu_);
    ++watch_generation_;  // drop anything the old watch still delivers
    items_.clear();
  }
  (*handle)->Stop();
  if (result.ok() && events_seen == 0) {
    // A watch that closed without delivering anything: do not spin on a server that keeps
    // closing watches right away.
    return absl::UnavailableError("watch closed without events");
  }
  return result;
}

void SharedInformer::Loop() {
  while (true) {
    if (!ListOnce()) return;
    auto backoff = options_.backoff_initial;
    while (true) {
      absl::Status s = WatchOnce();
      if (absl::IsCancelled(s)) {
        std::lock_guard l(mu_);
        if (stopped_) return;
      }
      if (s.ok()) {
        backoff = options_.backoff_initial;
        continue;  // server closed the watch: resume from the last resourceVersion
      }
      if (IsResourceExpired(s)) {
        KLOG(Info, "informer {}: watch expired ({}), relisting", options_.name,
             std::string(s.message()));
        break;
      }
      KLOG(Warning, "informer {}: watch failed: {}", options_.name, s.ToString());
      if (!SleepFor(backoff)) return;
      backoff = std::min(backoff * 2, options_.backoff_max);
    }
  }
}

bool WaitForCacheSync(const std::vector<SharedInformer*>& informers,
                      std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (SharedInformer* inf : informers) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() < 0) left = std::chrono::milliseconds(0);
    if (!inf->WaitForCacheSync(left)) return false;
  }
  return true;
}

}  // namespace korral::client
