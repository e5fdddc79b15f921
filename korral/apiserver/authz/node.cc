#include "korral/apiserver/authz/node.h"

#include <fmt/format.h>

#include <algorithm>

#include "korral/apiserver/rbac_bootstrap.h"

namespace korral::apiserver::authz {

using Json = nlohmann::json;

namespace {

std::string S(const Json& j, const char* k) {
  if (!j.is_object() || !j.contains(k) || !j[k].is_string()) return "";
  return j[k].get<std::string>();
}

const Json& Arr(const Json& j, const char* k) {
  static const Json kEmpty = Json::array();
  if (!j.is_object() || !j.contains(k) || !j[k].is_array()) return kEmpty;
  return j[k];
}

const Json& Obj(const Json& j, const char* k) {
  static const Json kEmpty = Json::object();
  if (!j.is_object() || !j.contains(k) || !j[k].is_object()) return kEmpty;
  return j[k];
}

}  // namespace

std::vector<std::string> NodeGraph::References(const Json& pod) {
  std::vector<std::string> out;
  std::string ns = S(Obj(pod, "metadata"), "namespace");
  const Json& spec = Obj(pod, "spec");
  auto add = [&](const char* res, const std::string& name) {
    if (!name.empty()) out.push_back(fmt::format("{}/{}/{}", res, ns, name));
  };
  std::string sa = S(spec, "serviceAccountName");
  add("serviceaccounts", sa.empty() ? "default" : sa);
  for (const auto& s : Arr(spec, "imagePullSecrets")) add("secrets", S(s, "name"));
  for (const auto& v : Arr(spec, "volumes")) {
    add("secrets", S(Obj(v, "secret"), "secretName"));
    add("configmaps", S(Obj(v, "configMap"), "name"));
    add("persistentvolumeclaims", S(Obj(v, "persistentVolumeClaim"), "claimName"));
    for (const auto& src : Arr(Obj(v, "projected"), "sources")) {
      add("secrets", S(Obj(src, "secret"), "name"));
      add("configmaps", S(Obj(src, "configMap"), "name"));
    }
    // CSI/flex/cephfs/... secret refs.
    for (const char* kind : {"csi", "flexVolume", "cephfs", "rbd", "iscsi", "azureFile"}) {
      const Json& vol = Obj(v, kind);
      add("secrets", S(Obj(vol, "secretRef"), "name"));
      add("secrets", S(Obj(vol, "nodePublishSecretRef"), "name"));
      add("secrets", S(vol, "secretName"));
    }
  }
  for (const char* list : {"containers", "initContainers", "ephemeralContainers"}) {
    for (const auto& c : Arr(spec, list)) {
      for (const auto& e : Arr(c, "env")) {
        const Json& from = Obj(e, "valueFrom");
        add("secrets", S(Obj(from, "secretKeyRef"), "name"));
        add("configmaps", S(Obj(from, "configMapKeyRef"), "name"));
      }
      for (const auto& e : Arr(c, "envFrom")) {
        add("secrets", S(Obj(e, "secretRef"), "name"));
        add("configmaps", S(Obj(e, "configMapRef"), "name"));
      }
    }
  }
  return out;
}

void NodeGraph::Add(const std::string& node, const std::vector<std::string>& refs, int delta) {
  if (node.empty()) return;
  auto& m = by_node_[node];
  for (const auto& r : refs) {
    int& n = m[r];
    n += delta;
    if (n <= 0) m.erase(r);
  }
  if (m.empty()) by_node_.erase(node);
}

void NodeGraph::OnPod(const Json* before, const Json* after) {
  std::lock_guard l(mu_);
  if (before) Add(S(Obj(*before, "spec"), "nodeName"), References(*before), -1);
  if (after) Add(S(Obj(*after, "spec"), "nodeName"), References(*after), +1);
}

bool NodeGraph::Has(const std::string& node, const std::string& resource, const std::string& ns,
                    const std::string& name) const {
  std::lock_guard l(mu_);
  auto it = by_node_.find(node);
  if (it == by_node_.end()) return false;
  return it->second.count(fmt::format("{}/{}/{}", resource, ns, name)) > 0;
}

bool NodeIdentity(const authn::UserInfo& user, std::string* node) {
  if (user.name.rfind(authn::kNodeUserPrefix, 0) != 0) return false;
  if (!user.InGroup(authn::kNodesGroup)) return false;
  *node = user.name.substr(sizeof(authn::kNodeUserPrefix) - 1);
  return !node->empty();
}

NodeAuthorizer::NodeAuthorizer(const NodeGraph* graph) : graph_(graph) {
  for (const auto& r : NodeRules()) rules_.push_back(PolicyRule::FromJson(r));
}

Decision NodeAuthorizer::Authorize(const Attributes& a, std::string* reason) const {
  std::string node;
  if (!a.user || !NodeIdentity(*a.user, &node)) return Decision::kNoOpinion;
  if (a.resource_request && a.api_group.empty()) {
    const std::string& r = a.resource;
    bool graph_checked = (r == "secrets" || r == "configmaps" || r == "persistentvolumeclaims") &&
                         a.subresource.empty();
    bool token = r == "serviceaccounts" && a.subresource == "token";
    if (graph_checked || token) {
      bool verb_ok =
          token ? a.verb == "create" : (a.verb == "get" || a.verb == "list" || a.verb == "watch");
      if (verb_ok && !a.name.empty() && graph_->Has(node, r, a.ns, a.name)) {
        if (reason) *reason = "";
        return Decision::kAllow;
      }
      if (reason) {
        *reason = fmt::format("no relationship found between node '{}' and this object", node);
      }
      return Decision::kNoOpinion;
    }
    if (r == "persistentvolumes") {
      // TODO(korral): PV reads need the PVC -> PV edge of the graph; until then RBAC decides.
      return Decision::kNoOpinion;
    }
  }
  for (const auto& rule : rules_) {
    if (RuleAllows(rule, a)) return Decision::kAllow;
  }
  return Decision::kNoOpinion;
}

}  // namespace korral::apiserver::authz
