// korral/cri/fake.h: an in-memory CRI runtime (upstream's cri-api fake_runtime_service).
//
// Sandboxes get IPs from 10.88.0.0/16; containers start instantly and keep "running" until
// stopped, unless a script says they exit: SetExitScript("name", code) makes every container of
// that name exit with `code` right after StartContainer. Images: every pull succeeds unless the
// image is marked with SetPullError. Stats are zeros. Thread-safe. Used by unit tests and by
// `korral hollow-nodes` (so it is small: a few hundred bytes per container).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "korral/cri/cri.h"

namespace korral::cri {

class FakeRuntime : public Runtime {
 public:
  FakeRuntime();

  // Scripting.
  void SetExitScript(const std::string& container_name, int exit_code);
  void SetPullError(const std::string& image, absl::Status error);
  void SetStartError(const std::string& container_name, absl::Status error);
  void SetExecResult(std::function<v1::ExecSyncResponse(const std::string& container_id,
                                                        const std::vector<std::string>& cmd)>
                         fn);
  // Makes a running container exit now (as if its process ended).
  absl::Status ExitContainer(const std::string& container_id, int exit_code,
                             const std::string& reason = "");
  void AddImage(const std::string& image);
  // Called with the method name at the start of RunPodSandbox, CreateContainer, StartContainer
  // and PullImage, before the call takes effect and without the runtime's lock held (a test can
  // block there to hold a pod sync in the middle of a CRI call). Null: none.
  void SetCallHook(std::function<void(const std::string& method)> hook);
  // Calls made, by method name (for assertions).
  int Calls(const std::string& method) const;
  // The config of the last CreateContainer for a container named `name` (nullopt: none yet).
  std::optional<v1::ContainerConfig> CreatedConfig(const std::string& name) const;
  // The credentials of the last PullImage of `image` (as normalized; nullopt: none given).
  std::optional<v1::AuthConfig> PullAuth(const std::string& image) const;
  // Pulls of `image` fail with Unauthenticated unless they carry `username`.
  void RequireAuth(const std::string& image, const std::string& username);
  // The timeout of the last StopContainer call (-1: none yet).
  int64_t LastStopTimeout() const;
  size_t NumContainers() const;
  size_t NumSandboxes() const;

  absl::StatusOr<v1::VersionResponse> Version() override;
  absl::StatusOr<v1::StatusResponse> Status() override;
  absl::StatusOr<std::string> RunPodSandbox(const v1::PodSandboxConfig& config,
                                            const std::string& handler) override;
  absl::Status StopPodSandbox(const std::string& id) override;
  absl::Status RemovePodSandbox(const std::string& id) override;
  absl::StatusOr<v1::PodSandboxStatus> PodSandboxStatus(const std::string& id) override;
  absl::StatusOr<std::vector<v1::PodSandbox>> ListPodSandbox(
      const v1::PodSandboxFilter& filter) override;
  absl::StatusOr<std::string> CreateContainer(const std::string& sandbox_id,
                                              const v1::ContainerConfig& config,
                                              const v1::PodSandboxConfig& sandbox) override;
  absl::Status StartContainer(const std::string& id) override;
  absl::Status StopContainer(const std::string& id, int64_t timeout_seconds) override;
  absl::Status RemoveContainer(const std::string& id) override;
  absl::StatusOr<std::vector<v1::Container>> ListContainers(
      const v1::ContainerFilter& filter) override;
  absl::StatusOr<v1::ContainerStatus> ContainerStatus(const std::string& id) override;
  absl::Status ReopenContainerLog(const std::string& id) override;
  absl::StatusOr<v1::ExecSyncResponse> ExecSync(const std::string& id,
                                                const std::vector<std::string>& cmd,
                                                std::chrono::seconds timeout) override;
  absl::StatusOr<std::string> Exec(const v1::ExecRequest& request) override;
  absl::StatusOr<std::string> Attach(const v1::AttachRequest& request) override;
  absl::StatusOr<std::string> PortForward(const v1::PortForwardRequest& request) override;
  absl::StatusOr<v1::ContainerStats> ContainerStats(const std::string& id) override;
  absl::StatusOr<std::vector<v1::ContainerStats>> ListContainerStats(
      const v1::ContainerStatsFilter& filter) override;
  absl::StatusOr<std::vector<v1::PodSandboxStats>> ListPodSandboxStats(
      const v1::PodSandboxStatsFilter& filter) override;
  absl::Status UpdateRuntimeConfig(const std::string& pod_cidr) override;

  absl::StatusOr<std::vector<v1::Image>> ListImages(const v1::ImageFilter& filter) override;
  absl::StatusOr<std::optional<v1::Image>> ImageStatus(const v1::ImageSpec& image) override;
  absl::StatusOr<std::string> PullImage(const v1::ImageSpec& image, const v1::AuthConfig* auth,
                                        const v1::PodSandboxConfig* sandbox) override;
  absl::Status RemoveImage(const v1::ImageSpec& image) override;
  absl::StatusOr<v1::ImageFsInfoResponse> ImageFsInfo() override;

 private:
  struct Sandbox {
    v1::PodSandbox info;
    std::string ip;
  };
  struct Ctr {
    v1::Container info;
    int64_t started_at = 0, finished_at = 0;
    int32_t exit_code = 0;
    std::string reason, log_path;
  };
  int64_t NowNs() const;
  void Count(const char* method) const;

  mutable std::mutex mu_;
  std::map<std::string, Sandbox> sandboxes_;
  std::map<std::string, Ctr> containers_;
  std::set<std::string> images_;
  std::map<std::string, int> exit_scripts_;
  std::map<std::string, absl::Status> pull_errors_;
  std::map<std::string, absl::Status> start_errors_;
  std::map<std::string, v1::ContainerConfig> created_configs_;
  std::map<std::string, v1::AuthConfig> pull_auths_;
  std::map<std::string, std::string> required_users_;
  std::function<v1::ExecSyncResponse(const std::string&, const std::vector<std::string>&)> exec_fn_;
  mutable std::map<std::string, int> calls_;
  std::function<void(const std::string&)> hook_;
  void Hook(const char* method);
  int64_t last_stop_timeout_ = -1;
  uint64_t next_id_ = 1;
  uint32_t next_ip_ = 2;
};

}  // namespace korral::cri
