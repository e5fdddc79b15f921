// korral/kubelet/server/testing/fake_backend.h: a scripted kubelet Backend for tests (unit tests
// and the fake_kubelet binary the integration tests run behind `korral server`).
//
// Behaviour:
//   logs      <log_dir>/<ns>_<pod>_<container>.log (".previous.log" for previous=true), CRI
//             format; the container counts as running until "<that path>.exited" exists.
//   exec      command[0]: echo ARGS | cat (stdin to stdout) | exit N | stderr TEXT |
//             sleep SECONDS | size (prints the first terminal size) | sh -c "<one of these>";
//             anything else fails like a missing executable.
//   attach    prints "attached to <container>\n", then echoes stdin until EOF (or ends at once
//             without stdin); exit code 0.
//   containers named "missing" do not exist; pods named "stopped-*" are not running.
//   portforward dials 127.0.0.1:<port>.
//   /pods     the items of <log_dir>/pods.json if present.
#pragma once

#include <string>

#include "korral/kubelet/server/server.h"

namespace korral::kubelet::server::testing {

class FakeBackend : public Backend {
 public:
  explicit FakeBackend(std::string log_dir) : log_dir_(std::move(log_dir)) {}

  std::vector<nlohmann::json> ListPods() override;
  std::vector<nlohmann::json> RunningPods() override;
  absl::StatusOr<LogLocation> ContainerLog(const PodRef& pod, const std::string& container,
                                           bool previous) override;
  bool IsContainerRunning(const std::string& container_id) override;
  absl::StatusOr<std::unique_ptr<CommandSession>> Exec(const ExecRequest& request) override;
  absl::StatusOr<std::unique_ptr<CommandSession>> Attach(const ExecRequest& request) override;
  absl::StatusOr<std::unique_ptr<PortForwarder>> PortForward(const PodRef& pod) override;

 private:
  absl::Status Check(const PodRef& pod, const std::string& container);
  const std::string log_dir_;
};

}  // namespace korral::kubelet::server::testing
