// korral/api/printers.cc: server-side Table columns and rows for the built-in types, with
// upstream's column sets and cell formatting. Rows always carry every column (wide ones too);
// clients hide priority > 0 columns unless asked for -o wide.
#include "korral/api/printers.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "korral/api/internal.h"
#include "korral/api/validation.h"

namespace korral::api {
namespace printers {

using internal::Get;
using internal::GetArray;
using internal::GetBool;
using internal::GetInt;
using internal::GetObject;
using internal::GetString;
using internal::Has;
using Clock = std::chrono::system_clock;

std::string TranslateTimestampSince(const Json& ts, Clock::time_point now) {
  if (!ts.is_string()) return "<unknown>";
  auto t = ParseTime(ts.get<std::string>());
  if (!t) return "<unknown>";
  return HumanDuration(now - *t);
}

std::string FormatLabels(const Json& labels) {
  if (!labels.is_object() || labels.empty()) return "<none>";
  std::vector<std::string> parts;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    parts.push_back(it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : ""));
  }
  return absl::StrJoin(parts, ",");
}

std::string AccessModesString(const Json& modes) {
  static const std::pair<const char*, const char*> kModes[] = {
      {"ReadWriteOnce", "RWO"},
      {"ReadOnlyMany", "ROX"},
      {"ReadWriteMany", "RWX"},
      {"ReadWriteOncePod", "RWOP"},
  };
  std::vector<std::string> out;
  for (auto& [mode, abbrev] : kModes) {
    if (modes.is_array() && std::find(modes.begin(), modes.end(), Json(mode)) != modes.end()) {
      out.push_back(abbrev);
    }
  }
  return absl::StrJoin(out, ",");
}

namespace {

struct PodSummary {
  std::string reason;
  int64_t ready = 0;
  int64_t total = 0;
  int64_t restarts = 0;
  std::optional<Clock::time_point> last_restart;
};

bool IsRestartableInit(const Json& spec, const std::string& name) {
  for (const Json& c : GetArray(spec, {"initContainers"})) {
    if (GetString(c, {"name"}) == name) return GetString(c, {"restartPolicy"}) == "Always";
  }
  return false;
}

bool HasCondition(const Json& obj, std::string_view type, std::string_view reason = "") {
  for (const Json& c : GetArray(obj, {"status", "conditions"})) {
    if (GetString(c, {"type"}) != type) continue;
    if (!reason.empty()) return GetString(c, {"reason"}) == reason;
    return GetString(c, {"status"}) == "True";
  }
  return false;
}

void NoteRestart(const Json& status, std::optional<Clock::time_point>* last) {
  const Json* fin = Get(status, {"lastState", "terminated", "finishedAt"});
  if (fin == nullptr || !fin->is_string()) return;
  auto t = ParseTime(fin->get<std::string>());
  if (t && (!*last || **last < *t)) *last = t;
}

std::string TerminatedReason(const Json& term, std::string_view prefix) {
  std::string reason = GetString(term, {"reason"});
  if (!reason.empty()) return internal::Cat(prefix, reason);
  int64_t signal = GetInt(term, {"signal"});
  if (signal != 0) return internal::Cat(prefix, "Signal:", signal);
  return internal::Cat(prefix, "ExitCode:", GetInt(term, {"exitCode"}));
}

PodSummary SummarizePod(const Json& pod) {
  PodSummary s;
  const Json& spec = GetObject(pod, {"spec"});
  std::string phase = GetString(pod, {"status", "phase"});
  s.reason = phase;
  std::string status_reason = GetString(pod, {"status", "reason"});
  if (!status_reason.empty()) s.reason = status_reason;
  if (HasCondition(pod, "PodScheduled", "SchedulingGated")) s.reason = "SchedulingGated";
  s.total = GetArray(spec, {"containers"}).size();
  const Json& inits = GetArray(spec, {"initContainers"});
  for (const Json& c : inits) {
    if (GetString(c, {"restartPolicy"}) == "Always") ++s.total;
  }
  int64_t sidecar_restarts = 0;
  std::optional<Clock::time_point> sidecar_last;
  bool initializing = false;
  const Json& init_statuses = GetArray(pod, {"status", "initContainerStatuses"});
  for (size_t i = 0; i < init_statuses.size(); ++i) {
    const Json& cs = init_statuses[i];
    std::string name = GetString(cs, {"name"});
    bool restartable = IsRestartableInit(spec, name);
    s.restarts += GetInt(cs, {"restartCount"});
    NoteRestart(cs, &s.last_restart);
    if (restartable) {
      sidecar_restarts += GetInt(cs, {"restartCount"});
      NoteRestart(cs, &sidecar_last);
    }
    const Json* term = Get(cs, {"state", "terminated"});
    const Json* waiting = Get(cs, {"state", "waiting"});
    if (term != nullptr && term->is_object() && GetInt(*term, {"exitCode"}) == 0) continue;
    if (restartable && GetBool(cs, {"started"})) {
      if (GetBool(cs, {"ready"})) ++s.ready;
      continue;
    }
    if (term != nullptr && term->is_object()) {
      s.reason = TerminatedReason(*term, "Init:");
    } else if (waiting != nullptr && !GetString(*waiting, {"reason"}).empty() &&
               GetString(*waiting, {"reason"}) != "PodInitializing") {
      s.reason = "Init:" + GetString(*waiting, {"reason"});
    } else {
      s.reason = internal::Cat("Init:", i, "/", inits.size());
    }
    initializing = true;
    break;
  }
  if (!initializing || HasCondition(pod, "Initialized")) {
    s.restarts = sidecar_restarts;
    s.last_restart = sidecar_last;
    bool has_running = false;
    const Json& statuses = GetArray(pod, {"status", "containerStatuses"});
    for (size_t k = statuses.size(); k-- > 0;) {
      const Json& cs = statuses[k];
      s.restarts += GetInt(cs, {"restartCount"});
      NoteRestart(cs, &s.last_restart);
      const Json* waiting = Get(cs, {"state", "waiting"});
      const Json* term = Get(cs, {"state", "terminated"});
      if (waiting != nullptr && !GetString(*waiting, {"reason"}).empty()) {
        s.reason = GetString(*waiting, {"reason"});
      } else if (term != nullptr && term->is_object()) {
        s.reason = TerminatedReason(*term, "");
      } else if (GetBool(cs, {"ready"}) && Has(cs, {"state", "running"})) {
        has_running = true;
        ++s.ready;
      }
    }
    if (s.reason == "Completed" && has_running) {
      s.reason = HasCondition(pod, "Ready") ? "Running" : "NotReady";
    }
  }
  bool deleting = Has(pod, {"metadata", "deletionTimestamp"});
  if (deleting && status_reason == "NodeLost") {
    s.reason = "Unknown";
  } else if (deleting && phase != "Succeeded" && phase != "Failed") {
    s.reason = "Terminating";
  }
  return s;
}

// ---- columns ----

TableColumn NameCol() {
  return {"Name", "string", "name",
          "Name must be unique within a namespace. It identifies the object.", 0};
}
TableColumn AgeCol() {
  return {"Age", "string", "",
          "CreationTimestamp is the time the object was created, shown as an age.", 0};
}
TableColumn Col(std::string name, std::string desc, int priority = 0, std::string type = "string") {
  return {std::move(name), std::move(type), "", std::move(desc), priority};
}
TableColumn CreatedAtCol() {
  return {"Created At", "date", "", "The time the object was created.", 0};
}

Json Age(const Json& o, Clock::time_point now) {
  return TranslateTimestampSince(GetObject(o, {"metadata"}).value("creationTimestamp", Json()),
                                 now);
}
std::string Name(const Json& o) { return GetString(o, {"metadata", "name"}); }

std::pair<std::string, std::string> ContainerCells(const Json& pod_spec) {
  std::vector<std::string> names, images;
  for (const Json& c : GetArray(pod_spec, {"containers"})) {
    names.push_back(GetString(c, {"name"}));
    images.push_back(GetString(c, {"image"}));
  }
  return {absl::StrJoin(names, ","), absl::StrJoin(images, ",")};
}

std::vector<TableColumn> TemplateCols() {
  return {Col("Containers", "Names of each container in the template.", 1),
          Col("Images", "Images referenced by each container in the template.", 1),
          Col("Selector", "The label selector of the controller.", 1)};
}

void AppendTemplateCells(Json& row, const Json& pod_spec, const std::string& selector) {
  auto [names, images] = ContainerCells(pod_spec);
  row.push_back(names);
  row.push_back(images);
  row.push_back(selector);
}

std::string ListWithMore(const std::vector<std::string>& list, bool more, int64_t count,
                         int64_t max, std::string_view empty) {
  std::string ret = absl::StrJoin(list, ",");
  if (more) return internal::Cat(ret, " + ", count - max, " more...");
  if (ret.empty()) return std::string(empty);
  return ret;
}

// ---- rows per type ----

Json PodRow(const Json& o, Clock::time_point now) {
  PodSummary s = SummarizePod(o);
  std::string restarts = std::to_string(s.restarts);
  if (s.restarts != 0 && s.last_restart) {
    restarts = internal::Cat(s.restarts, " (", HumanDuration(now - *s.last_restart), " ago)");
  }
  std::string ip;
  const Json& ips = GetArray(o, {"status", "podIPs"});
  if (!ips.empty()) ip = GetString(ips[0], {"ip"});
  if (ip.empty()) ip = GetString(o, {"status", "podIP"});
  if (ip.empty()) ip = "<none>";
  std::string node = GetString(o, {"spec", "nodeName"}, "");
  if (node.empty()) node = "<none>";
  std::string nominated = GetString(o, {"status", "nominatedNodeName"});
  if (nominated.empty()) nominated = "<none>";
  std::string gates = "<none>";
  const Json& rg = GetArray(o, {"spec", "readinessGates"});
  if (!rg.empty()) {
    int true_count = 0;
    for (const Json& g : rg) {
      std::string type = GetString(g, {"conditionType"});
      for (const Json& c : GetArray(o, {"status", "conditions"})) {
        if (GetString(c, {"type"}) == type) {
          if (GetString(c, {"status"}) == "True") ++true_count;
          break;
        }
      }
    }
    gates = internal::Cat(true_count, "/", rg.size());
  }
  return Json::array({Name(o), internal::Cat(s.ready, "/", s.total), s.reason, restarts,
                      Age(o, now), ip, node, nominated, gates});
}

std::vector<TableColumn> PodCols() {
  return {NameCol(),
          Col("Ready", "The aggregate readiness state of this pod for accepting traffic."),
          Col("Status", "The aggregate status of the containers in this pod."),
          Col("Restarts",
              "The number of times the containers in this pod have been restarted and when the "
              "last container in this pod has restarted."),
          AgeCol(),
          Col("IP", "IP address allocated to the pod.", 1),
          Col("Node", "Name of the node the pod is bound to.", 1),
          Col("Nominated Node", "Name of the node where the pod is nominated to run.", 1),
          Col("Readiness Gates", "Readiness gates of the pod that are true.", 1)};
}

std::vector<std::string> NodeRoles(const Json& node) {
  std::set<std::string> roles;
  const Json& labels = GetObject(node, {"metadata", "labels"});
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    const std::string& k = it.key();
    if (internal::StartsWith(k, "node-role.kubernetes.io/")) {
      std::string role = k.substr(std::string("node-role.kubernetes.io/").size());
      if (!role.empty()) roles.insert(role);
    } else if (k == "kubernetes.io/role" && it.value().is_string()) {
      std::string role = it.value().get<std::string>();
      if (!role.empty()) roles.insert(role);
    }
  }
  return {roles.begin(), roles.end()};
}

std::string NodeAddress(const Json& node, std::string_view type) {
  for (const Json& a : GetArray(node, {"status", "addresses"})) {
    if (GetString(a, {"type"}) == type) return GetString(a, {"address"});
  }
  return "<none>";
}

Json NodeRow(const Json& o, Clock::time_point now) {
  std::vector<std::string> status;
  for (const Json& c : GetArray(o, {"status", "conditions"})) {
    if (GetString(c, {"type"}) == "Ready") {
      status.push_back(GetString(c, {"status"}) == "True" ? "Ready" : "NotReady");
      break;
    }
  }
  if (status.empty()) status.push_back("Unknown");
  if (GetBool(o, {"spec", "unschedulable"})) status.push_back("SchedulingDisabled");
  std::string roles = absl::StrJoin(NodeRoles(o), ",");
  if (roles.empty()) roles = "<none>";
  auto or_unknown = [](std::string s) { return s.empty() ? std::string("<unknown>") : s; };
  return Json::array({Name(o), absl::StrJoin(status, ","), roles, Age(o, now),
                      GetString(o, {"status", "nodeInfo", "kubeletVersion"}),
                      NodeAddress(o, "InternalIP"), NodeAddress(o, "ExternalIP"),
                      or_unknown(GetString(o, {"status", "nodeInfo", "osImage"})),
                      or_unknown(GetString(o, {"status", "nodeInfo", "kernelVersion"})),
                      or_unknown(GetString(o, {"status", "nodeInfo", "containerRuntimeVersion"}))});
}

std::vector<TableColumn> NodeCols() {
  return {NameCol(),
          Col("Status", "The status of the node"),
          Col("Roles", "The roles of the node"),
          AgeCol(),
          Col("Version", "Kubelet Version reported by the node."),
          Col("Internal-IP", "List of addresses reachable to the node.", 1),
          Col("External-IP", "List of addresses reachable to the node.", 1),
          Col("OS-Image", "OS Image reported by the node.", 1),
          Col("Kernel-Version", "Kernel Version reported by the node.", 1),
          Col("Container-Runtime", "ContainerRuntime Version reported by the node.", 1)};
}

std::string LoadBalancerIPs(const Json& svc) {
  std::vector<std::string> out;
  for (const Json& ing : GetArray(svc, {"status", "loadBalancer", "ingress"})) {
    std::string ip = GetString(ing, {"ip"});
    std::string host = GetString(ing, {"hostname"});
    if (!ip.empty())
      out.push_back(ip);
    else if (!host.empty())
      out.push_back(host);
  }
  return absl::StrJoin(out, ",");
}

std::string ServiceExternalIP(const Json& svc) {
  std::string type = GetString(svc, {"spec", "type"});
  std::vector<std::string> external;
  for (const Json& ip : GetArray(svc, {"spec", "externalIPs"})) {
    if (ip.is_string()) external.push_back(ip.get<std::string>());
  }
  if (type == "ClusterIP" || type == "NodePort") {
    return external.empty() ? "<none>" : absl::StrJoin(external, ",");
  }
  if (type == "LoadBalancer") {
    std::string lb = LoadBalancerIPs(svc);
    if (!external.empty()) {
      std::vector<std::string> all;
      if (!lb.empty()) all = absl::StrSplit(lb, ',');
      all.insert(all.end(), external.begin(), external.end());
      return absl::StrJoin(all, ",");
    }
    return lb.empty() ? "<pending>" : lb;
  }
  if (type == "ExternalName") return GetString(svc, {"spec", "externalName"});
  return "<unknown>";
}

Json ServiceRow(const Json& o, Clock::time_point now) {
  std::string cluster_ip = "<none>";
  const Json& ips = GetArray(o, {"spec", "clusterIPs"});
  if (!ips.empty() && ips[0].is_string()) {
    cluster_ip = ips[0].get<std::string>();
  } else if (!GetString(o, {"spec", "clusterIP"}).empty()) {
    cluster_ip = GetString(o, {"spec", "clusterIP"});
  }
  std::vector<std::string> ports;
  for (const Json& p : GetArray(o, {"spec", "ports"})) {
    int64_t node_port = GetInt(p, {"nodePort"});
    std::string proto = GetString(p, {"protocol"});
    if (node_port > 0) {
      ports.push_back(internal::Cat(GetInt(p, {"port"}), ":", node_port, "/", proto));
    } else {
      ports.push_back(internal::Cat(GetInt(p, {"port"}), "/", proto));
    }
  }
  std::string port_str = ports.empty() ? "<none>" : absl::StrJoin(ports, ",");
  return Json::array({Name(o), GetString(o, {"spec", "type"}), cluster_ip, ServiceExternalIP(o),
                      port_str, Age(o, now), FormatLabels(GetObject(o, {"spec", "selector"}))});
}

std::vector<TableColumn> ServiceCols() {
  return {NameCol(),
          Col("Type", "The type of the service (ClusterIP, NodePort, LoadBalancer, ExternalName)."),
          Col("Cluster-IP", "The IP address of the service inside the cluster."),
          Col("External-IP", "External IPs or load-balancer ingress of the service."),
          Col("Port(s)", "The ports exposed by the service."),
          AgeCol(),
          Col("Selector",
              "Route service traffic to pods with label keys and values matching "
              "this selector.",
              1)};
}

Json EndpointsRow(const Json& o, Clock::time_point now) {
  const Json& subsets = GetArray(o, {"subsets"});
  std::string cell;
  if (subsets.empty()) {
    cell = "<none>";
  } else {
    std::vector<std::string> list;
    const size_t max = 3;
    bool more = false;
    int64_t count = 0;
    for (const Json& ss : subsets) {
      const Json& addrs = GetArray(ss, {"addresses"});
      const Json& ports = GetArray(ss, {"ports"});
      if (ports.empty()) {
        count += addrs.size();
        for (const Json& a : addrs) {
          if (list.size() == max) {
            more = true;
            break;
          }
          list.push_back(GetString(a, {"ip"}));
        }
        continue;
      }
      for (const Json& p : ports) {
        count += addrs.size();
        for (const Json& a : addrs) {
          if (list.size() == max) {
            more = true;
            break;
          }
          std::string ip = GetString(a, {"ip"});
          if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
          list.push_back(internal::Cat(ip, ":", GetInt(p, {"port"})));
        }
      }
    }
    cell = ListWithMore(list, more, count, max, "");
  }
  return Json::array({Name(o), cell, Age(o, now)});
}

Json DeploymentRow(const Json& o, Clock::time_point now) {
  Json row = Json::array(
      {Name(o),
       internal::Cat(GetInt(o, {"status", "readyReplicas"}), "/", GetInt(o, {"spec", "replicas"})),
       GetInt(o, {"status", "updatedReplicas"}), GetInt(o, {"status", "availableReplicas"}),
       Age(o, now)});
  AppendTemplateCells(row, GetObject(o, {"spec", "template", "spec"}),
                      validation::SelectorString(GetObject(o, {"spec", "selector"})));
  return row;
}

std::vector<TableColumn> DeploymentCols() {
  std::vector<TableColumn> c = {
      NameCol(), Col("Ready", "Number of the pod with ready state"),
      Col("Up-to-date",
          "Total number of non-terminated pods targeted by this deployment that "
          "have the desired template spec.",
          0, "integer"),
      Col("Available",
          "Total number of available pods (ready for at least minReadySeconds) "
          "targeted by this deployment.",
          0, "integer"),
      AgeCol()};
  for (auto& t : TemplateCols()) c.push_back(t);
  return c;
}

Json ReplicaSetRow(const Json& o, Clock::time_point now) {
  Json row =
      Json::array({Name(o), GetInt(o, {"spec", "replicas"}), GetInt(o, {"status", "replicas"}),
                   GetInt(o, {"status", "readyReplicas"}), Age(o, now)});
  AppendTemplateCells(row, GetObject(o, {"spec", "template", "spec"}),
                      validation::SelectorString(GetObject(o, {"spec", "selector"})));
  return row;
}

std::vector<TableColumn> ReplicaSetCols() {
  std::vector<TableColumn> c = {
      NameCol(), Col("Desired", "Number of desired pods.", 0, "integer"),
      Col("Current", "The most recently observed number of replicas.", 0, "integer"),
      Col("Ready", "The number of ready replicas.", 0, "integer"), AgeCol()};
  for (auto& t : TemplateCols()) c.push_back(t);
  return c;
}

Json ReplicationControllerRow(const Json& o, Clock::time_point now) {
  Json row =
      Json::array({Name(o), GetInt(o, {"spec", "replicas"}), GetInt(o, {"status", "replicas"}),
                   GetInt(o, {"status", "readyReplicas"}), Age(o, now)});
  AppendTemplateCells(row, GetObject(o, {"spec", "template", "spec"}),
                      FormatLabels(GetObject(o, {"spec", "selector"})));
  return row;
}

Json StatefulSetRow(const Json& o, Clock::time_point now) {
  auto [names, images] = ContainerCells(GetObject(o, {"spec", "template", "spec"}));
  return Json::array(
      {Name(o),
       internal::Cat(GetInt(o, {"status", "readyReplicas"}), "/", GetInt(o, {"spec", "replicas"})),
       Age(o, now), names, images});
}

std::vector<TableColumn> StatefulSetCols() {
  return {NameCol(), Col("Ready", "Number of the pod with ready state"), AgeCol(),
          Col("Containers", "Names of each container in the template.", 1),
          Col("Images", "Images referenced by each container in the template.", 1)};
}

Json DaemonSetRow(const Json& o, Clock::time_point now) {
  const Json& st = GetObject(o, {"status"});
  Json row = Json::array({Name(o), GetInt(st, {"desiredNumberScheduled"}),
                          GetInt(st, {"currentNumberScheduled"}), GetInt(st, {"numberReady"}),
                          GetInt(st, {"updatedNumberScheduled"}), GetInt(st, {"numberAvailable"}),
                          FormatLabels(GetObject(o, {"spec", "template", "spec", "nodeSelector"})),
                          Age(o, now)});
  AppendTemplateCells(row, GetObject(o, {"spec", "template", "spec"}),
                      validation::SelectorString(GetObject(o, {"spec", "selector"})));
  return row;
}

std::vector<TableColumn> DaemonSetCols() {
  std::vector<TableColumn> c = {
      NameCol(),
      Col("Desired", "The total number of nodes that should be running the daemon pod.", 0,
          "integer"),
      Col("Current", "The number of nodes running at least one daemon pod.", 0, "integer"),
      Col("Ready", "The number of nodes running the daemon pod with a Ready condition.", 0,
          "integer"),
      Col("Up-to-date", "The number of nodes running the updated daemon pod.", 0, "integer"),
      Col("Available", "The number of nodes running an available daemon pod.", 0, "integer"),
      Col("Node Selector", "The node selector of the pod template."),
      AgeCol()};
  for (auto& t : TemplateCols()) c.push_back(t);
  return c;
}

Json JobRow(const Json& o, Clock::time_point now) {
  const Json& spec = GetObject(o, {"spec"});
  int64_t succeeded = GetInt(o, {"status", "succeeded"});
  std::string completions;
  if (Has(spec, {"completions"})) {
    completions = internal::Cat(succeeded, "/", GetInt(spec, {"completions"}));
  } else {
    int64_t parallelism = GetInt(spec, {"parallelism"});
    completions = parallelism > 1 ? internal::Cat(succeeded, "/1 of ", parallelism)
                                  : internal::Cat(succeeded, "/1");
  }
  std::string duration;
  auto start = ParseTime(GetString(o, {"status", "startTime"}));
  if (start) {
    auto done = ParseTime(GetString(o, {"status", "completionTime"}));
    duration = HumanDuration((done ? *done : now) - *start);
  }
  std::string status;
  if (HasCondition(o, "Complete")) {
    status = "Complete";
  } else if (HasCondition(o, "Failed")) {
    status = "Failed";
  } else if (Has(o, {"metadata", "deletionTimestamp"})) {
    status = "Terminating";
  } else if (HasCondition(o, "Suspended")) {
    status = "Suspended";
  } else if (HasCondition(o, "FailureTarget")) {
    status = "FailureTarget";
  } else if (HasCondition(o, "SuccessCriteriaMet")) {
    status = "SuccessCriteriaMet";
  } else {
    status = "Running";
  }
  Json row = Json::array({Name(o), status, completions, duration, Age(o, now)});
  AppendTemplateCells(row, GetObject(spec, {"template", "spec"}),
                      validation::SelectorString(GetObject(spec, {"selector"})));
  return row;
}

std::vector<TableColumn> JobCols() {
  std::vector<TableColumn> c = {NameCol(), Col("Status", "Status of the job."),
                                Col("Completions", "The completion status of the job."),
                                Col("Duration", "Time required to complete the job."), AgeCol()};
  for (auto& t : TemplateCols()) c.push_back(t);
  return c;
}

Json CronJobRow(const Json& o, Clock::time_point now) {
  const Json& spec = GetObject(o, {"spec"});
  std::string last = "<none>";
  if (Has(o, {"status", "lastScheduleTime"})) {
    last = TranslateTimestampSince(o["status"]["lastScheduleTime"], now);
  }
  std::string tz = Has(spec, {"timeZone"}) ? GetString(spec, {"timeZone"}) : "<none>";
  std::string suspend = "<unset>";
  if (Has(spec, {"suspend"})) suspend = GetBool(spec, {"suspend"}) ? "True" : "False";
  Json row = Json::array({Name(o), GetString(spec, {"schedule"}), tz, suspend,
                          static_cast<int64_t>(GetArray(o, {"status", "active"}).size()), last,
                          Age(o, now)});
  AppendTemplateCells(
      row, GetObject(spec, {"jobTemplate", "spec", "template", "spec"}),
      validation::SelectorString(GetObject(spec, {"jobTemplate", "spec", "selector"})));
  return row;
}

std::vector<TableColumn> CronJobCols() {
  std::vector<TableColumn> c = {
      NameCol(),
      Col("Schedule", "The schedule in Cron format."),
      Col("Timezone", "The time zone of the schedule."),
      Col("Suspend", "Whether subsequent executions are suspended.", 0, "boolean"),
      Col("Active", "The number of running jobs.", 0, "integer"),
      Col("Last Schedule", "When the job was last scheduled."),
      AgeCol()};
  for (auto& t : TemplateCols()) c.push_back(t);
  return c;
}

std::string EventSource(const std::string& component, const std::string& host) {
  if (host.empty()) return component;
  return component + ", " + host;
}

// Shared by core/v1 and events.k8s.io/v1 (whose fields have other names).
Json EventRowImpl(const Json& o, Clock::time_point now, bool v1) {
  auto field = [&](const char* core, const char* ev1) -> const Json& {
    static const Json* const kNull = new Json();
    auto it = o.find(v1 ? ev1 : core);
    return it == o.end() ? *kNull : *it;
  };
  std::string first =
      TranslateTimestampSince(field("firstTimestamp", "deprecatedFirstTimestamp"), now);
  if (!field("firstTimestamp", "deprecatedFirstTimestamp").is_string()) {
    first = TranslateTimestampSince(o.value("eventTime", Json()), now);
  }
  std::string last =
      TranslateTimestampSince(field("lastTimestamp", "deprecatedLastTimestamp"), now);
  if (!field("lastTimestamp", "deprecatedLastTimestamp").is_string()) last = first;
  const Json& count_j = field("count", "deprecatedCount");
  int64_t count = count_j.is_number() ? count_j.get<int64_t>() : 0;
  if (Has(o, {"series"})) {
    last = TranslateTimestampSince(o["series"].value("lastObservedTime", Json()), now);
    count = GetInt(o, {"series", "count"});
  } else if (count == 0) {
    count = 1;
  }
  const Json& involved = GetObject(o, {v1 ? "regarding" : "involvedObject"});
  std::string kind = absl::AsciiStrToLower(GetString(involved, {"kind"}));
  std::string name = GetString(involved, {"name"});
  std::string target = name.empty() ? kind : kind + "/" + name;
  std::string component = GetString(o, {v1 ? "deprecatedSource" : "source", "component"});
  std::string host = GetString(o, {v1 ? "deprecatedSource" : "source", "host"});
  if (component.empty()) component = GetString(o, {"reportingController"});
  if (host.empty()) host = GetString(o, {"reportingInstance"});
  std::string message(absl::StripAsciiWhitespace(GetString(o, {v1 ? "note" : "message"})));
  return Json::array({last, GetString(o, {"type"}), GetString(o, {"reason"}), target,
                      GetString(involved, {"fieldPath"}), EventSource(component, host), message,
                      first, count, Name(o)});
}

std::vector<TableColumn> EventCols() {
  return {Col("Last Seen",
              "The time at which the most recent occurrence of this event was "
              "recorded."),
          Col("Type", "Type of this event (Normal, Warning)."),
          Col("Reason",
              "A short, machine understandable string that gives the reason for the "
              "transition into the object's current status."),
          Col("Object", "The object that this event is about."),
          Col("Subobject", "The field path of the object this event is about.", 1),
          Col("Source", "The component reporting this event.", 1),
          Col("Message", "A human-readable description of the status of this operation."),
          Col("First Seen", "The time at which the event was first recorded.", 1),
          Col("Count", "The number of times this event has occurred.", 1),
          {"Name", "string", "name", "Name of the event.", 1}};
}

Json PVRow(const Json& o, Clock::time_point now) {
  const Json& spec = GetObject(o, {"spec"});
  std::string claim;
  if (Has(spec, {"claimRef"})) {
    claim =
        GetString(spec, {"claimRef", "namespace"}) + "/" + GetString(spec, {"claimRef", "name"});
  }
  std::string phase = GetString(o, {"status", "phase"});
  if (Has(o, {"metadata", "deletionTimestamp"})) phase = "Terminating";
  std::string sc = GetString(spec, {"storageClassName"});
  if (sc.empty()) {
    sc = GetString(o, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  }
  std::string vac = GetString(spec, {"volumeAttributesClassName"});
  std::string mode = GetString(spec, {"volumeMode"});
  return Json::array({Name(o), GetString(spec, {"capacity", "storage"}),
                      AccessModesString(GetArray(spec, {"accessModes"})),
                      GetString(spec, {"persistentVolumeReclaimPolicy"}), phase, claim, sc,
                      vac.empty() ? "<unset>" : vac, GetString(o, {"status", "reason"}),
                      Age(o, now), mode.empty() ? "<unset>" : mode});
}

std::vector<TableColumn> PVCols() {
  return {NameCol(),
          Col("Capacity", "The capacity of the volume."),
          Col("Access Modes", "The ways the volume can be mounted."),
          Col("Reclaim Policy", "What happens to the volume when released from its claim."),
          Col("Status", "The phase of the volume."),
          Col("Claim", "The claim bound to the volume."),
          Col("StorageClass", "StorageClass of the pv"),
          Col("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
          Col("Reason", "A brief reason for the volume's phase."),
          AgeCol(),
          Col("VolumeMode", "Whether the volume is a filesystem or a raw block device.", 1)};
}

Json PVCRow(const Json& o, Clock::time_point now) {
  const Json& spec = GetObject(o, {"spec"});
  std::string phase = GetString(o, {"status", "phase"});
  if (Has(o, {"metadata", "deletionTimestamp"})) phase = "Terminating";
  std::string volume = GetString(spec, {"volumeName"});
  std::string capacity, modes;
  if (!volume.empty()) {
    capacity = GetString(o, {"status", "capacity", "storage"});
    modes = AccessModesString(GetArray(o, {"status", "accessModes"}));
  }
  std::string sc = GetString(spec, {"storageClassName"});
  if (sc.empty()) {
    sc = GetString(o, {"metadata", "annotations", "volume.beta.kubernetes.io/storage-class"});
  }
  std::string vac = GetString(o, {"status", "currentVolumeAttributesClassName"});
  std::string mode = GetString(spec, {"volumeMode"});
  return Json::array({Name(o), phase, volume, capacity, modes, sc, vac.empty() ? "<unset>" : vac,
                      Age(o, now), mode.empty() ? "<unset>" : mode});
}

std::vector<TableColumn> PVCCols() {
  return {NameCol(),
          Col("Status", "The phase of the claim."),
          Col("Volume", "The volume bound to the claim."),
          Col("Capacity", "The capacity of the bound volume."),
          Col("Access Modes", "The access modes of the bound volume."),
          Col("StorageClass", "StorageClass of the pvc"),
          Col("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
          AgeCol(),
          Col("VolumeMode", "Whether the volume is a filesystem or a raw block device.", 1)};
}

Json EndpointSliceRow(const Json& o, Clock::time_point now) {
  const size_t max = 3;
  std::vector<std::string> ports;
  bool more = false;
  int64_t count = 0;
  for (const Json& p : GetArray(o, {"ports"})) {
    if (ports.size() < max) {
      std::string s = "*";
      if (Has(p, {"port"})) {
        s = std::to_string(GetInt(p, {"port"}));
      } else if (Has(p, {"name"})) {
        s = GetString(p, {"name"});
      }
      ports.push_back(s);
    } else {
      more = true;
    }
    ++count;
  }
  std::string port_cell = ListWithMore(ports, more, count, max, "<unset>");
  std::vector<std::string> addrs;
  more = false;
  count = 0;
  for (const Json& e : GetArray(o, {"endpoints"})) {
    for (const Json& a : GetArray(e, {"addresses"})) {
      if (addrs.size() < max) {
        addrs.push_back(a.is_string() ? a.get<std::string>() : "");
      } else {
        more = true;
      }
      ++count;
    }
  }
  return Json::array({Name(o), GetString(o, {"addressType"}), port_cell,
                      ListWithMore(addrs, more, count, max, "<unset>"), Age(o, now)});
}

Json RoleBindingRow(const Json& o, Clock::time_point now) {
  std::vector<std::string> users, groups, sas;
  for (const Json& s : GetArray(o, {"subjects"})) {
    std::string kind = GetString(s, {"kind"});
    if (kind == "User") users.push_back(GetString(s, {"name"}));
    if (kind == "Group") groups.push_back(GetString(s, {"name"}));
    if (kind == "ServiceAccount") {
      sas.push_back(GetString(s, {"namespace"}) + ":" + GetString(s, {"name"}));
    }
  }
  return Json::array({Name(o),
                      GetString(o, {"roleRef", "kind"}) + "/" + GetString(o, {"roleRef", "name"}),
                      Age(o, now), absl::StrJoin(users, ", "), absl::StrJoin(groups, ", "),
                      absl::StrJoin(sas, ", ")});
}

std::vector<TableColumn> RoleBindingCols() {
  return {NameCol(),
          Col("Role", "Role referenced by this binding."),
          AgeCol(),
          Col("Users", "Users in the binding.", 1),
          Col("Groups", "Groups in the binding.", 1),
          Col("ServiceAccounts", "ServiceAccounts in the binding.", 1)};
}

Json CreatedAtRow(const Json& o, Clock::time_point) {
  std::string created = GetString(o, {"metadata", "creationTimestamp"});
  auto t = ParseTime(created);
  return Json::array({Name(o), t ? FormatTime(*t) : created});
}

Json PDBRow(const Json& o, Clock::time_point now) {
  auto int_or_string = [&](const char* f) -> std::string {
    const Json* v = Get(o, {"spec", f});
    if (v == nullptr || v->is_null()) return "N/A";
    if (v->is_string()) return v->get<std::string>();
    return v->dump();
  };
  return Json::array({Name(o), int_or_string("minAvailable"), int_or_string("maxUnavailable"),
                      GetInt(o, {"status", "disruptionsAllowed"}), Age(o, now)});
}

Json ResourceQuotaRow(const Json& o, Clock::time_point now) {
  const Json& hard = GetObject(o, {"spec", "hard"});
  const Json& used = GetObject(o, {"status", "used"});
  std::vector<std::string> requests, limits;
  auto qty = [](const Json& v) {
    return v.is_string() ? v.get<std::string>() : (v.is_null() ? std::string("0") : v.dump());
  };
  for (auto it = hard.begin(); it != hard.end(); ++it) {
    std::string cell =
        internal::Cat(it.key(), ": ", qty(used.value(it.key(), Json())), "/", qty(it.value()));
    std::vector<std::string> pieces = absl::StrSplit(it.key(), '.');
    if (pieces.size() > 1 && pieces[0] == "limits") {
      limits.push_back(cell);
    } else {
      requests.push_back(cell);
    }
  }
  return Json::array(
      {Name(o), Age(o, now), absl::StrJoin(requests, ", "), absl::StrJoin(limits, ", ")});
}

Json ControllerRevisionRow(const Json& o, Clock::time_point now) {
  std::string controller = "<none>";
  for (const Json& ref : GetArray(o, {"metadata", "ownerReferences"})) {
    if (!GetBool(ref, {"controller"})) continue;
    std::string api_version = GetString(ref, {"apiVersion"});
    size_t slash = api_version.find('/');
    std::string group = slash == std::string::npos ? "" : api_version.substr(0, slash);
    std::string gk = GetString(ref, {"kind"});
    if (!group.empty()) gk += "." + group;
    controller = absl::AsciiStrToLower(gk) + "/" + GetString(ref, {"name"});
    break;
  }
  return Json::array({Name(o), controller, GetInt(o, {"revision"}), Age(o, now)});
}

using RowFn = std::function<Json(const Json&, Clock::time_point)>;

void Set(ResourceType& t, std::vector<TableColumn> cols, RowFn fn) {
  t.columns = std::move(cols);
  t.row_cells = std::move(fn);
}

}  // namespace
}  // namespace printers

namespace internal {

void AttachPrinter(ResourceType& t) {
  using namespace printers;
  const std::string& g = t.gvk.group;
  const std::string& r = t.resource;
  auto key = g.empty() ? r : r + "." + g;
  if (key == "pods") {
    Set(t, PodCols(), PodRow);
  } else if (key == "nodes") {
    Set(t, NodeCols(), NodeRow);
  } else if (key == "namespaces") {
    Set(t, {NameCol(), Col("Status", "The status of the namespace"), AgeCol()},
        [](const Json& o, Clock::time_point now) {
          return Json::array({Name(o), GetString(o, {"status", "phase"}), Age(o, now)});
        });
  } else if (key == "services") {
    Set(t, ServiceCols(), ServiceRow);
  } else if (key == "endpoints") {
    Set(t, {NameCol(), Col("Endpoints", "Endpoints of the service."), AgeCol()}, EndpointsRow);
  } else if (key == "configmaps") {
    Set(t, {NameCol(), Col("Data", "Number of data entries.", 0, "string"), AgeCol()},
        [](const Json& o, Clock::time_point now) {
          int64_t n = GetObject(o, {"data"}).size() + GetObject(o, {"binaryData"}).size();
          return Json::array({Name(o), n, Age(o, now)});
        });
  } else if (key == "secrets") {
    Set(t,
        {NameCol(), Col("Type", "The type of the secret"),
         Col("Data", "Number of data entries.", 0, "string"), AgeCol()},
        [](const Json& o, Clock::time_point now) {
          return Json::array({Name(o), GetString(o, {"type"}),
                              static_cast<int64_t>(GetObject(o, {"data"}).size()), Age(o, now)});
        });
  } else if (key == "serviceaccounts") {
    Set(t, {NameCol(), Col("Secrets", "Number of secrets.", 0, "string"), AgeCol()},
        [](const Json& o, Clock::time_point now) {
          return Json::array(
              {Name(o), static_cast<int64_t>(GetArray(o, {"secrets"}).size()), Age(o, now)});
        });
  } else if (key == "events") {
    Set(t, EventCols(),
        [](const Json& o, Clock::time_point now) { return EventRowImpl(o, now, false); });
  } else if (key == "events.events.k8s.io") {
    Set(t, EventCols(),
        [](const Json& o, Clock::time_point now) { return EventRowImpl(o, now, true); });
  } else if (key == "persistentvolumes") {
    Set(t, PVCols(), PVRow);
  } else if (key == "persistentvolumeclaims") {
    Set(t, PVCCols(), PVCRow);
  } else if (key == "limitranges" || key == "roles.rbac.authorization.k8s.io" ||
             key == "clusterroles.rbac.authorization.k8s.io") {
    Set(t, {NameCol(), CreatedAtCol()}, CreatedAtRow);
  } else if (key == "resourcequotas") {
    Set(t,
        {NameCol(), AgeCol(),
         Col("Request",
             "Request represents a minimum amount of cpu/memory that a container may consume."),
         Col("Limit",
             "Limits control the maximum amount of cpu/memory that a container may use independent "
             "of contention on the node.")},
        ResourceQuotaRow);
  } else if (key == "replicationcontrollers") {
    Set(t, ReplicaSetCols(), ReplicationControllerRow);
  } else if (key == "podtemplates") {
    Set(t,
        {NameCol(), Col("Containers", "Names of each container in the template."),
         Col("Images", "Images referenced by each container in the template."),
         Col("Pod Labels", "The labels for the pod template.")},
        [](const Json& o, Clock::time_point) {
          auto [names, images] = ContainerCells(GetObject(o, {"template", "spec"}));
          return Json::array({Name(o), names, images,
                              FormatLabels(GetObject(o, {"template", "metadata", "labels"}))});
        });
  } else if (key == "deployments.apps") {
    Set(t, DeploymentCols(), DeploymentRow);
  } else if (key == "replicasets.apps") {
    Set(t, ReplicaSetCols(), ReplicaSetRow);
  } else if (key == "statefulsets.apps") {
    Set(t, StatefulSetCols(), StatefulSetRow);
  } else if (key == "daemonsets.apps") {
    Set(t, DaemonSetCols(), DaemonSetRow);
  } else if (key == "controllerrevisions.apps") {
    Set(t,
        {NameCol(), Col("Controller", "Controller of the object."),
         Col("Revision", "Revision of the ControllerRevision.", 0, "integer"), AgeCol()},
        ControllerRevisionRow);
  } else if (key == "jobs.batch") {
    Set(t, JobCols(), JobRow);
  } else if (key == "cronjobs.batch") {
    Set(t, CronJobCols(), CronJobRow);
  } else if (key == "poddisruptionbudgets.policy") {
    Set(t,
        {NameCol(), Col("Min Available", "The minimum number of pods that must be available."),
         Col("Max Unavailable", "The maximum number of pods that may be unavailable."),
         Col("Allowed Disruptions", "Calculated number of pods that may be disrupted at this time.",
             0, "integer"),
         AgeCol()},
        PDBRow);
  } else if (key == "rolebindings.rbac.authorization.k8s.io" ||
             key == "clusterrolebindings.rbac.authorization.k8s.io") {
    Set(t, RoleBindingCols(), RoleBindingRow);
  } else if (key == "leases.coordination.k8s.io") {
    Set(t, {NameCol(), Col("Holder", "The holder of the lease."), AgeCol()},
        [](const Json& o, Clock::time_point now) {
          return Json::array({Name(o), GetString(o, {"spec", "holderIdentity"}), Age(o, now)});
        });
  } else if (key == "endpointslices.discovery.k8s.io") {
    Set(t,
        {NameCol(), Col("AddressType", "The type of addresses in the slice."),
         Col("Ports", "The ports of the slice."),
         Col("Endpoints", "Addresses of the endpoints in the slice."), AgeCol()},
        EndpointSliceRow);
  }
}

}  // namespace internal

}  // namespace korral::api
