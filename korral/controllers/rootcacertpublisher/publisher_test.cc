// Tests of the root CA publisher.
#include "korral/controllers/rootcacertpublisher/publisher.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::ConfigMaps;

TEST(RootCACertPublisherTest, PublishesRestoresAndRecreates) {
  ControllerTestEnv env;
  ASSERT_TRUE(
      env.client.Create(client::resources::Namespaces(), "", {{"metadata", {{"name", "a"}}}}).ok());
  RootCACertPublisher c(env.ctx, "PEM");
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 1; }));
  c.worker().ProcessAll();
  auto cm = env.client.Get(ConfigMaps(), "a", "kube-root-ca.crt");
  ASSERT_TRUE(cm.ok());
  EXPECT_EQ((*cm)["data"], Json({{"ca.crt", "PEM"}}));
  // Someone edits it: restored.
  ASSERT_TRUE(env.WaitForCache(ConfigMaps(), "a/kube-root-ca.crt"));
  Json edited = *cm;
  edited["data"]["ca.crt"] = "evil";
  ASSERT_TRUE(env.client.Update(ConfigMaps(), "a", edited).ok());
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 1; }));
  c.worker().ProcessAll();
  EXPECT_EQ((*env.client.Get(ConfigMaps(), "a", "kube-root-ca.crt"))["data"]["ca.crt"], "PEM");
  // Deleted: recreated. First let the restore's own update event settle, so the key queued
  // below is the deletion's.
  ASSERT_TRUE(env.WaitForCache(ConfigMaps(), "a/kube-root-ca.crt"));
  c.worker().ProcessAll();
  ASSERT_TRUE(env.client.Delete(ConfigMaps(), "a", "kube-root-ca.crt").ok());
  ASSERT_TRUE(env.WaitForCache(ConfigMaps(), "a/kube-root-ca.crt", /*present=*/false));
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 1; }));
  c.worker().ProcessAll();
  EXPECT_TRUE(env.client.Get(ConfigMaps(), "a", "kube-root-ca.crt").ok());
}

TEST(RootCACertPublisherTest, NotStartedWithoutARootCA) {
  ControllerTestEnv env;
  auto c = RootCACertPublisherDescriptor().factory(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, nullptr);
  env.ctx.options.root_ca_file = "/nonexistent/ca.crt";
  EXPECT_FALSE(RootCACertPublisherDescriptor().factory(env.ctx).ok());
}

}  // namespace
}  // namespace korral::controllers
