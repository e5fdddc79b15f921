// Placement tests per plugin, table-driven, from upstream's documented behaviour
// (kubernetes.io/docs/concepts/scheduling-eviction/* and the plugins' unit tests' expectations).
// Each case feeds nodes and existing pods into a Scheduler (no API; a recording fake), schedules
// one pod, and checks the chosen node or the FailedScheduling message.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "korral/scheduler/config.h"
#include "korral/scheduler/scheduler.h"
#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

using testing::NodeJson;
using testing::PodJson;

class RecordingApi : public SchedulerApi {
 public:
  absl::Status Bind(const PodInfo& pod, const std::string& node) override {
    std::lock_guard l(mu);
    bound[pod.key] = node;
    return absl::OkStatus();
  }
  absl::Status DeletePod(const PodInfo& pod) override {
    std::lock_guard l(mu);
    deleted.push_back(pod.key);
    return absl::OkStatus();
  }
  absl::Status UpdatePodScheduledCondition(const PodInfo& pod, const std::string& reason,
                                           const std::string& message,
                                           const std::string* nominated) override {
    std::lock_guard l(mu);
    if (!reason.empty()) conditions[pod.key] = reason + ": " + message;
    if (nominated) this->nominated[pod.key] = *nominated;
    return absl::OkStatus();
  }
  void RecordEvent(const PodInfo& pod, const std::string& type, const std::string& reason,
                   const std::string&, const std::string& message) override {
    std::lock_guard l(mu);
    events.push_back(type + " " + reason + " " + pod.key + ": " + message);
    last_message[pod.key] = message;
  }
  std::mutex mu;
  std::map<std::string, std::string> bound, conditions, nominated, last_message;
  std::vector<std::string> deleted, events;
};

struct Env {
  RecordingApi api;
  std::unique_ptr<Scheduler> s;
  explicit Env(std::vector<ProfileConfig> profiles = {}) {
    SchedulerOptions o;
    o.profiles = std::move(profiles);
    o.bind_workers = 0;
    o.seed = 42;
    auto r = Scheduler::New(std::move(o), &api);
    EXPECT_TRUE(r.ok()) << r.status();
    s = std::move(*r);
  }
  void Node(const Json& n) { s->OnNodeAdd(MakeNode(n)); }
  // An existing pod bound to `node`.
  void Existing(Json p, const std::string& node) {
    p["spec"]["nodeName"] = node;
    s->OnPodAdd(MakePod(p));
  }
  // Schedules `p`; returns the node or "" (then `message` holds the FailedScheduling text).
  std::string Schedule(const Json& p, std::string* message = nullptr) {
    PodInfoPtr pod = MakePod(p);
    EXPECT_NE(pod, nullptr);
    s->OnPodAdd(pod);
    s->ScheduleOne(std::chrono::milliseconds(10));
    std::lock_guard l(api.mu);
    if (message) *message = api.last_message[pod->key];
    auto it = api.bound.find(pod->key);
    return it == api.bound.end() ? "" : it->second;
  }
};

Json WithNodeSelector(Json p, std::map<std::string, std::string> sel) {
  p["spec"]["nodeSelector"] = sel;
  return p;
}

TEST(NodeResourcesFit, PicksNodeWithRoom) {
  Env e;
  e.Node(NodeJson("small", "1", "1Gi"));
  e.Node(NodeJson("big", "4", "8Gi"));
  EXPECT_EQ(e.Schedule(PodJson("p", "2", "1Gi")), "big");
}

TEST(NodeResourcesFit, InitContainersAndOverheadCount) {
  Env e;
  e.Node(NodeJson("n1", "2", "8Gi"));
  Json p = PodJson("p", "500m");
  p["spec"]["initContainers"] = Json::array(
      {{{"name", "init"}, {"image", "x"}, {"resources", {{"requests", {{"cpu", "3"}}}}}}});
  std::string msg;
  EXPECT_EQ(e.Schedule(p, &msg), "");
  EXPECT_EQ(msg,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 "
            "No preemption victims found for incoming pod..");
  Env e2;
  e2.Node(NodeJson("n1", "2", "8Gi"));
  Json q = PodJson("q", "1500m");
  q["spec"]["overhead"] = {{"cpu", "600m"}};
  EXPECT_EQ(e2.Schedule(q, &msg), "");
  Json r = PodJson("r", "1400m");
  r["spec"]["overhead"] = {{"cpu", "600m"}};
  EXPECT_EQ(e2.Schedule(r), "n1");
}

TEST(NodeResourcesFit, ExtendedResourcesAndPodCount) {
  Env e;
  Json gpu = NodeJson("gpu", "4", "8Gi");
  gpu["status"]["allocatable"]["example.com/gpu"] = "2";
  e.Node(gpu);
  e.Node(NodeJson("plain", "4", "8Gi", {}, 1));
  e.Existing(PodJson("x"), "plain");
  Json p = PodJson("p", "1");
  p["spec"]["containers"][0]["resources"]["limits"] = {{"example.com/gpu", "3"}};
  std::string msg;
  EXPECT_EQ(e.Schedule(p, &msg), "");
  EXPECT_NE(msg.find("0/2 nodes are available: 1 Too many pods, 2 Insufficient example.com/gpu."),
            std::string::npos)
      << msg;
  Json q = PodJson("q", "1");
  q["spec"]["containers"][0]["resources"]["limits"] = {{"example.com/gpu", "2"}};
  EXPECT_EQ(e.Schedule(q), "gpu");
}

TEST(NodeResourcesFit, LeastAllocatedSpreadsMostAllocatedPacks) {
  Env e;
  e.Node(NodeJson("busy", "4", "8Gi"));
  e.Node(NodeJson("idle", "4", "8Gi"));
  e.Existing(PodJson("x", "3", "6Gi"), "busy");
  EXPECT_EQ(e.Schedule(PodJson("p", "500m", "512Mi")), "idle");

  auto cfg = ParseSchedulerConfiguration(R"(
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources: [{name: cpu, weight: 1}, {name: memory, weight: 1}]
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
)");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  Env m(cfg->profiles);
  m.Node(NodeJson("busy", "4", "8Gi"));
  m.Node(NodeJson("idle", "4", "8Gi"));
  m.Existing(PodJson("x", "3", "6Gi"), "busy");
  EXPECT_EQ(m.Schedule(PodJson("p", "500m", "512Mi")), "busy");
}

TEST(NodeResourcesFit, RequestedToCapacityRatio) {
  auto cfg = ParseSchedulerConfiguration(R"(
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: RequestedToCapacityRatio
        resources: [{name: cpu, weight: 1}]
        requestedToCapacityRatio:
          shape: [{utilization: 0, score: 0}, {utilization: 100, score: 10}]
  plugins:
    score:
      disabled: [{name: NodeResourcesBalancedAllocation}]
)");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  Env m(cfg->profiles);
  m.Node(NodeJson("busy", "4", "8Gi"));
  m.Node(NodeJson("idle", "4", "8Gi"));
  m.Existing(PodJson("x", "2"), "busy");
  EXPECT_EQ(m.Schedule(PodJson("p", "1")), "busy");  // bin packing shape
}

TEST(NodeAffinity, NodeSelectorAndMessage) {
  Env e;
  e.Node(NodeJson("a", "1", "8Gi", {{"disk", "hdd"}}));
  e.Node(NodeJson("b", "8", "8Gi", {{"disk", "hdd"}}));
  e.Node(NodeJson("c", "1", "8Gi", {{"disk", "ssd"}}));
  EXPECT_EQ(e.Schedule(WithNodeSelector(PodJson("p", "500m"), {{"disk", "ssd"}})), "c");
  std::string msg;
  EXPECT_EQ(e.Schedule(WithNodeSelector(PodJson("q", "2"), {{"disk", "ssd"}}), &msg), "");
  EXPECT_EQ(msg,
            "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
            "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims "
            "found for incoming pod, 2 Preemption is not helpful for scheduling..");
}

TEST(NodeAffinity, RequiredAndPreferredTerms) {
  struct Case {
    const char* name;
    Json affinity;
    std::string want;
  };
  Json in_zone = {{"requiredDuringSchedulingIgnoredDuringExecution",
                   {{"nodeSelectorTerms",
                     {{{"matchExpressions",
                        {{{"key", "zone"}, {"operator", "In"}, {"values", {"z2", "z3"}}}}}}}}}}};
  Json not_in = {{"requiredDuringSchedulingIgnoredDuringExecution",
                  {{"nodeSelectorTerms",
                    {{{"matchExpressions",
                       {{{"key", "zone"}, {"operator", "NotIn"}, {"values", {"z1", "z2"}}}}}}}}}}};
  Json gt = {
      {"requiredDuringSchedulingIgnoredDuringExecution",
       {{"nodeSelectorTerms",
         {{{"matchExpressions", {{{"key", "cores"}, {"operator", "Gt"}, {"values", {"16"}}}}}}}}}}};
  Json by_name = {{"requiredDuringSchedulingIgnoredDuringExecution",
                   {{"nodeSelectorTerms",
                     {{{"matchFields",
                        {{{"key", "metadata.name"}, {"operator", "In"}, {"values", {"n1"}}}}}}}}}}};
  Json preferred = {
      {"preferredDuringSchedulingIgnoredDuringExecution",
       {{{"weight", 10},
         {"preference",
          {{"matchExpressions", {{{"key", "zone"}, {"operator", "In"}, {"values", {"z3"}}}}}}}}}}};
  std::vector<Case> cases = {{"In", in_zone, "n2|n3"},
                             {"NotIn", not_in, "n3"},
                             {"Gt", gt, "n3"},
                             {"matchFields", by_name, "n1"},
                             {"preferred", preferred, "n3"}};
  for (const auto& c : cases) {
    Env e;
    e.Node(NodeJson("n1", "4", "8Gi", {{"zone", "z1"}, {"cores", "8"}}));
    e.Node(NodeJson("n2", "4", "8Gi", {{"zone", "z2"}, {"cores", "16"}}));
    e.Node(NodeJson("n3", "4", "8Gi", {{"zone", "z3"}, {"cores", "32"}}));
    Json p = PodJson("p", "100m");
    p["spec"]["affinity"] = {{"nodeAffinity", c.affinity}};
    std::string got = e.Schedule(p);
    EXPECT_NE(std::string(c.want).find(got), std::string::npos) << c.name << " got " << got;
    EXPECT_FALSE(got.empty()) << c.name;
  }
}

TEST(TaintToleration, FilterAndPreferNoSchedule) {
  Env e;
  Json tainted = NodeJson("gpu", "8", "8Gi");
  tainted["spec"]["taints"] = {{{"key", "dedicated"}, {"value", "gpu"}, {"effect", "NoSchedule"}}};
  e.Node(tainted);
  std::string msg;
  EXPECT_EQ(e.Schedule(PodJson("p", "100m"), &msg), "");
  EXPECT_EQ(msg,
            "0/1 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}. "
            "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..");
  Json tol = PodJson("q", "100m");
  tol["spec"]["tolerations"] = {
      {{"key", "dedicated"}, {"operator", "Equal"}, {"value", "gpu"}, {"effect", "NoSchedule"}}};
  EXPECT_EQ(e.Schedule(tol), "gpu");

  Env f;
  Json soft = NodeJson("soft", "8", "8Gi");
  soft["spec"]["taints"] = {{{"key", "k"}, {"value", "v"}, {"effect", "PreferNoSchedule"}}};
  f.Node(soft);
  f.Node(NodeJson("clean", "8", "8Gi"));
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(f.Schedule(PodJson("p" + std::to_string(i), "100m")), "clean");
  }
}

TEST(NodeUnschedulableAndNodePorts, Filters) {
  Env e;
  Json cordoned = NodeJson("cordoned", "8", "8Gi");
  cordoned["spec"]["unschedulable"] = true;
  e.Node(cordoned);
  e.Node(NodeJson("open", "8", "8Gi"));
  Json web = PodJson("web", "100m");
  web["spec"]["containers"][0]["ports"] = {{{"containerPort", 80}, {"hostPort", 8080}}};
  e.Existing(web, "open");
  Json p = PodJson("p", "100m");
  p["spec"]["containers"][0]["ports"] = {{{"containerPort", 80}, {"hostPort", 8080}}};
  std::string msg;
  EXPECT_EQ(e.Schedule(p, &msg), "");
  EXPECT_NE(msg.find("1 node(s) didn't have free ports for the requested pod ports, 1 node(s) "
                     "were unschedulable."),
            std::string::npos)
      << msg;
  Json udp = PodJson("udp", "100m");
  udp["spec"]["containers"][0]["ports"] = {
      {{"containerPort", 80}, {"hostPort", 8080}, {"protocol", "UDP"}}};
  EXPECT_EQ(e.Schedule(udp), "open");
}

Json PodAffinity(const std::string& kind, bool required, std::map<std::string, std::string> match,
                 const std::string& topology, int weight = 0) {
  Json term = {{"labelSelector", {{"matchLabels", match}}}, {"topologyKey", topology}};
  Json block;
  if (required) {
    block["requiredDuringSchedulingIgnoredDuringExecution"] = Json::array({term});
  } else {
    block["preferredDuringSchedulingIgnoredDuringExecution"] =
        Json::array({{{"weight", weight}, {"podAffinityTerm", term}}});
  }
  return {{kind, block}};
}

TEST(InterPodAffinity, RequiredAffinityAndAntiAffinity) {
  auto env = [] {
    auto e = std::make_unique<Env>();
    e->Node(NodeJson("a1", "8", "8Gi", {{"zone", "a"}}));
    e->Node(NodeJson("a2", "8", "8Gi", {{"zone", "a"}}));
    e->Node(NodeJson("b1", "8", "8Gi", {{"zone", "b"}}));
    e->Existing(PodJson("db", "100m", "", {{"app", "db"}}), "a1");
    return e;
  };
  {
    auto e = env();
    Json p = PodJson("web", "100m", "", {{"app", "web"}});
    p["spec"]["affinity"] =
        PodAffinity("podAffinity", true, {{"app", "db"}}, "kubernetes.io/hostname");
    EXPECT_EQ(e->Schedule(p), "a1");
  }
  {
    auto e = env();
    Json p = PodJson("web", "100m", "", {{"app", "web"}});
    p["spec"]["affinity"] = PodAffinity("podAffinity", true, {{"app", "db"}}, "zone");
    std::string got = e->Schedule(p);
    EXPECT_TRUE(got == "a1" || got == "a2") << got;
  }
  {
    auto e = env();
    Json p = PodJson("web", "100m", "", {{"app", "web"}});
    p["spec"]["affinity"] = PodAffinity("podAntiAffinity", true, {{"app", "db"}}, "zone");
    EXPECT_EQ(e->Schedule(p), "b1");
  }
  {
    // No pod matches anywhere: affinity fails everywhere (and the pod does not match itself).
    auto e = env();
    Json p = PodJson("web", "100m", "", {{"app", "web"}});
    p["spec"]["affinity"] = PodAffinity("podAffinity", true, {{"app", "cache"}}, "zone");
    std::string msg;
    EXPECT_EQ(e->Schedule(p, &msg), "");
    EXPECT_NE(msg.find("3 node(s) didn't match pod affinity rules"), std::string::npos) << msg;
  }
  {
    // The first pod of a self-affine group may go anywhere.
    auto e = env();
    Json p = PodJson("c1", "100m", "", {{"app", "cache"}});
    p["spec"]["affinity"] = PodAffinity("podAffinity", true, {{"app", "cache"}}, "zone");
    EXPECT_NE(e->Schedule(p), "");
  }
  {
    // An existing pod's anti-affinity repels the incoming pod from its zone.
    auto e = env();
    Json lonely = PodJson("lonely", "100m", "", {{"app", "lonely"}});
    lonely["spec"]["affinity"] = PodAffinity("podAntiAffinity", true, {{"app", "web"}}, "zone");
    e->Existing(lonely, "b1");
    Json p = PodJson("web", "100m", "", {{"app", "web"}});
    std::string got = e->Schedule(p);
    EXPECT_TRUE(got == "a1" || got == "a2") << got;
  }
}

TEST(InterPodAffinity, NamespacesAndPreferred) {
  Env e;
  e.Node(NodeJson("n1", "8", "8Gi"));
  e.Node(NodeJson("n2", "8", "8Gi"));
  e.s->OnNamespace("other", {{"team", "x"}}, false);
  e.Existing(PodJson("db", "100m", "", {{"app", "db"}}, "other"), "n2");
  // Same-namespace term does not see the pod in "other".
  Json p = PodJson("p", "100m", "", {{"app", "web"}});
  p["spec"]["affinity"] =
      PodAffinity("podAffinity", true, {{"app", "db"}}, "kubernetes.io/hostname");
  EXPECT_EQ(e.Schedule(p), "");
  Json q = PodJson("q", "100m", "", {{"app", "web"}});
  q["spec"]["affinity"] =
      PodAffinity("podAffinity", true, {{"app", "db"}}, "kubernetes.io/hostname");
  q["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]
   ["namespaceSelector"] = {{"matchLabels", {{"team", "x"}}}};
  EXPECT_EQ(e.Schedule(q), "n2");
  Json r = PodJson("r", "100m", "", {{"app", "web"}});
  r["spec"]["affinity"] =
      PodAffinity("podAntiAffinity", false, {{"app", "db"}}, "kubernetes.io/hostname", 100);
  r["spec"]["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]
   ["podAffinityTerm"]["namespaces"] = {"other"};
  EXPECT_EQ(e.Schedule(r), "n1");
}

Json Spread(int skew, const std::string& key, bool hard, std::map<std::string, std::string> m) {
  return {{"maxSkew", skew},
          {"topologyKey", key},
          {"whenUnsatisfiable", hard ? "DoNotSchedule" : "ScheduleAnyway"},
          {"labelSelector", {{"matchLabels", m}}}};
}

TEST(PodTopologySpread, HardAndSoft) {
  Env e;
  e.Node(NodeJson("a1", "8", "8Gi", {{"zone", "a"}}));
  e.Node(NodeJson("a2", "8", "8Gi", {{"zone", "a"}}));
  e.Node(NodeJson("b1", "8", "8Gi", {{"zone", "b"}}));
  e.Existing(PodJson("x1", "100m", "", {{"app", "s"}}), "a1");
  e.Existing(PodJson("x2", "100m", "", {{"app", "s"}}), "a2");
  Json p = PodJson("p", "100m", "", {{"app", "s"}});
  p["spec"]["topologySpreadConstraints"] = {Spread(1, "zone", true, {{"app", "s"}})};
  EXPECT_EQ(e.Schedule(p), "b1");
  // Now zone a: 2, zone b: 1. Another pod with maxSkew 1 can go to b only.
  Json q = PodJson("q", "100m", "", {{"app", "s"}});
  q["spec"]["topologySpreadConstraints"] = {Spread(1, "zone", true, {{"app", "s"}})};
  EXPECT_EQ(e.Schedule(q), "b1");
  // A node without the topology label is unresolvable.
  e.Node(NodeJson("nolabel", "8", "8Gi"));
  Json r = PodJson("r", "100m", "", {{"app", "s"}});
  r["spec"]["topologySpreadConstraints"] = {Spread(1, "zone", true, {{"app", "s"}})};
  r["spec"]["nodeSelector"] = {{"kubernetes.io/hostname", "nolabel"}};
  std::string msg;
  EXPECT_EQ(e.Schedule(r, &msg), "");
  EXPECT_NE(
      msg.find("1 node(s) didn't match pod topology spread constraints (missing required label)"),
      std::string::npos)
      << msg;
  // Soft: prefers the emptier host.
  Env f;
  f.Node(NodeJson("h1", "8", "8Gi"));
  f.Node(NodeJson("h2", "8", "8Gi"));
  f.Existing(PodJson("y1", "100m", "", {{"app", "t"}}), "h1");
  Json s = PodJson("s", "100m", "", {{"app", "t"}});
  s["spec"]["topologySpreadConstraints"] = {
      Spread(1, "kubernetes.io/hostname", false, {{"app", "t"}})};
  EXPECT_EQ(f.Schedule(s), "h2");
}

TEST(PodTopologySpread, MinDomainsAndSystemDefaults) {
  Env e;
  e.Node(NodeJson("a1", "8", "8Gi", {{"zone", "a"}}));
  e.Node(NodeJson("b1", "8", "8Gi", {{"zone", "b"}}));
  e.Existing(PodJson("x1", "100m", "", {{"app", "m"}}), "a1");
  e.Existing(PodJson("x2", "100m", "", {{"app", "m"}}), "b1");
  // minDomains 3 > 2 domains: the global minimum is 0, so a skew of 1 + 1 - 0 > 1 fails.
  Json p = PodJson("p", "100m", "", {{"app", "m"}});
  Json c = Spread(1, "zone", true, {{"app", "m"}});
  c["minDomains"] = 3;
  p["spec"]["topologySpreadConstraints"] = {c};
  std::string msg;
  EXPECT_EQ(e.Schedule(p, &msg), "");
  EXPECT_NE(msg.find("2 node(s) didn't match pod topology spread constraints"), std::string::npos)
      << msg;

  // System defaults spread pods selected by a Service across hosts.
  Env f;
  f.Node(NodeJson("h1", "8", "8Gi"));
  f.Node(NodeJson("h2", "8", "8Gi"));
  f.s->SetDefaultSelectorsFunc([](const PodInfo& pod) {
    LabelSelector sel;
    sel.requirements.push_back({"svc", SelectorOp::kIn, {"web"}});
    return sel.Matches(pod.labels) ? std::vector<LabelSelector>{sel} : std::vector<LabelSelector>{};
  });
  f.Existing(PodJson("w1", "100m", "", {{"svc", "web"}}), "h1");
  f.Existing(PodJson("w2", "100m", "", {{"svc", "web"}}), "h1");
  EXPECT_EQ(f.Schedule(PodJson("w3", "100m", "", {{"svc", "web"}})), "h2");
}

TEST(ImageLocality, PrefersNodeWithImage) {
  Env e;
  Json with = NodeJson("with", "8", "8Gi");
  with["status"]["images"] = {
      {{"names", {"example.com/big:1"}}, {"sizeBytes", 800LL * 1024 * 1024}}};
  e.Node(with);
  e.Node(NodeJson("without", "8", "8Gi"));
  Json p = PodJson("p", "100m");
  p["spec"]["containers"][0]["image"] = "example.com/big:1";
  EXPECT_EQ(e.Schedule(p), "with");
}

TEST(DefaultPreemption, EvictsLowerPriorityAndNominates) {
  Env e;
  e.Node(NodeJson("n1", "2", "8Gi"));
  Json low = PodJson("low", "1500m");
  low["spec"]["priority"] = 10;
  e.Existing(low, "n1");
  Json high = PodJson("high", "1");
  high["spec"]["priority"] = 1000;
  std::string msg;
  EXPECT_EQ(e.Schedule(high, &msg), "");
  EXPECT_EQ(e.api.deleted, std::vector<std::string>{"default/low"});
  EXPECT_EQ(e.api.nominated["default/high"], "n1");
  EXPECT_EQ(msg, "0/1 nodes are available: 1 Insufficient cpu.");
  // Same-priority pods are never victims; preemptionPolicy Never never preempts.
  Env f;
  f.Node(NodeJson("n1", "2", "8Gi"));
  f.Existing(PodJson("peer", "1500m"), "n1");
  Json never = PodJson("never", "1");
  never["spec"]["priority"] = 1000;
  never["spec"]["preemptionPolicy"] = "Never";
  EXPECT_EQ(f.Schedule(never, &msg), "");
  EXPECT_EQ(msg,
            "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to "
            "preemptionPolicy=Never..");
  EXPECT_TRUE(f.api.deleted.empty());
}

TEST(DefaultPreemption, RespectsPdbAndPicksFewestVictims) {
  Env e;
  e.Node(NodeJson("n1", "2", "8Gi"));
  e.Node(NodeJson("n2", "2", "8Gi"));
  Json a = PodJson("guarded", "1500m", "", {{"app", "guarded"}});
  a["spec"]["priority"] = 1;
  e.Existing(a, "n1");
  Json b = PodJson("free", "1500m", "", {{"app", "free"}});
  b["spec"]["priority"] = 1;
  e.Existing(b, "n2");
  PdbInfo pdb;
  pdb.ns = "default";
  pdb.name = "pdb";
  pdb.selector.requirements.push_back({"app", SelectorOp::kIn, {"guarded"}});
  pdb.disruptions_allowed = 0;
  e.s->OnPdb("default/pdb", pdb);
  Json high = PodJson("high", "1");
  high["spec"]["priority"] = 100;
  e.Schedule(high);
  EXPECT_EQ(e.api.deleted, std::vector<std::string>{"default/free"});
  EXPECT_EQ(e.api.nominated["default/high"], "n2");
}

TEST(Queue, SchedulingGatesAndOtherSchedulers) {
  Env e;
  e.Node(NodeJson("n1", "8", "8Gi"));
  Json gated = PodJson("gated", "100m");
  gated["spec"]["schedulingGates"] = {{{"name", "example.com/wait"}}};
  EXPECT_EQ(e.Schedule(gated), "");
  EXPECT_EQ(e.s->queue().Len().gated, 1u);
  Json other = PodJson("other", "100m");
  other["spec"]["schedulerName"] = "my-scheduler";
  EXPECT_EQ(e.Schedule(other), "");
  EXPECT_FALSE(e.s->queue().Has("default/other"));
  // Removing the gate lets it schedule.
  Json ungated = PodJson("gated", "100m");
  e.s->OnPodUpdate(MakePod(gated), MakePod(ungated));
  e.s->ScheduleOne(std::chrono::milliseconds(10));
  EXPECT_EQ(e.api.bound["default/gated"], "n1");
}

TEST(Events, ScheduledMessage) {
  Env e;
  e.Node(NodeJson("n1", "8", "8Gi"));
  EXPECT_EQ(e.Schedule(PodJson("p", "100m")), "n1");
  ASSERT_FALSE(e.api.events.empty());
  EXPECT_EQ(e.api.events.back(),
            "Normal Scheduled default/p: Successfully assigned default/p to n1");
}

TEST(Requeue, NodeAddMovesUnschedulablePod) {
  SchedulerOptions o;
  o.bind_workers = 0;
  FakeClock clock;
  o.clock = &clock;
  RecordingApi api;
  auto s = std::move(*Scheduler::New(std::move(o), &api));
  s->OnNodeAdd(MakeNode(NodeJson("small", "1", "1Gi")));
  s->OnPodAdd(MakePod(PodJson("p", "2")));
  s->ScheduleOne(std::chrono::milliseconds(10));
  EXPECT_EQ(s->queue().Len().unschedulable, 1u);
  // An unrelated event (namespace) does not move it; a node add does.
  s->OnNamespace("x", {}, false);
  EXPECT_EQ(s->queue().Len().unschedulable, 1u);
  s->OnNodeAdd(MakeNode(NodeJson("big", "4", "8Gi")));
  auto c = s->queue().Len();
  EXPECT_EQ(c.unschedulable, 0u);
  EXPECT_EQ(c.backoff, 1u);  // still backing off (1s after the first attempt)
  clock.Advance(std::chrono::seconds(2));
  s->ScheduleOne(std::chrono::milliseconds(10));
  EXPECT_EQ(api.bound["default/p"], "big");
}

}  // namespace
}  // namespace korral::scheduler
