// Tests of the agent's certificate managers (CSR issuance, storage, reuse, rotation on a fake
// clock, denial backoff, the client certificate's rotation) and of serving a rotated certificate
// without restarting the HTTPS server.
#include "korral/agent/serving_cert.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "korral/apiserver/http/server.h"
#include "korral/base/status.h"
#include "korral/client/fake_client.h"
#include "korral/client/kubeconfig.h"
#include "korral/streaming/conn.h"

namespace korral::agent {
namespace {

using Json = nlohmann::json;
const client::ResourceRef kCsrs{"certificates.k8s.io", "v1", "certificatesigningrequests", false};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "serving_cert_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class CertificateManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ca = pki::NewSelfSignedCA("cluster-ca");
    ASSERT_TRUE(ca.ok());
    ca_ = *ca;
  }

  CertificateManagerOptions Options() {
    CertificateManagerOptions o;
    o.name = "kubelet-serving";
    o.signer_name = kKubeletServingSigner;
    o.request.common_name = "system:node:n1";
    o.request.organizations = {"system:nodes"};
    o.request.dns_names = {"n1"};
    o.request.ip_addresses = {"10.0.0.5"};
    o.usages = {"digital signature", "key encipherment", "server auth"};
    o.store_path = dir_.path() + "/pki/kubelet-server-current.pem";
    o.ca_pem = ca_.cert_pem;
    o.client = &client_;
    o.clock = &clock_;
    o.jitter = [] { return 0.8; };
    return o;
  }

  // The names of the CSRs in the fake API.
  std::vector<std::string> CsrNames() {
    std::vector<std::string> out;
    auto list = client_.List(kCsrs, "");
    EXPECT_TRUE(list.ok());
    for (const auto& i : (*list)["items"]) out.push_back(i["metadata"]["name"]);
    return out;
  }

  // Plays approver + signer for `name`: a certificate valid for `lifetime`.
  std::string Issue(const std::string& name, std::chrono::seconds lifetime) {
    auto csr = client_.Get(kCsrs, "", name);
    EXPECT_TRUE(csr.ok());
    std::string pem;
    EXPECT_TRUE(absl::Base64Unescape((*csr)["spec"]["request"].get<std::string>(), &pem));
    std::vector<std::string> usages = (*csr)["spec"]["usages"];
    auto cert = pki::SignCsr(ca_, pem, usages, lifetime, std::chrono::seconds(0));
    EXPECT_TRUE(cert.ok()) << cert.status();
    Json updated = *csr;
    updated["status"] = {{"conditions", {{{"type", "Approved"}, {"status", "True"}}}},
                         {"certificate", absl::Base64Escape(*cert)}};
    EXPECT_TRUE(client_.Update(kCsrs, "", updated, "status").ok());
    return *cert;
  }

  void Condition(const std::string& name, const std::string& type) {
    auto csr = client_.Get(kCsrs, "", name);
    ASSERT_TRUE(csr.ok());
    Json updated = *csr;
    updated["status"] = {
        {"conditions", {{{"type", type}, {"status", "True"}, {"reason", "Because"}}}}};
    ASSERT_TRUE(client_.Update(kCsrs, "", updated, "status").ok());
  }

  TempDir dir_;
  pki::CertKeyPair ca_;
  client::FakeClient client_;
  FakeClock clock_{std::chrono::system_clock::now()};
};

TEST_F(CertificateManagerTest, RequestsWaitsAdoptsStoresAndIsReusedAfterRestart) {
  CertificateManager m(Options());
  EXPECT_EQ(m.Current(), nullptr);
  ASSERT_TRUE(m.Tick().ok());
  std::vector<std::string> names = CsrNames();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(m.PendingRequest(), names[0]);
  // What the CSR asks for.
  auto csr = client_.Get(kCsrs, "", names[0]);
  ASSERT_TRUE(csr.ok());
  EXPECT_EQ((*csr)["spec"]["signerName"], "kubernetes.io/kubelet-serving");
  EXPECT_EQ((*csr)["spec"]["usages"],
            Json({"digital signature", "key encipherment", "server auth"}));
  std::string pem;
  ASSERT_TRUE(absl::Base64Unescape((*csr)["spec"]["request"].get<std::string>(), &pem));
  auto info = pki::ParseCsr(pem);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->common_name, "system:node:n1");
  EXPECT_EQ(info->organizations, std::vector<std::string>{"system:nodes"});
  EXPECT_EQ(info->dns_names, std::vector<std::string>{"n1"});
  EXPECT_EQ(info->ip_addresses, std::vector<std::string>{"10.0.0.5"});

  // Not issued yet: still waiting, no second request.
  ASSERT_TRUE(m.Tick().ok());
  EXPECT_EQ(CsrNames().size(), 1u);
  EXPECT_EQ(m.Current(), nullptr);

  std::string cert = Issue(names[0], std::chrono::hours(10));
  ASSERT_TRUE(m.Tick().ok());
  ASSERT_NE(m.Current(), nullptr);
  EXPECT_EQ(m.Current()->cert_pem, cert);
  EXPECT_EQ(m.PendingRequest(), "");
  auto ci = pki::ParseCertificate(cert);
  ASSERT_TRUE(ci.ok());
  auto deadline = std::chrono::system_clock::from_time_t(ci->not_before_unix) +
                  std::chrono::seconds(8 * 3600);  // 80% of 10 h
  EXPECT_LE(std::chrono::abs(m.RotationDeadline() - deadline), std::chrono::seconds(1));
  // Stored 0600 as certificate + key.
  struct stat st {};
  ASSERT_EQ(::stat(Options().store_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Nothing more to do before the deadline.
  clock_.Advance(std::chrono::hours(7));
  ASSERT_TRUE(m.Tick().ok());
  EXPECT_EQ(CsrNames().size(), 1u);

  // A restarted agent reuses the stored pair without asking again.
  CertificateManager again(Options());
  ASSERT_TRUE(again.LoadStored().ok());
  ASSERT_NE(again.Current(), nullptr);
  EXPECT_EQ(again.Current()->cert_pem, cert);
  ASSERT_TRUE(again.Tick().ok());
  EXPECT_EQ(CsrNames().size(), 1u);
}

TEST_F(CertificateManagerTest, RotatesAtTheDeadlineAndServesTheOldOneMeanwhile) {
  CertificateManager m(Options());
  ASSERT_TRUE(m.Tick().ok());
  std::string first = Issue(CsrNames()[0], std::chrono::hours(10));
  ASSERT_TRUE(m.Tick().ok());
  ASSERT_NE(m.Current(), nullptr);

  clock_.Advance(std::chrono::hours(8) + std::chrono::minutes(1));
  ASSERT_TRUE(m.Tick().ok());
  std::string renewal = m.PendingRequest();
  ASSERT_FALSE(renewal.empty());
  EXPECT_EQ(CsrNames().size(), 2u);
  EXPECT_EQ(m.Current()->cert_pem, first);  // still served while the renewal is pending

  // (The signer uses the real clock, 8 h behind the fake one: a longer lifetime keeps the new
  // deadline ahead of the fake clock.)
  std::string second = Issue(renewal, std::chrono::hours(20));
  ASSERT_TRUE(m.Tick().ok());
  EXPECT_EQ(m.Current()->cert_pem, second);
  EXPECT_NE(first, second);
  EXPECT_GT(m.RotationDeadline(), clock_.Now());
  // The renewed certificate has a new key.
  EXPECT_FALSE(pki::CheckKeyMatchesCert(first, m.Current()->key_pem).ok());
}

TEST_F(CertificateManagerTest, JitterDefaultsToSeventyToNinetyPercent) {
  auto o = Options();
  o.jitter = nullptr;
  auto key = pki::NewPrivateKey();
  ASSERT_TRUE(key.ok());
  auto csr = pki::NewCsr(*key, o.request);
  ASSERT_TRUE(csr.ok());
  auto cert = pki::SignCsr(ca_, *csr, o.usages, std::chrono::hours(100), std::chrono::seconds(0));
  ASSERT_TRUE(cert.ok());
  auto ci = pki::ParseCertificate(*cert);
  auto nb = std::chrono::system_clock::from_time_t(ci->not_before_unix);
  for (int i = 0; i < 20; ++i) {
    CertificateManager m(o);
    ASSERT_TRUE(m.Adopt({*cert, *key}).ok());
    EXPECT_GE(m.RotationDeadline(), nb + std::chrono::hours(70) - std::chrono::seconds(1));
    EXPECT_LE(m.RotationDeadline(), nb + std::chrono::hours(90) + std::chrono::seconds(1));
  }
}

TEST_F(CertificateManagerTest, DeniedOrFailedRequestsBackOffThenRetry) {
  CertificateManager m(Options());
  ASSERT_TRUE(m.Tick().ok());
  Condition(CsrNames()[0], "Denied");
  absl::Status s = m.Tick();
  EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(StatusMessage(s).find("was denied: Because"), std::string::npos) << s;
  EXPECT_EQ(m.PendingRequest(), "");
  ASSERT_TRUE(m.Tick().ok());
  EXPECT_EQ(CsrNames().size(), 1u);  // backing off
  clock_.Advance(std::chrono::seconds(31));
  ASSERT_TRUE(m.Tick().ok());
  EXPECT_EQ(CsrNames().size(), 2u);
  EXPECT_EQ(m.Current(), nullptr);
}

TEST_F(CertificateManagerTest, AbandonsARequestNobodyAnswers) {
  CertificateManager m(Options());
  ASSERT_TRUE(m.Tick().ok());
  clock_.Advance(std::chrono::minutes(16));
  EXPECT_EQ(m.Tick().code(), absl::StatusCode::kDeadlineExceeded);
  ASSERT_TRUE(m.Tick().ok());
  EXPECT_EQ(CsrNames().size(), 2u);
}

TEST_F(CertificateManagerTest, AdoptRefusesUnusablePairs) {
  CertificateManager m(Options());
  auto sign = [&](const pki::CertKeyPair& ca, std::string cn, std::vector<std::string> ips,
                  std::chrono::seconds life) {
    auto key = pki::NewPrivateKey();
    pki::CsrOptions r{cn, {"system:nodes"}, {"n1"}, std::move(ips)};
    auto csr = pki::NewCsr(*key, r);
    auto cert = pki::SignCsr(ca, *csr, {"server auth"}, life, std::chrono::seconds(0));
    EXPECT_TRUE(cert.ok());
    return pki::CertKeyPair{*cert, *key};
  };
  auto ok = sign(ca_, "system:node:n1", {"10.0.0.5"}, std::chrono::hours(1));
  EXPECT_TRUE(m.Adopt(ok).ok());
  EXPECT_FALSE(m.Adopt({ok.cert_pem, pki::NewPrivateKey().value()}).ok());  // not its key
  EXPECT_FALSE(m.Adopt(sign(ca_, "system:node:n2", {"10.0.0.5"}, std::chrono::hours(1))).ok());
  EXPECT_FALSE(m.Adopt(sign(ca_, "system:node:n1", {"10.0.0.6"}, std::chrono::hours(1))).ok());
  auto other = pki::NewSelfSignedCA("other");
  EXPECT_FALSE(m.Adopt(sign(*other, "system:node:n1", {"10.0.0.5"}, std::chrono::hours(1))).ok());
  auto short_lived = sign(ca_, "system:node:n1", {"10.0.0.5"}, std::chrono::seconds(600));
  clock_.Advance(std::chrono::hours(1));
  EXPECT_FALSE(m.Adopt(short_lived).ok());  // expired on the (fake) clock
}

TEST_F(CertificateManagerTest, NodeClientCertificateIsRotatedIntoTheKubeconfig) {
  // The agent's kubeconfig holds a client certificate for system:node:n1.
  pki::CertOptions co;
  co.common_name = "system:node:n1";
  co.organizations = {"system:nodes"};
  co.usage = pki::CertUsage::kClient;
  auto initial = pki::NewSignedCert(ca_, co);
  ASSERT_TRUE(initial.ok());
  std::string kubeconfig = dir_.path() + "/kubelet.kubeconfig";
  client::RestConfig rc;
  rc.host = "https://127.0.0.1:6443";
  rc.ca_pem = ca_.cert_pem;
  rc.client_cert_pem = initial->cert_pem;
  rc.client_key_pem = initial->key_pem;
  NodeCertificates certs({.node_name = "n1",
                          .data_dir = dir_.path(),
                          .clock = &clock_,
                          .poll_interval = std::chrono::hours(1)});
  certs.ConfigureClient(&rc, kubeconfig);
  ASSERT_TRUE(rc.client_certificate_source);
  EXPECT_EQ(rc.client_certificate_source().first, initial->cert_pem);
  CertificateManager* m = certs.client_manager();
  ASSERT_NE(m, nullptr);
  m->SetClient(&client_);
  // Past 90% of its year: renewal through the kubelet client signer.
  clock_.Advance(std::chrono::hours(24 * 330));
  ASSERT_TRUE(m->Tick().ok());
  auto names = CsrNames();
  ASSERT_EQ(names.size(), 1u);
  auto csr = client_.Get(kCsrs, "", names[0]);
  EXPECT_EQ((*csr)["spec"]["signerName"], "kubernetes.io/kube-apiserver-client-kubelet");
  // (The fake clock is ahead of the real one the signer uses: issue one that is still valid.)
  std::string renewed = Issue(names[0], std::chrono::hours(24 * 400));
  ASSERT_TRUE(m->Tick().ok());
  EXPECT_EQ(rc.client_certificate_source().first, renewed);
  auto written = client::LoadKubeconfig(kubeconfig);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_EQ(written->client_cert_pem, renewed);
  EXPECT_TRUE(pki::CheckKeyMatchesCert(renewed, written->client_key_pem).ok());
  EXPECT_EQ(written->host, "https://127.0.0.1:6443");
}

TEST_F(CertificateManagerTest, OtherIdentitiesAreNotRotated) {
  pki::CertOptions co;
  co.common_name = "admin";
  co.organizations = {"system:masters"};
  co.usage = pki::CertUsage::kClient;
  auto admin = pki::NewSignedCert(ca_, co);
  client::RestConfig rc;
  rc.client_cert_pem = admin->cert_pem;
  rc.client_key_pem = admin->key_pem;
  NodeCertificates certs({.node_name = "n1", .data_dir = dir_.path()});
  certs.ConfigureClient(&rc, "");
  EXPECT_FALSE(rc.client_certificate_source);
  EXPECT_EQ(certs.client_manager(), nullptr);
}

// The HTTPS server presents whatever certificate_source returns, per handshake: a rotated
// serving certificate is used without a restart, and clients verifying against the CA see it.
TEST(RotatedServingCertificateTest, ServerPresentsTheCurrentPair) {
  auto local_ca = pki::NewSelfSignedCA("node-local");
  auto cluster_ca = pki::NewSelfSignedCA("cluster");
  ASSERT_TRUE(local_ca.ok() && cluster_ca.ok());
  pki::CertOptions co;
  co.common_name = "n1";
  co.ip_addresses = {"127.0.0.1"};
  auto local = pki::NewSignedCert(*local_ca, co);
  auto issued = pki::NewSignedCert(*cluster_ca, co);
  ASSERT_TRUE(local.ok() && issued.ok());
  std::mutex mu;
  pki::CertKeyPair current = *local;
  http::ServerOptions so;
  so.cert_pem = local->cert_pem;
  so.key_pem = local->key_pem;
  so.certificate_source = [&]() -> std::pair<std::string, std::string> {
    std::lock_guard l(mu);
    return {current.cert_pem, current.key_pem};
  };
  auto server = http::NewServer(so, [](http::Request&) {
    http::Response r;
    r.body = "{}";
    return r;
  });
  ASSERT_TRUE(server->Start().ok());
  auto dial = [&](const std::string& ca) {
    streaming::TlsClientOptions t;
    t.ca_pem = ca;
    return streaming::DialTls("127.0.0.1", server->port(), t, std::chrono::seconds(5));
  };
  auto refused = dial(cluster_ca->cert_pem);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(StatusMessage(refused.status()),
            "tls: failed to verify certificate: x509: certificate signed by unknown authority");
  EXPECT_TRUE(dial(local_ca->cert_pem).ok());
  {
    std::lock_guard l(mu);
    current = *issued;
  }
  EXPECT_TRUE(dial(cluster_ca->cert_pem).ok());
  EXPECT_FALSE(dial(local_ca->cert_pem).ok());
  // A certificate for another address is refused with Go's wording.
  pki::CertOptions other = co;
  other.ip_addresses = {"10.1.2.3"};
  auto elsewhere = pki::NewSignedCert(*cluster_ca, other);
  {
    std::lock_guard l(mu);
    current = *elsewhere;
  }
  auto mismatch = dial(cluster_ca->cert_pem);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(StatusMessage(mismatch.status()),
            "tls: failed to verify certificate: x509: certificate is valid for 10.1.2.3, not "
            "127.0.0.1");
  server->Stop();
}

}  // namespace
}  // namespace korral::agent
