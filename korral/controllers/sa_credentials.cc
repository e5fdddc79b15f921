// korral/controllers/sa_credentials.cc: see sa_credentials.h.
#include "korral/controllers/sa_credentials.h"

#include <utility>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/client/rest.h"

namespace korral::controllers {
namespace {

using Json = nlohmann::json;

const client::ResourceRef kServiceAccounts{"", "v1", "serviceaccounts", true};
constexpr std::string_view kNamespace = "kube-system";

}  // namespace

std::string_view ServiceAccountFor(std::string_view controller_name) {
  // korral controller name -> upstream service account (cmd/kube-controller-manager/app).
  static const std::map<std::string_view, std::string_view> kAccounts = {
      {"namespace-controller", "namespace-controller"},
      {"serviceaccount-controller", "service-account-controller"},
      {"root-ca-certificate-publisher-controller", "root-ca-cert-publisher"},
      {"garbage-collector-controller", "generic-garbage-collector"},
      {"endpoints-controller", "endpoint-controller"},
      {"endpointslice-controller", "endpointslice-controller"},
      {"endpointslice-mirroring-controller", "endpointslicemirroring-controller"},
      {"pod-garbage-collector-controller", "pod-garbage-collector"},
      {"node-lifecycle-controller", "node-controller"},
      {"node-ipam-controller", "node-controller"},
      {"resourcequota-controller", "resourcequota-controller"},
      {"disruption-controller", "disruption-controller"},
      {"certificatesigningrequest-signing-controller", "certificate-controller"},
      {"certificatesigningrequest-approving-controller", "certificate-controller"},
      {"kubelet-serving-csr-approving-controller", "certificate-controller"},
      {"replicaset-controller", "replicaset-controller"},
      {"deployment-controller", "deployment-controller"},
      {"job-controller", "job-controller"},
      {"cronjob-controller", "cronjob-controller"},
      {"ttl-after-finished-controller", "ttl-after-finished-controller"},
      {"daemonset-controller", "daemon-set-controller"},
      {"statefulset-controller", "statefulset-controller"},
      {"persistentvolume-binder-controller", "persistent-volume-binder"},
      {"persistentvolumeclaim-protection-controller", "pvc-protection-controller"},
      {"persistentvolume-protection-controller", "pv-protection-controller"},
      // event-garbage-collector and token-cleaner: upstream has no such ClusterRole (events expire
      // in etcd; the token cleaner's Role lives in kube-system), so they keep the root identity.
  };
  auto it = kAccounts.find(controller_name);
  return it == kAccounts.end() ? std::string_view() : it->second;
}

ServiceAccountTokenSource::ServiceAccountTokenSource(client::Client& root, std::string name,
                                                     const Clock& clock,
                                                     std::chrono::seconds lifetime)
    : root_(root), name_(std::move(name)), clock_(clock), lifetime_(lifetime) {}

absl::Status ServiceAccountTokenSource::Refresh() {
  Json request = {{"apiVersion", "authentication.k8s.io/v1"},
                  {"kind", "TokenRequest"},
                  {"metadata", {{"name", name_}, {"namespace", kNamespace}}},
                  {"spec", {{"expirationSeconds", lifetime_.count()}}}};
  const auto issued = clock_.Now();
  KORRAL_ASSIGN_OR_RETURN(Json answer,
                          root_.Create(kServiceAccounts, kNamespace, request, "token"));
  std::string token;
  if (answer.contains("status") && answer["status"].is_object()) {
    token = answer["status"].value("token", "");
  }
  if (token.empty()) {
    return absl::InternalError("TokenRequest for " + name_ + " returned no token");
  }
  std::lock_guard l(mu_);
  token_ = std::move(token);
  refresh_at_ = issued + lifetime_ * 4 / 5;
  return absl::OkStatus();
}

std::string ServiceAccountTokenSource::Token() {
  {
    std::lock_guard l(mu_);
    if (!token_.empty() && clock_.Now() < refresh_at_) return token_;
  }
  if (auto s = Refresh(); !s.ok()) {
    KLOG(Warning, "controller-manager: refreshing the token of service account {}: {}", name_,
         StatusMessage(s));
  }
  std::lock_guard l(mu_);
  return token_;
}

ServiceAccountClientBuilder::ServiceAccountClientBuilder(client::Client& root,
                                                         client::RestConfig base,
                                                         const Clock& clock,
                                                         std::chrono::seconds token_lifetime)
    : root_(root), base_(std::move(base)), clock_(clock), lifetime_(token_lifetime) {}

absl::Status ServiceAccountClientBuilder::EnsureServiceAccount(const std::string& name) {
  auto got = root_.Get(kServiceAccounts, kNamespace, name);
  if (got.ok()) return absl::OkStatus();
  if (!client::IsNotFound(got.status())) return got.status();
  Json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", name}, {"namespace", kNamespace}}}};
  auto created = root_.Create(kServiceAccounts, kNamespace, sa);
  if (!created.ok() && !client::IsAlreadyExists(created.status())) return created.status();
  return absl::OkStatus();
}

absl::StatusOr<client::Client*> ServiceAccountClientBuilder::ClientFor(
    const std::string& service_account) {
  std::lock_guard l(mu_);
  if (auto it = clients_.find(service_account); it != clients_.end()) {
    return it->second.client.get();
  }
  KORRAL_RETURN_IF_ERROR(EnsureServiceAccount(service_account));
  Entry e;
  e.tokens = std::make_unique<ServiceAccountTokenSource>(root_, service_account, clock_, lifetime_);
  KORRAL_RETURN_IF_ERROR(e.tokens->Refresh());
  client::RestConfig cfg = base_;
  cfg.client_cert_pem.clear();
  cfg.client_key_pem.clear();
  cfg.bearer_token.clear();
  ServiceAccountTokenSource* tokens = e.tokens.get();
  cfg.bearer_token_source = [tokens] { return tokens->Token(); };
  cfg.user_agent = base_.user_agent + "/" + service_account;
  KORRAL_ASSIGN_OR_RETURN(auto rest, client::RestClient::New(std::move(cfg)));
  e.client = std::move(rest);
  client::Client* out = e.client.get();
  clients_.emplace(service_account, std::move(e));
  return out;
}

}  // namespace korral::controllers
