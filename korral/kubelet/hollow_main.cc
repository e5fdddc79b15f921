// hollow_nodes: `korral hollow-nodes` as a small standalone tool (bench/node/hollow_bench.py
// --hollow-bin), so the scale bench needs only the kubelet libraries rebuilt.
//   hollow_nodes --kubeconfig F --count N [--workers W] [--start-parallelism P]
//                [--name-prefix S] [--per-node-threads]
#include <signal.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "korral/kubelet/hollow.h"

int main(int argc, char** argv) {
  korral::kubelet::HollowOptions o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string { return i + 1 < argc ? argv[++i] : ""; };
    if (a == "--kubeconfig") {
      o.kubeconfig = next();
    } else if (a == "--count") {
      o.count = std::atoi(next().c_str());
    } else if (a == "--workers") {
      o.workers = std::atoi(next().c_str());
    } else if (a == "--start-parallelism") {
      o.start_parallelism = std::atoi(next().c_str());
    } else if (a == "--name-prefix") {
      o.prefix = next();
    } else if (a == "--per-node-threads") {
      o.per_node_threads = true;
    } else {
      fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before any thread starts
  return korral::kubelet::RunHollowNodes(o, [&set] {
    int sig = 0;
    sigwait(&set, &sig);
  });
}
