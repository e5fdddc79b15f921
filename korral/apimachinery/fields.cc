#include "korral/apimachinery/fields.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace korral::fields {
namespace {

// Debian's abseil has its own absl::string_view (not an alias of std::string_view).
absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Splits on commas that are not escaped; escapes are kept in the terms.
std::vector<std::string_view> SplitTerms(std::string_view s) {
  std::vector<std::string_view> terms;
  if (s.empty()) return terms;
  size_t start = 0;
  bool in_slash = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (in_slash) {
      in_slash = false;
    } else if (s[i] == '\\') {
      in_slash = true;
    } else if (s[i] == ',') {
      terms.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  terms.push_back(s.substr(start));
  return terms;
}

struct SplitResult {
  std::string_view lhs;
  FieldRequirement::Op op;
  std::string_view rhs;
};

// Finds the first unescaped operator ("!=", "==", "=" tried in that order at each position).
std::optional<SplitResult> SplitTerm(std::string_view term) {
  bool in_slash = false;
  for (size_t i = 0; i < term.size(); ++i) {
    if (in_slash) {
      in_slash = false;
      continue;
    }
    if (term[i] == '\\') {
      in_slash = true;
      continue;
    }
    std::string_view rest = term.substr(i);
    if (rest.substr(0, 2) == "!=") {
      return SplitResult{term.substr(0, i), FieldRequirement::kNotEquals, term.substr(i + 2)};
    }
    if (rest.substr(0, 2) == "==") {
      return SplitResult{term.substr(0, i), FieldRequirement::kEquals, term.substr(i + 2)};
    }
    if (rest.substr(0, 1) == "=") {
      return SplitResult{term.substr(0, i), FieldRequirement::kEquals, term.substr(i + 1)};
    }
  }
  return std::nullopt;
}

}  // namespace

std::string EscapeValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\' || c == ',' || c == '=') out += '\\';
    out += c;
  }
  return out;
}

absl::StatusOr<std::string> UnescapeValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool in_slash = false;
  for (char c : value) {
    if (in_slash) {
      if (c != '\\' && c != ',' && c != '=') {
        return absl::InvalidArgumentError(
            absl::StrCat("invalid field selector: invalid escape sequence: \\", std::string(1, c)));
      }
      out += c;
      in_slash = false;
      continue;
    }
    if (c == '\\') {
      in_slash = true;
    } else if (c == ',' || c == '=') {
      // Upstream prints the rune with %v, i.e. its code point.
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid field selector: unescaped character in value: ", static_cast<int>(c)));
    } else {
      out += c;
    }
  }
  if (in_slash) {
    return absl::InvalidArgumentError("invalid field selector: invalid escape sequence: \\");
  }
  return out;
}

absl::StatusOr<FieldSelector> FieldSelector::Parse(std::string_view selector) {
  FieldSelector s;
  for (std::string_view term : SplitTerms(selector)) {
    if (term.empty()) continue;
    auto split = SplitTerm(term);
    if (!split) {
      return absl::InvalidArgumentError(absl::StrCat("invalid selector: '", Sv(selector),
                                                     "'; can't understand '", Sv(term), "'"));
    }
    auto value = UnescapeValue(split->rhs);
    if (!value.ok()) return value.status();
    s.requirements_.push_back(FieldRequirement{std::string(split->lhs), split->op, *value});
  }
  return s;
}

absl::StatusOr<bool> FieldSelector::Matches(const FieldLookup& lookup) const {
  bool all = true;
  for (const auto& r : requirements_) {
    std::optional<std::string> v = lookup(r.field);
    if (!v) {
      return absl::InvalidArgumentError(absl::StrCat("field label not supported: ", r.field));
    }
    bool eq = *v == r.value;
    if ((r.op == FieldRequirement::kEquals) != eq) all = false;
  }
  return all;
}

std::optional<std::string> FieldSelector::RequiredValue(std::string_view field) const {
  for (const auto& r : requirements_) {
    if (r.field == field && r.op == FieldRequirement::kEquals) return r.value;
  }
  return std::nullopt;
}

std::string FieldSelector::String() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) {
    parts.push_back(absl::StrCat(
        r.field, r.op == FieldRequirement::kEquals ? "=" : "!=", EscapeValue(r.value)));
  }
  return absl::StrJoin(parts, ",");
}

}  // namespace korral::fields
