// korral/cri/cri.h: the Container Runtime Interface seam the kubelet talks through.
//
// Two interfaces, as upstream's cri-api services.go: RuntimeService (sandboxes, containers,
// exec, stats) and ImageService (images). The messages are the runtime.v1 protobuf types
// generated from proto/cri/api.proto. Implementations:
//   - RemoteRuntime (remote.h): gRPC to containerd / CRI-O over a unix socket;
//   - FakeRuntime (fake.h): in memory, containers "run" instantly; unit tests and hollow nodes.
// All implementations are thread-safe. Errors are absl::Status with the gRPC code carried over
// (NotFound for a missing sandbox/container, DeadlineExceeded on timeouts, Unavailable when the
// runtime cannot be reached).
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/cri/api.pb.h"

namespace korral::cri {

namespace v1 = ::runtime::v1;

// Labels korral (like upstream's kubelet) puts on sandboxes and containers.
inline constexpr char kPodNameLabel[] = "io.kubernetes.pod.name";
inline constexpr char kPodNamespaceLabel[] = "io.kubernetes.pod.namespace";
inline constexpr char kPodUidLabel[] = "io.kubernetes.pod.uid";
inline constexpr char kContainerNameLabel[] = "io.kubernetes.container.name";
inline constexpr char kContainerTypeLabel[] = "io.kubernetes.container.type";  // annotation

// Time the calling thread has spent waiting in runtime calls (RemoteRuntime adds to it), so a
// caller can tell its own cost from the runtime's: sample before and after a piece of work.
std::chrono::nanoseconds ThreadCallTime();
void AddThreadCallTime(std::chrono::nanoseconds d);

class RuntimeService {
 public:
  virtual ~RuntimeService() = default;

  virtual absl::StatusOr<v1::VersionResponse> Version() = 0;
  virtual absl::StatusOr<v1::StatusResponse> Status() = 0;

  // Returns the new sandbox's id.
  virtual absl::StatusOr<std::string> RunPodSandbox(const v1::PodSandboxConfig& config,
                                                    const std::string& runtime_handler) = 0;
  // Idempotent: OK if already stopped.
  virtual absl::Status StopPodSandbox(const std::string& sandbox_id) = 0;
  // Idempotent: OK if already removed.
  virtual absl::Status RemovePodSandbox(const std::string& sandbox_id) = 0;
  virtual absl::StatusOr<v1::PodSandboxStatus> PodSandboxStatus(const std::string& sandbox_id) = 0;
  // The pid of the sandbox's process (a process in the pod's network namespace), from the
  // runtime's verbose sandbox status (containerd: info["info"].pid). 0 when the runtime does
  // not say; Unimplemented for runtimes without processes (the fake).
  virtual absl::StatusOr<int> PodSandboxPid(const std::string& sandbox_id) {
    return absl::UnimplementedError("PodSandboxPid");
  }
  virtual absl::StatusOr<std::vector<v1::PodSandbox>> ListPodSandbox(
      const v1::PodSandboxFilter& filter) = 0;

  // Returns the new container's id.
  virtual absl::StatusOr<std::string> CreateContainer(const std::string& sandbox_id,
                                                      const v1::ContainerConfig& config,
                                                      const v1::PodSandboxConfig& sandbox) = 0;
  virtual absl::Status StartContainer(const std::string& container_id) = 0;
  // SIGTERM (or the image's stop signal), then SIGKILL after `timeout_seconds`.
  virtual absl::Status StopContainer(const std::string& container_id, int64_t timeout_seconds) = 0;
  virtual absl::Status RemoveContainer(const std::string& container_id) = 0;
  virtual absl::StatusOr<std::vector<v1::Container>> ListContainers(
      const v1::ContainerFilter& filter) = 0;
  virtual absl::StatusOr<v1::ContainerStatus> ContainerStatus(const std::string& container_id) = 0;
  virtual absl::Status ReopenContainerLog(const std::string& container_id) = 0;

  // Runs `cmd` in the container and waits (at most `timeout`; 0 = no limit).
  virtual absl::StatusOr<v1::ExecSyncResponse> ExecSync(const std::string& container_id,
                                                        const std::vector<std::string>& cmd,
                                                        std::chrono::seconds timeout) = 0;
  // Streaming endpoints: the runtime answers with a URL of its streaming server.
  virtual absl::StatusOr<std::string> Exec(const v1::ExecRequest& request) = 0;
  virtual absl::StatusOr<std::string> Attach(const v1::AttachRequest& request) = 0;
  virtual absl::StatusOr<std::string> PortForward(const v1::PortForwardRequest& request) = 0;

  virtual absl::StatusOr<v1::ContainerStats> ContainerStats(const std::string& container_id) = 0;
  virtual absl::StatusOr<std::vector<v1::ContainerStats>> ListContainerStats(
      const v1::ContainerStatsFilter& filter) = 0;
  virtual absl::StatusOr<std::vector<v1::PodSandboxStats>> ListPodSandboxStats(
      const v1::PodSandboxStatsFilter& filter) = 0;

  virtual absl::Status UpdateRuntimeConfig(const std::string& pod_cidr) = 0;
};

class ImageService {
 public:
  virtual ~ImageService() = default;
  virtual absl::StatusOr<std::vector<v1::Image>> ListImages(const v1::ImageFilter& filter) = 0;
  // Returns nullopt-like empty optional if the image is not present.
  virtual absl::StatusOr<std::optional<v1::Image>> ImageStatus(const v1::ImageSpec& image) = 0;
  // Returns the image reference (id) of the pulled image.
  virtual absl::StatusOr<std::string> PullImage(const v1::ImageSpec& image,
                                                const v1::AuthConfig* auth,
                                                const v1::PodSandboxConfig* sandbox) = 0;
  virtual absl::Status RemoveImage(const v1::ImageSpec& image) = 0;
  virtual absl::StatusOr<v1::ImageFsInfoResponse> ImageFsInfo() = 0;
};

// Both services behind one object (what the kubelet holds).
class Runtime : public RuntimeService, public ImageService {};
using RuntimePtr = std::unique_ptr<Runtime>;

// "docker.io/library/busybox:latest" for "busybox", "docker.io/x/y:latest" for "x/y",
// keeps digests and explicit registries (a first component with '.', ':' or "localhost").
std::string NormalizeImageName(const std::string& image);
// The tag of a normalized or user-given reference ("" when it is pinned by digest only).
std::string ImageTag(const std::string& image);

}  // namespace korral::cri
