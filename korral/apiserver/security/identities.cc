#include "korral/apiserver/security/identities.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include <nlohmann/json.hpp>
#include "absl/strings/escaping.h"

#include "korral/apimachinery/yaml.h"
#include "korral/base/status.h"

namespace korral::apiserver::security {

namespace {

std::mutex g_mu;

bool ReusableKubeconfig(const std::string& path, const std::string& server_url,
                        const pki::CertKeyPair& ca) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = yaml::YamlToJson(ss.str());
  if (!j.ok()) return false;
  try {
    const auto& cluster = (*j)["clusters"][0]["cluster"];
    if (cluster["server"].get<std::string>() != server_url) return false;
    std::string cert;
    if (!absl::Base64Unescape(
            (*j)["users"][0]["user"]["client-certificate-data"].get<std::string>(), &cert)) {
      return false;
    }
    if (!pki::VerifyCertificate(cert, ca.cert_pem).ok()) return false;
    auto info = pki::ParseCertificate(cert);
    if (!info.ok()) return false;
    int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    return info->not_after_unix - now > 30 * 24 * 3600;
  } catch (...) {
    return false;
  }
}

}  // namespace

absl::StatusOr<std::string> EnsureComponentKubeconfig(const std::string& data_dir,
                                                      const std::string& server_url,
                                                      const pki::CertKeyPair& ca,
                                                      const std::string& identity) {
  if (identity.empty()) return absl::InvalidArgumentError("empty component identity");
  std::string file;
  for (char c : identity) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') {
      file.push_back(c);
    } else if (c == ':') {
      file.push_back('-');
    } else {
      return absl::InvalidArgumentError("invalid component identity \"" + identity + "\"");
    }
  }
  std::lock_guard l(g_mu);
  std::string dir = data_dir + "/kubeconfigs";
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  std::string path = dir + "/" + file + ".kubeconfig";
  if (ReusableKubeconfig(path, server_url, ca)) return path;
  pki::CertOptions opts;
  opts.common_name = identity;
  if (identity.rfind("system:node:", 0) == 0) opts.organizations = {"system:nodes"};
  opts.usage = pki::CertUsage::kClient;
  KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair cert, pki::NewSignedCert(ca, opts));
  std::string kc =
      pki::KubeconfigYaml(server_url, ca.cert_pem, cert.cert_pem, cert.key_pem, identity, "korral");
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return absl::InternalError("cannot write " + tmp);
  bool ok = ::write(fd, kc.data(), kc.size()) == static_cast<ssize_t>(kc.size());
  ::close(fd);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError("cannot write " + path);
  }
  return path;
}

}  // namespace korral::apiserver::security
