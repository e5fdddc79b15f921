#include "korral/apiserver/apiserver.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/apiserver/discovery.h"
#include "korral/apiserver/encryption/encryption.h"
#include "korral/apiserver/handler.h"
#include "korral/apiserver/http/server.h"
#include "korral/apiserver/instrumented_backend.h"
#include "korral/apiserver/maxinflight.h"
#include "korral/apiserver/metrics.h"
#include "korral/apiserver/metrics_api.h"
#include "korral/apiserver/proxy.h"
#include "korral/apiserver/security/identities.h"
#include "korral/apiserver/security/pipeline.h"
#include "korral/apiserver/service_allocator.h"
#include "korral/apiserver/store.h"
#include "korral/apiserver/watch_cache.h"
#include "korral/base/clock.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/pki/pki.h"
#include "korral/storage/memory/memory.h"
#include "korral/storage/sqlite/sqlite.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

absl::Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return absl::InternalError(fmt::format("cannot write {}", tmp));
    out << data;
    if (!out.flush()) return absl::InternalError(fmt::format("cannot write {}", tmp));
  }
  ::chmod(tmp.c_str(), mode);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(fmt::format("cannot rename {} to {}", tmp, path));
  }
  return absl::OkStatus();
}

absl::Status EnsureObject(Store* store, std::string_view group, std::string_view resource,
                          std::string_view ns, Json obj) {
  const api::ResourceType* t = api::FindResourceType(group, "v1", resource);
  if (!t) return absl::InternalError(fmt::format("unknown bootstrap resource {}", resource));
  std::string name = obj["metadata"].value("name", "");
  if (store->Get(*t, ns, name, std::nullopt).ok()) return absl::OkStatus();
  auto r = store->Create(*t, ns, std::move(obj), WriteOptions{});
  if (r.ok() || apierrors::IsAlreadyExists(r.status())) return absl::OkStatus();
  return r.status();
}

class ApiServerImpl final : public ApiServer {
 public:
  ~ApiServerImpl() override { Stop(); }

  absl::Status Init(const ApiServerConfig& c) {
    config_ = c;
    std::error_code ec;
    std::filesystem::create_directories(c.data_dir, ec);
    if (ec)
      return absl::InternalError(fmt::format("cannot create {}: {}", c.data_dir, ec.message()));
    ::chmod(c.data_dir.c_str(), 0700);
    // PKI.
    pki::PkiOptions po;
    po.bind_address = c.bind_address;
    po.extra_sans = c.tls_sans;
    const std::string& tls_dir = c.data_dir;  // EnsureClusterPki writes DIR/tls/
    KORRAL_RETURN_IF_ERROR(pki::EnsureClusterPki(tls_dir, po));
    KORRAL_ASSIGN_OR_RETURN(pki_, pki::LoadClusterPki(tls_dir));
    // Storage.
    if (c.storage_backend == "memory") {
      backend_ = storage::NewMemoryBackend();
    } else if (c.storage_backend == "sqlite") {
      std::filesystem::create_directories(c.data_dir + "/db", ec);
      storage::SqliteOptions so;
      so.path = c.data_dir + "/db/state.db";
      KORRAL_ASSIGN_OR_RETURN(backend_, storage::OpenSqliteBackend(so));
    } else {
      return absl::InvalidArgumentError(
          fmt::format("unknown storage backend \"{}\"; use sqlite or memory", c.storage_backend));
    }
    storage::Backend* base = backend_.get();
    if (!c.security.encryption_provider_config.empty()) {
      // A broken config stops start-up: nothing is ever written in plaintext by mistake.
      KORRAL_ASSIGN_OR_RETURN(auto enc,
                              encryption::LoadConfigFile(c.security.encryption_provider_config));
      encrypted_ = std::make_unique<encryption::EncryptedBackend>(base, std::move(enc));
      base = encrypted_.get();
    }
    instrumented_ = std::make_unique<InstrumentedBackend>(base, &metrics_);
    cache_ = std::make_unique<WatchCache>(instrumented_.get());
    KORRAL_RETURN_IF_ERROR(cache_->Start());
    store_ = std::make_unique<Store>(instrumented_.get(), cache_.get(), &Clock::Real());
    if (encrypted_) {
      store_->set_stale_check(
          [enc = encrypted_.get()](const std::string& key) { return enc->IsStale(key); });
    }
    auto dash = c.node_port_range.find('-');
    int pmin = std::atoi(c.node_port_range.substr(0, dash).c_str());
    int pmax =
        dash == std::string::npos ? 0 : std::atoi(c.node_port_range.substr(dash + 1).c_str());
    KORRAL_ASSIGN_OR_RETURN(
        ServiceAllocator alloc,
        ServiceAllocator::Create(instrumented_.get(), c.service_cidr, pmin, pmax));
    allocator_ = std::make_unique<ServiceAllocator>(std::move(alloc));
    store_->set_write_hook([this](const api::ResourceType& t, Json& obj, const Json* old,
                                  bool dry) { return allocator_->OnWrite(t, obj, old, dry); });
    store_->set_delete_hook(
        [this](const api::ResourceType& t, const Json& obj) { allocator_->OnDelete(t, obj); });
    KORRAL_ASSIGN_OR_RETURN(security_, security::SecurityPipeline::Create(
                                           c.security, c.data_dir, store_.get(), &Clock::Real()));

    // HTTPS.
    http::ServerOptions so;
    so.bind_address = c.bind_address;
    so.port = static_cast<uint16_t>(c.secure_port);
    so.cert_pem = pki_.server.cert_pem;
    so.key_pem = pki_.server.key_pem + "";
    so.client_ca_pem = pki_.ca.cert_pem;
    so.io_threads = c.io_threads;
    so.worker_threads = c.worker_threads;
    so.error_response = [](int code, std::string_view msg) {
      return ApiHandler::ErrorResponse(code, msg);
    };
    // Max in-flight limits (maxinflight.h): slots are taken as requests arrive.
    auto limiter = std::make_shared<MaxInFlightLimiter>(
        MaxInFlightOptions{c.max_requests_inflight, c.max_mutating_requests_inflight});
    so.admit = [limiter](http::Request& req) { limiter->Admit(req); };
    // The handler exists only once the port is known (discovery names it); until then
    // requests get 503. The holder is shared with the server's callbacks.
    handler_holder_ = std::make_shared<std::atomic<ApiHandler*>>(nullptr);
    so.run_inline = [holder = handler_holder_](const http::Request& req) {
      ApiHandler* h = holder->load();
      return h != nullptr && h->CanRunInline(req);
    };
    std::string host =
        c.bind_address == "0.0.0.0" || c.bind_address == "::" ? "127.0.0.1" : c.bind_address;
    // The port may be 0 (tests): discovery needs the real one, so bind first.
    auto holder = handler_holder_;
    server_ = http::NewServer(so, [holder](http::Request& req) {
      ApiHandler* h = holder->load();
      if (!h) return ApiHandler::ErrorResponse(503, "server is starting");
      return h->Handle(req);
    });
    KORRAL_RETURN_IF_ERROR(server_->Start());
    port_ = server_->port();
    std::string address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port_)
                                                              : fmt::format("{}:{}", host, port_);
    discovery_ = std::make_unique<Discovery>(address);
    HandlerOptions handler_options;
    // The apiserver talks to kubelets as kube-apiserver-kubelet-client (bound to
    // system:kubelet-api-admin), never as system:masters; issued in memory at each start.
    // Kubelet serving certificates are verified against --kubelet-certificate-authority.
    std::string kubelet_ca = pki_.ca.cert_pem;
    if (c.kubelet_certificate_authority == "none") {
      kubelet_ca.clear();
    } else if (!c.kubelet_certificate_authority.empty()) {
      KORRAL_ASSIGN_OR_RETURN(kubelet_ca, pki::ReadCaBundle(c.kubelet_certificate_authority,
                                                            "--kubelet-certificate-authority"));
    }
    pki::CertOptions kubelet_client_opts;
    kubelet_client_opts.common_name = "kube-apiserver-kubelet-client";
    kubelet_client_opts.usage = pki::CertUsage::kClient;
    KORRAL_ASSIGN_OR_RETURN(pki::CertKeyPair kubelet_client_cert,
                            pki::NewSignedCert(pki_.ca, kubelet_client_opts));
    handler_options.node_proxy = std::make_shared<NodeProxy>(
        store_.get(), KubeletClientOptions{kubelet_ca, kubelet_client_cert.cert_pem,
                                           kubelet_client_cert.key_pem});
    handler_options.security = security_.get();
    handler_options.max_inflight = limiter;
    handler_options.request_timeout = c.request_timeout;
    handler_ = std::make_unique<ApiHandler>(store_.get(), discovery_.get(), &metrics_,
                                            &Clock::Real(), handler_options);
    KubeletClientConfig kubelet_client;
    kubelet_client.client_cert_pem = kubelet_client_cert.cert_pem;
    kubelet_client.client_key_pem = kubelet_client_cert.key_pem;
    kubelet_client.ca_pem = kubelet_ca;
    metrics_api_ = std::make_unique<MetricsApi>(store_.get(), &Clock::Real(),
                                                NewKubeletSummaryFetcher(kubelet_client));
    handler_->SetMetricsApi(metrics_api_.get());
    handler_holder_->store(handler_.get());

    server_url_ = fmt::format("https://{}", address);
    kubeconfig_ = c.data_dir + "/admin.kubeconfig";
    std::string kc =
        pki::KubeconfigYaml(fmt::format("https://{}", address), pki_.ca.cert_pem,
                            pki_.admin.cert_pem, pki_.admin.key_pem, "admin", "korral");
    KORRAL_RETURN_IF_ERROR(WriteFileAtomically(kubeconfig_, kc, 0600));
    KORRAL_RETURN_IF_ERROR(Bootstrap(host));
    if (c.compaction_interval.count() > 0) {
      compactor_ = std::thread([this, interval = c.compaction_interval] { CompactLoop(interval); });
    }
    handler_->SetReady(true);
    KLOG(Info, "korral apiserver serving on https://{} (kubeconfig: {})", address, kubeconfig_);
    return absl::OkStatus();
  }

  void Stop() override {
    if (stopped_) return;
    stopped_ = true;
    {
      std::lock_guard l(compact_mu_);
      stop_compactor_ = true;
    }
    compact_cv_.notify_all();
    if (compactor_.joinable()) compactor_.join();
    if (handler_) handler_->SetReady(false);
    if (server_) server_->Stop();
    if (security_) security_->Stop();
    if (cache_) cache_->Stop();
    handler_.reset();
    security_.reset();
    store_.reset();
    cache_.reset();
    instrumented_.reset();
    encrypted_.reset();
    backend_.reset();
  }

  int port() const override { return port_; }
  std::string kubeconfig_path() const override { return kubeconfig_; }
  absl::StatusOr<std::string> KubeconfigFor(const std::string& identity) override {
    return security::EnsureComponentKubeconfig(config_.data_dir, server_url_, pki_.ca, identity);
  }

 private:
  // Like upstream's compactor: each tick compacts up to the revision seen at the previous
  // tick, so clients always have at least one interval of history to resume from.
  void CompactLoop(std::chrono::milliseconds interval) {
    int64_t previous = 0;
    std::unique_lock l(compact_mu_);
    while (!compact_cv_.wait_for(l, interval, [this] { return stop_compactor_; })) {
      l.unlock();
      int64_t current = instrumented_->CurrentRevision();
      if (previous > instrumented_->CompactRevision()) {
        auto s = instrumented_->Compact(previous);
        if (!s.ok()) KLOG(Warning, "compaction to {} failed: {}", previous, s.ToString());
      }
      previous = current;
      l.lock();
    }
  }

  // The objects every cluster has (upstream's bootstrap controller and system namespaces).
  absl::Status Bootstrap(const std::string& host) {
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      KORRAL_RETURN_IF_ERROR(
          EnsureObject(store_.get(), "", "namespaces", "", Json{{"metadata", {{"name", ns}}}}));
    }
    Json svc = {{"metadata",
                 {{"name", "kubernetes"},
                  {"labels", {{"component", "apiserver"}, {"provider", "kubernetes"}}}}},
                {"spec",
                 {{"type", "ClusterIP"},
                  {"clusterIP", allocator_->FirstAddress()},
                  {"sessionAffinity", "None"},
                  {"ports", Json::array({{{"name", "https"},
                                          {"protocol", "TCP"},
                                          {"port", 443},
                                          {"targetPort", port_}}})}}}};
    KORRAL_RETURN_IF_ERROR(EnsureObject(store_.get(), "", "services", "default", svc));
    Json ep = {
        {"metadata",
         {{"name", "kubernetes"},
          {"labels", {{"endpointslice.kubernetes.io/skip-mirror", "true"}}}}},
        {"subsets",
         Json::array(
             {{{"addresses", Json::array({{{"ip", host}}})},
               {"ports",
                Json::array({{{"name", "https"}, {"port", port_}, {"protocol", "TCP"}}})}}})}};
    KORRAL_RETURN_IF_ERROR(EnsureObject(store_.get(), "", "endpoints", "default", ep));
    // TODO(korral): the service-account controller (controller-manager issue) creates
    // `default` in every namespace; until it runs, the system namespaces get theirs here.
    for (const char* ns : {"default", "kube-system", "kube-public", "kube-node-lease"}) {
      KORRAL_RETURN_IF_ERROR(EnsureObject(store_.get(), "", "serviceaccounts", ns,
                                          Json{{"metadata", {{"name", "default"}}}}));
    }
    KORRAL_RETURN_IF_ERROR(security_->Bootstrap());
    return absl::OkStatus();
  }

  ApiServerConfig config_;
  pki::ClusterPki pki_;
  Metrics metrics_;
  std::unique_ptr<storage::Backend> backend_;
  std::unique_ptr<encryption::EncryptedBackend> encrypted_;
  std::unique_ptr<InstrumentedBackend> instrumented_;
  std::unique_ptr<WatchCache> cache_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ServiceAllocator> allocator_;
  std::unique_ptr<Discovery> discovery_;
  std::unique_ptr<MetricsApi> metrics_api_;  // outlives handler_
  std::unique_ptr<ApiHandler> handler_;
  std::shared_ptr<std::atomic<ApiHandler*>> handler_holder_;
  std::unique_ptr<http::Server> server_;
  std::string kubeconfig_;
  std::string server_url_;
  std::unique_ptr<security::SecurityPipeline> security_;
  int port_ = 0;
  bool stopped_ = false;
  std::thread compactor_;
  std::mutex compact_mu_;
  std::condition_variable compact_cv_;
  bool stop_compactor_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ApiServer>> ApiServer::Start(const ApiServerConfig& config) {
  auto server = std::make_unique<ApiServerImpl>();
  KORRAL_RETURN_IF_ERROR(server->Init(config));
  return std::unique_ptr<ApiServer>(std::move(server));
}

}  // namespace korral::apiserver
