#include "korral/apimachinery/fields.h"

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace korral::fields {
namespace {

using ::testing::HasSubstr;

TEST(FieldSelectorParse, Table) {
  struct Case {
    const char* in;
    std::vector<FieldRequirement> want;
    const char* canonical;
  } cases[] = {
      {"", {}, ""},
      {"a=b", {{"a", FieldRequirement::kEquals, "b"}}, "a=b"},
      {"a==b", {{"a", FieldRequirement::kEquals, "b"}}, "a=b"},
      {"a!=b", {{"a", FieldRequirement::kNotEquals, "b"}}, "a!=b"},
      {"a=b,c!=d,e==f",
       {{"a", FieldRequirement::kEquals, "b"},
        {"c", FieldRequirement::kNotEquals, "d"},
        {"e", FieldRequirement::kEquals, "f"}},
       "a=b,c!=d,e=f"},
      {"a=,", {{"a", FieldRequirement::kEquals, ""}}, "a="},
      {",,a=b,,", {{"a", FieldRequirement::kEquals, "b"}}, "a=b"},
      {"a=x\\,y", {{"a", FieldRequirement::kEquals, "x,y"}}, "a=x\\,y"},
      {"a=x\\=y\\\\", {{"a", FieldRequirement::kEquals, "x=y\\"}}, "a=x\\=y\\\\"},
      {"metadata.name=n\\,1,spec.nodeName!=",
       {{"metadata.name", FieldRequirement::kEquals, "n,1"},
        {"spec.nodeName", FieldRequirement::kNotEquals, ""}},
       "metadata.name=n\\,1,spec.nodeName!="},
  };
  for (const auto& c : cases) {
    auto s = FieldSelector::Parse(c.in);
    ASSERT_TRUE(s.ok()) << c.in << ": " << s.status();
    ASSERT_EQ(s->requirements().size(), c.want.size()) << c.in;
    for (size_t i = 0; i < c.want.size(); ++i) {
      EXPECT_EQ(s->requirements()[i].field, c.want[i].field) << c.in;
      EXPECT_EQ(s->requirements()[i].op, c.want[i].op) << c.in;
      EXPECT_EQ(s->requirements()[i].value, c.want[i].value) << c.in;
    }
    EXPECT_EQ(s->String(), c.canonical);
    EXPECT_EQ(s->Empty(), c.want.empty());
  }
}

TEST(FieldSelectorParse, Errors) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"a", "invalid selector: 'a'; can't understand 'a'"},
      {"a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"},
      {"a=b\\", "invalid field selector: invalid escape sequence: \\"},
      {"a=\\x", "invalid field selector: invalid escape sequence: \\x"},
      {"a=b=c", "invalid field selector: unescaped character in value: 61"},
      {"a\\=b", "can't understand"},
  };
  for (const auto& c : cases) {
    auto s = FieldSelector::Parse(c.in);
    ASSERT_FALSE(s.ok()) << c.in;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(s.status().message()), HasSubstr(c.want)) << c.in;
  }
}

TEST(FieldSelector, Matches) {
  std::map<std::string, std::string> obj = {{"metadata.name", "p1"}, {"spec.nodeName", ""}};
  FieldLookup lookup = [&](std::string_view f) -> std::optional<std::string> {
    auto it = obj.find(std::string(f));
    if (it == obj.end()) return std::nullopt;
    return it->second;
  };
  struct Case {
    const char* sel;
    bool want;
  } cases[] = {
      {"", true},
      {"metadata.name=p1", true},
      {"metadata.name=p2", false},
      {"metadata.name!=p2", true},
      {"metadata.name!=p1", false},
      {"spec.nodeName=", true},
      {"spec.nodeName!=", false},
      {"metadata.name=p1,spec.nodeName=", true},
      {"metadata.name=p1,spec.nodeName=n", false},
  };
  for (const auto& c : cases) {
    auto s = FieldSelector::Parse(c.sel);
    ASSERT_TRUE(s.ok());
    auto m = s->Matches(lookup);
    ASSERT_TRUE(m.ok()) << c.sel;
    EXPECT_EQ(*m, c.want) << c.sel;
  }
  auto s = FieldSelector::Parse("metadata.name=p2,spec.foo=x");
  auto m = s->Matches(lookup);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(m.status().message(), "field label not supported: spec.foo");
}

TEST(FieldSelector, RequiredValue) {
  auto s = FieldSelector::Parse("a=1,b!=2,c==3");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->RequiredValue("a"), "1");
  EXPECT_EQ(s->RequiredValue("b"), std::nullopt);
  EXPECT_EQ(s->RequiredValue("c"), "3");
  EXPECT_EQ(s->RequiredValue("d"), std::nullopt);
}

TEST(FieldSelector, EscapeRoundTrip) {
  for (std::string v : {"", "a", "a,b", "=", "\\", "a\\,=b"}) {
    auto u = UnescapeValue(EscapeValue(v));
    ASSERT_TRUE(u.ok()) << v;
    EXPECT_EQ(*u, v);
  }
}

}  // namespace
}  // namespace korral::fields
