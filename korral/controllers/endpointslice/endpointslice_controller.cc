// korral/controllers/endpointslice/endpointslice_controller.cc
#include "korral/controllers/endpointslice/endpointslice_controller.h"

#include <algorithm>
#include <map>

#include "korral/base/status.h"
#include "korral/client/errors.h"
#include "korral/controllers/endpoints/endpoints_controller.h"
#include "korral/controllers/pod_summary.h"

namespace korral::controllers {
namespace {

constexpr char kServiceNameLabel[] = "kubernetes.io/service-name";
constexpr char kManagedByLabel[] = "endpointslice.kubernetes.io/managed-by";
constexpr char kHashAnnotation[] = "endpointslice.korral.dev/content-hash";

std::string AddressType(const std::string& ip) {
  return ip.find(':') != std::string::npos ? "IPv6" : "IPv4";
}

}  // namespace

EndpointSliceController::EndpointSliceController(ControllerContext& ctx, bool mirroring)
    : ctx_(ctx),
      mirroring_(mirroring),
      manager_(mirroring ? "endpointslicemirroring-controller.k8s.io"
                         : "endpointslice-controller.k8s.io"),
      services_(ctx.informers->For(client::resources::Services())),
      pods_(mirroring ? nullptr : ctx.informers->For(client::resources::Pods())),
      endpoints_(mirroring ? ctx.informers->For(client::resources::Endpoints()) : nullptr),
      slices_(ctx.informers->For(kEndpointSlices)),
      worker_(mirroring ? "endpointslicemirroring" : "endpointslice", *ctx.clock,
              [this](const std::string& k) { return Sync(k); }) {
  (void)slices_->AddIndex("service", [](const Json& s) -> std::vector<std::string> {
    auto labels = s["metadata"].value("labels", Json::object());
    if (!labels.contains(kServiceNameLabel)) return {};
    return {NamespaceOf(s) + "/" + labels.value(kServiceNameLabel, "") + "|" +
            labels.value(kManagedByLabel, "")};
  });
  services_->AddEventHandler(EnqueueHandler(worker_));
  if (pods_) pods_->AddEventHandler(PodToServiceHandler(services_->indexer(), worker_));
  if (endpoints_) endpoints_->AddEventHandler(EnqueueHandler(worker_));
  // Our slices changed or vanished behind our back: resync their service.
  auto by_slice = [this](const client::ObjectPtr& s) {
    auto labels = (*s)["metadata"].value("labels", Json::object());
    if (labels.value(kManagedByLabel, "") != manager_) return;
    worker_.Add(NamespaceOf(*s) + "/" + labels.value(kServiceNameLabel, ""));
  };
  client::ResourceEventHandler sh;
  sh.on_update = [by_slice](const client::ObjectPtr&, const client::ObjectPtr& s) { by_slice(s); };
  sh.on_delete = [by_slice](const client::ObjectPtr& s, bool) { by_slice(s); };
  slices_->AddEventHandler(std::move(sh));
}

std::vector<Json> EndpointSliceController::DesiredSlices(const Json& service,
                                                         const std::vector<client::ObjectPtr>& pods,
                                                         size_t max_per_slice) {
  const Json& spec = service["spec"];
  bool publish_not_ready = spec.value("publishNotReadyAddresses", false);
  Json ports = spec.value("ports", Json::array());
  std::map<std::string, std::pair<Json, std::vector<Json>>> groups;  // ports dump -> (ports, eps)
  std::vector<client::ObjectPtr> sorted = pods;
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return NameOf(*a) < NameOf(*b); });
  for (const auto& pp : sorted) {
    const Json& pod = *pp;
    std::string ip = PodIP(pod);
    if (ip.empty() || IsPodTerminated(pod)) continue;
    if (!MapSelectorMatches(spec["selector"], pod["metadata"].value("labels", Json::object()))) {
      continue;
    }
    Json pps = Json::array();
    for (const auto& sp : ports) {
      auto port = ResolveTargetPort(sp, pod);
      if (!port) continue;
      Json p = {{"name", sp.value("name", "")},
                {"port", *port},
                {"protocol", sp.value("protocol", "TCP")}};
      if (sp.contains("appProtocol")) p["appProtocol"] = sp["appProtocol"];
      pps.push_back(p);
    }
    if (pps.empty() && !ports.empty()) continue;
    bool terminating = IsBeingDeleted(pod);
    bool serving = publish_not_ready || IsPodReady(pod);
    Json ep = {{"addresses", {ip}},
               {"conditions",
                {{"ready", publish_not_ready || (serving && !terminating)},
                 {"serving", serving},
                 {"terminating", terminating}}},
               {"targetRef",
                {{"kind", "Pod"},
                 {"namespace", NamespaceOf(pod)},
                 {"name", NameOf(pod)},
                 {"uid", UidOf(pod)}}}};
    std::string node = SpecOf(pod).value("nodeName", "");
    if (!node.empty()) ep["nodeName"] = node;
    std::string hostname = SpecOf(pod).value("hostname", "");
    if (!hostname.empty() && SpecOf(pod).value("subdomain", "") == NameOf(service)) {
      ep["hostname"] = hostname;
    }
    auto& g = groups[pps.dump()];
    g.first = pps;
    g.second.push_back(ep);
  }
  std::vector<Json> out;
  for (auto& [k, g] : groups) {
    for (size_t i = 0; i < g.second.size(); i += max_per_slice) {
      Json eps = Json::array();
      for (size_t j = i; j < std::min(g.second.size(), i + max_per_slice); ++j) {
        eps.push_back(g.second[j]);
      }
      out.push_back({{"ports", g.first}, {"endpoints", eps}});
    }
  }
  if (out.empty()) {
    // Upstream keeps one placeholder slice for a service without endpoints.
    out.push_back({{"ports", Json::array()}, {"endpoints", Json::array()}});
  }
  return out;
}

std::vector<Json> EndpointSliceController::MirroredSlices(const Json& endpoints) {
  std::vector<Json> out;
  for (const auto& s : endpoints.value("subsets", Json::array())) {
    Json eps = Json::array();
    for (const auto& [field, ready] : std::vector<std::pair<std::string, bool>>{
             {"addresses", true}, {"notReadyAddresses", false}}) {
      for (const auto& a : s.value(field, Json::array())) {
        Json ep = {{"addresses", {a.value("ip", "")}},
                   {"conditions", {{"ready", ready}, {"serving", ready}, {"terminating", false}}}};
        if (a.contains("nodeName")) ep["nodeName"] = a["nodeName"];
        if (a.contains("hostname")) ep["hostname"] = a["hostname"];
        if (a.contains("targetRef")) ep["targetRef"] = a["targetRef"];
        eps.push_back(ep);
      }
    }
    Json ports = Json::array();
    for (const auto& p : s.value("ports", Json::array())) {
      Json q = {{"name", p.value("name", "")},
                {"port", p.value("port", 0)},
                {"protocol", p.value("protocol", "TCP")}};
      if (p.contains("appProtocol")) q["appProtocol"] = p["appProtocol"];
      ports.push_back(q);
    }
    out.push_back({{"ports", ports}, {"endpoints", eps}});
  }
  return out;
}

namespace {
int64_t RvOf(const Json& o) {
  std::string rv = client::ResourceVersionOf(o);
  return rv.empty() ? 0 : std::stoll(rv);
}
}  // namespace

bool EndpointSliceController::CacheCaughtUp(const std::string& service_key) {
  std::lock_guard l(written_mu_);
  auto it = written_.find(service_key);
  if (it == written_.end()) return true;
  auto [ns, name] = SplitKey(service_key);
  for (const auto& [slice, rv] : it->second) {
    auto cached = slices_->indexer().Get(ns + "/" + slice);
    if (rv == 0 ? cached != nullptr : (cached == nullptr || RvOf(*cached) < rv)) return false;
  }
  written_.erase(it);
  return true;
}

void EndpointSliceController::RecordWrite(const std::string& service_key, const std::string& slice,
                                          int64_t rv) {
  std::lock_guard l(written_mu_);
  written_[service_key][slice] = rv;
}

absl::Status EndpointSliceController::Reconcile(const Json& service, std::vector<Json> desired) {
  std::string ns = NamespaceOf(service), name = NameOf(service);
  const std::string key = ns + "/" + name;
  auto existing = slices_->indexer().ByIndex("service", ns + "/" + name + "|" + manager_);
  std::sort(existing.begin(), existing.end(),
            [](const auto& a, const auto& b) { return NameOf(*a) < NameOf(*b); });
  Json labels = service["metadata"].value("labels", Json::object());
  labels[kServiceNameLabel] = name;
  labels[kManagedByLabel] = manager_;
  if (SpecOf(service).value("clusterIP", "") == "None") {
    labels["service.kubernetes.io/headless"] = "";
  }
  Json owner = {{"apiVersion", "v1"},    {"kind", "Service"},  {"name", name},
                {"uid", UidOf(service)}, {"controller", true}, {"blockOwnerDeletion", true}};
  std::vector<bool> used(existing.size(), false);
  for (auto& d : desired) {
    std::string type = "IPv4";
    if (!d["endpoints"].empty()) type = AddressType(d["endpoints"][0]["addresses"][0]);
    // Reuse an unused slice with the same ports (and address type), else any unused one.
    int pick = -1;
    for (size_t i = 0; i < existing.size() && pick < 0; ++i) {
      if (!used[i] && (*existing[i]).value("ports", Json::array()) == d["ports"] &&
          (*existing[i]).value("addressType", "") == type) {
        pick = static_cast<int>(i);
      }
    }
    // The apiserver may default fields of what we wrote, so compare what we last wrote (a hash
    // kept in an annotation) rather than the stored fields.
    std::string hash = std::to_string(std::hash<std::string>{}(d.dump()));
    if (pick >= 0) {
      used[pick] = true;
      const Json& cur = *existing[pick];
      if (cur["metadata"].value("annotations", Json::object()).value(kHashAnnotation, "") == hash &&
          cur.value("endpoints", Json::array()).size() == d["endpoints"].size() &&
          cur["metadata"].value("labels", Json::object()) == labels) {
        continue;
      }
      Json updated = cur;
      updated["metadata"]["annotations"][kHashAnnotation] = hash;
      updated["endpoints"] = d["endpoints"];
      updated["ports"] = d["ports"];
      updated["metadata"]["labels"] = labels;
      auto u = ctx_.client->Update(kEndpointSlices, ns, updated);
      if (!u.ok() && !client::IsNotFound(u.status())) return u.status();
      if (u.ok()) RecordWrite(key, NameOf(*u), RvOf(*u));
      continue;
    }
    Json slice = {{"apiVersion", "discovery.k8s.io/v1"},
                  {"kind", "EndpointSlice"},
                  {"metadata",
                   {{"generateName", name + "-"},
                    {"namespace", ns},
                    {"labels", labels},
                    {"annotations", {{kHashAnnotation, hash}}},
                    {"ownerReferences", {owner}}}},
                  {"addressType", type},
                  {"endpoints", d["endpoints"]},
                  {"ports", d["ports"]}};
    auto c = ctx_.client->Create(kEndpointSlices, ns, slice);
    if (!c.ok()) {
      if (client::HttpCodeOf(c.status()) == 403) return absl::OkStatus();  // ns terminating
      return c.status();
    }
    RecordWrite(key, NameOf(*c), RvOf(*c));
  }
  for (size_t i = 0; i < existing.size(); ++i) {
    if (used[i]) continue;
    auto d = ctx_.client->Delete(kEndpointSlices, ns, NameOf(*existing[i]));
    if (!d.ok() && !client::IsNotFound(d.status())) return d.status();
    RecordWrite(key, NameOf(*existing[i]), 0);
  }
  return absl::OkStatus();
}

absl::Status EndpointSliceController::Sync(const std::string& key) {
  auto [ns, name] = SplitKey(key);
  if (!CacheCaughtUp(key)) {
    // Our last writes are not in the informer yet: look again shortly.
    worker_.AddAfter(key, std::chrono::milliseconds(50));
    return absl::OkStatus();
  }
  auto svc = services_->indexer().Get(key);
  bool has_selector = svc && SpecOf(*svc).contains("selector") &&
                      (*svc)["spec"]["selector"].is_object() && !(*svc)["spec"]["selector"].empty();
  bool manage = svc && SpecOf(*svc).value("type", "") != "ExternalName" &&
                (mirroring_ ? !has_selector : has_selector);
  client::ObjectPtr eps;
  if (manage && mirroring_) {
    eps = endpoints_->indexer().Get(key);
    if (!eps || (*eps)["metadata"]
                        .value("labels", Json::object())
                        .value("endpointslice.kubernetes.io/skip-mirror", "") == "true") {
      manage = false;
    }
  }
  if (!manage) {
    // Remove the slices we manage for it (the GC would too, through the owner reference).
    for (const auto& s : slices_->indexer().ByIndex("service", key + "|" + manager_)) {
      auto d = ctx_.client->Delete(kEndpointSlices, ns, NameOf(*s));
      if (!d.ok() && !client::IsNotFound(d.status())) return d.status();
    }
    return absl::OkStatus();
  }
  if (mirroring_) return Reconcile(*svc, MirroredSlices(*eps));
  // Only the selected pods are decoded (the pod cache is packed: pod_summary.h).
  return Reconcile(
      *svc, DesiredSlices(*svc, PodsWithLabels(pods_->indexer(), ns, (*svc)["spec"]["selector"])));
}

ControllerDescriptor EndpointSliceControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "endpointslice-controller";
  d.aliases = {"endpointslice"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<EndpointSliceController>(ctx, false);
  };
  return d;
}

ControllerDescriptor EndpointSliceMirroringControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "endpointslice-mirroring-controller";
  d.aliases = {"endpointslicemirroring"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<EndpointSliceController>(ctx, true);
  };
  return d;
}

}  // namespace korral::controllers
