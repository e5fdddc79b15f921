// Many kubelets in one KubeletGroup: one pod informer and shared workers, no per-node threads.
#include <gtest/gtest.h>

#include <dirent.h>

#include <thread>

#include "korral/client/fake_client.h"
#include "korral/cri/fake.h"
#include "korral/kubelet/kubelet.h"

namespace korral::kubelet {
namespace {

using Json = nlohmann::json;
using client::resources::Pods;

template <typename Fn>
bool Eventually(Fn fn, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (fn()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return fn();
}

int NumThreads() {
  int n = 0;
  DIR* d = opendir("/proc/self/task");
  if (!d) return -1;
  while (auto* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n;
}

Json MakePod(const std::string& name, const std::string& node) {
  return Json{{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata", {{"name", name}, {"namespace", "default"}}},
              {"spec",
               {{"nodeName", node},
                {"terminationGracePeriodSeconds", 1},
                {"containers", Json::array({{{"name", "c"}, {"image", "busybox:1.0"}}})}}}};
}

std::string Phase(client::FakeClient& c, const std::string& name) {
  auto p = c.Get(Pods(), "default", name);
  return p.ok() ? p->value("status", Json::object()).value("phase", "") : "";
}

TEST(KubeletGroupTest, ManyNodesShareOneWatchAndTheWorkers) {
  client::FakeClient client;
  KubeletGroup group(client, 2);
  ASSERT_TRUE(group.Start().ok());
  auto pod_watches = [&] {
    int n = 0;
    for (const auto& a : client.Actions()) {
      if (a.verb == "watch" && a.resource == "pods") ++n;
    }
    return n;
  };
  // The informer opens its watch (a FakeClient thread, started under the client's lock before
  // NumWatches counts it) after the list that Start waits for.
  ASSERT_TRUE(Eventually([&] { return client.NumWatches() == 1; }));
  int threads_before = NumThreads();
  constexpr int kNodes = 20;
  std::vector<std::unique_ptr<cri::FakeRuntime>> runtimes;
  std::vector<std::unique_ptr<Kubelet>> kubelets;
  for (int i = 0; i < kNodes; ++i) {
    runtimes.push_back(std::make_unique<cri::FakeRuntime>());
    KubeletConfig cfg;
    cfg.node_name = "n" + std::to_string(i);
    cfg.hollow = true;
    cfg.relist_period = std::chrono::milliseconds(50);
    cfg.lease_renew_interval = std::chrono::seconds(1);
    cfg.group = &group;
    kubelets.push_back(std::make_unique<Kubelet>(client, *runtimes.back(), cfg));
    ASSERT_TRUE(kubelets.back()->Start().ok());
  }
  // No thread and no watch per kubelet.
  EXPECT_EQ(NumThreads(), threads_before);
  EXPECT_EQ(pod_watches(), 1);
  // Pods run on the node they are bound to, and only there.
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(
        client.Create(Pods(), "default", MakePod("p" + std::to_string(i), "n" + std::to_string(i)))
            .ok());
  }
  ASSERT_TRUE(client.Create(Pods(), "default", MakePod("elsewhere", "other-node")).ok());
  for (int i = 0; i < kNodes; ++i) {
    ASSERT_TRUE(Eventually([&] { return Phase(client, "p" + std::to_string(i)) == "Running"; }))
        << i;
    EXPECT_EQ(runtimes[i]->NumSandboxes(), 1u);
  }
  EXPECT_EQ(kubelets[3]->ListPods().size(), 1u);
  // Leases are renewed by the shared housekeeping.
  auto lease = client.Get(client::resources::Leases(), "kube-node-lease", "n7");
  ASSERT_TRUE(lease.ok());
  std::string t0 = (*lease)["spec"]["renewTime"];
  ASSERT_TRUE(Eventually([&] {
    auto l = client.Get(client::resources::Leases(), "kube-node-lease", "n7");
    return l.ok() && (*l)["spec"]["renewTime"] != t0;
  }));
  // Deleting a pod from the API stops it on its node.
  ASSERT_TRUE(client.Delete(Pods(), "default", "p5").ok());
  ASSERT_TRUE(Eventually([&] { return runtimes[5]->NumSandboxes() == 0; }));
  EXPECT_EQ(runtimes[6]->NumSandboxes(), 1u);
  for (auto& k : kubelets) k->Stop();
  group.Stop();
}

}  // namespace
}  // namespace korral::kubelet
