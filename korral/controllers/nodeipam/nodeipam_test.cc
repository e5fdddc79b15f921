// Tests of the node IPAM range allocator.
#include "korral/controllers/nodeipam/nodeipam.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Nodes;

TEST(NodeIpamTest, Cidrs) {
  auto c = ParseCidr("10.244.3.7/16");
  ASSERT_TRUE(c);
  EXPECT_EQ(FormatCidr(c->first, c->second), "10.244.0.0/16");
  EXPECT_FALSE(ParseCidr("10.244.0.0"));
  EXPECT_FALSE(ParseCidr("nope/8"));
}

TEST(NodeIpamTest, AllocatesDistinctCidrsSkippingUsedOnes) {
  ControllerTestEnv env;
  env.ctx.options.cluster_cidr = "10.244.0.0/16";
  env.ctx.options.node_cidr_mask_size = 24;
  ASSERT_TRUE(
      env.client
          .Create(Nodes(), "",
                  {{"metadata", {{"name", "old"}}}, {"spec", {{"podCIDR", "10.244.0.0/24"}}}})
          .ok());
  ASSERT_TRUE(env.client.Create(Nodes(), "", {{"metadata", {{"name", "a"}}}}).ok());
  ASSERT_TRUE(env.client.Create(Nodes(), "", {{"metadata", {{"name", "b"}}}}).ok());
  auto c = NodeIpamController::New(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  ASSERT_TRUE(c.ok());
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return (*c)->worker().queue().Len() == 3; }));
  (*c)->worker().ProcessAll();
  std::set<std::string> got;
  for (const char* n : {"a", "b"}) {
    Json node = *env.client.Get(Nodes(), "", n);
    got.insert(node["spec"]["podCIDR"].get<std::string>());
    EXPECT_EQ(node["spec"]["podCIDRs"][0], node["spec"]["podCIDR"]);
  }
  EXPECT_EQ(got, (std::set<std::string>{"10.244.1.0/24", "10.244.2.0/24"}));
}

TEST(NodeIpamTest, BadFlagsAreRejected) {
  ControllerTestEnv env;
  env.ctx.options.cluster_cidr = "10.244.0.0/16";
  env.ctx.options.node_cidr_mask_size = 8;
  EXPECT_FALSE(NodeIpamController::New(env.ctx).ok());
  env.ctx.options.cluster_cidr = "bogus";
  EXPECT_FALSE(NodeIpamController::New(env.ctx).ok());
}

}  // namespace
}  // namespace korral::controllers
