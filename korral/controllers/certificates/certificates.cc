// korral/controllers/certificates/certificates.cc
#include "korral/controllers/certificates/certificates.h"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/escaping.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace {

constexpr char kNodePrefix[] = "system:node:";
constexpr char kNodesGroup[] = "system:nodes";

absl::Status Invalid(const std::string& m) {
  return absl::InvalidArgumentError(absl::string_view(m));
}

std::vector<std::string> Usages(const Json& csr) {
  std::vector<std::string> out;
  const Json& spec = SpecOf(csr);
  if (spec.contains("usages") && spec["usages"].is_array()) {
    for (const auto& u : spec["usages"]) {
      if (u.is_string()) out.push_back(u.get<std::string>());
    }
  }
  return out;
}

std::string SpecString(const Json& csr, const char* key) {
  const Json& spec = SpecOf(csr);
  return spec.contains(key) && spec[key].is_string() ? spec[key].get<std::string>() : "";
}

absl::StatusOr<certificates::CsrInfo> ParseRequest(const Json& csr) {
  std::string pem;
  if (!absl::Base64Unescape(SpecString(csr, "request"), &pem)) {
    return Invalid("spec.request is not valid base64");
  }
  return certificates::ParseCsr(pem);
}

bool UsagesAre(const std::vector<std::string>& usages,
               const std::vector<std::set<std::string>>& allowed) {
  std::set<std::string> got(usages.begin(), usages.end());
  if (got.size() != usages.size()) return false;
  return std::any_of(allowed.begin(), allowed.end(), [&](const auto& a) { return a == got; });
}

std::string Join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return "[" + out + "]";
}

// inet_ntop form of an IP literal (ParseCsr reports SAN IPs that way); `ip` itself otherwise.
std::string CanonicalIp(const std::string& ip) {
  unsigned char buf[16];
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_pton(AF_INET, ip.c_str(), buf) == 1) return inet_ntop(AF_INET, buf, text, sizeof text);
  if (inet_pton(AF_INET6, ip.c_str(), buf) == 1) return inet_ntop(AF_INET6, buf, text, sizeof text);
  return ip;
}

absl::Status ValidateNodeSubject(const certificates::CsrInfo& info) {
  if (info.organizations != std::vector<std::string>{kNodesGroup}) {
    return Invalid("subject organization is not system:nodes");
  }
  if (info.common_name.rfind(kNodePrefix, 0) != 0) {
    return Invalid("subject common name does not begin with system:node:");
  }
  return absl::OkStatus();
}

Json Condition(const std::string& type, const std::string& reason, const std::string& message,
               const Clock& clock) {
  std::string now = FormatTime(clock.Now());
  return {{"type", type},       {"status", "True"},      {"reason", reason},
          {"message", message}, {"lastUpdateTime", now}, {"lastTransitionTime", now}};
}

// A SubjectAccessReview asking whether the CSR's requester may act on `attributes`.
Json RequesterReview(const Json& csr, Json attributes) {
  const Json& spec = SpecOf(csr);
  Json sar = {{"apiVersion", "authorization.k8s.io/v1"},
              {"kind", "SubjectAccessReview"},
              {"spec",
               {{"user", SpecString(csr, "username")},
                {"uid", SpecString(csr, "uid")},
                {"resourceAttributes", std::move(attributes)}}}};
  if (spec.contains("groups") && spec["groups"].is_array()) sar["spec"]["groups"] = spec["groups"];
  if (spec.contains("extra") && spec["extra"].is_object()) sar["spec"]["extra"] = spec["extra"];
  return sar;
}

// The approvers' default access check: POST the review and read status.allowed.
std::function<absl::StatusOr<bool>(const Json&)> ReviewThrough(client::Client* cl) {
  return [cl](const Json& review) -> absl::StatusOr<bool> {
    KORRAL_ASSIGN_OR_RETURN(
        Json out,
        cl->Create({"authorization.k8s.io", "v1", "subjectaccessreviews", false}, "", review));
    return out.contains("status") && out["status"].is_object() &&
           out["status"].value("allowed", false);
  };
}

// Adds the Approved condition through the approval subresource (a CSR gone meanwhile is fine).
absl::Status Approve(client::Client& cl, const Clock& clock, const Json& csr,
                     const std::string& message) {
  Json updated = csr;
  if (!updated.contains("status") || !updated["status"].is_object()) {
    updated["status"] = Json::object();
  }
  Json& conds = updated["status"]["conditions"];
  if (!conds.is_array()) conds = Json::array();
  conds.push_back(Condition("Approved", "AutoApproved", message, clock));
  auto res = cl.Update(CertificateSigningRequests(), "", updated, "approval");
  if (res.ok() || client::IsNotFound(res.status())) return absl::OkStatus();
  return res.status();
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* flag) {
  std::ifstream in(path);
  if (!in) return Invalid(std::string("cannot read ") + flag + " " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

client::ResourceRef CertificateSigningRequests() {
  return {"certificates.k8s.io", "v1", "certificatesigningrequests", false};
}

bool CsrHasCondition(const Json& csr, std::string_view type) {
  if (!csr.contains("status") || !csr["status"].is_object()) return false;
  const Json& st = csr["status"];
  if (!st.contains("conditions") || !st["conditions"].is_array()) return false;
  for (const auto& c : st["conditions"]) {
    if (c.is_object() && c.value("type", "") == type && c.value("status", "True") == "True") {
      return true;
    }
  }
  return false;
}

absl::Status ValidateForSigner(std::string_view signer, const certificates::CsrInfo& info,
                               const std::vector<std::string>& usages) {
  if (signer == kKubeletClientSigner) {
    KORRAL_RETURN_IF_ERROR(ValidateNodeSubject(info));
    if (!info.dns_names.empty()) return Invalid("DNS subjectAltNames are not allowed");
    if (!info.email_addresses.empty()) return Invalid("Email subjectAltNames are not allowed");
    if (!info.ip_addresses.empty()) return Invalid("IP subjectAltNames are not allowed");
    if (!info.uris.empty()) return Invalid("URI subjectAltNames are not allowed");
    if (!UsagesAre(usages, {{"digital signature", "client auth"},
                            {"key encipherment", "digital signature", "client auth"}})) {
      return Invalid("usages did not match [digital signature key encipherment client auth], got " +
                     Join(usages));
    }
    return absl::OkStatus();
  }
  if (signer == kKubeletServingSigner) {
    KORRAL_RETURN_IF_ERROR(ValidateNodeSubject(info));
    if (!info.email_addresses.empty()) return Invalid("Email subjectAltNames are not allowed");
    if (!info.uris.empty()) return Invalid("URI subjectAltNames are not allowed");
    if (info.dns_names.empty() && info.ip_addresses.empty()) {
      return Invalid("DNS or IP subjectAltName is required");
    }
    if (!UsagesAre(usages, {{"digital signature", "server auth"},
                            {"key encipherment", "digital signature", "server auth"}})) {
      return Invalid("usages did not match [digital signature key encipherment server auth], got " +
                     Join(usages));
    }
    return absl::OkStatus();
  }
  if (signer == kApiServerClientSigner) {
    static const std::set<std::string> kAllowed = {"digital signature", "key encipherment",
                                                   "client auth"};
    bool client = false;
    for (const auto& u : usages) {
      if (!kAllowed.count(u)) return Invalid("invalid usage for client certificate: " + u);
      client |= u == "client auth";
    }
    if (!client) return Invalid("missing required usage for client certificate: client auth");
    if (std::find(info.organizations.begin(), info.organizations.end(), "system:masters") !=
        info.organizations.end()) {
      return Invalid(
          "use of kubernetes.io/kube-apiserver-client signer with system:masters "
          "group is not allowed");
    }
    return absl::OkStatus();
  }
  return Invalid("unknown signer " + std::string(signer));
}

// ---------------- signing ----------------

CsrSigningController::CsrSigningController(ControllerContext& ctx, pki::CertKeyPair ca,
                                           std::chrono::seconds max_duration)
    : ctx_(ctx),
      ca_(std::move(ca)),
      max_duration_(max_duration),
      csrs_(ctx.informers->For(CertificateSigningRequests())),
      worker_("csrsigning", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  csrs_->AddEventHandler(EnqueueHandler(worker_));
}

absl::Status CsrSigningController::Sync(const std::string& name) {
  auto obj = csrs_->indexer().Get(name);
  if (!obj) return absl::OkStatus();
  const Json& csr = *obj;
  std::string signer = SpecString(csr, "signerName");
  if (signer != kKubeletClientSigner && signer != kKubeletServingSigner &&
      signer != kApiServerClientSigner) {
    return absl::OkStatus();  // another signer's request
  }
  if (!CsrHasCondition(csr, "Approved") || CsrHasCondition(csr, "Denied") ||
      CsrHasCondition(csr, "Failed")) {
    return absl::OkStatus();
  }
  if (csr.contains("status") && csr["status"].is_object() &&
      !csr["status"].value("certificate", "").empty()) {
    return absl::OkStatus();
  }
  Json updated = csr;
  if (!updated.contains("status") || !updated["status"].is_object())
    updated["status"] = Json::object();
  auto info = ParseRequest(csr);
  absl::Status valid = info.ok() ? ValidateForSigner(signer, *info, Usages(csr)) : info.status();
  if (!valid.ok()) {
    KLOG(Info, "csrsigning: refusing {}: {}", name, StatusMessage(valid));
    Json& conds = updated["status"]["conditions"];
    if (!conds.is_array()) conds = Json::array();
    conds.push_back(Condition("Failed", "SignerValidationFailure",
                              std::string(StatusMessage(valid)), *ctx_.clock));
  } else {
    std::chrono::seconds duration = max_duration_;
    const Json& spec = SpecOf(csr);
    if (spec.contains("expirationSeconds") && spec["expirationSeconds"].is_number_integer()) {
      duration = std::min(duration, std::chrono::seconds(spec["expirationSeconds"].get<int64_t>()));
    }
    std::string pem;
    absl::Base64Unescape(SpecString(csr, "request"), &pem);
    KORRAL_ASSIGN_OR_RETURN(std::string cert,
                            certificates::SignCsr(ca_, pem, Usages(csr), duration));
    updated["status"]["certificate"] = absl::Base64Escape(cert);
  }
  auto r = ctx_.client->Update(CertificateSigningRequests(), "", updated, "status");
  if (r.ok() || client::IsNotFound(r.status())) return absl::OkStatus();
  return r.status();
}

// ---------------- approving ----------------

CsrApprovingController::CsrApprovingController(ControllerContext& ctx, AccessCheck check)
    : ctx_(ctx),
      check_(std::move(check)),
      csrs_(ctx.informers->For(CertificateSigningRequests())),
      worker_("csrapproving", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  if (!check_) check_ = ReviewThrough(ctx.client);
  csrs_->AddEventHandler(EnqueueHandler(worker_));
}

absl::Status CsrApprovingController::Sync(const std::string& name) {
  auto obj = csrs_->indexer().Get(name);
  if (!obj) return absl::OkStatus();
  const Json& csr = *obj;
  if (SpecString(csr, "signerName") != kKubeletClientSigner) return absl::OkStatus();
  if (CsrHasCondition(csr, "Approved") || CsrHasCondition(csr, "Denied")) return absl::OkStatus();
  auto info = ParseRequest(csr);
  if (!info.ok()) return absl::OkStatus();  // not ours to judge: the signer fails it
  if (!ValidateForSigner(kKubeletClientSigner, *info, Usages(csr)).ok()) return absl::OkStatus();
  struct Recognizer {
    bool applies;
    const char* subresource;
    const char* message;
  };
  const Recognizer recognizers[] = {
      {SpecString(csr, "username") == info->common_name, "selfnodeclient",
       "Auto approving self kubelet client certificate after SubjectAccessReview."},
      {true, "nodeclient", "Auto approving kubelet client certificate after SubjectAccessReview."},
  };
  for (const auto& r : recognizers) {
    if (!r.applies) continue;
    KORRAL_ASSIGN_OR_RETURN(bool allowed,
                            check_(RequesterReview(csr, {{"group", "certificates.k8s.io"},
                                                         {"resource", "certificatesigningrequests"},
                                                         {"verb", "create"},
                                                         {"subresource", r.subresource}})));
    if (!allowed) continue;
    return Approve(*ctx_.client, *ctx_.clock, csr, r.message);
  }
  return absl::OkStatus();
}

// ---------------- kubelet-serving approval (korral) ----------------

absl::Status CheckKubeletServingSelfRequest(const Json& csr, const certificates::CsrInfo& info,
                                            const Json& node, bool requester_may_approve) {
  if (SpecString(csr, "signerName") != kKubeletServingSigner) {
    return Invalid("signer is not " + std::string(kKubeletServingSigner));
  }
  KORRAL_RETURN_IF_ERROR(ValidateForSigner(kKubeletServingSigner, info, Usages(csr)));
  if (!UsagesAre(Usages(csr), {{"digital signature", "key encipherment", "server auth"}})) {
    return Invalid("usages are not exactly [digital signature key encipherment server auth]");
  }
  if (!requester_may_approve) {
    std::string username = SpecString(csr, "username");
    if (username != info.common_name) {
      return Invalid("requester " + username + " is not the node named in the request (" +
                     info.common_name + ")");
    }
    const Json& spec = SpecOf(csr);
    bool in_nodes = false;
    if (spec.contains("groups") && spec["groups"].is_array()) {
      for (const auto& g : spec["groups"]) in_nodes |= g.is_string() && g == kNodesGroup;
    }
    if (!in_nodes) return Invalid("requester is not in group system:nodes");
  }
  std::string node_name = info.common_name.substr(sizeof(kNodePrefix) - 1);
  std::set<std::string> dns = {node_name};
  std::set<std::string> ips;
  const Json* addresses = nullptr;
  if (node.contains("status") && node["status"].is_object() &&
      node["status"].contains("addresses") && node["status"]["addresses"].is_array()) {
    addresses = &node["status"]["addresses"];
  }
  if (addresses != nullptr) {
    for (const auto& a : *addresses) {
      if (!a.is_object() || !a.contains("address") || !a["address"].is_string()) continue;
      std::string type = a.value("type", "");
      std::string value = a["address"].get<std::string>();
      if (type == "InternalIP" || type == "ExternalIP") {
        ips.insert(CanonicalIp(value));
      } else if (type == "Hostname" || type == "InternalDNS" || type == "ExternalDNS") {
        dns.insert(value);
      }
    }
  }
  for (const auto& d : info.dns_names) {
    if (!dns.count(d)) return Invalid("DNS name " + d + " is not one of node " + node_name + "'s");
  }
  for (const auto& ip : info.ip_addresses) {
    if (!ips.count(ip)) {
      return Invalid("IP address " + ip + " is not one of node " + node_name + "'s addresses");
    }
  }
  return absl::OkStatus();
}

KubeletServingCsrApprovingController::KubeletServingCsrApprovingController(ControllerContext& ctx,
                                                                           AccessCheck check)
    : ctx_(ctx),
      check_(std::move(check)),
      csrs_(ctx.informers->For(CertificateSigningRequests())),
      nodes_(ctx.informers->For(client::resources::Nodes())),
      worker_("kubeletservingcsrapproving", *ctx.clock,
              [this](const std::string& k) { return Sync(k); }) {
  if (!check_) check_ = ReviewThrough(ctx.client);
  csrs_->AddEventHandler(EnqueueHandler(worker_));
  // A request waiting for its Node (or its addresses) is looked at again when the Node changes.
  auto requeue = [this](const client::ObjectPtr& node) {
    std::string cn = std::string(kNodePrefix) +
                     node->value("metadata", Json::object()).value("name", std::string());
    for (const auto& csr : csrs_->indexer().List()) {
      if (SpecString(*csr, "signerName") != kKubeletServingSigner ||
          CsrHasCondition(*csr, "Approved") || CsrHasCondition(*csr, "Denied")) {
        continue;
      }
      auto info = ParseRequest(*csr);
      if (info.ok() && info->common_name == cn) {
        worker_.queue().Add((*csr)["metadata"].value("name", std::string()));
      }
    }
  };
  nodes_->AddEventHandler({.on_add = requeue,
                           .on_update = [requeue](const client::ObjectPtr&,
                                                  const client::ObjectPtr& n) { requeue(n); }});
}

absl::Status KubeletServingCsrApprovingController::Sync(const std::string& name) {
  auto obj = csrs_->indexer().Get(name);
  if (!obj) return absl::OkStatus();
  const Json& csr = *obj;
  if (SpecString(csr, "signerName") != kKubeletServingSigner) return absl::OkStatus();
  if (CsrHasCondition(csr, "Approved") || CsrHasCondition(csr, "Denied")) return absl::OkStatus();
  auto info = ParseRequest(csr);
  if (!info.ok()) return absl::OkStatus();  // the signer fails it
  if (info->common_name.rfind(kNodePrefix, 0) != 0) return absl::OkStatus();
  std::string node_name = info->common_name.substr(sizeof(kNodePrefix) - 1);
  auto node = nodes_->indexer().Get(node_name);
  if (!node) {
    // The node may not have registered yet: looked at again when it does (and retried).
    return absl::UnavailableError(absl::string_view("kubelet-serving CSR " + name + ": node " +
                                                    node_name + " is not registered yet"));
  }
  bool may_approve = false;
  if (SpecString(csr, "username") != info->common_name) {
    KORRAL_ASSIGN_OR_RETURN(may_approve,
                            check_(RequesterReview(csr, {{"group", "certificates.k8s.io"},
                                                         {"resource", "signers"},
                                                         {"verb", "approve"},
                                                         {"name", kKubeletServingSigner}})));
  }
  absl::Status ok = CheckKubeletServingSelfRequest(csr, *info, *node, may_approve);
  if (!ok.ok()) {
    // Left for the admin, as upstream leaves every kubelet-serving CSR.
    KLOG(Info, "kubelet-serving approver: not approving {}: {}", name, StatusMessage(ok));
    return absl::OkStatus();
  }
  return Approve(*ctx_.client, *ctx_.clock, csr,
                 "Auto approving kubelet serving certificate requested by the node itself for "
                 "its own names and addresses (korral).");
}

// ---------------- descriptors ----------------

ControllerDescriptor CsrSigningControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "certificatesigningrequest-signing-controller";
  d.aliases = {"csrsigning"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    const auto& o = ctx.options;
    if (o.cluster_signing_cert_file.empty() || o.cluster_signing_key_file.empty()) {
      KLOG(Info,
           "csrsigning: no --cluster-signing-cert-file/--cluster-signing-key-file, not "
           "starting");
      return std::unique_ptr<Controller>();
    }
    pki::CertKeyPair ca;
    KORRAL_ASSIGN_OR_RETURN(ca.cert_pem,
                            ReadFile(o.cluster_signing_cert_file, "--cluster-signing-cert-file"));
    KORRAL_ASSIGN_OR_RETURN(ca.key_pem,
                            ReadFile(o.cluster_signing_key_file, "--cluster-signing-key-file"));
    if (auto s = pki::CheckKeyMatchesCert(ca.cert_pem, ca.key_pem); !s.ok()) {
      return Invalid("--cluster-signing-key-file does not match --cluster-signing-cert-file: " +
                     std::string(StatusMessage(s)));
    }
    return std::make_unique<CsrSigningController>(ctx, std::move(ca), o.cluster_signing_duration);
  };
  return d;
}

ControllerDescriptor CsrApprovingControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "certificatesigningrequest-approving-controller";
  d.aliases = {"csrapproving"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<CsrApprovingController>(ctx);
  };
  return d;
}

ControllerDescriptor KubeletServingCsrApprovingControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "kubelet-serving-csr-approving-controller";
  d.aliases = {"kubeletservingcsrapproving"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<KubeletServingCsrApprovingController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
