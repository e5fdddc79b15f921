// Tests of the node TLS bootstrap against a FakeClient playing the apiserver and the
// controller manager.
#include "korral/agent/bootstrap.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "korral/agent/agent.h"
#include "korral/base/status.h"
#include "korral/client/fake_client.h"
#include "korral/client/kubeconfig.h"
#include "korral/controllers/certificates/csr.h"
#include "korral/pki/pki.h"

namespace korral::agent {
namespace {

using Json = nlohmann::json;
const client::ResourceRef kCsrs{"certificates.k8s.io", "v1", "certificatesigningrequests", false};

class BootstrapTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("korral-bootstrap-test-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    auto ca = pki::NewSelfSignedCA("test-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
    std::ofstream(dir_ / "ca.crt") << ca_.cert_pem;
    opts_.server = "https://127.0.0.1:1";
    opts_.token = "abcdef.0123456789abcdef";
    opts_.ca_file = (dir_ / "ca.crt").string();
    opts_.node_name = "n1";
    opts_.kubeconfig_path = (dir_ / "node" / "kubelet.kubeconfig").string();
    opts_.timeout = std::chrono::seconds(10);
    opts_.poll_interval = std::chrono::milliseconds(5);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Acts as approver + signer (or denier) for the first CSR that appears; bounded wait.
  std::thread Signer(bool deny) {
    return std::thread([this, deny] {
      for (int i = 0; i < 2000; ++i) {
        auto list = fake_.List(kCsrs, "");
        if (list.ok() && !(*list)["items"].empty()) {
          Json csr = (*list)["items"][0];
          seen_ = csr;
          if (deny) {
            csr["status"]["conditions"] = {
                {{"type", "Denied"}, {"status", "True"}, {"reason", "NotToday"}}};
          } else {
            std::string pem;
            absl::Base64Unescape(csr["spec"]["request"].get<std::string>(), &pem);
            auto cert = certificates::SignCsr(ca_, pem, {"digital signature", "client auth"},
                                              std::chrono::hours(24));
            csr["status"]["certificate"] = absl::Base64Escape(*cert);
          }
          fake_.Update(kCsrs, "", csr, "status").IgnoreError();
          return;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
    });
  }

  std::filesystem::path dir_;
  pki::CertKeyPair ca_;
  BootstrapOptions opts_;
  client::FakeClient fake_;
  Json seen_;
};

TEST_F(BootstrapTest, CreatesCsrWaitsWritesKubeconfigAndReusesIt) {
  std::thread signer = Signer(false);
  auto path = EnsureNodeKubeconfig(opts_, &fake_);
  signer.join();
  ASSERT_TRUE(path.ok()) << path.status();
  EXPECT_EQ(*path, opts_.kubeconfig_path);
  EXPECT_EQ(seen_["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet");
  EXPECT_EQ(seen_["spec"]["usages"], Json({"digital signature", "client auth"}));
  std::string pem;
  ASSERT_TRUE(absl::Base64Unescape(seen_["spec"]["request"].get<std::string>(), &pem));
  auto info = certificates::ParseCsr(pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_EQ(info->organizations, std::vector<std::string>{"system:nodes"});
  // The kubeconfig: 0600, the node certificate, the CA, the server.
  struct stat st;
  ASSERT_EQ(stat(path->c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto rc = client::LoadKubeconfig(*path);
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(rc->host, opts_.server);
  EXPECT_EQ(rc->ca_pem, ca_.cert_pem);
  EXPECT_EQ(pki::ParseCertificate(rc->client_cert_pem)->common_name, "system:node:n1");
  EXPECT_TRUE(pki::CheckKeyMatchesCert(rc->client_cert_pem, rc->client_key_pem).ok());
  // A restart reuses it without asking again (no signer running: a new CSR would time out).
  fake_.ClearActions();
  opts_.timeout = std::chrono::milliseconds(50);
  auto again = EnsureNodeKubeconfig(opts_, &fake_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(fake_.Actions().empty());
  // Another node name does not reuse it.
  opts_.node_name = "n2";
  auto other = EnsureNodeKubeconfig(opts_, &fake_);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kDeadlineExceeded);
}

TEST_F(BootstrapTest, DeniedRequestIsAnError) {
  std::thread signer = Signer(true);
  auto path = EnsureNodeKubeconfig(opts_, &fake_);
  signer.join();
  ASSERT_FALSE(path.ok());
  EXPECT_EQ(path.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(StatusMessage(path.status()).find("NotToday"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(opts_.kubeconfig_path));
}

TEST_F(BootstrapTest, BadInput) {
  EXPECT_TRUE(ParseBootstrapToken("abcdef.0123456789abcdef").ok());
  for (const char* bad : {"", "abcdef", "ABCDEF.0123456789abcdef", "abcde.0123456789abcdef",
                          "abcdef.0123456789abcde", "abcdef:0123456789abcdef"}) {
    EXPECT_FALSE(ParseBootstrapToken(bad).ok()) << bad;
  }
  opts_.token = "nope";
  EXPECT_EQ(EnsureNodeKubeconfig(opts_, &fake_).status().code(),
            absl::StatusCode::kInvalidArgument);
  opts_.token = "abcdef.0123456789abcdef";
  opts_.ca_file = (dir_ / "missing.crt").string();
  EXPECT_EQ(EnsureNodeKubeconfig(opts_, &fake_).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(BootstrapTest, AgentFlags) {
  AgentConfig cfg;
  EXPECT_EQ(StatusMessage(BootstrapFromFlags(&cfg, "", "")), "--kubeconfig or --token is required");
  cfg.kubeconfig = "/k";
  EXPECT_TRUE(BootstrapFromFlags(&cfg, "", "").ok());  // nothing to do
  AgentConfig join;
  join.data_dir = dir_.string();
  EXPECT_EQ(StatusMessage(BootstrapFromFlags(&join, opts_.token, opts_.ca_file)),
            "--token needs --server (the apiserver URL)");
  join.server = "https://127.0.0.1:1";
  EXPECT_EQ(StatusMessage(BootstrapFromFlags(&join, opts_.token, "")),
            "--token needs --ca-file (the cluster CA certificate)");
  EXPECT_EQ(BootstrapFromFlags(&join, "bad", opts_.ca_file).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(join.node_name.empty());  // defaulted to the host name
}

}  // namespace
}  // namespace korral::agent
