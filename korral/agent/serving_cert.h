// korral/agent/serving_cert.h: the node agent's certificates from the certificates.k8s.io API
// (upstream k8s.io/client-go/util/certificate's Manager, as the kubelet uses it for
// serverTLSBootstrap and --rotate-certificates).
//
//   CertificateManager  keeps one certificate current through CSRs: adopts a stored one while it
//                       is usable, asks for a new one when there is none or at a jittered 70-90%
//                       of its lifetime (upstream's rotation deadline), polls the CSR until it
//                       is issued (or denied/failed/abandoned, then retries after a backoff),
//                       stores the result and hands it out. Time comes from a korral::Clock,
//                       so tests drive it with a FakeClock and Tick().
//   NodeCertificates    the agent's two managers:
//                         serving  signer kubernetes.io/kubelet-serving, CN system:node:<name>,
//                                  O system:nodes, SANs the node name and its IPs, usages digital
//                                  signature + key encipherment + server auth; stored in
//                                  DATA_DIR/pki/kubelet-server-current.pem (cert + key, 0600)
//                                  and reused after a restart while valid. Until it is issued
//                                  (or if it never is) the kubelet serves a certificate from a
//                                  throwaway node-local CA.
//                         client   only when the agent's kubeconfig holds a client certificate
//                                  for system:node:<name>: renewed through the
//                                  kube-apiserver-client-kubelet signer, written back into the
//                                  kubeconfig and presented on the REST client's new
//                                  connections without a restart.
//
// Thread-safe: Current()/source functions may be called from any thread while the managers run.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "korral/base/clock.h"
#include "korral/pki/csr.h"
#include "korral/pki/pki.h"

namespace korral::client {
class Client;
struct RestConfig;
}  // namespace korral::client

namespace korral::agent {

inline constexpr char kKubeletServingSigner[] = "kubernetes.io/kubelet-serving";
inline constexpr char kKubeletClientSigner[] = "kubernetes.io/kube-apiserver-client-kubelet";

struct CertificateManagerOptions {
  std::string name;  // for logs and CSR names, e.g. "kubelet-serving"
  std::string signer_name;
  pki::CsrOptions request;  // subject and SANs asked for
  std::vector<std::string> usages;
  // PEM file (certificate, then key; mode 0600) holding the current pair; "" keeps it in memory.
  std::string store_path;
  // Called with each newly issued pair after it was stored (e.g. rewrite a kubeconfig); an error
  // is logged and the pair is still used.
  std::function<absl::Status(const pki::CertKeyPair&)> on_issued;
  // When set, stored and issued certificates must verify against this CA bundle.
  std::string ca_pem;
  client::Client* client = nullptr;  // not owned; the identity that creates the CSRs
  const Clock* clock = &Clock::Real();
  // The fraction of the lifetime after which to renew; default uniform in [0.7, 0.9].
  std::function<double()> jitter;
  // A CSR not issued after this long is abandoned and a fresh one made.
  std::chrono::seconds request_timeout{std::chrono::minutes(15)};
  // Wait after a denied, failed or unsendable request before the next one.
  std::chrono::seconds retry_backoff{std::chrono::seconds(30)};
};

class CertificateManager {
 public:
  explicit CertificateManager(CertificateManagerOptions options);
  ~CertificateManager();
  CertificateManager(const CertificateManager&) = delete;
  CertificateManager& operator=(const CertificateManager&) = delete;

  // Makes `pair` current if it is usable: parses, the key matches, it names the requested CN and
  // covers every requested SAN, verifies against ca_pem (if set) and has not expired. Returns
  // the reason otherwise.
  absl::Status Adopt(pki::CertKeyPair pair);
  // Adopts the pair in store_path, if any. NotFound when there is no file.
  absl::Status LoadStored();

  // The current pair; null until one was adopted or issued.
  std::shared_ptr<const pki::CertKeyPair> Current() const;
  // When the current certificate should be renewed (the epoch when there is none).
  std::chrono::system_clock::time_point RotationDeadline() const;
  // The CSR being waited for ("" if none).
  std::string PendingRequest() const;

  // One step at clock->Now(): follows up a pending CSR (adopting its certificate once issued);
  // with none pending, creates one when there is no certificate or it is past its rotation
  // deadline (and no retry backoff is running). Errors are what went wrong in this step.
  absl::Status Tick();

  // Replaces options.client (e.g. once the client that presents this very certificate exists).
  void SetClient(client::Client* client);

  // Calls Tick every `interval` on a thread until Stop (a no-op if running).
  void Start(std::chrono::milliseconds interval = std::chrono::seconds(1));
  void Stop();

 private:
  absl::Status Request();
  absl::Status FollowUp();
  absl::Status Store(const pki::CertKeyPair& pair);
  client::Client* Client() const;

  const CertificateManagerOptions options_;
  mutable std::mutex mu_;
  client::Client* client_;
  std::shared_ptr<const pki::CertKeyPair> current_;
  std::chrono::system_clock::time_point deadline_{};
  std::string pending_name_, pending_key_;
  std::chrono::system_clock::time_point pending_since_{}, retry_after_{};
  std::thread thread_;
  std::condition_variable cv_;
  bool stopping_ = false;
};

struct NodeCertificatesOptions {
  std::string node_name;
  std::string data_dir;  // the agent's; certificates go to DATA_DIR/pki
  const Clock* clock = &Clock::Real();
  std::chrono::milliseconds poll_interval{std::chrono::seconds(1)};
};

class NodeCertificates {
 public:
  explicit NodeCertificates(NodeCertificatesOptions options);
  ~NodeCertificates();

  // Before the REST client is built from `rc` (read from `kubeconfig_path`): when it holds a
  // client certificate for system:node:<name>, sets up its rotation and points
  // rc->client_certificate_source at the current pair.
  void ConfigureClient(client::RestConfig* rc, const std::string& kubeconfig_path);

  // Once the client exists: starts the client manager (if any) and the serving one for the
  // node's addresses (`ips`; the node name is the DNS SAN). `cluster_ca_pem` (the CA of the
  // kubeconfig) checks stored and issued certificates. Never blocks on the API.
  absl::Status Start(client::Client* client, const std::vector<std::string>& ips,
                     const std::string& cluster_ca_pem);
  void Stop();

  // The serving pair for a TLS handshake now: the CA-signed one once issued, else the
  // node-local one.
  std::pair<std::string, std::string> ServingCertificate() const;
  // The pair to start the server with (same as ServingCertificate()).
  pki::CertKeyPair InitialServingPair() const;

  CertificateManager* serving() { return serving_.get(); }
  CertificateManager* client_manager() { return client_cert_.get(); }

 private:
  const NodeCertificatesOptions options_;
  pki::CertKeyPair fallback_;
  std::unique_ptr<CertificateManager> serving_, client_cert_;
  std::string kubeconfig_path_, server_url_;
};

}  // namespace korral::agent
