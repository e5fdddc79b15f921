// The Prometheus texts of /metrics/cadvisor and /metrics/resource (declared in summary.h).
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "korral/kubelet/stats/summary.h"

namespace korral::kubelet::stats {

namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

void AppendEscaped(std::string* out, std::string_view v) {
  for (char c : v) {
    if (c == '\\') {
      *out += "\\\\";
    } else if (c == '"') {
      *out += "\\\"";
    } else if (c == '\n') {
      *out += "\\n";
    } else {
      *out += c;
    }
  }
}

std::string FormatValue(double v) {
  if (std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<int64_t>(v));
  }
  return fmt::format("{}", v);
}

// Collects samples per family and renders them with one HELP/TYPE header each, families in
// first-use order.
class PromWriter {
 public:
  explicit PromWriter(int64_t timestamp_ms) : ts_(timestamp_ms) {}

  void Add(const std::string& name, std::string_view help, std::string_view type, Labels labels,
           double value, bool with_timestamp = true) {
    auto it = families_.find(name);
    if (it == families_.end()) {
      order_.push_back(name);
      it = families_.emplace(name, Family{std::string(help), std::string(type), {}}).first;
    }
    std::sort(labels.begin(), labels.end());
    std::string& b = it->second.body;
    b += name;
    if (!labels.empty()) {
      b += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i) b += ',';
        b += labels[i].first;
        b += "=\"";
        AppendEscaped(&b, labels[i].second);
        b += '"';
      }
      b += '}';
    }
    b += ' ';
    b += FormatValue(value);
    if (with_timestamp) fmt::format_to(std::back_inserter(b), " {}", ts_);
    b += '\n';
  }

  std::string Render() const {
    std::string out;
    for (const auto& name : order_) {
      const Family& f = families_.at(name);
      fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} {}\n", name, f.help, name,
                     f.type);
      out += f.body;
    }
    return out;
  }

 private:
  struct Family {
    std::string help, type, body;
  };
  int64_t ts_;
  std::vector<std::string> order_;
  std::map<std::string, Family> families_;
};

// "/dev/sda" for 8:0 when /sys knows the device, else "8:0".
std::string DeviceName(uint32_t major, uint32_t minor) {
  static std::mutex mu;
  static std::map<std::pair<uint32_t, uint32_t>, std::string> cache;
  std::lock_guard l(mu);
  auto key = std::make_pair(major, minor);
  if (auto it = cache.find(key); it != cache.end()) return it->second;
  std::string link = fmt::format("/sys/dev/block/{}:{}", major, minor);
  char buf[PATH_MAX];
  ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  std::string name = fmt::format("{}:{}", major, minor);
  if (n > 0) {
    std::string_view target(buf, static_cast<size_t>(n));
    auto slash = target.rfind('/');
    name = "/dev/" + std::string(target.substr(slash == std::string_view::npos ? 0 : slash + 1));
  }
  if (cache.size() < 1024) cache[key] = name;
  return name;
}

double Seconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration<double>(t.time_since_epoch()).count();
}

// One cAdvisor "container": a cgroup with its identifying labels.
struct Entity {
  Labels labels;  // container, id, image, name, namespace, pod
  const CgroupStats* stats = nullptr;
  const std::vector<InterfaceStats>* interfaces = nullptr;
  std::optional<std::chrono::system_clock::time_point> start_time;
  const std::optional<DirUsage>* rootfs = nullptr;
};

Labels With(const Labels& base, std::initializer_list<std::pair<const char*, std::string>> more) {
  Labels l = base;
  for (const auto& [k, v] : more) l.emplace_back(k, v);
  return l;
}

void WriteEntity(PromWriter& w, const Entity& e, const Snapshot& s) {
  const Labels& L = e.labels;
  if (e.stats) {
    const CgroupStats& st = *e.stats;
    if (st.cpu.ok) {
      const CgroupCpu& c = st.cpu;
      w.Add("container_cpu_usage_seconds_total", "Cumulative cpu time consumed in seconds.",
            "counter", With(L, {{"cpu", "total"}}), c.usage_ns / 1e9);
      w.Add("container_cpu_user_seconds_total", "Cumulative user cpu time consumed in seconds.",
            "counter", L, c.user_ns / 1e9);
      w.Add("container_cpu_system_seconds_total", "Cumulative system cpu time consumed in seconds.",
            "counter", L, c.system_ns / 1e9);
      if (c.quota_us > 0 || c.periods > 0) {
        w.Add("container_cpu_cfs_periods_total", "Number of elapsed enforcement period intervals.",
              "counter", L, static_cast<double>(c.periods));
        w.Add("container_cpu_cfs_throttled_periods_total", "Number of throttled period intervals.",
              "counter", L, static_cast<double>(c.throttled_periods));
        w.Add("container_cpu_cfs_throttled_seconds_total",
              "Total time duration the container has been throttled.", "counter", L,
              c.throttled_ns / 1e9);
      }
      if (c.period_us > 0) {
        w.Add("container_spec_cpu_period", "CPU period of the container.", "gauge", L,
              static_cast<double>(c.period_us));
      }
      if (c.quota_us > 0) {
        w.Add("container_spec_cpu_quota", "CPU quota of the container.", "gauge", L,
              static_cast<double>(c.quota_us));
      }
      if (c.shares > 0) {
        w.Add("container_spec_cpu_shares", "CPU share of the container.", "gauge", L,
              static_cast<double>(c.shares));
      }
    }
    if (st.memory.ok) {
      const CgroupMemory& m = st.memory;
      w.Add("container_memory_cache", "Number of bytes of page cache memory.", "gauge", L,
            static_cast<double>(m.cache));
      w.Add("container_memory_rss", "Size of RSS in bytes.", "gauge", L,
            static_cast<double>(m.rss));
      w.Add("container_memory_mapped_file", "Size of memory mapped files in bytes.", "gauge", L,
            static_cast<double>(m.mapped_file));
      w.Add("container_memory_swap", "Container swap usage in bytes.", "gauge", L,
            static_cast<double>(m.swap));
      w.Add("container_memory_usage_bytes",
            "Current memory usage in bytes, including all memory regardless of when it was "
            "accessed",
            "gauge", L, static_cast<double>(m.usage));
      w.Add("container_memory_max_usage_bytes", "Maximum memory usage recorded in bytes", "gauge",
            L, static_cast<double>(m.max_usage));
      w.Add("container_memory_working_set_bytes", "Current working set in bytes.", "gauge", L,
            static_cast<double>(m.working_set));
      w.Add("container_memory_failcnt", "Number of memory usage hits limits", "counter", L,
            static_cast<double>(m.failcnt));
      const char* help = "Cumulative count of memory allocation failures.";
      w.Add("container_memory_failures_total", help, "counter",
            With(L, {{"failure_type", "pgfault"}, {"scope", "container"}}),
            static_cast<double>(m.pgfault));
      w.Add("container_memory_failures_total", help, "counter",
            With(L, {{"failure_type", "pgfault"}, {"scope", "hierarchy"}}),
            static_cast<double>(m.hierarchical_pgfault));
      w.Add("container_memory_failures_total", help, "counter",
            With(L, {{"failure_type", "pgmajfault"}, {"scope", "container"}}),
            static_cast<double>(m.pgmajfault));
      w.Add("container_memory_failures_total", help, "counter",
            With(L, {{"failure_type", "pgmajfault"}, {"scope", "hierarchy"}}),
            static_cast<double>(m.hierarchical_pgmajfault));
      w.Add("container_spec_memory_limit_bytes", "Memory limit for the container.", "gauge", L,
            static_cast<double>(m.limit));
    }
    if (st.pids.ok) {
      w.Add("container_processes", "Number of processes running inside the container.", "gauge", L,
            static_cast<double>(st.pids.current));
    }
    if (st.io.ok) {
      for (const auto& d : st.io.devices) {
        Labels dl = With(L, {{"device", DeviceName(d.major, d.minor)}});
        w.Add("container_fs_reads_bytes_total", "Cumulative count of bytes read", "counter", dl,
              static_cast<double>(d.read_bytes));
        w.Add("container_fs_writes_bytes_total", "Cumulative count of bytes written", "counter", dl,
              static_cast<double>(d.write_bytes));
        w.Add("container_fs_reads_total", "Cumulative count of reads completed", "counter", dl,
              static_cast<double>(d.reads));
        w.Add("container_fs_writes_total", "Cumulative count of writes completed", "counter", dl,
              static_cast<double>(d.writes));
      }
    }
  }
  if (e.rootfs && *e.rootfs) {
    Labels dl = With(L, {{"device", ""}});
    w.Add("container_fs_usage_bytes",
          "Number of bytes that are consumed by the container on this filesystem.", "gauge", dl,
          static_cast<double>((*e.rootfs)->bytes));
    w.Add("container_fs_inodes_total", "Number of Inodes", "gauge", dl,
          static_cast<double>((*e.rootfs)->inodes));
    if (s.node.image_fs) {
      w.Add("container_fs_limit_bytes",
            "Number of bytes that can be consumed by the container on this filesystem.", "gauge",
            dl, static_cast<double>(s.node.image_fs->capacity));
    }
  }
  if (e.interfaces) {
    for (const auto& i : *e.interfaces) {
      Labels il = With(L, {{"interface", i.name}});
      w.Add("container_network_receive_bytes_total", "Cumulative count of bytes received",
            "counter", il, static_cast<double>(i.rx_bytes));
      w.Add("container_network_receive_packets_total", "Cumulative count of packets received",
            "counter", il, static_cast<double>(i.rx_packets));
      w.Add("container_network_receive_errors_total",
            "Cumulative count of errors encountered while receiving", "counter", il,
            static_cast<double>(i.rx_errors));
      w.Add("container_network_receive_packets_dropped_total",
            "Cumulative count of packets dropped while receiving", "counter", il,
            static_cast<double>(i.rx_dropped));
      w.Add("container_network_transmit_bytes_total", "Cumulative count of bytes transmitted",
            "counter", il, static_cast<double>(i.tx_bytes));
      w.Add("container_network_transmit_packets_total", "Cumulative count of packets transmitted",
            "counter", il, static_cast<double>(i.tx_packets));
      w.Add("container_network_transmit_errors_total",
            "Cumulative count of errors encountered while transmitting", "counter", il,
            static_cast<double>(i.tx_errors));
      w.Add("container_network_transmit_packets_dropped_total",
            "Cumulative count of packets dropped while transmitting", "counter", il,
            static_cast<double>(i.tx_dropped));
    }
  }
  if (e.start_time && e.start_time->time_since_epoch().count() > 0) {
    w.Add("container_start_time_seconds",
          "Start time of the container since unix epoch in seconds.", "gauge", L,
          Seconds(*e.start_time));
  }
  w.Add("container_last_seen", "Last time a container was seen by the exporter", "gauge", L,
        std::floor(Seconds(s.time)));
}

Labels EntityLabels(std::string container, std::string id, std::string image, std::string name,
                    std::string ns, std::string pod) {
  return {{"container", std::move(container)}, {"id", std::move(id)},
          {"image", std::move(image)},         {"name", std::move(name)},
          {"namespace", std::move(ns)},        {"pod", std::move(pod)}};
}

int64_t Millis(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string RenderCadvisorMetrics(const Snapshot& s) {
  PromWriter w(Millis(s.time));
  const NodeSample& n = s.node;
  w.Add("container_scrape_error",
        "1 if there was an error while getting container metrics, 0 otherwise", "gauge", {}, 0,
        false);
  if (n.num_cpus > 0) {
    w.Add("machine_cpu_cores", "Number of logical CPU cores.", "gauge", {}, n.num_cpus, false);
  }
  if (n.memory_capacity > 0) {
    w.Add("machine_memory_bytes", "Amount of memory installed on the machine.", "gauge", {},
          static_cast<double>(n.memory_capacity), false);
  }
  {
    Entity root;
    root.labels = EntityLabels("", "/", "", "", "", "");
    if (n.has_cgroup) root.stats = &n.cgroup;
    root.interfaces = &n.interfaces;
    WriteEntity(w, root, s);
  }
  for (const auto& c : n.system_containers) {
    Entity e;
    e.labels = EntityLabels("", c.ref.cgroup_path, "", "", "", "");
    e.stats = &c.cgroup;
    WriteEntity(w, e, s);
  }
  for (const auto& p : s.pods) {
    if (p.has_cgroup || p.has_network) {
      Entity e;
      e.labels =
          EntityLabels("", p.has_cgroup ? p.ref.cgroup_path : "", "", "", p.ref.ns, p.ref.name);
      if (p.has_cgroup) e.stats = &p.cgroup;
      if (p.has_network) e.interfaces = &p.interfaces;
      e.start_time = p.ref.start_time;
      WriteEntity(w, e, s);
    }
    for (const auto& c : p.containers) {
      if (!c.has_cgroup) continue;
      Entity e;
      e.labels =
          EntityLabels(c.ref.name, c.ref.cgroup_path, c.ref.image, c.ref.id, p.ref.ns, p.ref.name);
      e.stats = &c.cgroup;
      e.start_time = c.ref.start_time;
      e.rootfs = &c.rootfs;
      WriteEntity(w, e, s);
    }
  }
  return w.Render();
}

std::string RenderResourceMetrics(const Snapshot& s) {
  PromWriter w(Millis(s.time));
  const NodeSample& n = s.node;
  for (const auto& p : s.pods) {
    for (const auto& c : p.containers) {
      if (!c.has_cgroup) continue;
      Labels l = {{"container", c.ref.name}, {"namespace", p.ref.ns}, {"pod", p.ref.name}};
      if (c.cgroup.cpu.ok) {
        w.Add("container_cpu_usage_seconds_total",
              "[STABLE] Cumulative cpu time consumed by the container in core-seconds", "counter",
              l, c.cgroup.cpu.usage_ns / 1e9);
      }
      if (c.cgroup.memory.ok) {
        w.Add("container_memory_working_set_bytes",
              "[STABLE] Current working set of the container in bytes", "gauge", l,
              static_cast<double>(c.cgroup.memory.working_set));
      }
      if (c.ref.start_time.time_since_epoch().count() > 0) {
        w.Add("container_start_time_seconds",
              "[STABLE] Start time of the container since unix epoch in seconds", "gauge", l,
              Seconds(c.ref.start_time));
      }
    }
  }
  w.Add("node_cpu_usage_seconds_total",
        "[STABLE] Cumulative cpu time consumed by the node in core-seconds", "counter", {},
        n.usage_core_ns / 1e9);
  w.Add("node_memory_working_set_bytes", "[STABLE] Current working set of the node in bytes",
        "gauge", {}, static_cast<double>(n.memory_working_set));
  for (const auto& p : s.pods) {
    Labels l = {{"namespace", p.ref.ns}, {"pod", p.ref.name}};
    if (p.cgroup.cpu.ok) {
      w.Add("pod_cpu_usage_seconds_total",
            "[STABLE] Cumulative cpu time consumed by the pod in core-seconds", "counter", l,
            p.cgroup.cpu.usage_ns / 1e9);
    }
    if (p.cgroup.memory.ok) {
      w.Add("pod_memory_working_set_bytes", "[STABLE] Current working set of the pod in bytes",
            "gauge", l, static_cast<double>(p.cgroup.memory.working_set));
    }
  }
  w.Add("resource_scrape_error",
        "[STABLE] 1 if there was an error while getting container metrics, 0 otherwise", "gauge",
        {}, 0, false);
  return w.Render();
}

}  // namespace korral::kubelet::stats
