// Tests of the namespace controller against the fake client.
#include "korral/controllers/namespace/namespace_controller.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::ConfigMaps;
using client::resources::Namespaces;
using client::resources::Pods;

Json Obj(const std::string& name, Json extra = Json::object()) {
  Json o = {{"metadata", {{"name", name}}}};
  o.merge_patch(extra);
  return o;
}

Json CondOf(const Json& ns, const std::string& type) {
  for (const auto& c : ns["status"]["conditions"]) {
    if (c["type"] == type) return c;
  }
  return nullptr;
}

class NamespaceControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        env.client
            .Create(Namespaces(), "",
                    Obj("doomed", {{"metadata", {{"deletionTimestamp", "2023-11-14T22:13:20Z"}}},
                                   {"spec", {{"finalizers", {"kubernetes"}}}},
                                   {"status", {{"phase", "Terminating"}}}}))
            .ok());
    ASSERT_TRUE(env.client.Create(Namespaces(), "", Obj("kept")).ok());
    for (const char* ns : {"doomed", "kept"}) {
      for (int i = 0; i < 3; ++i) {
        ASSERT_TRUE(env.client.Create(Pods(), ns, Obj("p" + std::to_string(i))).ok());
        ASSERT_TRUE(env.client.Create(ConfigMaps(), ns, Obj("c" + std::to_string(i))).ok());
      }
    }
    controller = std::make_unique<NamespaceController>(env.ctx);
  }
  size_t Count(const client::ResourceRef& r, const std::string& ns) {
    return (*env.client.List(r, ns))["items"].size();
  }
  Json Ns(const std::string& name) { return *env.client.Get(Namespaces(), "", name); }

  ControllerTestEnv env;
  std::unique_ptr<NamespaceController> controller;
  // Informers stop before the controller above is destroyed.
  void TearDown() override { env.informers->Stop(); }
};

TEST_F(NamespaceControllerTest, DeletesAllContentThenRemovesTheFinalizer) {
  ASSERT_TRUE(controller->Sync("doomed").ok());
  EXPECT_EQ(Count(Pods(), "doomed"), 0u);
  EXPECT_EQ(Count(ConfigMaps(), "doomed"), 0u);
  EXPECT_EQ(Count(Pods(), "kept"), 3u);
  EXPECT_EQ(Count(ConfigMaps(), "kept"), 3u);
  Json ns = Ns("doomed");
  EXPECT_TRUE(ns["spec"]["finalizers"].empty());
  // The conditions say everything went fine.
  EXPECT_EQ(CondOf(ns, "NamespaceDeletionDiscoveryFailure")["status"], "False");
  EXPECT_EQ(CondOf(ns, "NamespaceDeletionDiscoveryFailure")["reason"], "ResourcesDiscovered");
  EXPECT_EQ(CondOf(ns, "NamespaceContentRemaining")["reason"], "ContentRemoved");
  // The finalize call went through the subresource.
  bool finalized = false;
  for (const auto& a : env.client.Actions()) {
    finalized |= a.verb == "update" && a.subresource == "finalize" && a.name == "doomed";
  }
  EXPECT_TRUE(finalized);
}

TEST_F(NamespaceControllerTest, ActiveNamespacesAreLeftAlone) {
  ASSERT_TRUE(controller->Sync("kept").ok());
  ASSERT_TRUE(controller->Sync("missing").ok());
  EXPECT_EQ(Count(Pods(), "kept"), 3u);
}

TEST_F(NamespaceControllerTest, DiscoveryFailureIsReportedAndRetried) {
  env.discovery.SetError(absl::UnavailableError("discovery down"));
  EXPECT_FALSE(controller->Sync("doomed").ok());
  Json ns = Ns("doomed");
  EXPECT_EQ(CondOf(ns, "NamespaceDeletionDiscoveryFailure")["status"], "True");
  EXPECT_EQ(CondOf(ns, "NamespaceDeletionDiscoveryFailure")["reason"], "DiscoveryFailed");
  EXPECT_EQ(CondOf(ns, "NamespaceDeletionDiscoveryFailure")["message"], "discovery down");
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  EXPECT_EQ(Count(Pods(), "doomed"), 3u);
  env.discovery.SetError(absl::OkStatus());
  ASSERT_TRUE(controller->Sync("doomed").ok());
  ns = Ns("doomed");
  EXPECT_EQ(CondOf(ns, "NamespaceDeletionDiscoveryFailure")["status"], "False");
  EXPECT_TRUE(ns["spec"]["finalizers"].empty());
}

TEST_F(NamespaceControllerTest, ContentFailureKeepsTheFinalizer) {
  // The fake has no deletecollection, so each configmap is deleted by name.
  env.client.InjectError("delete", "configmaps", absl::InternalError("etcd on fire"), 100);
  EXPECT_FALSE(controller->Sync("doomed").ok());
  Json ns = Ns("doomed");
  Json c = CondOf(ns, "NamespaceDeletionContentFailure");
  EXPECT_EQ(c["status"], "True");
  EXPECT_EQ(c["reason"], "ContentDeletionFailed");
  EXPECT_NE(
      c["message"].get<std::string>().find("Failed to delete all resource types, 1 remaining"),
      std::string::npos)
      << c;
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  EXPECT_EQ(Count(Pods(), "doomed"), 0u);
}

TEST_F(NamespaceControllerTest, WaitsForFinalizingContentOnTheClock) {
  ASSERT_TRUE(env.client
                  .Create(ConfigMaps(), "doomed",
                          Obj("held", {{"metadata",
                                        {{"deletionTimestamp", "2023-11-14T22:13:20Z"},
                                         {"finalizers", {"example.com/hold"}}}}}))
                  .ok());
  ASSERT_TRUE(controller->Sync("doomed").ok());
  Json ns = Ns("doomed");
  EXPECT_EQ(CondOf(ns, "NamespaceContentRemaining")["message"],
            "Some resources are remaining: configmaps. has 1 resource instances");
  EXPECT_EQ(CondOf(ns, "NamespaceFinalizersRemaining")["message"],
            "Some finalizers are remaining: example.com/hold in 1 resource instances");
  EXPECT_EQ(CondOf(ns, "NamespaceFinalizersRemaining")["reason"], "SomeFinalizerRemain");
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  // Requeued after a delay measured on the fake clock.
  EXPECT_EQ(controller->worker().ProcessAll(), 0);
  ASSERT_TRUE(env.client.Delete(ConfigMaps(), "doomed", "held").ok());
  env.clock.Advance(std::chrono::seconds(2));
  EXPECT_EQ(controller->worker().ProcessAll(), 1);
  EXPECT_TRUE(Ns("doomed")["spec"]["finalizers"].empty());
}

TEST_F(NamespaceControllerTest, InformerEnqueuesTerminatingNamespaces) {
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return controller->worker().queue().Len() == 1; }));
  EXPECT_GE(controller->worker().ProcessAll(), 1);
  EXPECT_TRUE(Ns("doomed")["spec"]["finalizers"].empty());
  EXPECT_EQ(Count(Pods(), "doomed"), 0u);
}

}  // namespace
}  // namespace korral::controllers
