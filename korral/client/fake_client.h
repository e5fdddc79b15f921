// korral/client/fake_client.h: an in-memory Client for tests (client-go's fake clientset with its
// object tracker). TESTONLY (target korral::client_fake).
//
// Behaves like a small apiserver: a global resourceVersion counter bumped by every write,
// metadata filled on create (uid, resourceVersion, creationTimestamp, generateName), optimistic
// concurrency on update (stale resourceVersion -> Conflict), merge/JSON patches (strategic and
// apply are treated as merge patches), list with label/field selectors and limit/continue, and
// watch from a resourceVersion with a bounded event history (too old -> the watch ends with
// OutOfRange/Expired, as the apiserver's 410 ERROR event).
//
// Selectors: label terms `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`;
// field terms `path=v`/`path!=v` on dotted paths (metadata.name, spec.nodeName, ...).
//
// Not modelled: finalizers/graceful deletion, watch timeoutSeconds, field ownership for apply.
//
// Test hooks: InjectError, CloseWatches, Compact, Actions.
//
// Thread-safe. Watch callbacks run on one thread per watch.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "korral/client/client.h"

namespace korral::client {

class FakeClient : public Client {
 public:
  // One recorded call.
  struct Action {
    std::string verb;  // get, list, create, update, patch, delete, watch
    std::string resource;
    std::string ns;
    std::string name;
    std::string subresource;
  };

  FakeClient();
  ~FakeClient() override;

  absl::StatusOr<Json> Get(const ResourceRef& ref, std::string_view ns, std::string_view name,
                           std::string_view subresource = "") override;
  absl::StatusOr<Json> List(const ResourceRef& ref, std::string_view ns,
                            const ListOptions& options = {}) override;
  absl::StatusOr<Json> Create(const ResourceRef& ref, std::string_view ns, const Json& object,
                              std::string_view subresource = "") override;
  absl::StatusOr<Json> Update(const ResourceRef& ref, std::string_view ns, const Json& object,
                              std::string_view subresource = "") override;
  absl::StatusOr<Json> Patch(const ResourceRef& ref, std::string_view ns, std::string_view name,
                             PatchType type, const Json& patch,
                             const PatchOptions& options = {}) override;
  absl::StatusOr<Json> Delete(const ResourceRef& ref, std::string_view ns, std::string_view name,
                              const Json& delete_options = nullptr) override;
  absl::StatusOr<WatchHandlePtr> Watch(const ResourceRef& ref, std::string_view ns,
                                       const WatchOptions& options, WatchEventCallback on_event,
                                       WatchDoneCallback on_done) override;

  // The next `times` calls of `verb` ("*" for any) on `resource` ("*" for any) fail with
  // `status` without touching the store. For "watch", Watch itself returns the error.
  void InjectError(std::string verb, std::string resource, absl::Status status, int times = 1);
  // Ends every open watch with `status` (OK: as if the server closed the stream; an OutOfRange
  // status such as MakeApiError(410, "Expired", ...): as if the server sent a 410 ERROR event).
  void CloseWatches(absl::Status status = absl::OkStatus());
  // Drops the event history: watches from any resourceVersion before now end with Expired.
  void Compact();
  // The current (latest) resourceVersion.
  int64_t CurrentResourceVersion();
  // Open watches (not yet ended or stopped).
  size_t NumWatches();
  std::vector<Action> Actions();
  void ClearActions();
  // Bound on the retained event history (default 10000).
  void SetHistoryLimit(size_t limit);

 private:
  struct Event {
    int64_t rv;
    std::string resource_key;
    std::string type;
    Json object;
    Json old_object;  // for MODIFIED: the previous state (to compute selector transitions)
  };
  struct WatchState;
  struct Injected {
    std::string verb, resource;
    absl::Status status;
    int times;
  };

  absl::Status Record(std::string_view verb, const ResourceRef& ref, std::string_view ns,
                      std::string_view name, std::string_view subresource);
  // REQUIRES: mu_ held.
  void EmitLocked(const std::string& resource_key, std::string type, const Json& object,
                  const Json& old_object);
  absl::StatusOr<Json> StoreUpdateLocked(const ResourceRef& ref, const std::string& key,
                                         Json object, bool check_rv);

  std::mutex mu_;
  int64_t rv_ = 1;
  int64_t compacted_rv_ = 0;
  size_t history_limit_ = 10000;
  int64_t uid_counter_ = 0;
  // resource key ("group/resource") -> object key ("ns/name") -> object
  std::map<std::string, std::map<std::string, Json>> objects_;
  std::deque<Event> history_;
  std::vector<std::shared_ptr<WatchState>> watches_;
  std::vector<Injected> injected_;
  std::vector<Action> actions_;
};

}  // namespace korral::client
