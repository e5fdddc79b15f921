// KubeletGroup: many kubelets in one process (hollow nodes) sharing one pod informer, one work
// queue and a few workers. Queue keys: "p|<node>|<ns>/<name>" (a pod sync of that node's
// kubelet) and "h|<node>" (that kubelet's housekeeping, re-queued every relist period).
#include <algorithm>
#include <thread>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {

struct KubeletGroup::Impl {
  client::Client& client;
  int num_workers;
  std::unique_ptr<client::SharedInformer> pods;
  client::WorkQueue queue{client::WorkQueueOptions{.name = "kubelet-group"}};
  std::vector<std::thread> workers;
  std::mutex mu;  // guards kubelets (and the busy counts taken under it)
  std::map<std::string, Kubelet::Impl*, std::less<>> kubelets;
  bool started = false;

  Impl(client::Client& c, int w) : client(c), num_workers(std::max(1, w)) {}

  // The kubelet of `node` with its busy count taken, or null.
  Kubelet::Impl* Acquire(std::string_view node) {
    std::lock_guard l(mu);
    auto it = kubelets.find(node);
    if (it == kubelets.end()) return nullptr;
    it->second->group_busy++;
    return it->second;
  }
  static void Release(Kubelet::Impl* k) { k->group_busy--; }

  void Dispatch(const ObjectPtr& p) {
    std::string node = (*p)["spec"].value("nodeName", "");
    if (node.empty()) return;
    if (Kubelet::Impl* k = Acquire(node)) {
      k->Enqueue(PodKey(*p));
      Release(k);
    }
  }

  void Worker() {
    while (auto item = queue.Get()) {
      const std::string& key = *item;
      auto bar = key.find('|', 2);
      std::string_view node =
          std::string_view(key).substr(2, bar == std::string::npos ? std::string::npos : bar - 2);
      Kubelet::Impl* k = key.size() > 2 ? Acquire(node) : nullptr;
      if (!k) {
        queue.Done(key);
        continue;
      }
      if (key[0] == 'h') {
        k->HousekeepingTick();
        queue.Done(key);
        if (!k->stopping) queue.AddAfter(key, k->cfg.relist_period);
      } else {
        std::string pod_key = key.substr(bar + 1);
        absl::Status s = k->stopping ? absl::OkStatus() : k->SyncPod(pod_key);
        queue.Done(key);
        if (!s.ok()) {
          KLOG(Warning, "kubelet {}: sync {} failed: {}", k->cfg.node_name, pod_key,
               StatusMessage(s));
          queue.AddAfter(key, std::chrono::seconds(2));
        }
      }
      Release(k);
    }
  }
};

KubeletGroup::KubeletGroup(client::Client& client, int workers)
    : impl_(std::make_unique<Impl>(client, workers)) {}

KubeletGroup::~KubeletGroup() { Stop(); }

absl::Status KubeletGroup::Start() {
  Impl& g = *impl_;
  client::InformerOptions io;
  io.name = "kubelet-group-pods";
  g.pods = std::make_unique<client::SharedInformer>(
      client::NewListerWatcher(g.client, client::resources::Pods(), "", "", "spec.nodeName!="), io);
  (void)g.pods->AddIndex("uid", [](const Json& p) {
    return std::vector<std::string>{p["metadata"].value("uid", "")};
  });
  (void)g.pods->AddIndex("nodeName", [](const Json& p) {
    return std::vector<std::string>{p["spec"].value("nodeName", "")};
  });
  Impl* gp = &g;
  g.pods->AddEventHandler({
      .on_add = [gp](const ObjectPtr& p) { gp->Dispatch(p); },
      .on_update = [gp](const ObjectPtr&, const ObjectPtr& p) { gp->Dispatch(p); },
      .on_delete =
          [gp](const ObjectPtr& p, bool) {
            std::string node = (*p)["spec"].value("nodeName", "");
            if (Kubelet::Impl* k = gp->Acquire(node)) {
              k->OnPodDeleted(*p);
              Impl::Release(k);
            }
          },
  });
  g.pods->Start();
  if (!g.pods->WaitForCacheSync(std::chrono::seconds(60))) {
    return absl::DeadlineExceededError("kubelet group: pod informer did not sync in 60s");
  }
  for (int i = 0; i < g.num_workers; ++i) g.workers.emplace_back([gp] { gp->Worker(); });
  g.started = true;
  return absl::OkStatus();
}

void KubeletGroup::Stop() {
  Impl& g = *impl_;
  g.queue.ShutDown();
  for (auto& t : g.workers) t.join();
  g.workers.clear();
  if (g.pods) g.pods->Stop();
}

client::SharedInformer* GroupInformer(KubeletGroup::Impl* g) { return g->pods.get(); }

void GroupRegister(KubeletGroup::Impl* g, Kubelet::Impl* k) {
  {
    std::lock_guard l(g->mu);
    g->kubelets[k->cfg.node_name] = k;
  }
  k->last_status_check = std::chrono::steady_clock::now();
  for (const auto& p : g->pods->indexer().ByIndex("nodeName", k->cfg.node_name)) {
    k->Enqueue(PodKey(*p));
  }
  g->queue.AddAfter("h|" + k->cfg.node_name, k->cfg.relist_period);
}

void GroupUnregister(KubeletGroup::Impl* g, Kubelet::Impl* k) {
  {
    std::lock_guard l(g->mu);
    auto it = g->kubelets.find(k->cfg.node_name);
    if (it != g->kubelets.end() && it->second == k) g->kubelets.erase(it);
  }
  // Bounded: a sync in flight finishes its CRI and API calls.
  for (int i = 0; i < 6000 && k->group_busy.load() > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void GroupEnqueue(KubeletGroup::Impl* g, const std::string& node, const std::string& pod_key,
                  std::chrono::nanoseconds delay) {
  std::string key = "p|" + node + "|" + pod_key;
  if (delay.count() > 0) {
    g->queue.AddAfter(key, delay);
  } else {
    g->queue.Add(key);
  }
}

}  // namespace korral::kubelet
