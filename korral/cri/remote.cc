#include "korral/cri/remote.h"

#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "proto/cri/api.grpc.pb.h"

namespace korral::cri {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const char* method) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = std::string(method) + ": " + s.error_message();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), absl::string_view(msg));
}

}  // namespace

int PidFromVerboseInfo(const google::protobuf::Map<std::string, std::string>& info) {
  // containerd: info["info"] is a JSON object with a top-level "pid" number (CRI-O puts the
  // same under "info" too). A plain scan: the first "pid" key is the top-level one.
  auto it = info.find("info");
  if (it == info.end()) return 0;
  const std::string& s = it->second;
  auto k = s.find("\"pid\"");
  if (k == std::string::npos) return 0;
  k = s.find(':', k);
  if (k == std::string::npos) return 0;
  long pid = std::strtol(s.c_str() + k + 1, nullptr, 10);
  return pid > 0 && pid < (1 << 22) ? static_cast<int>(pid) : 0;
}

namespace {

class RemoteRuntime : public Runtime {
 public:
  explicit RemoteRuntime(RemoteRuntimeOptions options) : options_(std::move(options)) {
    std::string target = options_.endpoint;
    if (target.rfind("unix://", 0) != 0) target = "unix://" + target;
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(16 * 1024 * 1024);
    channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    runtime_ = v1::RuntimeService::NewStub(channel_);
    images_ = v1::ImageService::NewStub(channel_);
  }

  template <typename Req, typename Resp, typename Fn>
  absl::StatusOr<Resp> Call(const char* method, Fn fn, const Req& req,
                            std::chrono::seconds timeout) {
    grpc::ClientContext ctx;
    if (timeout.count() > 0) ctx.set_deadline(std::chrono::system_clock::now() + timeout);
    Resp resp;
    auto start = std::chrono::steady_clock::now();
    grpc::Status s = fn(&ctx, req, &resp);
    AddThreadCallTime(std::chrono::steady_clock::now() - start);
    if (!s.ok()) return FromGrpc(s, method);
    return resp;
  }

#define KORRAL_CRI_CALL(stub, Method, req, timeout)                                           \
  Call<v1::Method##Request, v1::Method##Response>(                                            \
      #Method,                                                                                \
      [this](grpc::ClientContext* c, const v1::Method##Request& r, v1::Method##Response* o) { \
        return stub->Method(c, r, o);                                                         \
      },                                                                                      \
      req, timeout)

  absl::StatusOr<v1::VersionResponse> Version() override {
    v1::VersionRequest req;
    req.set_version("v1");
    return KORRAL_CRI_CALL(runtime_, Version, req, options_.request_timeout);
  }
  absl::StatusOr<v1::StatusResponse> Status() override {
    v1::StatusRequest req;
    return KORRAL_CRI_CALL(runtime_, Status, req, options_.request_timeout);
  }
  absl::StatusOr<std::string> RunPodSandbox(const v1::PodSandboxConfig& config,
                                            const std::string& handler) override {
    v1::RunPodSandboxRequest req;
    *req.mutable_config() = config;
    req.set_runtime_handler(handler);
    auto r = KORRAL_CRI_CALL(runtime_, RunPodSandbox, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->pod_sandbox_id();
  }
  absl::Status StopPodSandbox(const std::string& id) override {
    v1::StopPodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    return KORRAL_CRI_CALL(runtime_, StopPodSandbox, req, options_.request_timeout).status();
  }
  absl::Status RemovePodSandbox(const std::string& id) override {
    v1::RemovePodSandboxRequest req;
    req.set_pod_sandbox_id(id);
    return KORRAL_CRI_CALL(runtime_, RemovePodSandbox, req, options_.request_timeout).status();
  }
  absl::StatusOr<v1::PodSandboxStatus> PodSandboxStatus(const std::string& id) override {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    auto r = KORRAL_CRI_CALL(runtime_, PodSandboxStatus, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->status();
  }
  absl::StatusOr<int> PodSandboxPid(const std::string& id) override {
    v1::PodSandboxStatusRequest req;
    req.set_pod_sandbox_id(id);
    req.set_verbose(true);
    auto r = KORRAL_CRI_CALL(runtime_, PodSandboxStatus, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return PidFromVerboseInfo(r->info());
  }
  absl::StatusOr<std::vector<v1::PodSandbox>> ListPodSandbox(
      const v1::PodSandboxFilter& filter) override {
    v1::ListPodSandboxRequest req;
    *req.mutable_filter() = filter;
    auto r = KORRAL_CRI_CALL(runtime_, ListPodSandbox, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return std::vector<v1::PodSandbox>(r->items().begin(), r->items().end());
  }
  absl::StatusOr<std::string> CreateContainer(const std::string& sandbox_id,
                                              const v1::ContainerConfig& config,
                                              const v1::PodSandboxConfig& sandbox) override {
    v1::CreateContainerRequest req;
    req.set_pod_sandbox_id(sandbox_id);
    *req.mutable_config() = config;
    *req.mutable_sandbox_config() = sandbox;
    auto r = KORRAL_CRI_CALL(runtime_, CreateContainer, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->container_id();
  }
  absl::Status StartContainer(const std::string& id) override {
    v1::StartContainerRequest req;
    req.set_container_id(id);
    return KORRAL_CRI_CALL(runtime_, StartContainer, req, options_.request_timeout).status();
  }
  absl::Status StopContainer(const std::string& id, int64_t timeout_seconds) override {
    v1::StopContainerRequest req;
    req.set_container_id(id);
    req.set_timeout(timeout_seconds);
    return KORRAL_CRI_CALL(runtime_, StopContainer, req,
                           options_.request_timeout + std::chrono::seconds(timeout_seconds))
        .status();
  }
  absl::Status RemoveContainer(const std::string& id) override {
    v1::RemoveContainerRequest req;
    req.set_container_id(id);
    return KORRAL_CRI_CALL(runtime_, RemoveContainer, req, options_.request_timeout).status();
  }
  absl::StatusOr<std::vector<v1::Container>> ListContainers(
      const v1::ContainerFilter& filter) override {
    v1::ListContainersRequest req;
    *req.mutable_filter() = filter;
    auto r = KORRAL_CRI_CALL(runtime_, ListContainers, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return std::vector<v1::Container>(r->containers().begin(), r->containers().end());
  }
  absl::StatusOr<v1::ContainerStatus> ContainerStatus(const std::string& id) override {
    v1::ContainerStatusRequest req;
    req.set_container_id(id);
    auto r = KORRAL_CRI_CALL(runtime_, ContainerStatus, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->status();
  }
  absl::Status ReopenContainerLog(const std::string& id) override {
    v1::ReopenContainerLogRequest req;
    req.set_container_id(id);
    return KORRAL_CRI_CALL(runtime_, ReopenContainerLog, req, options_.request_timeout).status();
  }
  absl::StatusOr<v1::ExecSyncResponse> ExecSync(const std::string& id,
                                                const std::vector<std::string>& cmd,
                                                std::chrono::seconds timeout) override {
    v1::ExecSyncRequest req;
    req.set_container_id(id);
    for (const auto& c : cmd) req.add_cmd(c);
    req.set_timeout(timeout.count());
    auto deadline =
        timeout.count() > 0 ? timeout + std::chrono::seconds(5) : std::chrono::seconds(0);
    return KORRAL_CRI_CALL(runtime_, ExecSync, req, deadline);
  }
  absl::StatusOr<std::string> Exec(const v1::ExecRequest& req) override {
    auto r = KORRAL_CRI_CALL(runtime_, Exec, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->url();
  }
  absl::StatusOr<std::string> Attach(const v1::AttachRequest& req) override {
    auto r = KORRAL_CRI_CALL(runtime_, Attach, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->url();
  }
  absl::StatusOr<std::string> PortForward(const v1::PortForwardRequest& req) override {
    auto r = KORRAL_CRI_CALL(runtime_, PortForward, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->url();
  }
  absl::StatusOr<v1::ContainerStats> ContainerStats(const std::string& id) override {
    v1::ContainerStatsRequest req;
    req.set_container_id(id);
    auto r = KORRAL_CRI_CALL(runtime_, ContainerStats, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return r->stats();
  }
  absl::StatusOr<std::vector<v1::ContainerStats>> ListContainerStats(
      const v1::ContainerStatsFilter& filter) override {
    v1::ListContainerStatsRequest req;
    *req.mutable_filter() = filter;
    auto r = KORRAL_CRI_CALL(runtime_, ListContainerStats, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return std::vector<v1::ContainerStats>(r->stats().begin(), r->stats().end());
  }
  absl::StatusOr<std::vector<v1::PodSandboxStats>> ListPodSandboxStats(
      const v1::PodSandboxStatsFilter& filter) override {
    v1::ListPodSandboxStatsRequest req;
    *req.mutable_filter() = filter;
    auto r = KORRAL_CRI_CALL(runtime_, ListPodSandboxStats, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return std::vector<v1::PodSandboxStats>(r->stats().begin(), r->stats().end());
  }
  absl::Status UpdateRuntimeConfig(const std::string& pod_cidr) override {
    v1::UpdateRuntimeConfigRequest req;
    req.mutable_runtime_config()->mutable_network_config()->set_pod_cidr(pod_cidr);
    return KORRAL_CRI_CALL(runtime_, UpdateRuntimeConfig, req, options_.request_timeout).status();
  }

  absl::StatusOr<std::vector<v1::Image>> ListImages(const v1::ImageFilter& filter) override {
    v1::ListImagesRequest req;
    *req.mutable_filter() = filter;
    auto r = KORRAL_CRI_CALL(images_, ListImages, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    return std::vector<v1::Image>(r->images().begin(), r->images().end());
  }
  absl::StatusOr<std::optional<v1::Image>> ImageStatus(const v1::ImageSpec& image) override {
    v1::ImageStatusRequest req;
    *req.mutable_image() = image;
    auto r = KORRAL_CRI_CALL(images_, ImageStatus, req, options_.request_timeout);
    if (!r.ok()) return r.status();
    if (!r->has_image() || r->image().id().empty()) return std::optional<v1::Image>();
    return std::optional<v1::Image>(r->image());
  }
  absl::StatusOr<std::string> PullImage(const v1::ImageSpec& image, const v1::AuthConfig* auth,
                                        const v1::PodSandboxConfig* sandbox) override {
    v1::PullImageRequest req;
    *req.mutable_image() = image;
    if (auth) *req.mutable_auth() = *auth;
    if (sandbox) *req.mutable_sandbox_config() = *sandbox;
    auto r = KORRAL_CRI_CALL(images_, PullImage, req, options_.pull_timeout);
    if (!r.ok()) return r.status();
    return r->image_ref();
  }
  absl::Status RemoveImage(const v1::ImageSpec& image) override {
    v1::RemoveImageRequest req;
    *req.mutable_image() = image;
    return KORRAL_CRI_CALL(images_, RemoveImage, req, options_.request_timeout).status();
  }
  absl::StatusOr<v1::ImageFsInfoResponse> ImageFsInfo() override {
    v1::ImageFsInfoRequest req;
    return KORRAL_CRI_CALL(images_, ImageFsInfo, req, options_.request_timeout);
  }
#undef KORRAL_CRI_CALL

 private:
  RemoteRuntimeOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::RuntimeService::Stub> runtime_;
  std::unique_ptr<v1::ImageService::Stub> images_;
};

}  // namespace

absl::StatusOr<RuntimePtr> NewRemoteRuntime(RemoteRuntimeOptions options) {
  if (options.endpoint.empty()) {
    return absl::InvalidArgumentError("container runtime endpoint is empty");
  }
  return RuntimePtr(new RemoteRuntime(std::move(options)));
}

}  // namespace korral::cri
