#include "korral/apimachinery/labels.h"

#include <nlohmann/json.hpp>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace korral::labels {
namespace {

using Json = nlohmann::json;
using ::testing::HasSubstr;

TEST(LabelSelectorParse, CanonicalString) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"", ""},
      {"   ", ""},
      {"x=a", "x=a"},
      {"x==a", "x==a"},
      {"x!=a", "x!=a"},
      {" x = a , y == b ", "x=a,y==b"},
      {"y=b,x=a", "x=a,y=b"},
      {"x in (b,a,a)", "x in (a,b)"},
      {"x notin (a)", "x notin (a)"},
      {"x in ()", "x in ()"},
      {"x in (,a)", "x in (,a)"},
      {"x", "x"},
      {"!x", "!x"},
      {"x=", "x="},
      {"x=,y=b", "x=,y=b"},
      {"x>1", "x>1"},
      {"x<2", "x<2"},
      {"example.com/app=web", "example.com/app=web"},
      {"x in (in, notin)", "x in (in,notin)"},
      {"x=a,x!=b", "x=a,x!=b"},
  };
  for (const auto& c : cases) {
    auto s = LabelSelector::Parse(c.in);
    ASSERT_TRUE(s.ok()) << c.in << ": " << s.status();
    EXPECT_EQ(s->String(), c.want) << c.in;
    // The canonical form re-parses to itself.
    auto again = LabelSelector::Parse(s->String());
    ASSERT_TRUE(again.ok()) << s->String();
    EXPECT_EQ(again->String(), c.want);
  }
}

TEST(LabelSelectorParse, Errors) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"x=a,", "found '', expected: identifier after ','"},
      {",x=a", "found ',', expected: !, identifier, or 'end of string'"},
      {"x in a", "found 'a' expected: '('"},
      {"x in (a", "found '', expected: ',' or ')'"},
      {"x=a b", "found 'b', expected: ',' or 'end of string'"},
      {"x (a)", "expected: in, notin, =, ==, !=, gt, lt"},
      {"x=(", "found '(', expected: identifier"},
      {"!x=a", "found '=', expected: ',' or 'end of string'"},
      {"a/b/c=d", "a qualified name must consist of"},
      {"-x=a", "name part must consist of alphanumeric characters"},
      {"Foo.com/x=a", "prefix part a lowercase RFC 1123 subdomain"},
      {"/x=a", "prefix part must be non-empty"},
      {"x=-a", "values[0][x]: Invalid value: \"-a\""},
      {"x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
       "must be no more than 63 characters"},
      {"x>a", "for 'Gt', 'Lt' operators, the value must be an integer"},
      {"x<-2", "values[0][x]: Invalid value: \"-2\""},
      {"x in (a b)", "found 'b', expected: ',' or ')'"},
  };
  for (const auto& c : cases) {
    auto s = LabelSelector::Parse(c.in);
    ASSERT_FALSE(s.ok()) << c.in << " parsed as " << s->String();
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.want)) << c.in;
  }
  auto s = LabelSelector::Parse("a b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(std::string(s.status().message()), HasSubstr("unable to parse requirement: "));
}

TEST(LabelSelectorMatches, Table) {
  Json labels = {{"app", "web"}, {"tier", "frontend"}, {"n", "5"}};
  struct Case {
    const char* sel;
    bool want;
  } cases[] = {
      {"", true},
      {"app=web", true},
      {"app==web", true},
      {"app=db", false},
      {"app!=db", true},
      {"app!=web", false},
      {"missing!=x", true},
      {"app in (db,web)", true},
      {"app in (db)", false},
      {"missing in (db)", false},
      {"app notin (db)", true},
      {"app notin (web)", false},
      {"missing notin (web)", true},
      {"app", true},
      {"missing", false},
      {"!missing", true},
      {"!app", false},
      {"n>4", true},
      {"n>5", false},
      {"n<6", true},
      {"app>4", false},
      {"app=web,tier=frontend", true},
      {"app=web,tier=backend", false},
  };
  for (const auto& c : cases) {
    auto s = LabelSelector::Parse(c.sel);
    ASSERT_TRUE(s.ok()) << c.sel;
    EXPECT_EQ(s->Matches(labels), c.want) << c.sel;
  }
}

TEST(LabelSelectorMatches, NullLabels) {
  auto s = LabelSelector::Parse("!a,b notin (c),d!=e");
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(s->Matches(Json()));
  EXPECT_TRUE(s->Matches(Json::object()));
  auto t = LabelSelector::Parse("a");
  EXPECT_FALSE(t->Matches(Json()));
  EXPECT_TRUE(LabelSelector().Matches(Json()));
  EXPECT_TRUE(LabelSelector().Empty());
  EXPECT_FALSE(LabelSelector::Nothing().Matches(Json()));
  EXPECT_FALSE(LabelSelector::Nothing().Empty());
  // Non-string values count as absent.
  EXPECT_FALSE(t->Matches(Json{{"a", 1}}));
}

TEST(LabelSelector, RequiredValue) {
  auto s = LabelSelector::Parse("a=1,b in (2),c in (3,4),d!=5");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->RequiredValue("a"), "1");
  EXPECT_EQ(s->RequiredValue("b"), "2");
  EXPECT_EQ(s->RequiredValue("c"), std::nullopt);
  EXPECT_EQ(s->RequiredValue("d"), std::nullopt);
  EXPECT_EQ(s->RequiredValue("e"), std::nullopt);
}

TEST(LabelSelector, FromSet) {
  auto s = LabelSelector::FromSet({{"b", "2"}, {"a", "1"}});
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->String(), "a=1,b=2");
  EXPECT_FALSE(LabelSelector::FromSet({{"a b", "1"}}).ok());
}

TEST(FromLabelSelectorJson, Semantics) {
  auto null_sel = FromLabelSelectorJson(Json());
  ASSERT_TRUE(null_sel.ok());
  EXPECT_TRUE(null_sel->MatchesNothing());
  EXPECT_FALSE(null_sel->Matches(Json{{"a", "b"}}));

  auto empty = FromLabelSelectorJson(Json::object());
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->Empty());
  EXPECT_TRUE(empty->Matches(Json{{"a", "b"}}));

  auto empty2 = FromLabelSelectorJson(
      Json{{"matchLabels", Json::object()}, {"matchExpressions", Json::array()}});
  ASSERT_TRUE(empty2.ok());
  EXPECT_TRUE(empty2->Empty());

  Json sel = Json::parse(R"({
    "matchLabels": {"app": "web"},
    "matchExpressions": [
      {"key": "tier", "operator": "In", "values": ["a", "b"]},
      {"key": "env", "operator": "NotIn", "values": ["prod"]},
      {"key": "x", "operator": "Exists"},
      {"key": "y", "operator": "DoesNotExist"}
    ]})");
  auto s = FromLabelSelectorJson(sel);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->String(), "app=web,env notin (prod),tier in (a,b),x,!y");
  EXPECT_TRUE(s->Matches(Json{{"app", "web"}, {"tier", "a"}, {"x", ""}}));
  EXPECT_FALSE(s->Matches(Json{{"app", "web"}, {"tier", "a"}, {"x", ""}, {"y", "1"}}));
  EXPECT_FALSE(s->Matches(Json{{"app", "web"}, {"tier", "c"}, {"x", ""}}));
}

TEST(FromLabelSelectorJson, Errors) {
  struct Case {
    const char* json;
    const char* want;
  } cases[] = {
      {R"({"matchExpressions":[{"key":"a","operator":"Foo"}]})",
       "\"Foo\" is not a valid label selector operator"},
      {R"({"matchExpressions":[{"key":"a","operator":"In","values":[]}]})",
       "values set can't be empty"},
      {R"({"matchExpressions":[{"key":"a","operator":"Exists","values":["x"]}]})",
       "values set must be empty"},
      {R"({"matchLabels":{"a b":"c"}})", "key: Invalid value: \"a b\""},
      {R"({"matchLabels":{"a":"-"}})", "values[0][a]: Invalid value"},
      {R"({"matchLabels":{"a":1}})", "must be a string"},
      {R"({"matchLabels":[]})", "must be an object"},
      {R"([])", "must be an object"},
  };
  for (const auto& c : cases) {
    auto s = FromLabelSelectorJson(Json::parse(c.json));
    ASSERT_FALSE(s.ok()) << c.json;
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.want)) << c.json;
  }
}

TEST(Validation, QualifiedName) {
  EXPECT_TRUE(IsQualifiedName("a").empty());
  EXPECT_TRUE(IsQualifiedName("kubernetes.io/name").empty());
  EXPECT_TRUE(IsQualifiedName("A_b.c-D").empty());
  EXPECT_FALSE(IsQualifiedName("").empty());
  EXPECT_FALSE(IsQualifiedName("a_").empty());
  EXPECT_FALSE(IsQualifiedName(std::string(64, 'a')).empty());
  EXPECT_TRUE(IsQualifiedName(std::string(63, 'a')).empty());
  EXPECT_FALSE(IsQualifiedName("ex..com/a").empty());
  EXPECT_TRUE(IsValidLabelValue("").empty());
  EXPECT_FALSE(IsValidLabelValue("a b").empty());
  EXPECT_FALSE(IsDNS1123Subdomain(std::string(254, 'a')).empty());
}

}  // namespace
}  // namespace korral::labels
