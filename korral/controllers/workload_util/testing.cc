// korral/controllers/workload_util/testing.cc
#include "korral/controllers/workload_util/testing.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <thread>

#include "korral/controllers/pod_summary.h"

namespace korral::controllers::workload {

client::SharedInformer* TestInformerFactory::For(const client::ResourceRef& ref) {
  std::lock_guard l(mu_);
  std::string k = ref.group + "/" + ref.resource;
  auto it = informers_.find(k);
  if (it != informers_.end()) return it->second.second.get();
  client::InformerOptions options;
  if (ref.group.empty() && ref.resource == "pods") {
    // As the real factory does (informer_factory.cc): packed pods with summaries.
    options.compact_cache = true;
    options.summarize = PodSummaryFunc();
  }
  auto inf = std::make_unique<client::SharedInformer>(client::NewListerWatcher(client_, ref),
                                                      std::move(options));
  auto* p = inf.get();
  informers_[k] = {ref, std::move(inf)};
  return p;
}

void TestInformerFactory::Start() {
  std::lock_guard l(mu_);
  for (auto& [k, v] : informers_) {
    if (started_.insert(k).second) v.second->Start();
  }
}

bool TestInformerFactory::WaitForCacheSync(std::chrono::milliseconds timeout) {
  std::vector<client::SharedInformer*> all;
  {
    std::lock_guard l(mu_);
    for (auto& [k, v] : informers_) all.push_back(v.second.get());
  }
  return client::WaitForCacheSync(all, timeout);
}

void TestInformerFactory::Stop() {
  std::lock_guard l(mu_);
  for (auto& [k, v] : informers_) v.second->Stop();
}

bool TestInformerFactory::Settle(client::FakeClient& fake, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<std::pair<client::ResourceRef, client::SharedInformer*>> all;
  {
    std::lock_guard l(mu_);
    for (auto& [k, v] : informers_) all.push_back({v.first, v.second.get()});
  }
  for (auto& [ref, inf] : all) {
    while (true) {
      auto list = fake.List(ref, "");
      std::set<std::pair<std::string, std::string>> want, have;
      int64_t newest = 0;
      if (list.ok()) {
        for (const Json& o : (*list)["items"]) {
          want.insert({KeyOf(o), client::ResourceVersionOf(o)});
          newest = std::max<int64_t>(newest, std::atoll(client::ResourceVersionOf(o).c_str()));
        }
      }
      for (const auto& o : inf->indexer().List()) {
        have.insert({KeyOf(*o), client::ResourceVersionOf(*o)});
      }
      // The cache is updated before the handlers run and the informer's resourceVersion after
      // them: wait for both, or the controller may not have been told about the newest object
      // yet (StatefulSetTest saw an empty queue after a create under load).
      // TODO(korral): a delete that is the newest event is only covered by the cache check.
      bool handled = std::atoll(inf->LastSyncResourceVersion().c_str()) >= newest;
      if (want == have && handled) break;
      if (std::chrono::steady_clock::now() > deadline) {
        fprintf(stderr, "Settle: informer for %s did not catch up (%zu vs %zu objects)\n",
                ref.resource.c_str(), have.size(), want.size());
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return true;
}

WorkloadTestEnv::WorkloadTestEnv() {
  ctx.client = &client;
  ctx.informers = &informers;
  ctx.clock = &clock;
}

WorkloadTestEnv::~WorkloadTestEnv() { informers.Stop(); }

void WorkloadTestEnv::Start() {
  informers.Start();
  informers.WaitForCacheSync(std::chrono::seconds(5));
}

void WorkloadTestEnv::Settle() { informers.Settle(client); }

int WorkloadTestEnv::RunUntilQuiet(QueueController& c, int max_rounds) {
  int total = 0;
  for (int i = 0; i < max_rounds; ++i) {
    Settle();
    int n = c.ProcessAll();
    total += n;
    if (n == 0) break;
  }
  Settle();
  return total;
}

std::vector<Json> WorkloadTestEnv::List(const client::ResourceRef& ref, const std::string& ns) {
  std::vector<Json> out;
  auto list = client.List(ref, ref.namespaced ? ns : "");
  if (!list.ok()) return out;
  for (const Json& o : (*list)["items"]) out.push_back(o);
  std::sort(out.begin(), out.end(),
            [](const Json& a, const Json& b) { return NameOf(a) < NameOf(b); });
  return out;
}

Json WorkloadTestEnv::Get(const client::ResourceRef& ref, const std::string& ns,
                          const std::string& name) {
  auto r = client.Get(ref, ns, name);
  return r.ok() ? *r : Json();
}

Json WorkloadTestEnv::Create(const client::ResourceRef& ref, Json obj) {
  if (!obj["metadata"].contains("namespace") && ref.namespaced) {
    obj["metadata"]["namespace"] = "default";
  }
  auto r = client.Create(ref, NamespaceOf(obj), obj);
  return r.ok() ? *r : Json();
}

void WorkloadTestEnv::SetPodStatus(const Json& pod, const std::string& phase, bool ready) {
  auto cur = client.Get(PodsRef(), NamespaceOf(pod), NameOf(pod));
  if (!cur.ok()) return;
  Json p = *cur;
  p["status"]["phase"] = phase;
  Json conds = Json::array();
  conds.push_back({{"type", "Ready"},
                   {"status", ready ? "True" : "False"},
                   {"lastTransitionTime", FormatTime(clock.Now())}});
  p["status"]["conditions"] = conds;
  (void)client.UpdateStatus(PodsRef(), NamespaceOf(p), p);
}

}  // namespace korral::controllers::workload
