// korral/controllers/namespace/namespace_controller.cc
#include "korral/controllers/namespace/namespace_controller.h"

#include <algorithm>

#include <fmt/format.h>

#include "korral/base/log.h"
#include "korral/base/status.h"
#include "korral/client/errors.h"

namespace korral::controllers {
namespace {

constexpr char kFinalizer[] = "kubernetes";

const std::vector<std::pair<std::string, std::pair<std::string, std::string>>>& OkConditions() {
  // type -> {reason, message} when the condition is False (upstream okReasons/okMessages).
  static const std::vector<std::pair<std::string, std::pair<std::string, std::string>>> k = {
      {"NamespaceDeletionDiscoveryFailure",
       {"ResourcesDiscovered", "All resources successfully discovered"}},
      {"NamespaceDeletionGroupVersionParsingFailure",
       {"ParsedGroupVersions", "All legacy kube types successfully parsed"}},
      {"NamespaceDeletionContentFailure",
       {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"}},
      {"NamespaceContentRemaining", {"ContentRemoved", "All content successfully removed"}},
      {"NamespaceFinalizersRemaining", {"ContentRemoved", "All content successfully removed"}},
  };
  return k;
}

Json Condition(const std::string& type, const std::string& status, const std::string& reason,
               const std::string& message, const std::string& now) {
  return Json{{"type", type},
              {"status", status},
              {"lastTransitionTime", now},
              {"reason", reason},
              {"message", message}};
}

// Merges `fresh` (failing conditions) into status.conditions as upstream updateConditions does;
// returns true if anything changed.
bool UpdateConditions(Json& status, const std::vector<Json>& fresh, const std::string& now) {
  if (!status.contains("conditions") || !status["conditions"].is_array()) {
    status["conditions"] = Json::array();
  }
  Json& conds = status["conditions"];
  bool changed = false;
  for (const auto& [type, ok] : OkConditions()) {
    Json want;
    for (const auto& c : fresh) {
      if (c.value("type", "") == type) want = c;
    }
    if (want.is_null()) want = Condition(type, "False", ok.first, ok.second, now);
    Json* old = nullptr;
    for (auto& c : conds) {
      if (c.value("type", "") == type) old = &c;
    }
    if (old == nullptr) {
      conds.push_back(want);
      changed = true;
    } else if (old->value("status", "") != want["status"] ||
               old->value("message", "") != want["message"] ||
               old->value("reason", "") != want["reason"]) {
      if (old->value("status", "") != want["status"]) (*old)["lastTransitionTime"] = now;
      (*old)["status"] = want["status"];
      (*old)["reason"] = want["reason"];
      (*old)["message"] = want["message"];
      changed = true;
    }
  }
  return changed;
}

bool HasFinalizer(const Json& ns) {
  if (!ns.contains("spec") || !ns["spec"].contains("finalizers")) return false;
  for (const auto& f : ns["spec"]["finalizers"]) {
    if (f == kFinalizer) return true;
  }
  return false;
}

bool NotSupported(const absl::Status& s) {
  int code = client::HttpCodeOf(s);
  return code == 404 || code == 405 || code == 501;
}

}  // namespace

NamespaceController::NamespaceController(ControllerContext& ctx)
    : ctx_(ctx),
      worker_("namespace", *ctx.clock, [this](const std::string& k) { return Sync(k); }) {
  auto* inf = ctx.informers->For(client::resources::Namespaces());
  auto enqueue = [this](const client::ObjectPtr& o) {
    if (IsBeingDeleted(*o)) worker_.Add(NameOf(*o));
  };
  client::ResourceEventHandler h;
  h.on_add = enqueue;
  h.on_update = [enqueue](const client::ObjectPtr&, const client::ObjectPtr& o) { enqueue(o); };
  inf->AddEventHandler(std::move(h));
}

absl::Status NamespaceController::DeleteResource(const ApiResource& r, const std::string& ns,
                                                 Content* content) {
  const Json background = {
      {"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", "Background"}};
  if (r.HasVerb("deletecollection")) {
    auto s = ctx_.client->Delete(r.ref, ns, "", background);
    if (!s.ok() && !NotSupported(s.status())) return s.status();
  }
  // What is left: everything if deletecollection is not supported, else objects that are still
  // finalizing or were created meanwhile.
  KORRAL_ASSIGN_OR_RETURN(Json list, ctx_.client->List(r.ref, ns));
  if (!list.contains("items") || !list["items"].is_array()) return absl::OkStatus();
  int64_t left = 0;
  for (Json item : list["items"]) {
    if (!IsBeingDeleted(item) && r.HasVerb("delete")) {
      auto d = ctx_.client->Delete(r.ref, ns, NameOf(item), background);
      if (!d.ok()) {
        if (client::IsNotFound(d.status())) continue;
        return d.status();
      }
      if (d->value("kind", "") == "Status" || !IsBeingDeleted(*d)) continue;  // gone at once
      item = std::move(*d);
    }
    ++left;
    const Json& meta = item["metadata"];
    if (meta.contains("finalizers") && meta["finalizers"].is_array()) {
      for (const auto& f : meta["finalizers"]) {
        if (f.is_string()) ++content->finalizers[f.get<std::string>()];
      }
    }
    if (r.ref.resource == "pods" && r.ref.group.empty()) {
      // Pods terminate gracefully: wait about their grace period (upstream estimate).
      int64_t grace = meta.value("deletionGracePeriodSeconds", int64_t{0});
      if (item.contains("spec")) {
        grace = std::max(grace, SpecOf(item).value("terminationGracePeriodSeconds", int64_t{0}));
      }
      content->estimate_seconds = std::max(content->estimate_seconds, grace);
    }
  }
  if (left > 0) {
    content->remaining += left;
    content->remaining_by_resource[r.ref.resource + "." + r.ref.group] += left;
  }
  return absl::OkStatus();
}

NamespaceController::Content NamespaceController::DeleteAllContent(const std::string& ns,
                                                                   std::vector<Json>* conditions) {
  Content content;
  std::string now = FormatTime(ctx_.clock->Now());
  if (ctx_.discovery == nullptr) {
    content.errors.push_back("no discovery client");
    conditions->push_back(Condition("NamespaceDeletionDiscoveryFailure", "True", "DiscoveryFailed",
                                    "no discovery client", now));
    return content;
  }
  auto resources = ctx_.discovery->ServerPreferredResources();
  if (!resources.ok()) {
    std::string msg(StatusMessage(resources.status()));
    content.errors.push_back(msg);
    conditions->push_back(
        Condition("NamespaceDeletionDiscoveryFailure", "True", "DiscoveryFailed", msg, now));
    return content;
  }
  std::vector<std::string> failures;
  for (const auto& r : *resources) {
    if (!r.ref.namespaced || !r.HasVerb("list") ||
        !(r.HasVerb("delete") || r.HasVerb("deletecollection"))) {
      continue;
    }
    auto s = DeleteResource(r, ns, &content);
    if (!s.ok()) {
      failures.push_back(fmt::format("{}.{}/{}: {}", r.ref.resource, r.ref.group, r.ref.version,
                                     StatusMessage(s)));
      content.remaining += 1;  // unknown: not done
    }
  }
  if (!failures.empty()) {
    std::sort(failures.begin(), failures.end());
    std::string joined;
    for (const auto& f : failures) joined += (joined.empty() ? "" : ", ") + f;
    conditions->push_back(
        Condition("NamespaceDeletionContentFailure", "True", "ContentDeletionFailed",
                  fmt::format("Failed to delete all resource types, {} remaining: {}",
                              failures.size(), joined),
                  now));
    content.errors.insert(content.errors.end(), failures.begin(), failures.end());
  }
  if (!content.remaining_by_resource.empty()) {
    std::vector<std::string> parts;
    for (const auto& [r, n] : content.remaining_by_resource) {
      parts.push_back(fmt::format("{} has {} resource instances", r, n));
    }
    std::sort(parts.begin(), parts.end());
    std::string joined;
    for (const auto& p : parts) joined += (joined.empty() ? "" : ", ") + p;
    conditions->push_back(Condition("NamespaceContentRemaining", "True", "SomeResourcesRemain",
                                    "Some resources are remaining: " + joined, now));
  }
  if (!content.finalizers.empty()) {
    std::vector<std::string> parts;
    for (const auto& [f, n] : content.finalizers) {
      parts.push_back(fmt::format("{} in {} resource instances", f, n));
    }
    std::sort(parts.begin(), parts.end());
    std::string joined;
    for (const auto& p : parts) joined += (joined.empty() ? "" : ", ") + p;
    conditions->push_back(Condition("NamespaceFinalizersRemaining", "True", "SomeFinalizerRemain",
                                    "Some finalizers are remaining: " + joined, now));
  }
  return content;
}

absl::Status NamespaceController::Sync(const std::string& name) {
  const auto ref = client::resources::Namespaces();
  auto got = ctx_.client->Get(ref, "", name);
  if (!got.ok()) {
    if (client::IsNotFound(got.status())) return absl::OkStatus();
    return got.status();
  }
  Json ns = std::move(*got);
  if (!IsBeingDeleted(ns)) return absl::OkStatus();
  if (!HasFinalizer(ns)) return absl::OkStatus();  // finalized; the apiserver removes it

  std::vector<Json> conditions;
  Content content = DeleteAllContent(name, &conditions);

  // Report progress in the conditions (only when they change).
  Json status = ns.contains("status") && ns["status"].is_object() ? ns["status"] : Json::object();
  status["phase"] = "Terminating";
  if (UpdateConditions(status, conditions, FormatTime(ctx_.clock->Now())) ||
      ns["status"].value("phase", "") != "Terminating") {
    Json updated = ns;
    updated["status"] = status;
    auto u = ctx_.client->UpdateStatus(ref, "", updated);
    if (u.ok()) {
      ns = std::move(*u);
    } else if (client::IsNotFound(u.status())) {
      return absl::OkStatus();
    } else {
      return u.status();  // conflict: retry with a fresh read
    }
  }

  if (!content.errors.empty()) {
    return absl::UnavailableError(
        absl::string_view("namespace " + name + ": " + content.errors.front()));
  }
  if (content.remaining > 0) {
    // Upstream requeues after the estimate (at least a moment, so finalizers can run).
    auto wait = std::chrono::seconds(std::max<int64_t>(content.estimate_seconds / 2, 1));
    KLOG(Info, "namespace {}: {} objects remaining, checking again in {}s", name, content.remaining,
         wait.count());
    worker_.AddAfter(name, wait);
    return absl::OkStatus();
  }

  // Everything is gone: remove our finalizer.
  Json finalized = ns;
  Json kept = Json::array();
  for (const auto& f : ns["spec"]["finalizers"]) {
    if (f != kFinalizer) kept.push_back(f);
  }
  finalized["spec"]["finalizers"] = kept;
  auto f = ctx_.client->Update(ref, "", finalized, "finalize");
  if (!f.ok() && !client::IsNotFound(f.status())) return f.status();
  KLOG(Info, "namespace {}: all content deleted, finalized", name);
  return absl::OkStatus();
}

ControllerDescriptor NamespaceControllerDescriptor() {
  ControllerDescriptor d;
  d.name = "namespace-controller";
  d.aliases = {"namespace"};
  d.factory = [](ControllerContext& ctx) -> absl::StatusOr<std::unique_ptr<Controller>> {
    return std::make_unique<NamespaceController>(ctx);
  };
  return d;
}

}  // namespace korral::controllers
