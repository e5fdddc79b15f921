#include "korral/kubelet/pull_secrets.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace korral::kubelet {
namespace {

using Json = nlohmann::json;

Json DockerConfigJson(const Json& auths) {
  return {{"apiVersion", "v1"},
          {"kind", "Secret"},
          {"type", "kubernetes.io/dockerconfigjson"},
          {"data", {{".dockerconfigjson", absl::Base64Escape(Json{{"auths", auths}}.dump())}}}};
}

TEST(ImageRepositoryTest, NormalizesAsTheRuntime) {
  EXPECT_EQ(ImageRepository("busybox"), "docker.io/library/busybox");
  EXPECT_EQ(ImageRepository("busybox:1.36"), "docker.io/library/busybox");
  EXPECT_EQ(ImageRepository("team/app:1"), "docker.io/team/app");
  EXPECT_EQ(ImageRepository("reg.example.com:5000/team/app:1"), "reg.example.com:5000/team/app");
  EXPECT_EQ(ImageRepository("localhost/app@sha256:abc"), "localhost/app");
}

TEST(RegistryKeyMatchesTest, HostGlobPortAndPathPrefix) {
  EXPECT_TRUE(RegistryKeyMatches("reg.example.com", "reg.example.com/team/app"));
  EXPECT_TRUE(RegistryKeyMatches("*.example.com", "reg.example.com/app"));
  EXPECT_FALSE(RegistryKeyMatches("*.example.com", "a.reg.example.com/app"));  // label count
  EXPECT_FALSE(RegistryKeyMatches("reg.example.com", "reg.example.com:5000/app"));
  EXPECT_TRUE(RegistryKeyMatches("reg.example.com:5000", "reg.example.com:5000/app"));
  EXPECT_TRUE(RegistryKeyMatches("reg.example.com/team", "reg.example.com/team/app"));
  EXPECT_FALSE(RegistryKeyMatches("reg.example.com/other", "reg.example.com/team/app"));
  EXPECT_FALSE(RegistryKeyMatches("example.com", "reg.example.com/app"));
}

TEST(CredentialsForTest, MostSpecificFirstAndDockerHubAliases) {
  Json s1 =
      DockerConfigJson({{"https://reg.example.com/v1/", {{"auth", absl::Base64Escape("u1:p1")}}},
                        {"reg.example.com/team", {{"username", "u2"}, {"password", "p2"}}},
                        {"https://index.docker.io/v1/", {{"username", "hub"}, {"password", "h"}}}});
  auto creds = CredentialsFor({s1}, "reg.example.com/team/app:1");
  ASSERT_EQ(creds.size(), 2u);
  EXPECT_EQ(creds[0].username, "u2");  // the longer key
  EXPECT_EQ(creds[1].username, "u1");  // `auth` decoded
  EXPECT_EQ(creds[1].password, "p1");
  EXPECT_EQ(creds[1].server_address, "reg.example.com");
  creds = CredentialsFor({s1}, "reg.example.com/other/app");
  ASSERT_EQ(creds.size(), 1u);
  EXPECT_EQ(creds[0].username, "u1");
  creds = CredentialsFor({s1}, "busybox");
  ASSERT_EQ(creds.size(), 1u);
  EXPECT_EQ(creds[0].username, "hub");
  EXPECT_TRUE(CredentialsFor({s1}, "quay.io/x/y").empty());
}

TEST(CredentialsForTest, LegacyDockercfgAndBadSecretsAreSkipped) {
  Json legacy = {
      {"type", "kubernetes.io/dockercfg"},
      {"data",
       {{".dockercfg", absl::Base64Escape(Json{{"quay.io", {{"username", "q"}}}}.dump())}}}};
  Json opaque = {{"type", "Opaque"}, {"data", {{"x", "eA=="}}}};
  Json broken = {{"type", "kubernetes.io/dockerconfigjson"},
                 {"data", {{".dockerconfigjson", "!!!not base64"}}}};
  Json not_json = {{"type", "kubernetes.io/dockerconfigjson"},
                   {"data", {{".dockerconfigjson", absl::Base64Escape("{nope")}}}};
  auto creds = CredentialsFor({opaque, broken, not_json, legacy, Json()}, "quay.io/x/y:1");
  ASSERT_EQ(creds.size(), 1u);
  EXPECT_EQ(creds[0].username, "q");
}

}  // namespace
}  // namespace korral::kubelet
