// Tests of the controller framework: the informer factory, --controllers matching, the manager's
// start/stop order, QueueWorker and the shared helpers.
#include <gtest/gtest.h>

#include <atomic>

#include "korral/controllers/controller_utils.h"
#include "korral/controllers/manager.h"
#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

TEST(InformerFactoryTest, SharesOneInformerPerResource) {
  client::FakeClient fake;
  auto f = NewInformerFactory(fake);
  auto* a = f->For(client::resources::Pods());
  auto* b = f->For(client::resources::Pods());
  auto* c = f->For(client::resources::Nodes());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  ASSERT_TRUE(fake.Create(client::resources::Pods(), "default",
                          {{"metadata", {{"name", "p"}}}, {"spec", Json::object()}})
                  .ok());
  f->Start();
  EXPECT_TRUE(f->WaitForCacheSync(std::chrono::seconds(5)));
  EXPECT_NE(a->indexer().Get("default/p"), nullptr);
  f->Stop();
}

TEST(InformerFactoryTest, MetadataInformersShareFullOnesAndStripEverythingElse) {
  client::FakeClient fake;
  const client::ResourceRef secrets{"", "v1", "secrets", true};
  ASSERT_TRUE(fake.Create(secrets, "default",
                          {{"metadata", {{"name", "s"}, {"labels", {{"a", "b"}}}}},
                           {"data", {{"k", "dg=="}}}})
                  .ok());
  ASSERT_TRUE(fake.Create(client::resources::Pods(), "default",
                          {{"metadata", {{"name", "p"}}}, {"spec", {{"nodeName", "n1"}}}})
                  .ok());
  client::InformerOptions o;
  o.transform = CompactCachedObject;
  auto f = NewInformerFactory(fake, o);
  // The garbage collector asks for metadata first; a later full request shares the informer.
  auto* meta_pods = f->ForMetadata(client::resources::Pods());
  auto* full_pods = f->For(client::resources::Pods());
  EXPECT_EQ(meta_pods, full_pods);
  EXPECT_EQ(f->ForMetadata(client::resources::Pods()), full_pods);
  auto* meta_secrets = f->ForMetadata(secrets);
  f->Start();
  ASSERT_TRUE(f->WaitForCacheSync(std::chrono::seconds(5)));
  auto s = meta_secrets->indexer().Get("default/s");
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->contains("data")) << s->dump();
  // Listed and watched as the metadata view (the server's PartialObjectMetadata), not cut down
  // from full objects.
  EXPECT_EQ((*s)["kind"], "PartialObjectMetadata");
  EXPECT_EQ((*s)["apiVersion"], "meta.k8s.io/v1");
  EXPECT_EQ((*s)["metadata"]["labels"]["a"], "b");
  EXPECT_FALSE((*s)["metadata"].value("uid", "").empty());
  auto p = full_pods->indexer().Get("default/p");
  ASSERT_NE(p, nullptr);
  EXPECT_EQ((*p)["spec"]["nodeName"], "n1");
  // A full request after the metadata informer started gets its own full informer.
  auto* full_secrets = f->For(secrets);
  EXPECT_NE(full_secrets, meta_secrets);
  EXPECT_EQ(f->For(secrets), full_secrets);
  f->Start();
  ASSERT_TRUE(f->WaitForCacheSync(std::chrono::seconds(5)));
  auto full = full_secrets->indexer().Get("default/s");
  ASSERT_NE(full, nullptr);
  EXPECT_EQ((*full)["data"]["k"], "dg==");
  f->Stop();
}

TEST(CompactCachedObjectTest, DropsManagedFieldsAndUnreadPodFields) {
  Json pod = Json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "d", "managedFields": [{"manager": "m"}],
                 "labels": {"app": "a"}, "generateName": "p-"},
    "spec": {
      "containers": [{"name": "c", "image": "i", "imagePullPolicy": "IfNotPresent",
                      "ports": [{"containerPort": 80, "name": "http"}],
                      "resources": {"requests": {"cpu": "1m"}},
                      "terminationMessagePath": "/dev/termination-log",
                      "terminationMessagePolicy": "File",
                      "volumeMounts": [{"name": "kube-api-access-x", "mountPath": "/var/run"}]}],
      "initContainers": [{"name": "i", "image": "i", "imagePullPolicy": "Always"}],
      "volumes": [{"name": "kube-api-access-x", "projected": {"sources": []}},
                  {"name": "data", "persistentVolumeClaim": {"claimName": "data-p"}}],
      "dnsPolicy": "ClusterFirst", "enableServiceLinks": true, "schedulerName": "default-scheduler",
      "preemptionPolicy": "PreemptLowerPriority", "securityContext": {},
      "serviceAccount": "default", "serviceAccountName": "default", "nodeName": "n1",
      "hostname": "h", "subdomain": "s", "terminationGracePeriodSeconds": 30, "priority": 0,
      "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                       "effect": "NoExecute", "tolerationSeconds": 300}]},
    "status": {"phase": "Running", "podIP": "10.0.0.1", "qosClass": "Burstable"}})");
  CompactCachedObject(pod);
  Json want = Json::parse(R"({
    "apiVersion": "v1", "kind": "Pod",
    "metadata": {"name": "p", "namespace": "d", "labels": {"app": "a"}},
    "spec": {
      "containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80, "name": "http"}],
                      "resources": {"requests": {"cpu": "1m"}}}],
      "initContainers": [{"name": "i", "image": "i"}],
      "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data-p"}}],
      "nodeName": "n1", "hostname": "h", "subdomain": "s", "terminationGracePeriodSeconds": 30,
      "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                       "effect": "NoExecute", "tolerationSeconds": 300}]},
    "status": {"phase": "Running", "podIP": "10.0.0.1"}})");
  EXPECT_EQ(pod, want) << pod.dump(1);
  // Other kinds only lose managedFields.
  Json cm = {{"apiVersion", "v1"},
             {"kind", "ConfigMap"},
             {"metadata", {{"name", "c"}, {"managedFields", Json::array()}}},
             {"data", {{"volumes", "x"}}}};
  CompactCachedObject(cm);
  EXPECT_FALSE(cm["metadata"].contains("managedFields"));
  EXPECT_EQ(cm["data"]["volumes"], "x");
  // A pod without a spec, or a non-object spec, is left alone.
  Json odd = {{"apiVersion", "v1"}, {"kind", "Pod"}, {"spec", 3}};
  CompactCachedObject(odd);
  EXPECT_EQ(odd["spec"], 3);
}

ControllerDescriptor D(std::string name, bool on = true, std::vector<std::string> aliases = {}) {
  ControllerDescriptor d;
  d.name = std::move(name);
  d.enabled_by_default = on;
  d.aliases = std::move(aliases);
  return d;
}

TEST(ControllersFlagTest, UpstreamSemantics) {
  auto ns = D("namespace-controller");
  auto gc = D("garbage-collector-controller", true, {"garbagecollector"});
  auto off = D("bootstrap-signer-controller", false);
  EXPECT_TRUE(IsControllerEnabled(ns, {"*"}));
  EXPECT_FALSE(IsControllerEnabled(off, {"*"}));
  EXPECT_TRUE(IsControllerEnabled(off, {"*", "bootstrap-signer-controller"}));
  EXPECT_FALSE(IsControllerEnabled(ns, {"*", "-namespace"}));
  EXPECT_FALSE(IsControllerEnabled(ns, {"*", "-namespace-controller"}));
  EXPECT_FALSE(IsControllerEnabled(gc, {"*", "-garbagecollector"}));
  EXPECT_FALSE(IsControllerEnabled(gc, {"*", "-garbage-collector"}));
  EXPECT_TRUE(IsControllerEnabled(ns, {"namespace"}));
  EXPECT_FALSE(IsControllerEnabled(gc, {"namespace"}));
  EXPECT_EQ(NormalizeControllerName("podgc"),
            NormalizeControllerName("pod-garbage-collector-controller"));
  EXPECT_EQ(NormalizeControllerName("endpoint"), NormalizeControllerName("endpoints-controller"));
  EXPECT_TRUE(ValidateControllersFlag({"*", "-namespace"}, {ns, gc}).ok());
  EXPECT_FALSE(ValidateControllersFlag({"*", "-nosuch"}, {ns, gc}).ok());
}

class RecordingController : public Controller {
 public:
  RecordingController(std::string name, std::vector<std::string>* log) : name_(name), log_(log) {}
  std::string_view Name() const override { return name_; }
  void Run(int) override { log_->push_back("run " + name_); }
  void Stop() override { log_->push_back("stop " + name_); }

 private:
  std::string name_;
  std::vector<std::string>* log_;
};

TEST(ControllerManagerTest, RunsEnabledControllersAfterSyncAndStopsInReverse) {
  client::FakeClient fake;
  std::vector<std::string> log;
  std::vector<ControllerDescriptor> ds;
  for (std::string n : {"a", "b", "c"}) {
    auto d = D(n);
    d.factory = [n, &log](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
      EXPECT_NE(ctx.client, nullptr);
      ctx.informers->For(client::resources::Pods());
      return std::make_unique<RecordingController>(n, &log);
    };
    ds.push_back(d);
  }
  ManagerConfig cfg;
  cfg.controllers = {"*", "-b"};
  auto m = ControllerManager::Start(fake, nullptr, cfg, ds);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ((*m)->Running(), (std::vector<std::string>{"a", "c"}));
  (*m)->Stop();
  (*m)->Stop();
  EXPECT_EQ(log, (std::vector<std::string>{"run a", "run c", "stop c", "stop a"}));

  cfg.controllers = {"*", "-zzz"};
  EXPECT_FALSE(ControllerManager::Start(fake, nullptr, cfg, ds).ok());
}

TEST(ControllerManagerTest, RegistryNamesAreUnique) {
  auto all = AllControllers();
  std::set<std::string> seen;
  for (const auto& d : all) {
    EXPECT_TRUE(seen.insert(NormalizeControllerName(d.name)).second) << d.name;
    EXPECT_TRUE(d.factory) << d.name;
  }
}

TEST(QueueWorkerTest, RetriesFailuresWithBackoffOnTheClock) {
  FakeClock clock;
  int calls = 0;
  QueueWorker w("t", clock, [&](const std::string&) {
    return ++calls < 3 ? absl::UnavailableError("x") : absl::OkStatus();
  });
  w.Add("k");
  EXPECT_EQ(w.ProcessAll(), 1);
  EXPECT_EQ(w.ProcessAll(), 0);  // waiting for its backoff
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(w.ProcessAll(), 1);
  clock.Advance(std::chrono::seconds(1));
  EXPECT_EQ(w.ProcessAll(), 1);
  EXPECT_EQ(calls, 3);
  EXPECT_EQ(w.queue().NumRequeues("k"), 0);
}

TEST(QueueWorkerTest, WorkersDrainTheQueue) {
  std::atomic<int> n{0};
  QueueWorker w("t", Clock::Real(), [&](const std::string&) {
    ++n;
    return absl::OkStatus();
  });
  w.Run(2);
  for (int i = 0; i < 50; ++i) w.Add("k" + std::to_string(i));
  EXPECT_TRUE(Eventually([&] { return n == 50; }));
  w.Stop();
}

TEST(UtilsTest, GoDurations) {
  EXPECT_EQ(*ParseGoDuration("40s"), std::chrono::seconds(40));
  EXPECT_EQ(*ParseGoDuration("1h30m"), std::chrono::minutes(90));
  EXPECT_EQ(*ParseGoDuration("500ms"), std::chrono::milliseconds(500));
  EXPECT_EQ(*ParseGoDuration("0"), std::chrono::milliseconds(0));
  EXPECT_FALSE(ParseGoDuration("10").ok());
  EXPECT_FALSE(ParseGoDuration("1x").ok());
}

TEST(UtilsTest, Selectors) {
  Json labels = {{"app", "web"}, {"tier", "fe"}};
  EXPECT_TRUE(LabelSelectorMatches({{"matchLabels", {{"app", "web"}}}}, labels));
  EXPECT_FALSE(LabelSelectorMatches({{"matchLabels", {{"app", "db"}}}}, labels));
  EXPECT_TRUE(LabelSelectorMatches(
      {{"matchExpressions", {{{"key", "tier"}, {"operator", "In"}, {"values", {"fe", "be"}}}}}},
      labels));
  EXPECT_FALSE(LabelSelectorMatches(
      {{"matchExpressions", {{{"key", "tier"}, {"operator", "DoesNotExist"}}}}}, labels));
  EXPECT_TRUE(LabelSelectorMatches(Json::object(), labels));
  EXPECT_FALSE(LabelSelectorMatches(Json::object(), labels, false));
  EXPECT_TRUE(MapSelectorMatches({{"app", "web"}}, labels));
  EXPECT_FALSE(MapSelectorMatches(Json::object(), labels));
}

TEST(UtilsTest, ExpectationsExpireOnTheClock) {
  FakeClock clock;
  Expectations e(clock);
  e.ExpectCreations("k", 2);
  EXPECT_FALSE(e.Satisfied("k"));
  e.CreationObserved("k");
  EXPECT_FALSE(e.Satisfied("k"));
  clock.Advance(std::chrono::minutes(6));
  EXPECT_TRUE(e.Satisfied("k"));
  e.ExpectDeletions("k", 1);
  e.DeletionObserved("k");
  EXPECT_TRUE(e.Satisfied("k"));
}

}  // namespace
}  // namespace korral::controllers
