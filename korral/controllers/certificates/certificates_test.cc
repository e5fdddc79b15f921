// Tests of the CSR helpers and the csrsigning / csrapproving controllers.
#include "korral/controllers/certificates/certificates.h"

#include <algorithm>

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

Json ServingCsr(const std::string& name, const std::string& node, std::vector<std::string> dns,
                std::vector<std::string> ips, const std::string& username,
                std::vector<std::string> usages = {"digital signature", "key encipherment",
                                                   "server auth"}) {
  auto key = certificates::NewPrivateKey();
  EXPECT_TRUE(key.ok());
  certificates::CsrOptions o;
  o.common_name = "system:node:" + node;
  o.organizations = {"system:nodes"};
  o.dns_names = std::move(dns);
  o.ip_addresses = std::move(ips);
  auto pem = certificates::NewCsr(*key, o);
  EXPECT_TRUE(pem.ok()) << pem.status();
  return {{"apiVersion", "certificates.k8s.io/v1"},
          {"kind", "CertificateSigningRequest"},
          {"metadata", {{"name", name}}},
          {"spec",
           {{"request", absl::Base64Escape(*pem)},
            {"signerName", kKubeletServingSigner},
            {"usages", usages},
            {"username", username},
            {"groups", {"system:nodes", "system:authenticated"}}}}};
}

TEST(KubeletServingCsrApprovingControllerTest, ApprovesOnlyANodesOwnNamesAndAddresses) {
  ControllerTestEnv env;
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", "n1"}}},
               {"status",
                {{"addresses",
                  {{{"type", "InternalIP"}, {"address", "10.0.0.5"}},
                   {{"type", "Hostname"}, {"address", "n1.example"}}}}}}};
  ASSERT_TRUE(env.client.Create(client::resources::Nodes(), "", node).ok());
  std::vector<Json> reviews;
  KubeletServingCsrApprovingController c(env.ctx, [&](const Json& sar) -> absl::StatusOr<bool> {
    reviews.push_back(sar);
    return sar["spec"]["user"] == "admin";
  });
  auto stop = env.StopInformersOnExit();
  const std::string self = "system:node:n1";
  std::vector<Json> csrs = {
      ServingCsr("good", "n1", {"n1", "n1.example"}, {"10.0.0.5"}, self),
      // Another node's address, another requester, a bootstrap token, wrong usages.
      ServingCsr("foreign-ip", "n1", {"n1"}, {"10.0.0.6"}, self),
      ServingCsr("foreign-dns", "n1", {"n2"}, {}, self),
      ServingCsr("other-requester", "n1", {"n1"}, {"10.0.0.5"}, "system:node:n2"),
      ServingCsr("client-usage", "n1", {"n1"}, {"10.0.0.5"}, self,
                 {"digital signature", "key encipherment", "server auth", "client auth"}),
      ServingCsr("no-keyenc", "n1", {"n1"}, {"10.0.0.5"}, self,
                 {"digital signature", "server auth"}),
  };
  Json not_in_group = ServingCsr("not-in-group", "n1", {"n1"}, {}, self);
  not_in_group["spec"]["groups"] = {"system:authenticated"};
  csrs.push_back(not_in_group);
  // An agent run with an admin kubeconfig: the requester may approve these CSRs itself.
  Json by_admin = ServingCsr("by-admin", "n1", {"n1"}, {"10.0.0.5"}, "admin");
  by_admin["spec"]["groups"] = {"system:masters", "system:authenticated"};
  csrs.push_back(by_admin);
  for (const Json& o : csrs) {
    ASSERT_TRUE(env.client.Create(CertificateSigningRequests(), "", o).ok());
  }
  // A node client CSR is not this controller's business.
  Json client_csr = Csr("client", "system:node:n1", {"system:nodes"}, kKubeletClientSigner,
                        {"digital signature", "key encipherment", "client auth"}, "system:node:n1");
  ASSERT_TRUE(env.client.Create(CertificateSigningRequests(), "", client_csr).ok());
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 9; }));
  env.client.ClearActions();
  c.worker().ProcessAll();
  std::vector<std::string> approved;
  for (const auto& a : env.client.Actions()) {
    if (a.verb == "update") {
      EXPECT_EQ(a.subresource, "approval");
      approved.push_back(a.name);
    }
  }
  std::sort(approved.begin(), approved.end());
  EXPECT_EQ(approved, (std::vector<std::string>{"by-admin", "good"}));
  // Only requesters other than the node were reviewed, for approve on the serving signer.
  std::vector<std::string> reviewed;
  for (const auto& r : reviews) {
    reviewed.push_back(r["spec"]["user"]);
    EXPECT_EQ(r["spec"]["resourceAttributes"]["resource"], "signers");
    EXPECT_EQ(r["spec"]["resourceAttributes"]["verb"], "approve");
    EXPECT_EQ(r["spec"]["resourceAttributes"]["name"], "kubernetes.io/kubelet-serving");
  }
  std::sort(reviewed.begin(), reviewed.end());
  EXPECT_EQ(reviewed, (std::vector<std::string>{"admin", "system:node:n2"}));
  auto g = env.client.Get(CertificateSigningRequests(), "", "good");
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(CsrHasCondition(*g, "Approved"));
  EXPECT_EQ((*g)["status"]["conditions"][0]["reason"], "AutoApproved");
}

TEST(KubeletServingCsrApprovingControllerTest, WaitsForTheNodeToRegister) {
  ControllerTestEnv env;
  KubeletServingCsrApprovingController c(env.ctx);
  Json csr = ServingCsr("early", "n9", {"n9"}, {}, "system:node:n9");
  ASSERT_TRUE(env.client.Create(CertificateSigningRequests(), "", csr).ok());
  auto stop = env.StopInformersOnExit();
  env.StartInformers();
  ASSERT_TRUE(Eventually([&] { return c.worker().queue().Len() == 1; }));
  absl::Status s = c.Sync("early");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(StatusMessage(s).find("node n9"), std::string::npos) << s;
  Json node = {{"apiVersion", "v1"}, {"kind", "Node"}, {"metadata", {{"name", "n9"}}}};
  ASSERT_TRUE(env.client.Create(client::resources::Nodes(), "", node).ok());
  ASSERT_TRUE(Eventually([&] { return c.Sync("early").ok(); }));
  EXPECT_TRUE(
      CsrHasCondition(*env.client.Get(CertificateSigningRequests(), "", "early"), "Approved"));
}

}  // namespace
}  // namespace korral::controllers
