// korral/api/internal.h: helpers shared by the korral::api sources (not part of the public API).
//
// Objects are nlohmann::json trees; these helpers read nested fields without throwing and
// write defaults only where a field is absent (or null), as upstream's defaulters do for nil
// pointers and empty strings.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "korral/api/resource.h"

namespace korral::api::internal {

// String building that accepts std::string_view (Debian's Abseil has its own string_view, so
// absl::StrCat does not take std::string_view).
namespace cat_detail {
inline void Append(std::string& s, std::string_view v) { s.append(v); }
inline void Append(std::string& s, const char* v) { s.append(v); }
inline void Append(std::string& s, const std::string& v) { s.append(v); }
template <typename T>
requires(std::is_integral_v<T> && !std::is_same_v<T, char> &&
         !std::is_same_v<T, bool>) inline void Append(std::string& s, T v) {
  s += std::to_string(v);
}
}  // namespace cat_detail
template <typename... Args>
std::string Cat(const Args&... args) {
  std::string s;
  (cat_detail::Append(s, args), ...);
  return s;
}
template <typename... Args>
void CatAppend(std::string* s, const Args&... args) {
  (cat_detail::Append(*s, args), ...);
}
inline bool Contains(std::string_view s, std::string_view part) {
  return s.find(part) != std::string_view::npos;
}
inline bool StartsWith(std::string_view s, std::string_view p) {
  return s.substr(0, p.size()) == p;
}
inline bool EndsWith(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}

using Path = std::initializer_list<std::string_view>;

// The value at `path` (object keys only), or nullptr if any step is missing or not an object.
const Json* Get(const Json& obj, Path path);
// The string at `path`, or `def` if absent or not a string.
std::string GetString(const Json& obj, Path path, std::string_view def = "");
// The integer at `path`, or `def` if absent or not a number.
int64_t GetInt(const Json& obj, Path path, int64_t def = 0);
// The boolean at `path`, or `def` if absent or not a boolean.
bool GetBool(const Json& obj, Path path, bool def = false);
// True when `path` names a present, non-null value.
bool Has(const Json& obj, Path path);
// The array at `path` (empty when absent or not an array).
const Json& GetArray(const Json& obj, Path path);
// The object at `path` (empty when absent or not an object).
const Json& GetObject(const Json& obj, Path path);

// The object at `path`, created (as {}) along the way when absent, null or not an object.
Json& Ensure(Json& obj, Path path);
// Sets obj[key] = value when the key is absent or null. `obj` must be an object (or null).
void SetDefault(Json& obj, std::string_view key, Json value);
// Sets obj[key] = value when the key is absent, null or an empty string.
void SetDefaultString(Json& obj, std::string_view key, std::string_view value);

// Registration of the per-group types (called once by AllResourceTypes()).
void AddCoreTypes(std::vector<ResourceType>& out);
void AddAppsTypes(std::vector<ResourceType>& out);
void AddBatchTypes(std::vector<ResourceType>& out);
void AddOtherTypes(std::vector<ResourceType>& out);     // events, policy, rbac, coordination, ...
void AddSecurityTypes(std::vector<ResourceType>& out);  // certificates.k8s.io, scheduling.k8s.io
void AddStorageTypes(std::vector<ResourceType>& out);   // storage.k8s.io (storage_types.cc)

// Sets `columns` and `row_cells` of `t` from its group and resource (printers.cc).
void AttachPrinter(ResourceType& t);

// Discovery verbs.
inline std::vector<std::string> FullVerbs() {
  return {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"};
}
inline std::vector<std::string> StatusVerbs() { return {"get", "patch", "update"}; }

}  // namespace korral::api::internal
