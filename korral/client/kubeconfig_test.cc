#include "korral/client/kubeconfig.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "absl/strings/escaping.h"

namespace korral::client {
namespace {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kubeconfig_test_XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path() const { return path_; }
  void Write(const std::string& rel, const std::string& content) {
    std::filesystem::path p = path_ / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << content;
  }

 private:
  std::filesystem::path path_;
};

TEST(KubeconfigTest, EmbeddedData) {
  std::string yaml = R"(apiVersion: v1
kind: Config
current-context: admin@korral
clusters:
- name: other
  cluster:
    server: https://10.0.0.1:6443
- name: korral
  cluster:
    server: https://127.0.0.1:6443
    certificate-authority-data: )" +
                     absl::Base64Escape("CA PEM") + R"(
contexts:
- name: admin@korral
  context:
    cluster: korral
    user: admin
    namespace: kube-system
- name: token@other
  context:
    cluster: other
    user: tok
users:
- name: admin
  user:
    client-certificate-data: )" +
                     absl::Base64Escape("CERT PEM") + R"(
    client-key-data: )" +
                     absl::Base64Escape("KEY PEM") + R"(
- name: tok
  user:
    token: abc.def
)";
  auto cfg = ParseKubeconfig(yaml, "/nonexistent");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->host, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, "CA PEM");
  EXPECT_EQ(cfg->client_cert_pem, "CERT PEM");
  EXPECT_EQ(cfg->client_key_pem, "KEY PEM");
  EXPECT_EQ(cfg->default_namespace, "kube-system");
  EXPECT_FALSE(cfg->insecure);
  EXPECT_TRUE(cfg->bearer_token.empty());

  auto other = ParseKubeconfig(yaml, "/nonexistent", "token@other");
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ(other->host, "https://10.0.0.1:6443");
  EXPECT_EQ(other->bearer_token, "abc.def");
  EXPECT_TRUE(other->ca_pem.empty());

  EXPECT_EQ(ParseKubeconfig(yaml, "/", "missing").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(KubeconfigTest, FilePathsResolveAgainstKubeconfigDir) {
  TempDir dir;
  dir.Write("pki/ca.crt", "CA FROM FILE");
  dir.Write("pki/admin.crt", "CERT FROM FILE");
  dir.Write("abs-key.pem", "KEY FROM FILE");
  dir.Write("token", "secret-token\n");
  std::string abs_key = dir.path() + "/abs-key.pem";
  dir.Write("config", R"(apiVersion: v1
kind: Config
current-context: c
clusters:
- name: k
  cluster:
    server: 127.0.0.1:6443
    certificate-authority: pki/ca.crt
    insecure-skip-tls-verify: true
contexts:
- name: c
  context: {cluster: k, user: u}
users:
- name: u
  user:
    client-certificate: pki/admin.crt
    client-key: )" + abs_key +
                          R"(
    tokenFile: token
)");
  auto cfg = LoadKubeconfig(dir.path() + "/config");
  ASSERT_TRUE(cfg.ok()) << cfg.status();
  EXPECT_EQ(cfg->host, "https://127.0.0.1:6443");
  EXPECT_EQ(cfg->ca_pem, "CA FROM FILE");
  EXPECT_EQ(cfg->client_cert_pem, "CERT FROM FILE");
  EXPECT_EQ(cfg->client_key_pem, "KEY FROM FILE");
  EXPECT_EQ(cfg->bearer_token, "secret-token");
  EXPECT_TRUE(cfg->insecure);
}

TEST(KubeconfigTest, Errors) {
  EXPECT_EQ(LoadKubeconfig("/nonexistent/kubeconfig").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ParseKubeconfig("clusters: [", "/").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseKubeconfig("kind: Config\n", "/").status().code(),
            absl::StatusCode::kInvalidArgument);
  TempDir dir;
  std::string missing_file = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h", certificate-authority: nope.crt}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  EXPECT_EQ(ParseKubeconfig(missing_file, dir.path()).status().code(), absl::StatusCode::kNotFound);
  std::string bad_b64 = R"(current-context: c
clusters: [{name: k, cluster: {server: "https://h", certificate-authority-data: "!!!"}}]
contexts: [{name: c, context: {cluster: k}}]
)";
  EXPECT_EQ(ParseKubeconfig(bad_b64, "/").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace korral::client
