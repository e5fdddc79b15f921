// korral/kubelet/server/testing/fake_backend.cc: see fake_backend.h.
#include "korral/kubelet/server/testing/fake_backend.h"

#include <sys/stat.h>

#include <charconv>
#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "korral/streaming/conn.h"

namespace korral::kubelet::server::testing {
namespace {

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::vector<std::string> Words(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  std::string w;
  while (in >> w) out.push_back(w);
  return out;
}

class ScriptedCommand : public CommandSession {
 public:
  ScriptedCommand(std::vector<std::string> command, std::string container, bool attach)
      : command_(std::move(command)), container_(std::move(container)), attach_(attach) {}

  absl::StatusOr<int> Run(CommandIO& io) override {
    if (attach_) {
      io.WriteStdout("attached to " + container_ + "\n");
      Cat(io);
      return 0;
    }
    std::vector<std::string> cmd = command_;
    if (cmd.size() == 3 && (cmd[0] == "sh" || cmd[0] == "/bin/sh") && cmd[1] == "-c") {
      cmd = Words(cmd[2]);
    }
    if (cmd.empty()) return absl::InvalidArgumentError("empty command");
    const std::string& prog = cmd[0];
    if (prog == "echo") {
      std::string out;
      for (size_t i = 1; i < cmd.size(); ++i) out += (i > 1 ? " " : "") + cmd[i];
      io.WriteStdout(out + "\n");
      return 0;
    }
    if (prog == "cat") {
      Cat(io);
      return 0;
    }
    if (prog == "exit" && cmd.size() == 2) {
      int code = 0;
      std::from_chars(cmd[1].data(), cmd[1].data() + cmd[1].size(), code);
      return code;
    }
    if (prog == "stderr") {
      std::string out;
      for (size_t i = 1; i < cmd.size(); ++i) out += (i > 1 ? " " : "") + cmd[i];
      io.WriteStderr(out + "\n");
      return 0;
    }
    if (prog == "sleep" && cmd.size() == 2) {
      int secs = 0;
      std::from_chars(cmd[1].data(), cmd[1].data() + cmd[1].size(), secs);
      for (int i = 0; i < std::min(secs, 60) * 10 && !io.ClientGone(); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
      return 0;
    }
    if (prog == "size") {
      auto s = io.NextResize();
      if (!s) return 1;
      io.WriteStdout(std::to_string(s->width) + "x" + std::to_string(s->height) + "\n");
      return 0;
    }
    return absl::InternalError("error executing command in container: exec: \"" + prog +
                               "\": executable file not found in $PATH");
  }

 private:
  static void Cat(CommandIO& io) {
    char buf[4096];
    while (true) {
      size_t n = io.ReadStdin(buf, sizeof buf);
      if (n == 0) return;
      if (!io.WriteStdout(std::string_view(buf, n))) return;
    }
  }

  std::vector<std::string> command_;
  std::string container_;
  bool attach_;
};

class LocalForwarder : public PortForwarder {
 public:
  absl::StatusOr<http::ConnPtr> Dial(uint16_t port) override {
    return streaming::DialTcp("127.0.0.1", port, std::chrono::seconds(5));
  }
};

}  // namespace

absl::Status FakeBackend::Check(const PodRef& pod, const std::string& container) {
  if (container == "missing") {
    return absl::NotFoundError("container \"" + container + "\" not found in pod \"" + pod.name +
                               "\"");
  }
  if (pod.name.rfind("stopped-", 0) == 0) {
    return absl::FailedPreconditionError("container \"" + container + "\" in pod \"" + pod.name +
                                         "\" is not running");
  }
  return absl::OkStatus();
}

std::vector<nlohmann::json> FakeBackend::ListPods() {
  std::ifstream in(log_dir_ + "/pods.json");
  if (!in) return {};
  auto j = nlohmann::json::parse(in, nullptr, false);
  if (!j.is_object() || !j["items"].is_array()) return {};
  return j["items"].get<std::vector<nlohmann::json>>();
}

std::vector<nlohmann::json> FakeBackend::RunningPods() { return ListPods(); }

absl::StatusOr<LogLocation> FakeBackend::ContainerLog(const PodRef& pod,
                                                      const std::string& container, bool previous) {
  std::string path = log_dir_ + "/" + pod.namespace_ + "_" + pod.name + "_" + container +
                     (previous ? ".previous.log" : ".log");
  if (!Exists(path)) {
    if (previous) {
      return absl::NotFoundError("previous terminated container \"" + container + "\" in pod \"" +
                                 pod.name + "\" not found");
    }
    return absl::NotFoundError("container \"" + container + "\" in pod \"" + pod.name +
                               "\" is not available");
  }
  return LogLocation{path, path};
}

bool FakeBackend::IsContainerRunning(const std::string& container_id) {
  return !Exists(container_id + ".exited");
}

absl::StatusOr<std::unique_ptr<CommandSession>> FakeBackend::Exec(const ExecRequest& request) {
  if (auto s = Check(request.pod, request.container); !s.ok()) return s;
  return std::make_unique<ScriptedCommand>(request.command, request.container, false);
}

absl::StatusOr<std::unique_ptr<CommandSession>> FakeBackend::Attach(const ExecRequest& request) {
  if (auto s = Check(request.pod, request.container); !s.ok()) return s;
  return std::make_unique<ScriptedCommand>(request.command, request.container, true);
}

absl::StatusOr<std::unique_ptr<PortForwarder>> FakeBackend::PortForward(const PodRef& pod) {
  if (pod.name.rfind("stopped-", 0) == 0) {
    return absl::FailedPreconditionError("pod \"" + pod.name + "\" is not running");
  }
  return std::make_unique<LocalForwarder>();
}

}  // namespace korral::kubelet::server::testing
