// Node registration, NodeStatus and the node Lease (upstream kubelet_node_status.go and
// nodelease).
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {
namespace {

std::string ReadFirstLine(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  return line;
}

// The IPv4 address of the interface holding the default route.
std::string DefaultRouteIp() {
  std::ifstream routes("/proc/net/route");
  std::string line, iface;
  std::getline(routes, line);  // header
  while (std::getline(routes, line)) {
    std::istringstream is(line);
    std::string name, dest;
    is >> name >> dest;
    if (dest == "00000000") {
      iface = name;
      break;
    }
  }
  struct ifaddrs* addrs = nullptr;
  if (getifaddrs(&addrs) != 0) return "";
  std::string out, fallback;
  for (auto* a = addrs; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET) continue;
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(a->ifa_addr)->sin_addr, buf, sizeof buf);
    if (!iface.empty() && iface == a->ifa_name) out = buf;
    if (fallback.empty() && !(a->ifa_flags & IFF_LOOPBACK)) fallback = buf;
  }
  freeifaddrs(addrs);
  if (out.empty()) out = fallback;
  return out.empty() ? "127.0.0.1" : out;
}

std::string OsImage() {
  std::ifstream f("/etc/os-release");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("PRETTY_NAME=", 0) == 0) {
      std::string v = line.substr(12);
      if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
      return v;
    }
  }
  return "Linux";
}

}  // namespace

void Kubelet::Impl::DetectNodeFacts() {
  node_cpu_cores = static_cast<double>(sysconf(_SC_NPROCESSORS_ONLN));
  std::ifstream mi("/proc/meminfo");
  std::string key;
  int64_t kb = 0;
  std::string unit;
  while (mi >> key >> kb >> unit) {
    if (key == "MemTotal:") {
      node_memory_bytes = static_cast<double>(kb) * 1024;
      break;
    }
  }
  node_ip = cfg.node_ip.empty() ? (cfg.hollow ? "10.0.0.1" : DefaultRouteIp()) : cfg.node_ip;
  struct utsname un {};
  uname(&un);
  kernel_version = un.release;
  machine_id = ReadFirstLine("/etc/machine-id");
  boot_id = ReadFirstLine("/proc/sys/kernel/random/boot_id");
  os_image = OsImage();
  auto v = rt.Version();
  if (v.ok()) {
    runtime_name = v->runtime_name();
    runtime_version = v->runtime_version();
  }
}

Json Kubelet::Impl::NodeStatus() {
  int64_t mem_ki = static_cast<int64_t>(node_memory_bytes / 1024);
  int64_t cpu = static_cast<int64_t>(node_cpu_cores);
  Json capacity = {{"cpu", std::to_string(cpu)},
                   {"memory", fmt::format("{}Ki", mem_ki)},
                   {"pods", std::to_string(cfg.max_pods)},
                   {"hugepages-1Gi", "0"},
                   {"hugepages-2Mi", "0"}};
  int64_t eph_ki = 0;
  struct statvfs sv {};
  std::string fs_root = cfg.root_dir.empty() ? "/" : cfg.root_dir;
  if (!cfg.hollow && statvfs(fs_root.c_str(), &sv) == 0) {
    eph_ki = static_cast<int64_t>(sv.f_blocks) * static_cast<int64_t>(sv.f_frsize) / 1024;
  } else {
    eph_ki = 100 << 20;
  }
  capacity["ephemeral-storage"] = fmt::format("{}Ki", eph_ki);
  Json alloc = capacity;
  int64_t alloc_mem_ki =
      mem_ki - (cfg.system_reserved_memory +
                cfg.eviction.memory_available.Of(static_cast<int64_t>(node_memory_bytes))) /
                   1024;
  alloc["memory"] = fmt::format("{}Ki", std::max<int64_t>(0, alloc_mem_ki));
  int64_t cpu_m = cpu * 1000 - cfg.system_reserved_cpu_millis;
  alloc["cpu"] = cpu_m % 1000 == 0 ? std::to_string(cpu_m / 1000) : fmt::format("{}m", cpu_m);
  alloc["ephemeral-storage"] = std::to_string(  // minus the nodefs.available hard threshold
      std::max<int64_t>(0, eph_ki * 1024 - cfg.eviction.nodefs_available.Of(eph_ki * 1024)));

  bool runtime_ready = true, network_ready = true;
  std::string not_ready;
  auto rs = rt.Status();
  if (!rs.ok()) {
    runtime_ready = false;
    not_ready = "container runtime is down: " + std::string(StatusMessage(rs.status()));
  } else {
    for (const auto& c : rs->status().conditions()) {
      if (c.type() == "RuntimeReady" && !c.status()) {
        runtime_ready = false;
        not_ready = "container runtime not ready: " + c.reason() + ": " + c.message();
      }
      if (c.type() == "NetworkReady" && !c.status()) {
        network_ready = false;
        not_ready = "container runtime network not ready: NetworkReady=false reason:" + c.reason() +
                    " message:" + c.message();
      }
    }
  }
  bool ready = runtime_ready && network_ready;
  Json info = {{"machineID", machine_id},
               {"systemUUID", machine_id},
               {"bootID", boot_id},
               {"kernelVersion", kernel_version},
               {"osImage", os_image},
               {"containerRuntimeVersion", runtime_name + "://" + runtime_version},
               {"kubeletVersion", cfg.kubelet_version},
               {"kubeProxyVersion", cfg.kubelet_version},
               {"operatingSystem", "linux"},
               {"architecture", "amd64"}};
  auto cond = [](const char* type, bool status, const char* reason, std::string message) {
    return Json{{"type", type},
                {"status", status ? "True" : "False"},
                {"reason", reason},
                {"message", std::move(message)}};
  };
  Json conds =
      Json::array({memory_pressure ? cond("MemoryPressure", true, "KubeletHasInsufficientMemory",
                                          "kubelet has insufficient memory available")
                                   : cond("MemoryPressure", false, "KubeletHasSufficientMemory",
                                          "kubelet has sufficient memory available"),
                   disk_pressure ? cond("DiskPressure", true, "KubeletHasDiskPressure",
                                        "kubelet has disk pressure")
                                 : cond("DiskPressure", false, "KubeletHasNoDiskPressure",
                                        "kubelet has no disk pressure"),
                   pid_pressure ? cond("PIDPressure", true, "KubeletHasInsufficientPID",
                                       "kubelet has insufficient PID available")
                                : cond("PIDPressure", false, "KubeletHasSufficientPID",
                                       "kubelet has sufficient PID available"),
                   ready ? cond("Ready", true, "KubeletReady", "kubelet is posting ready status")
                         : cond("Ready", false, "KubeletNotReady", not_ready)});
  Json images = Json::array();
  if (!cfg.hollow) {
    auto imgs = rt.ListImages(v1::ImageFilter());
    if (imgs.ok()) {
      for (const auto& i : *imgs) {
        Json names = Json::array();
        for (const auto& d : i.repo_digests()) names.push_back(d);
        for (const auto& t : i.repo_tags()) names.push_back(t);
        if (names.empty()) continue;
        images.push_back({{"names", names}, {"sizeBytes", i.size()}});
        if (images.size() >= 50) break;
      }
    }
  }
  Json st = {{"capacity", capacity},
             {"allocatable", alloc},
             {"conditions", conds},
             {"addresses", Json::array({{{"type", "InternalIP"}, {"address", node_ip}},
                                        {{"type", "Hostname"}, {"address", cfg.node_name}}})},
             {"daemonEndpoints", {{"kubeletEndpoint", {{"Port", cfg.kubelet_port}}}}},
             {"nodeInfo", info},
             {"images", images}};
  return st;
}

void Kubelet::Impl::UpdateNodeStatus(bool force) {
  Json st = NodeStatus();
  auto now = clock.SteadyNow();
  if (!force && st == last_node_status &&
      now - last_status_report < cfg.node_status_report_frequency) {
    return;
  }
  // Heartbeat and transition times: keep transitions when the status did not change.
  std::string ts = FormatTime(clock.Now());
  std::map<std::string, Json> old;
  for (const auto& c : last_node_conditions) old[c.value("type", "")] = c;
  Json out = st;
  for (auto& c : out["conditions"]) {
    c["lastHeartbeatTime"] = ts;
    auto it = old.find(c.value("type", ""));
    c["lastTransitionTime"] =
        (it != old.end() && it->second.value("status", "") == c.value("status", ""))
            ? it->second.value("lastTransitionTime", ts)
            : ts;
  }
  client::PatchOptions po;
  po.subresource = "status";
  auto r = client.Patch(client::resources::Nodes(), "", cfg.node_name, client::PatchType::kMerge,
                        Json{{"status", out}}, po);
  if (!r.ok()) {
    KLOG(Warning, "kubelet: node status: {}", StatusMessage(r.status()));
    if (client::IsNotFound(r.status())) (void)RegisterNode();
    return;
  }
  last_status_report = now;
  last_node_status = st;
  last_node_conditions = out["conditions"];
}

absl::Status Kubelet::Impl::RegisterNode() {
  Json labels = {{"kubernetes.io/hostname", cfg.node_name},
                 {"kubernetes.io/os", "linux"},
                 {"kubernetes.io/arch", "amd64"},
                 {"beta.kubernetes.io/os", "linux"},
                 {"beta.kubernetes.io/arch", "amd64"}};
  for (const auto& [k, v] : cfg.node_labels) labels[k] = v;
  Json node = {{"apiVersion", "v1"},
               {"kind", "Node"},
               {"metadata", {{"name", cfg.node_name}, {"labels", labels}}},
               {"spec", Json::object()}};
  if (!cfg.pod_cidr.empty()) {
    node["spec"]["podCIDR"] = cfg.pod_cidr;
    node["spec"]["podCIDRs"] = Json::array({cfg.pod_cidr});
  }
  auto created = client.Create(client::resources::Nodes(), "", node);
  Json current;
  if (created.ok()) {
    current = *created;
    KLOG(Info, "kubelet: registered node {}", cfg.node_name);
  } else if (client::IsAlreadyExists(created.status())) {
    KORRAL_ASSIGN_OR_RETURN(current, client.Get(client::resources::Nodes(), "", cfg.node_name));
    Json patch = {{"metadata", {{"labels", labels}}}};
    if (!cfg.pod_cidr.empty() && current["spec"].value("podCIDR", "").empty()) {
      patch["spec"] = node["spec"];
    }
    auto p = client.Patch(client::resources::Nodes(), "", cfg.node_name, client::PatchType::kMerge,
                          patch);
    if (p.ok()) current = *p;
  } else {
    return created.status();
  }
  node_uid = current["metadata"].value("uid", "");
  if (cfg.pod_cidr.empty()) cfg.pod_cidr = current["spec"].value("podCIDR", "");
  UpdateNodeStatus(true);
  return absl::OkStatus();
}

void Kubelet::Impl::RenewLease() {
  last_lease = clock.SteadyNow();
  auto ref = client::resources::Leases();
  const std::string ns = "kube-node-lease";
  std::string now = FormatMicroTime(clock.Now());
  if (lease.is_null()) {
    auto got = client.Get(ref, ns, cfg.node_name);
    if (got.ok()) {
      lease = *got;
    } else if (client::IsNotFound(got.status())) {
      Json l = {{"apiVersion", "coordination.k8s.io/v1"},
                {"kind", "Lease"},
                {"metadata", {{"name", cfg.node_name}, {"namespace", ns}}},
                {"spec",
                 {{"holderIdentity", cfg.node_name},
                  {"leaseDurationSeconds", cfg.lease_duration_seconds},
                  {"renewTime", now}}}};
      if (!node_uid.empty()) {
        l["metadata"]["ownerReferences"] = Json::array(
            {{{"apiVersion", "v1"}, {"kind", "Node"}, {"name", cfg.node_name}, {"uid", node_uid}}});
      }
      auto c = client.Create(ref, ns, l);
      if (!c.ok() && client::IsNotFound(c.status())) {
        // The namespace does not exist yet (no bootstrap): create it once.
        (void)client.Create(
            client::resources::Namespaces(), "",
            Json{{"apiVersion", "v1"}, {"kind", "Namespace"}, {"metadata", {{"name", ns}}}});
        c = client.Create(ref, ns, l);
      }
      if (c.ok()) lease = *c;
      if (!c.ok()) KLOG(Warning, "kubelet: create lease: {}", StatusMessage(c.status()));
      return;
    } else {
      KLOG(Warning, "kubelet: get lease: {}", StatusMessage(got.status()));
      return;
    }
  }
  Json l = lease;
  l["spec"]["renewTime"] = now;
  l["spec"]["holderIdentity"] = cfg.node_name;
  l["spec"]["leaseDurationSeconds"] = cfg.lease_duration_seconds;
  auto u = client.Update(ref, ns, l);
  if (u.ok()) {
    lease = *u;
  } else {
    lease = Json();  // re-read next time (conflict or deleted)
    KLOG(Warning, "kubelet: renew lease: {}", StatusMessage(u.status()));
  }
}

}  // namespace korral::kubelet
