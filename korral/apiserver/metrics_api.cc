#include "korral/apiserver/metrics_api.h"

#include <fmt/format.h>

#include <atomic>
#include <set>
#include <thread>

#include "korral/apimachinery/errors.h"
#include "korral/apiserver/store.h"
#include "korral/base/clock.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/rest.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

constexpr std::string_view kPrefix = "/apis/metrics.k8s.io/v1beta1/";
constexpr char kApiVersion[] = "metrics.k8s.io/v1beta1";

class HttpsSummaryFetcher final : public KubeletSummaryFetcher {
 public:
  explicit HttpsSummaryFetcher(KubeletClientConfig config) : config_(std::move(config)) {}

  absl::StatusOr<Json> FetchSummary(const std::string& host, int port) override {
    std::string address = host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                                              : fmt::format("{}:{}", host, port);
    KORRAL_ASSIGN_OR_RETURN(client::RestClient * c, ClientFor(address));
    auto r = c->Do("GET", "/stats/summary?only_cpu_and_memory=true");
    if (!r.ok()) {
      return absl::UnavailableError(
          fmt::format("kubelet {}: {}", address, StatusMessage(r.status())));
    }
    if (r->status < 200 || r->status > 299) {
      return absl::UnavailableError(
          fmt::format("kubelet {} answered {} for /stats/summary", address, r->status));
    }
    Json j = Json::parse(r->body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return absl::InvalidArgumentError(fmt::format("kubelet {}: summary is not JSON", address));
    }
    return j;
  }

 private:
  absl::StatusOr<client::RestClient*> ClientFor(const std::string& address) {
    std::lock_guard l(mu_);
    auto it = clients_.find(address);
    if (it != clients_.end()) return it->second.get();
    client::RestConfig rc;
    rc.host = "https://" + address;
    rc.client_cert_pem = config_.client_cert_pem;
    rc.client_key_pem = config_.client_key_pem;
    rc.ca_pem = config_.ca_pem;
    // Verified against --kubelet-certificate-authority when set (korral server: the cluster CA).
    rc.insecure = config_.ca_pem.empty();
    rc.timeout = config_.timeout;
    rc.qps = 0;
    rc.user_agent = "korral-apiserver/metrics";
    KORRAL_ASSIGN_OR_RETURN(auto c, client::RestClient::New(rc));
    auto* raw = c.get();
    clients_[address] = std::move(c);
    return raw;
  }

  KubeletClientConfig config_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<client::RestClient>> clients_;
};

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

http::Response JsonReply(int code, const Json& body) {
  http::Response r;
  r.status = code;
  r.content_type = "application/json";
  r.body = body.dump();
  return r;
}

// Walks object keys without throwing (kubelet answers are untrusted); nullptr if absent.
const Json* At(const Json& obj, std::initializer_list<const char*> keys) {
  const Json* cur = &obj;
  for (const char* k : keys) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(k);
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string StringAt(const Json& obj, std::initializer_list<const char*> keys,
                     std::string fallback = "") {
  const Json* v = At(obj, keys);
  return v && v->is_string() ? v->get<std::string>() : fallback;
}

std::string Name(const Json& obj) { return StringAt(obj, {"metadata", "name"}); }
std::string Namespace(const Json& obj) { return StringAt(obj, {"metadata", "namespace"}); }

bool GetU64(const Json& obj, std::initializer_list<const char*> keys, uint64_t* out) {
  const Json* v = At(obj, keys);
  if (!v || v->is_number_float()) return false;
  if (v->is_number_unsigned()) {
    *out = v->get<uint64_t>();
    return true;
  }
  if (v->is_number_integer() && v->get<int64_t>() >= 0) {
    *out = static_cast<uint64_t>(v->get<int64_t>());
    return true;
  }
  return false;
}

// The kubelet endpoint of a Node: InternalIP (else ExternalIP, else Hostname) and
// status.daemonEndpoints.kubeletEndpoint.Port (default 10250).
std::optional<std::pair<std::string, int>> KubeletAddress(const Json& node) {
  const Json* status = node.contains("status") ? &node["status"] : nullptr;
  if (!status) return std::nullopt;
  std::string host;
  for (const char* want : {"InternalIP", "ExternalIP", "Hostname"}) {
    if (!status->contains("addresses") || !(*status)["addresses"].is_array()) break;
    for (const auto& a : (*status)["addresses"]) {
      if (StringAt(a, {"type"}) == want && !StringAt(a, {"address"}).empty()) {
        host = StringAt(a, {"address"});
        break;
      }
    }
    if (!host.empty()) break;
  }
  if (host.empty()) return std::nullopt;
  int port = 10250;
  uint64_t p = 0;
  if (GetU64(node, {"status", "daemonEndpoints", "kubeletEndpoint", "Port"}, &p) && p > 0 &&
      p < 65536) {
    port = static_cast<int>(p);
  }
  return std::make_pair(host, port);
}

Json Metadata(const Json& obj, const std::string& now) {
  Json md = {{"name", Name(obj)}, {"creationTimestamp", now}};
  std::string ns = Namespace(obj);
  if (!ns.empty()) md["namespace"] = ns;
  if (obj.contains("metadata") && obj["metadata"].contains("labels")) {
    md["labels"] = obj["metadata"]["labels"];
  }
  return md;
}

std::string WindowText(std::chrono::milliseconds w) {
  if (w.count() % 1000 == 0) return fmt::format("{}s", w.count() / 1000);
  return fmt::format("{}ms", w.count());
}

}  // namespace

std::string CpuQuantity(uint64_t n) {
  if (n == 0) return "0";
  if (n % 1'000'000'000 == 0) return fmt::format("{}", n / 1'000'000'000);
  if (n % 1'000'000 == 0) return fmt::format("{}m", n / 1'000'000);
  if (n % 1'000 == 0) return fmt::format("{}u", n / 1'000);
  return fmt::format("{}n", n);
}

std::string MemoryQuantity(uint64_t b) {
  if (b == 0) return "0";
  static const char* kSuffix[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
  int i = 0;
  while (i < 6 && b % 1024 == 0) {
    b /= 1024;
    ++i;
  }
  return fmt::format("{}{}", b, kSuffix[i]);
}

std::unique_ptr<KubeletSummaryFetcher> NewKubeletSummaryFetcher(KubeletClientConfig config) {
  return std::make_unique<HttpsSummaryFetcher>(std::move(config));
}

MetricsApi::MetricsApi(Store* store, Clock* clock, std::unique_ptr<KubeletSummaryFetcher> fetcher,
                       MetricsApiOptions options)
    : store_(store), clock_(clock), fetcher_(std::move(fetcher)), options_(options) {}

MetricsApi::~MetricsApi() = default;

const std::vector<api::ResourceType>& MetricsApi::ResourceTypes() {
  static const std::vector<api::ResourceType> types = [] {
    api::ResourceType nodes;
    nodes.gvk = {"metrics.k8s.io", "v1beta1", "NodeMetrics"};
    nodes.resource = "nodes";
    nodes.list_kind = "NodeMetricsList";
    nodes.namespaced = false;
    nodes.verbs = {"get", "list"};
    api::ResourceType pods;
    pods.gvk = {"metrics.k8s.io", "v1beta1", "PodMetrics"};
    pods.resource = "pods";
    pods.list_kind = "PodMetricsList";
    pods.namespaced = true;
    pods.verbs = {"get", "list"};
    return std::vector<api::ResourceType>{nodes, pods};
  }();
  return types;
}

bool MetricsApi::Handles(std::string_view path) {
  return path.rfind(kPrefix, 0) == 0 && path.size() > kPrefix.size();
}

std::map<std::string, Json> MetricsApi::Summaries(const std::vector<Json>& nodes) {
  struct Job {
    std::string node, host;
    int port;
    absl::StatusOr<Json> result = absl::UnavailableError("not run");
  };
  std::map<std::string, Json> out;
  std::vector<Job> jobs;
  auto now = clock_->SteadyNow();
  {
    std::lock_guard l(mu_);
    for (const auto& n : nodes) {
      std::string name = Name(n);
      auto it = cache_.find(name);
      if (it != cache_.end() && now - it->second.fetched < options_.cache_ttl) {
        if (it->second.summary.ok()) out[name] = *it->second.summary;
        continue;
      }
      auto addr = KubeletAddress(n);
      if (!addr) continue;  // no address yet: no metrics
      jobs.push_back(Job{name, addr->first, addr->second});
    }
  }
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < jobs.size(); i = next++) {
      jobs[i].result = fetcher_->FetchSummary(jobs[i].host, jobs[i].port);
    }
  };
  size_t threads = std::min<size_t>(jobs.size(), std::max(1, options_.max_parallel_fetches));
  if (threads <= 1) {
    worker();
  } else {
    std::vector<std::thread> pool;
    for (size_t i = 0; i < threads; ++i) pool.emplace_back(worker);
    for (auto& t : pool) t.join();
  }
  std::lock_guard l(mu_);
  for (auto& j : jobs) {
    if (!j.result.ok()) {
      KLOG(Debug, "metrics: no summary from node {}: {}", j.node, j.result.status().ToString());
    } else {
      out[j.node] = *j.result;
    }
    cache_[j.node] = CacheEntry{now, std::move(j.result)};
  }
  return out;
}

http::Response MetricsApi::Handle(http::Request& req) {
  auto r = Serve(req);
  if (!r.ok()) {
    return JsonReply(apierrors::HttpCode(r.status()), apierrors::ToStatusObject(r.status()));
  }
  return std::move(*r);
}

absl::StatusOr<http::Response> MetricsApi::Serve(http::Request& req) {
  auto seg = SplitPath(std::string_view(req.path).substr(kPrefix.size()));
  bool nodes = false;
  std::string ns, name;
  if (!seg.empty() && seg[0] == "nodes" && seg.size() <= 2) {
    nodes = true;
    if (seg.size() == 2) name = std::string(seg[1]);
  } else if (seg.size() == 1 && seg[0] == "pods") {
  } else if (seg.size() >= 3 && seg.size() <= 4 && seg[0] == "namespaces" && seg[2] == "pods") {
    ns = std::string(seg[1]);
    if (seg.size() == 4) name = std::string(seg[3]);
  } else {
    return apierrors::NewNotFoundPath();
  }
  const char* qualified = nodes ? "nodes.metrics.k8s.io" : "pods.metrics.k8s.io";
  auto watch = req.Query("watch");
  if (req.method != "GET" || (watch && (*watch == "true" || *watch == "1"))) {
    std::string verb = req.method == "GET" ? "watch" : req.method;
    for (auto& c : verb) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return apierrors::NewMethodNotSupported(qualified, verb);
  }
  const api::ResourceType* node_type = api::FindResourceType("", "v1", "nodes");
  const api::ResourceType* pod_type = api::FindResourceType("", "v1", "pods");
  if (!node_type || !pod_type) return apierrors::NewInternalError("core types missing");
  ListOptions lo;
  if (auto s = req.Query("labelSelector")) lo.label_selector = std::string(*s);
  if (auto s = req.Query("fieldSelector")) lo.field_selector = std::string(*s);
  const std::string now = api::FormatTime(clock_->Now());
  const std::string window = WindowText(options_.window);

  if (nodes) {
    std::vector<Json> node_objs;
    if (!name.empty()) {
      auto n = store_->Get(*node_type, "", name, std::nullopt);
      if (!n.ok()) return apierrors::NewNotFound("nodemetrics.metrics.k8s.io", name);
      node_objs.push_back((*n)->object);
    } else {
      KORRAL_ASSIGN_OR_RETURN(ListResult list, store_->List(*node_type, "", lo));
      for (const auto& o : list.items) node_objs.push_back(o->object);
    }
    auto summaries = Summaries(node_objs);
    Json items = Json::array();
    for (const auto& n : node_objs) {
      auto it = summaries.find(Name(n));
      if (it == summaries.end()) continue;
      uint64_t cpu, mem;
      if (!GetU64(it->second, {"node", "cpu", "usageNanoCores"}, &cpu) ||
          !GetU64(it->second, {"node", "memory", "workingSetBytes"}, &mem)) {
        continue;
      }
      std::string ts = StringAt(it->second, {"node", "cpu", "time"}, now);
      items.push_back({{"metadata", Metadata(n, now)},
                       {"timestamp", ts},
                       {"window", window},
                       {"usage", {{"cpu", CpuQuantity(cpu)}, {"memory", MemoryQuantity(mem)}}}});
    }
    if (!name.empty()) {
      if (items.empty()) return apierrors::NewNotFound("nodemetrics.metrics.k8s.io", name);
      Json one = items[0];
      one["kind"] = "NodeMetrics";
      one["apiVersion"] = kApiVersion;
      return JsonReply(200, one);
    }
    for (auto& i : items) {
      i["kind"] = "NodeMetrics";
      i["apiVersion"] = kApiVersion;
    }
    return JsonReply(200, Json{{"kind", "NodeMetricsList"},
                               {"apiVersion", kApiVersion},
                               {"metadata", Json::object()},
                               {"items", items}});
  }

  // Pods.
  std::vector<Json> pod_objs;
  if (!name.empty()) {
    auto p = store_->Get(*pod_type, ns, name, std::nullopt);
    if (!p.ok()) return apierrors::NewNotFound("podmetrics.metrics.k8s.io", ns + "/" + name);
    pod_objs.push_back((*p)->object);
  } else {
    KORRAL_ASSIGN_OR_RETURN(ListResult list, store_->List(*pod_type, ns, lo));
    for (const auto& o : list.items) pod_objs.push_back(o->object);
  }
  std::set<std::string> node_names;
  for (const auto& p : pod_objs) {
    std::string n = StringAt(p, {"spec", "nodeName"});
    if (!n.empty()) node_names.insert(n);
  }
  std::vector<Json> node_objs;
  for (const auto& n : node_names) {
    auto obj = store_->Get(*node_type, "", n, std::nullopt);
    if (obj.ok()) node_objs.push_back((*obj)->object);
  }
  auto summaries = Summaries(node_objs);
  // (namespace, name) -> the summary's pod entry.
  std::map<std::pair<std::string, std::string>, const Json*> by_pod;
  for (const auto& [node, summary] : summaries) {
    if (!summary.contains("pods") || !summary["pods"].is_array()) continue;
    for (const auto& p : summary["pods"]) {
      if (!At(p, {"podRef"})) continue;
      by_pod[{StringAt(p, {"podRef", "namespace"}), StringAt(p, {"podRef", "name"})}] = &p;
    }
  }
  Json items = Json::array();
  for (const auto& pod : pod_objs) {
    auto it = by_pod.find({Namespace(pod), Name(pod)});
    if (it == by_pod.end()) continue;
    const Json& entry = *it->second;
    std::string uid = StringAt(pod, {"metadata", "uid"});
    std::string entry_uid = StringAt(entry, {"podRef", "uid"});
    if (!uid.empty() && !entry_uid.empty() && uid != entry_uid) continue;  // an older pod
    const Json* entry_containers = At(entry, {"containers"});
    if (!entry_containers || !entry_containers->is_array()) continue;
    Json containers = Json::array();
    bool complete = true;
    std::string ts;
    for (const auto& c : *entry_containers) {
      uint64_t cpu, mem;
      if (!GetU64(c, {"cpu", "usageNanoCores"}, &cpu) ||
          !GetU64(c, {"memory", "workingSetBytes"}, &mem)) {
        complete = false;
        break;
      }
      if (ts.empty()) ts = StringAt(c, {"cpu", "time"});
      containers.push_back(
          {{"name", StringAt(c, {"name"})},
           {"usage", {{"cpu", CpuQuantity(cpu)}, {"memory", MemoryQuantity(mem)}}}});
    }
    if (!complete || containers.empty()) continue;
    items.push_back({{"kind", "PodMetrics"},
                     {"apiVersion", kApiVersion},
                     {"metadata", Metadata(pod, now)},
                     {"timestamp", ts.empty() ? now : ts},
                     {"window", window},
                     {"containers", containers}});
  }
  if (!name.empty()) {
    if (items.empty()) return apierrors::NewNotFound("podmetrics.metrics.k8s.io", ns + "/" + name);
    return JsonReply(200, items[0]);
  }
  return JsonReply(200, Json{{"kind", "PodMetricsList"},
                             {"apiVersion", kApiVersion},
                             {"metadata", Json::object()},
                             {"items", items}});
}

}  // namespace korral::apiserver
