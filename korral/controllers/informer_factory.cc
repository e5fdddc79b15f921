// korral/controllers/informer_factory.cc: the shared informer factory (client-go's
// SharedInformerFactory plus the metadata informer factory): one informer per resource, created
// on first use.
#include <map>
#include <memory>
#include <mutex>

#include "korral/base/log.h"
#include "korral/controllers/controller.h"
#include "korral/controllers/pod_summary.h"

namespace korral::controllers {

using client::Json;

namespace {

void CompactContainers(Json& spec, const char* field) {
  auto cs = spec.find(field);
  if (cs == spec.end() || !cs->is_array()) return;
  for (Json& c : *cs) {
    if (!c.is_object()) continue;
    for (const char* f : {"volumeMounts", "terminationMessagePath", "terminationMessagePolicy",
                          "imagePullPolicy"}) {
      c.erase(f);
    }
  }
}

void CompactPodSpec(Json& spec) {
  if (!spec.is_object()) return;
  if (auto v = spec.find("volumes"); v != spec.end() && v->is_array()) {
    Json kept = Json::array();
    for (Json& vol : *v) {
      if (vol.is_object() && vol.contains("persistentVolumeClaim")) kept.push_back(std::move(vol));
    }
    if (kept.empty()) {
      spec.erase(v);
    } else {
      *v = std::move(kept);
    }
  }
  for (const char* f : {"dnsPolicy", "enableServiceLinks", "preemptionPolicy", "schedulerName",
                        "serviceAccount", "serviceAccountName", "priority"}) {
    spec.erase(f);
  }
  if (auto sc = spec.find("securityContext"); sc != spec.end() && sc->is_object() && sc->empty()) {
    spec.erase(sc);
  }
  CompactContainers(spec, "containers");
  CompactContainers(spec, "initContainers");
  CompactContainers(spec, "ephemeralContainers");
}

// Lists and watches through `inner`, asking the server for the PartialObjectMetadata view
// while `*metadata_only` (decided before the informer starts) holds.
class MetadataSwitchListerWatcher : public client::ListerWatcher {
 public:
  MetadataSwitchListerWatcher(std::unique_ptr<client::ListerWatcher> inner,
                              std::shared_ptr<bool> metadata_only)
      : inner_(std::move(inner)), metadata_only_(std::move(metadata_only)) {}

  absl::StatusOr<Json> List(const client::ListOptions& options) override {
    client::ListOptions o = options;
    o.metadata_only = *metadata_only_;
    return inner_->List(o);
  }
  absl::StatusOr<client::WatchHandlePtr> Watch(const client::WatchOptions& options,
                                               client::WatchEventCallback on_event,
                                               client::WatchDoneCallback on_done) override {
    client::WatchOptions o = options;
    o.metadata_only = *metadata_only_;
    return inner_->Watch(o, std::move(on_event), std::move(on_done));
  }

 private:
  std::unique_ptr<client::ListerWatcher> inner_;
  std::shared_ptr<bool> metadata_only_;
};

class InformerFactoryImpl : public InformerFactory {
 public:
  InformerFactoryImpl(client::Client& client, client::InformerOptions options)
      : client_(client), options_(std::move(options)) {}
  ~InformerFactoryImpl() override { Stop(); }

  client::SharedInformer* For(const client::ResourceRef& ref) override {
    std::lock_guard l(mu_);
    std::string key = KeyOf(ref);
    auto it = informers_.find(key);
    if (it != informers_.end()) {
      Entry& e = it->second;
      if (!*e.metadata_only) return e.informer.get();
      if (!e.started) {
        // Nobody consumed metadata-only objects yet: serve everyone the full objects.
        *e.metadata_only = false;
        return e.informer.get();
      }
      // Already watching metadata only: a second, full informer.
      KLOG(Info, "informers: {} is watched for metadata already; adding a full informer",
           ref.QualifiedResource());
      key = "full:" + key;
      if (auto f = informers_.find(key); f != informers_.end()) return f->second.informer.get();
    }
    return Create(key, ref, /*metadata_only=*/false);
  }

  client::SharedInformer* ForMetadata(const client::ResourceRef& ref) override {
    std::lock_guard l(mu_);
    std::string key = KeyOf(ref);
    auto it = informers_.find(key);
    if (it != informers_.end()) return it->second.informer.get();
    return Create(key, ref, /*metadata_only=*/true);
  }

  void Start() override {
    std::lock_guard l(mu_);
    if (stopped_) return;
    for (auto& [key, e] : informers_) {
      if (e.started) continue;
      e.started = true;
      e.informer->Start();
    }
  }

  bool WaitForCacheSync(std::chrono::milliseconds timeout) override {
    std::vector<client::SharedInformer*> started;
    {
      std::lock_guard l(mu_);
      for (auto& [key, e] : informers_) {
        if (e.started) started.push_back(e.informer.get());
      }
    }
    return client::WaitForCacheSync(started, timeout);
  }

  void Stop() override {
    std::vector<client::SharedInformer*> all;
    {
      std::lock_guard l(mu_);
      stopped_ = true;
      for (auto& [key, e] : informers_) all.push_back(e.informer.get());
    }
    for (auto* i : all) i->Stop();
  }

 private:
  struct Entry {
    std::unique_ptr<client::SharedInformer> informer;
    // Decided before the informer starts (read by its transform on the informer's thread).
    std::shared_ptr<bool> metadata_only;
    bool started = false;
  };

  static std::string KeyOf(const client::ResourceRef& ref) {
    return ref.group + "/" + ref.version + "/" + ref.resource;
  }

  client::SharedInformer* Create(const std::string& key, const client::ResourceRef& ref,
                                 bool metadata_only) {
    client::InformerOptions opts = options_;
    opts.name = ref.QualifiedResource();
    if (ref.group.empty() && ref.version == "v1" && ref.resource == "pods") {
      // Pods dominate the controller manager's memory: cache them packed (MessagePack, ~0.7 KB
      // instead of a ~6 KB tree) with a typed summary each (pod_summary.h). The loops over many
      // pods (ReplicaSet sync, pod GC) read summaries; everything else decodes on access. A
      // packed cache without the summaries raised RSS (471 MiB at 30,000 pods, session 5): the
      // ReplicaSet sync decoded all its pods on each pass.
      opts.compact_cache = true;
      opts.summarize = PodSummaryFunc();
    }
    Entry e;
    e.metadata_only = std::make_shared<bool>(metadata_only);
    opts.transform = [metadata_only = e.metadata_only, full = options_.transform](Json& object) {
      if (*metadata_only) {
        client::StripManagedFields(object);  // the server sends metadata only
      } else if (full) {
        full(object);
      }
    };
    e.informer = std::make_unique<client::SharedInformer>(
        std::make_unique<MetadataSwitchListerWatcher>(client::NewListerWatcher(client_, ref),
                                                      e.metadata_only),
        std::move(opts));
    auto* out = e.informer.get();
    informers_.emplace(key, std::move(e));
    return out;
  }

  client::Client& client_;
  const client::InformerOptions options_;
  std::mutex mu_;
  bool stopped_ = false;
  std::map<std::string, Entry> informers_;
};

}  // namespace

void CompactCachedObject(Json& object) {
  client::StripManagedFields(object);
  auto kind = object.find("kind");
  if (kind == object.end() || *kind != "Pod") return;
  auto api_version = object.find("apiVersion");
  if (api_version == object.end() || *api_version != "v1") return;
  if (auto spec = object.find("spec"); spec != object.end()) CompactPodSpec(*spec);
  if (auto m = object.find("metadata"); m != object.end() && m->is_object()) {
    m->erase("generateName");
  }
  if (auto st = object.find("status"); st != object.end() && st->is_object()) st->erase("qosClass");
}

std::unique_ptr<InformerFactory> NewInformerFactory(client::Client& client,
                                                    client::InformerOptions options) {
  return std::make_unique<InformerFactoryImpl>(client, std::move(options));
}

}  // namespace korral::controllers
