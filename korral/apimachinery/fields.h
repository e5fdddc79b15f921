// korral/apimachinery/fields.h: field selectors (k8s.io/apimachinery/pkg/fields).
//
// A FieldSelector is an AND of `field=value`, `field==value` and `field!=value` terms, as sent in
// `?fieldSelector=`. Values may escape `\,`, `\=` and `\\`; any other escape, or an unescaped `,`
// or `=` inside a value, is an error (upstream wording, InvalidArgument -> 400).
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(auto sel, fields::FieldSelector::Parse("spec.nodeName=n1"));
//   KORRAL_ASSIGN_OR_RETURN(bool ok, sel.Matches([&](std::string_view f) ->
//   std::optional<std::string> {
//     if (f == "spec.nodeName") return node_name;
//     return std::nullopt;  // unsupported field
//   }));
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace korral::fields {

struct FieldRequirement {
  enum Op { kEquals, kNotEquals };
  std::string field;
  Op op = kEquals;
  std::string value;  // unescaped
};

// Field lookup for Matches: the value of `field` for one object, or nullopt when the field is not
// supported for the resource.
using FieldLookup = std::function<std::optional<std::string>(std::string_view field)>;

class FieldSelector {
 public:
  // The empty selector matches everything.
  FieldSelector() = default;

  // Parses "a=b,c!=d,e==f". Empty terms are skipped; "" gives the empty selector.
  static absl::StatusOr<FieldSelector> Parse(std::string_view selector);

  const std::vector<FieldRequirement>& requirements() const { return requirements_; }
  bool Empty() const { return requirements_.empty(); }

  // True when every requirement holds. If `lookup` returns nullopt for a field the result is
  // InvalidArgument "field label not supported: <field>".
  absl::StatusOr<bool> Matches(const FieldLookup& lookup) const;

  // The value `field` must equal if the selector has `field=value` (for index use).
  std::optional<std::string> RequiredValue(std::string_view field) const;

  // Canonical form: terms in order, "==" written as "=", values re-escaped.
  std::string String() const;

  void Add(FieldRequirement r) { requirements_.push_back(std::move(r)); }

 private:
  std::vector<FieldRequirement> requirements_;
};

// Escapes `\`, `,` and `=` in a field selector value.
std::string EscapeValue(std::string_view value);
// Reverses EscapeValue; errors on unknown escapes or unescaped `,`/`=`.
absl::StatusOr<std::string> UnescapeValue(std::string_view value);

}  // namespace korral::fields
