// korral/controllers/resourcequota/resourcequota.cc
#include "korral/controllers/resourcequota/resourcequota.h"

#include <cmath>
#include <set>

#include "korral/api/quota.h"
#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/pod_summary.h"

namespace korral::controllers {
namespace {
const client::ResourceRef kQuotas{"", "v1", "resourcequotas", true};
}  // namespace

std::optional<int64_t> ParseQuantityMilli(const std::string& q) {
  if (q.empty()) return std::nullopt;
  size_t i = 0;
  if (q[0] == '+' || q[0] == '-') ++i;
  while (i < q.size() && (std::isdigit(static_cast<unsigned char>(q[i])) || q[i] == '.')) ++i;
  if (i == 0 || (i == 1 && (q[0] == '+' || q[0] == '-'))) return std::nullopt;
  double n = 0;
  try {
    n = std::stod(q.substr(0, i));
  } catch (...) {
    return std::nullopt;
  }
  std::string suf = q.substr(i);
  double mult = 1;
  if (suf.empty()) {
    mult = 1;
  } else if (suf[0] == 'e' || suf[0] == 'E') {
    try {
      mult = std::pow(10.0, std::stoi(suf.substr(1)));
    } catch (...) {
      return std::nullopt;
    }
  } else {
    static const std::vector<std::pair<std::string, double>> k = {{"n", 1e-9},
                                                                  {"u", 1e-6},
                                                                  {"m", 1e-3},
                                                                  {"k", 1e3},
                                                                  {"M", 1e6},
                                                                  {"G", 1e9},
                                                                  {"T", 1e12},
                                                                  {"P", 1e15},
                                                                  {"E", 1e18},
                                                                  {"Ki", 1024.0},
                                                                  {"Mi", 1048576.0},
                                                                  {"Gi", 1073741824.0},
                                                                  {"Ti", 1099511627776.0},
                                                                  {"Pi", 1125899906842624.0},
                                                                  {"Ei", 1152921504606846976.0}};
    bool found = false;
    for (const auto& [s, m] : k) {
      if (s == suf) {
        mult = m;
        found = true;
      }
    }
    if (!found) return std::nullopt;
  }
  return static_cast<int64_t>(std::ceil(n * mult * 1000 - 1e-6));
}

std::string FormatQuantityMilli(int64_t milli) {
  if (milli % 1000 == 0) return std::to_string(milli / 1000);
  return std::to_string(milli) + "m";
}

ResourceQuotaController::ResourceQuotaController(ControllerContext& ctx)
    : ctx_(ctx),
      quotas_(ctx.informers->For(kQuotas)),
      pods_(ctx.informers->For(client::resources::Pods())),
      services_(ctx.informers->For(client::resources::Services())),
      worker_("resourcequota", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler qh;
  qh.on_add = [this](const client::ObjectPtr& q) { worker_.Add(client::ObjectKey(*q)); };
  qh.on_update = [this](const client::ObjectPtr& o, const client::ObjectPtr& q) {
    // Our own status writes come back as updates: only spec changes matter.
    if ((*o).value("spec", Json::object()) != (*q).value("spec", Json::object())) {
      worker_.Add(client::ObjectKey(*q));
    }
  };
  quotas_->AddEventHandler(std::move(qh));
  client::ResourceEventHandler h;
  h.on_add = [this](const client::ObjectPtr& o) { EnqueueNamespace(NamespaceOf(*o)); };
  h.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    EnqueueNamespace(NamespaceOf(*o));
  };
  h.on_delete = [this](const client::ObjectPtr& o, bool) { EnqueueNamespace(NamespaceOf(*o)); };
  pods_->AddEventHandler(h);
  services_->AddEventHandler(h);
}

ResourceQuotaController::~ResourceQuotaController() { Stop(); }

void ResourceQuotaController::EnqueueNamespace(const std::string& ns) {
  for (const auto& q : quotas_->indexer().ListNamespace(ns)) worker_.Add(client::ObjectKey(*q));
}

void ResourceQuotaController::Run(int workers) {
  worker_.Run(workers);
  resync_ = std::thread([this] {
    std::unique_lock l(stop_mu_);
    while (!stopped_) {
      stop_cv_.wait_for(l, ctx_.options.resource_quota_sync_period);
      if (stopped_) break;
      for (const auto& k : quotas_->indexer().ListKeys()) worker_.Add(k);
    }
  });
}

void ResourceQuotaController::Stop() {
  {
    std::lock_guard l(stop_mu_);
    stopped_ = true;
  }
  stop_cv_.notify_all();
  if (resync_.joinable()) resync_.join();
  worker_.Stop();
}

absl::StatusOr<std::optional<int64_t>> ResourceQuotaController::Usage(const Json& quota,
                                                                      const std::string& ns,
                                                                      const std::string& key) {
  const bool scoped = api::QuotaHasScopes(quota);
  auto count_list = [&](const client::ResourceRef& ref) -> absl::StatusOr<std::optional<int64_t>> {
    int64_t n = 0;
    client::ListOptions opts;
    opts.limit = 500;
    for (int page = 0; page < 100000; ++page) {
      KORRAL_ASSIGN_OR_RETURN(Json list, ctx_.client->List(ref, ns, opts));
      n += static_cast<int64_t>(list.value("items", Json::array()).size());
      std::string next = list["metadata"].value("continue", "");
      if (next.empty()) break;
      opts.continue_token = next;
    }
    return std::optional<int64_t>(n * 1000);
  };
  // Pods are read by summary (the pod cache is packed: pod_summary.h); only the resource sums
  // below decode them.
  std::vector<PodSummaryPtr> pods;
  for (PodSummaryPtr& p : PodSummariesByIndex(pods_->indexer(), client::kNamespaceIndex, ns)) {
    if (p->Terminal()) continue;
    if (scoped) {
      client::ObjectPtr full = pods_->indexer().Get(p->key);
      if (!full || !api::QuotaScopesMatchPod(quota, *full)) continue;
    }
    pods.push_back(std::move(p));
  }
  if (key == "pods" || key == "count/pods") return std::optional<int64_t>(pods.size() * 1000);
  // A scoped quota covers pods only (upstream's validation refuses other resources with scopes).
  static const std::set<std::string> kPodResources = {
      "cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"};
  if (scoped && !kPodResources.count(key)) return std::optional<int64_t>(0);
  auto services = services_->indexer().ListNamespace(ns);
  if (key == "services" || key == "count/services") {
    return std::optional<int64_t>(services.size() * 1000);
  }
  if (key == "services.loadbalancers" || key == "services.nodeports") {
    int64_t n = 0;
    for (const auto& s : services) {
      std::string type = SpecOf(*s).value("type", "ClusterIP");
      if (key == "services.loadbalancers") {
        n += type == "LoadBalancer";
      } else if (type == "NodePort" || type == "LoadBalancer") {
        n += static_cast<int64_t>(SpecOf(*s).value("ports", Json::array()).size());
      }
    }
    return std::optional<int64_t>(n * 1000);
  }
  static const std::map<std::string, client::ResourceRef> kCounted = {
      {"configmaps", {"", "v1", "configmaps", true}},
      {"secrets", {"", "v1", "secrets", true}},
      {"persistentvolumeclaims", {"", "v1", "persistentvolumeclaims", true}},
      {"replicationcontrollers", {"", "v1", "replicationcontrollers", true}},
      {"resourcequotas", {"", "v1", "resourcequotas", true}},
  };
  if (auto it = kCounted.find(key); it != kCounted.end()) return count_list(it->second);
  if (key.rfind("count/", 0) == 0) {
    std::string rest = key.substr(6);
    auto dot = rest.find('.');
    std::string resource = rest.substr(0, dot);
    std::string group = dot == std::string::npos ? "" : rest.substr(dot + 1);
    if (ctx_.discovery == nullptr) return std::optional<int64_t>();
    KORRAL_ASSIGN_OR_RETURN(auto all, ctx_.discovery->ServerPreferredResources());
    for (const auto& r : all) {
      if (r.ref.resource == resource && r.ref.group == group && r.ref.namespaced) {
        return count_list(r.ref);
      }
    }
    return std::optional<int64_t>();
  }
  std::string field, res;
  if (key == "cpu" || key == "requests.cpu") field = "requests", res = "cpu";
  if (key == "memory" || key == "requests.memory") field = "requests", res = "memory";
  if (key == "limits.cpu") field = "limits", res = "cpu";
  if (key == "limits.memory") field = "limits", res = "memory";
  if (field.empty()) return std::optional<int64_t>();
  // TODO(korral): keep per-pod request/limit totals in a summary instead of decoding every pod
  // of the namespace for each resource key of each quota sync.
  int64_t sum = 0;
  for (const PodSummaryPtr& s : pods) {
    client::ObjectPtr p = pods_->indexer().Get(s->key);
    if (!p) continue;
    for (const auto& c : SpecOf(*p).value("containers", Json::array())) {
      if (!c.contains("resources") || !c["resources"].contains(field)) continue;
      const Json& v = c["resources"][field];
      if (!v.contains(res)) continue;
      std::string q = v[res].is_string() ? v[res].get<std::string>() : v[res].dump();
      if (auto m = ParseQuantityMilli(q)) sum += *m;
    }
  }
  return std::optional<int64_t>(sum);
}

absl::Status ResourceQuotaController::Sync(const std::string& key) {
  auto quota = quotas_->indexer().Get(key);
  if (!quota) return absl::OkStatus();
  std::string ns = NamespaceOf(*quota);
  Json hard = SpecOf(*quota).value("hard", Json::object());
  Json used = Json::object();
  for (auto& [k, v] : hard.items()) {
    KORRAL_ASSIGN_OR_RETURN(auto u, Usage(*quota, ns, k));
    if (u) used[k] = FormatQuantityMilli(*u);
  }
  Json status = {{"hard", hard}, {"used", used}};
  // From the cache, as upstream (the controller's role may list and watch quotas, not get
  // them): a stale copy fails the update with a Conflict and the key is retried.
  if (quota->value("status", Json::object()) == status) return absl::OkStatus();
  Json updated = *quota;
  updated["status"] = status;
  auto u = ctx_.client->UpdateStatus(kQuotas, ns, updated);
  if (!u.ok() && !client::IsNotFound(u.status())) return u.status();
  return absl::OkStatus();
}

ControllerDescriptor ResourceQuotaControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "resourcequota-controller";
  d.aliases = {"resourcequota"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<ResourceQuotaController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
