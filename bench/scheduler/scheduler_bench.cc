// scheduler_bench: a scheduler_perf-style benchmark (upstream test/integration/scheduler_perf).
//
// In-process (default): N fake nodes and init pods are fed straight into the scheduler core (the
// same entry points the informers call); a fake API confirms each binding at once, as the
// informer would. Then the measured pods are added and throughput is sampled every second until
// all are bound. Workloads mirror upstream's SchedulingBasic, SchedulingPodAntiAffinity,
// SchedulingPodAffinity, TopologySpreading, SchedulingNodeAffinity and PreemptionBasic.
//
// End to end (--e2e --korral=PATH): starts `korral server --disable-scheduler`, creates N nodes
// and the pods through the API, then starts the scheduler (informers + bindings via
// pods/binding over HTTPS) and measures until every pod has spec.nodeName.
//
// Usage: scheduler_bench [--nodes=500,1000,5000] [--workloads=SchedulingBasic,...]
//                        [--rss] [--e2e --korral=PATH --e2e-nodes=5000 --e2e-pods=10000]
// GCC 12 at -O2 reports a false -Wmaybe-uninitialized inside std::string comparisons of a
// by-value WatchEvent (the watch callback below); keep -Werror builds of the bench working.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/scheduler/scheduler.h"
#include "korral/scheduler/server.h"
#include "korral/scheduler/test_util.h"

namespace ks = korral::scheduler;
using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double RssMiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atof(line.c_str() + 6) / 1024.0;
  }
  return 0;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

const char* kZoneKey = "topology.kubernetes.io/zone";

Json Node(int i, int zones) {
  std::map<std::string, std::string> labels = {{kZoneKey, fmt::format("zone-{}", i % zones)}};
  if (i % 2 == 0) labels["node-group"] = "even";
  return ks::testing::NodeJson(fmt::format("node-{}", i), "32", "256Gi", labels, 110);
}

struct Workload {
  std::string name;
  int init = 0;
  int measured = 0;
  std::function<Json(int i, bool init)> pod;
  int node_cpu_millis = 32000;
};

Json BasicPod(const std::string& name) {
  return ks::testing::PodJson(name, "100m", "100Mi", {{"app", "bench"}});
}

Json AntiAffinityPod(const std::string& name) {
  Json p = ks::testing::PodJson(name, "100m", "100Mi", {{"color", "green"}});
  p["spec"]["affinity"] = {{"podAntiAffinity",
                            {{"requiredDuringSchedulingIgnoredDuringExecution",
                              {{{"labelSelector", {{"matchLabels", {{"color", "green"}}}}},
                                {"topologyKey", "kubernetes.io/hostname"}}}}}}};
  return p;
}

Json AffinityPod(const std::string& name) {
  Json p = ks::testing::PodJson(name, "100m", "100Mi", {{"team", "devops"}});
  p["spec"]["affinity"] = {{"podAffinity",
                            {{"requiredDuringSchedulingIgnoredDuringExecution",
                              {{{"labelSelector", {{"matchLabels", {{"team", "devops"}}}}},
                                {"topologyKey", kZoneKey}}}}}}};
  return p;
}

Json SpreadPod(const std::string& name) {
  Json p = ks::testing::PodJson(name, "100m", "100Mi", {{"color", "blue"}});
  p["spec"]["topologySpreadConstraints"] = {
      {{"maxSkew", 5},
       {"topologyKey", kZoneKey},
       {"whenUnsatisfiable", "DoNotSchedule"},
       {"labelSelector", {{"matchLabels", {{"color", "blue"}}}}}}};
  return p;
}

Json NodeAffinityPod(const std::string& name) {
  Json p = ks::testing::PodJson(name, "100m", "100Mi", {{"app", "na"}});
  p["spec"]["affinity"] = {
      {"nodeAffinity",
       {{"requiredDuringSchedulingIgnoredDuringExecution",
         {{"nodeSelectorTerms",
           {{{"matchExpressions",
              {{{"key", "node-group"}, {"operator", "In"}, {"values", {"even"}}}}}}}}}}}}};
  return p;
}

std::vector<Workload> Workloads(int n) {
  std::vector<Workload> w;
  w.push_back({"SchedulingBasic", n, 2 * n, [](int i, bool init) {
                 return BasicPod(fmt::format("{}-{}", init ? "init" : "m", i));
               }});
  w.push_back({"SchedulingPodAntiAffinity", n / 5, n / 5, [](int i, bool init) {
                 return AntiAffinityPod(fmt::format("{}-{}", init ? "init" : "m", i));
               }});
  w.push_back({"SchedulingPodAffinity", n / 5, n / 5, [](int i, bool init) {
                 return AffinityPod(fmt::format("{}-{}", init ? "init" : "m", i));
               }});
  w.push_back({"TopologySpreading", n, 2 * n / 5, [](int i, bool init) {
                 if (init) return BasicPod(fmt::format("init-{}", i));
                 return SpreadPod(fmt::format("m-{}", i));
               }});
  w.push_back({"SchedulingNodeAffinity", n, 2 * n, [](int i, bool init) {
                 return NodeAffinityPod(fmt::format("{}-{}", init ? "init" : "m", i));
               }});
  // Nodes of 4 cpu filled by 4 low-priority pods each; measured high-priority pods preempt one.
  Workload pre{"PreemptionBasic", 4 * n, n / 2, [](int i, bool init) {
                 Json p = ks::testing::PodJson(fmt::format("{}-{}", init ? "low" : "high", i), "1",
                                               "100Mi");
                 p["spec"]["priority"] = init ? 0 : 10;
                 return p;
               }};
  pre.node_cpu_millis = 4000;
  w.push_back(pre);
  return w;
}

// The API as the informers would see it: a binding is confirmed at once.
class InstantApi : public ks::SchedulerApi {
 public:
  ks::Scheduler* s = nullptr;
  std::atomic<int64_t> bound{0};
  std::mutex mu;
  std::map<std::string, Clock::time_point> added;
  std::vector<double> latencies_ms;
  std::map<std::string, ks::PodInfoPtr> pods;

  absl::Status Bind(const ks::PodInfo& pod, const std::string& node) override {
    auto copy = std::make_shared<ks::PodInfo>(pod);
    copy->node_name = node;
    ks::PodInfoPtr assigned = copy;
    {
      std::lock_guard l(mu);
      auto it = added.find(pod.key);
      if (it != added.end()) {
        latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(Clock::now() - it->second).count());
      }
      pods[pod.key] = assigned;
    }
    s->OnPodUpdate(nullptr, assigned);
    bound++;
    return absl::OkStatus();
  }
  absl::Status DeletePod(const ks::PodInfo& pod) override {
    ks::PodInfoPtr p;
    {
      std::lock_guard l(mu);
      p = pods[pod.key];
      pods.erase(pod.key);
    }
    if (p) s->OnPodDelete(p);
    return absl::OkStatus();
  }
  absl::Status UpdatePodScheduledCondition(const ks::PodInfo&, const std::string&,
                                           const std::string&, const std::string*) override {
    return absl::OkStatus();
  }
  void RecordEvent(const ks::PodInfo&, const std::string&, const std::string&, const std::string&,
                   const std::string&) override {}
};

struct Result {
  double avg = 0, p50 = 0, p90 = 0, p99 = 0;
  double lat_p50 = 0, lat_p99 = 0;
  double seconds = 0;
  double rss = 0;
  int64_t bound = 0;
};

// Samples `counter` every second until it reaches `target` or `timeout` passes.
Result Measure(const std::function<int64_t()>& counter, int64_t base, int64_t target,
               std::chrono::seconds timeout) {
  Result r;
  auto start = Clock::now();
  std::vector<double> samples;
  int64_t last = counter();
  auto next = start + std::chrono::seconds(1);
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    int64_t now_count = counter();
    if (Clock::now() >= next) {
      samples.push_back(static_cast<double>(now_count - last));
      last = now_count;
      next += std::chrono::seconds(1);
    }
    if (now_count - base >= target || Clock::now() - start > timeout) break;
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.bound = counter() - base;
  r.avg = static_cast<double>(r.bound) / r.seconds;
  if (samples.empty()) samples.push_back(r.avg);
  r.p50 = Percentile(samples, 0.5);
  r.p90 = Percentile(samples, 0.9);
  r.p99 = Percentile(samples, 0.99);
  return r;
}

Result RunInProcess(const Workload& w, int nodes) {
  InstantApi api;
  ks::SchedulerOptions o;
  o.bind_workers = 1;
  o.seed = 1;
  auto s = std::move(*ks::Scheduler::New(std::move(o), &api));
  api.s = s.get();
  for (int i = 0; i < nodes; ++i) {
    Json n = Node(i, 10);
    n["status"]["allocatable"]["cpu"] = fmt::format("{}m", w.node_cpu_millis);
    s->OnNodeAdd(ks::MakeNode(n));
  }
  s->Start();
  for (int i = 0; i < w.init; ++i) s->OnPodAdd(ks::MakePod(w.pod(i, true)));
  auto init_res = Measure([&] { return api.bound.load(); }, 0, w.init, std::chrono::seconds(600));
  (void)init_res;
  std::vector<ks::PodInfoPtr> measured;
  for (int i = 0; i < w.measured; ++i) measured.push_back(ks::MakePod(w.pod(i, false)));
  int64_t base = api.bound.load();
  {
    std::lock_guard l(api.mu);
    api.latencies_ms.clear();
    auto now = Clock::now();
    for (const auto& p : measured) api.added[p->key] = now;
  }
  std::thread feeder([&] {
    for (const auto& p : measured) s->OnPodAdd(p);
  });
  Result r = Measure([&] { return api.bound.load(); }, base, w.measured, std::chrono::seconds(600));
  feeder.join();
  s->Stop();
  {
    std::lock_guard l(api.mu);
    r.lat_p50 = Percentile(api.latencies_ms, 0.5);
    r.lat_p99 = Percentile(api.latencies_ms, 0.99);
  }
  r.rss = RssMiB();
  return r;
}

void Print(const std::string& mode, const std::string& workload, int nodes, int init, int measured,
           const Result& r) {
  std::printf(
      "%-4s %-26s nodes=%-5d init=%-6d measured=%-6d bound=%-6lld pods/s avg=%7.0f p50=%7.0f "
      "p90=%7.0f p99=%7.0f  latency(ms) p50=%8.1f p99=%8.1f  time=%6.1fs rss=%.0fMiB\n",
      mode.c_str(), workload.c_str(), nodes, init, measured, static_cast<long long>(r.bound), r.avg,
      r.p50, r.p90, r.p99, r.lat_p50, r.lat_p99, r.seconds, r.rss);
  std::fflush(stdout);
}

// ---- end to end -----------------------------------------------------------------------------

bool ServerHasFlag(const std::string& korral, const std::string& flag) {
  std::string cmd = korral + " server --help 2>&1";
  FILE* f = popen(cmd.c_str(), "r");
  if (!f) return false;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), f)) > 0) out.append(buf, n);
  pclose(f);
  return out.find(flag) != std::string::npos;
}

pid_t StartServer(const std::string& korral, const std::string& dir, int port) {
  std::vector<std::string> args = {
      korral,      "server",        "--data-dir",         dir + "/data",    "--bind-address",
      "127.0.0.1", "--secure-port", std::to_string(port), "--disable-agent"};
  for (const char* f : {"--disable-scheduler", "--disable-controller-manager"}) {
    if (ServerHasFlag(korral, f)) args.push_back(f);
  }
  pid_t pid = fork();
  if (pid == 0) {
    std::string log = dir + "/server.log";
    FILE* f = std::freopen(log.c_str(), "w", stdout);
    (void)f;
    dup2(fileno(stdout), 2);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int RunE2E(const std::string& korral, int nodes, int pods, int creators, int event_workers,
           int bind_workers) {
  std::string dir = fmt::format("/tmp/korral-sched-bench-{}", getpid());
  std::filesystem::create_directories(dir);
  int port = 20000 + static_cast<int>(getpid() % 20000);
  pid_t pid = StartServer(korral, dir, port);
  std::string kubeconfig = dir + "/data/admin.kubeconfig";
  std::unique_ptr<korral::client::RestClient> client;
  for (int i = 0; i < 600 && !client; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!std::filesystem::exists(kubeconfig)) continue;
    auto cfg = korral::client::LoadKubeconfig(kubeconfig);
    if (!cfg.ok()) continue;
    cfg->qps = 0;
    auto c = korral::client::RestClient::New(*cfg);
    if (!c.ok()) continue;
    auto v = (*c)->Do("GET", "/readyz");
    if (v.ok() && v->status == 200) client = std::move(*c);
  }
  if (!client) {
    std::fprintf(stderr, "server did not start (see %s/server.log)\n", dir.c_str());
    kill(pid, SIGKILL);
    return 1;
  }
  auto parallel = [&](int count, const std::function<void(int)>& fn) {
    std::atomic<int> next{0};
    std::vector<std::thread> ts;
    for (int t = 0; t < creators; ++t) {
      ts.emplace_back([&] {
        for (int i = next++; i < count; i = next++) fn(i);
      });
    }
    for (auto& t : ts) t.join();
  };
  auto t0 = Clock::now();
  std::atomic<int> errors{0};
  parallel(nodes, [&](int i) {
    Json n = Node(i, 10);
    if (!client->Create(korral::client::resources::Nodes(), "", n).ok()) errors++;
    korral::client::PatchOptions po;
    po.subresource = "status";
    if (!client
             ->Patch(korral::client::resources::Nodes(), "",
                     n["metadata"]["name"].get<std::string>(), korral::client::PatchType::kMerge,
                     {{"status", n["status"]}}, po)
             .ok()) {
      errors++;
    }
  });
  parallel(pods, [&](int i) {
    if (!client
             ->Create(korral::client::resources::Pods(), "default",
                      BasicPod(fmt::format("p-{}", i)))
             .ok()) {
      errors++;
    }
  });
  std::printf("e2e setup: %d nodes + %d pods created in %.1fs (%d errors)\n", nodes, pods,
              std::chrono::duration<double>(Clock::now() - t0).count(), errors.load());
  // The scheduler, as `korral scheduler` runs it, in this process.
  auto cfg = korral::client::LoadKubeconfig(kubeconfig);
  cfg->qps = 0;
  auto sched_client = std::move(*korral::client::RestClient::New(*cfg));
  ks::SchedulerServerOptions so;
  so.config.profiles.push_back(ks::ProfileConfig{});
  so.config.leader_election.leader_elect = false;
  so.bind_workers = bind_workers;
  so.event_workers = event_workers;
  auto server = ks::SchedulerServer::New(*sched_client, so);
  if (!server.ok()) {
    std::fprintf(stderr, "scheduler: %s\n", server.status().ToString().c_str());
    kill(pid, SIGKILL);
    return 1;
  }
  // Count bindings as the apiserver reports them (a watch on pods).
  std::atomic<int64_t> bound{0};
  korral::client::WatchOptions wo;
  auto list = client->List(korral::client::resources::Pods(), "default");
  wo.resource_version = (*list)["metadata"].value("resourceVersion", "");
  auto watch = client->Watch(
      korral::client::resources::Pods(), "default", wo,
      [&](korral::client::WatchEvent e) {
        if (e.type == "MODIFIED" && e.object["spec"].contains("nodeName") &&
            !e.object["spec"]["nodeName"].get<std::string>().empty()) {
          // Only count the first time (status updates of bound pods come later).
          static thread_local std::set<std::string> seen;
          if (seen.insert(e.object["metadata"]["name"].get<std::string>()).second) bound++;
        }
      },
      [](absl::Status) {});
  auto start = Clock::now();
  if (!(*server)->Start().ok()) return 1;
  Result r = Measure([&] { return bound.load(); }, 0, pods, std::chrono::seconds(600));
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.rss = RssMiB();
  Print("e2e", "SchedulingBasic", nodes, 0, pods, r);
  auto stop_start = Clock::now();
  (*server)->Stop();  // writes the events still queued
  std::printf("e2e: scheduler stopped (queued events written) %.1fs after the last binding\n",
              std::chrono::duration<double>(Clock::now() - stop_start).count());
  if (watch.ok()) (*watch)->Stop();
  kill(pid, SIGTERM);
  int st = 0;
  waitpid(pid, &st, 0);
  std::filesystem::remove_all(dir);
  return 0;
}

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string x;
  while (std::getline(ss, x, ',')) {
    if (!x.empty()) out.push_back(x);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> node_counts = {500, 1000, 5000};
  std::vector<std::string> workloads;
  bool e2e = false, rss = false, in_process = true;
  std::string korral;
  int e2e_nodes = 5000, e2e_pods = 10000, creators = 16, event_workers = 2, bind_workers = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto val = [&](const char* p) -> std::string {
      return a.rfind(p, 0) == 0 ? a.substr(std::strlen(p)) : std::string();
    };
    if (auto v = val("--nodes="); !v.empty()) {
      node_counts.clear();
      for (auto& x : Split(v)) node_counts.push_back(std::atoi(x.c_str()));
    } else if (auto v2 = val("--workloads="); !v2.empty()) {
      workloads = Split(v2);
    } else if (auto v3 = val("--korral="); !v3.empty()) {
      korral = v3;
    } else if (auto v4 = val("--e2e-nodes="); !v4.empty()) {
      e2e_nodes = std::atoi(v4.c_str());
    } else if (auto v5 = val("--e2e-pods="); !v5.empty()) {
      e2e_pods = std::atoi(v5.c_str());
    } else if (auto v6 = val("--creators="); !v6.empty()) {
      creators = std::atoi(v6.c_str());
    } else if (auto v7 = val("--event-workers="); !v7.empty()) {
      event_workers = std::atoi(v7.c_str());
    } else if (auto v8 = val("--bind-workers="); !v8.empty()) {
      bind_workers = std::atoi(v8.c_str());
    } else if (a == "--e2e") {
      e2e = true;
    } else if (a == "--e2e-only") {
      e2e = true;
      in_process = false;
    } else if (a == "--rss") {
      rss = true;
    } else {
      std::fprintf(stderr,
                   "usage: scheduler_bench [--nodes=500,1000,5000] [--workloads=A,B] [--rss] "
                   "[--e2e|--e2e-only --korral=PATH --e2e-nodes=N --e2e-pods=N --creators=N "
                   "--event-workers=N (0: events written synchronously) --bind-workers=N]\n");
      return 2;
    }
  }
  if (in_process) {
    for (int n : node_counts) {
      for (const auto& w : Workloads(n)) {
        if (!workloads.empty() &&
            std::find(workloads.begin(), workloads.end(), w.name) == workloads.end()) {
          continue;
        }
        Result r = RunInProcess(w, n);
        Print("in", w.name, n, w.init, w.measured, r);
      }
    }
  }
  if (rss) {
    Workload w{"Rss5000x50000", 0, 50000,
               [](int i, bool) { return BasicPod(fmt::format("m-{}", i)); }};
    Result r = RunInProcess(w, 5000);
    Print("in", w.name, 5000, 0, 50000, r);
  }
  if (e2e) {
    if (korral.empty()) {
      std::fprintf(stderr, "--e2e needs --korral=PATH\n");
      return 2;
    }
    return RunE2E(korral, e2e_nodes, e2e_pods, creators, event_workers, bind_workers);
  }
  return 0;
}
