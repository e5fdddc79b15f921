#include "korral/apiserver/admission/admission.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "korral/api/defaults.h"
#include "korral/api/quota.h"
#include "korral/api/resource.h"
#include "korral/apimachinery/errors.h"
#include "korral/apiserver/admission/storage.h"
#include "korral/apiserver/authz/node.h"
#include "korral/apiserver/store.h"
#include "korral/base/status.h"

namespace korral::apiserver::admission {

using Json = nlohmann::json;

const char* OperationName(Operation op) {
  switch (op) {
    case Operation::kCreate:
      return "CREATE";
    case Operation::kUpdate:
      return "UPDATE";
    case Operation::kDelete:
      return "DELETE";
  }
  return "";
}

bool Request::Is(const char* group, const char* resource) const {
  return type && type->gvk.group == group && type->resource == resource;
}

absl::Status Chain::Admit(Request& r) const {
  for (const auto& p : plugins_) KORRAL_RETURN_IF_ERROR(p->Admit(r));
  return absl::OkStatus();
}

absl::Status Chain::Validate(const Request& r) const {
  for (const auto& p : plugins_) KORRAL_RETURN_IF_ERROR(p->Validate(r));
  return absl::OkStatus();
}

std::vector<std::string> Chain::Names() const {
  std::vector<std::string> out;
  for (const auto& p : plugins_) out.push_back(p->Name());
  return out;
}

namespace {

std::string S(const Json& j, const char* k) {
  if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return "";
  return j[k].get<std::string>();
}
const Json& O(const Json& j, const char* k) {
  static const Json kEmpty = Json::object();
  if (!j.is_object() || !j.contains(k) || !j[k].is_object()) return kEmpty;
  return j[k];
}
const Json& A(const Json& j, const char* k) {
  static const Json kEmpty = Json::array();
  if (!j.is_object() || !j.contains(k) || !j[k].is_array()) return kEmpty;
  return j[k];
}

absl::Status Forbidden(const Request& r, const std::string& msg) {
  std::string name = r.name;
  if (name.empty() && r.object) name = S(O(*r.object, "metadata"), "name");
  return apierrors::NewForbidden(r.type->QualifiedResource(), name, msg);
}

// ---------------- NamespaceLifecycle ----------------
class NamespaceLifecycle final : public Plugin {
 public:
  explicit NamespaceLifecycle(Store* store) : store_(store) {}
  const char* Name() const override { return "NamespaceLifecycle"; }
  absl::Status Validate(const Request& r) override {
    if (r.Is("", "namespaces") && r.op == Operation::kDelete) {
      static const std::set<std::string> kImmortal = {"default", "kube-system", "kube-public"};
      if (kImmortal.count(r.name)) return Forbidden(r, "this namespace may not be deleted");
      return absl::OkStatus();
    }
    if (r.op != Operation::kCreate || !r.type->namespaced || r.ns.empty()) {
      return absl::OkStatus();
    }
    // Creation in a missing or terminating namespace. The store checks too; this is the
    // admission-time check with upstream's message.
    const api::ResourceType* nst = api::FindResourceType("", "v1", "namespaces");
    auto ns = store_->Get(*nst, "", r.ns, std::nullopt);
    if (!ns.ok()) return apierrors::NewNotFound("namespaces", r.ns);
    const Json& meta = O((*ns)->object, "metadata");
    if (meta.contains("deletionTimestamp") && !meta["deletionTimestamp"].is_null()) {
      return Forbidden(r, fmt::format("unable to create new content in namespace {} because it "
                                      "is being terminated",
                                      r.ns));
    }
    return absl::OkStatus();
  }

 private:
  Store* store_;
};

// ---------------- LimitRanger ----------------
class LimitRanger final : public Plugin {
 public:
  explicit LimitRanger(Store* store) : store_(store) {}
  const char* Name() const override { return "LimitRanger"; }

  std::vector<Json> Limits(const std::string& ns) {
    std::vector<Json> out;
    const api::ResourceType* t = api::FindResourceType("", "v1", "limitranges");
    if (!t) return out;
    auto list = store_->List(*t, ns, ListOptions{});
    if (!list.ok()) return out;
    for (const auto& item : list->items) {
      for (const auto& l : A(O(item->object, "spec"), "limits")) {
        if (S(l, "type") == "Container") out.push_back(l);
      }
    }
    return out;
  }

  absl::Status Admit(Request& r) override {
    if (!r.Is("", "pods") || r.op != Operation::kCreate || !r.object) return absl::OkStatus();
    auto limits = Limits(r.ns);
    if (limits.empty()) return absl::OkStatus();
    Json& spec = (*r.object)["spec"];
    for (const char* list : {"containers", "initContainers"}) {
      if (!spec.contains(list) || !spec[list].is_array()) continue;
      for (Json& c : spec[list]) {
        for (const auto& l : limits) {
          Json& res = c["resources"];
          if (!res.is_object()) res = Json::object();
          for (auto [field, from] :
               {std::pair{"limits", "default"}, {"requests", "defaultRequest"}}) {
            const Json& defs = O(l, from);
            for (auto it = defs.begin(); it != defs.end(); ++it) {
              if (!res[field].is_object()) res[field] = Json::object();
              if (!res[field].contains(it.key())) res[field][it.key()] = it.value();
            }
          }
          // A request defaults to the limit when only the limit is known.
          if (res.contains("limits") && res["limits"].is_object()) {
            for (auto it = res["limits"].begin(); it != res["limits"].end(); ++it) {
              if (!res["requests"].is_object()) res["requests"] = Json::object();
              if (!res["requests"].contains(it.key())) res["requests"][it.key()] = it.value();
            }
          }
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Validate(const Request& r) override {
    if (!r.Is("", "pods") || r.op != Operation::kCreate || !r.object) return absl::OkStatus();
    auto limits = Limits(r.ns);
    for (const auto& l : limits) {
      for (const auto& c : A(O(*r.object, "spec"), "containers")) {
        const Json& res = O(c, "resources");
        for (auto [bound, field, cmp] : {std::tuple{"max", "limits", 1}, {"min", "requests", -1}}) {
          const Json& b = O(l, bound);
          for (auto it = b.begin(); it != b.end(); ++it) {
            long double want = 0, have = 0;
            if (!it.value().is_string() ||
                !api::defaults::ParseQuantity(it.value().get<std::string>(), &want))
              continue;
            std::string v = S(O(res, field), it.key().c_str());
            if (v.empty()) {
              if (cmp > 0) {
                return Forbidden(
                    r, fmt::format("maximum {} usage per Container is {}.  No limit is specified",
                                   it.key(), it.value().get<std::string>()));
              }
              continue;
            }
            if (!api::defaults::ParseQuantity(v, &have)) continue;
            if ((cmp > 0 && have > want) || (cmp < 0 && have < want)) {
              return Forbidden(
                  r, fmt::format("{} {} usage per Container is {}, but {} is {}",
                                 cmp > 0 ? "maximum" : "minimum", it.key(),
                                 it.value().get<std::string>(), cmp > 0 ? "limit" : "request", v));
            }
          }
        }
      }
    }
    return absl::OkStatus();
  }

 private:
  Store* store_;
};

// ---------------- ServiceAccount ----------------
class ServiceAccount final : public Plugin {
 public:
  explicit ServiceAccount(Store* store) : store_(store) {}
  const char* Name() const override { return "ServiceAccount"; }
  absl::Status Admit(Request& r) override {
    if (!r.Is("", "pods") || r.op != Operation::kCreate || !r.object) return absl::OkStatus();
    Json& spec = (*r.object)["spec"];
    if (!spec.is_object()) return absl::OkStatus();
    // Mirror pods keep what the kubelet sent.
    if (O(O(*r.object, "metadata"), "annotations").contains("kubernetes.io/config.mirror")) {
      return absl::OkStatus();
    }
    if (S(spec, "serviceAccountName").empty()) spec["serviceAccountName"] = "default";
    std::string sa_name = spec["serviceAccountName"];
    if (spec.contains("automountServiceAccountToken") &&
        spec["automountServiceAccountToken"] == false) {
      return absl::OkStatus();
    }
    const api::ResourceType* sat = api::FindResourceType("", "v1", "serviceaccounts");
    auto sa = store_->Get(*sat, r.ns, sa_name, std::nullopt);
    if (sa.ok() && (*sa)->object.contains("automountServiceAccountToken") &&
        (*sa)->object["automountServiceAccountToken"] == false) {
      return absl::OkStatus();
    }
    // The projected token volume needs the namespace's root CA config map (published by the
    // root-ca-cert-publisher controller); without it the volume could never be set up.
    // TODO(korral): project unconditionally once every namespace has kube-root-ca.crt.
    const api::ResourceType* cmt = api::FindResourceType("", "v1", "configmaps");
    if (!store_->Get(*cmt, r.ns, "kube-root-ca.crt", std::nullopt).ok()) return absl::OkStatus();
    for (const auto& v : A(spec, "volumes")) {
      if (S(v, "name").rfind("kube-api-access-", 0) == 0) return absl::OkStatus();
    }
    static const char kAlnum[] = "bcdfghjklmnpqrstvwxz2456789";
    std::string name = "kube-api-access-";
    std::string uid = NewUid();
    for (int i = 0; i < 5; ++i) name.push_back(kAlnum[static_cast<unsigned char>(uid[i * 3]) % 27]);
    Json vol = {
        {"name", name},
        {"projected",
         {{"defaultMode", 420},
          {"sources",
           Json::array(
               {{{"serviceAccountToken", {{"expirationSeconds", 3607}, {"path", "token"}}}},
                {{"configMap",
                  {{"name", "kube-root-ca.crt"},
                   {"items", Json::array({{{"key", "ca.crt"}, {"path", "ca.crt"}}})}}}},
                {{"downwardAPI",
                  {{"items", Json::array({{{"path", "namespace"},
                                           {"fieldRef",
                                            {{"apiVersion", "v1"},
                                             {"fieldPath", "metadata.namespace"}}}}})}}}}})}}}};
    if (!spec["volumes"].is_array()) spec["volumes"] = Json::array();
    spec["volumes"].push_back(vol);
    for (const char* list : {"containers", "initContainers"}) {
      if (!spec.contains(list) || !spec[list].is_array()) continue;
      for (Json& c : spec[list]) {
        bool has = false;
        for (const auto& m : A(c, "volumeMounts")) {
          if (S(m, "mountPath") == "/var/run/secrets/kubernetes.io/serviceaccount") has = true;
        }
        if (has) continue;
        if (!c["volumeMounts"].is_array()) c["volumeMounts"] = Json::array();
        c["volumeMounts"].push_back(
            {{"name", name},
             {"readOnly", true},
             {"mountPath", "/var/run/secrets/kubernetes.io/serviceaccount"}});
      }
    }
    return absl::OkStatus();
  }

 private:
  Store* store_;
};

// ---------------- NodeRestriction ----------------
class NodeRestriction final : public Plugin {
 public:
  const char* Name() const override { return "NodeRestriction"; }
  absl::Status Validate(const Request& r) override {
    std::string node;
    if (!r.user || !authz::NodeIdentity(*r.user, &node)) return absl::OkStatus();
    const Json* obj = r.object ? r.object : r.old;
    if (r.Is("", "pods")) {
      const Json& cur = r.old ? *r.old : *obj;
      std::string pod_node = S(O(cur, "spec"), "nodeName");
      if (r.op == Operation::kCreate) {
        if (!O(O(*obj, "metadata"), "annotations").contains("kubernetes.io/config.mirror")) {
          return Forbidden(r, fmt::format("pod does not have \"kubernetes.io/config.mirror\" "
                                          "annotation, node \"{}\" can only create mirror pods",
                                          node));
        }
        if (pod_node != node) {
          return Forbidden(r, fmt::format("node \"{}\" can only create pods with spec.nodeName "
                                          "set to itself",
                                          node));
        }
        return absl::OkStatus();
      }
      if (pod_node != node) {
        return Forbidden(r, fmt::format("node \"{}\" can only {} pods with spec.nodeName set to "
                                        "itself",
                                        node, r.op == Operation::kDelete ? "delete" : "update"));
      }
      if (r.op == Operation::kUpdate && r.subresource != "status") {
        return Forbidden(r, fmt::format("node \"{}\" can only update pod status", node));
      }
      return absl::OkStatus();
    }
    if (r.Is("", "nodes")) {
      std::string name = r.name.empty() ? S(O(*obj, "metadata"), "name") : r.name;
      if (name != node) {
        return Forbidden(
            r, fmt::format("node \"{}\" is not allowed to modify node \"{}\"", node, name));
      }
      if (r.op == Operation::kDelete) {
        return Forbidden(r, fmt::format("node \"{}\" is not allowed to delete nodes", node));
      }
      return absl::OkStatus();
    }
    if (r.Is("coordination.k8s.io", "leases")) {
      std::string name = r.name.empty() ? S(O(*obj, "metadata"), "name") : r.name;
      if (r.ns != "kube-node-lease" || name != node) {
        return Forbidden(r, fmt::format("can only access node lease with the same name as the "
                                        "requesting node"));
      }
    }
    return absl::OkStatus();
  }
};

// ---------------- DefaultTolerationSeconds ----------------
class DefaultTolerationSeconds final : public Plugin {
 public:
  const char* Name() const override { return "DefaultTolerationSeconds"; }
  absl::Status Admit(Request& r) override {
    if (!r.Is("", "pods") || r.op != Operation::kCreate || !r.object) return absl::OkStatus();
    Json& spec = (*r.object)["spec"];
    if (!spec.is_object()) return absl::OkStatus();
    if (!spec["tolerations"].is_array()) spec["tolerations"] = Json::array();
    for (const char* key : {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}) {
      bool has = false;
      for (const auto& t : spec["tolerations"]) {
        std::string e = S(t, "effect");
        if ((S(t, "key") == key || (S(t, "key").empty() && S(t, "operator") == "Exists")) &&
            (e.empty() || e == "NoExecute")) {
          has = true;
        }
      }
      if (!has) {
        spec["tolerations"].push_back({{"key", key},
                                       {"operator", "Exists"},
                                       {"effect", "NoExecute"},
                                       {"tolerationSeconds", 300}});
      }
    }
    return absl::OkStatus();
  }
};

// ---------------- PodSecurity ----------------
class PodSecurity final : public Plugin {
 public:
  explicit PodSecurity(Store* store) : store_(store) {}
  const char* Name() const override { return "PodSecurity"; }
  absl::Status Validate(const Request& r) override {
    if (!r.Is("", "pods") || !r.object || !r.subresource.empty()) return absl::OkStatus();
    if (r.op != Operation::kCreate) return absl::OkStatus();
    const api::ResourceType* nst = api::FindResourceType("", "v1", "namespaces");
    auto ns = store_->Get(*nst, "", r.ns, std::nullopt);
    if (!ns.ok()) return absl::OkStatus();
    std::string level =
        S(O(O((*ns)->object, "metadata"), "labels"), "pod-security.kubernetes.io/enforce");
    if (level.empty() || level == "privileged") return absl::OkStatus();
    if (level != "baseline" && level != "restricted") return absl::OkStatus();
    std::vector<std::string> problems = Check(*r.object, level == "restricted");
    if (problems.empty()) return absl::OkStatus();
    std::string msg = fmt::format("violates PodSecurity \"{}:latest\": ", level);
    for (size_t i = 0; i < problems.size(); ++i) msg += (i ? ", " : "") + problems[i];
    return Forbidden(r, msg);
  }

  static std::vector<std::string> Check(const Json& pod, bool restricted) {
    std::vector<std::string> out;
    const Json& spec = O(pod, "spec");
    std::vector<std::string> hostns;
    for (const char* f : {"hostNetwork", "hostPID", "hostIPC"}) {
      if (spec.contains(f) && spec[f] == true) hostns.push_back(std::string(f) + "=true");
    }
    if (!hostns.empty()) {
      std::string s = "host namespaces (";
      for (size_t i = 0; i < hostns.size(); ++i) s += (i ? ", " : "") + hostns[i];
      out.push_back(s + ")");
    }
    std::vector<std::string> privileged, hostports, caps, hostpath, nonroot, escalation, drop,
        seccomp;
    static const std::set<std::string> kBaselineCaps = {
        "AUDIT_WRITE",      "CHOWN",   "DAC_OVERRIDE", "FOWNER",  "FSETID", "KILL",      "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID",       "SETPCAP", "SETUID", "SYS_CHROOT"};
    bool pod_nonroot = O(spec, "securityContext").value("runAsNonRoot", false);
    std::string pod_seccomp = S(O(O(spec, "securityContext"), "seccompProfile"), "type");
    for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
      for (const auto& c : A(spec, list)) {
        std::string name = S(c, "name");
        const Json& sc = O(c, "securityContext");
        if (sc.value("privileged", false)) privileged.push_back(name);
        for (const auto& p : A(c, "ports")) {
          if (p.value("hostPort", 0) != 0)
            hostports.push_back(std::to_string(p.value("hostPort", 0)));
        }
        for (const auto& cap : A(O(sc, "capabilities"), "add")) {
          if (!cap.is_string()) continue;
          std::string cs = cap;
          if (restricted ? cs != "NET_BIND_SERVICE" : !kBaselineCaps.count(cs)) caps.push_back(cs);
        }
        if (restricted) {
          bool nr = sc.contains("runAsNonRoot") ? sc["runAsNonRoot"] == true : pod_nonroot;
          if (!nr) nonroot.push_back(name);
          if (!(sc.contains("allowPrivilegeEscalation") && sc["allowPrivilegeEscalation"] == false))
            escalation.push_back(name);
          bool drops_all = false;
          for (const auto& d : A(O(sc, "capabilities"), "drop")) drops_all |= d == "ALL";
          if (!drops_all) drop.push_back(name);
          std::string st = S(O(sc, "seccompProfile"), "type");
          if (st.empty()) st = pod_seccomp;
          if (st != "RuntimeDefault" && st != "Localhost") seccomp.push_back(name);
        }
      }
    }
    for (const auto& v : A(spec, "volumes")) {
      if (v.contains("hostPath")) hostpath.push_back(S(v, "name"));
    }
    auto join = [](const std::vector<std::string>& v) {
      std::string s;
      for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + ("\"" + v[i] + "\"");
      return s;
    };
    if (!privileged.empty())
      out.push_back(
          fmt::format("privileged (containers {} must not set securityContext.privileged=true)",
                      join(privileged)));
    if (!caps.empty()) out.push_back(fmt::format("non-default capabilities ({})", join(caps)));
    if (!hostpath.empty())
      out.push_back(fmt::format("hostPath volumes (volumes {})", join(hostpath)));
    if (!hostports.empty()) out.push_back(fmt::format("hostPort (ports {})", join(hostports)));
    if (!escalation.empty())
      out.push_back(
          fmt::format("allowPrivilegeEscalation != false (containers {} must set "
                      "securityContext.allowPrivilegeEscalation=false)",
                      join(escalation)));
    if (!drop.empty())
      out.push_back(
          fmt::format("unrestricted capabilities (containers {} must set "
                      "securityContext.capabilities.drop=[\"ALL\"])",
                      join(drop)));
    if (!nonroot.empty())
      out.push_back(fmt::format(
          "runAsNonRoot != true (containers {} must set securityContext.runAsNonRoot=true)",
          join(nonroot)));
    if (!seccomp.empty())
      out.push_back(
          fmt::format("seccompProfile (containers {} must set securityContext.seccompProfile.type "
                      "to \"RuntimeDefault\" or \"Localhost\")",
                      join(seccomp)));
    return out;
  }

 private:
  Store* store_;
};

// ---------------- Priority ----------------
// Resolves a new pod's priority from scheduling.k8s.io PriorityClass objects (or the global
// default class), and keeps a single global default.
class Priority final : public Plugin {
 public:
  explicit Priority(Store* store) : store_(store) {}
  const char* Name() const override { return "Priority"; }

  absl::Status Admit(Request& r) override {
    if (!r.Is("", "pods") || !r.object || !r.subresource.empty()) return absl::OkStatus();
    Json& spec = (*r.object)["spec"];
    if (!spec.is_object()) return absl::OkStatus();
    if (r.op == Operation::kUpdate) {
      // Keep what this plugin set at creation when an update omits it.
      static const Json kNone = Json::object();
      const Json& old_spec = O(r.old ? *r.old : kNone, "spec");
      for (const char* f : {"priority", "preemptionPolicy"}) {
        if ((!spec.contains(f) || spec[f].is_null()) && old_spec.contains(f)) {
          spec[f] = old_spec[f];
        }
      }
      return absl::OkStatus();
    }
    if (r.op != Operation::kCreate) return absl::OkStatus();
    std::string cls = S(spec, "priorityClassName");
    int64_t value = 0;
    std::string policy = "PreemptLowerPriority";
    // Pod defaulting (korral/api/defaults.cc) has already set priority 0 (without a class) and
    // preemptionPolicy PreemptLowerPriority, which upstream leaves unset for this plugin: those
    // values are taken as unset here.
    // TODO(korral): leave both unset in defaulting so an explicit conflicting value is refused
    // exactly as upstream does.
    bool defaulted_priority = cls.empty();
    if (cls.empty()) {
      if (auto def = DefaultClass()) {
        cls = S(O(*def, "metadata"), "name");
        value = def->value("value", int64_t{0});
        policy = S(*def, "preemptionPolicy");
        spec["priorityClassName"] = cls;
      }
    } else {
      const api::ResourceType* t =
          api::FindResourceType("scheduling.k8s.io", "v1", "priorityclasses");
      auto pc = t ? store_->Get(*t, "", cls, std::nullopt) : absl::NotFoundError("no type");
      if (!pc.ok()) {
        if (apierrors::IsNotFound(pc.status()) || !t) {
          return Forbidden(r, fmt::format("no PriorityClass with name {} was found", cls));
        }
        return pc.status();
      }
      value = (*pc)->object.value("value", int64_t{0});
      policy = S((*pc)->object, "preemptionPolicy");
    }
    if (spec.contains("priority") && spec["priority"].is_number_integer() &&
        spec["priority"].get<int64_t>() != value &&
        !(defaulted_priority && spec["priority"].get<int64_t>() == 0)) {
      return Forbidden(r, "the integer value of priority (" + spec["priority"].dump() +
                              ") must not be provided in pod spec; priority admission controller "
                              "computed " +
                              std::to_string(value) + " from the given PriorityClass name");
    }
    spec["priority"] = value;
    if (!policy.empty()) {
      std::string have = S(spec, "preemptionPolicy");
      if (!have.empty() && have != policy && have != "PreemptLowerPriority") {
        return Forbidden(r, fmt::format("the string value of PreemptionPolicy ({}) must not be "
                                        "provided in pod spec; priority admission controller "
                                        "computed {} from the given PriorityClass name",
                                        have, policy));
      }
      spec["preemptionPolicy"] = policy;
    }
    return absl::OkStatus();
  }

  absl::Status Validate(const Request& r) override {
    if (!r.Is("scheduling.k8s.io", "priorityclasses") || !r.subresource.empty()) {
      return absl::OkStatus();
    }
    if (r.op == Operation::kDelete) {
      if (r.name == "system-node-critical" || r.name == "system-cluster-critical") {
        return Forbidden(r, "this is a system priority class and cannot be deleted");
      }
      return absl::OkStatus();
    }
    if (!r.object || !r.object->value("globalDefault", false)) return absl::OkStatus();
    auto def = DefaultClass();
    if (!def) return absl::OkStatus();
    std::string def_name = S(O(*def, "metadata"), "name");
    std::string name = S(O(*r.object, "metadata"), "name");
    if (r.op == Operation::kCreate || def_name != name) {
      return Forbidden(r, fmt::format("PriorityClass {} is already marked as default. Only one "
                                      "default can exist",
                                      def_name));
    }
    return absl::OkStatus();
  }

 private:
  // The global default class; with several (a race), the one with the lowest value.
  std::optional<Json> DefaultClass() {
    const api::ResourceType* t =
        api::FindResourceType("scheduling.k8s.io", "v1", "priorityclasses");
    if (!t) return std::nullopt;
    auto list = store_->List(*t, "", ListOptions{});
    if (!list.ok()) return std::nullopt;
    std::optional<Json> best;
    for (const auto& item : list->items) {
      const Json& o = item->object;
      if (!o.value("globalDefault", false)) continue;
      if (!best || best->value("value", int64_t{0}) > o.value("value", int64_t{0})) best = o;
    }
    return best;
  }

  Store* store_;
};

// ---------------- ResourceQuota ----------------
class ResourceQuota final : public Plugin {
 public:
  explicit ResourceQuota(Store* store) : store_(store) {}
  const char* Name() const override { return "ResourceQuota"; }

  // Usage an object adds, by quota resource name.
  static std::map<std::string, long double> Usage(const api::ResourceType& t, const Json& obj) {
    std::map<std::string, long double> u;
    std::string qualified = t.gvk.group.empty() ? t.resource : t.resource + "." + t.gvk.group;
    u["count/" + qualified] = 1;
    if (t.gvk.group.empty()) {
      static const std::set<std::string> kCounted = {"pods",
                                                     "services",
                                                     "configmaps",
                                                     "secrets",
                                                     "persistentvolumeclaims",
                                                     "replicationcontrollers",
                                                     "resourcequotas"};
      if (kCounted.count(t.resource)) u[t.resource] = 1;
    }
    if (t.gvk.group.empty() && t.resource == "pods") {
      for (const auto& c : A(O(obj, "spec"), "containers")) {
        const Json& res = O(c, "resources");
        for (const char* r : {"cpu", "memory", "ephemeral-storage"}) {
          long double v = 0;
          std::string req = S(O(res, "requests"), r);
          if (!req.empty() && api::defaults::ParseQuantity(req, &v)) {
            u[std::string("requests.") + r] += v;
            u[r] += v;
          }
          std::string lim = S(O(res, "limits"), r);
          if (!lim.empty() && api::defaults::ParseQuantity(lim, &v))
            u[std::string("limits.") + r] += v;
        }
      }
    }
    if (t.gvk.group.empty() && t.resource == "services") {
      std::string type = S(O(obj, "spec"), "type");
      if (type == "NodePort") u["services.nodeports"] = 1;
      if (type == "LoadBalancer") u["services.loadbalancers"] = 1;
    }
    return u;
  }

  static std::string Format(long double v) {
    if (std::fabs(v - std::round(v)) < 1e-9)
      return fmt::format("{}", static_cast<int64_t>(std::llround(v)));
    return fmt::format("{}m", static_cast<int64_t>(std::llround(v * 1000)));
  }

  absl::Status Charge(const Request& r, int sign) {
    if (r.dry_run || !r.type->namespaced || r.ns.empty()) return absl::OkStatus();
    if (r.Is("", "resourcequotas") || r.Is("", "events") || r.Is("events.k8s.io", "events"))
      return absl::OkStatus();
    const api::ResourceType* qt = api::FindResourceType("", "v1", "resourcequotas");
    auto list = store_->List(*qt, r.ns, ListOptions{});
    if (!list.ok() || list->items.empty()) return absl::OkStatus();
    const Json& obj = r.object ? *r.object : *r.old;
    auto usage = Usage(*r.type, obj);
    const bool is_pod = r.Is("", "pods");
    for (const auto& q : list->items) {
      // Scoped quotas cover the pods their scopes match, and nothing else.
      if (api::QuotaHasScopes(q->object) &&
          (!is_pod || !api::QuotaScopesMatchPod(q->object, obj))) {
        continue;
      }
      const Json& hard = O(O(q->object, "spec"), "hard");
      std::map<std::string, long double> delta;
      for (const auto& [k, v] : usage) {
        if (hard.contains(k)) delta[k] = sign * v;
      }
      if (delta.empty()) continue;
      std::string qname = S(O(q->object, "metadata"), "name");
      // Compare-and-swap on the quota's status: concurrent creates serialize here, so the sum
      // never overshoots spec.hard.
      auto mutate = [&](const Json& cur) -> absl::StatusOr<Json> {
        Json out = cur;
        Json& used = out["status"]["used"];
        if (!used.is_object()) used = Json::object();
        const Json& h = O(O(cur, "spec"), "hard");
        out["status"]["hard"] = h;
        std::vector<std::string> req, usd, lim;
        for (const auto& [k, d] : delta) {
          long double have = 0, limit = 0;
          if (used.contains(k) && used[k].is_string())
            api::defaults::ParseQuantity(used[k].get<std::string>(), &have);
          if (!h.contains(k) || !h[k].is_string() ||
              !api::defaults::ParseQuantity(h[k].get<std::string>(), &limit))
            continue;
          long double next = std::max<long double>(0, have + d);
          if (sign > 0 && next > limit + 1e-9) {
            req.push_back(k + "=" + Format(d));
            usd.push_back(k + "=" + Format(have));
            lim.push_back(k + "=" + h[k].get<std::string>());
          }
          used[k] = Format(next);
        }
        if (!req.empty()) {
          auto join = [](const std::vector<std::string>& v) {
            std::string s;
            for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + v[i];
            return s;
          };
          return Forbidden(
              r, fmt::format("exceeded quota: {}, requested: {}, used: {}, limited: {}", qname,
                             join(req), join(usd), join(lim)));
        }
        out["metadata"].erase("resourceVersion");
        return out;
      };
      auto res = store_->GuaranteedUpdate(*qt, r.ns, qname, mutate, WriteOptions{false, "status"});
      if (!res.ok() && !apierrors::IsNotFound(res.status())) return res.status();
    }
    return absl::OkStatus();
  }

  absl::Status Validate(const Request& r) override {
    if (r.op == Operation::kCreate && r.subresource.empty()) return Charge(r, +1);
    if (r.op == Operation::kDelete) {
      // TODO(korral): upstream relies on the quota controller to release usage; korral releases
      // it at deletion so quotas stay accurate without that controller.
      Charge(r, -1).IgnoreError();
    }
    return absl::OkStatus();
  }

 private:
  Store* store_;
};

}  // namespace

std::vector<std::string> DefaultPlugins() {
  return {"NamespaceLifecycle",
          "LimitRanger",
          "ServiceAccount",
          "NodeRestriction",
          "DefaultTolerationSeconds",
          "PodSecurity",
          "Priority",
          "DefaultStorageClass",
          "StorageObjectInUseProtection",
          "CertificateApproval",
          "CertificateSigning",
          "CertificateSubjectRestriction",
          "ResourceQuota"};
}

std::vector<std::string> KnownPlugins() { return DefaultPlugins(); }

absl::StatusOr<std::unique_ptr<Chain>> NewChain(Store* store,
                                                const std::vector<std::string>& enable,
                                                const std::vector<std::string>& disable,
                                                AuthorizeFunc authorize) {
  auto known = KnownPlugins();
  auto check = [&](const std::vector<std::string>& names) -> absl::Status {
    for (const auto& n : names) {
      if (std::find(known.begin(), known.end(), n) == known.end()) {
        std::string list;
        for (size_t i = 0; i < known.size(); ++i) list += (i ? ", " : "") + known[i];
        return absl::InvalidArgumentError(
            fmt::format("unknown admission plugin \"{}\"; korral knows: {}", n, list));
      }
    }
    return absl::OkStatus();
  };
  KORRAL_RETURN_IF_ERROR(check(enable));
  KORRAL_RETURN_IF_ERROR(check(disable));
  std::vector<std::unique_ptr<Plugin>> plugins;
  // Not a plugin upstream but the CSR registry strategy: always on.
  plugins.push_back(NewCertificateSigningRequestStrategy());
  for (const auto& n : known) {
    if (std::find(disable.begin(), disable.end(), n) != disable.end()) continue;
    auto defaults = DefaultPlugins();
    bool on = std::find(defaults.begin(), defaults.end(), n) != defaults.end() ||
              std::find(enable.begin(), enable.end(), n) != enable.end();
    if (!on) continue;
    if (n == "NamespaceLifecycle") plugins.push_back(std::make_unique<NamespaceLifecycle>(store));
    if (n == "LimitRanger") plugins.push_back(std::make_unique<LimitRanger>(store));
    if (n == "ServiceAccount") plugins.push_back(std::make_unique<ServiceAccount>(store));
    if (n == "NodeRestriction") plugins.push_back(std::make_unique<NodeRestriction>());
    if (n == "DefaultTolerationSeconds")
      plugins.push_back(std::make_unique<DefaultTolerationSeconds>());
    if (n == "PodSecurity") plugins.push_back(std::make_unique<PodSecurity>(store));
    if (n == "Priority") plugins.push_back(std::make_unique<Priority>(store));
    if (auto p = NewStoragePlugin(n, store)) plugins.push_back(std::move(p));
    if (n == "CertificateApproval") plugins.push_back(NewCertificateApproval(authorize));
    if (n == "CertificateSigning") plugins.push_back(NewCertificateSigning(authorize));
    if (n == "CertificateSubjectRestriction") {
      plugins.push_back(NewCertificateSubjectRestriction());
    }
    if (n == "ResourceQuota") plugins.push_back(std::make_unique<ResourceQuota>(store));
  }
  return std::make_unique<Chain>(std::move(plugins));
}

}  // namespace korral::apiserver::admission
