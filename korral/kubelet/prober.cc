// Liveness, readiness and startup probes (upstream pkg/kubelet/prober): exec through the CRI,
// httpGet, tcpSocket and grpc (grpc.health.v1) against the pod IP. One thread runs the due probes
// in order.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "fmt/format.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/kubelet/grpc_probe.h"
#include "korral/kubelet/kubelet_impl.h"

namespace korral::kubelet {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

int ProbeInt(const Json& p, const char* k, int def) {
  return p.contains(k) && p[k].is_number() ? p[k].get<int>() : def;
}

// Connects to ip:port within `timeout`; returns the fd or -1.
int Connect(const std::string& ip, int port, milliseconds timeout, std::string* err) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    *err = "invalid address " + ip;
    ::close(fd);
    return -1;
  }
  int r = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  if (r != 0 && errno != EINPROGRESS) {
    *err = fmt::format("dial tcp {}:{}: connect: {}", ip, port, strerror(errno));
    ::close(fd);
    return -1;
  }
  pollfd pfd{fd, POLLOUT, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) {
    *err = fmt::format("dial tcp {}:{}: i/o timeout", ip, port);
    ::close(fd);
    return -1;
  }
  int so = 0;
  socklen_t len = sizeof so;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &len);
  if (so != 0) {
    *err = fmt::format("dial tcp {}:{}: connect: {}", ip, port, strerror(so));
    ::close(fd);
    return -1;
  }
  return fd;
}

int ResolvePort(const Json& port, const Json* container) {
  if (port.is_number()) return port.get<int>();
  if (port.is_string()) {
    std::string s = port.get<std::string>();
    if (!s.empty() && std::all_of(s.begin(), s.end(), ::isdigit)) return std::stoi(s);
    if (container) {
      for (const auto& p : container->value("ports", Json::array())) {
        if (p.value("name", "") == s) return p.value("containerPort", 0);
      }
    }
  }
  return 0;
}

}  // namespace

bool Kubelet::Impl::RunProbe(const Json& probe, const std::string& container_id,
                             const std::string& pod_ip, std::string* output) {
  int timeout_s = std::max(1, ProbeInt(probe, "timeoutSeconds", 1));
  milliseconds timeout = seconds(timeout_s);
  if (probe.contains("exec")) {
    std::vector<std::string> cmd;
    for (const auto& s : probe["exec"].value("command", Json::array())) cmd.push_back(s);
    auto r = rt.ExecSync(container_id, cmd, seconds(timeout_s));
    if (!r.ok()) {
      *output = std::string(StatusMessage(r.status()));
      return false;
    }
    *output = r->stdout() + r->stderr();
    return r->exit_code() == 0;
  }
  const Json* container = nullptr;  // named ports are resolved by the caller's probe copy
  if (probe.contains("httpGet")) {
    const Json& h = probe["httpGet"];
    std::string host = h.value("host", pod_ip);
    int port = ResolvePort(h.value("port", Json()), container);
    if (h.contains("_resolvedPort")) port = h["_resolvedPort"].get<int>();
    std::string path = h.value("path", "/");
    if (path.empty() || path[0] != '/') path = "/" + path;
    int fd = Connect(host, port, timeout, output);
    if (fd < 0) {
      *output = fmt::format("Get \"http://{}:{}{}\": {}", host, port, path, *output);
      return false;
    }
    std::string req = fmt::format(
        "GET {} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: kube-probe/1.32\r\nAccept: */*\r\n", path,
        host, port);
    for (const auto& hd : h.value("httpHeaders", Json::array())) {
      req += hd.value("name", "") + ": " + hd.value("value", "") + "\r\n";
    }
    req += "Connection: close\r\n\r\n";
    (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string resp;
    char buf[512];
    auto deadline = steady_clock::now() + timeout;
    while (resp.find("\r\n") == std::string::npos && steady_clock::now() < deadline) {
      pollfd pfd{fd, POLLIN, 0};
      auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
      if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(1, left.count()))) != 1) break;
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) break;
      resp.append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    int code = 0;
    if (resp.rfind("HTTP/", 0) == 0) {
      auto sp = resp.find(' ');
      if (sp != std::string::npos) code = std::atoi(resp.c_str() + sp + 1);
    }
    if (code >= 200 && code < 400) return true;
    *output =
        code ? fmt::format("HTTP probe failed with statuscode: {}", code)
             : fmt::format("Get \"http://{}:{}{}\": context deadline exceeded", host, port, path);
    return false;
  }
  if (probe.contains("grpc")) {
    // grpc.health.v1.Health/Check on the pod IP (the port is a number, as the API requires).
    const Json& g = probe["grpc"];
    int port = g.contains("port") && g["port"].is_number() ? g["port"].get<int>() : 0;
    std::string service =
        g.contains("service") && g["service"].is_string() ? g["service"].get<std::string>() : "";
    return GrpcHealthProbe(pod_ip, port, service, timeout, output);
  }
  if (probe.contains("tcpSocket")) {
    const Json& t = probe["tcpSocket"];
    std::string host = t.value("host", pod_ip);
    int port = t.contains("_resolvedPort") ? t["_resolvedPort"].get<int>()
                                           : ResolvePort(t.value("port", Json()), container);
    int fd = Connect(host, port, timeout, output);
    if (fd < 0) return false;
    ::close(fd);
    return true;
  }
  *output = "unknown probe handler";
  return false;
}

bool Kubelet::Impl::IsReady(const std::string& container_id, const Json& c) {
  if (!c.contains("readinessProbe") || c["readinessProbe"].is_null()) return true;
  std::lock_guard l(mu);
  auto it = readiness.find(container_id);
  return it != readiness.end() && it->second;
}

bool Kubelet::Impl::IsStarted(const std::string& container_id, const Json& c) {
  if (!c.contains("startupProbe") || c["startupProbe"].is_null()) return true;
  std::lock_guard l(mu);
  auto it = startup.find(container_id);
  return it != startup.end() && it->second;
}

void Kubelet::Impl::SyncProbes(const Json& pod, const RuntimePod& rp, const std::string& pod_ip) {
  std::string uid = PodUid(pod), key = PodKey(pod);
  std::lock_guard l(mu);
  std::set<std::string> live;
  for (const auto& c : pod["spec"].value("containers", Json::array())) {
    const v1::ContainerStatus* latest = rp.Latest(c.value("name", ""));
    if (!latest || latest->state() != v1::CONTAINER_RUNNING) continue;
    for (const char* kind : {"livenessProbe", "readinessProbe", "startupProbe"}) {
      if (!c.contains(kind) || c[kind].is_null()) continue;
      std::string wkey = latest->id() + "/" + kind;
      live.insert(wkey);
      bool exists = std::any_of(probes.begin(), probes.end(), [&](const auto& w) {
        return w->container_id + "/" + w->kind == wkey;
      });
      if (exists) continue;
      auto w = std::make_shared<ProbeWorker>();
      w->pod_key = key;
      w->uid = uid;
      w->container = c.value("name", "");
      w->container_id = latest->id();
      w->kind = kind;
      w->probe = c[kind];
      // Resolve named ports once.
      for (const char* h : {"httpGet", "tcpSocket", "grpc"}) {
        if (w->probe.contains(h)) {
          w->probe[h]["_resolvedPort"] = ResolvePort(w->probe[h].value("port", Json()), &c);
        }
      }
      w->pod_ip = pod_ip;
      w->result = std::string(kind) != "readinessProbe";
      w->next = steady_clock::now() + seconds(ProbeInt(c[kind], "initialDelaySeconds", 0));
      probes.push_back(std::move(w));
    }
  }
  probes.erase(std::remove_if(probes.begin(), probes.end(),
                              [&](const auto& w) {
                                return w->uid == uid &&
                                       !live.count(w->container_id + "/" + w->kind);
                              }),
               probes.end());
}

void Kubelet::Impl::RemoveProbes(const std::string& uid) {
  std::lock_guard l(mu);
  probes.erase(
      std::remove_if(probes.begin(), probes.end(), [&](const auto& w) { return w->uid == uid; }),
      probes.end());
}

void Kubelet::Impl::ProberLoop() {
  while (!stopping) {
    {
      std::unique_lock l(loop_mu);
      loop_cv.wait_for(l, milliseconds(100), [&] { return stopping.load(); });
    }
    if (stopping) break;
    std::vector<std::shared_ptr<ProbeWorker>> due;
    auto now = steady_clock::now();
    {
      std::lock_guard l(mu);
      for (const auto& w : probes) {
        if (w->next > now) continue;
        // Liveness and readiness wait for the startup probe.
        if (w->kind != "startupProbe") {
          auto it = startup.find(w->container_id);
          bool has_startup = std::any_of(probes.begin(), probes.end(), [&](const auto& o) {
            return o->container_id == w->container_id && o->kind == "startupProbe";
          });
          if (has_startup && (it == startup.end() || !it->second)) continue;
        }
        due.push_back(w);
      }
    }
    for (const auto& w : due) {
      if (stopping) break;
      std::string out;
      bool ok = RunProbe(w->probe, w->container_id, w->pod_ip, &out);
      int period = std::max(1, ProbeInt(w->probe, "periodSeconds", 10));
      int success_th = std::max(1, ProbeInt(w->probe, "successThreshold", 1));
      int failure_th = std::max(1, ProbeInt(w->probe, "failureThreshold", 3));
      bool changed = false, kill = false;
      {
        std::lock_guard l(mu);
        w->next = steady_clock::now() + seconds(period);
        if (ok) {
          w->failures = 0;
          if (++w->successes >= success_th && !w->result) {
            w->result = true;
            changed = true;
          }
        } else {
          w->successes = 0;
          if (++w->failures >= failure_th && (w->result || w->kind == "startupProbe")) {
            if (w->kind == "readinessProbe") {
              changed = w->result;
              w->result = false;
            } else {
              kill = true;
              w->failures = 0;
            }
          }
        }
        if (w->kind == "readinessProbe") readiness[w->container_id] = w->result;
        if (w->kind == "startupProbe" && ok && !startup[w->container_id]) {
          startup[w->container_id] = true;
          changed = true;
        }
        if (kill) liveness_failed.insert(w->container_id);
      }
      if (!ok) {
        KLOG(Info, "kubelet: {} {} of {} failed: {}", w->kind, w->container, w->pod_key, out);
      }
      if (changed || kill) Enqueue(w->pod_key);
    }
  }
}

}  // namespace korral::kubelet
