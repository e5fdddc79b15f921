#include "korral/apiserver/authz/rbac.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/apiserver/authz/node.h"
#include "korral/apiserver/rbac_bootstrap.h"

namespace korral::apiserver::authz {
namespace {

using Json = nlohmann::json;

Json Role(const std::string& ns, const std::string& name, Json rules) {
  Json r = {{"metadata", {{"name", name}}}, {"rules", rules}};
  if (!ns.empty()) r["metadata"]["namespace"] = ns;
  return r;
}

Json Binding(const std::string& ns, const std::string& name, const std::string& kind,
             const std::string& role, Json subjects) {
  Json b = {
      {"metadata", {{"name", name}}},
      {"roleRef", {{"kind", kind}, {"name", role}, {"apiGroup", "rbac.authorization.k8s.io"}}},
      {"subjects", subjects}};
  if (!ns.empty()) b["metadata"]["namespace"] = ns;
  return b;
}

Attributes Res(const authn::UserInfo* u, std::string verb, std::string ns, std::string group,
               std::string resource, std::string sub = "", std::string name = "") {
  Attributes a;
  a.user = u;
  a.verb = std::move(verb);
  a.ns = std::move(ns);
  a.api_group = std::move(group);
  a.resource = std::move(resource);
  a.subresource = std::move(sub);
  a.name = std::move(name);
  return a;
}

TEST(RbacTest, RoleBindingGrantsOnlyInItsNamespace) {
  RbacIndex::Objects objs;
  objs.roles.push_back(Role("team-a", "reader",
                            Json::array({{{"verbs", {"get", "list"}},
                                          {"apiGroups", {""}},
                                          {"resources", {"pods", "pods/log"}}}})));
  objs.role_bindings.push_back(Binding("team-a", "b", "Role", "reader",
                                       Json::array({{{"kind", "User"}, {"name", "alice"}}})));
  auto idx = RbacIndex::Build(objs);
  authn::UserInfo alice{"alice", "", {"system:authenticated"}, {}};
  std::string reason;
  EXPECT_TRUE(idx->Allows(Res(&alice, "list", "team-a", "", "pods"), &reason));
  EXPECT_THAT(reason, testing::HasSubstr("RoleBinding \"team-a/b\""));
  EXPECT_TRUE(idx->Allows(Res(&alice, "get", "team-a", "", "pods", "log", "p"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&alice, "get", "team-a", "", "pods", "exec", "p"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&alice, "list", "team-b", "", "pods"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&alice, "list", "", "", "pods"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&alice, "create", "team-a", "", "pods"), nullptr));
  authn::UserInfo bob{"bob", "", {"system:authenticated"}, {}};
  EXPECT_FALSE(idx->Allows(Res(&bob, "list", "team-a", "", "pods"), nullptr));
}

TEST(RbacTest, GroupsServiceAccountsNamesAndUrls) {
  RbacIndex::Objects objs;
  objs.cluster_roles.push_back(Role("", "cm-one",
                                    Json::array({{{"verbs", {"get"}},
                                                  {"apiGroups", {""}},
                                                  {"resources", {"configmaps"}},
                                                  {"resourceNames", {"one"}}}})));
  objs.cluster_roles.push_back(
      Role("", "health", Json::array({{{"verbs", {"get"}}, {"nonResourceURLs", {"/healthz/*"}}}})));
  objs.cluster_role_bindings.push_back(Binding(
      "", "g", "ClusterRole", "cm-one", Json::array({{{"kind", "Group"}, {"name", "devs"}}})));
  objs.role_bindings.push_back(
      Binding("ns1", "sa", "ClusterRole", "health",
              Json::array({{{"kind", "ServiceAccount"}, {"name", "robot"}}})));
  objs.cluster_role_bindings.push_back(Binding(
      "", "h", "ClusterRole", "health",
      Json::array({{{"kind", "ServiceAccount"}, {"name", "robot"}, {"namespace", "ns1"}}})));
  auto idx = RbacIndex::Build(objs);
  authn::UserInfo dev{"x", "", {"devs"}, {}};
  EXPECT_TRUE(idx->Allows(Res(&dev, "get", "any", "", "configmaps", "", "one"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&dev, "get", "any", "", "configmaps", "", "two"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&dev, "list", "any", "", "configmaps"), nullptr));
  authn::UserInfo sa{"system:serviceaccount:ns1:robot", "", {}, {}};
  Attributes url;
  url.user = &sa;
  url.resource_request = false;
  url.verb = "get";
  url.path = "/healthz/ping";
  EXPECT_TRUE(idx->Allows(url, nullptr));
  url.path = "/metrics";
  EXPECT_FALSE(idx->Allows(url, nullptr));
}

TEST(RbacTest, AggregationCollectsLabelledRoles) {
  RbacIndex::Objects objs;
  Json agg = Role("", "agg", Json::array());
  agg["aggregationRule"] = {
      {"clusterRoleSelectors", Json::array({{{"matchLabels", {{"x/agg", "true"}}}}})}};
  Json part =
      Role("", "part",
           Json::array({{{"verbs", {"get"}}, {"apiGroups", {""}}, {"resources", {"secrets"}}}}));
  part["metadata"]["labels"] = {{"x/agg", "true"}};
  objs.cluster_roles = {agg, part};
  objs.cluster_role_bindings.push_back(
      Binding("", "b", "ClusterRole", "agg", Json::array({{{"kind", "User"}, {"name", "u"}}})));
  auto idx = RbacIndex::Build(objs);
  authn::UserInfo u{"u", "", {}, {}};
  EXPECT_TRUE(idx->Allows(Res(&u, "get", "ns", "", "secrets"), nullptr));
  ASSERT_EQ(idx->aggregated_updates().count("agg"), 1u);
  EXPECT_EQ(idx->aggregated_updates().at("agg").size(), 1u);
}

TEST(RbacTest, CoversDetectsEscalation) {
  std::vector<PolicyRule> owner = {
      PolicyRule::FromJson(
          {{"verbs", {"get", "list"}}, {"apiGroups", {""}}, {"resources", {"pods"}}}),
      PolicyRule::FromJson({{"verbs", {"*"}}, {"apiGroups", {"apps"}}, {"resources", {"*"}}})};
  std::vector<PolicyRule> missing;
  EXPECT_TRUE(Covers(owner,
                     {PolicyRule::FromJson({{"verbs", {"get"}},
                                            {"apiGroups", {""}},
                                            {"resources", {"pods"}},
                                            {"resourceNames", {"a"}}})},
                     &missing));
  EXPECT_TRUE(Covers(
      owner,
      {PolicyRule::FromJson(
          {{"verbs", {"delete"}}, {"apiGroups", {"apps"}}, {"resources", {"deployments/scale"}}})},
      &missing));
  EXPECT_FALSE(
      Covers(owner,
             {PolicyRule::FromJson(
                 {{"verbs", {"get", "delete"}}, {"apiGroups", {""}}, {"resources", {"pods"}}})},
             &missing));
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_EQ(missing[0].String(), "{APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"delete\"]}");
  missing.clear();
  EXPECT_FALSE(Covers(
      owner, {PolicyRule::FromJson({{"verbs", {"*"}}, {"apiGroups", {"*"}}, {"resources", {"*"}}})},
      &missing));
}

TEST(RbacTest, BootstrapPolicyGrantsComponentsWhatTheyNeed) {
  RbacIndex::Objects objs;
  objs.cluster_roles = DefaultBootstrapPolicy().cluster_roles;
  objs.cluster_role_bindings = DefaultBootstrapPolicy().cluster_role_bindings;
  auto idx = RbacIndex::Build(objs);
  authn::UserInfo sched{"system:kube-scheduler", "", {"system:authenticated"}, {}};
  EXPECT_TRUE(idx->Allows(Res(&sched, "create", "ns", "", "pods", "binding", "p"), nullptr));
  EXPECT_TRUE(idx->Allows(Res(&sched, "watch", "", "", "nodes"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&sched, "get", "ns", "", "secrets", "", "s"), nullptr));
  authn::UserInfo kcm{"system:kube-controller-manager", "", {"system:authenticated"}, {}};
  EXPECT_TRUE(idx->Allows(Res(&kcm, "create", "ns", "", "pods"), nullptr));
  EXPECT_TRUE(
      idx->Allows(Res(&kcm, "update", "ns", "apps", "deployments", "status", "d"), nullptr));
  EXPECT_TRUE(idx->Allows(Res(&kcm, "list", "", "apps", "replicasets"), nullptr));
  authn::UserInfo anon{"system:anonymous", "", {"system:unauthenticated"}, {}};
  Attributes version;
  version.user = &anon;
  version.resource_request = false;
  version.verb = "get";
  version.path = "/version";
  EXPECT_TRUE(idx->Allows(version, nullptr));
  version.path = "/api";
  EXPECT_FALSE(idx->Allows(version, nullptr));
  // view is aggregated from system:aggregate-to-view and excludes secrets.
  objs.cluster_role_bindings.push_back(
      Binding("", "v", "ClusterRole", "view", Json::array({{{"kind", "User"}, {"name", "v"}}})));
  idx = RbacIndex::Build(objs);
  authn::UserInfo v{"v", "", {}, {}};
  EXPECT_TRUE(idx->Allows(Res(&v, "list", "x", "apps", "deployments"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&v, "get", "x", "", "secrets", "", "s"), nullptr));
  EXPECT_FALSE(idx->Allows(Res(&v, "create", "x", "", "pods"), nullptr));
}

TEST(NodeAuthorizerTest, SecretsOfPodsOnTheNodeOnly) {
  NodeGraph graph;
  Json pod = {
      {"metadata", {{"name", "p"}, {"namespace", "ns"}}},
      {"spec",
       {{"nodeName", "n1"},
        {"volumes", Json::array({{{"name", "v"}, {"secret", {{"secretName", "s1"}}}}})},
        {"containers",
         Json::array({{{"name", "c"},
                       {"envFrom", Json::array({{{"configMapRef", {{"name", "cm"}}}}})}}})}}}};
  graph.OnPod(nullptr, &pod);
  NodeAuthorizer authz(&graph);
  authn::UserInfo n1{"system:node:n1", "", {"system:nodes", "system:authenticated"}, {}};
  authn::UserInfo n2{"system:node:n2", "", {"system:nodes", "system:authenticated"}, {}};
  std::string reason;
  EXPECT_EQ(authz.Authorize(Res(&n1, "get", "ns", "", "secrets", "", "s1"), &reason),
            Decision::kAllow);
  EXPECT_EQ(authz.Authorize(Res(&n1, "get", "ns", "", "configmaps", "", "cm"), &reason),
            Decision::kAllow);
  EXPECT_EQ(authz.Authorize(Res(&n2, "get", "ns", "", "secrets", "", "s1"), &reason),
            Decision::kNoOpinion);
  EXPECT_EQ(reason, "no relationship found between node 'n2' and this object");
  EXPECT_EQ(authz.Authorize(Res(&n1, "list", "ns", "", "secrets"), &reason), Decision::kNoOpinion);
  EXPECT_EQ(authz.Authorize(Res(&n1, "watch", "", "", "pods"), &reason), Decision::kAllow);
  graph.OnPod(&pod, nullptr);
  EXPECT_EQ(authz.Authorize(Res(&n1, "get", "ns", "", "secrets", "", "s1"), &reason),
            Decision::kNoOpinion);
  authn::UserInfo user{"system:node:n1", "", {"system:authenticated"}, {}};  // not in system:nodes
  EXPECT_EQ(authz.Authorize(Res(&user, "watch", "", "", "pods"), &reason), Decision::kNoOpinion);
}

}  // namespace
}  // namespace korral::apiserver::authz
