// Tests of the endpoints controller.
#include "korral/controllers/endpoints/endpoints_controller.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Endpoints;
using client::resources::Pods;
using client::resources::Services;

Json Pod(const std::string& name, const std::string& ip, bool ready,
         Json labels = {{"app", "web"}}) {
  Json p = {{"metadata", {{"name", name}, {"labels", labels}}},
            {"spec",
             {{"nodeName", "n1"},
              {"containers",
               {{{"name", "c"}, {"ports", {{{"name", "http"}, {"containerPort", 8080}}}}}}}}},
            {"status", {{"phase", "Running"}}}};
  if (!ip.empty()) p["status"]["podIP"] = ip;
  p["status"]["conditions"] = {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}};
  return p;
}

Json Service(const std::string& name, Json selector) {
  Json s = {
      {"metadata", {{"name", name}, {"labels", {{"team", "a"}}}}},
      {"spec",
       {{"ports",
         {{{"name", "http"}, {"port", 80}, {"targetPort", "http"}, {"protocol", "TCP"}},
          {{"name", "metrics"}, {"port", 9090}, {"targetPort", 9090}, {"protocol", "TCP"}}}}}}};
  if (!selector.is_null()) s["spec"]["selector"] = selector;
  return s;
}

TEST(EndpointsControllerTest, ReadyAndNotReadyPodsWithPortsByName) {
  ControllerTestEnv env;
  EndpointsController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  ASSERT_TRUE(env.client.Create(Services(), "default", Service("web", {{"app", "web"}})).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("a", "10.0.0.2", true)).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("b", "10.0.0.1", false)).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("noip", "", true)).ok());
  ASSERT_TRUE(
      env.client.Create(Pods(), "default", Pod("other", "10.0.0.9", true, {{"app", "db"}})).ok());
  Json done = Pod("done", "10.0.0.7", false);
  done["status"]["phase"] = "Succeeded";
  ASSERT_TRUE(env.client.Create(Pods(), "default", done).ok());
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    return env.client.Get(Endpoints(), "default", "web").ok();
  }));
  Json ep = *env.client.Get(Endpoints(), "default", "web");
  ASSERT_EQ(ep["subsets"].size(), 1u) << ep.dump();
  Json s = ep["subsets"][0];
  ASSERT_EQ(s["addresses"].size(), 1u);
  EXPECT_EQ(s["addresses"][0]["ip"], "10.0.0.2");
  EXPECT_EQ(s["addresses"][0]["targetRef"]["name"], "a");
  EXPECT_EQ(s["addresses"][0]["nodeName"], "n1");
  ASSERT_EQ(s["notReadyAddresses"].size(), 1u);
  EXPECT_EQ(s["notReadyAddresses"][0]["ip"], "10.0.0.1");
  ASSERT_EQ(s["ports"].size(), 2u);
  EXPECT_EQ(s["ports"][0], Json({{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}));
  EXPECT_EQ(s["ports"][1], Json({{"name", "metrics"}, {"port", 9090}, {"protocol", "TCP"}}));
  EXPECT_EQ(ep["metadata"]["labels"]["team"], "a");

  // b becomes ready: moves to addresses.
  Json b = *env.client.Get(Pods(), "default", "b");
  b["status"]["conditions"][0]["status"] = "True";
  ASSERT_TRUE(env.client.UpdateStatus(Pods(), "default", b).ok());
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    auto e = env.client.Get(Endpoints(), "default", "web");
    return e.ok() && (*e)["subsets"][0]["addresses"].size() == 2;
  })) << env.client.Get(Endpoints(), "default", "web")->dump();
  // Service deleted: Endpoints deleted.
  ASSERT_TRUE(env.client.Delete(Services(), "default", "web").ok());
  EXPECT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    return !env.client.Get(Endpoints(), "default", "web").ok();
  }));
}

TEST(EndpointsControllerTest, PodsWithoutANamedPortAreLeftOutOfThatPort) {
  Json svc = Service("web", {{"app", "web"}});
  svc["metadata"]["namespace"] = "default";
  Json p1 = Pod("a", "10.0.0.1", true);
  Json p2 = Pod("b", "10.0.0.2", true);
  p2["spec"]["containers"][0]["ports"] = Json::array();
  p1["metadata"]["namespace"] = p2["metadata"]["namespace"] = "default";
  Json subsets = EndpointsController::ComputeSubsets(
      svc, {std::make_shared<const Json>(p1), std::make_shared<const Json>(p2)});
  ASSERT_EQ(subsets.size(), 2u) << subsets.dump();
  // One subset with both ports (a), one with only the numeric port (b).
  int both = 0, one = 0;
  for (const auto& s : subsets) {
    if (s["ports"].size() == 2) {
      ++both;
      EXPECT_EQ(s["addresses"][0]["ip"], "10.0.0.1");
    }
    if (s["ports"].size() == 1) {
      ++one;
      EXPECT_EQ(s["addresses"][0]["ip"], "10.0.0.2");
    }
  }
  EXPECT_EQ(both, 1);
  EXPECT_EQ(one, 1);
}

TEST(EndpointsControllerTest, SelectorlessServicesAreUntouched) {
  ControllerTestEnv env;
  EndpointsController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  ASSERT_TRUE(env.client.Create(Services(), "default", Service("ext", nullptr)).ok());
  Json mine = {
      {"metadata", {{"name", "ext"}}},
      {"subsets", {{{"addresses", {{{"ip", "192.168.1.1"}}}}, {"ports", {{{"port", 5432}}}}}}}};
  ASSERT_TRUE(env.client.Create(Endpoints(), "default", mine).ok());
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() >= 1; }));
  c.worker().ProcessAll();
  EXPECT_TRUE(c.Sync("default/ext").ok());
  auto ep = env.client.Get(Endpoints(), "default", "ext");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ((*ep)["subsets"][0]["addresses"][0]["ip"], "192.168.1.1");
}

}  // namespace
}  // namespace korral::controllers
