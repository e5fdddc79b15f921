#include "korral/pki/pki.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/escaping.h"

namespace korral::pki {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pki_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

mode_t Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

TEST(PkiTest, SelfSignedCaIsCa) {
  absl::StatusOr<CertKeyPair> ca = NewSelfSignedCA("test-ca", 30);
  ASSERT_TRUE(ca.ok()) << ca.status();
  EXPECT_NE(ca->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(ca->key_pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  absl::StatusOr<CertInfo> info = ParseCertificate(ca->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "test-ca");
  EXPECT_TRUE(info->is_ca);
  EXPECT_GT(info->not_after_unix, info->not_before_unix + 29 * 86400);
  EXPECT_TRUE(VerifyCertificate(ca->cert_pem, ca->cert_pem).ok());
  EXPECT_TRUE(CheckKeyMatchesCert(ca->cert_pem, ca->key_pem).ok());
}

TEST(PkiTest, RejectsBadArguments) {
  EXPECT_FALSE(NewSelfSignedCA("", 30).ok());
  EXPECT_FALSE(NewSelfSignedCA("x", 0).ok());
  absl::StatusOr<CertKeyPair> ca = NewSelfSignedCA("ca");
  ASSERT_TRUE(ca.ok());
  CertOptions opts;
  opts.common_name = "x";
  opts.ip_addresses = {"300.1.1.1"};
  EXPECT_EQ(NewSignedCert(*ca, opts).status().code(), absl::StatusCode::kInvalidArgument);
  opts.ip_addresses.clear();
  EXPECT_EQ(NewSignedCert(CertKeyPair{"junk", "junk"}, opts).status().code(),
            absl::StatusCode::kInvalidArgument);
  CertKeyPair mismatched{ca->cert_pem, NewSelfSignedCA("other")->key_pem};
  EXPECT_FALSE(NewSignedCert(mismatched, opts).ok());
  EXPECT_FALSE(ParseCertificate("not a cert").ok());
}

TEST(PkiTest, SignedCertVerifiesAndCarriesSubjectAndSans) {
  absl::StatusOr<CertKeyPair> ca = NewSelfSignedCA("test-ca");
  ASSERT_TRUE(ca.ok()) << ca.status();
  CertOptions opts;
  opts.common_name = "alice";
  opts.organizations = {"dev", "system:masters"};
  opts.dns_names = {"localhost", "api.example.com"};
  opts.ip_addresses = {"127.0.0.1", "::1", "10.0.0.1"};
  opts.usage = CertUsage::kServerAndClient;
  absl::StatusOr<CertKeyPair> leaf = NewSignedCert(*ca, opts);
  ASSERT_TRUE(leaf.ok()) << leaf.status();

  EXPECT_TRUE(VerifyCertificate(leaf->cert_pem, ca->cert_pem).ok());
  EXPECT_TRUE(CheckKeyMatchesCert(leaf->cert_pem, leaf->key_pem).ok());
  EXPECT_FALSE(CheckKeyMatchesCert(leaf->cert_pem, ca->key_pem).ok());

  absl::StatusOr<CertInfo> info = ParseCertificate(leaf->cert_pem);
  ASSERT_TRUE(info.ok()) << info.status();
  EXPECT_EQ(info->common_name, "alice");
  EXPECT_THAT(info->organizations, ElementsAre("dev", "system:masters"));
  EXPECT_THAT(info->dns_names, ElementsAre("localhost", "api.example.com"));
  EXPECT_THAT(info->ip_addresses, ElementsAre("127.0.0.1", "::1", "10.0.0.1"));
  EXPECT_FALSE(info->is_ca);

  // Another CA does not vouch for it.
  absl::StatusOr<CertKeyPair> other = NewSelfSignedCA("other-ca");
  ASSERT_TRUE(other.ok());
  absl::Status st = VerifyCertificate(leaf->cert_pem, other->cert_pem);
  EXPECT_EQ(st.code(), absl::StatusCode::kPermissionDenied) << st;
}

TEST(PkiTest, SerialsDiffer) {
  absl::StatusOr<CertKeyPair> a = NewSelfSignedCA("same");
  absl::StatusOr<CertKeyPair> b = NewSelfSignedCA("same");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->cert_pem, b->cert_pem);
}

TEST(PkiTest, EnsureClusterPkiCreatesThenReuses) {
  TempDir tmp;
  const std::string dir = tmp.path() + "/data";
  PkiOptions opts;
  opts.bind_address = "127.0.0.2";
  opts.extra_sans = {"10.96.0.1", "my.host"};
  ASSERT_TRUE(EnsureClusterPki(dir, opts).ok());

  const std::string tls = dir + "/tls";
  EXPECT_EQ(Mode(dir), 0700u);
  EXPECT_EQ(Mode(tls), 0700u);
  EXPECT_EQ(Mode(tls + "/ca.key"), 0600u);
  EXPECT_EQ(Mode(tls + "/server.key"), 0600u);
  EXPECT_EQ(Mode(tls + "/admin.key"), 0600u);
  EXPECT_EQ(Mode(tls + "/ca.crt"), 0644u);

  absl::StatusOr<ClusterPki> first = LoadClusterPki(dir);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(VerifyCertificate(first->server.cert_pem, first->ca.cert_pem).ok());
  EXPECT_TRUE(VerifyCertificate(first->admin.cert_pem, first->ca.cert_pem).ok());

  absl::StatusOr<CertInfo> server = ParseCertificate(first->server.cert_pem);
  ASSERT_TRUE(server.ok());
  EXPECT_THAT(server->ip_addresses, Contains("127.0.0.1"));
  EXPECT_THAT(server->ip_addresses, Contains("127.0.0.2"));
  EXPECT_THAT(server->ip_addresses, Contains("10.96.0.1"));
  EXPECT_THAT(server->dns_names, Contains("localhost"));
  EXPECT_THAT(server->dns_names, Contains("my.host"));
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_THAT(server->dns_names, Contains(std::string(host)));

  absl::StatusOr<CertInfo> admin = ParseCertificate(first->admin.cert_pem);
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(admin->common_name, "admin");
  EXPECT_THAT(admin->organizations, ElementsAre("system:masters"));

  // Second start with the same options: nothing changes.
  ASSERT_TRUE(EnsureClusterPki(dir, opts).ok());
  absl::StatusOr<ClusterPki> second = LoadClusterPki(dir);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->ca.cert_pem, first->ca.cert_pem);
  EXPECT_EQ(second->ca.key_pem, first->ca.key_pem);
  EXPECT_EQ(second->server.cert_pem, first->server.cert_pem);
  EXPECT_EQ(second->admin.cert_pem, first->admin.cert_pem);

  // A new SAN: the server cert is reissued by the same CA, the rest kept.
  opts.extra_sans.push_back("fd00::10");
  ASSERT_TRUE(EnsureClusterPki(dir, opts).ok());
  absl::StatusOr<ClusterPki> third = LoadClusterPki(dir);
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(third->ca.cert_pem, first->ca.cert_pem);
  EXPECT_EQ(third->admin.cert_pem, first->admin.cert_pem);
  EXPECT_NE(third->server.cert_pem, first->server.cert_pem);
  EXPECT_TRUE(VerifyCertificate(third->server.cert_pem, third->ca.cert_pem).ok());
  EXPECT_THAT(ParseCertificate(third->server.cert_pem)->ip_addresses, Contains("fd00::10"));

  // A removed admin cert is recreated.
  std::filesystem::remove(tls + "/admin.crt");
  ASSERT_TRUE(EnsureClusterPki(dir, opts).ok());
  EXPECT_TRUE(VerifyCertificate(ReadAll(tls + "/admin.crt"), first->ca.cert_pem).ok());
}

TEST(PkiTest, EnsureClusterPkiRefusesBrokenCa) {
  TempDir tmp;
  ASSERT_TRUE(EnsureClusterPki(tmp.path(), PkiOptions{}).ok());
  std::ofstream(tmp.path() + "/tls/ca.key") << "garbage";
  EXPECT_FALSE(EnsureClusterPki(tmp.path(), PkiOptions{}).ok());
}

TEST(PkiTest, KubeconfigEmbedsBase64) {
  std::string yaml =
      KubeconfigYaml("https://127.0.0.1:6443", "CA PEM", "CERT PEM", "KEY PEM", "admin", "korral");
  YAML::Node n = YAML::Load(yaml);
  EXPECT_EQ(n["apiVersion"].as<std::string>(), "v1");
  EXPECT_EQ(n["kind"].as<std::string>(), "Config");
  EXPECT_EQ(n["current-context"].as<std::string>(), "default");
  EXPECT_EQ(n["clusters"][0]["name"].as<std::string>(), "korral");
  EXPECT_EQ(n["clusters"][0]["cluster"]["server"].as<std::string>(), "https://127.0.0.1:6443");
  std::string decoded;
  ASSERT_TRUE(absl::Base64Unescape(
      n["clusters"][0]["cluster"]["certificate-authority-data"].as<std::string>(), &decoded));
  EXPECT_EQ(decoded, "CA PEM");
  ASSERT_TRUE(absl::Base64Unescape(
      n["users"][0]["user"]["client-certificate-data"].as<std::string>(), &decoded));
  EXPECT_EQ(decoded, "CERT PEM");
  ASSERT_TRUE(
      absl::Base64Unescape(n["users"][0]["user"]["client-key-data"].as<std::string>(), &decoded));
  EXPECT_EQ(decoded, "KEY PEM");
  EXPECT_EQ(n["users"][0]["name"].as<std::string>(), "admin");
  EXPECT_EQ(n["contexts"][0]["name"].as<std::string>(), "default");
  EXPECT_EQ(n["contexts"][0]["context"]["cluster"].as<std::string>(), "korral");
  EXPECT_EQ(n["contexts"][0]["context"]["user"].as<std::string>(), "admin");
}

}  // namespace
}  // namespace korral::pki
