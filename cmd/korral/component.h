// cmd/korral/component.h: how a component plugs into the multi-call binary.
//
// Every component (scheduler, controller-manager, agent, ...) lives in its own library and
// adds itself here through one `Register<Name>Component(Components&)` function in
// cmd/korral/<name>_cmd.cc. A component can be run
//   - alone: `korral <name> --kubeconfig F ...` (also as argv[0] `kube-<name>`), and
//   - inside `korral server`, after the apiserver is serving, unless disabled there.
#pragma once

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "absl/status/statusor.h"

namespace korral::cmd {

// What `korral server` hands to in-process components.
struct ServerContext {
  std::string data_dir;    // the server's data dir (holds tls/ and kubeconfigs)
  std::string server_url;  // https://127.0.0.1:PORT
  // A kubeconfig for the named identity (e.g. "system:kube-scheduler"). Until per-component
  // certificates exist (security issue) every identity gets the admin kubeconfig.
  std::function<absl::StatusOr<std::string>(const std::string& identity)> kubeconfig_for;
};

// A running in-process component; Stop() must return only once it has stopped.
class RunningComponent {
 public:
  virtual ~RunningComponent() = default;
  virtual void Stop() = 0;
};

struct Component {
  std::string name;                  // subcommand name, e.g. "scheduler"
  std::string description;           // one line for --help
  std::vector<std::string> aliases;  // argv[0] names, e.g. "kube-scheduler"
  // Adds the standalone flags to `cmd` (bound to state the component owns).
  std::function<void(CLI::App* cmd)> add_flags;
  // Runs standalone until SIGTERM/SIGINT (the signals are blocked; use sigwait or poll
  // `ShutdownRequested`). Returns the exit code.
  std::function<int()> run;
  // Starts inside `korral server`; null if the component never runs there. `server_flags`
  // let the component add `korral server` flags (e.g. --disable-scheduler handled by main).
  std::function<void(CLI::App* server_cmd)> add_server_flags;
  std::function<absl::StatusOr<std::unique_ptr<RunningComponent>>(const ServerContext&)>
      start_in_server;
};

using Components = std::vector<Component>;

// Blocks until SIGINT or SIGTERM (which main blocks in every thread); returns the signal.
int WaitForShutdownSignal();

// Applies k3s-style server flags such as `--kube-scheduler-arg=config=/f.yaml` (each entry
// `key=value`, a leading "--" optional) to the options `add_options` registers on a scratch
// parser, i.e. to the component's in-server settings. InvalidArgument, prefixed with `flag`, for
// an unknown key or a bad value.
inline absl::Status ApplyServerArgs(std::string_view flag, const std::vector<std::string>& entries,
                                    const std::function<void(CLI::App*)>& add_options) {
  if (entries.empty()) return absl::OkStatus();
  CLI::App parser{std::string(flag)};
  add_options(&parser);
  std::vector<std::string> args;
  for (const auto& a : entries) args.push_back(a.rfind("--", 0) == 0 ? a : "--" + a);
  std::reverse(args.begin(), args.end());  // CLI11 parses a vector from its back
  try {
    parser.parse(args);
  } catch (const CLI::ParseError& e) {
    return absl::InvalidArgumentError(absl::string_view(std::string(flag) + ": " + e.what()));
  }
  return absl::OkStatus();
}

}  // namespace korral::cmd
