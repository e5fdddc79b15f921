// Tests of the pod GC on a fake clock.
#include "korral/controllers/podgc/podgc.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Nodes;
using client::resources::Pods;

Json Pod(const std::string& name, const std::string& node, const std::string& phase,
         const std::string& created = "2023-01-01T00:00:00Z") {
  return {{"metadata", {{"name", name}, {"creationTimestamp", created}}},
          {"spec", {{"nodeName", node}}},
          {"status", {{"phase", phase}}}};
}

TEST(PodGCTest, TerminatedOverThresholdOldestFirst) {
  ControllerTestEnv env;
  env.ctx.options.terminated_pod_gc_threshold = 2;
  ASSERT_TRUE(env.client.Create(Nodes(), "", {{"metadata", {{"name", "n"}}}}).ok());
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(env.client
                    .Create(Pods(), "default",
                            Pod("done" + std::to_string(i), "n", i % 2 ? "Failed" : "Succeeded",
                                "2023-01-01T00:00:0" + std::to_string(i) + "Z"))
                    .ok());
  }
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("running", "n", "Running")).ok());
  PodGCController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(c.Gc().ok());
  EXPECT_FALSE(env.client.Get(Pods(), "default", "done0").ok());
  EXPECT_FALSE(env.client.Get(Pods(), "default", "done1").ok());
  EXPECT_TRUE(env.client.Get(Pods(), "default", "done2").ok());
  EXPECT_TRUE(env.client.Get(Pods(), "default", "done3").ok());
  EXPECT_TRUE(env.client.Get(Pods(), "default", "running").ok());
}

TEST(PodGCTest, PodsOnMissingNodesAfterQuarantine) {
  ControllerTestEnv env;
  ASSERT_TRUE(env.client.Create(Nodes(), "", {{"metadata", {{"name", "alive"}}}}).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("orphan", "gone", "Running")).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("fine", "alive", "Running")).ok());
  PodGCController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(c.Gc().ok());
  EXPECT_TRUE(env.client.Get(Pods(), "default", "orphan").ok());  // quarantined
  env.clock.Advance(PodGCController::kQuarantine + std::chrono::seconds(1));
  env.client.ClearActions();
  ASSERT_TRUE(c.Gc().ok());
  EXPECT_FALSE(env.client.Get(Pods(), "default", "orphan").ok());
  EXPECT_TRUE(env.client.Get(Pods(), "default", "fine").ok());
  // It was marked Failed first.
  bool status_update = false;
  for (const auto& a : env.client.Actions()) {
    status_update |= a.verb == "update" && a.subresource == "status" && a.name == "orphan";
  }
  EXPECT_TRUE(status_update);
}

TEST(PodGCTest, UnscheduledTerminatingPodsAreForceDeleted) {
  ControllerTestEnv env;
  Json p = Pod("stuck", "", "Pending");
  p["metadata"]["deletionTimestamp"] = "2023-01-01T00:00:00Z";
  ASSERT_TRUE(env.client.Create(Pods(), "default", p).ok());
  ASSERT_TRUE(env.client.Create(Pods(), "default", Pod("pending", "", "Pending")).ok());
  PodGCController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(c.Gc().ok());
  EXPECT_FALSE(env.client.Get(Pods(), "default", "stuck").ok());
  EXPECT_TRUE(env.client.Get(Pods(), "default", "pending").ok());
}

}  // namespace
}  // namespace korral::controllers
