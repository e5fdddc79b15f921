#include "korral/apimachinery/labels.h"

#include <algorithm>
#include <charconv>
#include <cstdint>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace korral::labels {
namespace {

using Json = nlohmann::json;

// Debian's abseil has its own absl::string_view (not an alias of std::string_view).
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr size_t kQualifiedNameMaxLength = 63;
constexpr size_t kLabelValueMaxLength = 63;
constexpr size_t kDNS1123SubdomainMaxLength = 253;

constexpr char kQualifiedNameErr[] =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
constexpr char kLabelValueErr[] =
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
constexpr char kDNS1123SubdomainErr[] =
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

bool IsAlnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}
bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedNamePart(std::string_view s) {
  if (s.empty() || !IsAlnum(s.front()) || !IsAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesDNS1123Label(std::string_view s) {
  if (s.empty() || !IsLowerAlnum(s.front()) || !IsLowerAlnum(s.back())) return false;
  for (char c : s) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

// Go's %q for the ASCII cases that matter in error messages.
std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\x";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

// field.Invalid(path, value, detail).Error()
absl::Status InvalidField(std::string_view path, std::string_view value, std::string_view detail) {
  return absl::InvalidArgumentError(
      absl::StrCat(Sv(path), ": Invalid value: ", GoQuote(value), ": ", Sv(detail)));
}

std::optional<int64_t> ParseInt64(std::string_view s) {
  int64_t v = 0;
  const char* begin = s.data();
  const char* end = s.data() + s.size();
  if (begin != end && *begin == '+') ++begin;
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
  return v;
}

const std::string* LabelValue(const Json& labels, const std::string& key) {
  if (!labels.is_object()) return nullptr;
  auto it = labels.find(key);
  if (it == labels.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

// ---- lexer / parser (grammar of upstream labels.Parse) ----

enum class Tok {
  kError,
  kEnd,
  kClosedPar,
  kComma,
  kDoesNotExist,
  kDoubleEquals,
  kEquals,
  kGreaterThan,
  kIdentifier,
  kIn,
  kLessThan,
  kNotEquals,
  kNotIn,
  kOpenPar,
};

struct Item {
  Tok tok;
  std::string lit;
};

bool IsWhitespace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool IsSpecial(char c) {
  switch (c) {
    case '=':
    case '!':
    case '(':
    case ')':
    case ',':
    case '>':
    case '<':
      return true;
    default:
      return false;
  }
}

std::optional<Tok> KeywordToken(std::string_view s) {
  if (s == ")") return Tok::kClosedPar;
  if (s == ",") return Tok::kComma;
  if (s == "!") return Tok::kDoesNotExist;
  if (s == "==") return Tok::kDoubleEquals;
  if (s == "=") return Tok::kEquals;
  if (s == ">") return Tok::kGreaterThan;
  if (s == "in") return Tok::kIn;
  if (s == "<") return Tok::kLessThan;
  if (s == "!=") return Tok::kNotEquals;
  if (s == "notin") return Tok::kNotIn;
  if (s == "(") return Tok::kOpenPar;
  return std::nullopt;
}

std::vector<Item> Lex(std::string_view s) {
  std::vector<Item> items;
  size_t pos = 0;
  while (true) {
    while (pos < s.size() && IsWhitespace(s[pos])) ++pos;
    if (pos >= s.size()) {
      items.push_back({Tok::kEnd, ""});
      return items;
    }
    if (IsSpecial(s[pos])) {
      // Longest run of special symbols that still forms a known token.
      std::string buf;
      std::optional<Item> last;
      while (pos < s.size() && IsSpecial(s[pos])) {
        buf += s[pos];
        if (auto t = KeywordToken(buf)) {
          last = Item{*t, buf};
          ++pos;
        } else if (last) {
          break;
        } else {
          ++pos;
        }
      }
      if (!last) {
        items.push_back({Tok::kError, absl::StrCat("error expected: keyword found '", buf, "'")});
      } else {
        items.push_back(*last);
      }
      continue;
    }
    std::string buf;
    while (pos < s.size() && !IsSpecial(s[pos]) && !IsWhitespace(s[pos])) buf += s[pos++];
    if (buf == "in") {
      items.push_back({Tok::kIn, buf});
    } else if (buf == "notin") {
      items.push_back({Tok::kNotIn, buf});
    } else {
      items.push_back({Tok::kIdentifier, buf});
    }
  }
}

class Parser {
 public:
  explicit Parser(std::vector<Item> items) : items_(std::move(items)) {}

  absl::StatusOr<std::vector<Requirement>> Parse() {
    std::vector<Requirement> reqs;
    while (true) {
      const Item& it = Lookahead(true);
      switch (it.tok) {
        case Tok::kIdentifier:
        case Tok::kDoesNotExist: {
          auto r = ParseRequirement();
          if (!r.ok()) {
            return absl::InvalidArgumentError(
                absl::StrCat("unable to parse requirement: ", r.status().message()));
          }
          reqs.push_back(*std::move(r));
          Item t = Consume(true);
          if (t.tok == Tok::kEnd) return reqs;
          if (t.tok == Tok::kComma) {
            const Item& t2 = Lookahead(true);
            if (t2.tok != Tok::kIdentifier && t2.tok != Tok::kDoesNotExist) {
              return absl::InvalidArgumentError(
                  absl::StrCat("found '", t2.lit, "', expected: identifier after ','"));
            }
            break;
          }
          return absl::InvalidArgumentError(
              absl::StrCat("found '", t.lit, "', expected: ',' or 'end of string'"));
        }
        case Tok::kEnd:
          return reqs;
        default:
          return absl::InvalidArgumentError(
              absl::StrCat("found '", it.lit, "', expected: !, identifier, or 'end of string'"));
      }
    }
  }

 private:
  // In a "values" context the keywords in/notin are plain identifiers.
  Item Map(const Item& it, bool values) const {
    if (values && (it.tok == Tok::kIn || it.tok == Tok::kNotIn)) {
      return {Tok::kIdentifier, it.lit};
    }
    return it;
  }
  const Item& Peek() const { return items_[std::min(pos_, items_.size() - 1)]; }
  Item Lookahead(bool values) const { return Map(Peek(), values); }
  Item Consume(bool values) {
    Item it = Map(Peek(), values);
    if (pos_ < items_.size() - 1) ++pos_;
    return it;
  }

  absl::StatusOr<Requirement> ParseRequirement() {
    std::optional<Operator> op;
    Item t = Consume(true);
    if (t.tok == Tok::kDoesNotExist) {
      op = Operator::kDoesNotExist;
      t = Consume(true);
    }
    if (t.tok != Tok::kIdentifier) {
      return absl::InvalidArgumentError(absl::StrCat("found '", t.lit, "', expected: identifier"));
    }
    std::string key = t.lit;
    if (auto errs = IsQualifiedName(key); !errs.empty()) {
      return InvalidField("<nil>", key, absl::StrJoin(errs, "; "));
    }
    Tok next = Lookahead(true).tok;
    // "!key" never takes an operator; whatever follows it is reported by the caller.
    if (op == Operator::kDoesNotExist || next == Tok::kEnd || next == Tok::kComma) {
      return Requirement::Create(std::move(key), op.value_or(Operator::kExists), {});
    }
    Item o = Consume(false);
    Operator bop;
    switch (o.tok) {
      case Tok::kIn:
        bop = Operator::kIn;
        break;
      case Tok::kEquals:
        bop = Operator::kEquals;
        break;
      case Tok::kDoubleEquals:
        bop = Operator::kDoubleEquals;
        break;
      case Tok::kGreaterThan:
        bop = Operator::kGreaterThan;
        break;
      case Tok::kLessThan:
        bop = Operator::kLessThan;
        break;
      case Tok::kNotIn:
        bop = Operator::kNotIn;
        break;
      case Tok::kNotEquals:
        bop = Operator::kNotEquals;
        break;
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("found '", o.lit, "', expected: in, notin, =, ==, !=, gt, lt"));
    }
    std::vector<std::string> values;
    if (bop == Operator::kIn || bop == Operator::kNotIn) {
      auto v = ParseValues();
      if (!v.ok()) return v.status();
      values = *std::move(v);
    } else {
      Item v = Lookahead(true);
      if (v.tok == Tok::kEnd || v.tok == Tok::kComma) {
        values.push_back("");
      } else {
        v = Consume(true);
        if (v.tok != Tok::kIdentifier) {
          return absl::InvalidArgumentError(
              absl::StrCat("found '", v.lit, "', expected: identifier"));
        }
        values.push_back(v.lit);
      }
    }
    return Requirement::Create(std::move(key), bop, std::move(values));
  }

  absl::StatusOr<std::vector<std::string>> ParseValues() {
    Item t = Consume(true);
    if (t.tok != Tok::kOpenPar) {
      return absl::InvalidArgumentError(absl::StrCat("found '", t.lit, "' expected: '('"));
    }
    Item la = Lookahead(true);
    switch (la.tok) {
      case Tok::kIdentifier:
      case Tok::kComma: {
        std::vector<std::string> s;
        while (true) {
          Item v = Consume(true);
          if (v.tok == Tok::kIdentifier) {
            s.push_back(v.lit);
            Item n = Lookahead(true);
            if (n.tok == Tok::kComma) continue;
            if (n.tok == Tok::kClosedPar) break;
            return absl::InvalidArgumentError(
                absl::StrCat("found '", n.lit, "', expected: ',' or ')'"));
          } else if (v.tok == Tok::kComma) {
            if (s.empty()) s.push_back("");
            Tok n = Lookahead(true).tok;
            if (n == Tok::kClosedPar) {
              s.push_back("");
              break;
            }
            if (n == Tok::kComma) s.push_back("");
          } else {
            return absl::InvalidArgumentError(
                absl::StrCat("found '", v.lit, "', expected: ',', or identifier"));
          }
        }
        if (Consume(true).tok != Tok::kClosedPar) {
          return absl::InvalidArgumentError(absl::StrCat("found '", la.lit, "', expected: ')'"));
        }
        return s;
      }
      case Tok::kClosedPar:
        Consume(true);
        return std::vector<std::string>{""};
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("found '", la.lit, "', expected: ',', ')' or identifier"));
    }
  }

  std::vector<Item> items_;
  size_t pos_ = 0;
};

absl::StatusOr<Operator> ParseExpressionOperator(std::string_view op) {
  if (op == "In") return Operator::kIn;
  if (op == "NotIn") return Operator::kNotIn;
  if (op == "Exists") return Operator::kExists;
  if (op == "DoesNotExist") return Operator::kDoesNotExist;
  return absl::InvalidArgumentError(
      absl::StrCat(GoQuote(op), " is not a valid label selector operator"));
}

}  // namespace

std::vector<std::string> IsDNS1123Subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kDNS1123SubdomainMaxLength) {
    errs.push_back(
        absl::StrCat("must be no more than ", kDNS1123SubdomainMaxLength, " characters"));
  }
  bool ok = !value.empty();
  size_t start = 0;
  while (ok) {
    size_t dot = value.find('.', start);
    std::string_view label =
        value.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!MatchesDNS1123Label(label)) ok = false;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (!ok) errs.push_back(kDNS1123SubdomainErr);
  return errs;
}

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name = value;
  size_t slash = value.find('/');
  if (slash != std::string_view::npos) {
    if (value.find('/', slash + 1) != std::string_view::npos) {
      errs.push_back(absl::StrCat("a qualified name ", kQualifiedNameErr,
                                  " with an optional DNS subdomain prefix and '/' (e.g. "
                                  "'example.com/MyName')"));
      return errs;
    }
    std::string_view prefix = value.substr(0, slash);
    name = value.substr(slash + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (auto& e : IsDNS1123Subdomain(prefix)) errs.push_back("prefix part " + e);
    }
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > kQualifiedNameMaxLength) {
    errs.push_back(
        absl::StrCat("name part must be no more than ", kQualifiedNameMaxLength, " characters"));
  }
  if (!MatchesQualifiedNamePart(name)) {
    errs.push_back(absl::StrCat("name part ", kQualifiedNameErr));
  }
  return errs;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > kLabelValueMaxLength) {
    errs.push_back(absl::StrCat("must be no more than ", kLabelValueMaxLength, " characters"));
  }
  if (!value.empty() && !MatchesQualifiedNamePart(value)) errs.push_back(kLabelValueErr);
  return errs;
}

absl::StatusOr<Requirement> Requirement::Create(std::string key, Operator op,
                                                std::vector<std::string> values) {
  if (auto errs = IsQualifiedName(key); !errs.empty()) {
    return InvalidField("key", key, absl::StrJoin(errs, "; "));
  }
  switch (op) {
    case Operator::kIn:
    case Operator::kNotIn:
      if (values.empty()) {
        return absl::InvalidArgumentError(
            "values: Invalid value: []string{}: for 'in', 'notin' operators, values set can't "
            "be empty");
      }
      break;
    case Operator::kEquals:
    case Operator::kDoubleEquals:
    case Operator::kNotEquals:
      if (values.size() != 1) {
        return absl::InvalidArgumentError(
            "values: Invalid value: exact-match compatibility requires one single value");
      }
      break;
    case Operator::kExists:
    case Operator::kDoesNotExist:
      if (!values.empty()) {
        return absl::InvalidArgumentError(
            "values: Invalid value: values set must be empty for exists and does not exist");
      }
      break;
    case Operator::kGreaterThan:
    case Operator::kLessThan:
      if (values.size() != 1) {
        return absl::InvalidArgumentError(
            "values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required");
      }
      if (!ParseInt64(values[0])) {
        return InvalidField("values[0]", values[0],
                            "for 'Gt', 'Lt' operators, the value must be an integer");
      }
      break;
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (auto errs = IsValidLabelValue(values[i]); !errs.empty()) {
      return InvalidField(absl::StrCat("values[", i, "][", key, "]"), values[i],
                          absl::StrJoin(errs, "; "));
    }
  }
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  Requirement r;
  r.key = std::move(key);
  r.op = op;
  r.values = std::move(values);
  return r;
}

bool Requirement::Matches(const Json& labels) const {
  const std::string* v = LabelValue(labels, key);
  auto has_value = [&](const std::string& x) {
    return std::binary_search(values.begin(), values.end(), x);
  };
  switch (op) {
    case Operator::kIn:
    case Operator::kEquals:
    case Operator::kDoubleEquals:
      return v != nullptr && has_value(*v);
    case Operator::kNotIn:
    case Operator::kNotEquals:
      return v == nullptr || !has_value(*v);
    case Operator::kExists:
      return v != nullptr;
    case Operator::kDoesNotExist:
      return v == nullptr;
    case Operator::kGreaterThan:
    case Operator::kLessThan: {
      if (v == nullptr || values.size() != 1) return false;
      auto lv = ParseInt64(*v);
      auto rv = ParseInt64(values[0]);
      if (!lv || !rv) return false;
      return op == Operator::kGreaterThan ? *lv > *rv : *lv < *rv;
    }
  }
  return false;
}

std::string Requirement::String() const {
  switch (op) {
    case Operator::kExists:
      return key;
    case Operator::kDoesNotExist:
      return "!" + key;
    case Operator::kEquals:
      return absl::StrCat(key, "=", values.empty() ? "" : values[0]);
    case Operator::kDoubleEquals:
      return absl::StrCat(key, "==", values.empty() ? "" : values[0]);
    case Operator::kNotEquals:
      return absl::StrCat(key, "!=", values.empty() ? "" : values[0]);
    case Operator::kGreaterThan:
      return absl::StrCat(key, ">", values.empty() ? "" : values[0]);
    case Operator::kLessThan:
      return absl::StrCat(key, "<", values.empty() ? "" : values[0]);
    case Operator::kIn:
      return absl::StrCat(key, " in (", absl::StrJoin(values, ","), ")");
    case Operator::kNotIn:
      return absl::StrCat(key, " notin (", absl::StrJoin(values, ","), ")");
  }
  return key;
}

LabelSelector LabelSelector::Nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

absl::StatusOr<LabelSelector> LabelSelector::Parse(std::string_view selector) {
  Parser p(Lex(selector));
  auto reqs = p.Parse();
  if (!reqs.ok()) return reqs.status();
  LabelSelector s;
  for (auto& r : *reqs) s.Add(std::move(r));
  return s;
}

absl::StatusOr<LabelSelector> LabelSelector::FromSet(
    const std::map<std::string, std::string>& set) {
  LabelSelector s;
  for (const auto& [k, v] : set) {
    auto r = Requirement::Create(k, Operator::kEquals, {v});
    if (!r.ok()) return r.status();
    s.Add(*std::move(r));
  }
  return s;
}

void LabelSelector::Add(Requirement r) {
  auto it = std::upper_bound(
      requirements_.begin(), requirements_.end(), r.key,
      [](const std::string& k, const Requirement& other) { return k < other.key; });
  requirements_.insert(it, std::move(r));
}

bool LabelSelector::Matches(const Json& labels) const {
  if (nothing_) return false;
  for (const auto& r : requirements_) {
    if (!r.Matches(labels)) return false;
  }
  return true;
}

std::string LabelSelector::String() const {
  if (nothing_) return "";
  std::vector<std::string> parts;
  parts.reserve(requirements_.size());
  for (const auto& r : requirements_) parts.push_back(r.String());
  return absl::StrJoin(parts, ",");
}

std::optional<std::string> LabelSelector::RequiredValue(std::string_view key) const {
  for (const auto& r : requirements_) {
    if (r.key != key) continue;
    bool exact =
        r.op == Operator::kEquals || r.op == Operator::kDoubleEquals || r.op == Operator::kIn;
    if (exact && r.values.size() == 1) return r.values[0];
  }
  return std::nullopt;
}

absl::StatusOr<LabelSelector> FromLabelSelectorJson(const Json& selector) {
  if (selector.is_null() || selector.is_discarded()) return LabelSelector::Nothing();
  if (!selector.is_object()) {
    return absl::InvalidArgumentError("label selector must be an object");
  }
  LabelSelector s;
  if (auto it = selector.find("matchLabels"); it != selector.end() && !it->is_null()) {
    if (!it->is_object()) return absl::InvalidArgumentError("matchLabels must be an object");
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) {
        return absl::InvalidArgumentError(absl::StrCat("matchLabels[", k, "] must be a string"));
      }
      auto r = Requirement::Create(k, Operator::kEquals, {v.get<std::string>()});
      if (!r.ok()) return r.status();
      s.Add(*std::move(r));
    }
  }
  if (auto it = selector.find("matchExpressions"); it != selector.end() && !it->is_null()) {
    if (!it->is_array()) return absl::InvalidArgumentError("matchExpressions must be a list");
    for (const auto& expr : *it) {
      if (!expr.is_object()) {
        return absl::InvalidArgumentError("matchExpressions entries must be objects");
      }
      std::string key, op;
      std::vector<std::string> values;
      if (auto k = expr.find("key"); k != expr.end() && k->is_string()) key = k->get<std::string>();
      if (auto o = expr.find("operator"); o != expr.end() && o->is_string()) {
        op = o->get<std::string>();
      }
      if (auto vs = expr.find("values"); vs != expr.end() && !vs->is_null()) {
        if (!vs->is_array()) return absl::InvalidArgumentError("values must be a list");
        for (const auto& v : *vs) {
          if (!v.is_string()) return absl::InvalidArgumentError("values must be strings");
          values.push_back(v.get<std::string>());
        }
      }
      auto parsed_op = ParseExpressionOperator(op);
      if (!parsed_op.ok()) return parsed_op.status();
      auto r = Requirement::Create(std::move(key), *parsed_op, std::move(values));
      if (!r.ok()) return r.status();
      s.Add(*std::move(r));
    }
  }
  return s;
}

}  // namespace korral::labels
