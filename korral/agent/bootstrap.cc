// korral/agent/bootstrap.cc
#include "korral/agent/bootstrap.h"

#include "korral/agent/agent.h"

#include <openssl/sha.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/controllers/certificates/csr.h"
#include "korral/pki/pki.h"

namespace korral::agent {
namespace {

constexpr char kSigner[] = "kubernetes.io/kube-apiserver-client-kubelet";

absl::Status Invalid(const std::string& m) {
  return absl::InvalidArgumentError(absl::string_view(m));
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::string_view("cannot read " + path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile0600(const std::string& path, const std::string& data) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path()) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return absl::InternalError(absl::string_view("mkdir " + p.parent_path().string()));
    chmod(p.parent_path().c_str(), 0700);
  }
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out) return absl::InternalError(absl::string_view("cannot write " + tmp));
    chmod(tmp.c_str(), 0600);
    out << data;
    if (!out.flush()) return absl::InternalError(absl::string_view("cannot write " + tmp));
  }
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::string_view("cannot rename " + tmp));
  return absl::OkStatus();
}

// True if `path` holds a usable kubeconfig for the node.
bool ExistingUsable(const BootstrapOptions& o, const std::string& ca_pem) {
  auto rc = client::LoadKubeconfig(o.kubeconfig_path);
  if (!rc.ok() || rc->client_cert_pem.empty() || rc->client_key_pem.empty()) return false;
  auto info = pki::ParseCertificate(rc->client_cert_pem);
  if (!info.ok() || info->common_name != "system:node:" + o.node_name) return false;
  if (!pki::VerifyCertificate(rc->client_cert_pem, ca_pem).ok()) return false;
  if (!pki::CheckKeyMatchesCert(rc->client_cert_pem, rc->client_key_pem).ok()) return false;
  return info->not_after_unix > static_cast<int64_t>(time(nullptr)) + 3600;
}

// Upstream's kubelet names its CSR after a digest of the key and node: a restart with the same
// key finds its earlier request.
std::string CsrName(const std::string& csr_pem, const std::string& node) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  std::string in = csr_pem + "\n" + node;
  SHA256(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  std::string hex;
  for (int i = 0; i < 12; ++i) hex += fmt::format("{:02x}", digest[i]);
  return "node-csr-" + hex;
}

std::string ConditionReason(const nlohmann::json& csr, const std::string& type) {
  if (!csr.contains("status") || !csr["status"].is_object()) return "";
  const auto& conds = csr["status"].value("conditions", nlohmann::json::array());
  for (const auto& c : conds) {
    if (c.is_object() && c.value("type", "") == type) {
      std::string reason = c.value("reason", "");
      std::string msg = c.value("message", "");
      return reason.empty() ? (msg.empty() ? type : msg) : reason + (msg.empty() ? "" : ": " + msg);
    }
  }
  return "";
}

}  // namespace

absl::StatusOr<std::pair<std::string, std::string>> ParseBootstrapToken(const std::string& token) {
  auto ok = [](const std::string& s, size_t n) {
    if (s.size() != n) return false;
    for (char c : s) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
    }
    return true;
  };
  auto dot = token.find('.');
  if (dot == std::string::npos || !ok(token.substr(0, dot), 6) || !ok(token.substr(dot + 1), 16)) {
    return Invalid("the bootstrap token must be of the form \"[a-z0-9]{6}.[a-z0-9]{16}\"");
  }
  return std::make_pair(token.substr(0, dot), token.substr(dot + 1));
}

absl::StatusOr<std::string> EnsureNodeKubeconfig(const BootstrapOptions& o,
                                                 client::Client* injected) {
  if (o.node_name.empty()) return Invalid("bootstrap: the node name is empty");
  if (o.kubeconfig_path.empty()) return Invalid("bootstrap: no kubeconfig path");
  auto ca = ReadFile(o.ca_file);
  if (!ca.ok()) return Invalid("bootstrap: --ca-file: " + std::string(StatusMessage(ca.status())));
  if (!pki::ParseCertificate(*ca).ok()) {
    return Invalid("bootstrap: --ca-file " + o.ca_file + " holds no PEM certificate");
  }
  if (ExistingUsable(o, *ca)) {
    KLOG(Info, "bootstrap: reusing the node credentials in {}", o.kubeconfig_path);
    return o.kubeconfig_path;
  }
  KORRAL_RETURN_IF_ERROR(ParseBootstrapToken(o.token).status());
  std::unique_ptr<client::RestClient> owned;
  client::Client* cl = injected;
  if (cl == nullptr) {
    client::RestConfig rc;
    rc.host = o.server;
    rc.ca_pem = *ca;
    rc.bearer_token = o.token;
    rc.user_agent = "korral-kubelet/" + o.node_name + " (bootstrap)";
    KORRAL_ASSIGN_OR_RETURN(owned, client::RestClient::New(rc));
    cl = owned.get();
  }
  KORRAL_ASSIGN_OR_RETURN(std::string key, certificates::NewPrivateKey());
  KORRAL_ASSIGN_OR_RETURN(
      std::string csr_pem,
      certificates::NewCsr(key, "system:node:" + o.node_name, {"system:nodes"}));
  std::string name = CsrName(csr_pem, o.node_name);
  nlohmann::json csr = {{"apiVersion", "certificates.k8s.io/v1"},
                        {"kind", "CertificateSigningRequest"},
                        {"metadata", {{"name", name}}},
                        {"spec",
                         {{"request", absl::Base64Escape(csr_pem)},
                          {"signerName", kSigner},
                          {"usages", {"digital signature", "client auth"}}}}};
  const client::ResourceRef csrs{"certificates.k8s.io", "v1", "certificatesigningrequests", false};
  auto created = cl->Create(csrs, "", csr);
  if (!created.ok() && !client::IsAlreadyExists(created.status())) {
    return absl::Status(created.status().code(),
                        absl::string_view("bootstrap: creating the certificate signing request: " +
                                          std::string(StatusMessage(created.status()))));
  }
  KLOG(Info, "bootstrap: waiting for certificate signing request {} to be approved and signed",
       name);
  auto deadline = std::chrono::steady_clock::now() + o.timeout;
  std::string cert_b64;
  for (int i = 0; i < 1000000; ++i) {
    auto cur = cl->Get(csrs, "", name);
    if (cur.ok()) {
      std::string denied = ConditionReason(*cur, "Denied");
      if (!denied.empty()) {
        return absl::PermissionDeniedError(absl::string_view(
            fmt::format("bootstrap: certificate signing request {} was denied: {}", name, denied)));
      }
      std::string failed = ConditionReason(*cur, "Failed");
      if (!failed.empty()) {
        return absl::PermissionDeniedError(absl::string_view(
            fmt::format("bootstrap: certificate signing request {} failed: {}", name, failed)));
      }
      if (cur->contains("status") && (*cur)["status"].is_object()) {
        cert_b64 = (*cur)["status"].value("certificate", "");
      }
      if (!cert_b64.empty()) break;
    } else if (!client::IsNotFound(cur.status())) {
      KLOG(Warning, "bootstrap: reading {}: {}", name, StatusMessage(cur.status()));
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return absl::DeadlineExceededError(absl::string_view(fmt::format(
          "bootstrap: no certificate for signing request {} within {}s (is it approved? "
          "`kubectl certificate approve {}`)",
          name, std::chrono::duration_cast<std::chrono::seconds>(o.timeout).count(), name)));
    }
    std::this_thread::sleep_for(o.poll_interval);
  }
  std::string cert;
  if (!absl::Base64Unescape(cert_b64, &cert) || !pki::ParseCertificate(cert).ok()) {
    return Invalid("bootstrap: the issued certificate does not parse");
  }
  if (auto s = pki::CheckKeyMatchesCert(cert, key); !s.ok()) {
    return Invalid("bootstrap: the issued certificate is not for our key");
  }
  std::string user = "system:node:" + o.node_name;
  KORRAL_RETURN_IF_ERROR(WriteFile0600(
      o.kubeconfig_path, pki::KubeconfigYaml(o.server, *ca, cert, key, user, "korral")));
  KLOG(Info, "bootstrap: node credentials for {} written to {}", user, o.kubeconfig_path);
  return o.kubeconfig_path;
}

absl::Status BootstrapFromFlags(AgentConfig* cfg, const std::string& token,
                                const std::string& ca_file) {
  if (token.empty()) {
    if (cfg->kubeconfig.empty()) return Invalid("--kubeconfig or --token is required");
    return absl::OkStatus();
  }
  if (cfg->server.empty()) return Invalid("--token needs --server (the apiserver URL)");
  if (ca_file.empty()) return Invalid("--token needs --ca-file (the cluster CA certificate)");
  if (cfg->data_dir.empty()) return Invalid("--data-dir is required");
  if (cfg->node_name.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    cfg->node_name = host;
    for (auto& c : cfg->node_name) c = static_cast<char>(std::tolower(c));
  }
  BootstrapOptions o;
  o.server = cfg->server;
  o.token = token;
  o.ca_file = ca_file;
  o.node_name = cfg->node_name;
  o.kubeconfig_path =
      cfg->kubeconfig.empty()
          ? (std::filesystem::absolute(cfg->data_dir) / "kubelet.kubeconfig").string()
          : cfg->kubeconfig;
  KORRAL_ASSIGN_OR_RETURN(cfg->kubeconfig, EnsureNodeKubeconfig(o));
  return absl::OkStatus();
}

}  // namespace korral::agent
