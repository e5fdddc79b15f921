#include "korral/api/schema/schema.h"

#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "korral/api/schema/openapi.h"

namespace korral::schema {
namespace {

using ::testing::ElementsAre;

TEST(SchemaTest, DataParsesAndEveryReferenceResolves) {
  EXPECT_TRUE(SchemaDataStatus().ok()) << SchemaDataStatus();
  EXPECT_GT(AllSchemas().size(), 200u);
}

TEST(SchemaTest, EveryBuiltinResourceHasAKindSchema) {
  for (const ResourceInfo& r : BuiltinResources()) {
    std::string api_version = r.group.empty() ? std::string(r.version)
                                              : std::string(r.group) + "/" + std::string(r.version);
    const Schema* s = FindKindSchema(api_version, r.kind);
    ASSERT_NE(s, nullptr) << api_version << " " << r.kind;
    EXPECT_NE(s->FindProperty("metadata"), nullptr) << r.kind;
    EXPECT_NE(s->FindProperty("apiVersion"), nullptr) << r.kind;
    if (!r.create_only) {
      EXPECT_NE(FindKindSchema(api_version, std::string(r.kind) + "List"), nullptr) << r.kind;
    }
  }
}

TEST(SchemaTest, PodContainersCarryMergeKeyName) {
  const Schema* pod = FindKindSchema("v1", "Pod");
  ASSERT_NE(pod, nullptr);
  EXPECT_EQ(pod->name, "io.k8s.api.core.v1.Pod");
  ASSERT_EQ(pod->gvks.size(), 1u);
  EXPECT_EQ(pod->gvks[0].group, "");
  EXPECT_EQ(pod->gvks[0].kind, "Pod");
  const Schema* spec = Deref(pod->FindProperty("spec"));
  ASSERT_NE(spec, nullptr);
  EXPECT_EQ(spec->name, "io.k8s.api.core.v1.PodSpec");
  const Schema* containers = spec->FindProperty("containers");
  ASSERT_NE(containers, nullptr);
  EXPECT_EQ(containers->type, Type::kArray);
  EXPECT_EQ(containers->patch_merge_key, "name");
  EXPECT_EQ(containers->patch_strategy, "merge");
  EXPECT_EQ(containers->list_type, "map");
  EXPECT_THAT(containers->list_map_keys, ElementsAre("name"));
  EXPECT_THAT(spec->required, ElementsAre("containers"));
  const Schema* volumes = spec->FindProperty("volumes");
  ASSERT_NE(volumes, nullptr);
  EXPECT_EQ(volumes->patch_strategy, "merge,retainKeys");
  const Schema* tsc = spec->FindProperty("topologySpreadConstraints");
  ASSERT_NE(tsc, nullptr);
  EXPECT_EQ(tsc->patch_merge_key, "topologyKey");
  EXPECT_THAT(tsc->list_map_keys, ElementsAre("topologyKey", "whenUnsatisfiable"));

  const Schema* container = Deref(containers->items.get());
  ASSERT_NE(container, nullptr);
  const Schema* ports = container->FindProperty("ports");
  ASSERT_NE(ports, nullptr);
  EXPECT_EQ(ports->patch_merge_key, "containerPort");
  EXPECT_THAT(ports->list_map_keys, ElementsAre("containerPort", "protocol"));
  EXPECT_EQ(container->FindProperty("imagee"), nullptr);
}

TEST(SchemaTest, ScalarNamedTypes) {
  const Schema* ios = FindSchema("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
  ASSERT_NE(ios, nullptr);
  EXPECT_EQ(ios->type, Type::kString);
  EXPECT_EQ(ios->format, "int-or-string");
  EXPECT_TRUE(ios->int_or_string);
  const Schema* time = FindSchema("io.k8s.apimachinery.pkg.apis.meta.v1.Time");
  ASSERT_NE(time, nullptr);
  EXPECT_EQ(time->format, "date-time");
  const Schema* fields = FindSchema("io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1");
  ASSERT_NE(fields, nullptr);
  EXPECT_TRUE(fields->IsFreeForm());
  EXPECT_FALSE(FindSchema("io.k8s.api.core.v1.PodSpec")->IsFreeForm());
}

TEST(SchemaTest, OpenApiRenderingUsesAllOfRefs) {
  nlohmann::json pod = ToOpenApiV3(*FindKindSchema("v1", "Pod"));
  EXPECT_EQ(pod["type"], "object");
  EXPECT_FALSE(pod["description"].get<std::string>().empty());
  EXPECT_EQ(pod["properties"]["spec"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.PodSpec");
  EXPECT_EQ(pod["x-kubernetes-group-version-kind"][0]["kind"], "Pod");
  EXPECT_EQ(pod["x-kubernetes-group-version-kind"][0]["group"], "");
  EXPECT_EQ(pod["x-kubernetes-group-version-kind"][0]["version"], "v1");

  nlohmann::json spec = ToOpenApiV3(*FindSchema("io.k8s.api.core.v1.PodSpec"));
  const nlohmann::json& containers = spec["properties"]["containers"];
  EXPECT_EQ(containers["type"], "array");
  EXPECT_EQ(containers["x-kubernetes-patch-merge-key"], "name");
  EXPECT_EQ(containers["x-kubernetes-patch-strategy"], "merge");
  EXPECT_EQ(containers["x-kubernetes-list-type"], "map");
  EXPECT_EQ(containers["x-kubernetes-list-map-keys"], nlohmann::json::array({"name"}));
  EXPECT_EQ(containers["items"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.api.core.v1.Container");
  EXPECT_EQ(spec["properties"]["nodeSelector"]["additionalProperties"]["type"], "string");
  EXPECT_EQ(spec["required"], nlohmann::json::array({"containers"}));
}

TEST(SchemaTest, EveryNamedTypeHasADescription) {
  for (const Schema* s : AllSchemas()) {
    EXPECT_FALSE(s->description.empty()) << s->name;
    for (const Property& p : s->properties) {
      EXPECT_FALSE(p.schema.description.empty()) << s->name << "." << p.name;
    }
  }
}

TEST(SchemaTest, CollectReferencesIsTransitive) {
  std::vector<std::string> refs;
  Schema root;
  root.ref = "io.k8s.api.apps.v1.Deployment";
  CollectReferences(root, &refs);
  std::set<std::string> set(refs.begin(), refs.end());
  EXPECT_EQ(set.size(), refs.size());
  EXPECT_TRUE(set.count("io.k8s.api.core.v1.Container"));
  EXPECT_TRUE(set.count("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
  EXPECT_TRUE(set.count("io.k8s.apimachinery.pkg.util.intstr.IntOrString"));
}

TEST(SchemaTest, UnknownLookupsReturnNull) {
  EXPECT_EQ(FindKindSchema("v1", "Nope"), nullptr);
  EXPECT_EQ(FindKindSchema("apps/v1", "Pod"), nullptr);
  EXPECT_EQ(FindSchema("io.k8s.nope"), nullptr);
  EXPECT_EQ(Deref(nullptr), nullptr);
}

}  // namespace
}  // namespace korral::schema
