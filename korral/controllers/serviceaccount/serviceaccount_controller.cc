// korral/controllers/serviceaccount/serviceaccount_controller.cc
#include "korral/controllers/serviceaccount/serviceaccount_controller.h"

#include "korral/client/errors.h"

namespace korral::controllers {
namespace {
const client::ResourceRef kServiceAccounts{"", "v1", "serviceaccounts", true};
constexpr char kDefault[] = "default";

bool IsTerminating(const Json& ns) {
  return IsBeingDeleted(ns) ||
         (ns.contains("status") && ns["status"].value("phase", "") == "Terminating");
}
}  // namespace

ServiceAccountController::ServiceAccountController(ControllerContext& ctx)
    : ctx_(ctx),
      namespaces_(ctx.informers->For(client::resources::Namespaces())),
      accounts_(ctx.informers->For(kServiceAccounts)),
      worker_("serviceaccount", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  client::ResourceEventHandler nh;
  nh.on_add = [this](const client::ObjectPtr& o) { worker_.Add(NameOf(*o)); };
  nh.on_update = [this](const client::ObjectPtr&, const client::ObjectPtr& o) {
    worker_.Add(NameOf(*o));
  };
  namespaces_->AddEventHandler(std::move(nh));
  client::ResourceEventHandler sh;
  sh.on_delete = [this](const client::ObjectPtr& o, bool) {
    if (NameOf(*o) == kDefault) worker_.Add(NamespaceOf(*o));
  };
  accounts_->AddEventHandler(std::move(sh));
}

absl::Status ServiceAccountController::Sync(const std::string& ns) {
  auto cached = namespaces_->indexer().Get(ns);
  Json nsobj;
  if (cached) {
    nsobj = *cached;
  } else {
    auto got = ctx_.client->Get(client::resources::Namespaces(), "", ns);
    if (!got.ok()) return client::IsNotFound(got.status()) ? absl::OkStatus() : got.status();
    nsobj = std::move(*got);
  }
  if (IsTerminating(nsobj)) return absl::OkStatus();
  if (accounts_->indexer().Get(ns + "/" + kDefault)) return absl::OkStatus();
  Json sa = {{"apiVersion", "v1"},
             {"kind", "ServiceAccount"},
             {"metadata", {{"name", kDefault}, {"namespace", ns}}}};
  auto created = ctx_.client->Create(kServiceAccounts, ns, sa);
  if (!created.ok() && !client::IsAlreadyExists(created.status())) {
    // A namespace that started terminating refuses new content (Forbidden): nothing to do.
    if (client::HttpCodeOf(created.status()) == 403 || client::IsNotFound(created.status())) {
      return absl::OkStatus();
    }
    return created.status();
  }
  return absl::OkStatus();
}

ControllerDescriptor ServiceAccountControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "serviceaccount-controller";
  d.aliases = {"serviceaccount"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<ServiceAccountController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
