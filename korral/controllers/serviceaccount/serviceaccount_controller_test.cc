// Tests of the service account controller.
#include "korral/controllers/serviceaccount/serviceaccount_controller.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

const client::ResourceRef kSA{"", "v1", "serviceaccounts", true};

TEST(ServiceAccountControllerTest, CreatesDefaultInActiveNamespacesAndRecreatesIt) {
  ControllerTestEnv env;
  ASSERT_TRUE(
      env.client.Create(client::resources::Namespaces(), "", {{"metadata", {{"name", "a"}}}}).ok());
  ASSERT_TRUE(
      env.client
          .Create(client::resources::Namespaces(), "",
                  {{"metadata", {{"name", "t"}, {"deletionTimestamp", "2023-11-14T22:13:20Z"}}},
                   {"status", {{"phase", "Terminating"}}}})
          .ok());
  ServiceAccountController c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 2; }));
  EXPECT_EQ(c.worker().ProcessAll(), 2);
  EXPECT_TRUE(env.client.Get(kSA, "a", "default").ok());
  EXPECT_FALSE(env.client.Get(kSA, "t", "default").ok());
  // Idempotent: a second sync with the SA cached creates nothing.
  ASSERT_TRUE(env.WaitForCache(kSA, "a/default"));
  env.client.ClearActions();
  ASSERT_TRUE(c.Sync("a").ok());
  for (const auto& a : env.client.Actions()) EXPECT_NE(a.verb, "create");
  // Deleted: the informer's delete event brings it back.
  ASSERT_TRUE(env.client.Delete(kSA, "a", "default").ok());
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 1; }));
  EXPECT_EQ(c.worker().ProcessAll(), 1);
  EXPECT_TRUE(env.client.Get(kSA, "a", "default").ok());
}

}  // namespace
}  // namespace korral::controllers
