#include "korral/apiserver/security/pipeline.h"

#include <fmt/format.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/protobuf.h"
#include "korral/apiserver/admission/admission.h"
#include "korral/apiserver/audit/audit.h"
#include "korral/apiserver/authn/authn.h"
#include "korral/apiserver/authn/jwt.h"
#include "korral/apiserver/authz/node.h"
#include "korral/apiserver/authz/rbac.h"
#include "korral/apiserver/rbac_bootstrap.h"
#include "korral/apiserver/security/context.h"
#include "korral/apiserver/store.h"
#include "korral/apiserver/watch_cache.h"
#include "korral/base/clock.h"
#include "korral/base/log.h"
#include "korral/base/status.h"

namespace korral::apiserver::security {

using Json = nlohmann::json;
using authn::UserInfo;
using authz::Attributes;
using authz::Decision;

namespace {

thread_local const UserInfo* tl_user = nullptr;
thread_local bool tl_in_request = false;

std::vector<std::string_view> Split(std::string_view path) {
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

bool ParseBool(std::string_view v) {
  return v == "1" || v == "t" || v == "T" || v == "true" || v == "TRUE" || v == "True";
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

http::Response JsonResponse(int code, const Json& body) {
  http::Response r;
  r.status = code;
  r.body = body.dump();
  return r;
}

http::Response StatusResponse(const absl::Status& s) {
  return JsonResponse(apierrors::HttpCode(s), apierrors::ToStatusObject(s));
}

std::string S(const Json& j, const char* k) {
  if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return "";
  return j[k].get<std::string>();
}

Json UserJson(const UserInfo& u) {
  Json j = {{"username", u.name}};
  if (!u.uid.empty()) j["uid"] = u.uid;
  if (!u.groups.empty()) j["groups"] = u.groups;
  if (!u.extra.empty()) j["extra"] = u.extra;
  return j;
}

std::string GroupsList(const UserInfo& u) {
  std::string s = "[";
  for (size_t i = 0; i < u.groups.size(); ++i) s += (i ? " \"" : "\"") + u.groups[i] + "\"";
  return s + "]";
}

std::string NowRfc3339Micro(Clock* clock) {
  auto now = clock->Now();
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000);
}

}  // namespace

// ---- request attributes (upstream's RequestInfoFactory) ---------------------------------------
Attributes RequestAttributes(const http::Request& req) {
  Attributes a;
  a.path = req.path;
  auto seg = Split(req.path);
  size_t i = 0;
  bool api = false;
  if (seg.size() >= 3 && seg[0] == "api") {
    a.api_version = seg[1];
    i = 2;
    api = true;
  } else if (seg.size() >= 4 && seg[0] == "apis") {
    a.api_group = seg[1];
    a.api_version = seg[2];
    i = 3;
    api = true;
  }
  if (!api) {
    a.resource_request = false;
    a.verb = Lower(req.method);
    a.api_group.clear();
    a.api_version.clear();
    return a;
  }
  std::vector<std::string_view> rest(seg.begin() + static_cast<long>(i), seg.end());
  bool watch_prefix = false;
  if (!rest.empty() && rest[0] == "watch") {
    watch_prefix = true;
    rest.erase(rest.begin());
  }
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() > 1) {
    a.ns = rest[1];
    if (rest.size() > 2 && !(rest.size() == 3 && (rest[2] == "status" || rest[2] == "finalize"))) {
      rest.erase(rest.begin(), rest.begin() + 2);
    }
  }
  if (!rest.empty()) a.resource = rest[0];
  if (rest.size() > 1) a.name = rest[1];
  if (rest.size() > 2) a.subresource = rest[2];
  const std::string& m = req.method;
  bool watch = watch_prefix;
  if (auto w = req.Query("watch")) watch = watch || ParseBool(*w);
  if (m == "POST") {
    a.verb = "create";
  } else if (m == "GET" || m == "HEAD") {
    a.verb = a.name.empty() ? (watch ? "watch" : "list") : (watch ? "watch" : "get");
  } else if (m == "PUT") {
    a.verb = "update";
  } else if (m == "PATCH") {
    a.verb = "patch";
  } else if (m == "DELETE") {
    a.verb = a.name.empty() ? "deletecollection" : "delete";
  } else {
    a.verb = Lower(m);
  }
  // list/watch with a metadata.name field selector is about that one object.
  if ((a.verb == "list" || a.verb == "watch") && a.name.empty()) {
    if (auto fs = req.Query("fieldSelector")) {
      std::string_view f = *fs;
      constexpr std::string_view kPrefix = "metadata.name=";
      if (f.substr(0, kPrefix.size()) == kPrefix && f.find(',') == std::string_view::npos) {
        a.name = std::string(f.substr(kPrefix.size()));
      }
    }
  }
  return a;
}

static std::string ForbiddenMessage(const Attributes& a, const std::string& reason) {
  std::string who = fmt::format("User \"{}\"", a.user ? a.user->name : "");
  std::string msg;
  if (!a.resource_request) {
    msg = fmt::format("{} cannot {} path \"{}\"", who, a.verb, a.path);
  } else {
    std::string res = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
    std::string scope =
        a.ns.empty() ? "at the cluster scope" : fmt::format("in the namespace \"{}\"", a.ns);
    msg = fmt::format("{} cannot {} resource \"{}\" in API group \"{}\" {}", who, a.verb, res,
                      a.api_group, scope);
  }
  if (!reason.empty()) msg += ": " + reason;
  return msg;
}

absl::Status ForbiddenStatus(const Attributes& a, const std::string& reason) {
  if (!a.resource_request) return apierrors::NewForbidden("", "", ForbiddenMessage(a, reason));
  std::string qr = a.api_group.empty() ? a.resource : a.resource + "." + a.api_group;
  return apierrors::NewForbidden(qr, a.name, ForbiddenMessage(a, reason));
}

const UserInfo* CurrentUser() { return tl_user; }
bool InRequest() { return tl_in_request; }

ScopedUser::ScopedUser(const UserInfo* user)
    : prev_user_(tl_user), prev_in_request_(tl_in_request) {
  tl_user = user;
  tl_in_request = user != nullptr;
}
ScopedUser::~ScopedUser() {
  tl_user = prev_user_;
  tl_in_request = prev_in_request_;
}

namespace {

class Pipeline;

// Marks the RBAC index stale on any RBAC change; feeds pod changes to the node graph.
class RbacSink final : public WatchSink {
 public:
  explicit RbacSink(std::function<void()> on_change) : on_change_(std::move(on_change)) {}
  bool OnEvent(WatchEventType, const ObjectPtr&) override {
    on_change_();
    return true;
  }
  void OnError(const absl::Status& s) override {
    KLOG(Warning, "rbac watch ended: {}", s.ToString());
    on_change_();
  }

 private:
  std::function<void()> on_change_;
};

class PodSink final : public WatchSink {
 public:
  explicit PodSink(authz::NodeGraph* graph) : graph_(graph) {}
  bool OnEvent(WatchEventType type, const ObjectPtr& obj) override {
    std::lock_guard l(mu_);
    auto it = last_.find(obj->key);
    const Json* before = it == last_.end() ? nullptr : &it->second->object;
    if (type == WatchEventType::kDeleted) {
      graph_->OnPod(before, nullptr);
      if (it != last_.end()) last_.erase(it);
    } else {
      graph_->OnPod(before, &obj->object);
      last_[obj->key] = obj;
    }
    return true;
  }
  void OnError(const absl::Status& s) override {
    KLOG(Warning, "node graph pod watch ended: {}", s.ToString());
  }

 private:
  authz::NodeGraph* graph_;
  std::mutex mu_;
  std::map<std::string, ObjectPtr> last_;
};

class Scope final : public RequestScope {
 public:
  Scope(Pipeline* p, http::Request* req) : pipeline_(p), req_(req) {}
  ~Scope() override;
  void Finish(const http::Response& response) override;

  Pipeline* pipeline_;
  http::Request* req_;
  UserInfo user;                         // the effective user (after impersonation)
  std::optional<UserInfo> impersonator;  // the authenticated user when impersonating
  Attributes attrs;
  std::string decision, reason;
  bool authenticated = false;
  std::unique_ptr<ScopedUser> scoped;
  bool finished = false;
};

class Pipeline final : public SecurityPipeline {
 public:
  Pipeline(SecurityOptions o, Store* store, Clock* clock)
      : options_(std::move(o)), store_(store), clock_(clock), node_authz_(&graph_) {}
  ~Pipeline() override { Stop(); }

  absl::Status Init(const std::string& data_dir) {
    if (options_.service_account_issuers.empty()) {
      options_.service_account_issuers = {kDefaultIssuer};
    }
    std::string key_file = options_.service_account_signing_key_file.empty()
                               ? data_dir + "/tls/service-account.key"
                               : options_.service_account_signing_key_file;
    KORRAL_ASSIGN_OR_RETURN(
        keys_, jwt::KeySet::LoadOrCreate(key_file, options_.service_account_key_files));
    authn::AuthnConfig ac;
    ac.anonymous = options_.anonymous_auth;
    ac.token_auth_file = options_.token_auth_file;
    ac.issuers = options_.service_account_issuers;
    ac.api_audiences = options_.api_audiences;
    ac.sa_keys = keys_.get();
    ac.clock = clock_;
    ac.lookup = [this](std::string_view resource, std::string_view ns, std::string_view name) {
      return Lookup(resource, ns, name);
    };
    KORRAL_ASSIGN_OR_RETURN(authenticator_, authn::Authenticator::Create(std::move(ac)));
    // Authorization modes.
    std::vector<const authz::Authorizer*> chain = {&privileged_};
    std::string modes = options_.authorization_mode;
    size_t p = 0;
    while (p <= modes.size()) {
      size_t c = modes.find(',', p);
      std::string m = modes.substr(p, c == std::string::npos ? std::string::npos : c - p);
      while (!m.empty() && m.front() == ' ') m.erase(m.begin());
      while (!m.empty() && m.back() == ' ') m.pop_back();
      if (m == "RBAC") {
        chain.push_back(&rbac_);
      } else if (m == "Node") {
        chain.push_back(&node_authz_);
      } else if (m == "AlwaysAllow") {
        chain.push_back(&always_);
      } else if (m == "AlwaysDeny") {
        // no-op: nothing else allows
      } else if (!m.empty()) {
        return absl::InvalidArgumentError(fmt::format(
            "--authorization-mode: unknown mode \"{}\"; supported: Node, RBAC, AlwaysAllow, "
            "AlwaysDeny",
            m));
      }
      if (c == std::string::npos) break;
      p = c + 1;
    }
    authorizer_ = std::make_unique<authz::UnionAuthorizer>(chain);
    // CertificateApproval / CertificateSigning ask about extra verbs on "signers".
    auto authorize = [this](const UserInfo& user, const std::string& verb, const std::string& group,
                            const std::string& resource, const std::string& name) {
      Attributes a;
      a.verb = verb;
      a.api_group = group;
      a.api_version = "*";
      a.resource = resource;
      a.name = name;
      return Allowed(user, a);
    };
    KORRAL_ASSIGN_OR_RETURN(admission_,
                            admission::NewChain(store_, options_.enable_admission_plugins,
                                                options_.disable_admission_plugins, authorize));
    if (!options_.audit_policy_file.empty()) {
      std::ifstream in(options_.audit_policy_file);
      if (!in) {
        return absl::InvalidArgumentError("cannot read --audit-policy-file " +
                                          options_.audit_policy_file);
      }
      std::stringstream ss;
      ss << in.rdbuf();
      auto pol = audit::Policy::Parse(ss.str());
      if (!pol.ok()) {
        return absl::InvalidArgumentError(options_.audit_policy_file + ": " +
                                          std::string(pol.status().message()));
      }
      audit_policy_ = std::make_unique<audit::Policy>(std::move(*pol));
      if (options_.audit_log_path.empty()) {
        KLOG(Warning, "--audit-policy-file given without --audit-log-path: no audit log");
      } else {
        KORRAL_ASSIGN_OR_RETURN(
            audit_log_, audit::Logger::Open(options_.audit_log_path, options_.audit_log_maxsize_mb,
                                            options_.audit_log_maxbackup));
      }
    }
    store_->set_admission_hook([this](bool mutating, std::string_view op,
                                      const api::ResourceType& type, std::string_view ns,
                                      std::string_view name, Json* obj, const Json* old,
                                      const WriteOptions& wo) {
      return Admission(mutating, op, type, ns, name, obj, old, wo);
    });
    // Watches.
    for (const char* res : {"roles", "clusterroles", "rolebindings", "clusterrolebindings"}) {
      auto id =
          store_->cache()->Watch(fmt::format("/registry/{}.rbac.authorization.k8s.io/", res), 0,
                                 nullptr, std::make_shared<RbacSink>([this] { MarkDirty(); }));
      if (!id.ok()) return id.status();
      watch_ids_.push_back(*id);
    }
    auto pid =
        store_->cache()->Watch("/registry/pods/", 0, nullptr, std::make_shared<PodSink>(&graph_));
    if (!pid.ok()) return pid.status();
    watch_ids_.push_back(*pid);
    rebuilder_ = std::thread([this] { RebuildLoop(); });
    return absl::OkStatus();
  }

  absl::Status Bootstrap() override {
    const auto& policy = DefaultBootstrapPolicy();
    const api::ResourceType* crt =
        api::FindResourceType("rbac.authorization.k8s.io", "v1", "clusterroles");
    const api::ResourceType* crbt =
        api::FindResourceType("rbac.authorization.k8s.io", "v1", "clusterrolebindings");
    ScopedUser internal(nullptr);
    for (auto [type, list] :
         {std::pair{crt, &policy.cluster_roles}, {crbt, &policy.cluster_role_bindings}}) {
      for (const auto& obj : *list) {
        std::string name = obj["metadata"]["name"];
        if (store_->Get(*type, "", name, std::nullopt).ok()) continue;
        auto r = store_->Create(*type, "", obj, WriteOptions{});
        if (!r.ok() && !apierrors::IsAlreadyExists(r.status())) {
          return absl::InternalError(fmt::format("creating bootstrap {} {}: {}", type->resource,
                                                 name, r.status().ToString()));
        }
      }
    }
    KORRAL_RETURN_IF_ERROR(EnsureSystemPriorityClasses());
    store_->cache()->WaitFresh();
    dirty_.store(true);
    RebuildIfDirty(true);
    return absl::OkStatus();
  }

  // Upstream's built-in PriorityClasses (created at start, recreated when missing).
  absl::Status EnsureSystemPriorityClasses() {
    const api::ResourceType* t =
        api::FindResourceType("scheduling.k8s.io", "v1", "priorityclasses");
    if (t == nullptr) return absl::OkStatus();
    struct Builtin {
      const char* name;
      int64_t value;
      const char* description;
    };
    static constexpr Builtin kBuiltins[] = {
        {"system-node-critical", 2000001000,
         "Used for system critical pods that must not be moved from their current node."},
        {"system-cluster-critical", 2000000000,
         "Used for system critical pods that must run in the cluster, but can be moved to "
         "another node if necessary."},
    };
    for (const auto& b : kBuiltins) {
      if (store_->Get(*t, "", b.name, std::nullopt).ok()) continue;
      Json pc = {
          {"apiVersion", "scheduling.k8s.io/v1"}, {"kind", "PriorityClass"},
          {"metadata", {{"name", b.name}}},       {"value", b.value},
          {"description", b.description},         {"preemptionPolicy", "PreemptLowerPriority"}};
      auto r = store_->Create(*t, "", pc, WriteOptions{});
      if (!r.ok() && !apierrors::IsAlreadyExists(r.status())) {
        return absl::InternalError(
            fmt::format("creating priority class {}: {}", b.name, r.status().ToString()));
      }
    }
    return absl::OkStatus();
  }

  void Stop() override {
    {
      std::lock_guard l(rebuild_mu_);
      if (stopped_) return;
      stopped_ = true;
    }
    rebuild_cv_.notify_all();
    if (rebuilder_.joinable()) rebuilder_.join();
    for (auto id : watch_ids_) store_->cache()->CancelWatch(id);
    watch_ids_.clear();
    store_->set_admission_hook(nullptr);
  }

  std::unique_ptr<RequestScope> Begin(http::Request& req) override;
  void Finish(Scope* scope, const http::Response& resp);

  // ---- authorization -------------------------------------------------------------------------
  Decision Authorize(const Attributes& a, std::string* reason) {
    Decision d = authorizer_->Authorize(a, reason);
    if (d == Decision::kNoOpinion && (dirty_.load() || !store_->cache()->IsFresh())) {
      // A binding written just before this request may not be indexed yet.
      store_->cache()->WaitFresh(std::chrono::seconds(1));
      RebuildIfDirty(false);
      d = authorizer_->Authorize(a, reason);
    }
    return d;
  }

  bool Allowed(const UserInfo& u, Attributes a) {
    a.user = &u;
    std::string reason;
    return Authorize(a, &reason) == Decision::kAllow;
  }

 private:
  friend class Scope;

  Json Lookup(std::string_view resource, std::string_view ns, std::string_view name) {
    const api::ResourceType* t = api::FindResourceType("", "v1", resource);
    if (!t) return Json();
    auto key = Store::Key(*t, ns, name);
    ObjectPtr o = store_->cache()->Get(key);
    if (!o && !store_->cache()->IsFresh()) {
      store_->cache()->WaitFresh(std::chrono::seconds(1));
      o = store_->cache()->Get(key);
    }
    return o ? o->object : Json();
  }

  void MarkDirty() {
    dirty_.store(true);
    rebuild_cv_.notify_all();
  }

  void RebuildLoop() {
    std::unique_lock l(rebuild_mu_);
    while (!stopped_) {
      rebuild_cv_.wait_for(l, std::chrono::seconds(5),
                           [this] { return stopped_ || dirty_.load(); });
      if (stopped_) break;
      if (!dirty_.load()) continue;
      l.unlock();
      // Let a burst of RBAC writes settle into one rebuild.
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      RebuildIfDirty(true);
      l.lock();
    }
  }

  void RebuildIfDirty(bool write_back) {
    std::lock_guard l(index_mu_);
    if (!dirty_.exchange(false)) return;
    authz::RbacIndex::Objects objs;
    auto list = [&](const char* res, std::vector<Json>* out) {
      const api::ResourceType* t = api::FindResourceType("rbac.authorization.k8s.io", "v1", res);
      auto r = store_->cache()->List(Store::Key(*t, "", ""), "", 0, nullptr);
      for (const auto& o : r.items) out->push_back(o->object);
    };
    list("roles", &objs.roles);
    list("clusterroles", &objs.cluster_roles);
    list("rolebindings", &objs.role_bindings);
    list("clusterrolebindings", &objs.cluster_role_bindings);
    auto idx = authz::RbacIndex::Build(objs);
    rbac_.SetIndex(idx);
    if (!write_back) {
      if (!idx->aggregated_updates().empty()) dirty_.store(true);  // the loop writes them back
      return;
    }
    // The clusterrole-aggregation controller: store the aggregated rules.
    const api::ResourceType* crt =
        api::FindResourceType("rbac.authorization.k8s.io", "v1", "clusterroles");
    ScopedUser internal(nullptr);
    for (const auto& [name, rules] : idx->aggregated_updates()) {
      auto r = store_->GuaranteedUpdate(
          *crt, "", name,
          [&rules = rules](const Json& cur) -> absl::StatusOr<Json> {
            Json out = cur;
            out["rules"] = rules;
            out["metadata"].erase("resourceVersion");
            return out;
          },
          WriteOptions{});
      if (!r.ok()) KLOG(Warning, "aggregating clusterrole {}: {}", name, r.status().ToString());
    }
  }

  // ---- admission (called by the Store) -------------------------------------------------------
  absl::Status Admission(bool mutating, std::string_view op, const api::ResourceType& type,
                         std::string_view ns, std::string_view name, Json* obj, const Json* old,
                         const WriteOptions& wo) {
    admission::Request r;
    r.op = op == "CREATE"   ? admission::Operation::kCreate
           : op == "UPDATE" ? admission::Operation::kUpdate
                            : admission::Operation::kDelete;
    r.type = &type;
    r.ns = std::string(ns);
    r.name = std::string(name);
    r.subresource = wo.subresource;
    r.object = obj;
    r.old = old;
    r.user = CurrentUser();
    r.dry_run = wo.dry_run;
    if (!InRequest()) {
      // The apiserver's own writes (bootstrap, quota accounting) are not admitted.
      return absl::OkStatus();
    }
    if (mutating) return admission_->Admit(r);
    KORRAL_RETURN_IF_ERROR(CheckEscalation(r));
    return admission_->Validate(r);
  }

  // RBAC escalation prevention (upstream's rbac registry strategy): a user may create or
  // update a role only with rules they hold (or with the escalate verb), and bind a role only if
  // they hold its rules (or have the bind verb on it).
  absl::Status CheckEscalation(const admission::Request& r) {
    if (r.type->gvk.group != "rbac.authorization.k8s.io" || !r.object || !r.user) {
      return absl::OkStatus();
    }
    const UserInfo& u = *r.user;
    if (u.InGroup(authn::kSystemMasters)) return absl::OkStatus();
    const std::string& res = r.type->resource;
    std::string obj_name = S((*r.object)["metadata"], "name");
    auto idx = rbac_.index();
    std::vector<authz::PolicyRule> owned;
    idx->RulesFor(u, r.ns, &owned);
    auto forbid = [&](const std::vector<authz::PolicyRule>& missing, const std::string& extra) {
      std::string msg = fmt::format(
          "user \"{}\" (groups={}) is attempting to grant RBAC "
          "permissions not currently held:",
          u.name, GroupsList(u));
      for (const auto& m : missing) msg += "\n" + m.String();
      msg += extra;
      return apierrors::NewForbidden(r.type->QualifiedResource(), obj_name, msg);
    };
    if (res == "roles" || res == "clusterroles") {
      Attributes a;
      a.verb = "escalate";
      a.api_group = "rbac.authorization.k8s.io";
      a.resource = res;
      a.ns = r.ns;
      a.name = obj_name;
      if (Allowed(u, a)) return absl::OkStatus();
      std::vector<authz::PolicyRule> wanted, missing;
      if (r.object->contains("rules") && (*r.object)["rules"].is_array()) {
        for (const auto& rule : (*r.object)["rules"])
          wanted.push_back(authz::PolicyRule::FromJson(rule));
      }
      if (authz::Covers(owned, wanted, &missing)) return absl::OkStatus();
      return forbid(missing, "");
    }
    if (res == "rolebindings" || res == "clusterrolebindings") {
      const Json& ref = (*r.object)["roleRef"];
      std::string kind = S(ref, "kind"), rname = S(ref, "name");
      Attributes a;
      a.verb = "bind";
      a.api_group = "rbac.authorization.k8s.io";
      a.resource = kind == "Role" ? "roles" : "clusterroles";
      a.ns = r.ns;
      a.name = rname;
      if (Allowed(u, a)) return absl::OkStatus();
      auto rules = idx->RoleRules(kind, r.ns, rname);
      if (!rules) {
        return apierrors::NewForbidden(
            r.type->QualifiedResource(), obj_name,
            fmt::format("user \"{}\" (groups={}) is attempting to bind to {} \"{}\" which does not "
                        "exist or cannot be checked",
                        u.name, GroupsList(u), kind, rname));
      }
      std::vector<authz::PolicyRule> missing;
      if (authz::Covers(owned, *rules, &missing)) return absl::OkStatus();
      return forbid(missing, "");
    }
    return absl::OkStatus();
  }

  // ---- the security APIs ---------------------------------------------------------------------
  absl::StatusOr<Json> DecodeBody(const http::Request& req) {
    if (req.body.empty()) return apierrors::NewBadRequest("the request body is empty");
    if (protobuf::LooksLikeKubernetesProtobuf(req.body)) {
      auto r = protobuf::DecodeKubernetesProtobuf(req.body);
      if (!r.ok()) return apierrors::NewBadRequest(StatusMessage(r.status()));
      return std::move(*r);
    }
    Json j = Json::parse(req.body, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      return apierrors::NewBadRequest("the request body is not a JSON object");
    }
    return j;
  }

  Attributes ReviewAttributes(const Json& spec, const UserInfo* user, absl::Status* error) {
    Attributes a;
    a.user = user;
    if (spec.contains("resourceAttributes") && spec["resourceAttributes"].is_object()) {
      const Json& ra = spec["resourceAttributes"];
      a.resource_request = true;
      a.ns = S(ra, "namespace");
      a.verb = S(ra, "verb");
      a.api_group = S(ra, "group");
      a.api_version = S(ra, "version");
      a.resource = S(ra, "resource");
      a.subresource = S(ra, "subresource");
      a.name = S(ra, "name");
    } else if (spec.contains("nonResourceAttributes") &&
               spec["nonResourceAttributes"].is_object()) {
      const Json& na = spec["nonResourceAttributes"];
      a.resource_request = false;
      a.path = S(na, "path");
      a.verb = S(na, "verb");
    } else {
      *error = apierrors::NewInvalid("authorization.k8s.io", "SubjectAccessReview", "",
                                     {{"FieldValueRequired",
                                       "Required value: exactly one of nonResourceAttributes or "
                                       "resourceAttributes must be specified",
                                       "spec.resourceAttributes"}});
    }
    return a;
  }

  Json AccessReviewStatus(const Attributes& a) {
    std::string reason;
    Decision d = Authorize(a, &reason);
    Json st = {{"allowed", d == Decision::kAllow}};
    if (d == Decision::kDeny) st["denied"] = true;
    if (!reason.empty()) st["reason"] = reason;
    return st;
  }

  http::Response Review(const http::Request& req, const Attributes& route, const UserInfo& user) {
    auto body = DecodeBody(req);
    if (!body.ok()) return StatusResponse(body.status());
    Json obj = std::move(*body);
    const std::string& res = route.resource;
    if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = Json::object();
    Json& spec = obj["spec"];
    obj["apiVersion"] = route.api_group + "/" + route.api_version;
    if (!obj.contains("metadata") || !obj["metadata"].is_object()) obj["metadata"] = Json::object();
    obj["metadata"]["creationTimestamp"] = nullptr;
    if (res == "selfsubjectaccessreviews" || res == "subjectaccessreviews" ||
        res == "localsubjectaccessreviews") {
      UserInfo subject = user;
      if (res != "selfsubjectaccessreviews") {
        subject = UserInfo{};
        subject.name = S(spec, "user");
        subject.uid = S(spec, "uid");
        if (spec.contains("groups") && spec["groups"].is_array()) {
          for (const auto& g : spec["groups"]) {
            if (g.is_string()) subject.groups.push_back(g);
          }
        }
        if (subject.name.empty() && subject.groups.empty()) {
          return StatusResponse(
              apierrors::NewInvalid("authorization.k8s.io", "SubjectAccessReview", "",
                                    {{"FieldValueRequired",
                                      "Required value: at least one of user or group must be "
                                      "specified",
                                      "spec.user"}}));
        }
      }
      absl::Status err;
      Attributes a = ReviewAttributes(spec, &subject, &err);
      if (!err.ok()) return StatusResponse(err);
      if (res == "localsubjectaccessreviews") {
        if (!a.resource_request || a.ns != route.ns) {
          return StatusResponse(apierrors::NewBadRequest(
              fmt::format("spec.resourceAttributes.namespace must match namespace: {}", route.ns)));
        }
        obj["metadata"]["namespace"] = route.ns;
      }
      obj["kind"] = res == "selfsubjectaccessreviews" ? "SelfSubjectAccessReview"
                    : res == "subjectaccessreviews"   ? "SubjectAccessReview"
                                                      : "LocalSubjectAccessReview";
      obj["status"] = AccessReviewStatus(a);
      return JsonResponse(201, obj);
    }
    if (res == "selfsubjectrulesreviews") {
      obj["kind"] = "SelfSubjectRulesReview";
      std::string ns = S(spec, "namespace");
      std::vector<authz::PolicyRule> rules;
      bool masters = user.InGroup(authn::kSystemMasters);
      if (masters) {
        authz::PolicyRule all;
        all.verbs = {"*"};
        all.api_groups = {"*"};
        all.resources = {"*"};
        rules.push_back(all);
        authz::PolicyRule urls;
        urls.verbs = {"*"};
        urls.non_resource_urls = {"*"};
        rules.push_back(urls);
      }
      rbac_.index()->RulesFor(user, ns, &rules);
      bool incomplete = false;
      std::string node;
      if (authz::NodeIdentity(user, &node)) {
        for (const auto& r : NodeRules()) rules.push_back(authz::PolicyRule::FromJson(r));
        incomplete = true;  // graph-based grants are not listable
      }
      Json rr = Json::array(), nr = Json::array();
      for (const auto& r : rules) {
        Json j = r.ToJson();
        if (!r.non_resource_urls.empty()) {
          nr.push_back({{"verbs", r.verbs}, {"nonResourceURLs", r.non_resource_urls}});
        } else {
          if (!j.contains("apiGroups")) j["apiGroups"] = Json::array();
          if (!j.contains("resources")) j["resources"] = Json::array();
          rr.push_back(j);
        }
      }
      obj["status"] = {{"resourceRules", rr}, {"nonResourceRules", nr}, {"incomplete", incomplete}};
      return JsonResponse(201, obj);
    }
    if (res == "selfsubjectreviews") {
      obj["kind"] = "SelfSubjectReview";
      obj["status"] = {{"userInfo", UserJson(user)}};
      return JsonResponse(201, obj);
    }
    if (res == "tokenreviews") {
      obj["kind"] = "TokenReview";
      std::string token = S(spec, "token");
      std::vector<std::string> auds, matched;
      if (spec.contains("audiences") && spec["audiences"].is_array()) {
        for (const auto& a : spec["audiences"]) {
          if (a.is_string()) auds.push_back(a);
        }
      }
      if (token.empty()) {
        return StatusResponse(apierrors::NewInvalid(
            "authentication.k8s.io", "TokenReview", "",
            {{"FieldValueRequired", "Required value: token must not be empty", "spec.token"}}));
      }
      auto u = authenticator_->AuthenticateToken(token, auds, &matched);
      if (u.ok()) {
        obj["status"] = {{"authenticated", true}, {"user", UserJson(*u)}, {"audiences", matched}};
      } else {
        obj["status"] = {{"authenticated", false},
                         {"user", Json::object()},
                         {"error", std::string(u.status().message())}};
      }
      return JsonResponse(201, obj);
    }
    return StatusResponse(apierrors::NewNotFoundPath());
  }

  http::Response TokenRequest(const http::Request& req, const Attributes& route) {
    auto body = DecodeBody(req);
    if (!body.ok()) return StatusResponse(body.status());
    Json obj = std::move(*body);
    Json sa = Lookup("serviceaccounts", route.ns, route.name);
    if (!sa.is_object())
      return StatusResponse(apierrors::NewNotFound("serviceaccounts", route.name));
    if (!obj.contains("spec") || !obj["spec"].is_object()) obj["spec"] = Json::object();
    Json& spec = obj["spec"];
    int64_t exp = 3600;
    if (spec.contains("expirationSeconds") && spec["expirationSeconds"].is_number_integer()) {
      exp = spec["expirationSeconds"].get<int64_t>();
    }
    if (exp < 600) {
      return StatusResponse(apierrors::NewInvalid(
          "authentication.k8s.io", "TokenRequest", route.name,
          {{"FieldValueInvalid",
            fmt::format("Invalid value: {}: may not specify a duration less than 10 minutes", exp),
            "spec.expirationSeconds"}}));
    }
    if (exp > (int64_t{1} << 32)) {
      return StatusResponse(apierrors::NewInvalid(
          "authentication.k8s.io", "TokenRequest", route.name,
          {{"FieldValueInvalid",
            fmt::format("Invalid value: {}: may not specify a duration larger than 2^32 seconds",
                        exp),
            "spec.expirationSeconds"}}));
    }
    if (options_.service_account_max_token_expiration > 0) {
      exp = std::min(exp, options_.service_account_max_token_expiration);
    }
    spec["expirationSeconds"] = exp;
    std::vector<std::string> auds;
    if (spec.contains("audiences") && spec["audiences"].is_array()) {
      for (const auto& a : spec["audiences"]) {
        if (a.is_string()) auds.push_back(a);
      }
    }
    if (auds.empty()) auds = authenticator_->config().api_audiences;
    spec["audiences"] = auds;
    int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(clock_->Now().time_since_epoch()).count();
    std::string jti = NewUid();
    Json k = {{"namespace", route.ns},
              {"serviceaccount", {{"name", route.name}, {"uid", S(sa["metadata"], "uid")}}}};
    if (spec.contains("boundObjectRef") && spec["boundObjectRef"].is_object()) {
      const Json& ref = spec["boundObjectRef"];
      std::string kind = S(ref, "kind"), bname = S(ref, "name"), buid = S(ref, "uid");
      std::string resource = kind == "Pod" ? "pods" : kind == "Secret" ? "secrets" : "";
      if (resource.empty()) {
        return StatusResponse(apierrors::NewBadRequest(fmt::format(
            "cannot bind token to object of kind \"{}\": supported kinds are Pod and Secret",
            kind)));
      }
      Json bound = Lookup(resource, route.ns, bname);
      if (!bound.is_object()) return StatusResponse(apierrors::NewNotFound(resource, bname));
      std::string actual_uid = S(bound["metadata"], "uid");
      if (!buid.empty() && buid != actual_uid) {
        return StatusResponse(apierrors::NewConflict(
            resource, bname,
            fmt::format("the UID in the bound object reference ({}) does not match the UID in "
                        "record. The object might have been deleted and then recreated",
                        buid)));
      }
      k[kind == "Pod" ? "pod" : "secret"] = {{"name", bname}, {"uid", actual_uid}};
      if (kind == "Pod") {
        std::string node = S(bound.value("spec", Json::object()), "nodeName");
        if (!node.empty()) {
          Json n = Lookup("nodes", "", node);
          if (n.is_object()) k["node"] = {{"name", node}, {"uid", S(n["metadata"], "uid")}};
        }
      }
    }
    Json claims = {{"iss", options_.service_account_issuers.front()},
                   {"aud", auds},
                   {"exp", now + exp},
                   {"iat", now},
                   {"nbf", now},
                   {"jti", jti},
                   {"sub", fmt::format("system:serviceaccount:{}:{}", route.ns, route.name)},
                   {"kubernetes.io", k}};
    auto token = keys_->Sign(claims);
    if (!token.ok())
      return StatusResponse(apierrors::NewInternalError(StatusMessage(token.status())));
    obj["kind"] = "TokenRequest";
    obj["apiVersion"] = "authentication.k8s.io/v1";
    obj["metadata"] = {{"name", route.name},
                       {"namespace", route.ns},
                       {"creationTimestamp", api::FormatTime(clock_->Now())}};
    obj["status"] = {
        {"token", *token},
        {"expirationTimestamp",
         api::FormatTime(std::chrono::system_clock::time_point(std::chrono::seconds(now + exp)))}};
    return JsonResponse(201, obj);
  }

  http::Response OidcDiscovery(bool jwks) {
    http::Response r;
    r.status = 200;
    if (jwks) {
      r.content_type = "application/jwk-set+json";
      r.body = keys_->Jwks().dump();
    } else {
      const std::string& iss = options_.service_account_issuers.front();
      Json doc = {{"issuer", iss},
                  {"jwks_uri", iss + "/openid/v1/jwks"},
                  {"response_types_supported", {"id_token"}},
                  {"subject_types_supported", {"public"}},
                  {"id_token_signing_alg_values_supported", {"RS256"}}};
      r.body = doc.dump();
    }
    r.headers.push_back({"Cache-Control", "public, max-age=3600"});
    return r;
  }

  absl::Status Impersonate(const http::Request& req, Scope* s) {
    std::string_view user_h = req.Header("Impersonate-User");
    std::vector<std::string> groups;
    std::map<std::string, std::vector<std::string>> extra;
    std::string uid;
    bool any = false;
    for (const auto& [k, v] : req.headers) {
      std::string lk = Lower(k);
      if (lk == "impersonate-group") {
        groups.push_back(v);
        any = true;
      } else if (lk == "impersonate-uid") {
        uid = v;
        any = true;
      } else if (lk.rfind("impersonate-extra-", 0) == 0) {
        extra[lk.substr(sizeof("impersonate-extra-") - 1)].push_back(v);
        any = true;
      }
    }
    if (user_h.empty()) {
      if (any) {
        return apierrors::NewBadRequest(
            "requested impersonation of groups, uid or extra without impersonating a user");
      }
      return absl::OkStatus();
    }
    const UserInfo& who = s->user;
    auto check = [&](const char* group, const char* resource, const std::string& ns,
                     const std::string& name) -> absl::Status {
      Attributes a;
      a.user = &who;
      a.verb = "impersonate";
      a.api_group = group;
      a.resource = resource;
      a.ns = ns;
      a.name = name;
      std::string reason;
      if (Authorize(a, &reason) == Decision::kAllow) return absl::OkStatus();
      return ForbiddenStatus(a, reason);
    };
    UserInfo target;
    target.name = std::string(user_h);
    std::string sa_ns, sa_name;
    if (authn::SplitServiceAccountUser(target.name, &sa_ns, &sa_name)) {
      KORRAL_RETURN_IF_ERROR(check("", "serviceaccounts", sa_ns, sa_name));
      target.groups = {authn::kServiceAccountsGroup,
                       std::string(authn::kServiceAccountsGroup) + ":" + sa_ns};
    } else {
      KORRAL_RETURN_IF_ERROR(check("", "users", "", target.name));
    }
    for (const auto& g : groups) {
      KORRAL_RETURN_IF_ERROR(check("", "groups", "", g));
      if (!target.InGroup(g)) target.groups.push_back(g);
    }
    if (!uid.empty()) {
      KORRAL_RETURN_IF_ERROR(check("authentication.k8s.io", "uids", "", uid));
      target.uid = uid;
    }
    for (const auto& [key, values] : extra) {
      for (const auto& v : values) {
        KORRAL_RETURN_IF_ERROR(
            check("authentication.k8s.io", ("userextras/" + key).c_str(), "", v));
      }
      target.extra[key] = values;
    }
    if (target.name == authn::kAnonymousUser) {
      if (!target.InGroup(authn::kAllUnauthenticated))
        target.groups.push_back(authn::kAllUnauthenticated);
    } else {
      authn::AddAuthenticatedGroup(&target);
    }
    s->impersonator = s->user;
    s->user = std::move(target);
    return absl::OkStatus();
  }

  SecurityOptions options_;
  Store* store_;
  Clock* clock_;
  std::unique_ptr<jwt::KeySet> keys_;
  std::unique_ptr<authn::Authenticator> authenticator_;
  authz::PrivilegedGroupAuthorizer privileged_;
  authz::RbacAuthorizer rbac_;
  authz::NodeGraph graph_;
  authz::NodeAuthorizer node_authz_;
  authz::AlwaysAllowAuthorizer always_;
  std::unique_ptr<authz::UnionAuthorizer> authorizer_;
  std::unique_ptr<admission::Chain> admission_;
  std::unique_ptr<audit::Policy> audit_policy_;
  std::unique_ptr<audit::Logger> audit_log_;
  std::vector<uint64_t> watch_ids_;
  std::atomic<bool> dirty_{true};
  std::mutex index_mu_;
  std::mutex rebuild_mu_;
  std::condition_variable rebuild_cv_;
  bool stopped_ = false;
  std::thread rebuilder_;
};

Scope::~Scope() {
  if (!finished && response) Finish(*response);
}

void Scope::Finish(const http::Response& resp) {
  if (finished) return;
  finished = true;
  scoped.reset();
  pipeline_->Finish(this, resp);
}

std::unique_ptr<RequestScope> Pipeline::Begin(http::Request& req) {
  auto s = std::make_unique<Scope>(this, &req);
  auto user = authenticator_->Authenticate(req);
  s->attrs = RequestAttributes(req);
  if (!user.ok()) {
    KLOG(Debug, "authentication failed for {} {}: {}", req.method, req.path,
         user.status().ToString());
    s->response = StatusResponse(apierrors::NewUnauthorized("Unauthorized"));
    return s;
  }
  s->user = std::move(*user);
  s->authenticated = true;
  if (auto st = Impersonate(req, s.get()); !st.ok()) {
    s->attrs.user = &s->user;
    s->decision = "forbid";
    s->response = StatusResponse(st);
    return s;
  }
  s->attrs.user = &s->user;
  std::string reason;
  Decision d = Authorize(s->attrs, &reason);
  s->reason = reason;
  if (d != Decision::kAllow) {
    s->decision = "forbid";
    s->response = StatusResponse(ForbiddenStatus(s->attrs, reason));
    return s;
  }
  s->decision = "allow";
  s->scoped = std::make_unique<ScopedUser>(&s->user);
  const Attributes& a = s->attrs;
  // The security APIs the pipeline serves itself.
  if (!a.resource_request) {
    if (req.method == "GET" && (a.path == "/.well-known/openid-configuration" ||
                                a.path == "/.well-known/openid-configuration/")) {
      s->response = OidcDiscovery(false);
    } else if (req.method == "GET" &&
               (a.path == "/openid/v1/jwks" || a.path == "/openid/v1/jwks/")) {
      s->response = OidcDiscovery(true);
    }
    return s;
  }
  if (a.verb == "create" && a.name.empty() &&
      ((a.api_group == "authorization.k8s.io" && a.api_version == "v1" &&
        (a.resource == "selfsubjectaccessreviews" || a.resource == "selfsubjectrulesreviews" ||
         a.resource == "subjectaccessreviews" || a.resource == "localsubjectaccessreviews")) ||
       (a.api_group == "authentication.k8s.io" &&
        ((a.resource == "selfsubjectreviews" &&
          (a.api_version == "v1" || a.api_version == "v1beta1" || a.api_version == "v1alpha1")) ||
         (a.resource == "tokenreviews" && a.api_version == "v1"))))) {
    bool namespaced = a.resource == "localsubjectaccessreviews";
    if (namespaced != !a.ns.empty()) {
      s->response = StatusResponse(apierrors::NewNotFoundPath());
    } else {
      s->response = Review(req, a, s->user);
    }
    return s;
  }
  if (a.api_group.empty() && a.resource == "serviceaccounts" && a.subresource == "token" &&
      req.method == "POST") {
    s->response = TokenRequest(req, a);
  }
  return s;
}

void Pipeline::Finish(Scope* s, const http::Response& resp) {
  if (!audit_log_ || !audit_policy_) return;
  const Attributes& a = s->attrs;
  audit::EventAttributes ea;
  ea.user =
      s->authenticated ? (s->impersonator ? s->impersonator->name : s->user.name) : std::string();
  if (s->authenticated) ea.groups = s->impersonator ? s->impersonator->groups : s->user.groups;
  ea.verb = a.verb;
  ea.resource_request = a.resource_request;
  ea.api_group = a.api_group;
  ea.resource = a.resource;
  ea.subresource = a.subresource;
  ea.ns = a.ns;
  ea.name = a.name;
  ea.path = a.path;
  audit::Level level = audit_policy_->LevelFor(ea);
  if (level == audit::Level::kNone) return;
  const http::Request& req = *s->req_;
  Json ev = {{"kind", "Event"},
             {"apiVersion", "audit.k8s.io/v1"},
             {"level", audit::LevelName(level)},
             {"auditID", NewUid()},
             {"stage", "ResponseComplete"},
             {"requestURI", req.target},
             {"verb", a.verb},
             {"user", s->authenticated ? UserJson(s->impersonator ? *s->impersonator : s->user)
                                       : Json{{"username", "system:anonymous"}}},
             {"sourceIPs", Json::array()},
             {"userAgent", std::string(req.Header("User-Agent"))},
             {"responseStatus", {{"metadata", Json::object()}, {"code", resp.status}}},
             {"requestReceivedTimestamp", NowRfc3339Micro(clock_)},
             {"stageTimestamp", NowRfc3339Micro(clock_)}};
  if (s->impersonator) ev["impersonatedUser"] = UserJson(s->user);
  std::string ip = req.remote_address;
  if (auto c = ip.rfind(':'); c != std::string::npos) ip = ip.substr(0, c);
  if (!ip.empty() && ip.front() == '[') ip = ip.substr(1, ip.size() - 2);
  if (!ip.empty()) ev["sourceIPs"].push_back(ip);
  if (a.resource_request) {
    Json ref = {{"resource", a.resource}, {"apiVersion", a.api_version}};
    if (!a.ns.empty()) ref["namespace"] = a.ns;
    if (!a.name.empty()) ref["name"] = a.name;
    if (!a.api_group.empty()) ref["apiGroup"] = a.api_group;
    if (!a.subresource.empty()) ref["subresource"] = a.subresource;
    ev["objectRef"] = ref;
  }
  if (resp.status >= 400) {
    Json body = Json::parse(resp.body, nullptr, false);
    if (body.is_object()) {
      if (body.contains("message")) ev["responseStatus"]["message"] = body["message"];
      if (body.contains("reason")) ev["responseStatus"]["reason"] = body["reason"];
      ev["responseStatus"]["status"] = "Failure";
    }
  }
  if (!s->decision.empty()) {
    ev["annotations"] = {{"authorization.k8s.io/decision", s->decision},
                         {"authorization.k8s.io/reason", s->reason}};
  }
  if (level >= audit::Level::kRequest && !req.body.empty()) {
    Json body = Json::parse(req.body, nullptr, false);
    if (body.is_discarded() && protobuf::LooksLikeKubernetesProtobuf(req.body)) {
      auto r = protobuf::DecodeKubernetesProtobuf(req.body);
      if (r.ok()) body = std::move(*r);
    }
    if (!body.is_discarded()) ev["requestObject"] = body;
  }
  if (level == audit::Level::kRequestResponse && !resp.stream && !resp.body.empty()) {
    Json body = Json::parse(resp.body, nullptr, false);
    if (!body.is_discarded()) ev["responseObject"] = body;
  }
  audit_log_->Write(ev);
}

}  // namespace

absl::StatusOr<std::unique_ptr<SecurityPipeline>> SecurityPipeline::Create(
    const SecurityOptions& options, const std::string& data_dir, Store* store, Clock* clock) {
  auto p = std::make_unique<Pipeline>(options, store, clock ? clock : &Clock::Real());
  KORRAL_RETURN_IF_ERROR(p->Init(data_dir));
  return std::unique_ptr<SecurityPipeline>(std::move(p));
}

}  // namespace korral::apiserver::security
