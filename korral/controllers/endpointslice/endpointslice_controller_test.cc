// Tests of the EndpointSlice and mirroring controllers.
#include "korral/controllers/endpointslice/endpointslice_controller.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Endpoints;
using client::resources::Pods;
using client::resources::Services;

Json Pod(const std::string& name, const std::string& ip, bool ready) {
  Json p = {{"metadata", {{"name", name}, {"labels", {{"app", "web"}}}}},
            {"spec",
             {{"nodeName", "n1"},
              {"containers",
               {{{"name", "c"}, {"ports", {{{"name", "http"}, {"containerPort", 8080}}}}}}}}},
            {"status",
             {{"phase", "Running"},
              {"podIP", ip},
              {"conditions", {{{"type", "Ready"}, {"status", ready ? "True" : "False"}}}}}}};
  return p;
}

std::vector<Json> Slices(ControllerTestEnv& env, const std::string& manager) {
  std::vector<Json> out;
  Json list = *env.client.List(kEndpointSlices, "default");
  for (const auto& s : list["items"]) {
    if (s["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == manager) {
      out.push_back(s);
    }
  }
  return out;
}

TEST(EndpointSliceControllerTest, SlicesListPodsWithConditionsAndOwner) {
  ControllerTestEnv env;
  EndpointSliceController c(env.ctx, false);
  auto stop_informers = env.StopInformersOnExit();
  Json svc = {{"metadata", {{"name", "web"}}},
              {"spec",
               {{"selector", {{"app", "web"}}},
                {"ports", {{{"name", "http"}, {"port", 80}, {"targetPort", "http"}}}}}}};
  auto created = env.client.Create(Services(), "default", svc);
  ASSERT_TRUE(created.ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("a", "10.0.0.1", true)).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("b", "10.0.0.2", false)).ok());
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    auto s = Slices(env, "endpointslice-controller.k8s.io");
    return s.size() == 1 && s[0]["endpoints"].size() == 2;
  })) << (*env.client.List(kEndpointSlices, "default")).dump();
  Json s = Slices(env, "endpointslice-controller.k8s.io")[0];
  EXPECT_EQ(s["addressType"], "IPv4");
  EXPECT_EQ(s["metadata"]["labels"]["kubernetes.io/service-name"], "web");
  EXPECT_EQ(s["metadata"]["ownerReferences"][0]["uid"], UidOf(*created));
  EXPECT_EQ(s["ports"][0], Json({{"name", "http"}, {"port", 8080}, {"protocol", "TCP"}}));
  EXPECT_EQ(s["endpoints"][0]["addresses"][0], "10.0.0.1");
  EXPECT_EQ(s["endpoints"][0]["conditions"]["ready"], true);
  EXPECT_EQ(s["endpoints"][1]["conditions"]["ready"], false);
  EXPECT_EQ(s["endpoints"][1]["conditions"]["serving"], false);
  // A second sync with nothing changed writes nothing.
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 0; }));
  c.worker().ProcessAll();
  env.client.ClearActions();
  ASSERT_TRUE(c.Sync("default/web").ok());
  for (const auto& a : env.client.Actions()) {
    EXPECT_TRUE(a.verb != "create" && a.verb != "update" && a.verb != "delete") << a.verb;
  }
}

TEST(EndpointSliceControllerTest, ChunksOf100AndPlaceholder) {
  Json svc = {{"metadata", {{"name", "web"}, {"namespace", "default"}}},
              {"spec", {{"selector", {{"app", "web"}}}, {"ports", {{{"port", 80}}}}}}};
  std::vector<client::ObjectPtr> pods;
  for (int i = 0; i < 250; ++i) {
    Json p = Pod("p" + std::to_string(i), "10.1.0." + std::to_string(i % 250), true);
    p["metadata"]["namespace"] = "default";
    pods.push_back(std::make_shared<const Json>(p));
  }
  auto slices = EndpointSliceController::DesiredSlices(svc, pods);
  ASSERT_EQ(slices.size(), 3u);
  EXPECT_EQ(slices[0]["endpoints"].size(), 100u);
  EXPECT_EQ(slices[2]["endpoints"].size(), 50u);
  auto empty = EndpointSliceController::DesiredSlices(svc, {});
  ASSERT_EQ(empty.size(), 1u);
  EXPECT_TRUE(empty[0]["endpoints"].empty());
}

TEST(EndpointSliceMirroringTest, MirrorsSelectorlessEndpoints) {
  ControllerTestEnv env;
  EndpointSliceController c(env.ctx, true);
  auto stop_informers = env.StopInformersOnExit();
  ASSERT_TRUE(
      env.client
          .Create(Services(), "default",
                  {{"metadata", {{"name", "ext"}}}, {"spec", {{"ports", {{{"port", 5432}}}}}}})
          .ok());
  ASSERT_TRUE(env.client
                  .Create(Endpoints(), "default",
                          {{"metadata", {{"name", "ext"}}},
                           {"subsets",
                            {{{"addresses", {{{"ip", "192.168.1.1"}}}},
                              {"notReadyAddresses", {{{"ip", "192.168.1.2"}}}},
                              {"ports", {{{"port", 5432}, {"protocol", "TCP"}}}}}}}})
                  .ok());
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    return Slices(env, "endpointslicemirroring-controller.k8s.io").size() == 1;
  }));
  Json s = Slices(env, "endpointslicemirroring-controller.k8s.io")[0];
  ASSERT_EQ(s["endpoints"].size(), 2u);
  EXPECT_EQ(s["endpoints"][0]["conditions"]["ready"], true);
  EXPECT_EQ(s["endpoints"][1]["conditions"]["ready"], false);
  EXPECT_EQ(s["ports"][0]["port"], 5432);
}

}  // namespace
}  // namespace korral::controllers
