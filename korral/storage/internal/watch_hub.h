// korral/storage/internal/watch_hub.h: fan-out of committed events to watches, shared by the
// backends.
//
// A backend publishes every committed event exactly once, in revision order (Publish). The hub
// appends matching events to each watcher's buffer under a short lock and wakes its notifier
// thread, which calls the handlers outside every lock. Writers therefore never wait for a
// watcher. A watcher whose buffer exceeds max_buffered_events is ended with ResourceExhausted
// (its buffered events are dropped; the client is expected to re-list and re-watch).
//
// Starting a watch in the past without gaps or duplicates:
//   1. Register() records the watch as "replaying" and returns live_from, one past the last
//      published revision; from now on every published event >= live_from is buffered.
//   2. The backend reads history [start_revision, live_from - 1] from its store.
//   3. Activate() puts that replay in front of the buffered live events and starts delivery.
//   (Or Abort() if step 2 failed.)
//
// Thread-safe. Handlers for one watcher are never run concurrently with themselves. One
// notifier thread serves all watchers, so a slow handler delays the others (but never writers).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "korral/storage/storage.h"

namespace korral::storage::internal {

struct WatchHubOptions {
  // Per-watch limit of undelivered events; beyond it the watch ends with ResourceExhausted.
  size_t max_buffered_events = 100000;
};

class WatchHub : public std::enable_shared_from_this<WatchHub> {
 public:
  struct Watcher;

  static std::shared_ptr<WatchHub> Create(WatchHubOptions options, int64_t last_published);
  ~WatchHub();

  struct Registration {
    std::shared_ptr<Watcher> watcher;
    int64_t live_from = 0;  // events >= max(live_from, start_revision) arrive live
  };
  // Registers a watch that buffers (but does not yet deliver) live events. start_revision 0
  // means "from live_from on".
  Registration Register(std::string prefix, int64_t start_revision, WatchHandler handler);
  // Prepends replay (revision-ordered events < live_from, already prefix filtered) and starts
  // delivery. Returns the handle that cancels the watch.
  WatchPtr Activate(const std::shared_ptr<Watcher>& watcher, std::vector<Event> replay);
  // Drops a registered watch without calling its handler.
  void Abort(const std::shared_ptr<Watcher>& watcher);

  // Publishes committed events, in revision order, each revision exactly once.
  void Publish(const std::vector<Event>& events);
  int64_t last_published() const;

  // Stops the notifier thread and ends the remaining watches with Cancelled. Idempotent.
  void Close();

 private:
  explicit WatchHub(WatchHubOptions options, int64_t last_published);
  void Run();
  void Cancel(Watcher* watcher);
  void EnqueueLocked(const std::shared_ptr<Watcher>& w);
  class Handle;

  const WatchHubOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // notifier wake-up
  std::condition_variable idle_cv_;  // a delivery finished (for Cancel)
  int64_t last_published_;
  bool closed_ = false;
  std::list<std::shared_ptr<Watcher>> watchers_;
  std::deque<std::shared_ptr<Watcher>> ready_;
  std::thread notifier_;
};

}  // namespace korral::storage::internal
