#include "korral/api/schema/openapi.h"

#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "korral/api/schema/schema.h"

namespace korral::schema {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

nlohmann::json Doc(std::string_view gv) {
  const std::string* body = OpenApiV3Document(gv);
  EXPECT_NE(body, nullptr) << gv;
  return body ? nlohmann::json::parse(*body) : nlohmann::json();
}

bool HasParam(const nlohmann::json& op, std::string_view name, std::string_view in) {
  for (const auto& p : op.value("parameters", nlohmann::json::array())) {
    if (p["name"] == name && p["in"] == in) return true;
  }
  return false;
}

// Collects every "$ref" value anywhere below `j`.
void Refs(const nlohmann::json& j, std::set<std::string>* out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "$ref" && v.is_string()) out->insert(v.get<std::string>());
      Refs(v, out);
    }
  } else if (j.is_array()) {
    for (const auto& v : j) Refs(v, out);
  }
}

TEST(OpenApiTest, IndexListsGroupVersionsWithHashes) {
  nlohmann::json index = OpenApiV3Index();
  ASSERT_TRUE(index["paths"].contains("api/v1"));
  ASSERT_TRUE(index["paths"].contains("apis/apps/v1"));
  for (const char* gv : {"apis/batch/v1", "apis/rbac.authorization.k8s.io/v1", "apis/policy/v1",
                         "apis/coordination.k8s.io/v1", "apis/discovery.k8s.io/v1",
                         "apis/events.k8s.io/v1", "apis/autoscaling/v1"}) {
    EXPECT_TRUE(index["paths"].contains(gv)) << gv;
  }
  for (const auto& [gv, entry] : index["paths"].items()) {
    std::string url = entry["serverRelativeURL"];
    std::string hash = OpenApiV3DocumentHash(gv);
    EXPECT_EQ(hash.size(), 128u);
    EXPECT_EQ(url, "/openapi/v3/" + gv + "?hash=" + hash);
    EXPECT_NE(OpenApiV3Document(gv), nullptr);
  }
  EXPECT_EQ(OpenApiV3Document("apis/nope/v1"), nullptr);
  EXPECT_EQ(OpenApiV3DocumentHash("apis/nope/v1"), "");
  EXPECT_NE(OpenApiV3DocumentHash("api/v1"), OpenApiV3DocumentHash("apis/apps/v1"));
  // Stable across calls; leading slash tolerated.
  EXPECT_EQ(OpenApiV3Document("api/v1"), OpenApiV3Document("/api/v1"));
  EXPECT_EQ(OpenApiV3Index(), index);
}

TEST(OpenApiTest, PodPathsAsKubectlExpects) {
  nlohmann::json doc = Doc("api/v1");
  EXPECT_EQ(doc["openapi"], "3.0.0");
  EXPECT_EQ(doc["info"]["title"], "Kubernetes");
  const nlohmann::json& item = doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"];
  ASSERT_TRUE(item.is_object());
  const nlohmann::json& patch = item["patch"];
  EXPECT_EQ(patch["x-kubernetes-group-version-kind"],
            nlohmann::json({{"group", ""}, {"version", "v1"}, {"kind", "Pod"}}));
  EXPECT_EQ(patch["x-kubernetes-action"], "patch");
  EXPECT_EQ(patch["operationId"], "patchCoreV1NamespacedPod");
  EXPECT_TRUE(HasParam(patch, "fieldValidation", "query"));
  EXPECT_TRUE(HasParam(patch, "fieldManager", "query"));
  EXPECT_TRUE(HasParam(patch, "force", "query"));
  EXPECT_TRUE(HasParam(item, "name", "path"));
  EXPECT_TRUE(HasParam(item, "namespace", "path"));
  for (const char* ct :
       {"application/json-patch+json", "application/merge-patch+json",
        "application/strategic-merge-patch+json", "application/apply-patch+yaml"}) {
    EXPECT_TRUE(patch["requestBody"]["content"].contains(ct)) << ct;
  }
  EXPECT_EQ(patch["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Pod");
  EXPECT_TRUE(item.contains("get"));
  EXPECT_TRUE(item.contains("put"));
  EXPECT_TRUE(item.contains("delete"));
  EXPECT_TRUE(HasParam(item["put"], "fieldValidation", "query"));

  const nlohmann::json& coll = doc["paths"]["/api/v1/namespaces/{namespace}/pods"];
  EXPECT_EQ(coll["get"]["x-kubernetes-action"], "list");
  EXPECT_EQ(coll["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodList");
  EXPECT_TRUE(HasParam(coll["post"], "fieldValidation", "query"));
  EXPECT_EQ(coll["delete"]["x-kubernetes-action"], "deletecollection");
  EXPECT_TRUE(doc["paths"].contains("/api/v1/pods"));
  EXPECT_TRUE(doc["paths"].contains("/api/v1/namespaces/{namespace}/pods/{name}/status"));
  EXPECT_EQ(doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/eviction"]["post"]
               ["x-kubernetes-group-version-kind"]["kind"],
            "Eviction");
  // Cluster-scoped resources have no namespace segment.
  EXPECT_TRUE(doc["paths"].contains("/api/v1/nodes/{name}"));
  EXPECT_FALSE(doc["paths"].contains("/api/v1/namespaces/{namespace}/nodes/{name}"));
  EXPECT_TRUE(doc["paths"].contains("/api/v1/namespaces/{name}/status"));
}

TEST(OpenApiTest, AppsScaleAndGvks) {
  nlohmann::json doc = Doc("apis/apps/v1");
  const nlohmann::json& scale =
      doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
  EXPECT_EQ(scale["patch"]["x-kubernetes-group-version-kind"]["kind"], "Scale");
  EXPECT_EQ(scale["patch"]["x-kubernetes-group-version-kind"]["group"], "autoscaling");
  EXPECT_EQ(scale["get"]["operationId"], "readAppsV1NamespacedDeploymentScale");
  const nlohmann::json& deploy =
      doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
  EXPECT_EQ(deploy["x-kubernetes-group-version-kind"]["group"], "apps");
  EXPECT_EQ(deploy["tags"][0], "apps_v1");
  const nlohmann::json& schemas = doc["components"]["schemas"];
  EXPECT_EQ(schemas["io.k8s.api.apps.v1.Deployment"]["x-kubernetes-group-version-kind"][0]["kind"],
            "Deployment");
  EXPECT_TRUE(schemas.contains("io.k8s.api.core.v1.PodSpec"));
  EXPECT_TRUE(schemas.contains("io.k8s.api.autoscaling.v1.Scale"));
  EXPECT_FALSE(schemas.contains("io.k8s.api.batch.v1.Job"));

  nlohmann::json rbac = Doc("apis/rbac.authorization.k8s.io/v1");
  EXPECT_EQ(rbac["paths"]["/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}"]["patch"]
                ["operationId"],
            "patchRbacAuthorizationV1ClusterRole");
}

TEST(OpenApiTest, PodSchemaForExplainAndPatches) {
  nlohmann::json doc = Doc("api/v1");
  const nlohmann::json& schemas = doc["components"]["schemas"];
  const nlohmann::json& pod = schemas["io.k8s.api.core.v1.Pod"];
  EXPECT_EQ(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
  EXPECT_THAT(pod["description"].get<std::string>(), HasSubstr("containers"));
  EXPECT_EQ(pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec");
  const nlohmann::json& containers =
      schemas["io.k8s.api.core.v1.PodSpec"]["properties"]["containers"];
  EXPECT_EQ(containers["x-kubernetes-patch-merge-key"], "name");
  EXPECT_EQ(containers["x-kubernetes-patch-strategy"], "merge");
  EXPECT_EQ(schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["labels"]
                   ["additionalProperties"]["type"],
            "string");
  EXPECT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.Status"));
  EXPECT_TRUE(schemas.contains("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"));
}

TEST(OpenApiTest, EveryRefResolvesInEveryDocument) {
  const nlohmann::json index = OpenApiV3Index();
  for (const auto& [gv, entry] : index["paths"].items()) {
    nlohmann::json doc = Doc(gv);
    std::set<std::string> refs;
    Refs(doc, &refs);
    EXPECT_FALSE(refs.empty());
    for (const std::string& ref : refs) {
      ASSERT_THAT(ref, StartsWith("#/components/schemas/"));
      std::string name = ref.substr(std::string("#/components/schemas/").size());
      EXPECT_TRUE(doc["components"]["schemas"].contains(name)) << gv << ": " << name;
    }
    // Every PATCH operation carries a GVK and fieldValidation.
    for (const auto& [path, item] : doc["paths"].items()) {
      if (!item.contains("patch")) continue;
      EXPECT_TRUE(item["patch"].contains("x-kubernetes-group-version-kind")) << path;
      EXPECT_TRUE(HasParam(item["patch"], "fieldValidation", "query")) << path;
    }
  }
}

TEST(OpenApiTest, ConcurrentFirstUseIsSafe) {
  std::vector<std::thread> threads;
  std::vector<const std::string*> seen(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([i, &seen] { seen[i] = OpenApiV3Document("apis/batch/v1"); });
  }
  for (auto& t : threads) t.join();
  for (const std::string* s : seen) EXPECT_EQ(s, seen[0]);
  EXPECT_NE(seen[0], nullptr);
}

}  // namespace
}  // namespace korral::schema
