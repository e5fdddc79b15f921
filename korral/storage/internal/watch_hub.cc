#include "korral/storage/internal/watch_hub.h"

#include <utility>

#include "korral/storage/internal/range_util.h"

namespace korral::storage::internal {

struct WatchHub::Watcher {
  std::string prefix;
  int64_t min_revision = 0;
  WatchHandler handler;
  std::vector<Event> pending;
  absl::Status error;       // set once: ends the watch after pending is delivered
  bool active = false;      // replay done; may deliver
  bool queued = false;      // in ready_
  bool finished = false;    // cancelled, aborted or error delivered: nothing more is delivered
  bool cancelled = false;   // Cancel() was called
  bool delivering = false;  // a handler is running
  std::thread::id delivering_thread;
  std::list<std::shared_ptr<Watcher>>::iterator pos;
  bool listed = false;
};

class WatchHub::Handle : public korral::storage::Watch {
 public:
  Handle(std::shared_ptr<WatchHub> hub, std::shared_ptr<Watcher> w)
      : hub_(std::move(hub)), w_(std::move(w)) {}
  ~Handle() override { Cancel(); }
  void Cancel() override { hub_->Cancel(w_.get()); }

 private:
  std::shared_ptr<WatchHub> hub_;
  std::shared_ptr<Watcher> w_;
};

std::shared_ptr<WatchHub> WatchHub::Create(WatchHubOptions options, int64_t last_published) {
  std::shared_ptr<WatchHub> hub(new WatchHub(options, last_published));
  hub->notifier_ = std::thread([raw = hub.get()] { raw->Run(); });
  return hub;
}

WatchHub::WatchHub(WatchHubOptions options, int64_t last_published)
    : options_(options), last_published_(last_published) {}

WatchHub::~WatchHub() { Close(); }

WatchHub::Registration WatchHub::Register(std::string prefix, int64_t start_revision,
                                          WatchHandler handler) {
  auto w = std::make_shared<Watcher>();
  w->prefix = std::move(prefix);
  w->handler = std::move(handler);
  std::lock_guard l(mu_);
  Registration r;
  r.live_from = last_published_ + 1;
  w->min_revision = std::max(start_revision, r.live_from);
  if (closed_) {
    w->finished = true;
  } else {
    w->pos = watchers_.insert(watchers_.end(), w);
    w->listed = true;
  }
  r.watcher = std::move(w);
  return r;
}

WatchPtr WatchHub::Activate(const std::shared_ptr<Watcher>& w, std::vector<Event> replay) {
  auto handle = std::make_unique<Handle>(shared_from_this(), w);
  {
    std::unique_lock l(mu_);
    if (closed_) {
      // The notifier is gone: end the watch right here.
      w->finished = true;
      w->active = true;
      w->delivering = true;
      w->delivering_thread = std::this_thread::get_id();
      l.unlock();
      if (w->handler.on_error) w->handler.on_error(absl::CancelledError("storage backend closed"));
      l.lock();
      w->delivering = false;
      idle_cv_.notify_all();
      return handle;
    }
    if (!replay.empty()) {
      replay.insert(replay.end(), std::make_move_iterator(w->pending.begin()),
                    std::make_move_iterator(w->pending.end()));
      w->pending = std::move(replay);
    }
    w->active = true;
    EnqueueLocked(w);
  }
  cv_.notify_one();
  return handle;
}

void WatchHub::Abort(const std::shared_ptr<Watcher>& w) {
  std::lock_guard l(mu_);
  w->finished = true;
  if (w->listed) {
    watchers_.erase(w->pos);
    w->listed = false;
  }
}

void WatchHub::EnqueueLocked(const std::shared_ptr<Watcher>& w) {
  if (w->active && !w->queued && !w->finished && !w->delivering &&
      (!w->pending.empty() || !w->error.ok())) {
    w->queued = true;
    ready_.push_back(w);
  }
}

void WatchHub::Publish(const std::vector<Event>& events) {
  if (events.empty()) return;
  bool wake = false;
  {
    std::lock_guard l(mu_);
    last_published_ = events.back().kv.mod_revision;
    for (auto it = watchers_.begin(); it != watchers_.end();) {
      Watcher& w = **it;
      bool added = false;
      for (const Event& e : events) {
        if (e.kv.mod_revision < w.min_revision || !HasPrefix(e.kv.key, w.prefix)) continue;
        w.pending.push_back(e);
        added = true;
      }
      if (w.pending.size() > options_.max_buffered_events) {
        // The watcher cannot keep up: end it rather than buffer without bound.
        w.pending.clear();
        w.error = absl::ResourceExhaustedError(
            "watch fell too far behind (event buffer full); re-list and watch again");
        w.listed = false;
        auto sp = *it;
        it = watchers_.erase(it);
        EnqueueLocked(sp);
        wake = true;
        continue;
      }
      if (added) {
        EnqueueLocked(*it);
        wake = true;
      }
      ++it;
    }
  }
  if (wake) cv_.notify_one();
}

int64_t WatchHub::last_published() const {
  std::lock_guard l(mu_);
  return last_published_;
}

void WatchHub::Run() {
  std::unique_lock l(mu_);
  for (;;) {
    cv_.wait(l, [&] { return closed_ || !ready_.empty(); });
    if (closed_) return;
    std::shared_ptr<Watcher> w = std::move(ready_.front());
    ready_.pop_front();
    w->queued = false;
    if (w->finished) continue;
    std::vector<Event> batch;
    batch.swap(w->pending);
    absl::Status error = w->error;
    if (!error.ok()) {
      w->finished = true;
      if (w->listed) {
        watchers_.erase(w->pos);
        w->listed = false;
      }
    }
    w->delivering = true;
    w->delivering_thread = std::this_thread::get_id();
    l.unlock();
    if (!batch.empty() && w->handler.on_events) w->handler.on_events(batch);
    if (!error.ok()) {
      // Cancel() from inside on_events means the handler must not be called again.
      bool cancelled;
      {
        std::lock_guard g(mu_);
        cancelled = w->cancelled;
      }
      if (!cancelled && w->handler.on_error) w->handler.on_error(error);
    }
    l.lock();
    w->delivering = false;
    idle_cv_.notify_all();
    EnqueueLocked(w);
  }
}

void WatchHub::Cancel(Watcher* w) {
  std::unique_lock l(mu_);
  w->finished = true;
  w->cancelled = true;
  w->pending.clear();
  if (w->listed) {
    watchers_.erase(w->pos);
    w->listed = false;
  }
  // Wait for a running handler unless we are that handler.
  idle_cv_.wait(
      l, [&] { return !w->delivering || w->delivering_thread == std::this_thread::get_id(); });
}

void WatchHub::Close() {
  std::vector<std::shared_ptr<Watcher>> remaining;
  {
    std::lock_guard l(mu_);
    if (closed_) return;
    closed_ = true;
  }
  cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  {
    std::lock_guard l(mu_);
    // Listed watchers, and unlisted ones still queued (e.g. ended by overflow, error not yet
    // delivered): every active, unfinished watch gets exactly one Cancelled.
    auto end_watch = [&](const std::shared_ptr<Watcher>& w) {
      w->listed = false;
      w->queued = false;
      if (w->finished || !w->active) return;  // inactive ones get Cancelled in Activate
      w->finished = true;
      w->pending.clear();
      w->delivering = true;
      w->delivering_thread = std::this_thread::get_id();
      remaining.push_back(w);
    };
    for (auto& w : watchers_) end_watch(w);
    for (auto& w : ready_) end_watch(w);
    watchers_.clear();
    ready_.clear();
  }
  for (auto& w : remaining) {
    if (w->handler.on_error) w->handler.on_error(absl::CancelledError("storage backend closed"));
    std::lock_guard l(mu_);
    w->delivering = false;
    idle_cv_.notify_all();
  }
}

}  // namespace korral::storage::internal
