// Tests of the disruption controller.
#include "korral/controllers/disruption/disruption.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

const client::ResourceRef kPDBs{"policy", "v1", "poddisruptionbudgets", true};
using client::resources::Pods;
using client::resources::ReplicaSets;

class DisruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rs = *env.client.Create(ReplicaSets(), "d",
                            {{"metadata", {{"name", "rs"}}}, {"spec", {{"replicas", 4}}}});
    for (int i = 0; i < 3; ++i) {
      Json p = {{"metadata",
                 {{"name", "p" + std::to_string(i)},
                  {"labels", {{"app", "a"}}},
                  {"ownerReferences", {NewControllerRef(rs, "apps/v1", "ReplicaSet")}}}},
                {"status",
                 {{"conditions", {{{"type", "Ready"}, {"status", i < 2 ? "True" : "False"}}}}}}};
      ASSERT_TRUE(env.client.Create(Pods(), "d", p).ok());
    }
  }
  Json Status(Json spec) {
    spec["selector"] = {{"matchLabels", {{"app", "a"}}}};
    static int n = 0;
    std::string name = "pdb" + std::to_string(n++);
    EXPECT_TRUE(
        env.client.Create(kPDBs, "d", {{"metadata", {{"name", name}}}, {"spec", spec}}).ok());
    EXPECT_TRUE(Eventually([&] {
      c->worker().ProcessAll();
      auto p = env.client.Get(kPDBs, "d", name);
      return p.ok() && (*p).contains("status");
    }));
    return (*env.client.Get(kPDBs, "d", name))["status"];
  }
  ControllerTestEnv env;
  Json rs;
  std::unique_ptr<DisruptionController> c;
  // Informers stop before the controller above is destroyed.
  void TearDown() override { env.informers->Stop(); }
};

TEST_F(DisruptionTest, MinAvailableAndMaxUnavailable) {
  c = std::make_unique<DisruptionController>(env.ctx);
  env.StartInformers();
  Json s = Status({{"minAvailable", 1}});
  EXPECT_EQ(s["currentHealthy"], 2);
  EXPECT_EQ(s["desiredHealthy"], 1);
  EXPECT_EQ(s["expectedPods"], 3);
  EXPECT_EQ(s["disruptionsAllowed"], 1);
  EXPECT_EQ(s["conditions"][0]["reason"], "SufficientPods");

  s = Status({{"maxUnavailable", 1}});  // expected from the ReplicaSet's 4 replicas
  EXPECT_EQ(s["expectedPods"], 4);
  EXPECT_EQ(s["desiredHealthy"], 3);
  EXPECT_EQ(s["disruptionsAllowed"], 0);
  EXPECT_EQ(s["conditions"][0]["status"], "False");
  EXPECT_EQ(s["conditions"][0]["reason"], "InsufficientPods");

  s = Status({{"minAvailable", "50%"}});
  EXPECT_EQ(s["expectedPods"], 4);
  EXPECT_EQ(s["desiredHealthy"], 2);
  EXPECT_EQ(s["disruptionsAllowed"], 0);
}

}  // namespace
}  // namespace korral::controllers
