#include "korral/kubelet/kubelet.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/kubelet/kubelet_impl.h"
#include "korral/kubelet/pull_secrets.h"

namespace korral::kubelet {

namespace fs = std::filesystem;
using std::chrono::seconds;
using std::chrono::steady_clock;

std::string PodKey(const Json& pod) {
  return pod["metadata"].value("namespace", "default") + "/" + pod["metadata"].value("name", "");
}
std::string PodUid(const Json& pod) { return pod["metadata"].value("uid", ""); }

namespace {

std::string Msg(const absl::Status& s) { return std::string(StatusMessage(s)); }

int64_t GraceOf(const Json& pod) {
  const Json& md = pod["metadata"];
  if (md.contains("deletionGracePeriodSeconds") && md["deletionGracePeriodSeconds"].is_number()) {
    return md["deletionGracePeriodSeconds"].get<int64_t>();
  }
  return pod["spec"].value("terminationGracePeriodSeconds", int64_t{30});
}

bool IsTerminalPhase(const std::string& phase) { return phase == "Succeeded" || phase == "Failed"; }

// The CRI reason of an exited container, as upstream maps it.
std::string ExitReason(const v1::ContainerStatus& s) {
  if (!s.reason().empty() && s.reason() != "Unknown") return s.reason();
  return s.exit_code() == 0 ? "Completed" : "Error";
}

Json TerminatedJson(const v1::ContainerStatus& s, const std::string& runtime) {
  Json t = {{"exitCode", s.exit_code()},
            {"reason", ExitReason(s)},
            {"containerID", runtime + "://" + s.id()}};
  if (!s.message().empty()) t["message"] = s.message();
  t["startedAt"] = s.started_at() > 0 ? Json(FormatNanos(s.started_at())) : Json(nullptr);
  t["finishedAt"] = s.finished_at() > 0 ? Json(FormatNanos(s.finished_at())) : Json(nullptr);
  return t;
}

const Json& EmptyArray() {
  static const Json a = Json::array();
  return a;
}

}  // namespace

const Json* SpecContainer(const Json& pod, const std::string& name) {
  // (Not through value(): that returns a copy the pointer would outlive.)
  auto spec = pod.find("spec");
  if (spec == pod.end() || !spec->is_object()) return nullptr;
  for (const char* list : {"containers", "initContainers"}) {
    auto l = spec->find(list);
    if (l == spec->end() || !l->is_array()) continue;
    for (const auto& c : *l) {
      if (c.is_object() && c.value("name", "") == name) return &c;
    }
  }
  return nullptr;
}

const v1::ContainerStatus* RuntimePod::Latest(const std::string& name, int skip) const {
  for (const auto& c : containers) {
    if (c.metadata().name() != name) continue;
    if (skip-- == 0) return &c;
  }
  return nullptr;
}

bool RuntimePod::AnyRunning() const {
  for (const auto& c : containers) {
    if (c.state() == v1::CONTAINER_RUNNING) return true;
  }
  return false;
}

Kubelet::Impl::Impl(client::Client& c, cri::Runtime& r, KubeletConfig config)
    : client(c), rt(r), cfg(std::move(config)), clock(cfg.clock ? *cfg.clock : Clock::Real()) {}

Kubelet::Kubelet(client::Client& client, cri::Runtime& runtime, KubeletConfig config)
    : impl_(std::make_unique<Impl>(client, runtime, std::move(config))) {}

Kubelet::~Kubelet() { Stop(); }

const KubeletConfig& Kubelet::config() const { return impl_->cfg; }

int Kubelet::SandboxPid(const std::string& pod_uid) const {
  std::lock_guard l(impl_->mu);
  auto it = impl_->states.find(pod_uid);
  return it == impl_->states.end() ? 0 : it->second.sandbox_pid;
}

std::vector<ObjectPtr> Kubelet::Impl::BoundPods() const {
  std::vector<ObjectPtr> out;
  if (!pods) return out;
  if (group) return pods->indexer().ByIndex("nodeName", cfg.node_name);
  for (const auto& p : pods->indexer().List()) {
    if ((*p)["spec"].value("nodeName", "") == cfg.node_name) out.push_back(p);
  }
  return out;
}

std::vector<nlohmann::json> Kubelet::ListPods() const {
  std::vector<nlohmann::json> out;
  for (const auto& p : impl_->BoundPods()) out.push_back(*p);
  return out;
}

void Kubelet::Impl::Enqueue(const std::string& key) {
  if (group) {
    GroupEnqueue(group, cfg.node_name, key, std::chrono::nanoseconds(0));
  } else {
    queue->Add(key);
  }
}

void Kubelet::Impl::EnqueueAfter(const std::string& key, std::chrono::nanoseconds delay) {
  if (group) {
    GroupEnqueue(group, cfg.node_name, key, delay);
  } else {
    queue->AddAfter(key, delay);
  }
}

absl::Status Kubelet::Start() {
  Impl& k = *impl_;
  if (k.cfg.node_name.empty()) return absl::InvalidArgumentError("node name is empty");
  k.DetectNodeFacts();
  KORRAL_RETURN_IF_ERROR(k.RegisterNode());
  k.RenewLease();
  Impl* kp = &k;
  if (k.cfg.group) {
    // The group's informer and workers drive this kubelet.
    k.group = k.cfg.group->impl_.get();
    k.pods = GroupInformer(k.group);
    GroupRegister(k.group, kp);
    k.ScanStaticPods();
    KLOG(Debug, "kubelet: node {} started in a group", k.cfg.node_name);
    return absl::OkStatus();
  }

  client::InformerOptions io;
  io.name = "kubelet-pods";
  k.own_pods = std::make_unique<client::SharedInformer>(
      // Only the pods bound to this node (as upstream); GetPodFromCache/ListPods still check
      // spec.nodeName.
      client::NewListerWatcher(k.client, client::resources::Pods(), "", "",
                               "spec.nodeName=" + k.cfg.node_name),
      io);
  k.pods = k.own_pods.get();
  (void)k.pods->AddIndex("uid", [](const Json& p) {
    return std::vector<std::string>{p["metadata"].value("uid", "")};
  });
  client::WorkQueueOptions qo;
  qo.name = "kubelet";
  k.queue = std::make_unique<client::WorkQueue>(std::move(qo));
  k.pods->AddEventHandler({
      .on_add = [kp](const ObjectPtr& p) { kp->Enqueue(PodKey(*p)); },
      .on_update = [kp](const ObjectPtr&, const ObjectPtr& p) { kp->Enqueue(PodKey(*p)); },
      .on_delete =
          [kp](const ObjectPtr& p, bool) {
            if ((*p)["spec"].value("nodeName", "") != kp->cfg.node_name) return;
            kp->OnPodDeleted(*p);
          },
  });
  k.pods->Start();
  if (!k.pods->WaitForCacheSync(std::chrono::seconds(60))) {
    return absl::DeadlineExceededError("pod informer did not sync in 60s");
  }
  k.ScanStaticPods();
  for (int i = 0; i < std::max(1, k.cfg.workers); ++i) {
    k.workers.emplace_back([kp] { kp->Worker(); });
  }
  k.housekeeping_thread = std::thread([kp] { kp->Housekeeping(); });
  if (!k.cfg.hollow) k.prober_thread = std::thread([kp] { kp->ProberLoop(); });
  KLOG(Info, "kubelet: node {} started ({} pods bound)", k.cfg.node_name, k.pods->indexer().Size());
  return absl::OkStatus();
}

void Kubelet::Impl::OnPodDeleted(const Json& pod) {
  if (IsMirrorPod(pod)) {
    // A mirror pod deleted through the API: its static pod keeps running and the next sync
    // creates the mirror pod again.
    Enqueue(PodKey(pod));
    return;
  }
  // The object is gone from the API (deleted without graceful termination, or after we
  // finished it): kill what still runs with the pod's grace period.
  StartTermination(pod, GraceOf(pod), /*delete_object=*/false);
}

void Kubelet::Stop() {
  Impl& k = *impl_;
  if (k.stopping.exchange(true)) return;
  {
    std::lock_guard l(k.loop_mu);
    k.loop_cv.notify_all();
  }
  if (k.group) GroupUnregister(k.group, &k);
  if (k.queue) k.queue->ShutDown();
  for (auto& t : k.workers) t.join();
  k.workers.clear();
  if (k.housekeeping_thread.joinable()) k.housekeeping_thread.join();
  if (k.prober_thread.joinable()) k.prober_thread.join();
  if (k.own_pods) k.own_pods->Stop();
  std::map<std::string, std::thread> terms;
  {
    std::lock_guard l(k.mu);
    terms.swap(k.terminators);
  }
  for (auto& [uid, t] : terms) {
    if (t.joinable()) t.join();
  }
}

void Kubelet::CleanupAllPods(std::chrono::seconds grace) {
  Impl& k = *impl_;
  auto sandboxes = k.rt.ListPodSandbox(v1::PodSandboxFilter());
  if (!sandboxes.ok()) return;
  std::set<std::string> uids;
  for (const auto& s : *sandboxes) uids.insert(s.metadata().uid());
  for (const auto& uid : uids) {
    v1::ContainerFilter cf;
    (*cf.mutable_label_selector())[cri::kPodUidLabel] = uid;
    auto ctrs = k.rt.ListContainers(cf);
    if (ctrs.ok()) {
      for (const auto& c : *ctrs) {
        if (c.state() == v1::CONTAINER_RUNNING) (void)k.rt.StopContainer(c.id(), grace.count());
      }
    }
    k.RemovePodResources(uid, nullptr);
  }
}

Json Kubelet::Impl::GetPodFromCache(const std::string& key) const {
  if (auto sp = StaticPod(key)) {
    // A static pod's status lives in its mirror pod.
    if (ObjectPtr m = MirrorPodOf(*sp)) {
      if (m->contains("status")) (*sp)["status"] = (*m)["status"];
    }
    return *sp;
  }
  ObjectPtr p = pods->indexer().Get(key);
  // A mirror pod without its static pod (manifest gone): nothing runs for it.
  if (p && IsMirrorPod(*p)) return Json();
  if (!p || (*p)["spec"].value("nodeName", "") != cfg.node_name) return Json();
  return *p;
}

void Kubelet::Impl::Worker() {
  while (auto key = queue->Get()) {
    absl::Status s = SyncPod(*key);
    if (!s.ok()) {
      KLOG(Warning, "kubelet: sync {} failed: {}", *key, StatusMessage(s));
      queue->Done(*key);
      EnqueueAfter(*key, std::chrono::seconds(2));
      continue;
    }
    queue->Done(*key);
  }
}

void Kubelet::Impl::Housekeeping() {
  last_status_check = steady_clock::now();
  while (!stopping) {
    {
      std::unique_lock l(loop_mu);
      loop_cv.wait_for(l, cfg.relist_period, [&] { return stopping.load(); });
    }
    if (stopping) break;
    HousekeepingTick();
  }
}

void Kubelet::Impl::HousekeepingTick() {
  if (!cfg.pod_manifest_path.empty() &&
      clock.SteadyNow() - last_static_scan >= cfg.file_check_frequency) {
    ScanStaticPods();
  }
  Relist();
  if (!cfg.log_dir.empty() &&
      clock.SteadyNow() - last_log_rotation >= cfg.container_log_monitor_interval) {
    last_log_rotation = clock.SteadyNow();
    RotateContainerLogs();
  }
  if (clock.SteadyNow() - last_eviction_check >= cfg.eviction.monitoring_period) {
    last_eviction_check = clock.SteadyNow();
    EvictionTick();
  }
  if (clock.SteadyNow() - last_image_gc >= cfg.image_gc.period) {
    last_image_gc = clock.SteadyNow();
    ImageGcTick();
  }
  auto now = steady_clock::now();
  if (now - last_lease >= cfg.lease_renew_interval) RenewLease();
  if (now - last_status_check >= seconds(10)) {
    last_status_check = now;
    UpdateNodeStatus(false);
  }
}

void Kubelet::Impl::RotateContainerLogs() {
  v1::ContainerFilter f;
  f.mutable_state()->set_state(v1::CONTAINER_RUNNING);
  auto ctrs = rt.ListContainers(f);
  if (!ctrs.ok()) return;
  for (const auto& c : *ctrs) {
    if (c.state() != v1::CONTAINER_RUNNING) continue;
    auto st = rt.ContainerStatus(c.id());
    if (!st.ok() || st->log_path().empty()) continue;
    std::string id = c.id();
    auto r = RotateContainerLog(st->log_path(), cfg.log_rotation, clock.Now(),
                                [&] { return rt.ReopenContainerLog(id); });
    if (!r.ok()) {
      KLOG(Warning, "kubelet: rotate log of container {}: {}", id, StatusMessage(r.status()));
    } else if (*r) {
      KLOG(Debug, "kubelet: rotated log {} of container {}", st->log_path(), id);
    }
  }
}

// PLEG: one ListPodSandbox + ListContainers; pods whose runtime state changed get synced, and
// sandboxes of pods the API no longer has get terminated.
void Kubelet::Impl::Relist() {
  auto sandboxes = rt.ListPodSandbox(v1::PodSandboxFilter());
  auto containers = rt.ListContainers(v1::ContainerFilter());
  if (!sandboxes.ok() || !containers.ok()) return;
  std::map<std::string, std::string> sig, keys;
  for (const auto& s : *sandboxes) {
    const std::string& uid = s.metadata().uid();
    sig[uid] += fmt::format("s{}:{};", s.id(), static_cast<int>(s.state()));
    keys[uid] = s.metadata().namespace_() + "/" + s.metadata().name();
  }
  for (const auto& c : *containers) {
    auto it = c.labels().find(cri::kPodUidLabel);
    if (it == c.labels().end()) continue;
    sig[it->second] += fmt::format("c{}:{};", c.id(), static_cast<int>(c.state()));
  }
  std::vector<std::string> changed;
  std::vector<std::string> orphans;
  {
    std::lock_guard l(mu);
    for (const auto& [uid, s] : sig) {
      auto it = pleg.find(uid);
      if (it == pleg.end() || it->second != s) changed.push_back(uid);
    }
    pleg = sig;
  }
  for (const auto& uid : changed) {
    auto objs = pods->indexer().ByIndex("uid", uid);
    if (!objs.empty()) {
      Enqueue(PodKey(*objs[0]));
    } else if (std::string k = StaticPodKeyByUid(uid); !k.empty()) {
      Enqueue(k);
    }
  }
  // Orphans: sandboxes whose pod is not bound to us any more.
  for (const auto& [uid, key] : keys) {
    if (!pods->indexer().ByIndex("uid", uid).empty()) continue;
    if (!StaticPodKeyByUid(uid).empty()) continue;
    bool any_alive = false;
    for (const auto& s : *sandboxes) {
      if (s.metadata().uid() == uid) any_alive = true;
    }
    if (!any_alive) continue;
    Json pod;
    {
      std::lock_guard l(mu);
      if (terminating.count(uid)) continue;
      auto it = last_known.find(uid);
      if (it != last_known.end()) pod = it->second;
    }
    if (pod.is_null()) {
      auto slash = key.find('/');
      pod = {{"metadata",
              {{"uid", uid}, {"namespace", key.substr(0, slash)}, {"name", key.substr(slash + 1)}}},
             {"spec", {{"terminationGracePeriodSeconds", 2}}}};
    }
    StartTermination(pod, GraceOf(pod), false);
  }
}

absl::StatusOr<RuntimePod> Kubelet::Impl::GetRuntimePod(const std::string& uid) {
  RuntimePod rp;
  v1::PodSandboxFilter sf;
  (*sf.mutable_label_selector())[cri::kPodUidLabel] = uid;
  KORRAL_ASSIGN_OR_RETURN(rp.sandboxes, rt.ListPodSandbox(sf));
  std::sort(rp.sandboxes.begin(), rp.sandboxes.end(),
            [](const auto& a, const auto& b) { return a.created_at() > b.created_at(); });
  v1::ContainerFilter cf;
  (*cf.mutable_label_selector())[cri::kPodUidLabel] = uid;
  KORRAL_ASSIGN_OR_RETURN(auto ctrs, rt.ListContainers(cf));
  std::sort(ctrs.begin(), ctrs.end(), [](const auto& a, const auto& b) {
    if (a.metadata().attempt() != b.metadata().attempt()) {
      return a.metadata().attempt() > b.metadata().attempt();
    }
    return a.created_at() > b.created_at();
  });
  std::map<std::string, int> per_name;
  for (const auto& c : ctrs) {
    // The two newest instances per name are all the status needs (state + lastState); older
    // ones are garbage.
    if (per_name[c.metadata().name()]++ >= 2) {
      if (c.state() != v1::CONTAINER_RUNNING) (void)rt.RemoveContainer(c.id());
      continue;
    }
    auto st = rt.ContainerStatus(c.id());
    if (!st.ok()) continue;
    rp.containers.push_back(*st);
  }
  return rp;
}

void Kubelet::Impl::SetWaiting(const std::string& uid, const std::string& container,
                               std::string reason, std::string message) {
  std::lock_guard l(mu);
  states[uid].waiting[container] = {std::move(reason), std::move(message)};
}

void Kubelet::Impl::ClearWaiting(const std::string& uid, const std::string& container) {
  std::lock_guard l(mu);
  states[uid].waiting.erase(container);
}

absl::Status Kubelet::Impl::SyncPod(const std::string& key) {
  Json pod = GetPodFromCache(key);
  if (pod.is_null()) {
    // An orphaned mirror pod (its manifest is gone) is deleted, as upstream's pod cleanup.
    ObjectPtr p = pods->indexer().Get(key);
    if (p && IsMirrorPod(*p) && (*p)["spec"].value("nodeName", "") == cfg.node_name) {
      KLOG(Info, "kubelet: deleting orphaned mirror pod {}", key);
      return DeleteMirrorPod(*p);
    }
    return absl::OkStatus();  // deleted: on_delete / Relist handle it
  }
  std::string uid = PodUid(pod);
  {
    std::lock_guard l(mu);
    last_known[uid] = pod;
    if (terminating.count(uid)) return absl::OkStatus();
  }
  if (pod["metadata"].contains("deletionTimestamp") &&
      !pod["metadata"]["deletionTimestamp"].is_null()) {
    StartTermination(pod, GraceOf(pod), /*delete_object=*/true);
    return absl::OkStatus();
  }
  if (IsStaticPod(pod)) SyncMirrorPod(pod);
  PodState dummy;
  auto t0 = steady_clock::now();
  auto c0 = cri::ThreadCallTime();
  absl::Status s = SyncRunningPod(pod, &dummy);
  auto sync = steady_clock::now() - t0;
  auto cri_time = cri::ThreadCallTime() - c0;
  std::lock_guard l(mu);
  auto it = states.find(uid);
  if (it != states.end() && !it->second.startup_reported) {
    PodState& st = it->second;
    st.startup_sync += sync;
    st.startup_cri += cri_time;
    const Json& ls = st.last_status;
    bool all_running = ls.is_object() && ls.value("phase", "") == "Running";
    for (const auto& cs :
         all_running ? ls.value("containerStatuses", EmptyArray()) : EmptyArray()) {
      if (!cs.value("state", Json::object()).contains("running")) all_running = false;
    }
    if (all_running) {
      st.startup_reported = true;
      using std::chrono::duration_cast;
      using ms = std::chrono::duration<double, std::milli>;
      KLOG(Info, "kubelet: pod {} running: startup sync {:.1f} ms, of which CRI {:.1f} ms", key,
           duration_cast<ms>(st.startup_sync).count(), duration_cast<ms>(st.startup_cri).count());
    }
  }
  return s;
}

v1::PodSandboxConfig Kubelet::Impl::SandboxConfig(const Json& pod, uint32_t attempt) const {
  const Json& md = pod["metadata"];
  const Json& spec = pod["spec"];
  std::string ns = md.value("namespace", "default"), name = md.value("name", "");
  std::string uid = md.value("uid", "");
  v1::PodSandboxConfig sb;
  sb.mutable_metadata()->set_name(name);
  sb.mutable_metadata()->set_namespace_(ns);
  sb.mutable_metadata()->set_uid(uid);
  sb.mutable_metadata()->set_attempt(attempt);
  std::string hostname = spec.value("hostname", name);
  if (hostname.size() > 63) hostname.resize(63);
  sb.set_hostname(hostname);
  if (!cfg.log_dir.empty()) {
    sb.set_log_directory(fmt::format("{}/{}_{}_{}", cfg.log_dir, ns, name, uid));
  }
  bool host_network = spec.value("hostNetwork", false);
  std::string dns_policy = spec.value("dnsPolicy", "ClusterFirst");
  auto* dns = sb.mutable_dns_config();
  bool cluster_dns = !cfg.cluster_dns.empty() && ((dns_policy == "ClusterFirst" && !host_network) ||
                                                  dns_policy == "ClusterFirstWithHostNet");
  if (dns_policy == "None") {
    const Json& dc = spec.value("dnsConfig", Json::object());
    for (const auto& s : dc.value("nameservers", EmptyArray())) dns->add_servers(s);
    for (const auto& s : dc.value("searches", EmptyArray())) dns->add_searches(s);
  } else if (cluster_dns) {
    dns->add_servers(cfg.cluster_dns);
    dns->add_searches(ns + ".svc." + cfg.cluster_domain);
    dns->add_searches("svc." + cfg.cluster_domain);
    dns->add_searches(cfg.cluster_domain);
    dns->add_options("ndots:5");
  } else {
    std::ifstream rc("/etc/resolv.conf");
    std::string line;
    while (std::getline(rc, line)) {
      std::istringstream is(line);
      std::string word, v;
      is >> word;
      if (word == "nameserver" && (is >> v)) dns->add_servers(v);
      if (word == "search") {
        while (is >> v) dns->add_searches(v);
      }
    }
  }
  for (const auto& c : spec.value("containers", EmptyArray())) {
    for (const auto& p : c.value("ports", EmptyArray())) {
      if (!p.contains("hostPort") || p.value("hostPort", 0) == 0) continue;
      auto* pm = sb.add_port_mappings();
      std::string proto = p.value("protocol", "TCP");
      pm->set_protocol(proto == "UDP" ? v1::UDP : proto == "SCTP" ? v1::SCTP : v1::TCP);
      pm->set_container_port(p.value("containerPort", 0));
      pm->set_host_port(p.value("hostPort", 0));
      pm->set_host_ip(p.value("hostIP", ""));
    }
  }
  auto& labels = *sb.mutable_labels();
  // value() returns a copy: keep it alive for the loop (items() only references it).
  const Json pod_labels = md.value("labels", Json::object());
  for (auto& [k, v] : pod_labels.items()) {
    if (v.is_string()) labels[k] = v.get<std::string>();
  }
  labels[cri::kPodNameLabel] = name;
  labels[cri::kPodNamespaceLabel] = ns;
  labels[cri::kPodUidLabel] = uid;
  auto& ann = *sb.mutable_annotations();
  const Json pod_annotations = md.value("annotations", Json::object());
  for (auto& [k, v] : pod_annotations.items()) {
    if (v.is_string()) ann[k] = v.get<std::string>();
  }
  auto* linux = sb.mutable_linux();
  if (!cfg.cgroup_root.empty() && !cfg.hollow) {
    linux->set_cgroup_parent(
        PodCgroupParent(cfg.cgroup_root, api::defaults::PodQosClass(pod), uid));
  }
  auto* nso = linux->mutable_security_context()->mutable_namespace_options();
  nso->set_network(host_network ? v1::NODE : v1::POD);
  nso->set_pid(spec.value("hostPID", false)                 ? v1::NODE
               : spec.value("shareProcessNamespace", false) ? v1::POD
                                                            : v1::CONTAINER);
  nso->set_ipc(spec.value("hostIPC", false) ? v1::NODE : v1::POD);
  for (const auto& c : spec.value("containers", EmptyArray())) {
    if (c.value("securityContext", Json::object()).value("privileged", false)) {
      linux->mutable_security_context()->set_privileged(true);
    }
  }
  return sb;
}

absl::StatusOr<std::string> Kubelet::Impl::EnsureImage(const Json& pod, const Json& c,
                                                       const v1::PodSandboxConfig& sb) {
  std::string image = c.value("image", "");
  std::string policy = c.value("imagePullPolicy", "");
  if (policy.empty()) policy = api::defaults::DefaultImagePullPolicy(image);
  std::string uid = PodUid(pod), name = c.value("name", "");
  v1::ImageSpec spec;
  spec.set_image(image);
  spec.set_user_specified_image(image);
  if (policy != "Always") {
    auto present = rt.ImageStatus(spec);
    if (!present.ok()) {
      return absl::Status(present.status().code(),
                          absl::string_view("ImageInspectError: " + Msg(present.status())));
    }
    if (present->has_value()) return (*present)->id();
    if (policy == "Never") {
      SetWaiting(
          uid, name, "ErrImageNeverPull",
          fmt::format("Container image \"{}\" is not present with pull policy of Never", image));
      return absl::FailedPreconditionError("ErrImageNeverPull");
    }
  }
  std::string bkey = "pull/" + uid + "/" + image;
  auto now = clock.SteadyNow();
  // imagePullSecrets: each matching credential in turn (upstream), else anonymously.
  std::vector<Json> secrets;
  std::vector<std::string> missing;
  const std::string ns = pod["metadata"].value("namespace", "");
  for (const auto& ref : pod["spec"].value("imagePullSecrets", EmptyArray())) {
    std::string secret_name = ref.is_object() ? ref.value("name", "") : "";
    if (secret_name.empty()) continue;
    auto secret = client.Get(client::resources::Secrets(), ns, secret_name);
    if (secret.ok()) {
      secrets.push_back(std::move(*secret));
    } else {
      missing.push_back(secret_name);
    }
  }
  if (!missing.empty()) {
    std::string list;
    for (const auto& m : missing) list += (list.empty() ? "" : ", ") + std::string("\"") + m + "\"";
    RecordEvent(&pod, "Warning", "FailedToRetrieveImagePullSecret",
                fmt::format("Unable to retrieve some image pull secrets ({}); attempting to pull "
                            "the image may not succeed.",
                            list));
  }
  absl::StatusOr<std::string> pulled = absl::UnknownError("no pull attempted");
  std::vector<RegistryCredential> creds = CredentialsFor(secrets, image);
  if (creds.empty()) {
    pulled = rt.PullImage(spec, nullptr, &sb);
  } else {
    for (const auto& cred : creds) {
      v1::AuthConfig auth;
      auth.set_username(cred.username);
      auth.set_password(cred.password);
      auth.set_auth(cred.auth);
      auth.set_server_address(cred.server_address);
      auth.set_identity_token(cred.identity_token);
      auth.set_registry_token(cred.registry_token);
      pulled = rt.PullImage(spec, &auth, &sb);
      if (pulled.ok()) break;
    }
  }
  if (!pulled.ok()) {
    backoff.Next(bkey, now);
    {
      std::lock_guard l(mu);
      states[uid].pull_failed_at[name] = now;
    }
    SetWaiting(uid, name, "ErrImagePull",
               fmt::format("Failed to pull image \"{}\": {}", image, Msg(pulled.status())));
    return absl::UnavailableError("ErrImagePull");
  }
  backoff.Reset(bkey);
  return *pulled;
}

void Kubelet::Impl::EnsurePodCgroup(const Json& pod) {
  if (cfg.cgroup_root.empty() || cfg.hollow) return;
  std::string parent =
      PodCgroupParent(cfg.cgroup_root, api::defaults::PodQosClass(pod), PodUid(pod));
  // Pod-level memory limit when every container has one (as upstream's pod cgroup).
  double mem = 0;
  bool all_limited = true;
  for (const auto& c : pod["spec"].value("containers", EmptyArray())) {
    auto r = GetResources(c);
    if (r.memory_limit <= 0) all_limited = false;
    mem += r.memory_limit;
  }
  for (const char* h : {"memory", "cpu", "cpuacct", "pids"}) {
    std::string dir = std::string("/sys/fs/cgroup/") + h + parent;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) continue;
    if (std::string(h) == "memory" && all_limited && mem > 0) {
      std::ofstream(dir + "/memory.limit_in_bytes") << static_cast<int64_t>(mem);
    }
  }
}

void Kubelet::Impl::RemovePodCgroup(const std::string& parent) {
  if (parent.empty()) return;
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    fs::path dir = h.path() / parent.substr(1);
    if (!fs::is_directory(dir, ec)) continue;
    // Children first (leftover container cgroups), then the pod's own.
    std::vector<fs::path> subs;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.is_directory(ec)) subs.push_back(e.path());
    }
    for (const auto& s : subs) ::rmdir(s.c_str());
    ::rmdir(dir.c_str());
  }
}

absl::Status Kubelet::Impl::StartContainer(const Json& pod, const Json& c,
                                           const v1::PodSandboxConfig& sb,
                                           const std::string& sandbox_id, uint32_t attempt,
                                           bool init, const std::string& target_container_id) {
  std::string uid = PodUid(pod), name = c.value("name", "");
  KORRAL_ASSIGN_OR_RETURN(std::string image_ref, EnsureImage(pod, c, sb));
  std::string pod_ip, host_ip = node_ip;
  {
    std::lock_guard l(mu);
    pod_ip = states[uid].pod_ip;
  }
  EnvContext ec;
  ec.pod = &pod;
  ec.container = &c;
  ec.pod_ip = pod_ip;
  ec.host_ip = host_ip;
  ec.node_cpu_cores = node_cpu_cores;
  ec.node_memory_bytes = node_memory_bytes;
  ec.config_maps = [this](const std::string& ns, const std::string& n) {
    return client.Get(client::resources::ConfigMaps(), ns, n);
  };
  ec.secrets = [this](const std::string& ns, const std::string& n) {
    return client.Get(client::resources::Secrets(), ns, n);
  };
  auto env = ResolveEnv(ec);
  if (!env.ok()) {
    SetWaiting(uid, name, "CreateContainerConfigError", Msg(env.status()));
    return absl::FailedPreconditionError("CreateContainerConfigError");
  }
  std::string mount_error;
  auto mounts = ContainerMounts(pod, c, &mount_error);
  if (!mount_error.empty()) {
    SetWaiting(uid, name, "CreateContainerConfigError", mount_error);
    return absl::FailedPreconditionError("CreateContainerConfigError");
  }
  std::map<std::string, std::string> env_map(env->begin(), env->end());
  v1::ContainerConfig cc;
  cc.mutable_metadata()->set_name(name);
  cc.mutable_metadata()->set_attempt(attempt);
  cc.mutable_image()->set_image(image_ref);
  cc.mutable_image()->set_user_specified_image(c.value("image", ""));
  for (const auto& s : c.value("command", EmptyArray())) cc.add_command(ExpandVars(s, env_map));
  for (const auto& s : c.value("args", EmptyArray())) cc.add_args(ExpandVars(s, env_map));
  cc.set_working_dir(c.value("workingDir", ""));
  for (const auto& [k, v] : *env) {
    auto* kv = cc.add_envs();
    kv->set_key(k);
    kv->set_value(v);
  }
  for (auto& m : mounts) *cc.add_mounts() = std::move(m);
  auto& labels = *cc.mutable_labels();
  labels[cri::kPodNameLabel] = sb.metadata().name();
  labels[cri::kPodNamespaceLabel] = sb.metadata().namespace_();
  labels[cri::kPodUidLabel] = uid;
  labels[cri::kContainerNameLabel] = name;
  auto& ann = *cc.mutable_annotations();
  ann["io.kubernetes.container.restartCount"] = std::to_string(attempt);
  ann["io.kubernetes.container.terminationMessagePath"] =
      c.value("terminationMessagePath", "/dev/termination-log");
  ann["io.kubernetes.pod.terminationGracePeriod"] = std::to_string(GraceOf(pod));
  if (init) ann[cri::kContainerTypeLabel] = "init";
  cc.set_log_path(fmt::format("{}/{}.log", name, attempt));
  cc.set_stdin(c.value("stdin", false));
  cc.set_stdin_once(c.value("stdinOnce", false));
  cc.set_tty(c.value("tty", false));
  std::string qos = api::defaults::PodQosClass(pod);
  LinuxResources lr = ComputeLinuxResources(pod, c, qos, node_memory_bytes);
  auto* res = cc.mutable_linux()->mutable_resources();
  res->set_cpu_shares(lr.cpu_shares);
  if (lr.cpu_quota > 0) {
    res->set_cpu_quota(lr.cpu_quota);
    res->set_cpu_period(lr.cpu_period);
  }
  res->set_memory_limit_in_bytes(lr.memory_limit);
  res->set_oom_score_adj(lr.oom_score_adj);
  auto* sc = cc.mutable_linux()->mutable_security_context();
  *sc->mutable_namespace_options() = sb.linux().security_context().namespace_options();
  if (!target_container_id.empty()) {
    // An ephemeral container's targetContainerName: it joins that container's PID namespace.
    sc->mutable_namespace_options()->set_pid(v1::TARGET);
    sc->mutable_namespace_options()->set_target_id(target_container_id);
  }
  Json psc = pod["spec"].value("securityContext", Json::object());
  Json csc = c.value("securityContext", Json::object());
  auto pick = [&](const char* f) -> const Json* {
    if (csc.contains(f) && !csc[f].is_null()) return &csc[f];
    if (psc.contains(f) && !psc[f].is_null()) return &psc[f];
    return nullptr;
  };
  if (const Json* u = pick("runAsUser")) sc->mutable_run_as_user()->set_value(u->get<int64_t>());
  if (const Json* g = pick("runAsGroup")) sc->mutable_run_as_group()->set_value(g->get<int64_t>());
  for (const auto& g : psc.value("supplementalGroups", EmptyArray())) {
    sc->add_supplemental_groups(g.get<int64_t>());
  }
  sc->set_privileged(csc.value("privileged", false));
  sc->set_readonly_rootfs(csc.value("readOnlyRootFilesystem", false));
  if (csc.value("allowPrivilegeEscalation", true) == false) sc->set_no_new_privs(true);
  if (csc.contains("capabilities")) {
    for (const auto& a : csc["capabilities"].value("add", EmptyArray())) {
      std::string s = a.get<std::string>();
      sc->mutable_capabilities()->add_add_capabilities(s.rfind("CAP_", 0) == 0 ? s : "CAP_" + s);
    }
    for (const auto& d : csc["capabilities"].value("drop", EmptyArray())) {
      std::string s = d.get<std::string>();
      sc->mutable_capabilities()->add_drop_capabilities(s == "ALL"                ? s
                                                        : s.rfind("CAP_", 0) == 0 ? s
                                                                                  : "CAP_" + s);
    }
  }
  if (!cfg.log_dir.empty()) {
    std::error_code e;
    fs::create_directories(fmt::format("{}/{}", sb.log_directory(), name), e);
  }
  auto id = rt.CreateContainer(sandbox_id, cc, sb);
  if (!id.ok()) {
    SetWaiting(uid, name, "CreateContainerError", Msg(id.status()));
    return absl::UnavailableError("CreateContainerError");
  }
  absl::Status started = rt.StartContainer(*id);
  if (!started.ok()) {
    SetWaiting(uid, name, "RunContainerError", Msg(started));
    return absl::UnavailableError("RunContainerError");
  }
  ClearWaiting(uid, name);
  // postStart runs right after start; failure kills the container.
  if (c.contains("lifecycle") && c["lifecycle"].contains("postStart")) {
    std::string msg;
    if (!RunHook(c["lifecycle"]["postStart"], *id, pod_ip, seconds(30), &msg)) {
      KLOG(Warning, "kubelet: postStart hook of {}/{} failed: {}", PodKey(pod), name, msg);
      (void)rt.StopContainer(*id, 0);
      SetWaiting(uid, name, "PostStartHookError", msg);
    }
  }
  return absl::OkStatus();
}

absl::Status Kubelet::Impl::SyncRunningPod(const Json& pod, PodState*) {
  const std::string uid = PodUid(pod), key = PodKey(pod);
  const Json& spec = pod["spec"];
  const std::string policy = spec.value("restartPolicy", "Always");
  std::string phase = pod.value("status", Json::object()).value("phase", "");
  KORRAL_ASSIGN_OR_RETURN(RuntimePod rp, GetRuntimePod(uid));

  bool evicted = false, admitted = false;
  std::optional<PodState::PendingKill> kill;
  {
    std::lock_guard l(mu);
    auto it = states.find(uid);
    if (it != states.end()) {
      evicted = it->second.evicted;
      admitted = it->second.admitted;
      kill = it->second.pending_kill;
    }
  }
  // An eviction decided since the last sync: carried out here, after any sync in flight.
  if (kill) return FinishPodKill(pod, *kill);
  // A terminal pod keeps its stopped containers (for logs) and never runs again; whatever still
  // runs for it is stopped.
  if (IsTerminalPhase(phase) || evicted) {
    bool stop = false;
    {
      std::lock_guard l(mu);
      stop = !states[uid].terminated_sandbox;
      states[uid].terminated_sandbox = true;
    }
    for (const auto& s : rp.sandboxes) {
      if (s.state() == v1::SANDBOX_READY) stop = true;
    }
    if (rp.AnyRunning()) stop = true;
    if (stop) {
      for (const auto& c : rp.containers) {
        if (c.state() == v1::CONTAINER_RUNNING) (void)rt.StopContainer(c.id(), GraceOf(pod));
      }
      for (const auto& s : rp.sandboxes) {
        if (s.state() == v1::SANDBOX_READY) (void)rt.StopPodSandbox(s.id());
      }
      RemoveProbes(uid);
    }
    return absl::OkStatus();
  }
  // Admission (upstream's admit handlers; here the eviction manager's): a pod that has not run
  // on this node yet is rejected while the node is under pressure. Pods found running (a
  // restarted agent) are admitted.
  if (!admitted) {
    bool fresh =
        rp.sandboxes.empty() && rp.containers.empty() && (phase.empty() || phase == "Pending");
    std::string reject = fresh ? AdmitMessage(pod) : "";
    if (!reject.empty()) {
      KLOG(Info, "kubelet: pod {} rejected: {}", key, reject);
      RecordEvent(&pod, "Warning", "Evicted", reject);
      PodState::PendingKill k{reject, 0, true, clock.SteadyNow()};
      {
        std::lock_guard l(mu);
        auto& st = states[uid];
        st.evicted = true;
        st.pending_kill = k;
      }
      return FinishPodKill(pod, k);
    }
    std::lock_guard l(mu);
    states[uid].admitted = true;
  }

  // Volumes (refreshed every minute so configMap/secret updates reach running pods).
  bool volumes_ok = true;
  {
    bool need = false;
    {
      std::lock_guard l(mu);
      auto& st = states[uid];
      need = !st.volumes_ready || clock.SteadyNow() - st.volumes_synced > seconds(60);
    }
    if (need) {
      absl::Status vs = SetupVolumes(pod);
      std::lock_guard l(mu);
      auto& st = states[uid];
      if (vs.ok()) {
        st.volumes_ready = true;
        st.volumes_synced = clock.SteadyNow();
        st.pod_waiting.reset();
      } else if (!st.volumes_ready) {
        volumes_ok = false;
        st.pod_waiting = WaitingReason{"ContainerCreating", Msg(vs)};
      }
    }
  }

  // Sandbox.
  const v1::PodSandbox* sandbox = rp.sandboxes.empty() ? nullptr : &rp.sandboxes[0];
  std::string sandbox_id;
  uint32_t sb_attempt = sandbox ? sandbox->metadata().attempt() : 0;
  bool need_sandbox = !sandbox || sandbox->state() != v1::SANDBOX_READY;
  // restartPolicy Never: a pod whose containers all ran once does not get a new sandbox.
  if (need_sandbox && sandbox && policy == "Never") {
    bool all_ran = true;
    for (const auto& c : spec.value("containers", EmptyArray())) {
      if (!rp.Latest(c.value("name", ""))) all_ran = false;
    }
    if (all_ran) need_sandbox = false;
  }
  if (volumes_ok && need_sandbox) {
    for (const auto& c : rp.containers) {
      if (c.state() == v1::CONTAINER_RUNNING) (void)rt.StopContainer(c.id(), 0);
    }
    if (sandbox) (void)rt.StopPodSandbox(sandbox->id());
    EnsurePodCgroup(pod);
    v1::PodSandboxConfig sbc = SandboxConfig(pod, sandbox ? sb_attempt + 1 : 0);
    if (!cfg.log_dir.empty()) {
      std::error_code ec;
      fs::create_directories(sbc.log_directory(), ec);
    }
    auto id = rt.RunPodSandbox(sbc, cfg.runtime_handler);
    if (!id.ok()) {
      std::lock_guard l(mu);
      states[uid].pod_waiting =
          WaitingReason{"ContainerCreating", "Failed to create pod sandbox: " + Msg(id.status())};
      KLOG(Warning, "kubelet: RunPodSandbox {}: {}", key, StatusMessage(id.status()));
    } else {
      {
        std::lock_guard l(mu);
        states[uid].pod_waiting.reset();
      }
      KORRAL_ASSIGN_OR_RETURN(rp, GetRuntimePod(uid));
    }
    sandbox = rp.sandboxes.empty() ? nullptr : &rp.sandboxes[0];
  }
  std::string pod_ip;
  if (sandbox) {
    sandbox_id = sandbox->id();
    sb_attempt = sandbox->metadata().attempt();
    bool cached = false;
    {
      std::lock_guard l(mu);
      auto& st = states[uid];
      if (st.sandbox_id == sandbox_id) {
        pod_ip = st.pod_ip;
        cached = true;
      }
    }
    if (!cached) {
      auto ss = rt.PodSandboxStatus(sandbox_id);
      if (ss.ok()) pod_ip = ss->network().ip();
      int pid = 0;
      if (spec.value("hostNetwork", false)) {
        pod_ip = node_ip;
      } else if (!cfg.hollow && sandbox->state() == v1::SANDBOX_READY) {
        auto p = rt.PodSandboxPid(sandbox_id);
        if (p.ok()) pid = *p;
      }
      std::lock_guard l(mu);
      auto& st = states[uid];
      st.sandbox_id = sandbox_id;
      st.pod_ip = pod_ip;
      st.sandbox_pid = pid;
    }
  }

  std::chrono::nanoseconds requeue{0};
  auto want_requeue = [&](std::chrono::nanoseconds d) {
    if (d.count() > 0 && (requeue.count() == 0 || d < requeue)) requeue = d;
  };
  if (sandbox && sandbox->state() == v1::SANDBOX_READY && volumes_ok) {
    v1::PodSandboxConfig sbc = SandboxConfig(pod, sb_attempt);
    auto now = clock.SteadyNow();
    auto wall_now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(clock.Now().time_since_epoch())
            .count();
    // Decides whether a container (re)starts now; applies CrashLoopBackOff.
    auto restart_allowed = [&](const Json& c, const v1::ContainerStatus* latest) -> bool {
      if (!latest) return true;
      std::string bkey = "ctr/" + uid + "/" + c.value("name", "");
      int64_t finished = latest->finished_at() > 0 ? latest->finished_at() : wall_now_ns;
      auto since = now - std::chrono::nanoseconds(wall_now_ns - finished);
      auto remaining = backoff.Remaining(bkey, since, now);
      if (remaining.count() > 0) {
        SetWaiting(uid, c.value("name", ""), "CrashLoopBackOff",
                   fmt::format("back-off {} restarting failed container={} pod={}_{}({})",
                               GoDuration(backoff.Get(bkey)), c.value("name", ""),
                               pod["metadata"].value("name", ""),
                               pod["metadata"].value("namespace", ""), uid));
        want_requeue(remaining + std::chrono::milliseconds(100));
        return false;
      }
      backoff.Next(bkey, now);
      return true;
    };
    // Ephemeral containers (kubectl debug): started once, never restarted, even while init
    // containers have not finished (as upstream, so a stuck pod can be debugged).
    for (const auto& c : spec.value("ephemeralContainers", EmptyArray())) {
      std::string name = c.value("name", "");
      if (name.empty() || rp.Latest(name)) continue;
      if (auto r = ImagePullBackoff(uid, c, now); r.count() > 0) {
        want_requeue(r);
        continue;
      }
      std::string target_id;
      if (std::string target = c.value("targetContainerName", ""); !target.empty()) {
        const v1::ContainerStatus* t = rp.Latest(target);
        if (!t || t->state() != v1::CONTAINER_RUNNING) {
          SetWaiting(uid, name, "ContainerCreating",
                     fmt::format("waiting for target container \"{}\" to run", target));
          want_requeue(seconds(1));
          continue;
        }
        target_id = t->id();
      }
      absl::Status s = StartContainer(pod, c, sbc, sandbox_id, 0, false, target_id);
      if (!s.ok()) want_requeue(seconds(1));
    }
    // Init containers, one at a time, in order.
    bool initialized = true;
    for (const auto& c : spec.value("initContainers", EmptyArray())) {
      std::string name = c.value("name", "");
      const v1::ContainerStatus* latest = rp.Latest(name);
      if (latest && latest->state() == v1::CONTAINER_EXITED && latest->exit_code() == 0) continue;
      initialized = false;
      if (latest && latest->state() == v1::CONTAINER_RUNNING) break;
      if (latest && latest->state() == v1::CONTAINER_EXITED && policy == "Never") break;
      if (auto r = ImagePullBackoff(uid, c, now); r.count() > 0) {
        want_requeue(r);
        break;
      }
      if (!restart_allowed(c, latest)) break;
      uint32_t attempt = latest ? latest->metadata().attempt() + 1 : 0;
      absl::Status s = StartContainer(pod, c, sbc, sandbox_id, attempt, true);
      if (!s.ok()) want_requeue(seconds(1));
      break;
    }
    if (initialized) {
      for (const auto& c : spec.value("containers", EmptyArray())) {
        std::string name = c.value("name", "");
        const v1::ContainerStatus* latest = rp.Latest(name);
        if (latest && latest->state() == v1::CONTAINER_RUNNING) {
          bool kill = false;
          {
            std::lock_guard l(mu);
            kill = liveness_failed.erase(latest->id()) > 0;
          }
          if (kill) {
            KLOG(Info, "kubelet: container {} of {} failed liveness probe, will be restarted", name,
                 key);
            (void)KillContainer(&pod, &c, latest->id(), GraceOf(pod));
            want_requeue(std::chrono::milliseconds(200));
          }
          continue;
        }
        bool start = false;
        if (!latest) {
          start = true;
        } else if (latest->state() == v1::CONTAINER_CREATED) {
          (void)rt.RemoveContainer(latest->id());
          start = true;
        } else if (latest->state() == v1::CONTAINER_EXITED ||
                   latest->state() == v1::CONTAINER_UNKNOWN) {
          start = policy == "Always" || (policy == "OnFailure" && latest->exit_code() != 0);
        }
        if (!start) continue;
        if (auto r = ImagePullBackoff(uid, c, now); r.count() > 0) {
          want_requeue(r);
          continue;
        }
        if (latest && latest->state() != v1::CONTAINER_CREATED && !restart_allowed(c, latest)) {
          continue;
        }
        uint32_t attempt = latest ? latest->metadata().attempt() + 1 : 0;
        absl::Status s = StartContainer(pod, c, sbc, sandbox_id, attempt, false);
        if (!s.ok()) want_requeue(seconds(1));
      }
    }
    KORRAL_ASSIGN_OR_RETURN(rp, GetRuntimePod(uid));
  }

  if (!cfg.hollow) SyncProbes(pod, rp, pod_ip);
  Json status = BuildStatus(pod, rp, pod_ip);
  WriteStatus(pod, status);
  if (requeue.count() > 0) EnqueueAfter(key, requeue);
  return absl::OkStatus();
}

std::chrono::nanoseconds Kubelet::Impl::ImagePullBackoff(const std::string& uid, const Json& c,
                                                         steady_clock::time_point now) {
  std::string name = c.value("name", "");
  std::string bkey = "pull/" + uid + "/" + c.value("image", "");
  std::lock_guard l(mu);
  auto& st = states[uid];
  auto it = st.waiting.find(name);
  std::chrono::nanoseconds none{0};
  if (it == st.waiting.end()) return none;
  if (it->second.reason != "ErrImagePull" && it->second.reason != "ImagePullBackOff") return none;
  auto fail = st.pull_failed_at.find(name);
  if (fail == st.pull_failed_at.end()) return none;
  auto remaining = backoff.Remaining(bkey, fail->second, now);
  if (remaining.count() <= 0) return none;
  it->second = {"ImagePullBackOff",
                fmt::format("Back-off pulling image \"{}\"", c.value("image", ""))};
  return remaining + std::chrono::milliseconds(100);
}

Json Kubelet::Impl::ContainerStatusJson(const Json& pod, const Json& c, const RuntimePod& rp,
                                        const std::string& sandbox_id, bool init,
                                        bool pod_initialized) {
  std::string uid = PodUid(pod), name = c.value("name", "");
  const v1::ContainerStatus* latest = rp.Latest(name);
  const v1::ContainerStatus* prev = rp.Latest(name, 1);
  Json s = {{"name", name},      {"image", c.value("image", "")},
            {"imageID", ""},     {"ready", false},
            {"restartCount", 0}, {"started", false}};
  std::optional<WaitingReason> waiting;
  {
    std::lock_guard l(mu);
    auto& st = states[uid];
    auto it = st.waiting.find(name);
    if (it != st.waiting.end()) waiting = it->second;
    if (!waiting && st.pod_waiting) waiting = st.pod_waiting;
  }
  if (!latest) {
    std::string reason = waiting                       ? waiting->reason
                         : (!init && !pod_initialized) ? "PodInitializing"
                                                       : "ContainerCreating";
    Json w = {{"reason", reason}};
    if (waiting && !waiting->message.empty()) w["message"] = waiting->message;
    s["state"] = {{"waiting", w}};
    s["lastState"] = Json::object();
    return s;
  }
  s["containerID"] = runtime_name + "://" + latest->id();
  if (!latest->image().image().empty()) s["image"] = latest->image().image();
  if (s["image"].get<std::string>().rfind("sha256:", 0) == 0) s["image"] = c.value("image", "");
  s["imageID"] = latest->image_ref();
  s["restartCount"] = latest->metadata().attempt();
  s["lastState"] = Json::object();
  if (latest->state() == v1::CONTAINER_RUNNING) {
    s["state"] = {{"running", {{"startedAt", FormatNanos(latest->started_at())}}}};
    bool started = IsStarted(latest->id(), c);
    s["started"] = started;
    s["ready"] = started && IsReady(latest->id(), c);
    if (prev && prev->state() == v1::CONTAINER_EXITED) {
      s["lastState"] = {{"terminated", TerminatedJson(*prev, runtime_name)}};
    }
  } else if (latest->state() == v1::CONTAINER_CREATED) {
    Json w = {{"reason", waiting ? waiting->reason : "ContainerCreating"}};
    if (waiting && !waiting->message.empty()) w["message"] = waiting->message;
    s["state"] = {{"waiting", w}};
  } else {
    // Exited: waiting (about to restart / backing off) or terminated for good.
    if (waiting) {
      Json w = {{"reason", waiting->reason}};
      if (!waiting->message.empty()) w["message"] = waiting->message;
      s["state"] = {{"waiting", w}};
      s["lastState"] = {{"terminated", TerminatedJson(*latest, runtime_name)}};
    } else {
      s["state"] = {{"terminated", TerminatedJson(*latest, runtime_name)}};
      if (prev && prev->state() == v1::CONTAINER_EXITED) {
        s["lastState"] = {{"terminated", TerminatedJson(*prev, runtime_name)}};
      }
    }
  }
  return s;
}

Json Kubelet::Impl::BuildStatus(const Json& pod, const RuntimePod& rp, const std::string& pod_ip) {
  const Json& spec = pod["spec"];
  const Json old = pod.value("status", Json::object());
  std::string sandbox_id = rp.sandboxes.empty() ? "" : rp.sandboxes[0].id();
  Json init_statuses = Json::array(), statuses = Json::array();
  bool initialized = true;
  for (const auto& c : spec.value("initContainers", EmptyArray())) {
    Json s = ContainerStatusJson(pod, c, rp, sandbox_id, true, true);
    bool done =
        s["state"].contains("terminated") && s["state"]["terminated"].value("exitCode", -1) == 0;
    if (!done) initialized = false;
    // An init container that completed is "ready" as upstream reports.
    if (done) s["ready"] = true;
    init_statuses.push_back(std::move(s));
  }
  bool all_ready = true;
  for (const auto& c : spec.value("containers", EmptyArray())) {
    Json s = ContainerStatusJson(pod, c, rp, sandbox_id, false, initialized);
    if (!s.value("ready", false)) all_ready = false;
    statuses.push_back(std::move(s));
  }
  // Ephemeral containers: reported, never ready, and no part of the phase or readiness.
  Json ephemeral_statuses = Json::array();
  for (const auto& c : spec.value("ephemeralContainers", EmptyArray())) {
    Json s = ContainerStatusJson(pod, c, rp, sandbox_id, false, true);
    s["ready"] = false;
    ephemeral_statuses.push_back(std::move(s));
  }
  std::string phase = ComputePhase(spec, init_statuses, statuses);
  Json st = Json::object();
  st["phase"] = phase;
  st["hostIP"] = node_ip;
  st["hostIPs"] = Json::array({{{"ip", node_ip}}});
  if (!pod_ip.empty()) {
    st["podIP"] = pod_ip;
    st["podIPs"] = Json::array({{{"ip", pod_ip}}});
  }
  st["startTime"] = old.contains("startTime") ? old["startTime"] : Json(FormatTime(clock.Now()));
  st["qosClass"] = api::defaults::PodQosClass(pod);
  if (!init_statuses.empty()) st["initContainerStatuses"] = init_statuses;
  st["containerStatuses"] = statuses;
  if (!ephemeral_statuses.empty()) st["ephemeralContainerStatuses"] = ephemeral_statuses;
  bool terminal = phase == "Succeeded" || phase == "Failed";
  // Conditions, keeping lastTransitionTime when the status did not change.
  std::map<std::string, Json> old_conds;
  for (const auto& c : old.value("conditions", EmptyArray())) {
    old_conds[c.value("type", "")] = c;
  }
  std::string now = FormatTime(clock.Now());
  auto cond = [&](const std::string& type, bool value, const std::string& reason) {
    std::string v = value ? "True" : "False";
    Json c = {{"type", type}, {"status", v}, {"lastProbeTime", nullptr}};
    auto it = old_conds.find(type);
    c["lastTransitionTime"] = (it != old_conds.end() && it->second.value("status", "") == v)
                                  ? it->second.value("lastTransitionTime", now)
                                  : now;
    if (!value && !reason.empty()) c["reason"] = reason;
    return c;
  };
  bool sandbox_ready = !rp.sandboxes.empty() && rp.sandboxes[0].state() == v1::SANDBOX_READY;
  std::string not_ready_reason = terminal ? "PodCompleted" : "ContainersNotReady";
  Json conds = Json::array();
  conds.push_back(cond("PodReadyToStartContainers", sandbox_ready, ""));
  conds.push_back(
      cond("Initialized", initialized, terminal ? "PodCompleted" : "ContainersNotInitialized"));
  bool ready = all_ready && !terminal;
  for (const auto& g : spec.value("readinessGates", EmptyArray())) {
    std::string t = g.value("conditionType", "");
    auto it = old_conds.find(t);
    if (it == old_conds.end() || it->second.value("status", "") != "True") ready = false;
  }
  conds.push_back(cond("Ready", ready, not_ready_reason));
  conds.push_back(cond("ContainersReady", all_ready && !terminal, not_ready_reason));
  auto ps = old_conds.find("PodScheduled");
  conds.push_back(ps != old_conds.end() ? ps->second : cond("PodScheduled", true, ""));
  // Conditions others own (readiness gates, DisruptionTarget) stay.
  for (const auto& [t, c] : old_conds) {
    if (t != "PodReadyToStartContainers" && t != "Initialized" && t != "Ready" &&
        t != "ContainersReady" && t != "PodScheduled") {
      conds.push_back(c);
    }
  }
  // Not-ready messages as upstream: "containers with unready status: [a b]".
  std::vector<std::string> unready;
  for (const auto& s : statuses) {
    if (!s.value("ready", false)) unready.push_back(s.value("name", ""));
  }
  for (auto& c : conds) {
    std::string t = c.value("type", "");
    if ((t == "Ready" || t == "ContainersReady") && c.value("status", "") == "False" &&
        !unready.empty() && !terminal) {
      std::string list;
      for (const auto& n : unready) list += (list.empty() ? "" : " ") + n;
      c["message"] = "containers with unready status: [" + list + "]";
    }
    if (t == "Initialized" && c.value("status", "") == "False" && !terminal) {
      std::string list;
      for (const auto& s : init_statuses) {
        if (!s.value("ready", false)) list += (list.empty() ? "" : " ") + s.value("name", "");
      }
      c["message"] = "containers with incomplete status: [" + list + "]";
    }
  }
  st["conditions"] = conds;
  return st;
}

void Kubelet::Impl::WriteStatus(const Json& pod, Json status) {
  std::string uid = PodUid(pod);
  Json current = pod.value("status", Json::object());
  {
    std::lock_guard l(mu);
    auto& st = states[uid];
    if (st.last_status == status) return;
    if (st.evicted) return;  // the eviction wrote the final status
  }
  std::string target_uid = uid;
  if (IsStaticPod(pod)) {
    // Written to the current mirror pod, compared with that one's status (`pod` may carry the
    // status of a mirror pod deleted since). None yet, or only one being deleted: the sync of
    // the informer event for the new mirror pod writes the status.
    ObjectPtr m = MirrorPodOf(pod);
    if (!m) return;
    const Json& mmd = (*m)["metadata"];
    if (mmd.contains("deletionTimestamp") && !mmd["deletionTimestamp"].is_null()) return;
    target_uid = PodUid(*m);
    current = m->value("status", Json::object());
  }
  // Compare with what the API has, ignoring fields others own.
  Json cmp = current;
  for (const char* f : {"nominatedNodeName", "message", "reason", "resize"}) cmp.erase(f);
  if (cmp == status) {
    std::lock_guard l(mu);
    states[uid].last_status = status;
    return;
  }
  Json patch = {{"metadata", {{"uid", target_uid}}}, {"status", status}};
  client::PatchOptions po;
  po.subresource = "status";
  auto r = client.Patch(client::resources::Pods(), pod["metadata"].value("namespace", ""),
                        pod["metadata"].value("name", ""), client::PatchType::kMerge, patch, po);
  if (!r.ok()) {
    KLOG(Warning, "kubelet: status of {}: {}", PodKey(pod), StatusMessage(r.status()));
    return;
  }
  std::lock_guard l(mu);
  states[uid].last_status = status;
}

bool Kubelet::Impl::RunHook(const Json& handler, const std::string& container_id,
                            const std::string& pod_ip, std::chrono::seconds timeout,
                            std::string* message) {
  if (handler.contains("exec")) {
    std::vector<std::string> cmd;
    for (const auto& s : handler["exec"].value("command", EmptyArray())) cmd.push_back(s);
    auto r = rt.ExecSync(container_id, cmd, timeout);
    if (!r.ok()) {
      *message = Msg(r.status());
      return false;
    }
    if (r->exit_code() != 0) {
      *message = fmt::format("command '{}' exited with {}: {}", fmt::join(cmd, " "), r->exit_code(),
                             r->stderr());
      return false;
    }
    return true;
  }
  if (handler.contains("httpGet") || handler.contains("tcpSocket")) {
    return RunProbe(handler, container_id, pod_ip, message);
  }
  if (handler.contains("sleep")) {
    int64_t s = handler["sleep"].value("seconds", int64_t{0});
    std::unique_lock l(loop_mu);
    loop_cv.wait_for(l, std::min(seconds(s), timeout), [&] { return stopping.load(); });
    return true;
  }
  return true;
}

absl::Status Kubelet::Impl::KillContainer(const Json* pod, const Json* container,
                                          const std::string& container_id, int64_t grace) {
  auto start = steady_clock::now();
  if (container && container->contains("lifecycle") &&
      (*container)["lifecycle"].contains("preStop") && grace > 0) {
    std::string msg, pod_ip;
    if (pod) {
      std::lock_guard l(mu);
      pod_ip = states[PodUid(*pod)].pod_ip;
    }
    if (!RunHook((*container)["lifecycle"]["preStop"], container_id, pod_ip, seconds(grace),
                 &msg)) {
      KLOG(Warning, "kubelet: preStop hook of {} failed: {}", container_id, msg);
    }
  }
  int64_t elapsed = std::chrono::duration_cast<seconds>(steady_clock::now() - start).count();
  int64_t remaining = std::max<int64_t>(grace - elapsed, grace > 0 ? 2 : 0);
  return rt.StopContainer(container_id, remaining);
}

void Kubelet::Impl::StartTermination(const Json& pod, int64_t grace, bool delete_object) {
  std::string uid = PodUid(pod);
  if (uid.empty()) return;
  std::lock_guard l(mu);
  if (stopping || terminating.count(uid)) return;
  terminating.insert(uid);
  auto it = terminators.find(uid);
  if (it != terminators.end() && it->second.joinable()) it->second.join();
  terminators[uid] =
      std::thread([this, pod, grace, delete_object] { TerminatePod(pod, grace, delete_object); });
}

void Kubelet::Impl::TerminatePod(Json pod, int64_t grace, bool delete_object) {
  std::string uid = PodUid(pod), key = PodKey(pod);
  KLOG(Info, "kubelet: terminating pod {} (grace {}s)", key, grace);
  RemoveProbes(uid);
  auto rp = GetRuntimePod(uid);
  if (rp.ok()) {
    std::vector<std::thread> killers;
    for (const auto& c : rp->containers) {
      if (c.state() != v1::CONTAINER_RUNNING) continue;
      const Json* spec_c = SpecContainer(pod, c.metadata().name());
      std::string id = c.id();
      killers.emplace_back([this, &pod, spec_c, id, grace] {
        absl::Status s = KillContainer(&pod, spec_c, id, grace);
        if (!s.ok()) KLOG(Warning, "kubelet: stop {}: {}", id, StatusMessage(s));
      });
    }
    for (auto& t : killers) t.join();
  }
  RemovePodResources(uid, &pod);
  if (delete_object && !stopping && IsStaticPod(pod)) {
    // Its mirror pod goes too (only the one made for this version of the manifest).
    ObjectPtr m = MirrorPodOf(pod);
    if (m && (*m)["metadata"]["annotations"].value("kubernetes.io/config.mirror", "") == uid) {
      absl::Status ds = DeleteMirrorPod(*m);
      if (!ds.ok()) KLOG(Warning, "kubelet: delete mirror pod {}: {}", key, StatusMessage(ds));
    }
  } else if (delete_object && !stopping) {
    Json opts = {{"apiVersion", "v1"},
                 {"kind", "DeleteOptions"},
                 {"gracePeriodSeconds", 0},
                 {"preconditions", {{"uid", uid}}}};
    auto r = client.Delete(client::resources::Pods(), pod["metadata"].value("namespace", ""),
                           pod["metadata"].value("name", ""), opts);
    if (!r.ok() && !client::IsNotFound(r.status()) && !client::IsConflict(r.status())) {
      KLOG(Warning, "kubelet: delete {}: {}", key, StatusMessage(r.status()));
    }
  }
  std::lock_guard l(mu);
  terminating.erase(uid);
  states.erase(uid);
  last_known.erase(uid);
  backoff.ResetPrefix("ctr/" + uid + "/");
  backoff.ResetPrefix("pull/" + uid + "/");
}

void Kubelet::Impl::RemovePodResources(const std::string& uid, const Json* pod) {
  v1::PodSandboxFilter sf;
  (*sf.mutable_label_selector())[cri::kPodUidLabel] = uid;
  auto sbs = rt.ListPodSandbox(sf);
  std::set<std::string> parents;
  std::string log_dir;
  if (sbs.ok()) {
    for (const auto& s : *sbs) {
      auto st = rt.PodSandboxStatus(s.id());
      (void)st;
      (void)rt.StopPodSandbox(s.id());
      absl::Status r = rt.RemovePodSandbox(s.id());
      if (!r.ok()) KLOG(Warning, "kubelet: remove sandbox {}: {}", s.id(), StatusMessage(r));
      if (!cfg.log_dir.empty()) {
        log_dir = fmt::format("{}/{}_{}_{}", cfg.log_dir, s.metadata().namespace_(),
                              s.metadata().name(), uid);
      }
    }
  }
  if (!cfg.cgroup_root.empty() && !cfg.hollow) {
    for (const char* q : {"Guaranteed", "Burstable", "BestEffort"}) {
      RemovePodCgroup(PodCgroupParent(cfg.cgroup_root, q, uid));
    }
  }
  TeardownVolumes(uid);
  if (!log_dir.empty()) {
    std::error_code ec;
    fs::remove_all(log_dir, ec);
  }
}

}  // namespace korral::kubelet
