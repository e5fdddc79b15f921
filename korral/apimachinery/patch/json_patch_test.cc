// RFC 6902 (its appendix A examples) and RFC 7386 cases, and upstream's error codes.
#include "korral/apimachinery/patch/json_patch.h"

#include <gtest/gtest.h>

#include "korral/apimachinery/errors.h"

namespace korral::patch {
namespace {

struct Case {
  const char* name;
  const char* doc;
  const char* patch;
  const char* want;  // nullptr: error `code`
  int code = 0;
};

const Case kJsonPatchCases[] = {
    {"A.1 add an object member", R"({"foo":"bar"})",
     R"([{"op":"add","path":"/baz","value":"qux"}])", R"({"baz":"qux","foo":"bar"})"},
    {"A.2 add an array element", R"({"foo":["bar","baz"]})",
     R"([{"op":"add","path":"/foo/1","value":"qux"}])", R"({"foo":["bar","qux","baz"]})"},
    {"A.3 remove an object member", R"({"baz":"qux","foo":"bar"})",
     R"([{"op":"remove","path":"/baz"}])", R"({"foo":"bar"})"},
    {"A.4 remove an array element", R"({"foo":["bar","qux","baz"]})",
     R"([{"op":"remove","path":"/foo/1"}])", R"({"foo":["bar","baz"]})"},
    {"A.5 replace a value", R"({"baz":"qux","foo":"bar"})",
     R"([{"op":"replace","path":"/baz","value":"boo"}])", R"({"baz":"boo","foo":"bar"})"},
    {"A.6 move a value", R"({"foo":{"bar":"baz","waldo":"fred"},"qux":{"corge":"grault"}})",
     R"([{"op":"move","from":"/foo/waldo","path":"/qux/thud"}])",
     R"({"foo":{"bar":"baz"},"qux":{"corge":"grault","thud":"fred"}})"},
    {"A.7 move an array element", R"({"foo":["all","grass","cows","eat"]})",
     R"([{"op":"move","from":"/foo/1","path":"/foo/3"}])",
     R"({"foo":["all","cows","eat","grass"]})"},
    {"A.8 test success", R"({"baz":"qux","foo":["a",2,"c"]})",
     R"([{"op":"test","path":"/baz","value":"qux"},{"op":"test","path":"/foo/1","value":2}])",
     R"({"baz":"qux","foo":["a",2,"c"]})"},
    {"A.9 test failure is 422", R"({"baz":"qux"})",
     R"([{"op":"test","path":"/baz","value":"bar"}])", nullptr, 422},
    {"A.10 add a nested member object", R"({"foo":"bar"})",
     R"([{"op":"add","path":"/child","value":{"grandchild":{}}}])",
     R"({"foo":"bar","child":{"grandchild":{}}})"},
    {"A.12 add to a nonexistent target is 422", R"({"foo":"bar"})",
     R"([{"op":"add","path":"/baz/bat","value":"qux"}])", nullptr, 422},
    {"A.14 ~ escape ordering", R"({"/":9,"~1":10})", R"([{"op":"test","path":"/~01","value":10}])",
     R"({"/":9,"~1":10})"},
    {"A.16 add an array value", R"({"foo":["bar"]})",
     R"([{"op":"add","path":"/foo/-","value":["abc","def"]}])", R"({"foo":["bar",["abc","def"]]})"},
    {"copy", R"({"a":{"b":1}})", R"([{"op":"copy","from":"/a","path":"/c"}])",
     R"({"a":{"b":1},"c":{"b":1}})"},
    {"remove of a missing member is 422", R"({"a":1})", R"([{"op":"remove","path":"/b"}])", nullptr,
     422},
    {"replace of a missing member is 422", R"({"a":1})",
     R"([{"op":"replace","path":"/b","value":1}])", nullptr, 422},
    {"array index out of bounds is 422", R"({"a":[1]})",
     R"([{"op":"add","path":"/a/5","value":1}])", nullptr, 422},
    {"move into own child is 422", R"({"a":{"b":1}})",
     R"([{"op":"move","from":"/a","path":"/a/b/c"}])", nullptr, 422},
    {"unknown op is 400", R"({})", R"([{"op":"frobnicate","path":"/a"}])", nullptr, 400},
    {"missing path is 400", R"({})", R"([{"op":"add","value":1}])", nullptr, 400},
    {"missing value is 400", R"({})", R"([{"op":"add","path":"/a"}])", nullptr, 400},
    {"bad pointer is 400", R"({})", R"([{"op":"add","path":"a","value":1}])", nullptr, 400},
    {"not a list is 400", R"({})", R"({"op":"add"})", nullptr, 400},
    {"all or nothing", R"({"a":1})",
     R"([{"op":"replace","path":"/a","value":2},{"op":"test","path":"/a","value":1}])", nullptr,
     422},
};

TEST(JsonPatch, Rfc6902Table) {
  for (const Case& c : kJsonPatchCases) {
    SCOPED_TRACE(c.name);
    Json doc = Json::parse(c.doc);
    Json before = doc;
    auto out = ApplyJsonPatch(doc, Json::parse(c.patch));
    EXPECT_EQ(doc, before);
    if (c.want) {
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(*out, Json::parse(c.want));
    } else {
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(apierrors::HttpCode(out.status()), c.code) << out.status();
    }
  }
}

TEST(JsonPatch, TestFailureStatusAsUpstream) {
  auto out = ApplyJsonPatch(Json::parse(R"({"a":1})"),
                            Json::parse(R"([{"op":"test","path":"/a","value":2}])"));
  ASSERT_FALSE(out.ok());
  Json s = apierrors::ToStatusObject(out.status());
  EXPECT_EQ(s["reason"], "Invalid");
  EXPECT_EQ(s["message"], "the server rejected our request due to an error in our request");
  EXPECT_EQ(s["details"]["causes"][0]["message"], "testing value /a failed: test failed");
}

TEST(JsonPatch, TooManyOperations) {
  Json ops = Json::array();
  for (size_t i = 0; i <= kMaxJsonPatchOperations; ++i)
    ops.push_back({{"op", "test"}, {"path", ""}, {"value", Json::object()}});
  auto out = ApplyJsonPatch(Json::object(), ops);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(apierrors::HttpCode(out.status()), 413);
}

TEST(JsonPatch, DeepPatchesAreRejected) {
  Json deep = Json::object();
  Json* cur = &deep;
  for (size_t i = 0; i < kMaxPatchDepth + 5; ++i) cur = &((*cur)["a"] = Json::object());
  EXPECT_EQ(apierrors::HttpCode(ApplyMergePatch(Json::object(), deep).status()), 400);
  EXPECT_EQ(apierrors::HttpCode(ApplyJsonPatch(Json::object(), Json::array({deep})).status()), 400);
  EXPECT_TRUE(CheckPatchDepth(Json::parse(R"({"a":{"b":[1,{"c":2}]}})")).ok());
}

TEST(MergePatch, Rfc7386AppendixA) {
  struct M {
    const char *orig, *patch, *want;
  } table[] = {
      {R"({"a":"b"})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"b"})", R"({"b":"c"})", R"({"a":"b","b":"c"})"},
      {R"({"a":"b"})", R"({"a":null})", R"({})"},
      {R"({"a":"b","b":"c"})", R"({"a":null})", R"({"b":"c"})"},
      {R"({"a":["b"]})", R"({"a":"c"})", R"({"a":"c"})"},
      {R"({"a":"c"})", R"({"a":["b"]})", R"({"a":["b"]})"},
      {R"({"a":{"b":"c"}})", R"({"a":{"b":"d","c":null}})", R"({"a":{"b":"d"}})"},
      {R"({"a":[{"b":"c"}]})", R"({"a":[1]})", R"({"a":[1]})"},
      {R"({"e":null})", R"({"a":1})", R"({"e":null,"a":1})"},
      {R"({})", R"({"a":{"bb":{"ccc":null}}})", R"({"a":{"bb":{}}})"},
  };
  for (const auto& m : table) {
    auto out = ApplyMergePatch(Json::parse(m.orig), Json::parse(m.patch));
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(*out, Json::parse(m.want)) << m.patch;
  }
  EXPECT_EQ(apierrors::HttpCode(ApplyMergePatch(Json::object(), Json::array()).status()), 400);
}

}  // namespace
}  // namespace korral::patch
