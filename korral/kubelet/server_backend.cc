#include "korral/kubelet/server_backend.h"

#include <unistd.h>

#include <fstream>
#include <map>
#include <sstream>

#include "fmt/format.h"
#include "korral/api/defaults.h"
#include "korral/base/status.h"
#include "korral/kubelet/kubelet_impl.h"
#include "korral/kubelet/server/cri_stream.h"
#include "korral/kubelet/stats/provider.h"
#include "korral/kubelet/stats/sampler.h"

namespace korral::kubelet {
namespace {

absl::Status NotFound(const std::string& m) {
  return absl::Status(absl::StatusCode::kNotFound, absl::string_view(m));
}

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
    v1::ExecRequest r;
    r.set_container_id(id);
    for (const auto& c : req.command) r.add_cmd(c);
    r.set_tty(req.tty);
    r.set_stdin(req.want_stdin);
    r.set_stdout(req.want_stdout);
    r.set_stderr(req.want_stderr && !req.tty);
    KORRAL_ASSIGN_OR_RETURN(std::string url, impl_.rt.Exec(r));
    return server::NewCriCommandSession(url, req);
  }

  absl::StatusOr<std::unique_ptr<server::CommandSession>> Attach(
      const server::ExecRequest& req) override {
    KORRAL_ASSIGN_OR_RETURN(std::string id, RunningContainer(req));
    v1::AttachRequest r;
    r.set_container_id(id);
    r.set_tty(req.tty);
    r.set_stdin(req.want_stdin);
    r.set_stdout(req.want_stdout);
    r.set_stderr(req.want_stderr && !req.tty);
    KORRAL_ASSIGN_OR_RETURN(std::string url, impl_.rt.Attach(r));
    return server::NewCriCommandSession(url, req);
  }

  absl::StatusOr<std::unique_ptr<server::PortForwarder>> PortForward(
      const server::PodRef& ref) override {
    KORRAL_ASSIGN_OR_RETURN(Json pod, FindPod(ref));
    KORRAL_ASSIGN_OR_RETURN(RuntimePod rp, impl_.GetRuntimePod(PodUid(pod)));
    const v1::PodSandbox* ready = nullptr;
    for (const auto& sb : rp.sandboxes) {
      if (sb.state() == v1::SANDBOX_READY) {
        ready = &sb;
        break;
      }
    }
    if (!ready) {
      return absl::FailedPreconditionError(absl::string_view(
          fmt::format("pod {}/{} has no running sandbox", ref.namespace_, ref.name)));
    }
    // The runtime forwards inside the pod's network namespace (localhost-bound ports work, as
    // upstream); the ports come per stream from the client, so none are listed here.
    v1::PortForwardRequest r;
    r.set_pod_sandbox_id(ready->id());
    KORRAL_ASSIGN_OR_RETURN(std::string url, impl_.rt.PortForward(r));
    return server::NewCriPortForwarder(url);
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
        // Logs count toward the pod's ephemeral storage (eviction, Summary API).
        if (!impl_.cfg.log_dir.empty()) {
          cr.log_path =
              fmt::format("{}/{}_{}_{}/{}", impl_.cfg.log_dir, p.ns, p.name, p.uid, cr.name);
        }
        p.containers.push_back(std::move(cr));
      }
      // emptyDir volumes on disk count too.
      if (!impl_.cfg.root_dir.empty()) {
        for (const auto& v : pod["spec"].value("volumes", Json::array())) {
          if (!v.contains("emptyDir")) continue;
          if (v["emptyDir"].value("medium", "") == "Memory") continue;
          stats::VolumeRef vr;
          vr.name = v.value("name", "");
          vr.path = impl_.PodDir(p.uid) + "/volumes/kubernetes.io~empty-dir/" + vr.name;
          p.volumes.push_back(std::move(vr));
        }
      }
      // Network stats are read from the sandbox's network namespace through its pid.
      p.sandbox_pid = k_.SandboxPid(p.uid);
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

http::Handler NewKubeletMetricsHandler(Kubelet& kubelet) {
  return [&kubelet](http::Request& req) {
    http::Response r;
    if (req.method != "GET" && req.method != "HEAD") {
      r.status = 405;
      r.content_type = "text/plain; charset=utf-8";
      r.body = "method not allowed\n";
      return r;
    }
    Kubelet::Impl& impl = *kubelet.impl();
    std::string out;
    auto gauge = [&](std::string_view name, std::string_view help) {
      out += fmt::format("# HELP {} {}\n# TYPE {} gauge\n", name, help, name);
    };
    gauge("kubelet_node_name", "[ALPHA] The node's name. The count is always 1.");
    out += fmt::format("kubelet_node_name{{node=\"{}\"}} 1\n", impl.cfg.node_name);
    v1::PodSandboxFilter sf;
    sf.mutable_state()->set_state(v1::SANDBOX_READY);
    if (auto sandboxes = impl.rt.ListPodSandbox(sf); sandboxes.ok()) {
      gauge("kubelet_running_pods", "[ALPHA] Number of pods that have a running pod sandbox");
      out += fmt::format("kubelet_running_pods {}\n", sandboxes->size());
    }
    if (auto containers = impl.rt.ListContainers(v1::ContainerFilter()); containers.ok()) {
      std::map<std::string, int> by_state = {
          {"created", 0}, {"running", 0}, {"exited", 0}, {"unknown", 0}};
      for (const auto& c : *containers) {
        switch (c.state()) {
          case v1::CONTAINER_CREATED:
            ++by_state["created"];
            break;
          case v1::CONTAINER_RUNNING:
            ++by_state["running"];
            break;
          case v1::CONTAINER_EXITED:
            ++by_state["exited"];
            break;
          default:
            ++by_state["unknown"];
        }
      }
      gauge("kubelet_running_containers", "[ALPHA] Number of containers currently running");
      for (const auto& [state, n] : by_state) {
        out += fmt::format("kubelet_running_containers{{container_state=\"{}\"}} {}\n", state, n);
      }
    }
    // Process metrics from /proc/self.
    std::ifstream statm("/proc/self/statm");
    long pages_total = 0, pages_rss = 0;
    if (statm >> pages_total >> pages_rss) {
      gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
      out += fmt::format("process_resident_memory_bytes {}\n",
                         static_cast<int64_t>(pages_rss) * sysconf(_SC_PAGESIZE));
    }
    std::ifstream stat("/proc/self/stat");
    std::string line;
    if (std::getline(stat, line)) {
      // Field 22 (starttime, clock ticks since boot) follows the ")" that ends the comm field.
      std::istringstream fields(line.substr(line.rfind(')') + 2));
      std::string f;
      unsigned long long start_ticks = 0;
      for (int i = 3; i <= 22 && fields >> f; ++i) {
        if (i == 22) start_ticks = std::stoull(f);
      }
      std::ifstream uptime_file("/proc/uptime");
      double uptime = 0;
      if (start_ticks > 0 && (uptime_file >> uptime)) {
        double now =
            std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                .count();
        double boot = now - uptime;
        gauge("process_start_time_seconds",
              "Start time of the process since unix epoch in seconds.");
        out += fmt::format(
            "process_start_time_seconds {:.2f}\n",
            boot + static_cast<double>(start_ticks) / static_cast<double>(sysconf(_SC_CLK_TCK)));
      }
    }
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = std::move(out);
    return r;
  };
}

std::unique_ptr<server::Backend> NewServerBackend(Kubelet& kubelet) {
  return std::make_unique<Backend>(kubelet);
}

}  // namespace korral::kubelet

namespace korral::kubelet {

EvictionStatsFn NewSamplerEvictionStats(stats::Sampler* sampler) {
  return [sampler]() -> std::optional<EvictionObservation> {
    std::shared_ptr<const stats::Snapshot> snap = sampler->Latest();
    if (!snap || snap->sample_count == 0) return std::nullopt;
    EvictionObservation o;
    const stats::NodeSample& n = snap->node;
    o.memory_capacity = static_cast<int64_t>(n.memory_capacity);
    o.memory_working_set = static_cast<int64_t>(n.memory_working_set);
    if (n.fs) {
      o.nodefs_capacity = static_cast<int64_t>(n.fs->capacity);
      o.nodefs_available = static_cast<int64_t>(n.fs->available);
      o.nodefs_inodes = static_cast<int64_t>(n.fs->inodes);
      o.nodefs_inodes_free = static_cast<int64_t>(n.fs->inodes_free);
    }
    if (n.image_fs) {
      o.imagefs_capacity = static_cast<int64_t>(n.image_fs->capacity);
      o.imagefs_available = static_cast<int64_t>(n.image_fs->available);
      o.imagefs_inodes = static_cast<int64_t>(n.image_fs->inodes);
      o.imagefs_inodes_free = static_cast<int64_t>(n.image_fs->inodes_free);
    }
    if (n.pid_max) {
      o.pid_max = static_cast<int64_t>(*n.pid_max);
      o.processes = static_cast<int64_t>(n.processes);
    }
    for (const auto& p : snap->pods) {
      EvictionObservation::Pod& op = o.pods[p.ref.uid];
      int64_t ws_sum = 0;
      for (const auto& c : p.containers) {
        int64_t ws = c.has_cgroup && c.cgroup.memory.ok
                         ? static_cast<int64_t>(c.cgroup.memory.working_set)
                         : 0;
        int64_t disk =
            static_cast<int64_t>((c.rootfs ? c.rootfs->bytes : 0) + (c.logs ? c.logs->bytes : 0));
        op.container_memory[c.ref.name] = ws;
        op.container_disk[c.ref.name] = disk;
        ws_sum += ws;
        op.disk_usage += disk;
        op.inodes +=
            static_cast<int64_t>((c.rootfs ? c.rootfs->inodes : 0) + (c.logs ? c.logs->inodes : 0));
      }
      for (const auto& v : p.volumes) {
        if (v.usage) op.volume_usage[v.ref.name] = static_cast<int64_t>(v.usage->bytes);
        if (v.ref.ephemeral && v.usage) {
          op.disk_usage += static_cast<int64_t>(v.usage->bytes);
          op.inodes += static_cast<int64_t>(v.usage->inodes);
        }
      }
      if (p.has_cgroup && p.cgroup.pids.ok) {
        op.processes = static_cast<int64_t>(p.cgroup.pids.current);
      }
      op.memory_working_set = p.has_cgroup && p.cgroup.memory.ok
                                  ? static_cast<int64_t>(p.cgroup.memory.working_set)
                                  : ws_sum;
    }
    return o;
  };
}

}  // namespace korral::kubelet
