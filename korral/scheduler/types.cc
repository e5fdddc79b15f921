#include "korral/scheduler/types.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <ctime>

#include <fmt/format.h>

#include "korral/base/status.h"

namespace korral::scheduler {
namespace {

absl::Status Invalid(const std::string& msg) {
  return absl::Status(absl::StatusCode::kInvalidArgument, absl::string_view(msg));
}

// Parses into value * 10^exp10 as long double.
absl::StatusOr<long double> ParseQuantityValue(std::string_view s) {
  if (s.empty()) return Invalid("quantities must match the regular expression");
  size_t i = 0;
  if (s[i] == '+' || s[i] == '-') ++i;
  size_t num_start = i;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == num_start) return Invalid(fmt::format("invalid quantity \"{}\"", s));
  std::string num(s.substr(0, i));
  long double v = std::strtold(num.c_str(), nullptr);
  std::string_view suffix = s.substr(i);
  long double mult = 1;
  if (suffix.empty()) {
  } else if (suffix == "m") {
    mult = 1e-3L;
  } else if (suffix == "u") {
    mult = 1e-6L;
  } else if (suffix == "n") {
    mult = 1e-9L;
  } else if (suffix == "k") {
    mult = 1e3L;
  } else if (suffix == "M") {
    mult = 1e6L;
  } else if (suffix == "G") {
    mult = 1e9L;
  } else if (suffix == "T") {
    mult = 1e12L;
  } else if (suffix == "P") {
    mult = 1e15L;
  } else if (suffix == "E") {
    mult = 1e18L;
  } else if (suffix == "Ki") {
    mult = 1024.0L;
  } else if (suffix == "Mi") {
    mult = 1024.0L * 1024;
  } else if (suffix == "Gi") {
    mult = 1024.0L * 1024 * 1024;
  } else if (suffix == "Ti") {
    mult = 1024.0L * 1024 * 1024 * 1024;
  } else if (suffix == "Pi") {
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024;
  } else if (suffix == "Ei") {
    mult = 1024.0L * 1024 * 1024 * 1024 * 1024 * 1024;
  } else if (suffix[0] == 'e' || suffix[0] == 'E') {
    std::string e(suffix.substr(1));
    char* end = nullptr;
    long ex = std::strtol(e.c_str(), &end, 10);
    if (e.empty() || *end != '\0') return Invalid(fmt::format("invalid quantity \"{}\"", s));
    mult = std::pow(10.0L, static_cast<long double>(ex));
  } else {
    return Invalid(fmt::format("invalid quantity \"{}\"", s));
  }
  return v * mult;
}

int64_t CeilToInt(long double v) {
  long double c = std::ceil(v - 1e-9L);
  if (c > 9.2e18L) return INT64_MAX;
  if (c < -9.2e18L) return INT64_MIN;
  return static_cast<int64_t>(c);
}

std::string QuantityString(const Json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_number_integer()) return std::to_string(j.get<int64_t>());
  if (j.is_number()) return fmt::format("{}", j.get<double>());
  return "";
}

const Json& Field(const Json& j, const char* key) {
  static const Json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Str(const Json& j, const char* key) {
  const Json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

absl::StatusOr<SelectorOp> ParseOp(const std::string& op) {
  if (op == "In") return SelectorOp::kIn;
  if (op == "NotIn") return SelectorOp::kNotIn;
  if (op == "Exists") return SelectorOp::kExists;
  if (op == "DoesNotExist") return SelectorOp::kDoesNotExist;
  if (op == "Gt") return SelectorOp::kGt;
  if (op == "Lt") return SelectorOp::kLt;
  return Invalid(fmt::format("\"{}\" is not a valid selector operator", op));
}

absl::StatusOr<std::vector<Requirement>> ParseExpressions(const Json& exprs) {
  std::vector<Requirement> out;
  if (!exprs.is_array()) return out;
  for (const Json& e : exprs) {
    Requirement r;
    r.key = Str(e, "key");
    KORRAL_ASSIGN_OR_RETURN(r.op, ParseOp(Str(e, "operator")));
    const Json& vals = Field(e, "values");
    if (vals.is_array()) {
      for (const Json& v : vals) {
        if (v.is_string()) r.values.push_back(v.get<std::string>());
      }
    }
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    out.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<NodeSelectorTerm> ParseNodeSelectorTerm(const Json& t) {
  NodeSelectorTerm term;
  KORRAL_ASSIGN_OR_RETURN(term.match_expressions, ParseExpressions(Field(t, "matchExpressions")));
  KORRAL_ASSIGN_OR_RETURN(term.match_fields, ParseExpressions(Field(t, "matchFields")));
  return term;
}

absl::StatusOr<AffinityTerm> ParseAffinityTerm(const Json& t, const std::string& pod_ns,
                                               int32_t weight) {
  AffinityTerm term;
  term.weight = weight;
  KORRAL_ASSIGN_OR_RETURN(term.selector, LabelSelector::FromJson(Field(t, "labelSelector")));
  term.topology_key = Str(t, "topologyKey");
  const Json& nss = Field(t, "namespaces");
  if (nss.is_array()) {
    for (const Json& n : nss) {
      if (n.is_string()) term.namespaces.push_back(n.get<std::string>());
    }
  }
  const Json& nssel = Field(t, "namespaceSelector");
  if (!nssel.is_null()) {
    KORRAL_ASSIGN_OR_RETURN(auto sel, LabelSelector::FromJson(nssel));
    term.namespace_selector = std::move(sel);
  }
  if (term.namespaces.empty() && !term.namespace_selector) term.namespaces.push_back(pod_ns);
  std::sort(term.namespaces.begin(), term.namespaces.end());
  return term;
}

// Adds a container's requests (defaulted from limits) to `r`; returns whether it requested
// cpu or memory. Also accumulates the non-zero requests.
Resource ContainerRequests(const Json& c, int64_t* nz_cpu, int64_t* nz_mem, bool* has_cpu_mem) {
  const Json& res = Field(c, "resources");
  Json merged = Json::object();
  const Json& limits = Field(res, "limits");
  if (limits.is_object()) {
    for (auto it = limits.begin(); it != limits.end(); ++it) merged[it.key()] = it.value();
  }
  const Json& requests = Field(res, "requests");
  if (requests.is_object()) {
    for (auto it = requests.begin(); it != requests.end(); ++it) merged[it.key()] = it.value();
  }
  Resource r = ResourceFromJson(merged);
  bool cpu_set = merged.contains("cpu");
  bool mem_set = merged.contains("memory");
  if (nz_cpu) *nz_cpu = cpu_set ? r.milli_cpu : 100;
  if (nz_mem) *nz_mem = mem_set ? r.memory : 200 * 1024 * 1024;
  if (has_cpu_mem) *has_cpu_mem = cpu_set || mem_set;
  return r;
}

}  // namespace

absl::StatusOr<int64_t> ParseQuantity(std::string_view s) {
  KORRAL_ASSIGN_OR_RETURN(long double v, ParseQuantityValue(s));
  return CeilToInt(v);
}

absl::StatusOr<int64_t> ParseQuantityMilli(std::string_view s) {
  KORRAL_ASSIGN_OR_RETURN(long double v, ParseQuantityValue(s));
  return CeilToInt(v * 1000);
}

Labels LabelsFromJson(const Json& labels) {
  Labels out;
  if (!labels.is_object()) return out;
  out.reserve(labels.size());
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    if (it.value().is_string()) out.emplace_back(it.key(), it.value().get<std::string>());
  }
  std::sort(out.begin(), out.end());
  return out;
}

const std::string* LabelValue(const Labels& labels, std::string_view key) {
  auto it = std::lower_bound(labels.begin(), labels.end(), key,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  if (it == labels.end() || it->first != key) return nullptr;
  return &it->second;
}

bool Requirement::MatchesValue(const std::string* v) const {
  switch (op) {
    case SelectorOp::kIn:
      return v && std::binary_search(values.begin(), values.end(), *v);
    case SelectorOp::kNotIn:
      return !v || !std::binary_search(values.begin(), values.end(), *v);
    case SelectorOp::kExists:
      return v != nullptr;
    case SelectorOp::kDoesNotExist:
      return v == nullptr;
    case SelectorOp::kGt:
    case SelectorOp::kLt: {
      if (!v || values.size() != 1) return false;
      char* end = nullptr;
      long long a = std::strtoll(v->c_str(), &end, 10);
      if (v->empty() || *end != '\0') return false;
      long long b = std::strtoll(values[0].c_str(), &end, 10);
      if (*end != '\0') return false;
      return op == SelectorOp::kGt ? a > b : a < b;
    }
  }
  return false;
}

bool Requirement::Matches(const Labels& labels) const {
  return MatchesValue(LabelValue(labels, key));
}

bool LabelSelector::Matches(const Labels& labels) const {
  if (nothing) return false;
  for (const auto& r : requirements) {
    if (!r.Matches(labels)) return false;
  }
  return true;
}

absl::StatusOr<LabelSelector> LabelSelector::FromJson(const Json& selector) {
  LabelSelector sel;
  if (selector.is_null()) {
    sel.nothing = true;
    return sel;
  }
  if (!selector.is_object()) return Invalid("label selector must be an object");
  const Json& ml = Field(selector, "matchLabels");
  if (ml.is_object()) {
    for (auto it = ml.begin(); it != ml.end(); ++it) {
      if (!it.value().is_string()) continue;
      sel.requirements.push_back({it.key(), SelectorOp::kIn, {it.value().get<std::string>()}});
    }
  }
  KORRAL_ASSIGN_OR_RETURN(auto exprs, ParseExpressions(Field(selector, "matchExpressions")));
  for (auto& e : exprs) {
    if (e.op == SelectorOp::kGt || e.op == SelectorOp::kLt) {
      return Invalid(fmt::format("{} is not a valid label selector operator",
                                 e.op == SelectorOp::kGt ? "Gt" : "Lt"));
    }
    sel.requirements.push_back(std::move(e));
  }
  return sel;
}

absl::StatusOr<NodeSelector> ParseNodeSelector(const Json& selector) {
  NodeSelector ns;
  const Json& terms = Field(selector, "nodeSelectorTerms");
  if (!terms.is_array()) return ns;
  for (const Json& t : terms) {
    KORRAL_ASSIGN_OR_RETURN(auto term, ParseNodeSelectorTerm(t));
    ns.terms.push_back(std::move(term));
  }
  return ns;
}

bool NodeSelectorTerm::Matches(const Labels& labels, const std::string& node_name) const {
  if (match_expressions.empty() && match_fields.empty()) return false;
  for (const auto& r : match_expressions) {
    if (!r.Matches(labels)) return false;
  }
  for (const auto& r : match_fields) {
    if (r.key != "metadata.name") return false;
    if (!r.MatchesValue(&node_name)) return false;
  }
  return true;
}

bool NodeSelector::Matches(const Labels& labels, const std::string& node_name) const {
  for (const auto& t : terms) {
    if (t.Matches(labels, node_name)) return true;
  }
  return false;
}

int64_t Resource::Scalar(std::string_view name) const {
  for (const auto& [k, v] : scalar) {
    if (k == name) return v;
  }
  return 0;
}

void Resource::AddScalar(const std::string& name, int64_t v) {
  for (auto& [k, x] : scalar) {
    if (k == name) {
      x += v;
      return;
    }
  }
  scalar.emplace_back(name, v);
  std::sort(scalar.begin(), scalar.end());
}

void Resource::Add(const Resource& r) {
  milli_cpu += r.milli_cpu;
  memory += r.memory;
  ephemeral_storage += r.ephemeral_storage;
  allowed_pods += r.allowed_pods;
  for (const auto& [k, v] : r.scalar) AddScalar(k, v);
}

void Resource::Sub(const Resource& r) {
  milli_cpu -= r.milli_cpu;
  memory -= r.memory;
  ephemeral_storage -= r.ephemeral_storage;
  allowed_pods -= r.allowed_pods;
  for (const auto& [k, v] : r.scalar) AddScalar(k, -v);
}

void Resource::SetMax(const Resource& r) {
  milli_cpu = std::max(milli_cpu, r.milli_cpu);
  memory = std::max(memory, r.memory);
  ephemeral_storage = std::max(ephemeral_storage, r.ephemeral_storage);
  allowed_pods = std::max(allowed_pods, r.allowed_pods);
  for (const auto& [k, v] : r.scalar) {
    int64_t cur = Scalar(k);
    if (v > cur) AddScalar(k, v - cur);
  }
}

bool Resource::IsZero() const {
  if (milli_cpu || memory || ephemeral_storage) return false;
  for (const auto& [k, v] : scalar) {
    if (v) return false;
  }
  return true;
}

int64_t Resource::Get(std::string_view name) const {
  if (name == "cpu") return milli_cpu;
  if (name == "memory") return memory;
  if (name == "ephemeral-storage") return ephemeral_storage;
  if (name == "pods") return allowed_pods;
  return Scalar(name);
}

Resource ResourceFromJson(const Json& list) {
  Resource r;
  if (!list.is_object()) return r;
  for (auto it = list.begin(); it != list.end(); ++it) {
    std::string q = QuantityString(it.value());
    const std::string& name = it.key();
    if (name == "cpu") {
      auto v = ParseQuantityMilli(q);
      if (v.ok()) r.milli_cpu = *v;
    } else {
      auto v = ParseQuantity(q);
      if (!v.ok()) continue;
      if (name == "memory") {
        r.memory = *v;
      } else if (name == "ephemeral-storage") {
        r.ephemeral_storage = *v;
      } else if (name == "pods") {
        r.allowed_pods = *v;
      } else {
        r.AddScalar(name, *v);
      }
    }
  }
  return r;
}

bool Toleration::Tolerates(const Taint& taint) const {
  if (!effect.empty() && effect != taint.effect) return false;
  if (!key.empty() && key != taint.key) return false;
  if (op == "Exists") return true;
  if (op.empty() || op == "Equal") return value == taint.value;
  return false;
}

bool TolerationsTolerate(const std::vector<Toleration>& tolerations, const Taint& taint) {
  for (const auto& t : tolerations) {
    if (t.Tolerates(taint)) return true;
  }
  return false;
}

bool AffinityTerm::Matches(const std::string& pod_ns, const Labels& pod_labels,
                           const Labels* ns_labels) const {
  bool ns_ok = std::binary_search(namespaces.begin(), namespaces.end(), pod_ns);
  if (!ns_ok && namespace_selector) {
    if (namespace_selector->Empty()) {
      ns_ok = true;
    } else if (ns_labels) {
      ns_ok = namespace_selector->Matches(*ns_labels);
    }
  }
  return ns_ok && selector.Matches(pod_labels);
}

std::chrono::system_clock::time_point ParseTime(std::string_view s) {
  std::tm tm{};
  std::string str(s);
  if (str.size() < 19) return {};
  if (!strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return {};
  time_t t = timegm(&tm);
  return std::chrono::system_clock::from_time_t(t);
}

std::string FormatTime(std::chrono::system_clock::time_point t) {
  time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string NormalizeImageName(std::string_view image) {
  std::string s(image);
  auto slash = s.rfind('/');
  std::string last = slash == std::string::npos ? s : s.substr(slash + 1);
  if (last.find(':') == std::string::npos && s.find('@') == std::string::npos) s += ":latest";
  return s;
}

absl::StatusOr<PodInfoPtr> ParsePod(std::shared_ptr<const Json> obj) {
  auto p = std::make_shared<PodInfo>();
  const Json& pod = *obj;
  const Json& meta = Field(pod, "metadata");
  const Json& spec = Field(pod, "spec");
  const Json& status = Field(pod, "status");
  p->ns = Str(meta, "namespace");
  if (p->ns.empty()) p->ns = "default";
  p->name = Str(meta, "name");
  p->uid = Str(meta, "uid");
  p->key = p->ns + "/" + p->name;
  p->resource_version = Str(meta, "resourceVersion");
  p->labels = LabelsFromJson(Field(meta, "labels"));
  p->terminating = !Field(meta, "deletionTimestamp").is_null();
  p->creation = ParseTime(Str(meta, "creationTimestamp"));
  const Json& owners = Field(meta, "ownerReferences");
  if (owners.is_array()) {
    for (const Json& o : owners) {
      const Json& c = Field(o, "controller");
      p->owners.push_back({Str(o, "kind"), Str(o, "name"), c.is_boolean() && c.get<bool>()});
    }
  }
  p->node_name = Str(spec, "nodeName");
  std::string sn = Str(spec, "schedulerName");
  if (!sn.empty()) p->scheduler_name = sn;
  const Json& prio = Field(spec, "priority");
  if (prio.is_number_integer()) p->priority = prio.get<int32_t>();
  p->preempt_never = Str(spec, "preemptionPolicy") == "Never";
  p->nominated_node_name = Str(status, "nominatedNodeName");
  p->phase = Str(status, "phase");
  std::string st = Str(status, "startTime");
  p->start_time = st.empty() ? p->creation : ParseTime(st);

  // Resources: max(sum(containers) + sidecars, each init container (+ sidecars before it)).
  Resource sum;
  const Json& containers = Field(spec, "containers");
  bool any_cpu_mem = false;
  if (containers.is_array()) {
    for (const Json& c : containers) {
      int64_t nc = 0, nm = 0;
      bool has = false;
      sum.Add(ContainerRequests(c, &nc, &nm, &has));
      any_cpu_mem |= has;
      p->non_zero_cpu += nc;
      p->non_zero_memory += nm;
      std::string image = Str(c, "image");
      if (!image.empty()) p->images.push_back(NormalizeImageName(image));
      const Json& ports = Field(c, "ports");
      if (ports.is_array()) {
        for (const Json& port : ports) {
          const Json& hp = Field(port, "hostPort");
          if (!hp.is_number_integer() || hp.get<int32_t>() == 0) continue;
          HostPort h;
          h.port = hp.get<int32_t>();
          h.protocol = Str(port, "protocol");
          if (h.protocol.empty()) h.protocol = "TCP";
          h.ip = Str(port, "hostIP");
          if (h.ip.empty()) h.ip = "0.0.0.0";
          p->host_ports.push_back(h);
        }
      }
    }
  }
  Resource sidecars;
  Resource init_max;
  const Json& inits = Field(spec, "initContainers");
  if (inits.is_array()) {
    for (const Json& c : inits) {
      bool has = false;
      Resource r = ContainerRequests(c, nullptr, nullptr, &has);
      any_cpu_mem |= has;
      if (Str(c, "restartPolicy") == "Always") {
        sidecars.Add(r);
        Resource with = sidecars;
        init_max.SetMax(with);
      } else {
        Resource with = r;
        with.Add(sidecars);
        init_max.SetMax(with);
      }
    }
  }
  sum.Add(sidecars);
  sum.SetMax(init_max);
  const Json& overhead = Field(spec, "overhead");
  if (overhead.is_object()) {
    Resource o = ResourceFromJson(overhead);
    sum.Add(o);
    p->non_zero_cpu += o.milli_cpu;
    p->non_zero_memory += o.memory;
  }
  sum.allowed_pods = 0;
  p->requests = std::move(sum);
  p->best_effort = !any_cpu_mem;

  p->node_selector = LabelsFromJson(Field(spec, "nodeSelector"));
  const Json& tols = Field(spec, "tolerations");
  if (tols.is_array()) {
    for (const Json& t : tols) {
      Toleration tol;
      tol.key = Str(t, "key");
      tol.op = Str(t, "operator");
      if (tol.op.empty()) tol.op = "Equal";
      tol.value = Str(t, "value");
      tol.effect = Str(t, "effect");
      p->tolerations.push_back(std::move(tol));
    }
  }
  const Json& affinity = Field(spec, "affinity");
  const Json& na = Field(affinity, "nodeAffinity");
  const Json& req =
      Field(Field(na, "requiredDuringSchedulingIgnoredDuringExecution"), "nodeSelectorTerms");
  if (req.is_array()) {
    NodeSelector ns;
    for (const Json& t : req) {
      KORRAL_ASSIGN_OR_RETURN(auto term, ParseNodeSelectorTerm(t));
      ns.terms.push_back(std::move(term));
    }
    p->required_node_affinity = std::move(ns);
  }
  const Json& pref = Field(na, "preferredDuringSchedulingIgnoredDuringExecution");
  if (pref.is_array()) {
    for (const Json& t : pref) {
      PreferredSchedulingTerm pt;
      const Json& w = Field(t, "weight");
      pt.weight = w.is_number_integer() ? w.get<int32_t>() : 0;
      KORRAL_ASSIGN_OR_RETURN(pt.preference, ParseNodeSelectorTerm(Field(t, "preference")));
      p->preferred_node_affinity.push_back(std::move(pt));
    }
  }
  auto parse_terms = [&](const Json& block, std::vector<AffinityTerm>* required,
                         std::vector<AffinityTerm>* preferred) -> absl::Status {
    const Json& r = Field(block, "requiredDuringSchedulingIgnoredDuringExecution");
    if (r.is_array()) {
      for (const Json& t : r) {
        KORRAL_ASSIGN_OR_RETURN(auto term, ParseAffinityTerm(t, p->ns, 1));
        required->push_back(std::move(term));
      }
    }
    const Json& pr = Field(block, "preferredDuringSchedulingIgnoredDuringExecution");
    if (pr.is_array()) {
      for (const Json& t : pr) {
        const Json& w = Field(t, "weight");
        KORRAL_ASSIGN_OR_RETURN(auto term,
                                ParseAffinityTerm(Field(t, "podAffinityTerm"), p->ns,
                                                  w.is_number_integer() ? w.get<int32_t>() : 0));
        preferred->push_back(std::move(term));
      }
    }
    return absl::OkStatus();
  };
  KORRAL_RETURN_IF_ERROR(
      parse_terms(Field(affinity, "podAffinity"), &p->required_affinity, &p->preferred_affinity));
  KORRAL_RETURN_IF_ERROR(parse_terms(Field(affinity, "podAntiAffinity"), &p->required_anti_affinity,
                                     &p->preferred_anti_affinity));

  const Json& tsc = Field(spec, "topologySpreadConstraints");
  if (tsc.is_array()) {
    for (const Json& c : tsc) {
      TopologySpreadConstraint t;
      const Json& ms = Field(c, "maxSkew");
      t.max_skew = ms.is_number_integer() ? ms.get<int32_t>() : 1;
      t.topology_key = Str(c, "topologyKey");
      t.hard = Str(c, "whenUnsatisfiable") != "ScheduleAnyway";
      KORRAL_ASSIGN_OR_RETURN(t.selector, LabelSelector::FromJson(Field(c, "labelSelector")));
      // matchLabelKeys: the pod's own values are ANDed into the selector.
      const Json& mlk = Field(c, "matchLabelKeys");
      if (mlk.is_array()) {
        for (const Json& k : mlk) {
          if (!k.is_string()) continue;
          const std::string* v = LabelValue(p->labels, k.get<std::string>());
          if (v) t.selector.requirements.push_back({k.get<std::string>(), SelectorOp::kIn, {*v}});
        }
      }
      const Json& md = Field(c, "minDomains");
      if (md.is_number_integer()) t.min_domains = md.get<int32_t>();
      t.honor_node_affinity = Str(c, "nodeAffinityPolicy") != "Ignore";
      t.honor_node_taints = Str(c, "nodeTaintsPolicy") == "Honor";
      p->spread_constraints.push_back(std::move(t));
    }
  }
  const Json& gates = Field(spec, "schedulingGates");
  if (gates.is_array()) {
    for (const Json& g : gates) p->scheduling_gates.push_back(Str(g, "name"));
  }
  const Json& volumes = Field(spec, "volumes");
  if (volumes.is_array()) {
    for (const Json& v : volumes) {
      if (!v.is_object()) continue;
      if (v.contains("persistentVolumeClaim")) {
        p->pvc_names.push_back(Str(Field(v, "persistentVolumeClaim"), "claimName"));
        p->pvc_ephemeral.push_back(false);
      } else if (v.contains("ephemeral")) {
        p->pvc_names.push_back(p->name + "-" + Str(v, "name"));
        p->pvc_ephemeral.push_back(true);
      }
      if (v.contains("gcePersistentDisk") || v.contains("awsElasticBlockStore") ||
          v.contains("rbd") || v.contains("iscsi")) {
        p->has_conflict_volumes = true;
      }
    }
  }
  p->object = std::move(obj);
  return PodInfoPtr(std::move(p));
}

PodInfoPtr MakePod(const Json& pod) {
  auto r = ParsePod(std::make_shared<const Json>(pod));
  return r.ok() ? *r : nullptr;
}

int64_t Node::ImageSize(std::string_view n) const {
  auto it = std::lower_bound(images.begin(), images.end(), n,
                             [](const auto& p, std::string_view k) { return p.first < k; });
  if (it == images.end() || it->first != n) return -1;
  return it->second;
}

absl::StatusOr<NodePtr> ParseNode(std::shared_ptr<const Json> obj) {
  auto n = std::make_shared<Node>();
  const Json& node = *obj;
  const Json& meta = Field(node, "metadata");
  const Json& spec = Field(node, "spec");
  const Json& status = Field(node, "status");
  n->name = Str(meta, "name");
  n->labels = LabelsFromJson(Field(meta, "labels"));
  const Json& u = Field(spec, "unschedulable");
  n->unschedulable = u.is_boolean() && u.get<bool>();
  const Json& taints = Field(spec, "taints");
  if (taints.is_array()) {
    for (const Json& t : taints)
      n->taints.push_back({Str(t, "key"), Str(t, "value"), Str(t, "effect")});
  }
  const Json& alloc = Field(status, "allocatable");
  n->allocatable = ResourceFromJson(alloc.is_object() ? alloc : Field(status, "capacity"));
  const Json& images = Field(status, "images");
  if (images.is_array()) {
    for (const Json& im : images) {
      const Json& sz = Field(im, "sizeBytes");
      int64_t size = sz.is_number_integer() ? sz.get<int64_t>() : 0;
      const Json& names = Field(im, "names");
      if (!names.is_array()) continue;
      for (const Json& nm : names) {
        if (nm.is_string()) n->images.emplace_back(NormalizeImageName(nm.get<std::string>()), size);
      }
    }
    std::sort(n->images.begin(), n->images.end());
  }
  n->object = std::move(obj);
  return NodePtr(std::move(n));
}

NodePtr MakeNode(const Json& node) {
  auto r = ParseNode(std::make_shared<const Json>(node));
  return r.ok() ? *r : nullptr;
}

}  // namespace korral::scheduler
