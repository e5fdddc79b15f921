// korral/controllers/endpoints/endpoints_controller.cc
#include "korral/controllers/endpoints/endpoints_controller.h"

#include <algorithm>
#include <map>

#include "korral/client/errors.h"
#include "korral/controllers/pod_summary.h"

namespace korral::controllers {

std::optional<int> ResolveTargetPort(const Json& sp, const Json& pod) {
  if (!sp.contains("targetPort") || sp["targetPort"].is_null()) return sp.value("port", 0);
  const Json& tp = sp["targetPort"];
  if (tp.is_number_integer()) return tp.get<int>();
  if (tp.is_string()) {
    std::string name = tp.get<std::string>();
    if (!name.empty() && std::all_of(name.begin(), name.end(), ::isdigit)) return std::stoi(name);
    if (pod.contains("spec") && SpecOf(pod).contains("containers")) {
      for (const auto& c : pod["spec"]["containers"]) {
        if (!c.contains("ports")) continue;
        for (const auto& p : c["ports"]) {
          if (p.value("name", "") == name &&
              p.value("protocol", "TCP") == sp.value("protocol", "TCP")) {
            return p.value("containerPort", 0);
          }
        }
      }
    }
  }
  return std::nullopt;
}

std::string PodIP(const Json& pod) {
  if (!pod.contains("status") || !pod["status"].is_object()) return "";
  return pod["status"].value("podIP", "");
}

std::vector<std::string> ServicesSelectingPod(const client::Indexer& services, const Json& pod) {
  std::vector<std::string> out;
  const Json labels = pod["metadata"].value("labels", Json::object());
  for (const auto& s : services.ListNamespace(NamespaceOf(pod))) {
    if (!s->contains("spec") || !SpecOf(*s).contains("selector")) continue;
    if (MapSelectorMatches((*s)["spec"]["selector"], labels)) out.push_back(client::ObjectKey(*s));
  }
  return out;
}

client::ResourceEventHandler PodToServiceHandler(const client::Indexer& services,
                                                 QueueWorker& worker) {
  client::ResourceEventHandler h;
  h.on_add = [&](const client::ObjectPtr& p) {
    for (const auto& k : ServicesSelectingPod(services, *p)) worker.Add(k);
  };
  h.on_update = [&](const client::ObjectPtr& o, const client::ObjectPtr& p) {
    for (const auto& k : ServicesSelectingPod(services, *p)) worker.Add(k);
    if ((*o)["metadata"].value("labels", Json::object()) !=
        (*p)["metadata"].value("labels", Json::object())) {
      for (const auto& k : ServicesSelectingPod(services, *o)) worker.Add(k);
    }
  };
  h.on_delete = [&](const client::ObjectPtr& p, bool) {
    for (const auto& k : ServicesSelectingPod(services, *p)) worker.Add(k);
  };
  return h;
}

EndpointsController::EndpointsController(ControllerContext& ctx)
    : ctx_(ctx),
      services_(ctx.informers->For(client::resources::Services())),
      pods_(ctx.informers->For(client::resources::Pods())),
      endpoints_(ctx.informers->For(client::resources::Endpoints())),
      worker_("endpoints", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  services_->AddEventHandler(EnqueueHandler(worker_));
  pods_->AddEventHandler(PodToServiceHandler(services_->indexer(), worker_));
  // Someone changed or deleted an Endpoints we manage: put it back.
  client::ResourceEventHandler eh;
  eh.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& e) {
    if (services_->indexer().Get(client::ObjectKey(*e))) worker_.Add(client::ObjectKey(*e));
  };
  eh.on_delete = [this](const client::ObjectPtr& e, bool) {
    if (services_->indexer().Get(client::ObjectKey(*e))) worker_.Add(client::ObjectKey(*e));
  };
  endpoints_->AddEventHandler(std::move(eh));
}

Json EndpointsController::ComputeSubsets(const Json& service,
                                         const std::vector<client::ObjectPtr>& pods) {
  const Json& spec = service["spec"];
  bool publish_not_ready = spec.value("publishNotReadyAddresses", false);
  Json ports = spec.value("ports", Json::array());
  // address key (ip) -> {address json, ready, ports set}
  struct Entry {
    Json address;
    bool ready;
    std::vector<Json> ports;
  };
  std::map<std::string, Entry> by_ip;
  for (const auto& pp : pods) {
    const Json& pod = *pp;
    std::string ip = PodIP(pod);
    if (ip.empty() || IsPodTerminated(pod)) continue;
    if (IsBeingDeleted(pod) && !publish_not_ready) continue;
    if (!MapSelectorMatches(spec["selector"], pod["metadata"].value("labels", Json::object()))) {
      continue;
    }
    Json addr = {{"ip", ip},
                 {"targetRef",
                  {{"kind", "Pod"},
                   {"namespace", NamespaceOf(pod)},
                   {"name", NameOf(pod)},
                   {"uid", UidOf(pod)}}}};
    std::string node = SpecOf(pod).value("nodeName", "");
    if (!node.empty()) addr["nodeName"] = node;
    std::string hostname = SpecOf(pod).value("hostname", "");
    if (!hostname.empty() && SpecOf(pod).value("subdomain", "") == NameOf(service) &&
        NamespaceOf(service) == NamespaceOf(pod)) {
      addr["hostname"] = hostname;
    }
    Entry e{addr, publish_not_ready || IsPodReady(pod), {}};
    for (const auto& sp : ports) {
      auto port = ResolveTargetPort(sp, pod);
      if (!port) continue;
      Json epp = {{"port", *port}, {"protocol", sp.value("protocol", "TCP")}};
      if (sp.contains("name") && !sp["name"].get<std::string>().empty()) epp["name"] = sp["name"];
      if (sp.contains("appProtocol")) epp["appProtocol"] = sp["appProtocol"];
      e.ports.push_back(epp);
    }
    if (e.ports.empty() && !ports.empty()) continue;
    std::sort(e.ports.begin(), e.ports.end(), [](const Json& a, const Json& b) {
      return a.value("name", "") + "/" + std::to_string(a.value("port", 0)) <
             b.value("name", "") + "/" + std::to_string(b.value("port", 0));
    });
    by_ip[ip] = std::move(e);
  }
  // Repack: one subset per distinct port list.
  std::map<std::string, Json> subsets;
  for (auto& [ip, e] : by_ip) {
    std::string k = Json(e.ports).dump();
    Json& s = subsets[k];
    if (s.is_null()) s = Json::object();
    s[e.ready ? "addresses" : "notReadyAddresses"].push_back(e.address);
    s["ports"] = e.ports;
  }
  Json out = Json::array();
  for (auto& [k, s] : subsets) out.push_back(s);
  return out;
}

absl::Status EndpointsController::Sync(const std::string& key) {
  auto [ns, name] = SplitKey(key);
  const auto ep_ref = client::resources::Endpoints();
  auto svc = services_->indexer().Get(key);
  if (!svc) {
    // The Service is gone: its Endpoints go too.
    auto d = ctx_.client->Delete(ep_ref, ns, name);
    if (!d.ok() && !client::IsNotFound(d.status())) return d.status();
    return absl::OkStatus();
  }
  const Json& spec = (*svc)["spec"];
  if (!spec.contains("selector") || !spec["selector"].is_object() || spec["selector"].empty()) {
    return absl::OkStatus();  // selector-less: the user's Endpoints
  }
  if (spec.value("type", "") == "ExternalName") return absl::OkStatus();
  // Only the selected pods are decoded (the pod cache is packed: pod_summary.h).
  Json subsets = ComputeSubsets(*svc, PodsWithLabels(pods_->indexer(), ns, spec["selector"]));
  Json labels = (*svc)["metadata"].value("labels", Json::object());
  if (spec.value("clusterIP", "") == "None") labels["service.kubernetes.io/headless"] = "";

  auto current = endpoints_->indexer().Get(key);
  if (current) {
    Json cur_subsets = current->value("subsets", Json::array());
    Json cur_labels = (*current)["metadata"].value("labels", Json::object());
    if (cur_subsets == subsets && cur_labels == labels) return absl::OkStatus();
    Json updated = *current;
    updated["subsets"] = subsets;
    updated["metadata"]["labels"] = labels;
    if (!updated["metadata"].contains("annotations"))
      updated["metadata"]["annotations"] = Json::object();
    updated["metadata"]["annotations"]["endpoints.kubernetes.io/last-change-trigger-time"] =
        FormatTime(ctx_.clock->Now());
    auto u = ctx_.client->Update(ep_ref, ns, updated);
    if (!u.ok() && !client::IsNotFound(u.status())) return u.status();
    return absl::OkStatus();
  }
  Json ep = {
      {"apiVersion", "v1"},
      {"kind", "Endpoints"},
      {"metadata",
       {{"name", name},
        {"namespace", ns},
        {"labels", labels},
        {"annotations",
         {{"endpoints.kubernetes.io/last-change-trigger-time", FormatTime(ctx_.clock->Now())}}}}},
      {"subsets", subsets}};
  auto c = ctx_.client->Create(ep_ref, ns, ep);
  if (c.ok()) return absl::OkStatus();
  if (client::IsAlreadyExists(c.status())) {
    // Not in our cache yet: update the live one.
    auto live = ctx_.client->Get(ep_ref, ns, name);
    if (!live.ok()) return live.status();
    Json updated = *live;
    updated["subsets"] = subsets;
    updated["metadata"]["labels"] = labels;
    auto u = ctx_.client->Update(ep_ref, ns, updated);
    return u.ok() ? absl::OkStatus() : u.status();
  }
  if (client::HttpCodeOf(c.status()) == 403) return absl::OkStatus();  // namespace terminating
  return c.status();
}

ControllerDescriptor EndpointsControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "endpoints-controller";
  d.aliases = {"endpoint"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<EndpointsController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
