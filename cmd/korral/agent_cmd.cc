// cmd/korral/agent_cmd.cc: the node commands.
//
//   korral agent --kubeconfig F --data-dir D [--server URL] [--node-name N] [--pod-cidr C]
//                [--container-runtime-endpoint unix:///...] [--registry-port P] ...
//   korral server ...            runs a local agent in-process (data under DATA_DIR/agent)
//                                unless --disable-agent; --agent-arg key=value passes flags
//   korral images import FILE    loads an OCI or Docker archive into the agent's containerd
//                                and its registry
//   korral hollow-nodes --count N --kubeconfig F   N kubelets on the fake CRI runtime
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <thread>

#include "cmd/korral/component.h"
#include "fmt/format.h"
#include "korral/agent/agent.h"
#include "korral/agent/bootstrap.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/cri/fake.h"
#include "korral/kubelet/hollow.h"
#include "korral/kubelet/kubelet.h"

namespace korral::cmd {
namespace {

struct AgentSettings {
  agent::AgentConfig cfg;
  std::string token, ca_file;            // TLS bootstrap (standalone only)
  std::vector<std::string> labels;       // key=value
  std::vector<std::string> server_args;  // --agent-arg (server only)
};

void AddAgentOptions(CLI::App* cmd, AgentSettings* s) {
  auto& c = s->cfg;
  cmd->add_option("--server", c.server, "API server URL (overrides the kubeconfig's)");
  cmd->add_option("--node-name", c.node_name, "Node name (default: the host name)");
  cmd->add_option("--node-ip", c.node_ip, "Node address (default: the default route's)");
  cmd->add_option("--container-runtime-endpoint", c.container_runtime_endpoint,
                  "Use this CRI socket instead of starting containerd");
  cmd->add_option("--pod-cidr", c.pod_cidr, "Pod CIDR of this node (CNI bridge range)")
      ->capture_default_str();
  cmd->add_option("--cni-bridge", c.cni_bridge, "Linux bridge of the pod network")
      ->capture_default_str();
  cmd->add_option("--cgroup-root", c.cgroup_root, "Parent cgroup of the pod QoS tree")
      ->capture_default_str();
  cmd->add_option("--registry-port", c.registry_port,
                  "Port of the local image registry on 127.0.0.1 (0: none)")
      ->capture_default_str();
  cmd->add_option("--kubelet-port", c.kubelet_port, "Kubelet server port")->capture_default_str();
  cmd->add_option("--cluster-dns", c.cluster_dns, "DNS server IP for pods (ClusterFirst)");
  cmd->add_option("--node-labels", s->labels, "Extra node labels key=value (repeatable)");
  cmd->add_option("--pod-manifest-path", c.pod_manifest_path,
                  "Directory of static pod manifests (YAML/JSON) run with mirror pods in the API");
  cmd->add_option("--eviction-hard", c.eviction_hard,
                  "Hard eviction thresholds on memory.available, nodefs.available, "
                  "nodefs.inodesFree, imagefs.available, imagefs.inodesFree and pid.available, "
                  "e.g. memory.available<100Mi,nodefs.available<10% (replaces all the defaults: "
                  "memory.available<100Mi, nodefs.available<10%, nodefs.inodesFree<5%, "
                  "imagefs.inodesFree<5%)");
  cmd->add_option(
      "--eviction-soft", c.eviction_soft,
      "Soft eviction thresholds, e.g. memory.available<1Gi (each needs a grace period)");
  cmd->add_option("--eviction-soft-grace-period", c.eviction_soft_grace_period,
                  "How long each soft threshold must hold before evicting, e.g. "
                  "memory.available=1m30s");
  cmd->add_option("--eviction-max-pod-grace-period", c.eviction_max_pod_grace_period,
                  "Longest termination grace period (s) of a pod evicted for a soft threshold")
      ->capture_default_str();
  cmd->add_flag("--cleanup-on-exit", c.cleanup_on_exit,
                "On exit remove all pods, pod cgroups and the CNI bridge (tests)");
}

void ApplyLabels(AgentSettings* s) {
  for (const auto& l : s->labels) {
    auto eq = l.find('=');
    if (eq != std::string::npos) s->cfg.node_labels[l.substr(0, eq)] = l.substr(eq + 1);
  }
}

class AgentInstance : public RunningComponent {
 public:
  explicit AgentInstance(std::unique_ptr<agent::Agent> a) : agent_(std::move(a)) {}
  ~AgentInstance() override { Stop(); }
  void Stop() override {
    if (stopped_.exchange(true)) return;
    agent_->Stop();
  }

 private:
  std::unique_ptr<agent::Agent> agent_;
  std::atomic<bool> stopped_{false};
};

// ---- hollow nodes ----

}  // namespace

void RegisterAgentComponent(Components& components) {
  // `korral agent`
  {
    auto standalone = std::make_shared<AgentSettings>();
    auto in_server = std::make_shared<AgentSettings>();
    Component c;
    c.name = "agent";
    c.description = "Run the node agent (kubelet on containerd)";
    c.aliases = {"kubelet"};
    c.add_flags = [standalone](CLI::App* cmd) {
      cmd->add_option("--kubeconfig", standalone->cfg.kubeconfig,
                      "Kubeconfig of the apiserver (or join with --server, --token, --ca-file)");
      cmd->add_option("--token", standalone->token,
                      "Bootstrap token <id>.<secret> (`korral token create`): join the cluster, "
                      "get a node certificate and keep it in DATA_DIR/kubelet.kubeconfig");
      cmd->add_option("--ca-file", standalone->ca_file,
                      "Cluster CA certificate (server's DATA_DIR/tls/ca.crt) for --token");
      cmd->add_option("--data-dir", standalone->cfg.data_dir, "Agent state directory")->required();
      AddAgentOptions(cmd, standalone.get());
    };
    c.run = [standalone]() -> int {
      ApplyLabels(standalone.get());
      if (auto st =
              agent::BootstrapFromFlags(&standalone->cfg, standalone->token, standalone->ca_file);
          !st.ok()) {
        KLOG(Error, "agent: {}", StatusMessage(st));
        return 1;
      }
      agent::Agent a(standalone->cfg);
      absl::Status st = a.Start();
      if (!st.ok()) {
        KLOG(Error, "agent failed to start: {}", st.ToString());
        a.Stop();
        return 1;
      }
      int sig = WaitForShutdownSignal();
      KLOG(Info, "agent: received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
      a.Stop();
      return 0;
    };
    c.add_server_flags = [in_server](CLI::App* server) {
      server->add_option("--agent-arg", in_server->server_args,
                         "An agent flag as key=value (repeatable), e.g. pod-cidr=10.42.1.0/24");
    };
    c.start_in_server =
        [in_server](const ServerContext& ctx) -> absl::StatusOr<std::unique_ptr<RunningComponent>> {
      AgentSettings s = *in_server;
      KORRAL_RETURN_IF_ERROR(ApplyServerArgs("--agent-arg", s.server_args,
                                             [&s](CLI::App* app) { AddAgentOptions(app, &s); }));
      ApplyLabels(&s);
      s.cfg.data_dir = ctx.data_dir + "/agent";
      s.cfg.server = ctx.server_url;
      std::string node = s.cfg.node_name;
      if (node.empty()) {
        char host[256] = {};
        gethostname(host, sizeof host - 1);
        node = host;
        for (auto& ch : node) ch = static_cast<char>(std::tolower(ch));
        s.cfg.node_name = node;
      }
      KORRAL_ASSIGN_OR_RETURN(s.cfg.kubeconfig, ctx.kubeconfig_for("system:node:" + node));
      auto a = std::make_unique<agent::Agent>(s.cfg);
      absl::Status st = a->Start();
      if (!st.ok()) {
        a->Stop();
        return st;
      }
      return std::unique_ptr<RunningComponent>(new AgentInstance(std::move(a)));
    };
    components.push_back(std::move(c));
  }
  // `korral images import FILE`
  {
    struct ImageSettings {
      std::string file, data_dir = "/var/lib/korral/server/agent", socket;
      int registry_port = 5055;
    };
    auto s = std::make_shared<ImageSettings>();
    Component c;
    c.name = "images";
    c.description = "Manage the node's images (import an OCI or Docker archive)";
    c.add_flags = [s](CLI::App* cmd) {
      auto* imp = cmd->add_subcommand("import",
                                      "Load an OCI or Docker archive into containerd "
                                      "and the local registry");
      imp->add_option("file", s->file, "Image archive (oci-archive or docker save tar)")
          ->required();
      imp->add_option("--data-dir", s->data_dir, "The agent's data dir")->capture_default_str();
      imp->add_option("--containerd-socket", s->socket,
                      "containerd socket (default: DATA_DIR/containerd/containerd.sock)");
      imp->add_option("--registry-port", s->registry_port, "Local registry port (0: skip)")
          ->capture_default_str();
      cmd->require_subcommand(1);
    };
    c.run = [s]() -> int {
      std::string sock =
          s->socket.empty() ? s->data_dir + "/containerd/containerd.sock" : s->socket;
      absl::Status st = agent::ImportImage(s->file, sock, s->registry_port);
      if (!st.ok()) {
        fmt::print(stderr, "error: {}\n", StatusMessage(st));
        return 1;
      }
      fmt::print("imported {}\n", s->file);
      return 0;
    };
    components.push_back(std::move(c));
  }
  // `korral hollow-nodes`
  {
    auto s = std::make_shared<kubelet::HollowOptions>();
    Component c;
    c.name = "hollow-nodes";
    c.description = "Run N kubelets on the fake CRI runtime (scale tests)";
    c.add_flags = [s](CLI::App* cmd) {
      cmd->add_option("--kubeconfig", s->kubeconfig, "Kubeconfig of the apiserver")->required();
      cmd->add_option("--count", s->count, "Number of hollow nodes")->capture_default_str();
      cmd->add_option("--name-prefix", s->prefix, "Node name prefix")->capture_default_str();
      cmd->add_option("--workers", s->workers,
                      "Worker threads shared by all nodes (pod syncs, leases, status)")
          ->capture_default_str();
      cmd->add_option("--start-parallelism", s->start_parallelism,
                      "Nodes registered concurrently at start")
          ->capture_default_str();
      cmd->add_flag("--per-node-threads", s->per_node_threads,
                    "Each node with its own pod watch and threads (for comparison)");
    };
    c.run = [s]() -> int { return kubelet::RunHollowNodes(*s, [] { WaitForShutdownSignal(); }); };
    components.push_back(std::move(c));
  }
}

}  // namespace korral::cmd
