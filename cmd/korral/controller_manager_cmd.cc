// cmd/korral/controller_manager_cmd.cc: `korral controller-manager` (kube-controller-manager),
// alone or inside `korral server`.
//
//   korral controller-manager --kubeconfig F [--controllers=*,-name] [--leader-elect=true] ...
//   korral server --kube-controller-manager-arg=node-monitor-grace-period=10s ...
//
// Flags keep upstream's names. Leader election uses the Lease kube-system/kube-controller-manager
// (--leader-elect-resource-namespace/-name), so replicas can run side by side.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "absl/strings/str_split.h"
#include "cmd/korral/component.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/leaderelection.h"
#include "korral/client/rest.h"
#include "korral/controllers/controller_utils.h"
#include "korral/controllers/discovery.h"
#include "korral/controllers/manager.h"

namespace korral::cmd {
namespace {

namespace kc = korral::controllers;

struct Settings {
  std::string kubeconfig;
  std::string controllers = "*";
  bool leader_elect = true;
  bool use_service_account_credentials = false;  // --use-service-account-credentials
  std::string lease_duration = "15s", renew_deadline = "10s", retry_period = "2s";
  std::string lease_namespace = "kube-system", lease_name = "kube-controller-manager";
  double qps = 20;
  int burst = 30;
  std::string event_ttl = "1h", node_monitor_grace_period = "40s", node_monitor_period = "5s",
              node_startup_grace_period = "1m", resource_quota_sync_period = "5m",
              namespace_sync_period = "5m";
  std::string cluster_signing_duration = "8760h";
  kc::ControllerOptions options;
  std::vector<std::string> server_args;  // --kube-controller-manager-arg (server only)
};

// Options shared by the standalone command and --kube-controller-manager-arg.
void AddOptions(CLI::App* cmd, Settings* s) {
  auto& o = s->options;
  cmd->add_option("--controllers", s->controllers,
                  "Controllers to enable: '*' enables all on-by-default controllers, 'foo' "
                  "enables foo, '-foo' disables foo (comma-separated)")
      ->capture_default_str();
  cmd->add_option("--concurrent-syncs", o.concurrent_workers,
                  "Workers per controller (all --concurrent-*-syncs flags set this)")
      ->capture_default_str();
  for (const char* f :
       {"--concurrent-namespace-syncs", "--concurrent-gc-syncs", "--concurrent-endpoint-syncs",
        "--concurrent-service-endpoint-syncs", "--concurrent-serviceaccount-token-syncs",
        "--concurrent-resource-quota-syncs", "--concurrent-replicaset-syncs",
        "--concurrent-deployment-syncs", "--concurrent-statefulset-syncs",
        "--concurrent-daemonset-syncs", "--concurrent-job-syncs", "--concurrent-cron-job-syncs",
        "--concurrent-ttl-after-finished-syncs"}) {
    cmd->add_option(f, o.concurrent_workers, "Same as --concurrent-syncs");
  }
  cmd->add_option("--terminated-pod-gc-threshold", o.terminated_pod_gc_threshold,
                  "Terminated pods kept before the pod GC deletes the oldest (<= 0: disabled)")
      ->capture_default_str();
  cmd->add_option("--event-ttl", s->event_ttl, "How long events are kept")->capture_default_str();
  cmd->add_option("--node-monitor-grace-period", s->node_monitor_grace_period,
                  "How long a node may be unresponsive before it is marked unhealthy")
      ->capture_default_str();
  cmd->add_option("--node-monitor-period", s->node_monitor_period,
                  "How often node health is checked")
      ->capture_default_str();
  cmd->add_option("--node-startup-grace-period", s->node_startup_grace_period,
                  "How long a starting node may be unresponsive")
      ->capture_default_str();
  cmd->add_option("--node-eviction-rate", o.node_eviction_rate,
                  "Nodes per second whose pods are evicted, per healthy zone")
      ->capture_default_str();
  cmd->add_option("--secondary-node-eviction-rate", o.secondary_node_eviction_rate,
                  "Eviction rate in an unhealthy zone")
      ->capture_default_str();
  cmd->add_option("--unhealthy-zone-threshold", o.unhealthy_zone_threshold,
                  "Fraction of not-ready nodes that makes a zone unhealthy")
      ->capture_default_str();
  cmd->add_option("--large-cluster-size-threshold", o.large_cluster_size_threshold,
                  "Zones with more nodes than this use the secondary eviction rate when unhealthy")
      ->capture_default_str();
  cmd->add_option("--cluster-cidr", o.cluster_cidr, "CIDR range of pods")->capture_default_str();
  cmd->add_option("--node-cidr-mask-size", o.node_cidr_mask_size, "Mask size of each node CIDR")
      ->capture_default_str();
  cmd->add_option("--allocate-node-cidrs", o.allocate_node_cidrs,
                  "Allocate a podCIDR to each node from --cluster-cidr")
      ->capture_default_str();
  cmd->add_option("--root-ca-file", o.root_ca_file,
                  "CA bundle published as kube-root-ca.crt in every namespace");
  cmd->add_option("--cluster-signing-cert-file", o.cluster_signing_cert_file,
                  "PEM CA certificate that signs approved kubernetes.io CSRs");
  cmd->add_option("--cluster-signing-key-file", o.cluster_signing_key_file,
                  "PEM private key of --cluster-signing-cert-file");
  cmd->add_option("--cluster-signing-duration", s->cluster_signing_duration,
                  "Longest validity of the certificates signed for CSRs")
      ->capture_default_str();
  cmd->add_option("--resource-quota-sync-period", s->resource_quota_sync_period,
                  "How often quota usage is recomputed")
      ->capture_default_str();
  cmd->add_option("--namespace-sync-period", s->namespace_sync_period,
                  "How often namespaces are resynced")
      ->capture_default_str();
  cmd->add_option("--use-service-account-credentials", s->use_service_account_credentials,
                  "Run each controller with its own service account in kube-system")
      ->capture_default_str();
  cmd->add_option("--kube-api-qps", s->qps, "Requests per second to the apiserver")
      ->capture_default_str();
  cmd->add_option("--kube-api-burst", s->burst, "Request burst to the apiserver")
      ->capture_default_str();
  cmd->add_option("--leader-elect", s->leader_elect,
                  "Elect a leader through a Lease before running the controllers")
      ->capture_default_str();
  cmd->add_option("--leader-elect-lease-duration", s->lease_duration)->capture_default_str();
  cmd->add_option("--leader-elect-renew-deadline", s->renew_deadline)->capture_default_str();
  cmd->add_option("--leader-elect-retry-period", s->retry_period)->capture_default_str();
  cmd->add_option("--leader-elect-resource-namespace", s->lease_namespace)->capture_default_str();
  cmd->add_option("--leader-elect-resource-name", s->lease_name)->capture_default_str();
}

// Fills the durations of `s->options` from their flag strings.
absl::Status ResolveDurations(Settings* s) {
  auto secs = [](const std::string& v, std::chrono::seconds* out) -> absl::Status {
    KORRAL_ASSIGN_OR_RETURN(auto ms, kc::ParseGoDuration(v));
    *out = std::chrono::duration_cast<std::chrono::seconds>(ms);
    if (*out < std::chrono::seconds(1) && ms.count() > 0) *out = std::chrono::seconds(1);
    return absl::OkStatus();
  };
  auto& o = s->options;
  KORRAL_RETURN_IF_ERROR(secs(s->event_ttl, &o.event_ttl));
  KORRAL_RETURN_IF_ERROR(secs(s->node_monitor_grace_period, &o.node_monitor_grace_period));
  KORRAL_RETURN_IF_ERROR(secs(s->node_monitor_period, &o.node_monitor_period));
  KORRAL_RETURN_IF_ERROR(secs(s->node_startup_grace_period, &o.node_startup_grace_period));
  KORRAL_RETURN_IF_ERROR(secs(s->resource_quota_sync_period, &o.resource_quota_sync_period));
  KORRAL_RETURN_IF_ERROR(secs(s->namespace_sync_period, &o.namespace_sync_period));
  KORRAL_RETURN_IF_ERROR(secs(s->cluster_signing_duration, &o.cluster_signing_duration));
  for (auto* v : {&s->lease_duration, &s->renew_deadline, &s->retry_period}) {
    KORRAL_RETURN_IF_ERROR(kc::ParseGoDuration(*v).status());
  }
  return absl::OkStatus();
}

std::string Identity() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  std::random_device rd;
  std::mt19937_64 rng(rd());
  static const char* kHex = "0123456789abcdef";
  std::string id = std::string(host) + "_";
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id += '-';
    id += kHex[rng() % 16];
  }
  return id;
}

// The running controller manager: the client, discovery, the elector (if any) and the manager.
class Instance : public RunningComponent {
 public:
  static absl::StatusOr<std::unique_ptr<Instance>> Start(const Settings& s,
                                                         const std::string& kubeconfig) {
    std::unique_ptr<Instance> in(new Instance());
    KORRAL_ASSIGN_OR_RETURN(client::RestConfig cfg, client::LoadKubeconfig(kubeconfig));
    cfg.qps = s.qps;
    cfg.burst = s.burst;
    cfg.user_agent = "kube-controller-manager/korral";
    KORRAL_ASSIGN_OR_RETURN(in->client_, client::RestClient::New(cfg));
    if (s.use_service_account_credentials) {
      in->sa_clients_ =
          std::make_unique<kc::ServiceAccountClientBuilder>(*in->client_, cfg, Clock::Real());
      in->config_.service_account_clients = in->sa_clients_.get();
    }
    in->discovery_ = kc::NewRestDiscovery(*in->client_);
    in->config_.controllers = absl::StrSplit(s.controllers, ',', absl::SkipWhitespace());
    in->config_.options = s.options;
    // Upstream publishes the kubeconfig's CA when --root-ca-file is not given.
    if (s.options.root_ca_file.empty()) in->config_.options.root_ca_pem = cfg.ca_pem;
    KORRAL_RETURN_IF_ERROR(
        kc::ValidateControllersFlag(in->config_.controllers, kc::AllControllers()));
    if (!s.leader_elect) {
      KORRAL_RETURN_IF_ERROR(in->StartManager());
      return in;
    }
    client::LeaderElectionConfig le;
    le.lease_namespace = s.lease_namespace;
    le.lease_name = s.lease_name;
    le.identity = Identity();
    le.lease_duration = *kc::ParseGoDuration(s.lease_duration);
    le.renew_deadline = *kc::ParseGoDuration(s.renew_deadline);
    le.retry_period = *kc::ParseGoDuration(s.retry_period);
    Instance* self = in.get();
    le.on_started_leading = [self] {
      KLOG(Info, "controller-manager: became leader");
      if (auto st = self->StartManager(); !st.ok()) {
        KLOG(Error, "controller-manager: {}", st.ToString());
        self->Fail();
      }
    };
    le.on_stopped_leading = [self] {
      if (self->stopping_) return;
      KLOG(Error, "controller-manager: leader election lost");
      self->Fail();
    };
    le.on_new_leader = [](const std::string& id) {
      KLOG(Info, "controller-manager: the leader is {}", id);
    };
    in->elector_ = std::make_unique<client::LeaderElector>(*in->client_, std::move(le));
    in->elector_thread_ = std::thread([self] { self->elector_->Run(); });
    return in;
  }

  ~Instance() override { Stop(); }

  void Stop() override {
    if (stopping_.exchange(true)) return;
    if (elector_) {
      elector_->Stop();
      if (elector_thread_.joinable()) elector_thread_.join();
    }
    std::lock_guard l(mu_);
    if (manager_) manager_->Stop();
    manager_.reset();
  }

  bool failed() const { return failed_; }

 private:
  Instance() = default;

  absl::Status StartManager() {
    std::lock_guard l(mu_);
    if (stopping_) return absl::OkStatus();
    KORRAL_ASSIGN_OR_RETURN(manager_,
                            kc::ControllerManager::Start(*client_, discovery_.get(), config_));
    return absl::OkStatus();
  }

  // Upstream exits when it loses the lease or a controller cannot start; wake the main thread.
  void Fail() {
    failed_ = true;
    kill(getpid(), SIGTERM);
  }

  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<kc::Discovery> discovery_;
  kc::ManagerConfig config_;
  std::unique_ptr<kc::ServiceAccountClientBuilder> sa_clients_;  // outlives manager_
  std::unique_ptr<client::LeaderElector> elector_;
  std::thread elector_thread_;
  std::mutex mu_;
  std::unique_ptr<kc::ControllerManager> manager_;
  std::atomic<bool> stopping_{false}, failed_{false};
};

}  // namespace

void RegisterControllerManagerComponent(Components& components) {
  auto standalone = std::make_shared<Settings>();
  auto in_server = std::make_shared<Settings>();
  // Inside `korral server` each controller runs as its own service account, as kubeadm and k3s
  // configure kube-controller-manager (--kube-controller-manager-arg to turn it off).
  in_server->use_service_account_credentials = true;
  // Inside `korral server` the controllers talk to the same process: no client-side rate limit
  // (the apiserver's max-in-flight limits apply); --kube-controller-manager-arg=kube-api-qps=N
  // sets one.
  in_server->qps = 0;
  in_server->burst = 0;
  Component c;
  c.name = "controller-manager";
  c.description = "Run the controller manager (kube-controller-manager)";
  c.aliases = {"kube-controller-manager"};
  c.add_flags = [standalone](CLI::App* cmd) {
    cmd->add_option("--kubeconfig", standalone->kubeconfig, "Kubeconfig of the apiserver")
        ->required();
    AddOptions(cmd, standalone.get());
  };
  c.run = [standalone]() -> int {
    if (auto st = ResolveDurations(standalone.get()); !st.ok()) {
      KLOG(Error, "controller-manager: {}", StatusMessage(st));
      return 2;
    }
    auto in = Instance::Start(*standalone, standalone->kubeconfig);
    if (!in.ok()) {
      KLOG(Error, "controller-manager failed to start: {}", in.status().ToString());
      return 1;
    }
    int sig = WaitForShutdownSignal();
    KLOG(Info, "controller-manager: received {}, shutting down",
         sig == SIGINT ? "SIGINT" : "SIGTERM");
    bool failed = (*in)->failed();
    (*in)->Stop();
    return failed ? 1 : 0;
  };
  c.add_server_flags = [in_server](CLI::App* server) {
    server->add_option("--kube-controller-manager-arg", in_server->server_args,
                       "A controller-manager flag as key=value (repeatable), e.g. "
                       "node-monitor-grace-period=10s");
    server
        ->add_option("--cluster-cidr", in_server->options.cluster_cidr,
                     "CIDR range of pods (node podCIDRs are allocated from it)")
        ->capture_default_str();
  };
  c.start_in_server =
      [in_server](const ServerContext& ctx) -> absl::StatusOr<std::unique_ptr<RunningComponent>> {
    Settings s = *in_server;
    s.options.root_ca_file = ctx.data_dir + "/tls/ca.crt";
    // Upstream passes the cluster CA to kube-controller-manager for csrsigning.
    s.options.cluster_signing_cert_file = ctx.data_dir + "/tls/ca.crt";
    s.options.cluster_signing_key_file = ctx.data_dir + "/tls/ca.key";
    KORRAL_RETURN_IF_ERROR(ApplyServerArgs("--kube-controller-manager-arg", s.server_args,
                                           [&s](CLI::App* app) { AddOptions(app, &s); }));
    KORRAL_RETURN_IF_ERROR(ResolveDurations(&s));
    KORRAL_ASSIGN_OR_RETURN(std::string kubeconfig,
                            ctx.kubeconfig_for("system:kube-controller-manager"));
    KORRAL_ASSIGN_OR_RETURN(auto in, Instance::Start(s, kubeconfig));
    return std::unique_ptr<RunningComponent>(std::move(in));
  };
  components.push_back(std::move(c));
}

}  // namespace korral::cmd
