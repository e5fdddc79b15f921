// korral/controllers/rootcacertpublisher/publisher.cc
#include "korral/controllers/rootcacertpublisher/publisher.h"

#include <fstream>
#include <sstream>

#include "korral/base/log.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace {
constexpr char kName[] = "kube-root-ca.crt";
constexpr char kDescription[] =
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters.";
}  // namespace

RootCACertPublisher::RootCACertPublisher(ControllerContext& ctx, std::string root_ca)
    : ctx_(ctx),
      root_ca_(std::move(root_ca)),
      namespaces_(ctx.informers->For(client::resources::Namespaces())),
      configmaps_(ctx.informers->For(client::resources::ConfigMaps())),
      worker_("root-ca-cert-publisher", *ctx.clock,
              [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler nh;
  nh.on_add = [this](const client::ObjectPtr& o) { worker_.Add(NameOf(*o)); };
  nh.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    worker_.Add(NameOf(*o));
  };
  namespaces_->AddEventHandler(std::move(nh));
  client::ResourceEventHandler ch;
  ch.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    if (NameOf(*o) == kName) worker_.Add(NamespaceOf(*o));
  };
  ch.on_delete = [this](const client::ObjectPtr& o, bool) {
    if (NameOf(*o) == kName) worker_.Add(NamespaceOf(*o));
  };
  configmaps_->AddEventHandler(std::move(ch));
}

absl::Status RootCACertPublisher::Sync(const std::string& ns) {
  auto nsobj = namespaces_->indexer().Get(ns);
  if (!nsobj || IsBeingDeleted(*nsobj)) return absl::OkStatus();
  Json data = {{"ca.crt", root_ca_}};
  auto cm = configmaps_->indexer().Get(ns + "/" + kName);
  absl::Status err;
  if (!cm) {
    Json obj = {{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata",
                 {{"name", kName},
                  {"namespace", ns},
                  {"annotations", {{"kubernetes.io/description", kDescription}}}}},
                {"data", data}};
    auto r = ctx_.client->Create(client::resources::ConfigMaps(), ns, obj);
    if (r.ok() || client::IsAlreadyExists(r.status())) return absl::OkStatus();
    err = r.status();
  } else {
    if ((*cm).contains("data") && (*cm)["data"] == data) return absl::OkStatus();
    Json updated = *cm;
    updated["data"] = data;
    if (!updated["metadata"].contains("annotations")) {
      updated["metadata"]["annotations"] = Json::object();
    }
    updated["metadata"]["annotations"]["kubernetes.io/description"] = kDescription;
    auto r = ctx_.client->Update(client::resources::ConfigMaps(), ns, updated);
    if (r.ok() || client::IsNotFound(r.status())) return absl::OkStatus();
    err = r.status();
  }
  // Forbidden: the namespace started terminating.
  if (client::HttpCodeOf(err) == 403) return absl::OkStatus();
  return err;
}

ControllerDescriptor RootCACertPublisherDescriptor() {
  ControllerDescriptor d;
  d.name = "root-ca-certificate-publisher-controller";
  d.aliases = {"root-ca-cert-publisher"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    if (!ctx.options.root_ca_pem.empty()) {
      return std::make_unique<RootCACertPublisher>(ctx, ctx.options.root_ca_pem);
    }
    if (ctx.options.root_ca_file.empty()) {
      KLOG(Info, "root-ca-certificate-publisher: no --root-ca-file, not starting");
      return std::unique_ptr<Controller>();
    }
    std::ifstream in(ctx.options.root_ca_file);
    if (!in) {
      return absl::InvalidArgumentError(
          absl::string_view("cannot read --root-ca-file " + ctx.options.root_ca_file));
    }
    std::stringstream ss;
    ss << in.rdbuf();
    return std::make_unique<RootCACertPublisher>(ctx, ss.str());
  };
  return d;
}

}  // namespace korral::controllers
