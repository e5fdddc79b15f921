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
