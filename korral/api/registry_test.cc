// Tests for the resource registry: discovery data and field selectors.
#include <algorithm>
#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/api/resource.h"

namespace korral::api {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

const ResourceType& Find(std::string_view group, std::string_view resource) {
  const ResourceType* t = FindResourceType(group, "v1", resource);
  EXPECT_NE(t, nullptr) << group << "/" << resource;
  static ResourceType empty;
  return t ? *t : empty;
}

const Subresource* FindSub(const ResourceType& t, std::string_view name) {
  for (const auto& s : t.subresources) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

TEST(RegistryTest, PodsDiscovery) {
  const ResourceType& pods = Find("", "pods");
  EXPECT_EQ(pods.gvk.kind, "Pod");
  EXPECT_EQ(pods.gvk.ApiVersion(), "v1");
  EXPECT_EQ(pods.singular, "pod");
  EXPECT_EQ(pods.list_kind, "PodList");
  EXPECT_TRUE(pods.namespaced);
  EXPECT_THAT(pods.short_names, ElementsAre("po"));
  EXPECT_THAT(pods.categories, ElementsAre("all"));
  EXPECT_THAT(pods.verbs, ElementsAre("create", "delete", "deletecollection", "get", "list",
                                      "patch", "update", "watch"));
  EXPECT_TRUE(pods.has_status_subresource);
  EXPECT_EQ(pods.QualifiedResource(), "pods");
  std::vector<std::string> names;
  for (const auto& s : pods.subresources) names.push_back(s.name);
  EXPECT_THAT(names, ElementsAre("attach", "binding", "ephemeralcontainers", "eviction", "exec",
                                 "log", "portforward", "proxy", "status"));
  const Subresource* exec = FindSub(pods, "exec");
  ASSERT_NE(exec, nullptr);
  EXPECT_EQ(exec->kind.kind, "PodExecOptions");
  EXPECT_THAT(exec->verbs, ElementsAre("create", "get"));
  const Subresource* eviction = FindSub(pods, "eviction");
  ASSERT_NE(eviction, nullptr);
  EXPECT_EQ(eviction->kind.ApiVersion(), "policy/v1");
  EXPECT_EQ(eviction->kind.kind, "Eviction");
  EXPECT_THAT(FindSub(pods, "binding")->verbs, ElementsAre("create"));
  EXPECT_THAT(FindSub(pods, "log")->verbs, ElementsAre("get"));
  EXPECT_THAT(FindSub(pods, "status")->verbs, ElementsAre("get", "patch", "update"));
}

TEST(RegistryTest, ScopesShortNamesAndSubresources) {
  const ResourceType& ns = Find("", "namespaces");
  EXPECT_FALSE(ns.namespaced);
  EXPECT_THAT(ns.short_names, ElementsAre("ns"));
  EXPECT_THAT(ns.verbs, ElementsAre("create", "delete", "get", "list", "patch", "update", "watch"));
  EXPECT_THAT(FindSub(ns, "finalize")->verbs, ElementsAre("update"));
  EXPECT_FALSE(Find("", "nodes").namespaced);
  EXPECT_FALSE(Find("", "persistentvolumes").namespaced);
  EXPECT_FALSE(Find("rbac.authorization.k8s.io", "clusterroles").namespaced);
  EXPECT_THAT(Find("", "services").short_names, ElementsAre("svc"));
  EXPECT_THAT(Find("", "resourcequotas").short_names, ElementsAre("quota"));
  EXPECT_THAT(Find("", "limitranges").short_names, ElementsAre("limits"));
  EXPECT_THAT(Find("", "secrets").short_names, IsEmpty());
  EXPECT_THAT(Find("", "secrets").categories, IsEmpty());

  const Subresource* scale = FindSub(Find("apps", "deployments"), "scale");
  ASSERT_NE(scale, nullptr);
  EXPECT_EQ(scale->kind.ApiVersion(), "autoscaling/v1");
  EXPECT_EQ(scale->kind.kind, "Scale");
  const Subresource* token = FindSub(Find("", "serviceaccounts"), "token");
  ASSERT_NE(token, nullptr);
  EXPECT_EQ(token->kind.ApiVersion(), "authentication.k8s.io/v1");
  EXPECT_EQ(token->kind.kind, "TokenRequest");

  const ResourceType& deploy = Find("apps", "deployments");
  EXPECT_EQ(deploy.QualifiedResource(), "deployments.apps");
  EXPECT_THAT(deploy.short_names, ElementsAre("deploy"));
  EXPECT_THAT(deploy.categories, ElementsAre("all"));
  EXPECT_TRUE(deploy.tracks_generation);
  EXPECT_THAT(Find("batch", "cronjobs").short_names, ElementsAre("cj"));
  EXPECT_THAT(Find("events.k8s.io", "events").short_names, ElementsAre("ev"));
  EXPECT_THAT(Find("policy", "poddisruptionbudgets").short_names, ElementsAre("pdb"));
  EXPECT_EQ(FindResourceType("", "v1", "widgets"), nullptr);
  EXPECT_EQ(FindResourceType("apps", "v1beta1", "deployments"), nullptr);
}

TEST(RegistryTest, OrderIsCoreThenGroupsAlphabeticalWithin) {
  const auto& all = AllResourceTypes();
  ASSERT_GE(all.size(), 30u);
  EXPECT_EQ(all.front().gvk.group, "");
  EXPECT_EQ(all.front().resource, "configmaps");
  std::vector<std::string> groups;
  for (size_t i = 0; i < all.size(); ++i) {
    if (groups.empty() || groups.back() != all[i].gvk.group) groups.push_back(all[i].gvk.group);
    if (i > 0 && all[i - 1].gvk.group == all[i].gvk.group) {
      EXPECT_LT(all[i - 1].resource, all[i].resource);
    }
  }
  EXPECT_THAT(groups, ElementsAre("", "apps", "events.k8s.io", "batch", "certificates.k8s.io",
                                  "policy", "rbac.authorization.k8s.io", "storage.k8s.io",
                                  "scheduling.k8s.io", "coordination.k8s.io", "discovery.k8s.io"));
}

TEST(RegistryTest, EveryTypeHasHooksAndConsistentRows) {
  auto now = std::chrono::system_clock::now();
  for (const auto& t : AllResourceTypes()) {
    SCOPED_TRACE(t.QualifiedResource());
    ASSERT_TRUE(t.validate);
    ASSERT_TRUE(t.field_value);
    ASSERT_FALSE(t.columns.empty());
    ASSERT_TRUE(t.row_cells);
    Json obj = {{"metadata", {{"name", "x"}, {"creationTimestamp", "2026-01-01T00:00:00Z"}}}};
    if (t.apply_defaults) t.apply_defaults(obj);
    Json row = t.row_cells(obj, now);
    ASSERT_TRUE(row.is_array());
    EXPECT_EQ(row.size(), t.columns.size());
    EXPECT_EQ(t.field_value(obj, "metadata.name"), "x");
    EXPECT_EQ(t.field_value(obj, "no.such.field"), std::nullopt);
    if (!t.namespaced) {
      Json with_ns = obj;
      with_ns["metadata"]["namespace"] = "default";
      bool forbidden = false;
      for (const auto& c : t.validate(with_ns, nullptr)) {
        if (c.field == "metadata.namespace" && c.type == "FieldValueForbidden") forbidden = true;
      }
      EXPECT_TRUE(forbidden);
    }
  }
}

TEST(RegistryTest, PodFieldSelectors) {
  const ResourceType& pods = Find("", "pods");
  Json pod = {{"metadata", {{"name", "p"}, {"namespace", "ns1"}}},
              {"spec", {{"nodeName", "n1"}, {"restartPolicy", "Never"}}},
              {"status", {{"phase", "Running"}, {"podIPs", {{{"ip", "10.0.0.7"}}}}}}};
  EXPECT_EQ(pods.field_value(pod, "spec.nodeName"), "n1");
  EXPECT_EQ(pods.field_value(pod, "spec.restartPolicy"), "Never");
  EXPECT_EQ(pods.field_value(pod, "spec.hostNetwork"), "false");
  EXPECT_EQ(pods.field_value(pod, "spec.schedulerName"), "");
  EXPECT_EQ(pods.field_value(pod, "status.phase"), "Running");
  EXPECT_EQ(pods.field_value(pod, "status.podIP"), "10.0.0.7");
  EXPECT_EQ(pods.field_value(pod, "status.nominatedNodeName"), "");
  EXPECT_EQ(pods.field_value(pod, "metadata.namespace"), "ns1");
  EXPECT_EQ(pods.field_value(pod, "spec.containers"), std::nullopt);
}

TEST(RegistryTest, OtherFieldSelectors) {
  Json ev = {{"involvedObject", {{"kind", "Pod"}, {"name", "web"}, {"uid", "u1"}}},
             {"reason", "Started"},
             {"source", {{"component", "kubelet"}}},
             {"type", "Normal"}};
  const ResourceType& events = Find("", "events");
  EXPECT_EQ(events.field_value(ev, "involvedObject.kind"), "Pod");
  EXPECT_EQ(events.field_value(ev, "involvedObject.name"), "web");
  EXPECT_EQ(events.field_value(ev, "involvedObject.uid"), "u1");
  EXPECT_EQ(events.field_value(ev, "involvedObject.fieldPath"), "");
  EXPECT_EQ(events.field_value(ev, "reason"), "Started");
  EXPECT_EQ(events.field_value(ev, "source"), "kubelet");
  EXPECT_EQ(events.field_value(ev, "type"), "Normal");

  Json ev1 = {{"regarding", {{"kind", "Node"}, {"name", "n1"}}}, {"reportingController", "c"}};
  const ResourceType& events1 = Find("events.k8s.io", "events");
  EXPECT_EQ(events1.field_value(ev1, "regarding.kind"), "Node");
  EXPECT_EQ(events1.field_value(ev1, "regarding.name"), "n1");
  EXPECT_EQ(events1.field_value(ev1, "reportingController"), "c");

  EXPECT_EQ(Find("", "secrets").field_value({{"type", "Opaque"}}, "type"), "Opaque");
  EXPECT_EQ(
      Find("", "nodes").field_value({{"spec", {{"unschedulable", true}}}}, "spec.unschedulable"),
      "true");
  EXPECT_EQ(
      Find("", "namespaces").field_value({{"status", {{"phase", "Terminating"}}}}, "status.phase"),
      "Terminating");
  EXPECT_EQ(Find("apps", "replicasets").field_value(Json::object(), "status.replicas"), "0");
  EXPECT_EQ(
      Find("batch", "jobs").field_value({{"status", {{"succeeded", 3}}}}, "status.successful"),
      "3");
  EXPECT_EQ(Find("", "replicationcontrollers")
                .field_value({{"status", {{"replicas", 2}}}}, "status.replicas"),
            "2");
  EXPECT_EQ(Find("apps", "deployments").field_value(Json::object(), "status.replicas"),
            std::nullopt);
}

}  // namespace
}  // namespace korral::api
