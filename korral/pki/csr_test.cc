#include "korral/pki/csr.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/base/status.h"

namespace korral::pki {
namespace {

using ::testing::ElementsAre;

TEST(CsrTest, ServingRequestCarriesSansIntoTheSignedCertificate) {
  auto ca = NewSelfSignedCA("test-ca");
  ASSERT_TRUE(ca.ok());
  auto key = NewPrivateKey();
  ASSERT_TRUE(key.ok());
  CsrOptions o;
  o.common_name = "system:node:n1";
  o.organizations = {"system:nodes"};
  o.dns_names = {"n1"};
  o.ip_addresses = {"10.0.0.5", "::1"};
  auto csr = NewCsr(*key, o);
  ASSERT_TRUE(csr.ok()) << csr.status();
  auto info = ParseCsr(*csr);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_THAT(info->organizations, ElementsAre("system:nodes"));
  EXPECT_THAT(info->dns_names, ElementsAre("n1"));
  EXPECT_THAT(info->ip_addresses, ElementsAre("10.0.0.5", "::1"));

  auto cert = SignCsr(*ca, *csr, {"digital signature", "key encipherment", "server auth"},
                      std::chrono::hours(24));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE(VerifyCertificate(*cert, ca->cert_pem).ok());
  EXPECT_TRUE(CheckKeyMatchesCert(*cert, *key).ok());
  auto parsed = ParseCertificate(*cert);
  ASSERT_TRUE(parsed.ok());
  EXPECT_THAT(parsed->dns_names, ElementsAre("n1"));
  EXPECT_THAT(parsed->ip_addresses, ElementsAre("10.0.0.5", "::1"));
  EXPECT_NEAR(parsed->not_after_unix - parsed->not_before_unix, 24 * 3600 + 300, 5);
}

TEST(CsrTest, BadSansAndKeysAreRejected) {
  auto key = NewPrivateKey();
  ASSERT_TRUE(key.ok());
  CsrOptions o;
  o.common_name = "x";
  o.ip_addresses = {"not-an-ip"};
  EXPECT_EQ(NewCsr(*key, o).status().code(), absl::StatusCode::kInvalidArgument);
  o.ip_addresses.clear();
  o.dns_names = {""};
  EXPECT_EQ(NewCsr(*key, o).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(NewCsr("garbage", "x", {}).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace korral::pki
