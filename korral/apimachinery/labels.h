// korral/apimachinery/labels.h: label selectors (k8s.io/apimachinery/pkg/labels).
//
// A LabelSelector is an AND of requirements over an object's `metadata.labels`. It is parsed
// from the string form used by `?labelSelector=` and `kubectl -l` or built from a
// metav1.LabelSelector JSON object (Deployment.spec.selector, ...).
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(auto sel, labels::LabelSelector::Parse("app=web,tier notin (db)"));
//   if (sel.Matches(obj["metadata"]["labels"])) ...
//
// Parse errors carry upstream's wording ("unable to parse requirement: ...", "found ',',
// expected: identifier") as InvalidArgument; the apiserver returns them as 400 BadRequest.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace korral::labels {

enum class Operator {
  kEquals,        // "="
  kDoubleEquals,  // "=="
  kNotEquals,     // "!="
  kIn,            // "in"
  kNotIn,         // "notin"
  kExists,        // "key"
  kDoesNotExist,  // "!key"
  kGreaterThan,   // ">" (integer values)
  kLessThan,      // "<" (integer values)
};

// One validated requirement. `values` is sorted and de-duplicated.
struct Requirement {
  std::string key;
  Operator op = Operator::kExists;
  std::vector<std::string> values;

  // Builds and validates a requirement as upstream NewRequirement does (key syntax, value syntax,
  // value count for the operator). Values are sorted and de-duplicated.
  static absl::StatusOr<Requirement> Create(std::string key, Operator op,
                                            std::vector<std::string> values);

  // Whether `labels` (a JSON object of string values, or null) satisfies this requirement.
  bool Matches(const nlohmann::json& labels) const;
  std::string String() const;
};

class LabelSelector {
 public:
  // The empty selector: matches everything.
  LabelSelector() = default;

  static LabelSelector Everything() { return LabelSelector(); }
  // Matches nothing (upstream labels.Nothing()); String() is "" and Empty() is false.
  static LabelSelector Nothing();

  // Parses the string form. "" (or only blanks) gives Everything().
  static absl::StatusOr<LabelSelector> Parse(std::string_view selector);

  // A selector requiring every key=value of `set` (keys and values validated).
  static absl::StatusOr<LabelSelector> FromSet(const std::map<std::string, std::string>& set);

  // `labels` is the metadata.labels JSON value: an object, or null/absent (no labels).
  // Non-string label values are ignored (treated as absent).
  bool Matches(const nlohmann::json& labels) const;

  // True when the selector has no requirements (and so matches everything).
  bool Empty() const { return !nothing_ && requirements_.empty(); }
  bool MatchesNothing() const { return nothing_; }

  // Canonical string form: requirements sorted by key, joined by ",".
  std::string String() const;

  const std::vector<Requirement>& requirements() const { return requirements_; }

  // If the selector requires `key` to equal exactly one value ("key=v", "key==v" or
  // "key in (v)"), that value; for index lookups.
  std::optional<std::string> RequiredValue(std::string_view key) const;

  // Adds a requirement, keeping requirements sorted by key (stable for equal keys).
  void Add(Requirement r);

 private:
  std::vector<Requirement> requirements_;
  bool nothing_ = false;
};

// metav1.LabelSelector -> LabelSelector, as upstream metav1.LabelSelectorAsSelector:
//  - JSON null (or a discarded value) -> Nothing() (matches no object);
//  - {} or empty matchLabels/matchExpressions -> Everything();
//  - otherwise the AND of every matchLabels pair (Equals) and matchExpressions entry
//    (operator In/NotIn/Exists/DoesNotExist; any other operator is an error:
//    "\"Foo\" is not a valid label selector operator").
// Malformed shapes (matchLabels not an object of strings, ...) give InvalidArgument.
absl::StatusOr<LabelSelector> FromLabelSelectorJson(const nlohmann::json& selector);

// Validation helpers (upstream k8s.io/apimachinery/pkg/util/validation). Each returns the list
// of problems; empty means valid.
std::vector<std::string> IsQualifiedName(std::string_view value);
std::vector<std::string> IsValidLabelValue(std::string_view value);
std::vector<std::string> IsDNS1123Subdomain(std::string_view value);

}  // namespace korral::labels
