#include "korral/storage/memory/memory.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "korral/storage/internal/range_util.h"
#include "korral/storage/internal/watch_hub.h"

namespace korral::storage {
namespace {

using internal::WatchHub;

// One version of a key; deleted marks a tombstone.
struct Version {
  int64_t mod_revision = 0;
  int64_t create_revision = 0;
  bool deleted = false;
  std::string value;
};

class MemoryBackend final : public Backend {
 public:
  explicit MemoryBackend(const MemoryOptions& options)
      : hub_(WatchHub::Create({.max_buffered_events = options.max_buffered_watch_events}, 0)) {}
  ~MemoryBackend() override { hub_->Close(); }

  absl::StatusOr<int64_t> Create(std::string_view key, std::string_view value) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    std::lock_guard l(mu_);
    auto it = keys_.find(key);
    if (it != keys_.end() && !it->second.back().deleted) {
      return absl::AlreadyExistsError("key already exists");
    }
    if (it == keys_.end()) it = keys_.emplace(std::string(key), std::vector<Version>{}).first;
    const int64_t rev = ++revision_;
    it->second.push_back(Version{rev, rev, false, std::string(value)});
    Emit(EventType::kPut, it->first, it->second.back(), 0);
    return rev;
  }

  absl::StatusOr<int64_t> Update(std::string_view key, std::string_view value,
                                 int64_t expected_mod_revision) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    std::lock_guard l(mu_);
    std::vector<Version>* versions = nullptr;
    auto st = Live(key, expected_mod_revision, &versions);
    if (!st.ok()) return st;
    const Version& prev = versions->back();
    const int64_t rev = ++revision_;
    const int64_t prev_mod = prev.mod_revision;
    versions->push_back(Version{rev, prev.create_revision, false, std::string(value)});
    Emit(EventType::kPut, std::string(key), versions->back(), prev_mod);
    return rev;
  }

  absl::StatusOr<KeyValue> Delete(std::string_view key, int64_t expected_mod_revision) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    std::lock_guard l(mu_);
    std::vector<Version>* versions = nullptr;
    auto st = Live(key, expected_mod_revision, &versions);
    if (!st.ok()) return st;
    const int64_t rev = ++revision_;
    Version last = versions->back();
    const int64_t prev_mod = last.mod_revision;
    versions->push_back(Version{rev, last.create_revision, true, {}});
    last.mod_revision = rev;  // the event carries the deleted state at the delete revision
    Emit(EventType::kDelete, std::string(key), last, prev_mod);
    return KeyValue{std::string(key), std::move(last.value), last.create_revision, rev};
  }

  absl::StatusOr<KeyValue> Get(std::string_view key) override {
    if (key.empty()) return absl::InvalidArgumentError("empty key");
    std::lock_guard l(mu_);
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.back().deleted) return absl::NotFoundError("key not found");
    const Version& v = it->second.back();
    return KeyValue{it->first, v.value, v.create_revision, v.mod_revision};
  }

  absl::StatusOr<RangeResponse> Range(const RangeRequest& request) override {
    internal::KeyInterval interval;
    auto st = internal::NormalizeRange(request, &interval);
    if (!st.ok()) return st;
    std::lock_guard l(mu_);
    const int64_t rev = request.revision == 0 ? revision_ : request.revision;
    if (rev > revision_) return absl::OutOfRangeError("revision is in the future");
    if (rev < compact_revision_) return absl::OutOfRangeError("revision has been compacted");
    RangeResponse resp;
    resp.revision = rev;
    for (auto it = keys_.lower_bound(interval.lo); it != keys_.end(); ++it) {
      if (!interval.hi_unbounded && it->first >= interval.hi) break;
      const auto& versions = it->second;
      // The latest version with mod_revision <= rev.
      auto v = std::upper_bound(versions.begin(), versions.end(), rev,
                                [](int64_t r, const Version& x) { return r < x.mod_revision; });
      if (v == versions.begin()) continue;
      --v;
      if (v->deleted) continue;
      if (request.limit > 0 && static_cast<int64_t>(resp.kvs.size()) == request.limit) {
        resp.more = true;
        break;
      }
      resp.kvs.push_back(KeyValue{it->first, v->value, v->create_revision, v->mod_revision});
    }
    return resp;
  }

  absl::StatusOr<WatchPtr> Watch(std::string_view prefix, int64_t start_revision,
                                 WatchHandler handler) override {
    if (start_revision < 0) return absl::InvalidArgumentError("negative start revision");
    WatchHub::Registration reg;
    std::vector<Event> replay;
    {
      std::lock_guard l(mu_);
      if (start_revision != 0 && start_revision < compact_revision_) {
        return absl::OutOfRangeError("watch start revision has been compacted");
      }
      // Events are published under mu_, so live_from == revision_ + 1 here.
      reg = hub_->Register(std::string(prefix), start_revision, std::move(handler));
      if (start_revision != 0) {
        for (const Event& e : log_) {
          if (e.kv.mod_revision >= start_revision && internal::HasPrefix(e.kv.key, prefix)) {
            replay.push_back(e);
          }
        }
      }
    }
    return hub_->Activate(reg.watcher, std::move(replay));
  }

  absl::Status Compact(int64_t revision) override {
    std::lock_guard l(mu_);
    if (revision > revision_) return absl::OutOfRangeError("compact revision is in the future");
    if (revision <= compact_revision_) return absl::OkStatus();
    for (auto it = keys_.begin(); it != keys_.end();) {
      auto& versions = it->second;
      auto v = std::upper_bound(versions.begin(), versions.end(), revision,
                                [](int64_t r, const Version& x) { return r < x.mod_revision; });
      if (v != versions.begin()) {
        --v;  // the version live at `revision`: keep it, drop older ones
        if (v->deleted && v->mod_revision < revision) ++v;  // a tombstone no event needs
        versions.erase(versions.begin(), v);
      }
      if (versions.empty()) {
        it = keys_.erase(it);
      } else {
        ++it;
      }
    }
    while (!log_.empty() && log_.front().kv.mod_revision < revision) log_.pop_front();
    compact_revision_ = revision;
    return absl::OkStatus();
  }

  int64_t CurrentRevision() override {
    std::lock_guard l(mu_);
    return revision_;
  }
  int64_t CompactRevision() override {
    std::lock_guard l(mu_);
    return compact_revision_;
  }

 private:
  // Finds the live key and checks the precondition. Requires mu_.
  absl::Status Live(std::string_view key, int64_t expected, std::vector<Version>** out) {
    auto it = keys_.find(key);
    if (it == keys_.end() || it->second.back().deleted) return absl::NotFoundError("key not found");
    if (expected != 0 && it->second.back().mod_revision != expected) {
      return absl::FailedPreconditionError("mod revision does not match");
    }
    *out = &it->second;
    return absl::OkStatus();
  }

  // Records and publishes one event. Requires mu_ (keeps publication in revision order).
  void Emit(EventType type, const std::string& key, const Version& v, int64_t prev_mod) {
    Event e;
    e.type = type;
    e.kv = KeyValue{key, v.value, v.create_revision, v.mod_revision};
    e.prev_mod_revision = prev_mod;
    log_.push_back(e);
    std::vector<Event> batch;
    batch.push_back(std::move(e));
    hub_->Publish(batch);
  }

  std::mutex mu_;
  std::map<std::string, std::vector<Version>, std::less<>> keys_;
  std::deque<Event> log_;  // every event with revision >= compact_revision_
  int64_t revision_ = 0;
  int64_t compact_revision_ = 0;
  std::shared_ptr<WatchHub> hub_;
};

}  // namespace

std::unique_ptr<Backend> NewMemoryBackend(const MemoryOptions& options) {
  return std::make_unique<MemoryBackend>(options);
}

}  // namespace korral::storage
