// korral/cri/remote.h: the CRI runtime over gRPC (containerd, CRI-O).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "korral/cri/cri.h"

namespace korral::cri {

struct RemoteRuntimeOptions {
  std::string endpoint;  // "unix:///run/containerd/containerd.sock" (a bare path works too)
  std::chrono::seconds request_timeout{120};  // upstream's --runtime-request-timeout (2m)
  std::chrono::seconds pull_timeout{600};     // image pulls
};

// The sandbox pid in a verbose PodSandboxStatus's info map (containerd's info["info"].pid);
// 0 if absent.
int PidFromVerboseInfo(const google::protobuf::Map<std::string, std::string>& info);

// Connects lazily; calls fail with Unavailable while the socket is not there.
absl::StatusOr<RuntimePtr> NewRemoteRuntime(RemoteRuntimeOptions options);

}  // namespace korral::cri
