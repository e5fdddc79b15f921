// Tests of the CertificateSigningRequest strategy and the CSR admission plugins.
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "korral/api/resource.h"
#include "korral/apiserver/admission/admission.h"
#include "korral/controllers/certificates/csr.h"

namespace korral::apiserver::admission {
namespace {

using Json = nlohmann::json;

const api::ResourceType* CsrType() {
  return api::FindResourceType("certificates.k8s.io", "v1", "certificatesigningrequests");
}

Json Csr(const std::vector<std::string>& orgs = {}) {
  auto key = certificates::NewPrivateKey();
  auto pem = certificates::NewCsr(*key, "alice", orgs);
  return {{"metadata", {{"name", "c"}}},
          {"spec",
           {{"request", absl::Base64Escape(*pem)},
            {"signerName", "kubernetes.io/kube-apiserver-client"},
            {"usages", {"client auth"}},
            {"username", "forged"}}}};
}

TEST(CsrStrategyTest, CreateRecordsTheRequesterAndChecksTheRequest) {
  ASSERT_NE(CsrType(), nullptr);
  auto s = NewCertificateSigningRequestStrategy();
  authn::UserInfo u{"bob", "uid-1", {"devs", "system:authenticated"}, {}};
  Json obj = Csr();
  obj["status"] = {{"certificate", "eA=="}};
  Request r;
  r.op = Operation::kCreate;
  r.type = CsrType();
  r.name = "c";
  r.object = &obj;
  r.user = &u;
  ASSERT_TRUE(s->Admit(r).ok());
  EXPECT_EQ(obj["spec"]["username"], "bob");
  EXPECT_EQ(obj["spec"]["uid"], "uid-1");
  EXPECT_EQ(obj["spec"]["groups"], Json({"devs", "system:authenticated"}));
  EXPECT_FALSE(obj.contains("status"));
  EXPECT_TRUE(s->Validate(r).ok());
  obj["spec"]["request"] = absl::Base64Escape("garbage");
  auto st = s->Validate(r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message()).find("PEM block type must be CERTIFICATE REQUEST"),
            std::string::npos);
}

TEST(CsrStrategyTest, ApprovalChangesOnlyConditionsAndStatusCannotApprove) {
  auto s = NewCertificateSigningRequestStrategy();
  Json old = Csr();
  old["metadata"]["resourceVersion"] = "5";
  // /approval: everything but the conditions comes from the stored object.
  Json upd = old;
  upd["spec"]["signerName"] = "example.com/other";
  upd["status"] = {{"certificate", "Zm9v"},
                   {"conditions", {{{"type", "Approved"}, {"reason", "R"}}}}};
  Request r;
  r.op = Operation::kUpdate;
  r.type = CsrType();
  r.name = "c";
  r.subresource = "approval";
  r.object = &upd;
  r.old = &old;
  ASSERT_TRUE(s->Admit(r).ok());
  EXPECT_EQ(upd["spec"], old["spec"]);
  EXPECT_FALSE(upd["status"].contains("certificate"));
  ASSERT_EQ(upd["status"]["conditions"].size(), 1u);
  EXPECT_EQ(upd["status"]["conditions"][0]["status"], "True");
  EXPECT_TRUE(upd["status"]["conditions"][0].contains("lastUpdateTime"));
  EXPECT_TRUE(upd["status"]["conditions"][0].contains("lastTransitionTime"));
  // /status: an Approved condition added there is dropped; the stored one is kept.
  Json approved = old;
  approved["status"] = {{"conditions", {{{"type", "Approved"}, {"status", "True"}}}}};
  Json st = approved;
  st["status"]["conditions"] = {{{"type", "Denied"}, {"status", "True"}},
                                {{"type", "Failed"}, {"status", "True"}}};
  r.subresource = "status";
  r.object = &st;
  r.old = &approved;
  ASSERT_TRUE(s->Admit(r).ok());
  std::vector<std::string> types;
  for (const auto& c : st["status"]["conditions"]) types.push_back(c["type"]);
  EXPECT_EQ(types, (std::vector<std::string>{"Failed", "Approved"}));
}

TEST(CsrAdmissionTest, ApproveAndSignNeedSignerPermissions) {
  std::vector<std::string> asked;
  AuthorizeFunc authorize = [&](const authn::UserInfo&, const std::string& verb,
                                const std::string& group, const std::string& resource,
                                const std::string& name) {
    asked.push_back(verb + " " + group + "/" + resource + "/" + name);
    return name == "kubernetes.io/*";
  };
  authn::UserInfo u{"carol", "", {}, {}};
  Json old = Csr();
  Json upd = old;
  Request r;
  r.op = Operation::kUpdate;
  r.type = CsrType();
  r.name = "c";
  r.subresource = "approval";
  r.object = &upd;
  r.old = &old;
  r.user = &u;
  EXPECT_TRUE(NewCertificateApproval(authorize)->Validate(r).ok());
  EXPECT_EQ(asked, (std::vector<std::string>{
                       "approve certificates.k8s.io/signers/kubernetes.io/kube-apiserver-client",
                       "approve certificates.k8s.io/signers/kubernetes.io/*"}));
  upd["spec"]["signerName"] = "example.com/x";
  auto st = NewCertificateApproval(authorize)->Validate(r);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(std::string(st.message())
                .find("user not permitted to approve requests with signerName \"example.com/x\""),
            std::string::npos);
  // Signing: only when the certificate changes.
  r.subresource = "status";
  EXPECT_TRUE(NewCertificateSigning(authorize)->Validate(r).ok());
  upd["status"] = {{"certificate", "Zm9v"}};
  EXPECT_FALSE(NewCertificateSigning(authorize)->Validate(r).ok());
}

TEST(CsrAdmissionTest, NoSystemMastersThroughTheClientSigner) {
  Json obj = Csr({"system:masters"});
  Request r;
  r.op = Operation::kCreate;
  r.type = CsrType();
  r.name = "c";
  r.object = &obj;
  EXPECT_FALSE(NewCertificateSubjectRestriction()->Validate(r).ok());
  Json ok = Csr({"devs"});
  r.object = &ok;
  EXPECT_TRUE(NewCertificateSubjectRestriction()->Validate(r).ok());
}

}  // namespace
}  // namespace korral::apiserver::admission
