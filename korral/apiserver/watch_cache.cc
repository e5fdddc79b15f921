#include "korral/apiserver/watch_cache.h"

#include <fmt/format.h>

#include "korral/apimachinery/errors.h"
#include "korral/base/log.h"

namespace korral::apiserver {

namespace {
constexpr std::string_view kRegistryPrefix = "/registry/";
constexpr int64_t kLoadPageSize = 5000;
}  // namespace

WatchCache::WatchCache(storage::Backend* backend, size_t history_per_resource)
    : backend_(backend), history_limit_(history_per_resource) {}

WatchCache::~WatchCache() { Stop(); }

absl::StatusOr<ObjectPtr> WatchCache::Decode(const storage::KeyValue& kv) {
  auto obj = std::make_shared<CachedObject>();
  obj->key = kv.key;
  obj->resource_version = kv.mod_revision;
  obj->object = Json::parse(kv.value, nullptr, /*allow_exceptions=*/false);
  if (!obj->object.is_object()) {
    return absl::DataLossError(fmt::format("stored object at {} is not a JSON object", kv.key));
  }
  obj->object["metadata"]["resourceVersion"] = std::to_string(kv.mod_revision);
  obj->json = obj->object.dump();
  return ObjectPtr(std::move(obj));
}

std::string WatchCache::ResourcePrefixOf(std::string_view key) {
  // "/registry/<resource>/..." -> "/registry/<resource>/"
  size_t slash = key.find('/', kRegistryPrefix.size());
  if (slash == std::string_view::npos) return std::string(key);
  return std::string(key.substr(0, slash + 1));
}

WatchCache::ResourceState& WatchCache::StateFor(const std::string& resource_prefix) {
  auto it = resources_.find(resource_prefix);
  if (it == resources_.end()) {
    it = resources_.emplace(resource_prefix, ResourceState{}).first;
    it->second.complete_since = start_revision_;
  }
  return it->second;
}

absl::Status WatchCache::Start() {
  int64_t rev = backend_->CurrentRevision();
  std::string start(kRegistryPrefix);
  const std::string end = storage::PrefixEnd(kRegistryPrefix);
  std::lock_guard lock(mu_);
  start_revision_ = rev;
  while (true) {
    storage::RangeRequest req{start, end, kLoadPageSize, rev};
    auto resp = backend_->Range(req);
    if (!resp.ok()) return resp.status();
    for (const auto& kv : resp->kvs) {
      auto obj = Decode(kv);
      if (!obj.ok()) {
        KLOG(Error, "watch cache: skipping undecodable object: {}", obj.status().ToString());
        continue;
      }
      StateFor(ResourcePrefixOf(kv.key)).objects[kv.key] = *obj;
    }
    if (!resp->more || resp->kvs.empty()) break;
    start = resp->kvs.back().key + '\0';
  }
  revision_ = rev;
  delivered_revision_ = rev;
  storage::WatchHandler handler;
  handler.on_events = [this](const std::vector<storage::Event>& events) {
    OnStorageEvents(events);
  };
  handler.on_error = [this](const absl::Status& s) { OnStorageError(s); };
  auto watch = backend_->Watch(kRegistryPrefix, rev + 1, std::move(handler));
  if (!watch.ok()) return watch.status();
  storage_watch_ = std::move(*watch);
  return absl::OkStatus();
}

void WatchCache::Stop() {
  storage::WatchPtr w;
  {
    std::lock_guard lock(mu_);
    w = std::move(storage_watch_);
  }
  if (w) w->Cancel();
  std::map<uint64_t, WatcherPtr> watchers;
  {
    std::lock_guard lock(mu_);
    watchers.swap(watchers_);
  }
  for (auto& [id, w2] : watchers) w2->sink->OnError(absl::CancelledError("server shutting down"));
}

void WatchCache::OnStorageError(const absl::Status& status) {
  KLOG(Error, "watch cache: storage watch ended: {}", status.ToString());
  std::lock_guard lock(mu_);
  broken_ = status;
  for (auto& [id, w] : watchers_) w->sink->OnError(apierrors::NewInternalError(status.ToString()));
  watchers_.clear();
}

namespace {

// A cursor over a compact JSON dump (no whitespace, as nlohmann's dump() writes it).
class DumpScanner {
 public:
  explicit DumpScanner(std::string_view s) : s_(s) {}
  size_t pos() const { return pos_; }
  bool Peek(char c) const { return pos_ < s_.size() && s_[pos_] == c; }
  bool Take(char c) {
    if (!Peek(c)) return false;
    ++pos_;
    return true;
  }
  // A string at the cursor; its raw (still escaped) contents in *raw.
  bool String(std::string_view* raw, bool* escaped) {
    if (!Take('"')) return false;
    size_t start = pos_;
    *escaped = false;
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == '\\') {
        *escaped = true;
        pos_ += 2;
        continue;
      }
      if (c == '"') {
        *raw = s_.substr(start, pos_ - start);
        ++pos_;
        return true;
      }
      ++pos_;
    }
    return false;
  }
  // Skips one value (string, number, literal, object or array).
  bool SkipValue() {
    if (pos_ >= s_.size()) return false;
    char c = s_[pos_];
    if (c == '"') {
      std::string_view raw;
      bool escaped;
      return String(&raw, &escaped);
    }
    if (c == '{' || c == '[') {
      int depth = 0;
      while (pos_ < s_.size()) {
        char d = s_[pos_];
        if (d == '"') {
          std::string_view raw;
          bool escaped;
          if (!String(&raw, &escaped)) return false;
          continue;
        }
        if (d == '{' || d == '[') ++depth;
        if (d == '}' || d == ']') {
          if (--depth == 0) {
            ++pos_;
            return true;
          }
        }
        ++pos_;
      }
      return false;
    }
    while (pos_ < s_.size() && s_[pos_] != ',' && s_[pos_] != '}' && s_[pos_] != ']') ++pos_;
    return pos_ < s_.size();
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

}  // namespace

std::optional<std::string> SpliceResourceVersion(std::string_view dumped, std::string_view rv) {
  constexpr std::string_view kKey = "resourceVersion";
  DumpScanner sc(dumped);
  if (!sc.Take('{')) return std::nullopt;
  while (!sc.Peek('}')) {
    std::string_view key;
    bool escaped = false;
    if (!sc.String(&key, &escaped) || !sc.Take(':')) return std::nullopt;
    if (escaped || key != "metadata") {
      if (!sc.SkipValue()) return std::nullopt;
      if (!sc.Take(',') && !sc.Peek('}')) return std::nullopt;
      continue;
    }
    if (!sc.Take('{')) return std::nullopt;
    bool first = true;
    size_t insert_at = std::string_view::npos;
    while (true) {
      if (sc.Peek('}')) {
        insert_at = sc.pos();
        break;
      }
      size_t member = sc.pos();
      std::string_view mkey;
      bool mescaped = false;
      if (!sc.String(&mkey, &mescaped) || mescaped) return std::nullopt;
      if (mkey == kKey) return std::nullopt;
      if (mkey > kKey) {
        insert_at = member;
        break;
      }
      if (!sc.Take(':') || !sc.SkipValue()) return std::nullopt;
      first = false;
      if (!sc.Take(',') && !sc.Peek('}')) return std::nullopt;
    }
    // Members before the insertion point were all written (first == false) unless none were.
    std::string member = "\"resourceVersion\":\"";
    member.append(rv);
    member.push_back('"');
    std::string out;
    out.reserve(dumped.size() + member.size() + 2);
    out.append(dumped.substr(0, insert_at));
    if (dumped[insert_at] == '}') {
      if (!first) out.push_back(',');
      out += member;
    } else {
      out += member;
      out.push_back(',');
    }
    out.append(dumped.substr(insert_at));
    return out;
  }
  return std::nullopt;
}

PendingWrite::PendingWrite(std::string key, Json object)
    : key_(std::move(key)), value_(object.dump()), object_(std::move(object)) {}

ObjectPtr PendingWrite::Finalize(int64_t rv) {
  std::lock_guard lock(mu_);
  if (!result_) {
    auto out = std::make_shared<CachedObject>();
    out->key = key_;
    out->resource_version = rv;
    out->object = std::move(object_);
    std::string rv_string = std::to_string(rv);
    out->object["metadata"]["resourceVersion"] = rv_string;
    if (auto spliced = SpliceResourceVersion(value_, rv_string)) {
      out->json = std::move(*spliced);
    } else {
      out->json = out->object.dump();
    }
    result_ = std::move(out);
  } else if (result_->resource_version != rv) {
    // Another write stored the very same bytes and its event took this announcement (two
    // identical updates racing): build this write's own snapshot from the shared content.
    auto out = std::make_shared<CachedObject>(*result_);
    out->resource_version = rv;
    out->object["metadata"]["resourceVersion"] = std::to_string(rv);
    out->json = out->object.dump();
    return out;
  }
  return result_;
}

void WatchCache::BeginWrite(std::shared_ptr<PendingWrite> write) {
  std::lock_guard lock(mu_);
  if (pending_.size() > 10000) pending_.clear();  // bound: announcements are only a shortcut
  std::string key = write->key();
  pending_.emplace(std::move(key), std::move(write));
}

void WatchCache::AbandonWrite(const std::shared_ptr<PendingWrite>& write) {
  std::lock_guard lock(mu_);
  auto [lo, hi] = pending_.equal_range(write->key());
  for (auto it = lo; it != hi; ++it) {
    if (it->second == write) {
      pending_.erase(it);
      return;
    }
  }
}

void WatchCache::OnStorageEvents(const std::vector<storage::Event>& events) {
  std::vector<CacheEvent> batch;
  batch.reserve(events.size());
  std::vector<WatcherPtr> targets;
  {
    std::lock_guard lock(mu_);
    for (const auto& ev : events) {
      if (ev.kv.mod_revision <= revision_) continue;  // already loaded (defensive)
      std::string rp = ResourcePrefixOf(ev.kv.key);
      ResourceState& st = StateFor(rp);
      revision_ = ev.kv.mod_revision;
      ObjectPtr decoded;
      if (ev.type == storage::EventType::kPut) {
        auto [lo, hi] = pending_.equal_range(ev.kv.key);
        for (auto it = lo; it != hi; ++it) {
          if (it->second->value() == ev.kv.value) {
            decoded = it->second->Finalize(ev.kv.mod_revision);
            pending_.erase(it);
            break;
          }
        }
      }
      if (!decoded) {
        auto d = Decode(ev.kv);
        if (!d.ok()) {
          KLOG(Error, "watch cache: undecodable event at {}: {}", ev.kv.key, d.status().ToString());
          continue;
        }
        decoded = std::move(*d);
      }
      CacheEvent ce;
      ce.revision = ev.kv.mod_revision;
      ce.object = std::move(decoded);
      auto it = st.objects.find(ev.kv.key);
      ce.prev = it == st.objects.end() ? nullptr : it->second;
      if (ev.type == storage::EventType::kDelete) {
        ce.type = WatchEventType::kDeleted;
        if (it != st.objects.end()) st.objects.erase(it);
      } else {
        ce.type = ce.prev ? WatchEventType::kModified : WatchEventType::kAdded;
        st.objects[ev.kv.key] = ce.object;
      }
      st.history.push_back(ce);
      while (st.history.size() > history_limit_) {
        st.complete_since = st.history.front().revision;
        st.history.pop_front();
      }
      batch.push_back(std::move(ce));
    }
    if (!batch.empty()) {
      // Watchers registered after this point replay these events from history themselves.
      targets.reserve(watchers_.size());
      for (const auto& [id, w] : watchers_) targets.push_back(w);
    }
  }
  revision_cv_.notify_all();
  if (batch.empty()) return;
  // Fan out without the lock: this notifier thread is the only one delivering live events,
  // so each watcher still sees them in revision order.
  std::vector<uint64_t> done;
  for (const auto& e : batch) {
    const std::string rp = ResourcePrefixOf(e.object->key);
    for (const auto& w : targets) {
      if (w->prefix.compare(0, rp.size(), rp) != 0) continue;  // another resource
      if (!Deliver(*w, e)) done.push_back(w->id);
    }
  }
  std::lock_guard lock(mu_);
  delivered_revision_ = batch.back().revision;
  for (uint64_t id : done) watchers_.erase(id);
}

bool WatchCache::Deliver(Watcher& w, const CacheEvent& e) {
  if (e.object->key.compare(0, w.prefix.size(), w.prefix) != 0) return true;
  const ObjectFilter& f = w.filter;
  switch (e.type) {
    case WatchEventType::kAdded:
      if (!f || f(*e.object)) return w.sink->OnEvent(WatchEventType::kAdded, e.object);
      return true;
    case WatchEventType::kDeleted: {
      const CachedObject& last = *e.object;
      if (!f || f(last)) return w.sink->OnEvent(WatchEventType::kDeleted, e.object);
      return true;
    }
    case WatchEventType::kModified: {
      bool now = !f || f(*e.object);
      bool before = e.prev && (!f || f(*e.prev));
      if (now && before) return w.sink->OnEvent(WatchEventType::kModified, e.object);
      if (now) return w.sink->OnEvent(WatchEventType::kAdded, e.object);
      if (before) return w.sink->OnEvent(WatchEventType::kDeleted, e.object);
      return true;
    }
  }
  return true;
}

int64_t WatchCache::Revision() const {
  std::lock_guard lock(mu_);
  return revision_;
}

bool WatchCache::WaitForRevision(int64_t revision, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return revision_cv_.wait_for(lock, timeout, [&] { return revision_ >= revision; });
}

bool WatchCache::IsFresh() const {
  int64_t current = backend_->CurrentRevision();
  std::lock_guard lock(mu_);
  return revision_ >= current;
}

bool WatchCache::WaitFresh(std::chrono::milliseconds timeout) const {
  return WaitForRevision(backend_->CurrentRevision(), timeout);
}

ObjectPtr WatchCache::Get(const std::string& key) const {
  std::lock_guard lock(mu_);
  auto rit = resources_.find(ResourcePrefixOf(key));
  if (rit == resources_.end()) return nullptr;
  auto it = rit->second.objects.find(key);
  return it == rit->second.objects.end() ? nullptr : it->second;
}

WatchCache::ListResult WatchCache::List(std::string_view prefix, std::string_view start_key,
                                        int64_t limit, const ObjectFilter& filter) const {
  ListResult out;
  std::lock_guard lock(mu_);
  out.revision = revision_;
  auto rit = resources_.find(ResourcePrefixOf(prefix));
  if (rit == resources_.end()) return out;
  const auto& objects = rit->second.objects;
  auto it = objects.lower_bound(start_key > prefix ? start_key : prefix);
  for (; it != objects.end(); ++it) {
    if (it->first.compare(0, prefix.size(), prefix) != 0) break;
    if (filter && !filter(*it->second)) continue;
    if (limit > 0 && static_cast<int64_t>(out.items.size()) >= limit) {
      out.more = true;
      out.next_key = it->first;
      break;
    }
    out.items.push_back(it->second);
  }
  return out;
}

absl::StatusOr<uint64_t> WatchCache::Watch(std::string_view prefix, int64_t start_revision,
                                           ObjectFilter filter, std::shared_ptr<WatchSink> sink) {
  std::lock_guard lock(mu_);
  if (!broken_.ok()) return apierrors::NewServiceUnavailable("watch cache is not healthy");
  auto wp = std::make_shared<Watcher>(
      Watcher{next_watch_id_++, std::string(prefix), std::move(filter), std::move(sink)});
  Watcher& w = *wp;
  ResourceState& st = StateFor(ResourcePrefixOf(prefix));
  if (start_revision == 0) {
    for (auto it = st.objects.lower_bound(prefix); it != st.objects.end(); ++it) {
      if (it->first.compare(0, prefix.size(), prefix) != 0) break;
      if (w.filter && !w.filter(*it->second)) continue;
      if (!w.sink->OnEvent(WatchEventType::kAdded, it->second)) return w.id;
    }
  } else {
    if (start_revision < st.complete_since) {
      return apierrors::NewResourceExpired(
          fmt::format("too old resource version: {} ({})", start_revision, st.complete_since + 1));
    }
    for (const auto& e : st.history) {
      if (e.revision <= start_revision) continue;
      if (!Deliver(w, e)) return w.id;
    }
  }
  uint64_t id = w.id;
  watchers_.emplace(id, std::move(wp));
  return id;
}

void WatchCache::CancelWatch(uint64_t id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

void WatchCache::Bookmark(uint64_t id) {
  std::lock_guard lock(mu_);
  auto it = watchers_.find(id);
  if (it == watchers_.end()) return;
  // delivered_revision_, not revision_: live events up to revision_ may still be on their way
  // to this watcher.
  if (!it->second->sink->OnBookmark(delivered_revision_)) watchers_.erase(it);
}

size_t WatchCache::WatcherCount() const {
  std::lock_guard lock(mu_);
  return watchers_.size();
}

}  // namespace korral::apiserver
