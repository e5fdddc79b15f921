// Tests of the CSR helpers and the csrsigning / csrapproving controllers.
#include "korral/controllers/certificates/certificates.h"

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "korral/base/status.h"
#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

Json Csr(const std::string& name, const std::string& cn, const std::vector<std::string>& orgs,
         const std::string& signer, std::vector<std::string> usages, const std::string& username) {
  auto key = certificates::NewPrivateKey();
  EXPECT_TRUE(key.ok());
  auto pem = certificates::NewCsr(*key, cn, orgs);
  EXPECT_TRUE(pem.ok()) << pem.status();
  return {{"apiVersion", "certificates.k8s.io/v1"},
          {"kind", "CertificateSigningRequest"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"request", absl::Base64Escape(*pem)},
            {"signerName", signer},
            {"usages", usages},
            {"username", username},
            {"groups", {"system:bootstrappers", "system:authenticated"}}}}};
}

Json Approved() {
  return {{"conditions", {{{"type", "Approved"}, {"status", "True"}, {"reason", "Test"}}}}};
}

TEST(CsrTest, CreateParseSign) {
  auto key = certificates::NewPrivateKey();
  ASSERT_TRUE(key.ok());
  auto pem = certificates::NewCsr(*key, "system:node:n1", {"system:nodes"});
  ASSERT_TRUE(pem.ok());
  auto info = certificates::ParseCsr(*pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_EQ(info->organizations, std::vector<std::string>{"system:nodes"});
  auto ca = pki::NewSelfSignedCA("test-ca");
  ASSERT_TRUE(ca.ok());
  auto cert =
      certificates::SignCsr(*ca, *pem, {"digital signature", "client auth"}, std::chrono::hours(1));
  ASSERT_TRUE(cert.ok()) << cert.status();
  EXPECT_TRUE(pki::VerifyCertificate(*cert, ca->cert_pem).ok());
  EXPECT_TRUE(pki::CheckKeyMatchesCert(*cert, *key).ok());
  auto ci = pki::ParseCertificate(*cert);
  ASSERT_TRUE(ci.ok());
  EXPECT_EQ(ci->common_name, "system:node:n1");
  EXPECT_FALSE(ci->is_ca);
  EXPECT_LE(ci->not_after_unix - ci->not_before_unix, 3600 + 300 + 5);
  EXPECT_TRUE(certificates::CheckCertificateBundle(*cert).ok());
  EXPECT_FALSE(certificates::CheckCertificateBundle(*pem).ok());
}

TEST(CsrTest, BadInput) {
  EXPECT_EQ(StatusMessage(certificates::ParseCsr("garbage").status()),
            "PEM block type must be CERTIFICATE REQUEST");
  auto ca = pki::NewSelfSignedCA("test-ca");
  ASSERT_TRUE(ca.ok());
  EXPECT_EQ(StatusMessage(certificates::ParseCsr(ca->cert_pem).status()),
            "PEM block type must be CERTIFICATE REQUEST");
  auto key = certificates::NewPrivateKey();
  auto pem = certificates::NewCsr(*key, "a", {});
  EXPECT_EQ(StatusMessage(certificates::ParseCsr(*pem + *pem).status()),
            "one and only one PEM block must be present");
  // A corrupted signature.
  std::string der;
  std::string body = pem->substr(pem->find('\n') + 1);
  body = body.substr(0, body.find("-----"));
  std::string flat;
  for (char c : body) {
    if (c != '\n') flat += c;
  }
  ASSERT_TRUE(absl::Base64Unescape(flat, &der));
  der[der.size() - 3] ^= 0x5a;
  std::string bad = "-----BEGIN CERTIFICATE REQUEST-----\n" + absl::Base64Escape(der) +
                    "\n-----END CERTIFICATE REQUEST-----\n";
  EXPECT_FALSE(certificates::ParseCsr(bad).ok());
}

TEST(CsrTest, SignerRules) {
  certificates::CsrInfo node{"system:node:a", {"system:nodes"}, {}, {}, {}, {}};
  EXPECT_TRUE(
      ValidateForSigner(kKubeletClientSigner, node, {"digital signature", "client auth"}).ok());
  EXPECT_FALSE(ValidateForSigner(kKubeletClientSigner, node, {"server auth"}).ok());
  certificates::CsrInfo other{"bob", {"system:nodes"}, {}, {}, {}, {}};
  EXPECT_EQ(StatusMessage(ValidateForSigner(kKubeletClientSigner, other, {"client auth"})),
            "subject common name does not begin with system:node:");
  certificates::CsrInfo sans = node;
  sans.dns_names = {"x"};
  EXPECT_FALSE(
      ValidateForSigner(kKubeletClientSigner, sans, {"digital signature", "client auth"}).ok());
  EXPECT_TRUE(
      ValidateForSigner(kKubeletServingSigner, sans, {"digital signature", "server auth"}).ok());
  EXPECT_FALSE(
      ValidateForSigner(kKubeletServingSigner, node, {"digital signature", "server auth"}).ok());
  certificates::CsrInfo masters{"eve", {"system:masters"}, {}, {}, {}, {}};
  EXPECT_FALSE(ValidateForSigner(kApiServerClientSigner, masters, {"client auth"}).ok());
  EXPECT_TRUE(ValidateForSigner(kApiServerClientSigner, other, {"client auth"}).ok());
}

TEST(CsrSigningControllerTest, SignsApprovedAndFailsInvalid) {
  ControllerTestEnv env;
  auto ca = pki::NewSelfSignedCA("test-ca");
  ASSERT_TRUE(ca.ok());
  Json good = Csr("good", "system:node:n1", {"system:nodes"}, kKubeletClientSigner,
                  {"digital signature", "client auth"}, "system:bootstrap:abcdef");
  good["status"] = Approved();
  Json bad = Csr("bad", "bob", {"system:nodes"}, kKubeletClientSigner,
                 {"digital signature", "client auth"}, "system:bootstrap:abcdef");
  bad["status"] = Approved();
  Json pending = Csr("pending", "system:node:n2", {"system:nodes"}, kKubeletClientSigner,
                     {"digital signature", "client auth"}, "system:bootstrap:abcdef");
  Json foreign = Csr("foreign", "x", {}, "example.com/foo", {"client auth"}, "u");
  foreign["status"] = Approved();
  for (const Json* o : {&good, &bad, &pending, &foreign}) {
    ASSERT_TRUE(env.client.Create(CertificateSigningRequests(), "", *o).ok());
  }
  CsrSigningController c(env.ctx, *ca, std::chrono::hours(24));
  auto stop = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 4; }));
  c.worker().ProcessAll();
  auto g = env.client.Get(CertificateSigningRequests(), "", "good");
  ASSERT_TRUE(g.ok());
  std::string cert;
  ASSERT_TRUE(absl::Base64Unescape((*g)["status"].value("certificate", ""), &cert));
  EXPECT_TRUE(pki::VerifyCertificate(cert, ca->cert_pem).ok());
  EXPECT_EQ(pki::ParseCertificate(cert)->common_name, "system:node:n1");
  auto b = env.client.Get(CertificateSigningRequests(), "", "bad");
  EXPECT_FALSE((*b)["status"].contains("certificate"));
  EXPECT_TRUE(CsrHasCondition(*b, "Failed"));
  EXPECT_EQ((*b)["status"]["conditions"][1]["reason"], "SignerValidationFailure");
  EXPECT_FALSE((*env.client.Get(CertificateSigningRequests(), "", "pending")).contains("status"));
  auto f = env.client.Get(CertificateSigningRequests(), "", "foreign");
  EXPECT_FALSE((*f)["status"].contains("certificate"));
}

TEST(CsrApprovingControllerTest, ApprovesNodeClientWhenAllowed) {
  ControllerTestEnv env;
  std::vector<Json> reviews;
  bool allow_nodeclient = true;
  CsrApprovingController c(env.ctx, [&](const Json& sar) -> absl::StatusOr<bool> {
    reviews.push_back(sar);
    return allow_nodeclient && sar["spec"]["resourceAttributes"]["subresource"] == "nodeclient";
  });
  auto stop = env.StopInformersOnExit();
  Json node =
      Csr("node", "system:node:n1", {"system:nodes"}, kKubeletClientSigner,
          {"digital signature", "key encipherment", "client auth"}, "system:bootstrap:abcdef");
  Json serving = Csr("serving", "system:node:n1", {"system:nodes"}, kKubeletServingSigner,
                     {"digital signature", "server auth"}, "system:bootstrap:abcdef");
  Json user = Csr("user", "bob", {"devs"}, kKubeletClientSigner, {"client auth"},
                  "system:bootstrap:abcdef");
  for (const Json* o : {&node, &serving, &user}) {
    ASSERT_TRUE(env.client.Create(CertificateSigningRequests(), "", *o).ok());
  }
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 3; }));
  env.client.ClearActions();
  c.worker().ProcessAll();
  // Only the node client CSR was reviewed (nodeclient: the requester is not the node itself).
  ASSERT_EQ(reviews.size(), 1u);
  EXPECT_EQ(reviews[0]["spec"]["user"], "system:bootstrap:abcdef");
  EXPECT_EQ(reviews[0]["spec"]["groups"][0], "system:bootstrappers");
  int approvals = 0;
  for (const auto& a : env.client.Actions()) {
    if (a.verb == "update") {
      EXPECT_EQ(a.subresource, "approval");
      EXPECT_EQ(a.name, "node");
      ++approvals;
    }
  }
  EXPECT_EQ(approvals, 1);
  // Renewal by the node itself asks selfnodeclient first; nothing is approved when denied.
  allow_nodeclient = false;
  reviews.clear();
  env.client.ClearActions();
  Json renew = Csr("renew", "system:node:n1", {"system:nodes"}, kKubeletClientSigner,
                   {"digital signature", "client auth"}, "system:node:n1");
  ASSERT_TRUE(env.client.Create(CertificateSigningRequests(), "", renew).ok());
  // (The approval of "node" above queues it again too.)
  ASSERT_TRUE(Eventually([&] {
    c.worker().ProcessAll();
    return reviews.size() >= 2;
  }));
  ASSERT_EQ(reviews.size(), 2u);
  EXPECT_EQ(reviews[0]["spec"]["resourceAttributes"]["subresource"], "selfnodeclient");
  for (const auto& a : env.client.Actions()) EXPECT_NE(a.verb, "update");
}

}  // namespace
}  // namespace korral::controllers
