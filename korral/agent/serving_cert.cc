// korral/agent/serving_cert.cc
#include "korral/agent/serving_cert.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/escaping.h"
#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/client.h"
#include "korral/client/errors.h"
#include "korral/client/kubeconfig.h"

namespace korral::agent {
namespace {

using Json = nlohmann::json;
using SysTime = std::chrono::system_clock::time_point;

const client::ResourceRef kCsrs{"certificates.k8s.io", "v1", "certificatesigningrequests", false};

absl::Status Invalid(const std::string& m) {
  return absl::InvalidArgumentError(absl::string_view(m));
}

std::string CanonicalIp(const std::string& ip) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, text, sizeof text);
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return inet_ntop(AF_INET6, buf, text, sizeof text);
  return ip;
}

double RandomJitter() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  std::lock_guard l(mu);
  return std::uniform_real_distribution<double>(0.7, 0.9)(rng);
}

std::string RandomSuffix() {
  static std::mutex mu;
  static std::mt19937_64 rng(std::random_device{}());
  static const char kAlphabet[] = "bcdfghjklmnpqrstvwxz2456789";  // as apimachinery's rand
  std::lock_guard l(mu);
  std::string out;
  for (int i = 0; i < 5; ++i) out += kAlphabet[rng() % (sizeof kAlphabet - 1)];
  return out;
}

// Writes `data` to `path` through a 0600 temporary file and a rename; the directory is made
// 0700 if missing.
absl::Status WriteSecretFile(const std::string& path, const std::string& data) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (p.has_parent_path() && !std::filesystem::exists(p.parent_path(), ec)) {
    std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) return absl::InternalError(absl::string_view("mkdir " + p.parent_path().string()));
    ::chmod(p.parent_path().c_str(), 0700);
  }
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::string_view("open " + tmp + ": " + std::strerror(errno)));
  }
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      return absl::InternalError(absl::string_view("write " + tmp + ": " + std::strerror(errno)));
    }
    off += static_cast<size_t>(n);
  }
  ::fchmod(fd, 0600);
  ::fsync(fd);
  ::close(fd);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::string_view("rename " + path + ": " + std::strerror(errno)));
  }
  return absl::OkStatus();
}

// The reason of the first condition of `type`, or "" if there is none.
std::string ConditionReason(const Json& csr, const char* type) {
  if (!csr.contains("status") || !csr["status"].is_object()) return "";
  const Json& conds = csr["status"].value("conditions", Json::array());
  if (!conds.is_array()) return "";
  for (const auto& c : conds) {
    if (c.is_object() && c.value("type", "") == type) {
      std::string reason = c.value("reason", std::string(type));
      std::string msg = c.value("message", "");
      return msg.empty() ? reason : reason + ": " + msg;
    }
  }
  return "";
}

std::string FormatUnix(SysTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

// ---------------- CertificateManager ----------------

CertificateManager::CertificateManager(CertificateManagerOptions options)
    : options_(std::move(options)), client_(options_.client) {}

void CertificateManager::SetClient(client::Client* client) {
  std::lock_guard l(mu_);
  client_ = client;
}

client::Client* CertificateManager::Client() const {
  std::lock_guard l(mu_);
  return client_;
}

CertificateManager::~CertificateManager() { Stop(); }

absl::Status CertificateManager::Adopt(pki::CertKeyPair pair) {
  KORRAL_ASSIGN_OR_RETURN(pki::CertInfo info, pki::ParseCertificate(pair.cert_pem));
  KORRAL_RETURN_IF_ERROR(pki::CheckKeyMatchesCert(pair.cert_pem, pair.key_pem));
  if (info.common_name != options_.request.common_name) {
    return Invalid("the certificate is for " + info.common_name + ", not " +
                   options_.request.common_name);
  }
  for (const auto& d : options_.request.dns_names) {
    if (std::find(info.dns_names.begin(), info.dns_names.end(), d) == info.dns_names.end()) {
      return Invalid("the certificate does not cover DNS name " + d);
    }
  }
  for (const auto& ip : options_.request.ip_addresses) {
    std::string c = CanonicalIp(ip);
    if (std::find(info.ip_addresses.begin(), info.ip_addresses.end(), c) ==
        info.ip_addresses.end()) {
      return Invalid("the certificate does not cover IP address " + ip);
    }
  }
  if (!options_.ca_pem.empty()) {
    KORRAL_RETURN_IF_ERROR(pki::VerifyCertificate(pair.cert_pem, options_.ca_pem));
  }
  SysTime not_before = std::chrono::system_clock::from_time_t(info.not_before_unix);
  SysTime not_after = std::chrono::system_clock::from_time_t(info.not_after_unix);
  if (options_.clock->Now() >= not_after) return Invalid("the certificate has expired");
  double fraction = options_.jitter ? options_.jitter() : RandomJitter();
  fraction = std::clamp(fraction, 0.0, 1.0);
  auto lifetime = not_after - not_before;
  SysTime deadline =
      not_before +
      std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(
          std::chrono::duration_cast<std::chrono::duration<double>>(lifetime).count() * fraction));
  std::lock_guard l(mu_);
  current_ = std::make_shared<const pki::CertKeyPair>(std::move(pair));
  deadline_ = deadline;
  return absl::OkStatus();
}

absl::Status CertificateManager::LoadStored() {
  if (options_.store_path.empty()) return absl::NotFoundError("no store path");
  std::ifstream in(options_.store_path);
  if (!in) return absl::NotFoundError(absl::string_view(options_.store_path));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  size_t key_at = text.find("-----BEGIN PRIVATE KEY-----");
  if (key_at == std::string::npos) key_at = text.find("-----BEGIN EC PRIVATE KEY-----");
  if (key_at == std::string::npos) {
    return Invalid(options_.store_path + " holds no private key");
  }
  pki::CertKeyPair pair{text.substr(0, key_at), text.substr(key_at)};
  return Adopt(std::move(pair));
}

std::shared_ptr<const pki::CertKeyPair> CertificateManager::Current() const {
  std::lock_guard l(mu_);
  return current_;
}

SysTime CertificateManager::RotationDeadline() const {
  std::lock_guard l(mu_);
  return deadline_;
}

std::string CertificateManager::PendingRequest() const {
  std::lock_guard l(mu_);
  return pending_name_;
}

absl::Status CertificateManager::Store(const pki::CertKeyPair& pair) {
  if (!options_.store_path.empty()) {
    KORRAL_RETURN_IF_ERROR(WriteSecretFile(options_.store_path, pair.cert_pem + pair.key_pem));
  }
  return absl::OkStatus();
}

absl::Status CertificateManager::Request() {
  client::Client* cl = Client();
  if (cl == nullptr) return absl::FailedPreconditionError("no API client");
  SysTime now = options_.clock->Now();
  KORRAL_ASSIGN_OR_RETURN(std::string key, pki::NewPrivateKey());
  KORRAL_ASSIGN_OR_RETURN(std::string csr_pem, pki::NewCsr(key, options_.request));
  std::string name = "csr-" + RandomSuffix();
  Json csr = {{"apiVersion", "certificates.k8s.io/v1"},
              {"kind", "CertificateSigningRequest"},
              {"metadata", {{"name", name}}},
              {"spec",
               {{"request", absl::Base64Escape(csr_pem)},
                {"signerName", options_.signer_name},
                {"usages", options_.usages}}}};
  auto created = cl->Create(kCsrs, "", csr);
  if (!created.ok()) {
    std::lock_guard l(mu_);
    retry_after_ = now + options_.retry_backoff;
    return absl::Status(created.status().code(),
                        absl::string_view(fmt::format("{}: creating a certificate signing request "
                                                      "for {}: {}",
                                                      options_.name, options_.signer_name,
                                                      StatusMessage(created.status()))));
  }
  KLOG(Info, "certificates: {}: waiting for certificate signing request {} ({}) to be approved",
       options_.name, name, options_.signer_name);
  std::lock_guard l(mu_);
  pending_name_ = name;
  pending_key_ = std::move(key);
  pending_since_ = now;
  return absl::OkStatus();
}

absl::Status CertificateManager::FollowUp() {
  std::string name, key;
  SysTime since;
  {
    std::lock_guard l(mu_);
    name = pending_name_;
    key = pending_key_;
    since = pending_since_;
  }
  SysTime now = options_.clock->Now();
  auto drop = [&](std::chrono::seconds backoff) {
    std::lock_guard l(mu_);
    pending_name_.clear();
    pending_key_.clear();
    retry_after_ = now + backoff;
  };
  auto got = Client()->Get(kCsrs, "", name);
  if (!got.ok()) {
    if (client::IsNotFound(got.status())) {
      drop(std::chrono::seconds(0));
      return absl::NotFoundError(absl::string_view(
          fmt::format("{}: certificate signing request {} is gone", options_.name, name)));
    }
    return got.status();
  }
  for (const char* type : {"Denied", "Failed"}) {
    std::string reason = ConditionReason(*got, type);
    if (!reason.empty()) {
      drop(options_.retry_backoff);
      return absl::PermissionDeniedError(absl::string_view(
          fmt::format("{}: certificate signing request {} {}: {}", options_.name, name,
                      std::string(type) == "Denied" ? "was denied" : "failed", reason)));
    }
  }
  std::string cert_b64;
  if (got->contains("status") && (*got)["status"].is_object()) {
    cert_b64 = (*got)["status"].value("certificate", "");
  }
  if (cert_b64.empty()) {
    if (now - since > options_.request_timeout) {
      drop(std::chrono::seconds(0));
      return absl::DeadlineExceededError(absl::string_view(
          fmt::format("{}: certificate signing request {} was not issued within {}s; asking "
                      "again",
                      options_.name, name, options_.request_timeout.count())));
    }
    return absl::OkStatus();  // still waiting
  }
  std::string cert;
  if (!absl::Base64Unescape(cert_b64, &cert)) {
    drop(options_.retry_backoff);
    return Invalid(options_.name + ": the certificate of " + name + " is not base64");
  }
  pki::CertKeyPair pair{cert, key};
  if (absl::Status s = Adopt(pair); !s.ok()) {
    drop(options_.retry_backoff);
    return Invalid(fmt::format("{}: the certificate issued for {} is unusable: {}", options_.name,
                               name, StatusMessage(s)));
  }
  {
    std::lock_guard l(mu_);
    pending_name_.clear();
    pending_key_.clear();
  }
  auto info = pki::ParseCertificate(cert);
  KLOG(Info, "certificates: {}: certificate issued by {} (CSR {}), valid until {}, renewal at {}",
       options_.name, options_.signer_name, name,
       info.ok() ? FormatUnix(std::chrono::system_clock::from_time_t(info->not_after_unix)) : "?",
       FormatUnix(RotationDeadline()));
  absl::Status stored = Store(pair);
  if (!stored.ok()) {
    KLOG(Warning, "certificates: {}: cannot store the certificate: {}", options_.name,
         StatusMessage(stored));
  }
  if (options_.on_issued) {
    if (absl::Status s = options_.on_issued(pair); !s.ok()) {
      KLOG(Warning, "certificates: {}: {}", options_.name, StatusMessage(s));
    }
  }
  return absl::OkStatus();
}

absl::Status CertificateManager::Tick() {
  bool pending;
  bool due;
  {
    std::lock_guard l(mu_);
    pending = !pending_name_.empty();
    SysTime now = options_.clock->Now();
    due = (current_ == nullptr || now >= deadline_) && now >= retry_after_;
  }
  if (pending) return FollowUp();
  if (!due) return absl::OkStatus();
  if (Current() != nullptr) {
    KLOG(Info, "certificates: {}: rotation deadline {} reached, renewing", options_.name,
         FormatUnix(RotationDeadline()));
  }
  return Request();
}

void CertificateManager::Start(std::chrono::milliseconds interval) {
  std::lock_guard l(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this, interval] {
    std::string last_error;
    while (true) {
      absl::Status s = Tick();
      if (!s.ok()) {
        std::string msg(StatusMessage(s));
        if (msg != last_error) KLOG(Warning, "certificates: {}", msg);
        last_error = msg;
      } else {
        last_error.clear();
      }
      std::unique_lock l(mu_);
      if (cv_.wait_for(l, interval, [this] { return stopping_; })) return;
    }
  });
}

void CertificateManager::Stop() {
  std::thread t;
  {
    std::lock_guard l(mu_);
    stopping_ = true;
    t = std::move(thread_);
  }
  cv_.notify_all();
  if (t.joinable()) t.join();
}

// ---------------- NodeCertificates ----------------

NodeCertificates::NodeCertificates(NodeCertificatesOptions options)
    : options_(std::move(options)) {}

NodeCertificates::~NodeCertificates() { Stop(); }

void NodeCertificates::ConfigureClient(client::RestConfig* rc, const std::string& kubeconfig_path) {
  if (rc->client_cert_pem.empty() || rc->client_key_pem.empty()) return;
  auto info = pki::ParseCertificate(rc->client_cert_pem);
  std::string user = "system:node:" + options_.node_name;
  if (!info.ok() || info->common_name != user) return;  // not the node's own identity
  CertificateManagerOptions o;
  o.name = "kubelet-client";
  o.signer_name = kKubeletClientSigner;
  o.request.common_name = user;
  o.request.organizations = {"system:nodes"};
  o.usages = {"digital signature", "key encipherment", "client auth"};
  o.ca_pem = rc->ca_pem;
  o.clock = options_.clock;
  std::string server = rc->host, ca = rc->ca_pem;
  kubeconfig_path_ = kubeconfig_path;
  o.on_issued = [path = kubeconfig_path, server, ca, user](const pki::CertKeyPair& p) {
    if (path.empty()) return absl::OkStatus();
    KORRAL_RETURN_IF_ERROR(WriteSecretFile(
        path, pki::KubeconfigYaml(server, ca, p.cert_pem, p.key_pem, user, "korral")));
    KLOG(Info, "certificates: kubelet-client: renewed credentials written to {}", path);
    return absl::OkStatus();
  };
  client_cert_ = std::make_unique<CertificateManager>(std::move(o));
  if (absl::Status s = client_cert_->Adopt({rc->client_cert_pem, rc->client_key_pem}); !s.ok()) {
    KLOG(Warning, "certificates: the kubeconfig's client certificate is not renewable: {}",
         StatusMessage(s));
    client_cert_.reset();
    return;
  }
  CertificateManager* m = client_cert_.get();
  rc->client_certificate_source = [m]() -> std::pair<std::string, std::string> {
    auto c = m->Current();
    if (!c) return {};
    return {c->cert_pem, c->key_pem};
  };
}

absl::Status NodeCertificates::Start(client::Client* client, const std::vector<std::string>& ips,
                                     const std::string& cluster_ca_pem) {
  const std::string& node = options_.node_name;
  // The node-local certificate served until the cluster's is issued.
  KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair ca, pki::NewSelfSignedCA("korral-kubelet-ca@" + node));
  pki::CertOptions co;
  co.common_name = node;
  co.dns_names = {node, "localhost"};
  co.ip_addresses = {"127.0.0.1"};
  for (const auto& ip : ips) {
    if (CanonicalIp(ip) != "127.0.0.1") co.ip_addresses.push_back(ip);
  }
  co.usage = pki::CertUsage::kServer;
  KORRAL_ASSIGN_OR_RETURN(fallback_, pki::NewSignedCert(ca, co));

  CertificateManagerOptions o;
  o.name = "kubelet-serving";
  o.signer_name = kKubeletServingSigner;
  o.request.common_name = "system:node:" + node;
  o.request.organizations = {"system:nodes"};
  o.request.dns_names = {node};
  o.request.ip_addresses = ips;
  o.usages = {"digital signature", "key encipherment", "server auth"};
  o.store_path =
      (std::filesystem::path(options_.data_dir) / "pki" / "kubelet-server-current.pem").string();
  o.ca_pem = cluster_ca_pem;
  o.client = client;
  o.clock = options_.clock;
  serving_ = std::make_unique<CertificateManager>(std::move(o));
  absl::Status stored = serving_->LoadStored();
  if (stored.ok()) {
    KLOG(Info, "certificates: kubelet-serving: reusing the certificate in {}/pki",
         options_.data_dir);
  } else if (!absl::IsNotFound(stored)) {
    KLOG(Info, "certificates: kubelet-serving: not reusing the stored certificate: {}",
         StatusMessage(stored));
  }
  serving_->Start(options_.poll_interval);

  if (client_cert_) {
    client_cert_->SetClient(client);
    client_cert_->Start(options_.poll_interval);
  }
  return absl::OkStatus();
}

void NodeCertificates::Stop() {
  if (serving_) serving_->Stop();
  if (client_cert_) client_cert_->Stop();
}

std::pair<std::string, std::string> NodeCertificates::ServingCertificate() const {
  if (serving_) {
    if (auto c = serving_->Current()) return {c->cert_pem, c->key_pem};
  }
  return {fallback_.cert_pem, fallback_.key_pem};
}

pki::CertKeyPair NodeCertificates::InitialServingPair() const {
  auto p = ServingCertificate();
  return {p.first, p.second};
}

}  // namespace korral::agent
