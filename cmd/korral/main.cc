// korral: one multi-call binary for every component.
//
//   korral server      control plane (apiserver with embedded storage; more components follow)
//   korral apiserver   the apiserver alone
//   korral version     print the version
//
// Invoked through a symlink named after a subcommand (e.g. `kube-apiserver`), it runs that one.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "korral/apiserver/apiserver.h"
#include "korral/base/log.h"

namespace {

constexpr char kVersion[] = "v1.32.4-korral";

int RunApiServer(const korral::apiserver::ApiServerConfig& config, bool disable_agent) {
  // Block the shutdown signals in every thread; the main thread waits for them below.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto server = korral::apiserver::ApiServer::Start(config);
  if (!server.ok()) {
    KLOG(Error, "korral server failed to start: {}", server.status().ToString());
    return 1;
  }
  if (!disable_agent) {
    // TODO(korral): the node agent (kubelet + proxy) is the node issue; `korral server` runs
    // the control plane only until then.
    KLOG(Warning, "the node agent is not built yet; running the control plane only");
  }
  int sig = 0;
  sigwait(&set, &sig);
  KLOG(Info, "received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Stop();
  KLOG(Info, "stopped");
  return 0;
}

void AddServerFlags(CLI::App* cmd, korral::apiserver::ApiServerConfig* c) {
  cmd->add_option("--data-dir,-d", c->data_dir, "Directory for state, TLS material and kubeconfig")
      ->capture_default_str();
  cmd->add_option("--bind-address", c->bind_address, "Address the apiserver listens on")
      ->capture_default_str();
  cmd->add_option("--secure-port", c->secure_port, "HTTPS port of the apiserver (0: pick one)")
      ->capture_default_str()
      ->check(CLI::Range(0, 65535));
  cmd->add_option("--service-cidr", c->service_cidr, "Range of Service cluster IPs")
      ->capture_default_str();
  cmd->add_option("--service-node-port-range", c->node_port_range, "Range of NodePorts")
      ->capture_default_str();
  cmd->add_option("--tls-san", c->tls_sans, "Extra SANs for the serving certificate");
  cmd->add_option_function<std::string>(
      "--etcd-compaction-interval",
      [c](const std::string& v) {
        // Go-style durations: "5m", "30s", "500ms", "0" (disabled).
        double n = std::atof(v.c_str());
        auto pos = v.find_first_not_of("0123456789.");
        std::string unit = pos == std::string::npos ? "" : v.substr(pos);
        if (v == "0") unit = "s";
        double ms = unit == "ms"  ? n
                    : unit == "s" ? n * 1000
                    : unit == "m" ? n * 60000
                    : unit == "h" ? n * 3600000
                                  : -1;
        if (ms < 0)
          throw CLI::ValidationError("--etcd-compaction-interval", "use e.g. 5m, 30s, 500ms");
        c->compaction_interval = std::chrono::milliseconds(static_cast<int64_t>(ms));
      },
      "How often old storage revisions are compacted (default 5m; 0 disables)");
  cmd->add_option("--storage-backend", c->storage_backend, "sqlite (default) or memory")
      ->capture_default_str()
      ->check(CLI::IsMember({"sqlite", "memory"}));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"korral: Kubernetes in one C++ binary"};
  app.require_subcommand(1);

  korral::apiserver::ApiServerConfig server_config;
  server_config.data_dir = "/var/lib/korral/server";
  bool disable_agent = false;
  auto* server = app.add_subcommand("server", "Run the control plane (apiserver, storage, ...)");
  AddServerFlags(server, &server_config);
  server->add_flag("--disable-agent", disable_agent, "Do not run the node agent in this process");

  korral::apiserver::ApiServerConfig apiserver_config;
  auto* apiserver = app.add_subcommand("apiserver", "Run the apiserver alone");
  AddServerFlags(apiserver, &apiserver_config);

  app.add_subcommand("version", "Print the version")->callback([] { std::puts(kVersion); });

  // Multi-call: `kube-apiserver ...` behaves like `korral apiserver ...`.
  std::string self = argv[0];
  auto slash = self.rfind('/');
  if (slash != std::string::npos) self = self.substr(slash + 1);
  std::vector<std::string> args(argv + 1, argv + argc);
  if (self == "kube-apiserver") args.insert(args.begin(), "apiserver");
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (server->parsed()) return RunApiServer(server_config, disable_agent);
  if (apiserver->parsed()) return RunApiServer(apiserver_config, true);
  return 0;
}
