// korral/kubelet/hollow.h: `korral hollow-nodes` (and the standalone bench/node tool
// hollow_nodes): N kubelets on fake CRI runtimes in one process, for control-plane scale tests.
#pragma once

#include <functional>
#include <string>

namespace korral::kubelet {

struct HollowOptions {
  std::string kubeconfig;
  int count = 1;
  std::string prefix = "hollow-node-";
  double qps = 1000;
  int burst = 2000;
  int workers = 8;                // shared sync/housekeeping workers of the KubeletGroup
  int start_parallelism = 8;      // nodes registered at once
  bool per_node_threads = false;  // the old layout: a watch and threads per node
};

// Starts the nodes, prints one line
//   hollow-nodes: count=N rss_kb_base=B rss_kb_total=T rss_kb_per_node=P start_seconds=S
// to stdout, calls `wait` (returns on shutdown) and stops them. Returns the exit code.
int RunHollowNodes(const HollowOptions& options, const std::function<void()>& wait);

}  // namespace korral::kubelet
