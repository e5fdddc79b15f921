#include "korral/apimachinery/yaml.h"

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace korral::yaml {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

TEST(YamlToJson, Scalars) {
  struct Case {
    const char* yaml;
    const char* json;
  } cases[] = {
      {"a: 1", R"({"a":1})"},
      {"a: -12", R"({"a":-12})"},
      {"a: 0x1F", R"({"a":31})"},
      {"a: 0o17", R"({"a":15})"},
      {"a: 017", R"({"a":15})"},
      {"a: 0b101", R"({"a":5})"},
      {"a: 1_000", R"({"a":1000})"},
      {"a: 18446744073709551615", R"({"a":18446744073709551615})"},
      {"a: 1.5", R"({"a":1.5})"},
      {"a: .5", R"({"a":0.5})"},
      {"a: 1e3", R"({"a":1000.0})"},
      {"a: true", R"({"a":true})"},
      {"a: True", R"({"a":true})"},
      {"a: yes", R"({"a":true})"},
      {"a: on", R"({"a":true})"},
      {"a: y", R"({"a":true})"},
      {"a: no", R"({"a":false})"},
      {"a: off", R"({"a":false})"},
      {"a: N", R"({"a":false})"},
      {"a: 'yes'", R"({"a":"yes"})"},
      {"a: \"1\"", R"({"a":"1"})"},
      {"a: ~", R"({"a":null})"},
      {"a: null", R"({"a":null})"},
      {"a:", R"({"a":null})"},
      {"a: 'null'", R"({"a":"null"})"},
      {"a: hello world", R"({"a":"hello world"})"},
      {"a: 1.2.3", R"({"a":"1.2.3"})"},
      {"a: 2024-01-02", R"({"a":"2024-01-02"})"},
      {"a: 2024-01-02T03:04:05Z", R"({"a":"2024-01-02T03:04:05Z"})"},
      {"a: 0x", R"({"a":"0x"})"},
      {"a: +", R"({"a":"+"})"},
      {"a: |\n  x\n  y\n", R"({"a":"x\ny\n"})"},
      {"a: >-\n  x\n  y\n", R"({"a":"x y"})"},
      {"a: !!str 12", R"({"a":"12"})"},
      {"a: !!float 12", R"({"a":12.0})"},
      {"a: !custom 12", R"({"a":"12"})"},
      {"1: a", R"({"1":"a"})"},
      {"true: a", R"({"true":"a"})"},
      {"0x10: a", R"({"16":"a"})"},
      // goyaml.v2 resolves the key `y` as a YAML 1.1 bool too.
      {"y: 1", R"({"true":1})"},
      {"1.5: a", R"({"1.5":"a"})"},
      {"", "null"},
      {"# only a comment\n", "null"},
      {"- 1\n- b\n- [c, {d: e}]", R"([1,"b",["c",{"d":"e"}]])"},
      {"{\"json\": [1, 2.5, \"x\", null, true]}", R"({"json":[1,2.5,"x",null,true]})"},
      {"a: {}", R"({"a":{}})"},
      {"a: []", R"({"a":[]})"},
  };
  for (const auto& c : cases) {
    auto j = YamlToJson(c.yaml);
    ASSERT_TRUE(j.ok()) << c.yaml << ": " << j.status();
    EXPECT_EQ(*j, Json::parse(c.json)) << c.yaml << " -> " << j->dump();
    // Integers must stay integers (not floats).
    if (std::string(c.json) == R"({"a":1})") {
      EXPECT_TRUE((*j)["a"].is_number_integer());
    }
  }
}

TEST(YamlToJson, AnchorsAndMerge) {
  auto j = YamlToJson(R"(
base: &b
  x: 1
  z: 2
list: &l [a, b]
use: *b
again: *l
merged:
  <<: *b
  z: 3
multi:
  <<: [{p: 1}, {p: 2, q: 2}]
)");
  ASSERT_TRUE(j.ok()) << j.status();
  EXPECT_EQ((*j)["use"], Json::parse(R"({"x":1,"z":2})"));
  EXPECT_EQ((*j)["again"], Json::parse(R"(["a","b"])"));
  EXPECT_EQ((*j)["merged"], Json::parse(R"({"x":1,"z":3})"));
  EXPECT_EQ((*j)["multi"], Json::parse(R"({"p":1,"q":2})"));
}

TEST(YamlToJson, Errors) {
  struct Case {
    const char* yaml;
    const char* want;
  } cases[] = {
      {"a: 1\nb: 2\na: 3\n", "line 3: key \"a\" already set in map"},
      {"a: [1, 2\n", "yaml: line"},
      {"a: b\n c: d\n  - x", "yaml: line"},
      {"a: .inf", "unsupported value"},
      {"a: !!int abc", "cannot decode"},
      {"? [a]\n: b", "only scalar keys"},
      {"null: x", "unsupported map key"},
      {"a: 1\n---\nb: 2\n", "single document"},
      {",", "did not find expected node content"},
      {"a: 1\n---\n, x", "did not find expected node content"},
  };
  for (const auto& c : cases) {
    auto j = YamlToJson(c.yaml);
    ASSERT_FALSE(j.ok()) << c.yaml << " -> " << j->dump();
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    std::string msg(j.status().message());
    EXPECT_THAT(msg, StartsWith("error converting YAML to JSON: yaml: ")) << c.yaml;
    EXPECT_THAT(msg, HasSubstr(c.want)) << c.yaml;
  }
}

TEST(YamlToJson, BillionLaughsIsBounded) {
  std::string y = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  std::string prev = "a";
  for (char c = 'b'; c <= 'j'; ++c) {
    y += std::string(1, c) + ": &" + c + " [";
    for (int i = 0; i < 10; ++i) y += (i ? ", *" : "*") + prev;
    y += "]\n";
    prev = std::string(1, c);
  }
  auto j = YamlToJson(y);
  ASSERT_FALSE(j.ok());
  EXPECT_THAT(std::string(j.status().message()), HasSubstr("excessive aliasing"));
}

TEST(YamlToJson, DepthIsBounded) {
  std::string deep(kMaxYamlDepth + 10, '[');
  deep += std::string(kMaxYamlDepth + 10, ']');
  auto j = YamlToJson(deep);
  ASSERT_FALSE(j.ok());
  std::string ok_depth(50, '[');
  ok_depth += std::string(50, ']');
  EXPECT_TRUE(YamlToJson(ok_depth).ok());
}

TEST(YamlDocumentsToJson, MultiDoc) {
  auto docs = YamlDocumentsToJson("a: 1\n---\n---\n# empty\n---\nb: 2\n...\n---\n- 3\n");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0], Json::parse(R"({"a":1})"));
  EXPECT_EQ((*docs)[1], Json::parse(R"({"b":2})"));
  EXPECT_EQ((*docs)[2], Json::parse(R"([3])"));
  auto bad = YamlDocumentsToJson("a: 1\n---\na: [\n");
  EXPECT_FALSE(bad.ok());
  auto none = YamlDocumentsToJson("");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(JsonToYaml, Golden) {
  Json j = Json::parse(R"({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "cm", "labels": {"app": "web"}},
    "data": {"yes": "yes", "n": "1", "e": "", "multi": "line1\nline2\n", "colon": "a: b",
             "hash": "a #b", "lead": "-x", "nul": "null", "t": "2024-01-02"},
    "list": [1, "two", {"k": "v", "k2": [true, null]}, [], {}, [3, 4]],
    "f": 1.5, "emptyo": {}, "emptyl": []
  })");
  std::string y = JsonToYaml(j);
  EXPECT_EQ(y, R"(apiVersion: v1
data:
  colon: "a: b"
  e: ""
  hash: "a #b"
  lead: "-x"
  multi: |
    line1
    line2
  "n": "1"
  nul: "null"
  t: "2024-01-02"
  "yes": "yes"
emptyl: []
emptyo: {}
f: 1.5
kind: ConfigMap
list:
- 1
- two
- k: v
  k2:
  - true
  - null
- []
- {}
- - 3
  - 4
metadata:
  labels:
    app: web
  name: cm
)");
}

TEST(JsonToYaml, RoundTrips) {
  const char* cases[] = {
      R"({"a":"yes","b":"0x10","c":"1e3","d":"~","e":" lead","f":"trail ","g":"tab\tx"})",
      R"({"a":"x\ny","b":"x\n","c":"\nx","d":"x\n\n","e":"  x\ny","f":"a\r\nb","g":"é ü"})",
      R"({"k":[[1,[2,[]]],{"a":{"b":{"c":[{"d":1}]}}}],"n":null,"i":-5,"u":18446744073709551615})",
      R"({"weird key: x":1,"- y":2,"":3,"multi\nline":4,"#":5,"<<":6})",
      R"([{"a":1,"b":[1,2]},"s",3.25,false])",
      R"("top")",
      R"(42)",
      R"({"x":"line1\nline2"})",
  };
  for (const char* c : cases) {
    Json j = Json::parse(c);
    std::string y = JsonToYaml(j);
    auto back = YamlToJson(y);
    ASSERT_TRUE(back.ok()) << y << "\n" << back.status();
    EXPECT_EQ(*back, j) << y;
  }
}

}  // namespace
}  // namespace korral::yaml
