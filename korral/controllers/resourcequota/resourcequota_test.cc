// Tests of the resource quota controller.
#include "korral/controllers/resourcequota/resourcequota.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

const client::ResourceRef kQuotas{"", "v1", "resourcequotas", true};

TEST(QuantityTest, Parse) {
  EXPECT_EQ(*ParseQuantityMilli("100m"), 100);
  EXPECT_EQ(*ParseQuantityMilli("2"), 2000);
  EXPECT_EQ(*ParseQuantityMilli("1.5"), 1500);
  EXPECT_EQ(*ParseQuantityMilli("1Ki"), 1024000);
  EXPECT_EQ(*ParseQuantityMilli("1k"), 1000000);
  EXPECT_EQ(*ParseQuantityMilli("2e3"), 2000000);
  EXPECT_FALSE(ParseQuantityMilli("abc"));
  EXPECT_FALSE(ParseQuantityMilli("1Xi"));
  EXPECT_EQ(FormatQuantityMilli(250), "250m");
  EXPECT_EQ(FormatQuantityMilli(3000), "3");
}

TEST(ResourceQuotaTest, ComputesUsed) {
  ControllerTestEnv env;
  auto pod = [&](const std::string& name, const std::string& cpu, const std::string& phase) {
    Json p = {
        {"metadata", {{"name", name}}},
        {"spec",
         {{"containers",
           {{{"name", "c"},
             {"resources",
              {{"requests", {{"cpu", cpu}, {"memory", "64Mi"}}}, {"limits", {{"cpu", cpu}}}}}}}}}},
        {"status", {{"phase", phase}}}};
    ASSERT_TRUE(env.client.Create(client::resources::Pods(), "q", p).ok());
  };
  pod("a", "250m", "Running");
  pod("b", "1", "Pending");
  pod("done", "4", "Succeeded");
  ASSERT_TRUE(
      env.client.Create(client::resources::ConfigMaps(), "q", {{"metadata", {{"name", "c1"}}}})
          .ok());
  ASSERT_TRUE(env.client
                  .Create(kQuotas, "q",
                          {{"metadata", {{"name", "quota"}}},
                           {"spec",
                            {{"hard",
                              {{"pods", "10"},
                               {"requests.cpu", "4"},
                               {"requests.memory", "1Gi"},
                               {"configmaps", "5"},
                               {"count/configmaps", "5"},
                               {"example.com/unknown", "1"}}}}}})
                  .ok());
  ResourceQuotaController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    auto q = env.client.Get(kQuotas, "q", "quota");
    return q.ok() && (*q).contains("status");
  }));
  Json st = (*env.client.Get(kQuotas, "q", "quota"))["status"];
  EXPECT_EQ(st["hard"]["pods"], "10");
  EXPECT_EQ(st["used"]["pods"], "2");
  EXPECT_EQ(st["used"]["requests.cpu"], "1250m");
  EXPECT_EQ(st["used"]["requests.memory"], std::to_string(2 * 64 * 1024 * 1024));
  EXPECT_EQ(st["used"]["configmaps"], "1");
  EXPECT_EQ(st["used"]["count/configmaps"], "1");
  EXPECT_FALSE(st["used"].contains("example.com/unknown"));
}

// A BestEffort-scoped quota counts only the BestEffort pods (requests of the others do not
// count either).
TEST(ResourceQuotaTest, ScopedQuotaCountsOnlyMatchingPods) {
  ControllerTestEnv env;
  auto pod = [&](const std::string& name, bool best_effort) {
    Json c = {{"name", "c"}};
    if (!best_effort) c["resources"] = {{"requests", {{"cpu", "500m"}}}};
    Json p = {{"metadata", {{"name", name}}},
              {"spec", {{"containers", Json::array({c})}}},
              {"status", {{"phase", "Running"}}}};
    ASSERT_TRUE(env.client.Create(client::resources::Pods(), "q", p).ok());
  };
  pod("burst1", false);
  pod("burst2", false);
  pod("be", true);
  ASSERT_TRUE(env.client
                  .Create(kQuotas, "q",
                          {{"metadata", {{"name", "be-only"}}},
                           {"spec",
                            {{"hard", {{"pods", "5"}, {"requests.cpu", "1"}}},
                             {"scopes", {"BestEffort"}}}}})
                  .ok());
  ResourceQuotaController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    auto q = env.client.Get(kQuotas, "q", "be-only");
    return q.ok() && (*q).contains("status");
  }));
  Json st = (*env.client.Get(kQuotas, "q", "be-only"))["status"];
  EXPECT_EQ(st["used"]["pods"], "1");
  EXPECT_EQ(st["used"]["requests.cpu"], "0");
}

}  // namespace
}  // namespace korral::controllers
