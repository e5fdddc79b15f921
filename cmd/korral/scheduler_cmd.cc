// cmd/korral/scheduler_cmd.cc: `korral scheduler` (kube-scheduler), alone or inside
// `korral server`.
//
//   korral scheduler --kubeconfig F [--config kube-scheduler.yaml] [--leader-elect=true] ...
//   korral server --kube-scheduler-arg=config=/etc/korral/scheduler.yaml ...
//
// Flags keep upstream's names. Leader election uses the Lease kube-system/kube-scheduler (or the
// config file's leaderElection section), so replicas can run side by side.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <sstream>

#include "cmd/korral/component.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/scheduler/config.h"
#include "korral/scheduler/server.h"
#include "korral/scheduler/serving.h"

namespace korral::cmd {
namespace {

namespace ks = korral::scheduler;

struct Settings {
  std::string kubeconfig;
  std::string config_file;
  std::optional<bool> leader_elect;
  std::string lease_duration, renew_deadline, retry_period;
  std::string lease_namespace, lease_name;
  double qps = 50;
  int burst = 100;
  int bind_workers = 8;
  std::vector<std::string> server_args;  // --kube-scheduler-arg (server only)
  int secure_port = 10259;               // 0: no /healthz, /metrics listener
  std::string bind_address = "127.0.0.1";
  std::string tls_cert_file, tls_private_key_file;
  // Delegated authn/authz of the secure port (empty kubeconfigs: --kubeconfig's).
  std::string authentication_kubeconfig, authorization_kubeconfig, client_ca_file;
  std::vector<std::string> always_allow_paths = {"/healthz", "/readyz", "/livez"};
};

void AddOptions(CLI::App* cmd, Settings* s) {
  cmd->add_option("--config", s->config_file, "A KubeSchedulerConfiguration file (v1)");
  cmd->add_option("--leader-elect", s->leader_elect,
                  "Elect a leader through a Lease before scheduling (default true)");
  cmd->add_option("--leader-elect-lease-duration", s->lease_duration, "Default 15s");
  cmd->add_option("--leader-elect-renew-deadline", s->renew_deadline, "Default 10s");
  cmd->add_option("--leader-elect-retry-period", s->retry_period, "Default 2s");
  cmd->add_option("--leader-elect-resource-namespace", s->lease_namespace, "Default kube-system");
  cmd->add_option("--leader-elect-resource-name", s->lease_name, "Default kube-scheduler");
  cmd->add_option("--kube-api-qps", s->qps, "Requests per second to the apiserver")
      ->capture_default_str();
  cmd->add_option("--kube-api-burst", s->burst, "Request burst to the apiserver")
      ->capture_default_str();
  cmd->add_option("--bind-workers", s->bind_workers,
                  "Threads that bind pods (and write events/status) concurrently")
      ->capture_default_str();
  cmd->add_option("--secure-port", s->secure_port,
                  "HTTPS port for /healthz and /metrics (0 disables)")
      ->capture_default_str();
  cmd->add_option("--bind-address", s->bind_address, "Address of the secure port")
      ->capture_default_str();
  cmd->add_option(
      "--authentication-kubeconfig", s->authentication_kubeconfig,
      "Kubeconfig for TokenReviews of the secure port's clients (default --kubeconfig)");
  cmd->add_option("--authorization-kubeconfig", s->authorization_kubeconfig,
                  "Kubeconfig for SubjectAccessReviews (default --kubeconfig)");
  cmd->add_option("--authorization-always-allow-paths", s->always_allow_paths,
                  "Paths served without authorization")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--client-ca-file", s->client_ca_file,
                  "CA whose client certificates authenticate on the secure port");
  cmd->add_option("--tls-cert-file", s->tls_cert_file,
                  "Serving certificate (PEM); default a self-signed one");
  cmd->add_option("--tls-private-key-file", s->tls_private_key_file, "Key of --tls-cert-file");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::string_view("cannot read " + path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<ks::SchedulerConfiguration> Resolve(const Settings& s) {
  ks::SchedulerConfiguration cfg;
  if (!s.config_file.empty()) {
    std::ifstream in(s.config_file);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::string_view("cannot read --config file " + s.config_file));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    KORRAL_ASSIGN_OR_RETURN(cfg, ks::ParseSchedulerConfiguration(ss.str()));
  } else {
    cfg.profiles.push_back(ks::ProfileConfig{});
  }
  auto& le = cfg.leader_election;
  if (s.leader_elect) le.leader_elect = *s.leader_elect;
  for (auto [flag, field] : {std::pair{&s.lease_duration, &le.lease_duration},
                             std::pair{&s.renew_deadline, &le.renew_deadline},
                             std::pair{&s.retry_period, &le.retry_period}}) {
    if (flag->empty()) continue;
    KORRAL_ASSIGN_OR_RETURN(*field, ks::ParseDuration(*flag));
  }
  if (!s.lease_namespace.empty()) le.resource_namespace = s.lease_namespace;
  if (!s.lease_name.empty()) le.resource_name = s.lease_name;
  return cfg;
}

class Instance : public RunningComponent {
 public:
  static absl::StatusOr<std::unique_ptr<Instance>> Start(const Settings& s,
                                                         const std::string& kubeconfig) {
    std::unique_ptr<Instance> in(new Instance());
    KORRAL_ASSIGN_OR_RETURN(ks::SchedulerConfiguration cfg, Resolve(s));
    KORRAL_ASSIGN_OR_RETURN(client::RestConfig rc, client::LoadKubeconfig(kubeconfig));
    rc.qps = s.qps;
    rc.burst = s.burst;
    rc.user_agent = "kube-scheduler/korral";
    KORRAL_ASSIGN_OR_RETURN(in->client_, client::RestClient::New(rc));
    ks::SchedulerServerOptions o;
    o.config = std::move(cfg);
    o.bind_workers = s.bind_workers;
    KORRAL_ASSIGN_OR_RETURN(in->server_, ks::SchedulerServer::New(*in->client_, std::move(o)));
    KORRAL_RETURN_IF_ERROR(in->server_->Start());
    if (s.secure_port > 0) {
      ks::SecureServingOptions so;
      so.bind_address = s.bind_address;
      so.port = static_cast<uint16_t>(s.secure_port);
      if (!s.tls_cert_file.empty()) {
        KORRAL_ASSIGN_OR_RETURN(so.cert_pem, ReadFile(s.tls_cert_file));
      }
      if (!s.tls_private_key_file.empty()) {
        KORRAL_ASSIGN_OR_RETURN(so.key_pem, ReadFile(s.tls_private_key_file));
      }
      ks::SchedulerServer* server = in->server_.get();
      so.metrics = [server] { return server->scheduler().RenderMetrics(); };
      if (!s.client_ca_file.empty()) {
        KORRAL_ASSIGN_OR_RETURN(so.client_ca_pem, ReadFile(s.client_ca_file));
      }
      auto review_client = [&](const std::string& path,
                               std::unique_ptr<client::RestClient>* own) -> absl::Status {
        if (path.empty()) return absl::OkStatus();
        KORRAL_ASSIGN_OR_RETURN(client::RestConfig arc, client::LoadKubeconfig(path));
        arc.user_agent = "kube-scheduler/korral";
        KORRAL_ASSIGN_OR_RETURN(*own, client::RestClient::New(arc));
        return absl::OkStatus();
      };
      KORRAL_RETURN_IF_ERROR(review_client(s.authentication_kubeconfig, &in->authn_client_));
      KORRAL_RETURN_IF_ERROR(review_client(s.authorization_kubeconfig, &in->authz_client_));
      ks::DelegatedAuthOptions ao;
      ao.authn_client = in->authn_client_ ? in->authn_client_.get() : in->client_.get();
      ao.authz_client = in->authz_client_ ? in->authz_client_.get() : in->client_.get();
      ao.always_allow_paths = s.always_allow_paths;
      so.auth = std::make_shared<ks::DelegatedAuth>(std::move(ao));
      KORRAL_ASSIGN_OR_RETURN(in->serving_, ks::SecureServing::Start(std::move(so)));
    }
    return in;
  }
  ~Instance() override { Stop(); }
  void Stop() override {
    if (stopped_.exchange(true)) return;
    if (serving_) serving_->Stop();
    if (server_) server_->Stop();
  }

 private:
  Instance() = default;
  std::unique_ptr<client::RestClient> client_;
  std::unique_ptr<client::RestClient> authn_client_, authz_client_;
  std::unique_ptr<ks::SchedulerServer> server_;
  std::unique_ptr<ks::SecureServing> serving_;
  std::atomic<bool> stopped_{false};
};

}  // namespace

void RegisterSchedulerComponent(Components& components) {
  auto standalone = std::make_shared<Settings>();
  auto in_server = std::make_shared<Settings>();
  // In-process the scheduler shares the machine with the apiserver; binding throughput matters
  // more than protecting the apiserver from one client.
  in_server->qps = 5000;
  in_server->burst = 10000;
  in_server->secure_port = 0;  // korral server serves its own /healthz and /metrics
  Component c;
  c.name = "scheduler";
  c.description = "Run the scheduler (kube-scheduler)";
  c.aliases = {"kube-scheduler"};
  c.add_flags = [standalone](CLI::App* cmd) {
    cmd->add_option("--kubeconfig", standalone->kubeconfig, "Kubeconfig of the apiserver")
        ->required();
    AddOptions(cmd, standalone.get());
  };
  c.run = [standalone]() -> int {
    auto in = Instance::Start(*standalone, standalone->kubeconfig);
    if (!in.ok()) {
      KLOG(Error, "scheduler failed to start: {}", in.status().ToString());
      return 1;
    }
    int sig = WaitForShutdownSignal();
    KLOG(Info, "scheduler: received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    (*in)->Stop();
    return 0;
  };
  c.add_server_flags = [in_server](CLI::App* server) {
    server->add_option("--kube-scheduler-arg", in_server->server_args,
                       "A scheduler flag as key=value (repeatable), e.g. config=/path.yaml");
  };
  c.start_in_server =
      [in_server](const ServerContext& ctx) -> absl::StatusOr<std::unique_ptr<RunningComponent>> {
    Settings s = *in_server;
    KORRAL_RETURN_IF_ERROR(ApplyServerArgs("--kube-scheduler-arg", s.server_args,
                                           [&s](CLI::App* app) { AddOptions(app, &s); }));
    KORRAL_ASSIGN_OR_RETURN(std::string kubeconfig, ctx.kubeconfig_for("system:kube-scheduler"));
    KORRAL_ASSIGN_OR_RETURN(auto in, Instance::Start(s, kubeconfig));
    return std::unique_ptr<RunningComponent>(std::move(in));
  };
  components.push_back(std::move(c));
}

}  // namespace korral::cmd
