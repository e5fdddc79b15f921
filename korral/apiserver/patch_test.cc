#include "korral/apiserver/patch.h"

#include <gtest/gtest.h>

namespace korral::apiserver {
namespace {

using nlohmann::json;

TEST(MergePatch, Rfc7386) {
  json orig = json::parse(R"({"a":"b","c":{"d":"e","f":"g"},"l":[1,2]})");
  json patch = json::parse(R"({"a":"z","c":{"f":null,"h":1},"l":[3]})");
  auto out = ApplyMergePatch(orig, patch);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(*out, json::parse(R"({"a":"z","c":{"d":"e","h":1},"l":[3]})"));
  EXPECT_FALSE(ApplyMergePatch(orig, json::array()).ok());
}

TEST(JsonPatch, Rfc6902OpsAndErrors) {
  json orig = json::parse(R"({"metadata":{"labels":{"a":"1"}},"l":[1,2]})");
  json patch = json::parse(R"([
    {"op":"add","path":"/metadata/labels/b","value":"2"},
    {"op":"remove","path":"/metadata/labels/a"},
    {"op":"replace","path":"/l/0","value":9},
    {"op":"test","path":"/l/1","value":2},
    {"op":"copy","from":"/l/0","path":"/c"},
    {"op":"move","from":"/c","path":"/m"}])");
  auto out = ApplyJsonPatch(orig, patch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out, json::parse(R"({"metadata":{"labels":{"b":"2"}},"l":[9,2],"m":9})"));
  auto failed = ApplyJsonPatch(orig, json::parse(R"([{"op":"test","path":"/l/0","value":5}])"));
  EXPECT_FALSE(failed.ok());
  EXPECT_FALSE(ApplyJsonPatch(orig, json::parse(R"([{"op":"remove","path":"/nope"}])")).ok());
  EXPECT_FALSE(ApplyJsonPatch(orig, json::object()).ok());
}

TEST(StrategicMergePatch, MergesContainersByNameAndOrders) {
  json orig = json::parse(R"({"apiVersion":"v1","kind":"Pod","spec":{"containers":[
      {"name":"a","image":"a:1","env":[{"name":"X","value":"1"}]},
      {"name":"b","image":"b:1"}]}})");
  json patch = json::parse(R"({"spec":{
      "$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
      "containers":[{"name":"a","image":"a:2","env":[{"name":"Y","value":"2"}]}]}})");
  auto out = ApplyStrategicMergePatch(orig, patch);
  ASSERT_TRUE(out.ok()) << out.status();
  const json& cs = (*out)["spec"]["containers"];
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0]["name"], "b");
  EXPECT_EQ(cs[1]["image"], "a:2");
  EXPECT_EQ(cs[1]["env"].size(), 2u);
}

TEST(StrategicMergePatch, Directives) {
  json orig = json::parse(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"finalizers":["x","y"],"labels":{"a":"1"}},
      "spec":{"containers":[{"name":"a"},{"name":"b"}],"ports":[{"port":80},{"port":81}]}})");
  json patch = json::parse(R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["x"],
      "labels":{"a":null}},
      "spec":{"containers":[{"name":"b","$patch":"delete"}],
              "ports":[{"$patch":"replace"},{"port":90}]}})");
  auto out = ApplyStrategicMergePatch(orig, patch);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)["metadata"]["finalizers"], json::parse(R"(["y"])"));
  EXPECT_FALSE((*out)["metadata"]["labels"].contains("a"));
  EXPECT_EQ((*out)["spec"]["containers"], json::parse(R"([{"name":"a"}])"));
  EXPECT_EQ((*out)["spec"]["ports"], json::parse(R"([{"port":90}])"));
  EXPECT_FALSE(
      ApplyStrategicMergePatch(orig, json::parse(R"({"spec":{"containers":[{"image":"x"}]}})"))
          .ok());
}

TEST(PatchType, FromContentType) {
  EXPECT_EQ(*PatchTypeFromContentType("application/merge-patch+json"), PatchType::kMerge);
  EXPECT_EQ(*PatchTypeFromContentType("application/strategic-merge-patch+json; charset=utf-8"),
            PatchType::kStrategic);
  EXPECT_EQ(*PatchTypeFromContentType("application/apply-patch+yaml"), PatchType::kApply);
  EXPECT_FALSE(PatchTypeFromContentType("application/json").ok());
}

}  // namespace
}  // namespace korral::apiserver
