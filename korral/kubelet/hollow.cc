#include "korral/kubelet/hollow.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/cri/fake.h"
#include "korral/kubelet/kubelet.h"

namespace korral::kubelet {
namespace {

long RssKb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return 0;
}

}  // namespace

int RunHollowNodes(const HollowOptions& s, const std::function<void()>& wait) {
  auto rc = client::LoadKubeconfig(s.kubeconfig);
  if (!rc.ok()) {
    KLOG(Error, "hollow-nodes: {}", rc.status().ToString());
    return 1;
  }
  rc->qps = s.qps;
  rc->burst = s.burst;
  rc->user_agent = "korral-hollow-node";
  auto cl = client::RestClient::New(*rc);
  if (!cl.ok()) {
    KLOG(Error, "hollow-nodes: {}", cl.status().ToString());
    return 1;
  }
  long rss0 = RssKb();
  auto t0 = std::chrono::steady_clock::now();
  // One pod informer, one queue and a few workers for all nodes (unless --per-node-threads,
  // the old layout: an informer, a watch and two threads per node).
  std::unique_ptr<KubeletGroup> group;
  if (!s.per_node_threads) {
    group = std::make_unique<KubeletGroup>(**cl, s.workers);
    if (absl::Status st = group->Start(); !st.ok()) {
      KLOG(Error, "hollow-nodes: {}", st.ToString());
      return 1;
    }
  }
  int n = std::max(0, s.count);
  std::vector<std::unique_ptr<cri::FakeRuntime>> runtimes(n);
  std::vector<std::unique_ptr<Kubelet>> kubelets(n);
  std::atomic<int> next{0}, failed{0};
  auto start_some = [&] {
    for (int i = next++; i < n && failed == 0; i = next++) {
      runtimes[i] = std::make_unique<cri::FakeRuntime>();
      KubeletConfig kc;
      kc.node_name = fmt::format("{}{}", s.prefix, i);
      kc.hollow = true;
      kc.workers = 1;
      kc.node_labels["korral.io/hollow"] = "true";
      kc.relist_period = std::chrono::milliseconds(2000);
      kc.group = group.get();
      kubelets[i] = std::make_unique<Kubelet>(**cl, *runtimes[i], kc);
      absl::Status st = kubelets[i]->Start();
      if (!st.ok()) {
        KLOG(Error, "hollow-nodes: node {}: {}", kc.node_name, st.ToString());
        failed++;
      }
    }
  };
  {
    std::vector<std::thread> starters;
    for (int t = 0; t < std::clamp(s.start_parallelism, 1, 64); ++t)
      starters.emplace_back(start_some);
    for (auto& t : starters) t.join();
  }
  if (failed > 0) {
    for (auto& k : kubelets) {
      if (k) k->Stop();
    }
    return 1;
  }
  double start_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  long rss1 = RssKb();
  double per = n > 0 ? static_cast<double>(rss1 - rss0) / n : 0;
  // One machine-readable line for bench scripts.
  fmt::print(
      "hollow-nodes: count={} rss_kb_base={} rss_kb_total={} rss_kb_per_node={:.1f} "
      "start_seconds={:.2f}\n",
      n, rss0, rss1, per, start_s);
  fflush(stdout);
  wait();
  for (auto& k : kubelets) k->Stop();
  if (group) group->Stop();
  return 0;
}

}  // namespace korral::kubelet
