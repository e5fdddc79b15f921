// korral/controllers/certificates/certificates.h: the certificates.k8s.io controllers
// (upstream pkg/controller/certificates):
//
//   csrsigning    signs approved CertificateSigningRequests of the kubernetes.io signers
//                 kube-apiserver-client-kubelet, kubelet-serving and kube-apiserver-client with
//                 the cluster CA (--cluster-signing-cert-file / --cluster-signing-key-file),
//                 after checking what each signer allows; a request a signer refuses gets a
//                 Failed condition (reason SignerValidationFailure).
//   csrapproving  approves node client certificate requests (signer
//                 kube-apiserver-client-kubelet, CN system:node:<name>, O system:nodes, client
//                 usages, no SANs) when a SubjectAccessReview for the requester allows
//                 certificatesigningrequests/selfnodeclient (renewal by the node itself) or
//                 certificatesigningrequests/nodeclient (e.g. a bootstrap token).
//   kubelet-serving-csr-approving-controller (korral's own; upstream has none)
//                 approves kubelet serving certificate requests (signer kubelet-serving) that a
//                 node makes for itself: requester system:node:<name> equal to the CN, in group
//                 system:nodes, subject O exactly [system:nodes], usages exactly digital
//                 signature + key encipherment + server auth, SANs only DNS names and IPs, and
//                 every SAN one of the node's own: its name or a Hostname/*DNS address (DNS),
//                 one of its status.addresses (IP), as the Node informer sees it. A requester that
//                 may approve kubelet-serving CSRs itself (SubjectAccessReview: approve on signers
//                 kubernetes.io/kubelet-serving, e.g. an agent run with an admin kubeconfig)
//                 need not be the node: approving for it grants nothing it does not hold. Upstream
//                 leaves these CSRs to the admin
//                 (`kubectl certificate approve`); `korral server` runs its own agent and must not
//                 need a human. Turn it off with
//                 --controllers=*,-kubelet-serving-csr-approving-controller.
#pragma once

#include <functional>

#include "korral/controllers/certificates/csr.h"
#include "korral/controllers/controller.h"
#include "korral/controllers/controller_utils.h"

namespace korral::controllers {

client::ResourceRef CertificateSigningRequests();

inline constexpr char kKubeletClientSigner[] = "kubernetes.io/kube-apiserver-client-kubelet";
inline constexpr char kKubeletServingSigner[] = "kubernetes.io/kubelet-serving";
inline constexpr char kApiServerClientSigner[] = "kubernetes.io/kube-apiserver-client";

// True if the CSR carries a condition of `type` with status True.
bool CsrHasCondition(const Json& csr, std::string_view type);

// What `signer` allows for `info` + `usages`; OkStatus or InvalidArgument with the reason.
absl::Status ValidateForSigner(std::string_view signer, const certificates::CsrInfo& info,
                               const std::vector<std::string>& usages);

class CsrSigningController : public Controller {
 public:
  CsrSigningController(ControllerContext& ctx, pki::CertKeyPair ca,
                       std::chrono::seconds max_duration);
  std::string_view Name() const override { return "certificatesigningrequest-signing-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& name);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  const pki::CertKeyPair ca_;
  const std::chrono::seconds max_duration_;
  client::SharedInformer* csrs_;
  QueueWorker worker_;
};

class CsrApprovingController : public Controller {
 public:
  // Runs a SubjectAccessReview (the object to POST) and returns status.allowed.
  using AccessCheck = std::function<absl::StatusOr<bool>(const Json& review)>;
  // `check` defaults to POSTing the review through ctx.client.
  explicit CsrApprovingController(ControllerContext& ctx, AccessCheck check = nullptr);
  std::string_view Name() const override {
    return "certificatesigningrequest-approving-controller";
  }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& name);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  AccessCheck check_;
  client::SharedInformer* csrs_;
  QueueWorker worker_;
};

// Approves kubelet-serving CSRs a node makes for itself (see the file comment).
class KubeletServingCsrApprovingController : public Controller {
 public:
  // Runs a SubjectAccessReview (the object to POST) and returns status.allowed; defaults to
  // POSTing it through ctx.client.
  using AccessCheck = CsrApprovingController::AccessCheck;
  explicit KubeletServingCsrApprovingController(ControllerContext& ctx,
                                                AccessCheck check = nullptr);
  std::string_view Name() const override { return "kubelet-serving-csr-approving-controller"; }
  void Run(int workers) override { worker_.Run(workers); }
  void Stop() override { worker_.Stop(); }
  absl::Status Sync(const std::string& name);
  QueueWorker& worker() { return worker_; }

 private:
  ControllerContext ctx_;
  AccessCheck check_;
  client::SharedInformer* csrs_;
  client::SharedInformer* nodes_;
  QueueWorker worker_;
};

// Why a kubelet-serving CSR may not be auto-approved (InvalidArgument with the reason), or
// OkStatus. `node` is the requesting node's Node object (its addresses bound the SANs).
// `requester_may_approve`: the requester could approve kubelet-serving CSRs itself (e.g. an
// agent run with an admin kubeconfig), so it need not be the node.
absl::Status CheckKubeletServingSelfRequest(const Json& csr, const certificates::CsrInfo& info,
                                            const Json& node, bool requester_may_approve = false);

ControllerDescriptor CsrSigningControllerDescriptor();
ControllerDescriptor CsrApprovingControllerDescriptor();
ControllerDescriptor KubeletServingCsrApprovingControllerDescriptor();

}  // namespace korral::controllers
