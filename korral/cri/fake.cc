#include "korral/cri/fake.h"

#include <chrono>
#include <cstdio>

#include "fmt/format.h"

namespace korral::cri {
namespace {

bool LabelsMatch(const google::protobuf::Map<std::string, std::string>& selector,
                 const google::protobuf::Map<std::string, std::string>& labels) {
  for (const auto& [k, v] : selector) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  return true;
}

absl::Status NotFound(const std::string& what, const std::string& id) {
  std::string m = fmt::format("{} \"{}\" not found", what, id);
  return absl::Status(absl::StatusCode::kNotFound, absl::string_view(m));
}

}  // namespace

FakeRuntime::FakeRuntime() { images_.insert("registry.k8s.io/pause:3.6"); }

int64_t FakeRuntime::NowNs() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void FakeRuntime::Count(const char* method) const { calls_[method]++; }

void FakeRuntime::SetCallHook(std::function<void(const std::string& method)> hook) {
  std::lock_guard l(mu_);
  hook_ = std::move(hook);
}

void FakeRuntime::Hook(const char* method) {
  std::function<void(const std::string&)> hook;
  {
    std::lock_guard l(mu_);
    hook = hook_;
  }
  if (hook) hook(method);
}

void FakeRuntime::SetExitScript(const std::string& name, int code) {
  std::lock_guard l(mu_);
  exit_scripts_[name] = code;
}
void FakeRuntime::SetPullError(const std::string& image, absl::Status error) {
  std::lock_guard l(mu_);
  pull_errors_[NormalizeImageName(image)] = std::move(error);
}
void FakeRuntime::SetStartError(const std::string& name, absl::Status error) {
  std::lock_guard l(mu_);
  start_errors_[name] = std::move(error);
}
void FakeRuntime::SetExecResult(
    std::function<v1::ExecSyncResponse(const std::string&, const std::vector<std::string>&)> fn) {
  std::lock_guard l(mu_);
  exec_fn_ = std::move(fn);
}
void FakeRuntime::AddImage(const std::string& image) {
  std::lock_guard l(mu_);
  images_.insert(NormalizeImageName(image));
}
int FakeRuntime::Calls(const std::string& method) const {
  std::lock_guard l(mu_);
  auto it = calls_.find(method);
  return it == calls_.end() ? 0 : it->second;
}
int64_t FakeRuntime::LastStopTimeout() const {
  std::lock_guard l(mu_);
  return last_stop_timeout_;
}
size_t FakeRuntime::NumContainers() const {
  std::lock_guard l(mu_);
  return containers_.size();
}
size_t FakeRuntime::NumSandboxes() const {
  std::lock_guard l(mu_);
  return sandboxes_.size();
}

absl::Status FakeRuntime::ExitContainer(const std::string& id, int exit_code,
                                        const std::string& reason) {
  std::lock_guard l(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound("container", id);
  if (it->second.info.state() != v1::CONTAINER_RUNNING) return absl::OkStatus();
  it->second.info.set_state(v1::CONTAINER_EXITED);
  it->second.exit_code = exit_code;
  it->second.finished_at = NowNs();
  it->second.reason = reason.empty() ? (exit_code == 0 ? "Completed" : "Error") : reason;
  return absl::OkStatus();
}

absl::StatusOr<v1::VersionResponse> FakeRuntime::Version() {
  std::lock_guard l(mu_);
  Count("Version");
  v1::VersionResponse r;
  r.set_version("0.1.0");
  r.set_runtime_name("fake");
  r.set_runtime_version("0.1.0");
  r.set_runtime_api_version("v1");
  return r;
}

absl::StatusOr<v1::StatusResponse> FakeRuntime::Status() {
  std::lock_guard l(mu_);
  Count("Status");
  v1::StatusResponse r;
  for (const char* t : {"RuntimeReady", "NetworkReady"}) {
    auto* c = r.mutable_status()->add_conditions();
    c->set_type(t);
    c->set_status(true);
  }
  return r;
}

absl::StatusOr<std::string> FakeRuntime::RunPodSandbox(const v1::PodSandboxConfig& config,
                                                       const std::string& handler) {
  Hook("RunPodSandbox");
  std::lock_guard l(mu_);
  Count("RunPodSandbox");
  std::string id = fmt::format("sandbox-{:08x}", next_id_++);
  Sandbox& s = sandboxes_[id];
  s.info.set_id(id);
  *s.info.mutable_metadata() = config.metadata();
  s.info.set_state(v1::SANDBOX_READY);
  s.info.set_created_at(NowNs());
  *s.info.mutable_labels() = config.labels();
  *s.info.mutable_annotations() = config.annotations();
  s.info.set_runtime_handler(handler);
  uint32_t n = next_ip_++;
  s.ip = fmt::format("10.88.{}.{}", (n >> 8) & 0xff, n & 0xff);
  return id;
}

absl::Status FakeRuntime::StopPodSandbox(const std::string& id) {
  std::lock_guard l(mu_);
  Count("StopPodSandbox");
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end()) return absl::OkStatus();
  it->second.info.set_state(v1::SANDBOX_NOTREADY);
  for (auto& [cid, c] : containers_) {
    if (c.info.pod_sandbox_id() == id && c.info.state() == v1::CONTAINER_RUNNING) {
      c.info.set_state(v1::CONTAINER_EXITED);
      c.exit_code = 137;
      c.finished_at = NowNs();
      c.reason = "Error";
    }
  }
  return absl::OkStatus();
}

absl::Status FakeRuntime::RemovePodSandbox(const std::string& id) {
  std::lock_guard l(mu_);
  Count("RemovePodSandbox");
  sandboxes_.erase(id);
  for (auto it = containers_.begin(); it != containers_.end();) {
    if (it->second.info.pod_sandbox_id() == id) {
      it = containers_.erase(it);
    } else {
      ++it;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::PodSandboxStatus> FakeRuntime::PodSandboxStatus(const std::string& id) {
  std::lock_guard l(mu_);
  Count("PodSandboxStatus");
  auto it = sandboxes_.find(id);
  if (it == sandboxes_.end()) return NotFound("sandbox", id);
  v1::PodSandboxStatus s;
  const auto& i = it->second.info;
  s.set_id(id);
  *s.mutable_metadata() = i.metadata();
  s.set_state(i.state());
  s.set_created_at(i.created_at());
  s.mutable_network()->set_ip(it->second.ip);
  *s.mutable_labels() = i.labels();
  *s.mutable_annotations() = i.annotations();
  return s;
}

absl::StatusOr<std::vector<v1::PodSandbox>> FakeRuntime::ListPodSandbox(
    const v1::PodSandboxFilter& filter) {
  std::lock_guard l(mu_);
  Count("ListPodSandbox");
  std::vector<v1::PodSandbox> out;
  for (const auto& [id, s] : sandboxes_) {
    if (!filter.id().empty() && filter.id() != id) continue;
    if (filter.has_state() && filter.state().state() != s.info.state()) continue;
    if (!LabelsMatch(filter.label_selector(), s.info.labels())) continue;
    out.push_back(s.info);
  }
  return out;
}

absl::StatusOr<std::string> FakeRuntime::CreateContainer(const std::string& sandbox_id,
                                                         const v1::ContainerConfig& config,
                                                         const v1::PodSandboxConfig& sandbox) {
  Hook("CreateContainer");
  std::lock_guard l(mu_);
  Count("CreateContainer");
  auto sb = sandboxes_.find(sandbox_id);
  if (sb == sandboxes_.end()) return NotFound("sandbox", sandbox_id);
  std::string img = config.image().image();
  if (img.rfind("sha256:fake-", 0) == 0) img = img.substr(12);  // an image id
  if (!images_.count(NormalizeImageName(img)) && !images_.count(img)) {
    return NotFound("image", config.image().image());
  }
  std::string id = fmt::format("ctr-{:08x}", next_id_++);
  created_configs_[config.metadata().name()] = config;
  Ctr& c = containers_[id];
  c.info.set_id(id);
  c.info.set_pod_sandbox_id(sandbox_id);
  *c.info.mutable_metadata() = config.metadata();
  *c.info.mutable_image() = config.image();
  c.info.set_image_ref("sha256:fake-" + NormalizeImageName(img));
  c.info.set_state(v1::CONTAINER_CREATED);
  c.info.set_created_at(NowNs());
  *c.info.mutable_labels() = config.labels();
  *c.info.mutable_annotations() = config.annotations();
  c.log_path = sandbox.log_directory() + "/" + config.log_path();
  return id;
}

absl::Status FakeRuntime::StartContainer(const std::string& id) {
  Hook("StartContainer");
  std::lock_guard l(mu_);
  Count("StartContainer");
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound("container", id);
  Ctr& c = it->second;
  if (c.info.state() != v1::CONTAINER_CREATED) {
    return absl::FailedPreconditionError("container is not in created state");
  }
  auto err = start_errors_.find(c.info.metadata().name());
  if (err != start_errors_.end()) {
    c.info.set_state(v1::CONTAINER_EXITED);
    c.exit_code = 128;
    c.finished_at = NowNs();
    c.reason = "StartError";
    return err->second;
  }
  c.info.set_state(v1::CONTAINER_RUNNING);
  c.started_at = NowNs();
  auto script = exit_scripts_.find(c.info.metadata().name());
  if (script != exit_scripts_.end()) {
    c.info.set_state(v1::CONTAINER_EXITED);
    c.exit_code = script->second;
    c.finished_at = c.started_at;
    c.reason = script->second == 0 ? "Completed" : "Error";
  }
  return absl::OkStatus();
}

absl::Status FakeRuntime::StopContainer(const std::string& id, int64_t timeout_seconds) {
  std::lock_guard l(mu_);
  Count("StopContainer");
  last_stop_timeout_ = timeout_seconds;
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound("container", id);
  Ctr& c = it->second;
  if (c.info.state() == v1::CONTAINER_RUNNING) {
    c.info.set_state(v1::CONTAINER_EXITED);
    c.exit_code = 137;
    c.finished_at = NowNs();
    c.reason = "Error";
  }
  return absl::OkStatus();
}

absl::Status FakeRuntime::RemoveContainer(const std::string& id) {
  std::lock_guard l(mu_);
  Count("RemoveContainer");
  containers_.erase(id);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Container>> FakeRuntime::ListContainers(
    const v1::ContainerFilter& filter) {
  std::lock_guard l(mu_);
  Count("ListContainers");
  std::vector<v1::Container> out;
  for (const auto& [id, c] : containers_) {
    if (!filter.id().empty() && filter.id() != id) continue;
    if (filter.has_state() && filter.state().state() != c.info.state()) continue;
    if (!filter.pod_sandbox_id().empty() && filter.pod_sandbox_id() != c.info.pod_sandbox_id())
      continue;
    if (!LabelsMatch(filter.label_selector(), c.info.labels())) continue;
    out.push_back(c.info);
  }
  return out;
}

absl::StatusOr<v1::ContainerStatus> FakeRuntime::ContainerStatus(const std::string& id) {
  std::lock_guard l(mu_);
  Count("ContainerStatus");
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound("container", id);
  const Ctr& c = it->second;
  v1::ContainerStatus s;
  s.set_id(id);
  *s.mutable_metadata() = c.info.metadata();
  s.set_state(c.info.state());
  s.set_created_at(c.info.created_at());
  s.set_started_at(c.started_at);
  s.set_finished_at(c.finished_at);
  s.set_exit_code(c.exit_code);
  *s.mutable_image() = c.info.image();
  s.set_image_ref(c.info.image_ref());
  s.set_image_id(c.info.image_ref());
  if (c.info.state() == v1::CONTAINER_EXITED) s.set_reason(c.reason);
  *s.mutable_labels() = c.info.labels();
  *s.mutable_annotations() = c.info.annotations();
  s.set_log_path(c.log_path);
  return s;
}

absl::Status FakeRuntime::ReopenContainerLog(const std::string& id) {
  std::lock_guard l(mu_);
  Count("ReopenContainerLog");
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound("container", id);
  if (it->second.info.state() != v1::CONTAINER_RUNNING) {
    return absl::FailedPreconditionError("container is not running");
  }
  // As a runtime does: a new, empty log file at the log path.
  if (!it->second.log_path.empty() && it->second.log_path[0] == '/') {
    if (FILE* f = std::fopen(it->second.log_path.c_str(), "a")) std::fclose(f);
  }
  return absl::OkStatus();
}

absl::StatusOr<v1::ExecSyncResponse> FakeRuntime::ExecSync(const std::string& id,
                                                           const std::vector<std::string>& cmd,
                                                           std::chrono::seconds timeout) {
  std::function<v1::ExecSyncResponse(const std::string&, const std::vector<std::string>&)> fn;
  {
    std::lock_guard l(mu_);
    Count("ExecSync");
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound("container", id);
    if (it->second.info.state() != v1::CONTAINER_RUNNING) {
      return absl::FailedPreconditionError("container is not running");
    }
    fn = exec_fn_;
  }
  if (fn) return fn(id, cmd);
  return v1::ExecSyncResponse();
}

absl::StatusOr<std::string> FakeRuntime::Exec(const v1::ExecRequest& request) {
  return absl::UnimplementedError("the fake runtime has no streaming server");
}
absl::StatusOr<std::string> FakeRuntime::Attach(const v1::AttachRequest& request) {
  return absl::UnimplementedError("the fake runtime has no streaming server");
}
absl::StatusOr<std::string> FakeRuntime::PortForward(const v1::PortForwardRequest& request) {
  return absl::UnimplementedError("the fake runtime has no streaming server");
}

absl::StatusOr<v1::ContainerStats> FakeRuntime::ContainerStats(const std::string& id) {
  std::lock_guard l(mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound("container", id);
  v1::ContainerStats s;
  s.mutable_attributes()->set_id(id);
  *s.mutable_attributes()->mutable_metadata() = it->second.info.metadata();
  *s.mutable_attributes()->mutable_labels() = it->second.info.labels();
  int64_t now = NowNs();
  s.mutable_cpu()->set_timestamp(now);
  s.mutable_cpu()->mutable_usage_core_nano_seconds()->set_value(0);
  s.mutable_memory()->set_timestamp(now);
  s.mutable_memory()->mutable_working_set_bytes()->set_value(0);
  return s;
}

absl::StatusOr<std::vector<v1::ContainerStats>> FakeRuntime::ListContainerStats(
    const v1::ContainerStatsFilter& filter) {
  std::vector<std::string> ids;
  {
    std::lock_guard l(mu_);
    for (const auto& [id, c] : containers_) {
      if (c.info.state() != v1::CONTAINER_RUNNING) continue;
      if (!filter.id().empty() && filter.id() != id) continue;
      if (!filter.pod_sandbox_id().empty() && filter.pod_sandbox_id() != c.info.pod_sandbox_id())
        continue;
      if (!LabelsMatch(filter.label_selector(), c.info.labels())) continue;
      ids.push_back(id);
    }
  }
  std::vector<v1::ContainerStats> out;
  for (const auto& id : ids) {
    auto s = ContainerStats(id);
    if (s.ok()) out.push_back(*s);
  }
  return out;
}

absl::StatusOr<std::vector<v1::PodSandboxStats>> FakeRuntime::ListPodSandboxStats(
    const v1::PodSandboxStatsFilter& filter) {
  std::lock_guard l(mu_);
  std::vector<v1::PodSandboxStats> out;
  for (const auto& [id, s] : sandboxes_) {
    if (!filter.id().empty() && filter.id() != id) continue;
    if (!LabelsMatch(filter.label_selector(), s.info.labels())) continue;
    v1::PodSandboxStats st;
    st.mutable_attributes()->set_id(id);
    *st.mutable_attributes()->mutable_metadata() = s.info.metadata();
    *st.mutable_attributes()->mutable_labels() = s.info.labels();
    out.push_back(st);
  }
  return out;
}

absl::Status FakeRuntime::UpdateRuntimeConfig(const std::string& pod_cidr) {
  return absl::OkStatus();
}

absl::StatusOr<std::vector<v1::Image>> FakeRuntime::ListImages(const v1::ImageFilter& filter) {
  std::lock_guard l(mu_);
  Count("ListImages");
  std::vector<v1::Image> out;
  for (const auto& name : images_) {
    v1::Image i;
    i.set_id("sha256:fake-" + name);
    i.add_repo_tags(name);
    i.set_size(1 << 20);
    i.set_pinned(name == "registry.k8s.io/pause:3.6");  // the sandbox image, as containerd pins
    out.push_back(i);
  }
  return out;
}

absl::StatusOr<std::optional<v1::Image>> FakeRuntime::ImageStatus(const v1::ImageSpec& image) {
  std::lock_guard l(mu_);
  Count("ImageStatus");
  std::string name = NormalizeImageName(image.image());
  if (!images_.count(name)) return std::optional<v1::Image>();
  v1::Image i;
  i.set_id("sha256:fake-" + name);
  i.add_repo_tags(name);
  i.set_size(1 << 20);
  return std::optional<v1::Image>(i);
}

absl::StatusOr<std::string> FakeRuntime::PullImage(const v1::ImageSpec& image,
                                                   const v1::AuthConfig* auth,
                                                   const v1::PodSandboxConfig* sandbox) {
  Hook("PullImage");
  std::lock_guard l(mu_);
  Count("PullImage");
  std::string name = NormalizeImageName(image.image());
  if (auth) {
    pull_auths_[name] = *auth;
  } else {
    pull_auths_.erase(name);
  }
  auto err = pull_errors_.find(name);
  if (err != pull_errors_.end()) return err->second;
  if (auto req = required_users_.find(name);
      req != required_users_.end() && (!auth || auth->username() != req->second)) {
    return absl::UnauthenticatedError("pull access denied: authorization required");
  }
  images_.insert(name);
  return "sha256:fake-" + name;
}

std::optional<v1::ContainerConfig> FakeRuntime::CreatedConfig(const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = created_configs_.find(name);
  if (it == created_configs_.end()) return std::nullopt;
  return it->second;
}

std::optional<v1::AuthConfig> FakeRuntime::PullAuth(const std::string& image) const {
  std::lock_guard l(mu_);
  auto it = pull_auths_.find(NormalizeImageName(image));
  if (it == pull_auths_.end()) return std::nullopt;
  return it->second;
}

void FakeRuntime::RequireAuth(const std::string& image, const std::string& username) {
  std::lock_guard l(mu_);
  required_users_[NormalizeImageName(image)] = username;
}

absl::Status FakeRuntime::RemoveImage(const v1::ImageSpec& image) {
  std::lock_guard l(mu_);
  Count("RemoveImage");
  // By name or by id ("sha256:fake-<name>", what ListImages reports).
  std::string name = image.image();
  if (name.rfind("sha256:fake-", 0) == 0) name = name.substr(12);
  images_.erase(NormalizeImageName(name));
  return absl::OkStatus();
}

absl::StatusOr<v1::ImageFsInfoResponse> FakeRuntime::ImageFsInfo() {
  v1::ImageFsInfoResponse r;
  auto* fs = r.add_image_filesystems();
  fs->set_timestamp(NowNs());
  fs->mutable_fs_id()->set_mountpoint("/fake");
  fs->mutable_used_bytes()->set_value(0);
  return r;
}

}  // namespace korral::cri
