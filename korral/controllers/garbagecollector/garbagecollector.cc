// korral/controllers/garbagecollector/garbagecollector.cc
#include "korral/controllers/garbagecollector/garbagecollector.h"

#include <algorithm>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace {

constexpr char kDeletePrefix[] = "delete/";
constexpr char kOrphanPrefix[] = "orphan/";
constexpr char kForeground[] = "foregroundDeletion";
constexpr char kOrphan[] = "orphan";

bool HasFinalizer(const Json& obj, const char* f) {
  const Json& m = obj["metadata"];
  if (!m.contains("finalizers") || !m["finalizers"].is_array()) return false;
  for (const auto& x : m["finalizers"]) {
    if (x == f) return true;
  }
  return false;
}

std::string GroupOf(const std::string& api_version) {
  auto slash = api_version.find('/');
  return slash == std::string::npos ? "" : api_version.substr(0, slash);
}

}  // namespace

GarbageCollector::GarbageCollector(ControllerContext& ctx)
    : ctx_(ctx),
      worker_("garbagecollector", *ctx.clock, [this](const std::string& k) { return Process(k); }) {
  auto added = SyncMonitors();
  if (!added.ok()) {
    KLOG(Info, "garbage collector: discovery failed, retrying later: {}",
         StatusMessage(added.status()));
  }
}

GarbageCollector::~GarbageCollector() { Stop(); }

void GarbageCollector::Run(int workers) {
  worker_.Run(workers);
  discovery_thread_ = std::thread([this] {
    std::unique_lock l(stop_mu_);
    while (!stopped_) {
      stop_cv_.wait_for(l, ctx_.options.discovery_period);
      if (stopped_) break;
      l.unlock();
      auto added = SyncMonitors();
      if (added.ok() && *added > 0) ctx_.informers->Start();
      l.lock();
    }
  });
}

void GarbageCollector::Stop() {
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (discovery_thread_.joinable()) discovery_thread_.join();
  worker_.Stop();
}

absl::StatusOr<int> GarbageCollector::SyncMonitors() {
  if (ctx_.discovery == nullptr) return absl::FailedPreconditionError("no discovery");
  KORRAL_ASSIGN_OR_RETURN(auto resources, ctx_.discovery->ServerPreferredResources());
  std::vector<ApiResource> fresh;
  {
    std::lock_guard l(mu_);
    for (const auto& r : resources) {
      kinds_[r.ref.group + "/" + r.kind] = r;
      if (!r.HasVerb("list") || !r.HasVerb("watch") || !r.HasVerb("delete")) continue;
      if (r.ref.resource == "events") continue;  // upstream ignores events
      if (monitored_.insert(r.ref.group + "/" + r.ref.resource).second) fresh.push_back(r);
    }
  }
  for (const auto& r : fresh) {
    client::ResourceRef ref = r.ref;
    client::ResourceEventHandler h;
    h.on_add = [this, ref](const client::ObjectPtr& o) { OnUpsert(ref, *o); };
    h.on_update = [this, ref](const client::ObjectPtr&, const client::ObjectPtr& o) {
      OnUpsert(ref, *o);
    };
    h.on_delete = [this](const client::ObjectPtr& o, bool) { OnDelete(*o); };
    // Metadata is all the graph needs (upstream: metadata informers, or the typed informer
    // another controller already uses).
    ctx_.informers->ForMetadata(ref)->AddEventHandler(std::move(h));
  }
  return static_cast<int>(fresh.size());
}

size_t GarbageCollector::GraphSize() {
  std::lock_guard l(mu_);
  return graph_.size();
}

void GarbageCollector::OnUpsert(const client::ResourceRef& ref, const Json& obj) {
  std::string uid = UidOf(obj);
  if (uid.empty()) return;
  std::vector<std::string> enqueue;
  {
    std::lock_guard l(mu_);
    auto [it, is_new] = graph_.try_emplace(uid);
    Node& n = it->second;
    std::vector<OwnerRef> old_owners = std::move(n.owners);
    bool was_foreground = n.foreground;
    n.ref = ref;
    n.ns = NamespaceOf(obj);
    n.name = NameOf(obj);
    n.uid = uid;
    n.owners.clear();
    const Json& m = obj["metadata"];
    if (m.contains("ownerReferences") && m["ownerReferences"].is_array()) {
      for (const auto& r : m["ownerReferences"]) {
        if (!r.is_object()) continue;
        n.owners.push_back({r.value("apiVersion", ""), r.value("kind", ""), r.value("name", ""),
                            r.value("uid", ""), r.value("blockOwnerDeletion", false)});
      }
    }
    n.being_deleted = IsBeingDeleted(obj);
    n.foreground = n.being_deleted && HasFinalizer(obj, kForeground);
    n.orphan = n.being_deleted && HasFinalizer(obj, kOrphan);
    bool owners_changed = old_owners.size() != n.owners.size();
    for (const auto& o : old_owners) {
      bool kept = std::any_of(n.owners.begin(), n.owners.end(),
                              [&](const OwnerRef& x) { return x.uid == o.uid; });
      if (!kept) {
        owners_changed = true;
        auto d = dependents_.find(o.uid);
        if (d != dependents_.end()) {
          d->second.erase(uid);
          if (d->second.empty()) dependents_.erase(d);
        }
        // An owner waiting for its dependents may be free now.
        auto on = graph_.find(o.uid);
        if (on != graph_.end() && on->second.foreground) enqueue.push_back(kDeletePrefix + o.uid);
      }
    }
    bool owner_missing_or_waiting = false;
    for (const auto& o : n.owners) {
      dependents_[o.uid].insert(uid);
      auto on = graph_.find(o.uid);
      if (on == graph_.end() || on->second.foreground) owner_missing_or_waiting = true;
    }
    if (n.orphan) enqueue.push_back(kOrphanPrefix + uid);
    if (n.foreground && !was_foreground) enqueue.push_back(kDeletePrefix + uid);
    if (n.foreground) enqueue.push_back(kDeletePrefix + uid);
    if (!n.owners.empty() && !n.being_deleted &&
        (is_new || owners_changed || owner_missing_or_waiting)) {
      enqueue.push_back(kDeletePrefix + uid);
    }
  }
  for (const auto& k : enqueue) worker_.Add(k);
}

void GarbageCollector::OnDelete(const Json& obj) {
  std::string uid = UidOf(obj);
  if (uid.empty()) return;
  std::vector<std::string> enqueue;
  {
    std::lock_guard l(mu_);
    auto it = graph_.find(uid);
    if (it != graph_.end()) {
      for (const auto& o : it->second.owners) {
        auto d = dependents_.find(o.uid);
        if (d != dependents_.end()) {
          d->second.erase(uid);
          if (d->second.empty()) dependents_.erase(d);
        }
        auto on = graph_.find(o.uid);
        if (on != graph_.end() && on->second.foreground) enqueue.push_back(kDeletePrefix + o.uid);
      }
      graph_.erase(it);
    }
    if (auto d = dependents_.find(uid); d != dependents_.end()) {
      for (const auto& dep : d->second) enqueue.push_back(kDeletePrefix + dep);
    }
  }
  for (const auto& k : enqueue) worker_.Add(k);
}

absl::Status GarbageCollector::Process(const std::string& key) {
  if (key.rfind(kDeletePrefix, 0) == 0) return AttemptToDelete(key.substr(strlen(kDeletePrefix)));
  if (key.rfind(kOrphanPrefix, 0) == 0) return AttemptToOrphan(key.substr(strlen(kOrphanPrefix)));
  return absl::OkStatus();
}

std::optional<ApiResource> GarbageCollector::ResourceFor(const std::string& api_version,
                                                         const std::string& kind) {
  std::string key = GroupOf(api_version) + "/" + kind;
  {
    std::lock_guard l(mu_);
    auto it = kinds_.find(key);
    if (it != kinds_.end()) return it->second;
  }
  // Maybe a new resource: refresh discovery once.
  if (SyncMonitors().ok()) ctx_.informers->Start();
  std::lock_guard l(mu_);
  auto it = kinds_.find(key);
  if (it != kinds_.end()) return it->second;
  return std::nullopt;
}

absl::StatusOr<GarbageCollector::OwnerState> GarbageCollector::ClassifyOwner(
    const Node& dependent, const OwnerRef& owner) {
  {
    std::lock_guard l(mu_);
    auto it = graph_.find(owner.uid);
    if (it != graph_.end() && it->second.name == owner.name &&
        (it->second.ns.empty() || it->second.ns == dependent.ns)) {
      return it->second.foreground ? OwnerState::kWaiting : OwnerState::kSolid;
    }
  }
  auto r = ResourceFor(owner.api_version, owner.kind);
  if (!r) {
    return absl::FailedPreconditionError(
        absl::string_view("unable to resolve owner kind " + owner.api_version + "/" + owner.kind));
  }
  // A cluster-scoped dependent cannot have a namespaced owner (upstream: OwnerRefInvalidNamespace).
  if (r->ref.namespaced && dependent.ns.empty()) return OwnerState::kDangling;
  std::string ns = r->ref.namespaced ? dependent.ns : "";
  auto got = ctx_.client->Get(r->ref, ns, owner.name);
  if (!got.ok()) {
    if (client::IsNotFound(got.status())) return OwnerState::kDangling;
    return got.status();
  }
  if (UidOf(*got) != owner.uid) return OwnerState::kDangling;
  if (IsBeingDeleted(*got) && HasFinalizer(*got, kForeground)) return OwnerState::kWaiting;
  return OwnerState::kSolid;
}

absl::Status GarbageCollector::AttemptToDelete(const std::string& uid) {
  Node node;
  bool has_dependents = false;
  {
    std::lock_guard l(mu_);
    auto it = graph_.find(uid);
    if (it == graph_.end()) return absl::OkStatus();
    node = it->second;
    auto d = dependents_.find(uid);
    has_dependents = d != dependents_.end() && !d->second.empty();
  }
  if (node.being_deleted) {
    if (node.foreground) return ProcessDeletingDependents(node);
    return absl::OkStatus();
  }
  if (node.owners.empty()) return absl::OkStatus();
  std::set<std::string> dangling, waiting;
  bool solid = false;
  for (const auto& o : node.owners) {
    KORRAL_ASSIGN_OR_RETURN(OwnerState s, ClassifyOwner(node, o));
    if (s == OwnerState::kSolid) solid = true;
    if (s == OwnerState::kDangling) dangling.insert(o.uid);
    if (s == OwnerState::kWaiting) waiting.insert(o.uid);
  }
  if (solid) {
    if (dangling.empty() && waiting.empty()) return absl::OkStatus();
    std::set<std::string> drop = dangling;
    drop.insert(waiting.begin(), waiting.end());
    return RemoveOwnerRefs(node, drop);
  }
  std::string policy = !waiting.empty() && has_dependents ? "Foreground" : "Background";
  KLOG(Info, "garbage collector: deleting {} {}/{} (owners gone, propagation {})",
       node.ref.QualifiedResource(), node.ns, node.name, policy);
  Json opts = {{"kind", "DeleteOptions"},
               {"apiVersion", "v1"},
               {"propagationPolicy", policy},
               {"preconditions", {{"uid", uid}}}};
  auto d = ctx_.client->Delete(node.ref, node.ns, node.name, opts);
  if (!d.ok() && !client::IsNotFound(d.status()) && !client::IsConflict(d.status())) {
    return d.status();
  }
  return absl::OkStatus();
}

absl::Status GarbageCollector::ProcessDeletingDependents(const Node& node) {
  std::vector<std::string> blocking;
  {
    std::lock_guard l(mu_);
    auto d = dependents_.find(node.uid);
    if (d != dependents_.end()) {
      for (const auto& dep : d->second) {
        auto it = graph_.find(dep);
        if (it == graph_.end()) continue;
        for (const auto& o : it->second.owners) {
          if (o.uid == node.uid && o.block_owner_deletion) {
            if (!it->second.being_deleted || it->second.foreground)
              blocking.push_back(dep);
            else
              blocking.push_back("");  // being deleted: wait for it
            break;
          }
        }
      }
    }
  }
  if (blocking.empty()) return RemoveFinalizer(node, kForeground);
  for (const auto& dep : blocking) {
    if (!dep.empty()) worker_.Add(kDeletePrefix + dep);
  }
  return absl::OkStatus();
}

absl::Status GarbageCollector::AttemptToOrphan(const std::string& uid) {
  Node node;
  std::vector<Node> deps;
  {
    std::lock_guard l(mu_);
    auto it = graph_.find(uid);
    if (it == graph_.end()) return absl::OkStatus();
    node = it->second;
    if (auto d = dependents_.find(uid); d != dependents_.end()) {
      for (const auto& dep : d->second) {
        if (auto di = graph_.find(dep); di != graph_.end()) deps.push_back(di->second);
      }
    }
  }
  if (!node.orphan) return absl::OkStatus();
  for (const auto& dep : deps) KORRAL_RETURN_IF_ERROR(RemoveOwnerRefs(dep, {uid}));
  return RemoveFinalizer(node, kOrphan);
}

absl::Status GarbageCollector::RemoveOwnerRefs(const Node& node,
                                               const std::set<std::string>& uids) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto got = ctx_.client->Get(node.ref, node.ns, node.name);
    if (!got.ok()) return client::IsNotFound(got.status()) ? absl::OkStatus() : got.status();
    if (UidOf(*got) != node.uid) return absl::OkStatus();
    const Json& m = (*got)["metadata"];
    if (!m.contains("ownerReferences") || !m["ownerReferences"].is_array()) {
      return absl::OkStatus();
    }
    Json kept = Json::array();
    for (const auto& r : m["ownerReferences"]) {
      if (!uids.count(r.value("uid", ""))) kept.push_back(r);
    }
    if (kept.size() == m["ownerReferences"].size()) return absl::OkStatus();
    Json patch = {{"metadata",
                   {{"resourceVersion", m.value("resourceVersion", "")},
                    {"ownerReferences", kept.empty() ? Json(nullptr) : kept}}}};
    auto p = ctx_.client->Patch(node.ref, node.ns, node.name, client::PatchType::kMerge, patch);
    if (p.ok() || client::IsNotFound(p.status())) return absl::OkStatus();
    if (!client::IsConflict(p.status())) return p.status();
  }
  return absl::AbortedError("too many conflicts removing owner references");
}

absl::Status GarbageCollector::RemoveFinalizer(const Node& node, const std::string& finalizer) {
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto got = ctx_.client->Get(node.ref, node.ns, node.name);
    if (!got.ok()) return client::IsNotFound(got.status()) ? absl::OkStatus() : got.status();
    if (UidOf(*got) != node.uid) return absl::OkStatus();
    const Json& m = (*got)["metadata"];
    if (!m.contains("finalizers") || !m["finalizers"].is_array()) return absl::OkStatus();
    Json kept = Json::array();
    for (const auto& f : m["finalizers"]) {
      if (f != finalizer) kept.push_back(f);
    }
    if (kept.size() == m["finalizers"].size()) return absl::OkStatus();
    Json patch = {{"metadata",
                   {{"resourceVersion", m.value("resourceVersion", "")},
                    {"finalizers", kept.empty() ? Json(nullptr) : kept}}}};
    auto p = ctx_.client->Patch(node.ref, node.ns, node.name, client::PatchType::kMerge, patch);
    if (p.ok() || client::IsNotFound(p.status())) return absl::OkStatus();
    if (!client::IsConflict(p.status())) return p.status();
  }
  return absl::AbortedError("too many conflicts removing a finalizer");
}

ControllerDescriptor GarbageCollectorControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "garbage-collector-controller";
  d.aliases = {"garbagecollector"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<GarbageCollector>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
