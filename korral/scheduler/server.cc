#include "korral/scheduler/server.h"

#include <unistd.h>

#include <random>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/client/errors.h"

namespace korral::scheduler {
namespace {

client::ResourceRef Pdbs() { return {"policy", "v1", "poddisruptionbudgets", true}; }
client::ResourceRef StatefulSets() { return {"apps", "v1", "statefulsets", true}; }
client::ResourceRef Pvcs() { return {"", "v1", "persistentvolumeclaims", true}; }
client::ResourceRef Pvs() { return {"", "v1", "persistentvolumes", false}; }
client::ResourceRef StorageClasses() { return {"storage.k8s.io", "v1", "storageclasses", false}; }

std::string RandomSuffix(uint64_t seq) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:x}{:04x}", rng() & 0xffffffffffULL, seq & 0xffff);
}

}  // namespace

// ---- ClientSchedulerApi -------------------------------------------------------------------------

ClientSchedulerApi::ClientSchedulerApi(client::Client& client, std::string instance,
                                       const Clock& clock, int event_workers)
    : client_(client), instance_(std::move(instance)), clock_(clock) {
  for (int i = 0; i < event_workers; ++i) ev_workers_.emplace_back([this] { EventLoop(); });
}

ClientSchedulerApi::~ClientSchedulerApi() { Flush(std::chrono::seconds(5)); }

void ClientSchedulerApi::Flush(std::chrono::milliseconds timeout) {
  {
    std::unique_lock l(ev_mu_);
    ev_cv_.wait_for(l, timeout, [&] { return ev_queue_.empty() && ev_busy_ == 0; });
    if (!ev_queue_.empty()) {
      KLOG(Warning, "scheduler: {} events not written at shutdown", ev_queue_.size());
      ev_queue_.clear();
    }
    ev_stop_ = true;
  }
  ev_cv_.notify_all();
  for (auto& t : ev_workers_) {
    if (t.joinable()) t.join();
  }
  ev_workers_.clear();
}

void ClientSchedulerApi::EventLoop() {
  std::unique_lock l(ev_mu_);
  while (true) {
    ev_cv_.wait(l, [&] { return ev_stop_ || !ev_queue_.empty(); });
    if (ev_queue_.empty()) return;
    auto item = std::move(ev_queue_.front());
    ev_queue_.pop_front();
    ++ev_busy_;
    l.unlock();
    WriteEvent(item.second);
    l.lock();
    --ev_busy_;
    if (ev_queue_.empty() && ev_busy_ == 0) ev_cv_.notify_all();
  }
}

void ClientSchedulerApi::WriteEvent(const Json& ev) {
  std::string ns = ev["metadata"].value("namespace", "");
  auto r = client_.Create(client::resources::Events(), ns, ev);
  if (!r.ok()) {
    KLOG(Warning, "recording event {} for {}/{}: {}", ev.value("reason", ""), ns,
         ev["involvedObject"].value("name", ""), r.status().ToString());
  }
}

absl::Status ClientSchedulerApi::Bind(const PodInfo& pod, const std::string& node) {
  Json binding = {{"apiVersion", "v1"},
                  {"kind", "Binding"},
                  {"metadata", {{"name", pod.name}, {"namespace", pod.ns}, {"uid", pod.uid}}},
                  {"target", {{"apiVersion", "v1"}, {"kind", "Node"}, {"name", node}}}};
  auto r = client_.Create(client::resources::Pods(), pod.ns, binding, "binding");
  return r.ok() ? absl::OkStatus() : r.status();
}

absl::StatusOr<Json> ClientSchedulerApi::UpdateVolumeObject(bool claim, const Json& object,
                                                            bool status) {
  const Json& meta = object["metadata"];
  return client_.Update(claim ? Pvcs() : Pvs(), claim ? meta.value("namespace", "") : "", object,
                        status ? "status" : "");
}

absl::Status ClientSchedulerApi::DeletePod(const PodInfo& pod) {
  auto r = client_.Delete(client::resources::Pods(), pod.ns, pod.name);
  if (!r.ok() && !client::IsNotFound(r.status())) return r.status();
  return absl::OkStatus();
}

absl::Status ClientSchedulerApi::UpdatePodScheduledCondition(const PodInfo& pod,
                                                             const std::string& reason,
                                                             const std::string& message,
                                                             const std::string* nominated) {
  Json status = Json::object();
  if (!reason.empty()) {
    // Replace the PodScheduled condition in the pod's current list (merge patches replace
    // arrays whole).
    Json conds = Json::array();
    bool same = false;
    std::string transition = FormatTime(clock_.Now());
    if (pod.object) {
      const Json& cur = (*pod.object).contains("status") ? (*pod.object)["status"] : Json();
      if (cur.is_object() && cur.contains("conditions") && cur["conditions"].is_array()) {
        for (const Json& c : cur["conditions"]) {
          if (c.value("type", "") == "PodScheduled") {
            if (c.value("status", "") == "False") {
              transition = c.value("lastTransitionTime", transition);
              same = c.value("reason", "") == reason && c.value("message", "") == message;
            }
            continue;
          }
          conds.push_back(c);
        }
      }
    }
    if (same && !nominated) return absl::OkStatus();
    conds.push_back({{"type", "PodScheduled"},
                     {"status", "False"},
                     {"lastProbeTime", nullptr},
                     {"lastTransitionTime", transition},
                     {"reason", reason},
                     {"message", message}});
    status["conditions"] = conds;
  }
  if (nominated) {
    status["nominatedNodeName"] = nominated->empty() ? Json(nullptr) : Json(*nominated);
  }
  if (status.empty()) return absl::OkStatus();
  client::PatchOptions opts;
  opts.subresource = "status";
  auto r = client_.Patch(client::resources::Pods(), pod.ns, pod.name, client::PatchType::kMerge,
                         {{"status", status}}, opts);
  if (!r.ok() && !client::IsNotFound(r.status())) {
    KLOG(Warning, "updating the status of pod {}: {}", pod.key, r.status().ToString());
    return r.status();
  }
  return absl::OkStatus();
}

void ClientSchedulerApi::RecordEvent(const PodInfo& pod, const std::string& type,
                                     const std::string& reason, const std::string& action,
                                     const std::string& message) {
  std::string now = FormatTime(clock_.Now());
  Json ev = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      {"metadata",
       {{"name", fmt::format("{}.{}", pod.name, RandomSuffix(event_seq_++))},
        {"namespace", pod.ns}}},
      {"involvedObject",
       {{"apiVersion", "v1"},
        {"kind", "Pod"},
        {"namespace", pod.ns},
        {"name", pod.name},
        {"uid", pod.uid},
        {"resourceVersion", pod.resource_version}}},
      {"reason", reason},
      {"message", message},
      {"source", {{"component", "default-scheduler"}}},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"count", 1},
      {"type", type},
      {"action", action},
      {"reportingComponent", "default-scheduler"},
      {"reportingInstance", instance_},
  };
  {
    std::lock_guard l(ev_mu_);
    if (!ev_workers_.empty() && !ev_stop_) {
      if (ev_queue_.size() >= kMaxQueuedEvents) {
        if (dropped_++ % 1000 == 0) {
          KLOG(Warning, "scheduler: event queue full ({}), dropping event {} for {}",
               kMaxQueuedEvents, reason, pod.key);
        }
        return;
      }
      ev_queue_.emplace_back(pod.key, std::move(ev));
      ev_cv_.notify_one();
      return;
    }
  }
  WriteEvent(ev);
}

// ---- SchedulerServer ----------------------------------------------------------------------------

SchedulerServer::SchedulerServer(client::Client& client, SchedulerServerOptions options)
    : client_(client), options_(std::move(options)) {}

absl::StatusOr<std::unique_ptr<SchedulerServer>> SchedulerServer::New(
    client::Client& client, SchedulerServerOptions options) {
  if (options.identity.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    std::mt19937_64 rng{std::random_device{}()};
    options.identity = fmt::format("{}_{:016x}", host, rng());
  }
  auto s = std::unique_ptr<SchedulerServer>(new SchedulerServer(client, std::move(options)));
  s->api_ = std::make_unique<ClientSchedulerApi>(client, s->options_.identity, Clock::Real(),
                                                 s->options_.event_workers);
  SchedulerOptions so;
  so.profiles = s->options_.config.profiles;
  so.percentage_of_nodes_to_score = s->options_.config.percentage_of_nodes_to_score;
  so.queue.initial_backoff = s->options_.config.pod_initial_backoff;
  so.queue.max_backoff = s->options_.config.pod_max_backoff;
  so.bind_workers = s->options_.bind_workers;
  auto sched = Scheduler::New(std::move(so), s->api_.get());
  if (!sched.ok()) return sched.status();
  s->scheduler_ = std::move(*sched);
  s->Wire();
  return s;
}

SchedulerServer::~SchedulerServer() { Stop(); }

void SchedulerServer::Wire() {
  auto make = [&](client::ResourceRef ref, const char* name) {
    client::InformerOptions o;
    o.name = name;
    informers_.push_back(std::make_unique<client::SharedInformer>(
        client::NewListerWatcher(client_, std::move(ref)), o));
    return informers_.back().get();
  };
  Scheduler* s = scheduler_.get();

  // Pods: the handler thread is the only user of `pods` (the last parsed state per key).
  auto pods = std::make_shared<std::unordered_map<std::string, PodInfoPtr>>();
  auto parse_pod = [](const client::ObjectPtr& o) -> PodInfoPtr {
    auto p = ParsePod(o);
    if (!p.ok()) {
      KLOG(Warning, "ignoring pod {}: {}", client::ObjectKey(*o), p.status().ToString());
      return nullptr;
    }
    return *p;
  };
  make(client::resources::Pods(), "scheduler-pods")
      ->AddEventHandler(
          {.on_add =
               [s, pods, parse_pod](const client::ObjectPtr& o) {
                 PodInfoPtr p = parse_pod(o);
                 if (!p) return;
                 (*pods)[p->key] = p;
                 s->OnPodAdd(p);
               },
           .on_update =
               [s, pods, parse_pod](const client::ObjectPtr&, const client::ObjectPtr& n) {
                 PodInfoPtr p = parse_pod(n);
                 if (!p) return;
                 PodInfoPtr old;
                 auto it = pods->find(p->key);
                 if (it != pods->end()) old = it->second;
                 (*pods)[p->key] = p;
                 s->OnPodUpdate(old, p);
               },
           .on_delete =
               [s, pods, parse_pod](const client::ObjectPtr& o, bool) {
                 PodInfoPtr p = parse_pod(o);
                 if (!p) return;
                 auto it = pods->find(p->key);
                 if (it != pods->end()) {
                   p = it->second;
                   pods->erase(it);
                 }
                 s->OnPodDelete(p);
               }});

  auto nodes = std::make_shared<std::unordered_map<std::string, NodePtr>>();
  auto parse_node = [](const client::ObjectPtr& o) -> NodePtr {
    auto n = ParseNode(o);
    return n.ok() ? *n : nullptr;
  };
  make(client::resources::Nodes(), "scheduler-nodes")
      ->AddEventHandler(
          {.on_add =
               [s, nodes, parse_node](const client::ObjectPtr& o) {
                 NodePtr n = parse_node(o);
                 if (!n) return;
                 (*nodes)[n->name] = n;
                 s->OnNodeAdd(n);
               },
           .on_update =
               [s, nodes, parse_node](const client::ObjectPtr&, const client::ObjectPtr& o) {
                 NodePtr n = parse_node(o);
                 if (!n) return;
                 NodePtr old = (*nodes)[n->name];
                 (*nodes)[n->name] = n;
                 s->OnNodeUpdate(old, n);
               },
           .on_delete =
               [s, nodes, parse_node](const client::ObjectPtr& o, bool) {
                 NodePtr n = parse_node(o);
                 if (!n) return;
                 nodes->erase(n->name);
                 s->OnNodeDelete(n);
               }});

  auto ns_handler = [s](const client::ObjectPtr& o, bool deleted) {
    const Json& meta = (*o)["metadata"];
    s->OnNamespace(meta.value("name", ""),
                   LabelsFromJson(meta.contains("labels") ? meta["labels"] : Json()), deleted);
  };
  make(client::resources::Namespaces(), "scheduler-namespaces")
      ->AddEventHandler(
          {.on_add = [ns_handler](const client::ObjectPtr& o) { ns_handler(o, false); },
           .on_update = [ns_handler](const client::ObjectPtr&,
                                     const client::ObjectPtr& o) { ns_handler(o, false); },
           .on_delete = [ns_handler](const client::ObjectPtr& o, bool) { ns_handler(o, true); }});

  auto pdb_handler = [s](const client::ObjectPtr& o, bool deleted) {
    std::string key = client::ObjectKey(*o);
    if (deleted) {
      s->OnPdb(key, std::nullopt);
      return;
    }
    PdbInfo p;
    p.ns = (*o)["metadata"].value("namespace", "");
    p.name = (*o)["metadata"].value("name", "");
    const Json& spec = (*o).contains("spec") ? (*o)["spec"] : Json();
    auto sel = LabelSelector::FromJson(
        spec.is_object() && spec.contains("selector") ? spec["selector"] : Json());
    if (sel.ok()) p.selector = *sel;
    const Json& st = (*o).contains("status") ? (*o)["status"] : Json();
    if (st.is_object()) {
      p.disruptions_allowed = st.value("disruptionsAllowed", 0);
      if (st.contains("disruptedPods") && st["disruptedPods"].is_object()) {
        for (auto it = st["disruptedPods"].begin(); it != st["disruptedPods"].end(); ++it) {
          p.disrupted_pods.insert(it.key());
        }
      }
    }
    s->OnPdb(key, std::move(p));
  };
  make(Pdbs(), "scheduler-pdbs")
      ->AddEventHandler(
          {.on_add = [pdb_handler](const client::ObjectPtr& o) { pdb_handler(o, false); },
           .on_update = [pdb_handler](const client::ObjectPtr&,
                                      const client::ObjectPtr& o) { pdb_handler(o, false); },
           .on_delete = [pdb_handler](const client::ObjectPtr& o, bool) { pdb_handler(o, true); }});

  // Volumes: claims, PVs and (when the API serves them) StorageClasses.
  make(Pvcs(), "scheduler-pvcs")
      ->AddEventHandler({.on_add =
                             [s](const client::ObjectPtr& o) {
                               auto p = ParsePersistentVolumeClaim(o);
                               if (p.ok()) s->OnPvc((*p)->key, *p);
                             },
                         .on_update =
                             [s](const client::ObjectPtr&, const client::ObjectPtr& o) {
                               auto p = ParsePersistentVolumeClaim(o);
                               if (p.ok()) s->OnPvc((*p)->key, *p);
                             },
                         .on_delete = [s](const client::ObjectPtr& o,
                                          bool) { s->OnPvc(client::ObjectKey(*o), nullptr); }});
  make(Pvs(), "scheduler-pvs")
      ->AddEventHandler(
          {.on_add =
               [s](const client::ObjectPtr& o) {
                 auto p = ParsePersistentVolume(o);
                 if (p.ok()) s->OnPv((*p)->name, *p);
               },
           .on_update =
               [s](const client::ObjectPtr&, const client::ObjectPtr& o) {
                 auto p = ParsePersistentVolume(o);
                 if (p.ok()) s->OnPv((*p)->name, *p);
               },
           .on_delete = [s](const client::ObjectPtr& o,
                            bool) { s->OnPv((*o)["metadata"].value("name", ""), nullptr); }});
  client::ListOptions probe;
  probe.limit = 1;
  auto sc_list = client_.List(StorageClasses(), "", probe);
  if (!sc_list.ok() && client::IsNotFound(sc_list.status())) {
    // An apiserver without storage.k8s.io (korral's serves it): every unbound claim is then
    // treated as Immediate, as upstream does for a missing class.
    KLOG(Info,
         "scheduler: the apiserver serves no storageclasses; volume binding is Immediate only");
  } else {
    auto sc_handler = [s](const client::ObjectPtr& o, bool deleted) {
      std::string name = (*o)["metadata"].value("name", "");
      s->OnStorageClass(name, deleted ? nullptr : ParseStorageClass(*o));
    };
    make(StorageClasses(), "scheduler-storageclasses")
        ->AddEventHandler(
            {.on_add = [sc_handler](const client::ObjectPtr& o) { sc_handler(o, false); },
             .on_update = [sc_handler](const client::ObjectPtr&,
                                       const client::ObjectPtr& o) { sc_handler(o, false); },
             .on_delete = [sc_handler](const client::ObjectPtr& o, bool) { sc_handler(o, true); }});
  }

  services_ = make(client::resources::Services(), "scheduler-services");
  replicasets_ = make(client::resources::ReplicaSets(), "scheduler-replicasets");
  statefulsets_ = make(StatefulSets(), "scheduler-statefulsets");
  s->SetDefaultSelectorsFunc([this](const PodInfo& pod) {
    // upstream helper.DefaultSelector: Services selecting the pod, and the pod's controlling
    // ReplicaSet / StatefulSet.
    std::vector<LabelSelector> out;
    for (const auto& svc : services_->indexer().ListNamespace(pod.ns)) {
      const Json& spec = (*svc).contains("spec") ? (*svc)["spec"] : Json();
      if (!spec.is_object() || !spec.contains("selector") || !spec["selector"].is_object() ||
          spec["selector"].empty()) {
        continue;
      }
      LabelSelector sel;
      for (auto it = spec["selector"].begin(); it != spec["selector"].end(); ++it) {
        if (it.value().is_string()) {
          sel.requirements.push_back({it.key(), SelectorOp::kIn, {it.value().get<std::string>()}});
        }
      }
      if (sel.Matches(pod.labels)) out.push_back(std::move(sel));
    }
    for (const auto& o : pod.owners) {
      if (!o.controller) continue;
      client::SharedInformer* inf = o.kind == "ReplicaSet"    ? replicasets_
                                    : o.kind == "StatefulSet" ? statefulsets_
                                                              : nullptr;
      if (!inf) continue;
      auto obj = inf->indexer().Get(pod.ns + "/" + o.name);
      if (!obj || !(*obj).contains("spec") || !(*obj)["spec"].contains("selector")) continue;
      auto sel = LabelSelector::FromJson((*obj)["spec"]["selector"]);
      if (sel.ok()) out.push_back(std::move(*sel));
    }
    return out;
  });
}

void SchedulerServer::StartScheduling() {
  std::call_once(started_, [this] {
    KLOG(Info, "scheduler {}: starting to schedule", options_.identity);
    scheduler_->Start();
  });
}

absl::Status SchedulerServer::Start() {
  for (auto& inf : informers_) inf->Start();
  std::vector<client::SharedInformer*> all;
  for (auto& inf : informers_) all.push_back(inf.get());
  if (!client::WaitForCacheSync(all, std::chrono::seconds(60))) {
    KLOG(Warning, "scheduler: informer caches not synced after 60s; continuing");
  }
  const auto& le = options_.config.leader_election;
  if (!le.leader_elect) {
    leading_ = true;
    StartScheduling();
    return absl::OkStatus();
  }
  client::LeaderElectionConfig cfg;
  cfg.lease_namespace = le.resource_namespace;
  cfg.lease_name = le.resource_name;
  cfg.identity = options_.identity;
  cfg.lease_duration = le.lease_duration;
  cfg.renew_deadline = le.renew_deadline;
  cfg.retry_period = le.retry_period;
  cfg.on_started_leading = [this] {
    leading_ = true;
    StartScheduling();
  };
  cfg.on_stopped_leading = [this] {
    if (!stopped_.load()) KLOG(Error, "scheduler {}: leader election lost", options_.identity);
    leading_ = false;
    scheduler_->Stop();
  };
  elector_ = std::make_unique<client::LeaderElector>(client_, cfg);
  elector_thread_ = std::thread([this] { elector_->Run(); });
  return absl::OkStatus();
}

void SchedulerServer::Stop() {
  if (stopped_.exchange(true)) return;
  if (elector_) elector_->Stop();
  if (elector_thread_.joinable()) elector_thread_.join();
  scheduler_->Stop();
  api_->Flush(std::chrono::seconds(5));
  for (auto& inf : informers_) inf->Stop();
}

}  // namespace korral::scheduler
