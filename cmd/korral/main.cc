// korral: one multi-call binary for every component.
//
//   korral server      control plane: apiserver with embedded storage, plus every component
//                      registered below that runs in-process (scheduler, controllers, agent)
//   korral apiserver   the apiserver alone
//   korral <component> one component alone (see cmd/korral/component.h)
//   korral version     print the version
//
// Invoked through a symlink named after a subcommand or alias (e.g. `kube-apiserver`), it runs
// that one.
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <string>

#include <CLI/CLI.hpp>

#include "cmd/korral/component.h"
#include "korral/apiserver/apiserver.h"
#include "korral/apiserver/request_timeout.h"
#include "korral/apiserver/security/flags.h"
#include "korral/base/log.h"

namespace korral::cmd {

// Components register here, one line each (keep the list sorted).
// void RegisterExampleComponent(Components& components);
void RegisterAgentComponent(Components& components);
void RegisterControllerManagerComponent(Components& components);
void RegisterSchedulerComponent(Components& components);
void RegisterTokenComponent(Components& components);

namespace {
void RegisterAllComponents(Components& components) {
  RegisterAgentComponent(components);
  RegisterControllerManagerComponent(components);
  RegisterSchedulerComponent(components);
  RegisterTokenComponent(components);
}
}  // namespace

int WaitForShutdownSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

}  // namespace korral::cmd

namespace {

using korral::cmd::Components;

constexpr char kVersion[] = "v1.32.4-korral";

void BlockShutdownSignals() {
  // Block the shutdown signals in every thread (threads inherit the mask); the main thread
  // waits for them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

// Runs the apiserver and, when `components` is non-null, every registered component that runs
// in-process, until SIGINT/SIGTERM. Components stop in reverse start order, then the apiserver.
int RunApiServer(const korral::apiserver::ApiServerConfig& config, const Components* components) {
  auto server = korral::apiserver::ApiServer::Start(config);
  if (!server.ok()) {
    KLOG(Error, "korral server failed to start: {}", server.status().ToString());
    return 1;
  }
  std::vector<std::unique_ptr<korral::cmd::RunningComponent>> running;
  if (components != nullptr) {
    korral::cmd::ServerContext ctx;
    ctx.data_dir = config.data_dir;
    ctx.server_url = "https://127.0.0.1:" + std::to_string((*server)->port());
    korral::apiserver::ApiServer* srv = server->get();
    ctx.kubeconfig_for = [srv](const std::string& identity) -> absl::StatusOr<std::string> {
      // A client certificate per component identity (DATA_DIR/kubeconfigs/).
      return srv->KubeconfigFor(identity);
    };
    for (const auto& c : *components) {
      if (!c.start_in_server) continue;
      auto r = c.start_in_server(ctx);
      if (!r.ok()) {
        // The control plane keeps serving without the failed component (e.g. an agent on a
        // machine without containerd or root): losing the API because one in-process
        // component could not start helps nobody. Standalone components still exit non-zero.
        KLOG(Error, "{} failed to start, continuing without it: {}", c.name, r.status().ToString());
        continue;
      }
      if (*r) running.push_back(std::move(*r));
    }
  }
  int sig = korral::cmd::WaitForShutdownSignal();
  KLOG(Info, "received {}, shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
  for (auto it = running.rbegin(); it != running.rend(); ++it) (*it)->Stop();
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
  cmd->add_option("--max-requests-inflight", c->max_requests_inflight,
                  "Maximum read-only requests in flight (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-mutating-requests-inflight", c->max_mutating_requests_inflight,
                  "Maximum mutating requests in flight (0: no limit)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option_function<std::string>(
      "--request-timeout",
      [c](const std::string& v) {
        auto d = korral::apiserver::ParseGoDuration(v);
        if (!d.ok() || d->count() <= 0) {
          throw CLI::ValidationError("--request-timeout", "use a positive duration such as 1m0s");
        }
        c->request_timeout =
            std::max(std::chrono::seconds(1), std::chrono::duration_cast<std::chrono::seconds>(*d));
      },
      "Longest a non-long-running request may take with timeout= (default 1m0s)");
  cmd->add_option("--kubelet-certificate-authority", c->kubelet_certificate_authority,
                  "CA bundle the kubelets' serving certificates must chain to (default: the "
                  "cluster CA; \"none\": not verified)");
  korral::apiserver::security::AddSecurityFlags(cmd, &c->security);
}

}  // namespace

int main(int argc, char** argv) {
  BlockShutdownSignals();
  CLI::App app{"korral: Kubernetes in one C++ binary"};
  app.require_subcommand(1);

  Components components;
  korral::cmd::RegisterAllComponents(components);

  korral::apiserver::ApiServerConfig server_config;
  server_config.data_dir = "/var/lib/korral/server";
  auto* server = app.add_subcommand("server", "Run the control plane (apiserver, storage, ...)");
  AddServerFlags(server, &server_config);
  // k3s-style `--disable-<component>` for every component that runs inside `korral server`.
  std::vector<char> disabled(components.size(), 0);
  bool has_agent = false;
  for (size_t i = 0; i < components.size(); ++i) {
    const auto& c = components[i];
    has_agent |= c.name == "agent";
    if (!c.start_in_server) continue;
    server->add_flag_callback(
        "--disable-" + c.name, [&disabled, i] { disabled[i] = 1; },
        "Do not run the " + c.name + " in this process");
    if (c.add_server_flags) c.add_server_flags(server);
  }
  if (!has_agent) {
    // Accepted for compatibility until the node agent exists (the node issue).
    server->add_flag_callback(
        "--disable-agent", [] {}, "Do not run the node agent (not built yet)");
  }
  std::vector<CLI::App*> component_cmds;
  for (const auto& c : components) {
    CLI::App* cmd = app.add_subcommand(c.name, c.description);
    if (c.add_flags) c.add_flags(cmd);
    component_cmds.push_back(cmd);
  }

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
  for (const auto& c : components) {
    for (const auto& alias : c.aliases) {
      if (self == alias) args.insert(args.begin(), c.name);
    }
  }
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (server->parsed()) {
    Components enabled;
    for (size_t i = 0; i < components.size(); ++i) {
      if (!disabled[i]) enabled.push_back(components[i]);
    }
    return RunApiServer(server_config, &enabled);
  }
  if (apiserver->parsed()) return RunApiServer(apiserver_config, nullptr);
  for (size_t i = 0; i < components.size(); ++i) {
    if (component_cmds[i]->parsed()) return components[i].run();
  }
  return 0;
}
