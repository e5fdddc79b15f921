// korral/client/client.h: the API client interface every korral component talks through.
//
// Objects are nlohmann::json trees in their Kubernetes JSON wire form. `Client` is the seam (like
// client-go's dynamic client): `RestClient` (rest.h) speaks HTTPS to an apiserver and
// `FakeClient` (fake_client.h, TESTONLY) keeps objects in memory. Both are thread-safe.
//
// Errors: a failed call returns an absl::Status built from the Kubernetes Status object the
// server sent (see korral/client/errors.h): NotFound, AlreadyExists, Aborted (409 Conflict),
// InvalidArgument (400/422), OutOfRange (410 Expired/Gone), ... with the Status JSON attached as
// a payload so that the reason and code stay accessible.
//
// Example:
//   ResourceRef pods{"", "v1", "pods", true};
//   KORRAL_ASSIGN_OR_RETURN(nlohmann::json pod, client.Get(pods, "default", "web-1"));
//   auto watch = client.Watch(pods, "default", {.resource_version = rv},
//                             [](WatchEvent e) { ... }, [](absl::Status s) { ... });
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::client {

using Json = nlohmann::json;

// Identifies a resource type (a GroupVersionResource plus its scope).
struct ResourceRef {
  std::string group;     // "" for the core group
  std::string version;   // "v1"
  std::string resource;  // plural, lowercase: "pods"
  bool namespaced = true;

  // "v1" or "apps/v1".
  std::string ApiVersion() const { return group.empty() ? version : group + "/" + version; }
  // "pods" or "deployments.apps" (as used in error messages).
  std::string QualifiedResource() const {
    return group.empty() ? resource : resource + "." + group;
  }
  // The URL path: /api/v1/namespaces/{ns}/pods/{name}/{subresource}. Empty `ns` gives the
  // all-namespaces (or cluster-scoped) collection; empty `name` gives the collection.
  std::string Path(std::string_view ns, std::string_view name = "",
                   std::string_view subresource = "") const;
};

// A few well-known resources.
namespace resources {
ResourceRef Pods();
ResourceRef Nodes();
ResourceRef Namespaces();
ResourceRef Services();
ResourceRef Endpoints();
ResourceRef ConfigMaps();
ResourceRef Secrets();
ResourceRef Events();
ResourceRef Deployments();
ResourceRef ReplicaSets();
ResourceRef Leases();
}  // namespace resources

struct ListOptions {
  std::string label_selector;
  std::string field_selector;
  int64_t limit = 0;  // 0: no limit
  std::string continue_token;
  std::string resource_version;  // "" (most recent, quorum), "0" (any), or a specific version
  // Ask for the PartialObjectMetadataList view (client-go's metadata client): items are
  // {"apiVersion":"meta.k8s.io/v1","kind":"PartialObjectMetadata","metadata":{...}}.
  bool metadata_only = false;
};

struct WatchOptions {
  std::string resource_version;  // "" or "0": start with synthetic ADDED events of current state
  int64_t timeout_seconds = 0;   // 0: server default
  bool allow_watch_bookmarks = false;
  std::string label_selector;
  std::string field_selector;
  // Events carry PartialObjectMetadata objects (metadata only), as ListOptions::metadata_only.
  bool metadata_only = false;
};

// The Accept headers of the metadata view (list and get/watch), and the conversion of a full
// object to that view (what the apiserver does; FakeClient uses it).
inline constexpr char kAcceptMetadataList[] =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
inline constexpr char kAcceptMetadata[] =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
Json PartialObjectMetadata(const Json& object);

enum class PatchType {
  kMerge,      // application/merge-patch+json (RFC 7386)
  kJson,       // application/json-patch+json (RFC 6902)
  kStrategic,  // application/strategic-merge-patch+json
  kApply,      // application/apply-patch+yaml (server-side apply; JSON is valid YAML)
};
std::string_view PatchContentType(PatchType type);

struct PatchOptions {
  std::string field_manager;
  bool force = false;  // only for kApply
  std::string subresource;
};

// One watch event: type is "ADDED", "MODIFIED", "DELETED", "BOOKMARK" (ERROR events end the watch
// through the done callback instead).
struct WatchEvent {
  std::string type;
  Json object;
};

using WatchEventCallback = std::function<void(WatchEvent event)>;
// Called exactly once when the watch ends: OK if the server closed the stream normally or Stop()
// was called; OutOfRange (reason "Expired"/"Gone") if the resource version is too old and the
// caller must relist; another error for transport or server failures.
using WatchDoneCallback = std::function<void(absl::Status status)>;

// A running watch. Callbacks run on a thread owned by the watch, one at a time, in order.
// Destroying the handle stops the watch.
class WatchHandle {
 public:
  virtual ~WatchHandle() = default;
  // Stops the watch and waits until no callback is running (unless called from a callback).
  // The done callback still runs (with OK) if it has not yet. Idempotent.
  virtual void Stop() = 0;
};
using WatchHandlePtr = std::unique_ptr<WatchHandle>;

// The client interface. Thread-safe. `ns` is ignored for cluster-scoped resources; for
// namespaced ones an empty `ns` in List/Watch means all namespaces.
class Client {
 public:
  virtual ~Client() = default;

  virtual absl::StatusOr<Json> Get(const ResourceRef& ref, std::string_view ns,
                                   std::string_view name, std::string_view subresource = "") = 0;
  // Returns the list object ({"kind":"PodList","metadata":{"resourceVersion":..},"items":[..]}).
  virtual absl::StatusOr<Json> List(const ResourceRef& ref, std::string_view ns,
                                    const ListOptions& options = {}) = 0;
  // Creates `object` (namespace taken from `ns`, or from the object when `ns` is empty).
  virtual absl::StatusOr<Json> Create(const ResourceRef& ref, std::string_view ns,
                                      const Json& object, std::string_view subresource = "") = 0;
  // Replaces the object named by object.metadata.name. A stale metadata.resourceVersion gives
  // Aborted (409 Conflict).
  virtual absl::StatusOr<Json> Update(const ResourceRef& ref, std::string_view ns,
                                      const Json& object, std::string_view subresource = "") = 0;
  absl::StatusOr<Json> UpdateStatus(const ResourceRef& ref, std::string_view ns,
                                    const Json& object) {
    return Update(ref, ns, object, "status");
  }
  virtual absl::StatusOr<Json> Patch(const ResourceRef& ref, std::string_view ns,
                                     std::string_view name, PatchType type, const Json& patch,
                                     const PatchOptions& options = {}) = 0;
  // `delete_options` is a meta/v1 DeleteOptions object (or null). Returns what the server
  // returned (the deleted object or a Status).
  virtual absl::StatusOr<Json> Delete(const ResourceRef& ref, std::string_view ns,
                                      std::string_view name,
                                      const Json& delete_options = nullptr) = 0;
  // Starts a watch. Returns an error if the watch could not be established (e.g. 410 for a
  // too-old resourceVersion may come either here or through `on_done`).
  virtual absl::StatusOr<WatchHandlePtr> Watch(const ResourceRef& ref, std::string_view ns,
                                               const WatchOptions& options,
                                               WatchEventCallback on_event,
                                               WatchDoneCallback on_done) = 0;
};

// "namespace/name", or "name" for cluster-scoped objects (client-go MetaNamespaceKeyFunc).
std::string ObjectKey(const Json& object);
// metadata.resourceVersion or "".
std::string ResourceVersionOf(const Json& object);

}  // namespace korral::client
