// korral/apimachinery/patch/fieldpath.h: sets of field paths and the typed-value operations
// server-side apply is built on (upstream's sigs.k8s.io/structured-merge-diff, re-done here).
//
// A FieldSet is a trie keyed by path elements in the managedFields "FieldsV1" spelling:
//   "f:<field>"   a field of a struct or a key of a map
//   "k:<json>"    an element of an associative list, by its key fields ({"name":"nginx"})
//   "v:<json>"    an element of a set list, by value
//   "i:<n>"       an element of a list by index (unused by built-in kinds)
// A node is a member of the set when `member` is true ("." in FieldsV1, or a leaf "{}").
//
// The typed operations take the schema of the value (nullptr: untyped, maps are granular and
// lists atomic).
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "korral/api/schema/schema.h"

namespace korral::patch {

using Json = nlohmann::json;

struct FieldSet {
  bool member = false;
  std::map<std::string, FieldSet> children;

  bool Empty() const { return !member && children.empty(); }
  void Insert(const std::vector<std::string>& path);
  // Set algebra on member paths.
  FieldSet Union(const FieldSet& o) const;
  // In place: *this = *this | o, moving o's subtrees instead of copying them.
  void UnionWith(FieldSet&& o);
  // In place: *this = *this - o (emptied subtrees are removed).
  void Subtract(const FieldSet& o);
  FieldSet Difference(const FieldSet& o) const;
  FieldSet Intersection(const FieldSet& o) const;
  bool operator==(const FieldSet& o) const { return member == o.member && children == o.children; }

  // The FieldsV1 JSON form, and back (BadRequest for a malformed document).
  Json ToFieldsV1() const;
  static absl::StatusOr<FieldSet> FromFieldsV1(const Json& j);
  // Every member path, in upstream's printed form (".spec.containers[name=\"nginx\"].image").
  std::vector<std::string> PathStrings() const;
};

// Printed form of one path element ("f:a" -> ".a", "k:{\"name\":\"x\"}" -> "[name=\"x\"]").
std::string PathElementString(const std::string& element);

// The fields set by `value` (what an apply configuration claims).
FieldSet ToFieldSet(const Json& value, const schema::Schema* type);

// ToFieldsV1() of every path of `value` (what Compare reports as added against nothing; the
// root is not a member), built directly: a create's field set without the intermediate trie.
Json AllPathsFieldsV1(const Json& value, const schema::Schema* type);

struct Comparison {
  FieldSet added, modified, removed;
};
// Differences from `lhs` to `rhs`.
Comparison Compare(const Json& lhs, const Json& rhs, const schema::Schema* type);

// Server-side apply merge of an apply configuration into a live object: maps merge, atomic
// values replace, associative lists merge element by element by their keys, sets are unions.
Json MergeApply(const Json& live, const Json& config, const schema::Schema* type);

// Removes every member path of `set` from `value` (maps and lists emptied by it are removed).
void RemoveItems(Json& value, const FieldSet& set, const schema::Schema* type);

}  // namespace korral::patch
