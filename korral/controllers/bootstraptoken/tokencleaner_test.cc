// Tests of the bootstrap token cleaner on a fake clock.
#include "korral/controllers/bootstraptoken/tokencleaner.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Secrets;

std::string B64(const std::string& s) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int val = 0, bits = -6;
  for (unsigned char c : s) {
    val = (val << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(k[(val >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(k[((val << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

TEST(TokenCleanerTest, DeletesExpiredTokensWhenTheyExpire) {
  ControllerTestEnv env;
  auto token = [&](const std::string& name, std::chrono::seconds from_now) {
    Json s = {{"metadata", {{"name", name}}},
              {"type", "bootstrap.kubernetes.io/token"},
              {"data", {{"expiration", B64(FormatTime(env.clock.Now() + from_now))}}}};
    ASSERT_TRUE(env.client.Create(Secrets(), "kube-system", s).ok());
  };
  token("bootstrap-token-expired", std::chrono::seconds(-10));
  token("bootstrap-token-later", std::chrono::seconds(60));
  ASSERT_TRUE(
      env.client
          .Create(Secrets(), "kube-system", {{"metadata", {{"name", "other"}}}, {"type", "Opaque"}})
          .ok());
  TokenCleaner c(env.ctx);
  auto stop_informers = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 2; }));
  c.worker().ProcessAll();
  EXPECT_FALSE(env.client.Get(Secrets(), "kube-system", "bootstrap-token-expired").ok());
  EXPECT_TRUE(env.client.Get(Secrets(), "kube-system", "bootstrap-token-later").ok());
  EXPECT_TRUE(env.client.Get(Secrets(), "kube-system", "other").ok());
  env.clock.Advance(std::chrono::seconds(61));
  EXPECT_EQ(c.worker().ProcessAll(), 1);
  EXPECT_FALSE(env.client.Get(Secrets(), "kube-system", "bootstrap-token-later").ok());
}

}  // namespace
}  // namespace korral::controllers
