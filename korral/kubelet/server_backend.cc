#include "korral/kubelet/server_backend.h"

#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/base/status.h"
#include "korral/kubelet/kubelet_impl.h"
#include "korral/kubelet/stats/provider.h"
#include "korral/streaming/conn.h"
#if __has_include("korral/streaming/cri_client.h")
#include "korral/streaming/cri_client.h"
#define KORRAL_HAVE_CRI_STREAMING 1
#endif

namespace korral::kubelet {
namespace {

absl::Status NotFound(const std::string& m) {
  return absl::Status(absl::StatusCode::kNotFound, absl::string_view(m));
}

// Non-interactive exec through ExecSync: enough for `kubectl exec pod -- cmd` and scripted
// clients; interactive sessions need the runtime's streaming server.
class ExecSyncSession : public server::CommandSession {
 public:
  ExecSyncSession(cri::Runtime& rt, std::string id, std::vector<std::string> cmd)
      : rt_(rt), id_(std::move(id)), cmd_(std::move(cmd)) {}
  absl::StatusOr<int> Run(server::CommandIO& io) override {
    auto r = rt_.ExecSync(id_, cmd_, std::chrono::seconds(0));
    if (!r.ok()) return r.status();
    if (!r->stdout().empty()) io.WriteStdout(r->stdout());
    if (!r->stderr().empty()) io.WriteStderr(r->stderr());
    return r->exit_code();
  }

 private:
  cri::Runtime& rt_;
  std::string id_;
  std::vector<std::string> cmd_;
};

class PodIpForwarder : public server::PortForwarder {
 public:
  explicit PodIpForwarder(std::string ip) : ip_(std::move(ip)) {}
  absl::StatusOr<http::ConnPtr> Dial(uint16_t port) override {
    return streaming::DialTcp(ip_, port);
  }

 private:
  std::string ip_;
};

class Backend : public server::Backend {
 public:
  explicit Backend(Kubelet& k) : k_(k), impl_(*k.impl()) {}

  std::vector<nlohmann::json> ListPods() override { return k_.ListPods(); }

  std::vector<nlohmann::json> RunningPods() override {
    std::vector<nlohmann::json> out;
    for (auto& p : k_.ListPods()) {
      bool running = false;
      for (const auto& cs :
           p.value("status", Json::object()).value("containerStatuses", Json::array())) {
        if (cs.value("state", Json::object()).contains("running")) running = true;
      }
      if (running) out.push_back(std::move(p));
    }
    return out;
  }

  absl::StatusOr<server::LogLocation> ContainerLog(const server::PodRef& ref,
                                                   const std::string& container,
                                                   bool previous) override {
    KORRAL_ASSIGN_OR_RETURN(Json pod, FindPod(ref));
    KORRAL_ASSIGN_OR_RETURN(RuntimePod rp, impl_.GetRuntimePod(PodUid(pod)));
    const v1::ContainerStatus* c = rp.Latest(container, previous ? 1 : 0);
    if (!c) {
      if (previous) {
        return absl::Status(absl::StatusCode::kInvalidArgument,
                            absl::string_view(fmt::format(
                                "previous terminated container \"{}\" in pod \"{}\" not found",
                                container, ref.name)));
      }
      return absl::Status(
          absl::StatusCode::kInvalidArgument,
          absl::string_view(fmt::format("container \"{}\" in pod \"{}\" is waiting to start: "
                                        "ContainerCreating",
                                        container, ref.name)));
    }
    return server::LogLocation{c->log_path(), c->id()};
  }

  bool IsContainerRunning(const std::string& id) override {
    auto s = impl_.rt.ContainerStatus(id);
    return s.ok() && s->state() == v1::CONTAINER_RUNNING;
  }

  absl::StatusOr<std::unique_ptr<server::CommandSession>> Exec(
      const server::ExecRequest& req) override {
    KORRAL_ASSIGN_OR_RETURN(std::string id, RunningContainer(req));
#ifdef KORRAL_HAVE_CRI_STREAMING
    v1::ExecRequest r;
    r.set_container_id(id);
    for (const auto& c : req.command) r.add_cmd(c);
    r.set_tty(req.tty);
    r.set_stdin(req.want_stdin);
    r.set_stdout(req.want_stdout);
    r.set_stderr(req.want_stderr && !req.tty);
    KORRAL_ASSIGN_OR_RETURN(std::string url, impl_.rt.Exec(r));
    return streaming::NewCriCommandSession(url, req);
#else
    // TODO(korral): interactive exec (stdin/tty) needs the CRI streaming client.
    return std::unique_ptr<server::CommandSession>(new ExecSyncSession(impl_.rt, id, req.command));
#endif
  }

  absl::StatusOr<std::unique_ptr<server::CommandSession>> Attach(
      const server::ExecRequest& req) override {
    KORRAL_ASSIGN_OR_RETURN(std::string id, RunningContainer(req));
#ifdef KORRAL_HAVE_CRI_STREAMING
    v1::AttachRequest r;
    r.set_container_id(id);
    r.set_tty(req.tty);
    r.set_stdin(req.want_stdin);
    r.set_stdout(req.want_stdout);
    r.set_stderr(req.want_stderr && !req.tty);
    KORRAL_ASSIGN_OR_RETURN(std::string url, impl_.rt.Attach(r));
    return streaming::NewCriCommandSession(url, req);
#else
    (void)id;
    return absl::UnimplementedError("attach needs the CRI streaming client (not built)");
#endif
  }

  absl::StatusOr<std::unique_ptr<server::PortForwarder>> PortForward(
      const server::PodRef& ref) override {
    KORRAL_ASSIGN_OR_RETURN(Json pod, FindPod(ref));
    std::string ip = pod.value("status", Json::object()).value("podIP", "");
    if (ip.empty()) {
      return absl::FailedPreconditionError(
          absl::string_view(fmt::format("pod {} does not have an IP yet", ref.name)));
    }
    return std::unique_ptr<server::PortForwarder>(new PodIpForwarder(ip));
  }

 private:
  absl::StatusOr<Json> FindPod(const server::PodRef& ref) {
    Json pod = impl_.GetPodFromCache(ref.namespace_ + "/" + ref.name);
    if (pod.is_null() || (!ref.uid.empty() && PodUid(pod) != ref.uid)) {
      return NotFound(fmt::format("pod \"{}\" not found", ref.name));
    }
    return pod;
  }

  absl::StatusOr<std::string> RunningContainer(const server::ExecRequest& req) {
    KORRAL_ASSIGN_OR_RETURN(Json pod, FindPod(req.pod));
    std::string name = req.container;
    if (name.empty()) {
      auto cs = pod["spec"].value("containers", Json::array());
      if (!cs.empty()) name = cs[0].value("name", "");
    }
    KORRAL_ASSIGN_OR_RETURN(RuntimePod rp, impl_.GetRuntimePod(PodUid(pod)));
    const v1::ContainerStatus* c = rp.Latest(name);
    if (!c) return NotFound(fmt::format("container {} not found in pod {}", name, req.pod.name));
    if (c->state() != v1::CONTAINER_RUNNING) {
      return absl::FailedPreconditionError(absl::string_view(fmt::format(
          "container {} is not running (state: {})", name, v1::ContainerState_Name(c->state()))));
    }
    return c->id();
  }

  Kubelet& k_;
  Kubelet::Impl& impl_;
};

class StatsProvider : public stats::PodStatsProvider {
 public:
  explicit StatsProvider(Kubelet& k) : k_(k), impl_(*k.impl()) {}
  std::vector<stats::PodRef> ListPodsForStats() override {
    std::vector<stats::PodRef> out;
    v1::ContainerFilter f;
    f.mutable_state()->set_state(v1::CONTAINER_RUNNING);
    auto running = impl_.rt.ListContainers(f);
    if (!running.ok()) return out;
    std::map<std::string, std::vector<const v1::Container*>> by_uid;
    for (const auto& c : *running) {
      auto it = c.labels().find(cri::kPodUidLabel);
      if (it != c.labels().end()) by_uid[it->second].push_back(&c);
    }
    for (const auto& pod : k_.ListPods()) {
      auto it = by_uid.find(PodUid(pod));
      if (it == by_uid.end()) continue;
      stats::PodRef p;
      p.ns = pod["metadata"].value("namespace", "");
      p.name = pod["metadata"].value("name", "");
      p.uid = PodUid(pod);
      if (!impl_.cfg.cgroup_root.empty()) {
        p.cgroup_path =
            PodCgroupParent(impl_.cfg.cgroup_root, api::defaults::PodQosClass(pod), p.uid);
      }
      for (const auto* c : it->second) {
        stats::ContainerRef cr;
        cr.name = c->metadata().name();
        cr.id = c->id();
        cr.image = c->image().image();
        if (!p.cgroup_path.empty()) cr.cgroup_path = p.cgroup_path + "/" + c->id();
        cr.start_time = std::chrono::system_clock::time_point(
            std::chrono::duration_cast<std::chrono::system_clock::duration>(
                std::chrono::nanoseconds(c->created_at())));
        p.containers.push_back(std::move(cr));
      }
      // TODO(korral): network stats need the sandbox's netns path or pid (verbose status).
      out.push_back(std::move(p));
    }
    return out;
  }

 private:
  Kubelet& k_;
  Kubelet::Impl& impl_;
};

}  // namespace

std::unique_ptr<stats::PodStatsProvider> NewStatsProvider(Kubelet& kubelet) {
  return std::make_unique<StatsProvider>(kubelet);
}

std::unique_ptr<server::Backend> NewServerBackend(Kubelet& kubelet) {
  return std::make_unique<Backend>(kubelet);
}

}  // namespace korral::kubelet
