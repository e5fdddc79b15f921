#include "korral/agent/agent.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "fmt/format.h"
#include "korral/agent/images.h"
#include "korral/agent/serving_cert.h"
#include "korral/base/clock.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/kubeconfig.h"
#include "korral/client/rest.h"
#include "korral/cri/remote.h"
#include "korral/kubelet/kubelet.h"
#include "korral/kubelet/kubelet_impl.h"
#include "korral/kubelet/server/auth.h"
#include "korral/kubelet/server/server.h"
#include "korral/kubelet/server_backend.h"
#include "korral/kubelet/stats/provider.h"
#include "korral/kubelet/stats/sampler.h"
#include "korral/kubelet/stats/stats_http.h"
#include "korral/pki/pki.h"

namespace korral::agent {

namespace fs = std::filesystem;

namespace {

absl::Status Err(const std::string& m) {
  return absl::Status(absl::StatusCode::kInternal, absl::string_view(m));
}

absl::Status WriteText(const fs::path& p, const std::string& text) {
  std::error_code ec;
  fs::create_directories(p.parent_path(), ec);
  std::ofstream out(p, std::ios::trunc);
  if (!out) return Err("cannot write " + p.string());
  out << text;
  return absl::OkStatus();
}

// Forks `argv` with stdout/stderr to `log`, unblocked signals and PDEATHSIG; returns the pid.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  setpgid(0, 0);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  int nul = ::open("/dev/null", O_RDONLY);
  if (nul >= 0) dup2(nul, 0);
  if (fd >= 0) {
    dup2(fd, 1);
    dup2(fd, 2);
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execvp(args[0], args.data());
  _exit(127);
}

// Runs a command to completion (bounded); OK on exit 0.
absl::Status Run(const std::vector<std::string>& argv, const std::string& log,
                 std::chrono::seconds timeout) {
  pid_t pid = Spawn(argv, log);
  if (pid < 0) return Err("fork failed");
  auto end = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (true) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (std::chrono::steady_clock::now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return Err(fmt::format("{} timed out", argv[0]));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Err(fmt::format("{} failed (status {}); see {}", fmt::join(argv, " "), status, log));
  }
  return absl::OkStatus();
}

bool HasCapSysResource() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("CapEff:", 0) == 0) {
      uint64_t caps = std::strtoull(line.c_str() + 7, nullptr, 16);
      return caps & (1ull << 24);
    }
  }
  return false;
}

std::string Gateway(const std::string& cidr) {
  // a.b.c.0/24 -> a.b.c.1
  std::string ip = cidr.substr(0, cidr.find('/'));
  auto dot = ip.rfind('.');
  int last = std::atoi(ip.c_str() + dot + 1);
  return ip.substr(0, dot + 1) + std::to_string(last + 1);
}

}  // namespace

// ---- Supervisor ----

struct Supervisor::Impl {
  std::string name, log;
  std::vector<std::string> argv;
  std::mutex mu;
  std::condition_variable cv;
  pid_t pid = -1;
  bool stopping = false;
  std::thread monitor;
};

Supervisor::Supervisor(std::string name, std::vector<std::string> argv, std::string log_file)
    : impl_(std::make_unique<Impl>()) {
  impl_->name = std::move(name);
  impl_->argv = std::move(argv);
  impl_->log = std::move(log_file);
}

Supervisor::~Supervisor() { Stop(); }

int Supervisor::pid() const {
  std::lock_guard l(impl_->mu);
  return impl_->pid;
}

absl::Status Supervisor::Start() {
  Impl* s = impl_.get();
  {
    std::lock_guard l(s->mu);
    s->pid = Spawn(s->argv, s->log);
    if (s->pid < 0) return Err("fork " + s->name);
  }
  KLOG(Info, "agent: started {} (pid {})", s->name, s->pid);
  s->monitor = std::thread([s] {
    auto backoff = std::chrono::seconds(1);
    while (true) {
      pid_t pid;
      {
        std::lock_guard l(s->mu);
        pid = s->pid;
      }
      int status = 0;
      if (waitpid(pid, &status, 0) < 0 && errno == EINTR) continue;
      std::unique_lock l(s->mu);
      if (s->stopping) {
        s->pid = -1;
        s->cv.notify_all();
        return;
      }
      KLOG(Warning, "agent: {} exited (status {}); restarting in {}s", s->name, status,
           backoff.count());
      s->cv.wait_for(l, backoff, [&] { return s->stopping; });
      if (s->stopping) {
        s->pid = -1;
        return;
      }
      backoff = std::min(backoff * 2, std::chrono::seconds(30));
      s->pid = Spawn(s->argv, s->log);
    }
  });
  return absl::OkStatus();
}

void Supervisor::Stop(std::chrono::seconds grace) {
  Impl* s = impl_.get();
  pid_t pid;
  {
    std::lock_guard l(s->mu);
    if (s->stopping) return;
    s->stopping = true;
    pid = s->pid;
    s->cv.notify_all();
  }
  if (pid > 0) {
    kill(pid, SIGTERM);
    std::unique_lock l(s->mu);
    if (!s->cv.wait_for(l, grace, [&] { return s->pid == -1; })) {
      kill(pid, SIGKILL);
    }
  }
  if (s->monitor.joinable()) s->monitor.join();
}

// ---- images ----

absl::StatusOr<std::pair<std::string, std::string>> EnsureOfflineImages(
    const std::string& dir, const std::string& busybox_path, const std::string& sandbox_image) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  std::string pause = dir + "/pause.tar", busybox = dir + "/busybox.tar";
  if (!fs::exists(pause, ec) || !fs::exists(busybox, ec)) {
    KORRAL_ASSIGN_OR_RETURN(auto rootfs, BusyboxRootfs(busybox_path));
    KORRAL_RETURN_IF_ERROR(
        WriteText(pause, OciArchive(BuildImage(rootfs, {"/bin/sleep", "inf"}), sandbox_image)));
    KORRAL_RETURN_IF_ERROR(WriteText(
        busybox, OciArchive(BuildImage(rootfs, {"sh"}), "docker.io/library/busybox:latest")));
  }
  return std::make_pair(pause, busybox);
}

absl::Status ImportImage(const std::string& archive_path, const std::string& socket,
                         int registry_port) {
  std::string log = archive_path + ".import.log";
  if (!socket.empty()) {
    KORRAL_RETURN_IF_ERROR(
        Run({"ctr", "--address", socket, "-n", "k8s.io", "images", "import", archive_path}, log,
            std::chrono::seconds(120)));
  }
  if (registry_port > 0) {
    std::ifstream in(archive_path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    KORRAL_ASSIGN_OR_RETURN(ImageArchive img, ReadImageArchive(data));
    // The local registry mirrors docker.io only: images of other registries are in containerd
    // (IfNotPresent runs them) but a pull goes to their own registry, as upstream.
    constexpr std::string_view kDockerHub = "docker.io/";
    if (img.ref.rfind(kDockerHub, 0) != 0 || img.ref.find('@') != std::string::npos) {
      KLOG(Info,
           "images: {} imported into containerd; not pushed to the local registry (it "
           "mirrors docker.io tags only)",
           img.ref);
      return absl::OkStatus();
    }
    std::string path = img.ref.substr(kDockerHub.size());  // library/busybox:latest
    auto colon = path.rfind(':');
    std::string repo = path.substr(0, colon);
    std::string tag = path.substr(colon + 1);
    KORRAL_RETURN_IF_ERROR(PushToRegistry(img, registry_port, repo, tag));
  }
  return absl::OkStatus();
}

// ---- Agent ----

struct Agent::Impl {
  AgentConfig cfg;
  std::string socket;
  std::unique_ptr<Supervisor> containerd, registry;
  std::unique_ptr<cri::Runtime> runtime;
  std::unique_ptr<client::RestClient> client;
  std::unique_ptr<NodeCertificates> certs;  // client + serving certificate rotation
  std::unique_ptr<kubelet::Kubelet> kubelet;
  std::unique_ptr<kubelet::server::Backend> backend;
  std::unique_ptr<kubelet::stats::PodStatsProvider> stats_provider;
  std::unique_ptr<kubelet::stats::Sampler> sampler;
  std::unique_ptr<kubelet::server::KubeletServer> server;
  bool started = false;

  absl::Status StartServer(const std::string& client_ca_pem, const std::string& node);

  absl::Status WriteContainerdConfig();
  absl::Status StartRegistry();
  absl::Status StartContainerd();
};

Agent::Agent(AgentConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->cfg = std::move(config);
}
Agent::~Agent() { Stop(); }
kubelet::Kubelet* Agent::kubelet() { return impl_->kubelet.get(); }

absl::Status Agent::Impl::WriteContainerdConfig() {
  fs::path d = fs::path(cfg.data_dir);
  std::string ctd = (d / "containerd").string();
  std::string cni = (d / "cni").string();
  std::string cfg_text = fmt::format(
      R"(# Generated by korral agent; rewritten on every start.
version = 2
root = "{ctd}/root"
state = "{ctd}/state"
[grpc]
  address = "{sock}"
[plugins."io.containerd.internal.v1.opt"]
  path = "{ctd}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  netns_mounts_under_state_dir = true
  restrict_oom_score_adj = {restrict}
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{cni}/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{ctd}/certs.d"
)",
      fmt::arg("ctd", ctd), fmt::arg("sock", socket), fmt::arg("sandbox", cfg.sandbox_image),
      fmt::arg("restrict", HasCapSysResource() ? "false" : "true"), fmt::arg("cni", cni));
  KORRAL_RETURN_IF_ERROR(WriteText(d / "containerd" / "config.toml", cfg_text));
  if (cfg.registry_port > 0) {
    std::string url = fmt::format("http://127.0.0.1:{}", cfg.registry_port);
    KORRAL_RETURN_IF_ERROR(WriteText(
        d / "containerd" / "certs.d" / "docker.io" / "hosts.toml",
        fmt::format(
            "server = \"{0}\"\n\n[host.\"{0}\"]\n  capabilities = [\"pull\", \"resolve\"]\n",
            url)));
  }
  std::string conflist = fmt::format(
      R"({{
  "cniVersion": "0.4.0",
  "name": "korral",
  "plugins": [
    {{"type": "bridge", "bridge": "{bridge}", "isGateway": true, "ipMasq": false,
     "hairpinMode": true,
     "ipam": {{"type": "host-local", "dataDir": "{cni}/ipam",
              "ranges": [[{{"subnet": "{cidr}", "gateway": "{gw}"}}]],
              "routes": [{{"dst": "0.0.0.0/0"}}]}}}},
    {{"type": "portmap", "capabilities": {{"portMappings": true}}}},
    {{"type": "loopback"}}
  ]
}}
)",
      fmt::arg("bridge", cfg.cni_bridge), fmt::arg("cni", cni), fmt::arg("cidr", cfg.pod_cidr),
      fmt::arg("gw", Gateway(cfg.pod_cidr)));
  return WriteText(d / "cni" / "net.d" / "10-korral.conflist", conflist);
}

absl::Status Agent::Impl::StartRegistry() {
  fs::path d = fs::path(cfg.data_dir) / "registry";
  KORRAL_RETURN_IF_ERROR(WriteText(
      d / "config.yml",
      fmt::format("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    "
                  "rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{}\n",
                  (d / "data").string(), cfg.registry_port)));
  registry = std::make_unique<Supervisor>(
      "docker-registry",
      std::vector<std::string>{"docker-registry", "serve", (d / "config.yml").string()},
      (d / "registry.log").string());
  return registry->Start();
}

absl::Status Agent::Impl::StartContainerd() {
  fs::path d = fs::path(cfg.data_dir);
  containerd = std::make_unique<Supervisor>(
      "containerd",
      std::vector<std::string>{"containerd", "--config",
                               (d / "containerd" / "config.toml").string()},
      (d / "containerd" / "containerd.log").string());
  return containerd->Start();
}

absl::Status Agent::Start() {
  Impl& a = *impl_;
  const AgentConfig& cfg = a.cfg;
  if (cfg.data_dir.empty()) return absl::InvalidArgumentError("--data-dir is required");
  kubelet::EvictionConfig eviction;
  KORRAL_RETURN_IF_ERROR(kubelet::ParseEvictionFlags(cfg.eviction_hard, cfg.eviction_soft,
                                                     cfg.eviction_soft_grace_period, &eviction));
  if (cfg.eviction_max_pod_grace_period < 0) {
    return absl::InvalidArgumentError("--eviction-max-pod-grace-period must not be negative");
  }
  eviction.max_pod_grace_period_seconds = cfg.eviction_max_pod_grace_period;
  fs::path d = fs::absolute(cfg.data_dir);
  a.cfg.data_dir = d.string();
  std::error_code ec;
  fs::create_directories(d, ec);
  std::string node = cfg.node_name;
  if (node.empty()) {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    node = host;
    for (auto& c : node) c = static_cast<char>(std::tolower(c));
  }
  std::string endpoint = cfg.container_runtime_endpoint;
  if (endpoint.empty()) {
    a.socket = (d / "containerd" / "containerd.sock").string();
    endpoint = "unix://" + a.socket;
    KORRAL_ASSIGN_OR_RETURN(auto images, EnsureOfflineImages((d / "images").string(),
                                                             cfg.busybox_path, cfg.sandbox_image));
    KORRAL_RETURN_IF_ERROR(a.WriteContainerdConfig());
    if (cfg.registry_port > 0) KORRAL_RETURN_IF_ERROR(a.StartRegistry());
    KORRAL_RETURN_IF_ERROR(a.StartContainerd());
    KORRAL_ASSIGN_OR_RETURN(
        a.runtime,
        cri::NewRemoteRuntime({.endpoint = endpoint, .request_timeout = std::chrono::seconds(10)}));
    // Wait for the CRI plugin (bounded).
    absl::Status up = absl::UnavailableError("containerd not up");
    for (int i = 0; i < 300 && !up.ok(); ++i) {
      up = a.runtime->Version().status();
      if (!up.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    if (!up.ok()) {
      return Err(
          fmt::format("containerd did not come up in 30s: {}; see {}/containerd/containerd.log",
                      StatusMessage(up), d.string()));
    }
    // Offline images: into containerd (sandbox + busybox) and the local registry (busybox).
    for (const auto& [path, push] :
         {std::make_pair(images.first, false), std::make_pair(images.second, true)}) {
      int port = push ? cfg.registry_port : 0;
      absl::Status s = absl::UnavailableError("not tried");
      for (int i = 0; i < 50 && !s.ok(); ++i) {  // the registry may still be starting
        s = ImportImage(path, a.socket, port);
        if (!s.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (!s.ok()) return s;
    }
  }
  a.runtime.reset();
  KORRAL_ASSIGN_OR_RETURN(a.runtime, cri::NewRemoteRuntime({.endpoint = endpoint}));

  KORRAL_ASSIGN_OR_RETURN(client::RestConfig rc, client::LoadKubeconfig(cfg.kubeconfig));
  if (!cfg.server.empty()) rc.host = cfg.server;
  rc.user_agent = "korral-kubelet/" + node;
  a.certs = std::make_unique<NodeCertificates>(
      NodeCertificatesOptions{.node_name = node, .data_dir = d.string()});
  a.certs->ConfigureClient(&rc, cfg.kubeconfig);
  KORRAL_ASSIGN_OR_RETURN(a.client, client::RestClient::New(rc));

  kubelet::KubeletConfig kc;
  kc.node_name = node;
  kc.root_dir = (d / "kubelet").string();
  kc.log_dir = (d / "logs").string();
  kc.cgroup_root = cfg.cgroup_root;
  kc.pod_cidr = cfg.pod_cidr;
  kc.node_ip = cfg.node_ip;
  kc.node_labels = cfg.node_labels;
  kc.kubelet_port = cfg.kubelet_port;
  kc.cluster_dns = cfg.cluster_dns;
  kc.pod_manifest_path = cfg.pod_manifest_path;
  kc.pinned_images = {cfg.sandbox_image};  // never image-GC'd (containerd 1.6 does not pin it)
  kc.eviction = eviction;
  a.kubelet = std::make_unique<kubelet::Kubelet>(*a.client, *a.runtime, kc);
  KORRAL_RETURN_IF_ERROR(a.kubelet->Start());
  KORRAL_RETURN_IF_ERROR(a.StartServer(rc.ca_pem, node));
  a.started = true;
  return absl::OkStatus();
}

absl::Status Agent::Impl::StartServer(const std::string& client_ca_pem, const std::string& node) {
  // Serves on the node's address (the one in status.addresses the apiserver dials).
  std::string ip = cfg.node_ip.empty() ? kubelet->impl()->node_ip : cfg.node_ip;
  if (ip.empty()) ip = "127.0.0.1";
  // Serving certificate: the cluster CA's through a kubelet-serving CSR, renewed while serving
  // (serving_cert.h); a node-local one until it is issued.
  KORRAL_RETURN_IF_ERROR(certs->Start(client.get(), {ip}, client_ca_pem));
  pki::CertKeyPair serving = certs->InitialServingPair();
  backend = kubelet::NewServerBackend(*kubelet);
  stats_provider = kubelet::NewStatsProvider(*kubelet);
  kubelet::stats::SamplerOptions so;
  so.node_name = node;
  so.node_fs_path = cfg.data_dir;
  sampler = std::make_unique<kubelet::stats::Sampler>(so, stats_provider.get(), &Clock::Real());
  absl::Status stats_init = sampler->Init();
  if (stats_init.ok()) {
    sampler->Start();
    kubelet->SetEvictionStats(kubelet::NewSamplerEvictionStats(sampler.get()));
  } else {
    KLOG(Warning, "agent: stats are not collected: {}", StatusMessage(stats_init));
  }
  kubelet::server::Options o;
  o.bind_address = ip;
  o.port = static_cast<uint16_t>(cfg.kubelet_port);
  o.cert_pem = serving.cert_pem;
  o.key_pem = serving.key_pem;
  o.certificate_source = [c = certs.get()] { return c->ServingCertificate(); };
  // Client certificates signed by the cluster CA (the apiserver's), bearer tokens through
  // TokenReview; every request authorized with a SubjectAccessReview on nodes/<node>.
  o.client_ca_pem = client_ca_pem;
  kubelet::server::ApiAuthOptions ao;
  ao.client = client.get();
  ao.node_name = node;
  o.authorize = kubelet::server::NewApiAuthorizer(ao);
  o.backend = backend.get();
  server = kubelet::server::NewKubeletServer(std::move(o));
  server->Handle("/metrics", kubelet::NewKubeletMetricsHandler(*kubelet));
  if (stats_init.ok()) {
    auto h = kubelet::stats::NewStatsHandler(sampler.get());
    for (const char* p :
         {"/stats/summary", "/stats/summary/", "/metrics/cadvisor", "/metrics/resource"}) {
      server->Handle(p, h);
    }
  }
  absl::Status started = server->Start();
  if (started.ok()) {
    KLOG(Info, "agent: kubelet server on https://{}:{}",
         ip.find(':') == std::string::npos ? ip : "[" + ip + "]", server->port());
  }
  return started;
}

void Agent::Stop() {
  Impl& a = *impl_;
  if (a.certs) a.certs->Stop();
  if (a.server) a.server->Stop();
  if (a.sampler) a.sampler->Stop();
  if (a.kubelet) {
    a.kubelet->Stop();
    if (a.cfg.cleanup_on_exit) a.kubelet->CleanupAllPods(std::chrono::seconds(2));
  }
  a.server.reset();
  a.sampler.reset();
  a.stats_provider.reset();
  a.backend.reset();
  a.kubelet.reset();
  a.runtime.reset();
  if (a.containerd) a.containerd->Stop();
  if (a.registry) a.registry->Stop(std::chrono::seconds(5));
  a.containerd.reset();
  a.registry.reset();
  if (a.cfg.cleanup_on_exit && a.started) {
    // The CNI bridge and the (now empty) QoS cgroups.
    (void)Run({"ip", "link", "del", a.cfg.cni_bridge}, "/dev/null", std::chrono::seconds(10));
    std::error_code ec;
    for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
      fs::path root = h.path() / a.cfg.cgroup_root.substr(1);
      for (const char* q : {"burstable", "besteffort"}) ::rmdir((root / q).c_str());
      ::rmdir(root.c_str());
    }
  }
  a.started = false;
}

}  // namespace korral::agent
