#include "korral/apimachinery/patch/strategic.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "korral/apimachinery/errors.h"
#include "korral/apimachinery/patch/json_patch.h"
#include "korral/base/status.h"

namespace korral::patch {

using schema::Schema;

namespace {

constexpr std::string_view kPatch = "$patch";
constexpr std::string_view kRetainKeys = "$retainKeys";
constexpr std::string_view kSetElementOrder = "$setElementOrder/";
constexpr std::string_view kDeleteFromPrimitiveList = "$deleteFromPrimitiveList/";

bool StartsWith(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

bool IsDirectiveKey(std::string_view k) {
  return k == kPatch || k == kRetainKeys || StartsWith(k, kSetElementOrder) ||
         StartsWith(k, kDeleteFromPrimitiveList);
}

// The $patch directive of a map, "" when absent; BadRequest for unknown values.
absl::StatusOr<std::string> PatchDirective(const Json& m) {
  auto it = m.find(kPatch);
  if (it == m.end()) return std::string();
  if (!it->is_string()) return apierrors::NewBadRequest("Unknown patch type found");
  std::string v = it->get<std::string>();
  if (v != "replace" && v != "delete" && v != "merge") {
    return apierrors::NewBadRequest(fmt::format("Unknown patch type: {}", v));
  }
  return v;
}

// A patch value with every directive removed (for values that have no original to merge with).
Json StripDirectives(const Json& v) {
  if (v.is_object()) {
    Json out = Json::object();
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (IsDirectiveKey(it.key()) || it.value().is_null()) continue;
      out[it.key()] = StripDirectives(it.value());
    }
    return out;
  }
  if (v.is_array()) {
    Json out = Json::array();
    for (const auto& e : v) {
      if (e.is_object() && e.contains(kPatch)) continue;
      out.push_back(StripDirectives(e));
    }
    return out;
  }
  return v;
}

absl::StatusOr<Json> MergeMap(const Json& original, const Json& patch, const Schema* type);

bool SameKey(const Json& a, const Json& b, const std::string& key) {
  if (!a.is_object() || !b.is_object()) return a == b;
  auto ia = a.find(key);
  auto ib = b.find(key);
  return ia != a.end() && ib != b.end() && *ia == *ib;
}

// Position of `v` in `list` (by merge key for maps, by value otherwise); -1 when absent.
long IndexOf(const Json& list, const Json& v, const std::string& key) {
  for (size_t i = 0; i < list.size(); ++i) {
    if (key.empty() ? list[i] == v : SameKey(list[i], v, key)) return static_cast<long>(i);
  }
  return -1;
}

// Upstream's normalizeElementOrder: elements named in `order` come in that order; elements only
// on the server keep their server order; the two runs are interleaved by server position.
absl::StatusOr<Json> ApplyElementOrder(const Json& merged, const Json& order, const Json& server,
                                       const std::string& key) {
  if (!order.is_array()) {
    return apierrors::NewBadRequest("invalid patch format of setElementOrder list");
  }
  Json patch_items = Json::array();
  for (const auto& o : order) {
    long i = IndexOf(merged, o, key);
    if (i >= 0) patch_items.push_back(merged[static_cast<size_t>(i)]);
  }
  Json server_only = Json::array();
  for (const auto& e : merged) {
    if (IndexOf(order, e, key) < 0) server_only.push_back(e);
  }
  Json out = Json::array();
  size_t i = 0, j = 0;
  while (i < patch_items.size() && j < server_only.size()) {
    long li = IndexOf(server, patch_items[i], key);
    long ri = IndexOf(server, server_only[j], key);
    if (li < ri) {
      out.push_back(patch_items[i++]);
    } else {
      out.push_back(server_only[j++]);
    }
  }
  while (i < patch_items.size()) out.push_back(patch_items[i++]);
  while (j < server_only.size()) out.push_back(server_only[j++]);
  return out;
}

absl::StatusOr<Json> MergeList(const Json& original, const Json& patch, const Schema* node) {
  ListInfo info = ListInfoOf(node);
  for (const auto& e : patch) {
    if (e.is_array()) {
      return PatchNotApplicable("lists of lists are not supported");
    }
  }
  // `$patch: replace` anywhere in the list replaces the whole list.
  for (const auto& e : patch) {
    if (e.is_object()) {
      auto d = PatchDirective(e);
      if (!d.ok()) return d.status();
      if (*d == "replace") return StripDirectives(patch);
    }
  }
  if (!info.merge) return StripDirectives(patch);
  const Json orig = original.is_array() ? original : Json::array();
  const Schema* item = ListItemSchema(node);
  bool primitives = true;
  for (const auto& e : patch) {
    if (e.is_object() && !e.contains(kPatch)) primitives = false;
  }
  for (const auto& e : orig) {
    if (e.is_object()) primitives = false;
  }
  if (info.merge_key.empty() || primitives) {
    // A set of primitives: original then new values, without duplicates.
    Json out = Json::array();
    auto add = [&](const Json& v) {
      if (v.is_object() && v.contains(kPatch)) return;
      if (std::find(out.begin(), out.end(), v) == out.end()) out.push_back(v);
    };
    for (const auto& e : orig) add(e);
    for (const auto& e : patch) add(e);
    return out;
  }
  const std::string& key = info.merge_key;
  Json out = orig;
  for (const auto& pe : patch) {
    if (!pe.is_object()) {
      return apierrors::NewBadRequest(
          fmt::format("strategic merge patch: the elements of a list merged by \"{}\" must be "
                      "objects, got {}",
                      key, pe.dump()));
    }
    auto d = PatchDirective(pe);
    if (!d.ok()) return d.status();
    auto kv = pe.find(key);
    if (kv == pe.end()) {
      return apierrors::NewBadRequest(
          fmt::format("map: {} does not contain declared merge key: {}", pe.dump(), key));
    }
    auto it = std::find_if(out.begin(), out.end(), [&](const Json& oe) {
      return oe.is_object() && oe.contains(key) && oe[key] == *kv;
    });
    if (*d == "delete") {
      // Deletes every element with that key.
      out.erase(std::remove_if(out.begin(), out.end(),
                               [&](const Json& oe) {
                                 return oe.is_object() && oe.contains(key) && oe[key] == *kv;
                               }),
                out.end());
      continue;
    }
    if (it == out.end()) {
      auto merged = MergeMap(Json::object(), pe, item);
      if (!merged.ok()) return merged.status();
      out.push_back(std::move(*merged));
    } else {
      auto merged = MergeMap(*it, pe, item);
      if (!merged.ok()) return merged.status();
      *it = std::move(*merged);
    }
  }
  return out;
}

absl::StatusOr<Json> MergeValue(const Json& original, const Json& patch, const Schema* node,
                                const Schema* type) {
  if (patch.is_object()) {
    auto d = PatchDirective(patch);
    if (!d.ok()) return d.status();
    if (*d == "replace") return StripDirectives(patch);
    return MergeMap(original.is_object() ? original : Json::object(), patch, type);
  }
  if (patch.is_array()) return MergeList(original, patch, node);
  return patch;
}

absl::StatusOr<Json> MergeMap(const Json& original, const Json& patch, const Schema* type) {
  KORRAL_ASSIGN_OR_RETURN(std::string directive, PatchDirective(patch));
  if (directive == "replace") return StripDirectives(patch);
  if (directive == "delete") return Json::object();
  Json result = original.is_object() ? original : Json::object();
  // $retainKeys: keys of the original not listed are cleared; the patch may not set others.
  if (auto rk = patch.find(kRetainKeys); rk != patch.end()) {
    if (!rk->is_array()) return apierrors::NewBadRequest("invalid patch format of retainKeys");
    std::set<std::string> keep;
    for (const auto& k : *rk) {
      if (!k.is_string()) return apierrors::NewBadRequest("invalid patch format of retainKeys");
      keep.insert(k.get<std::string>());
    }
    for (auto it = patch.begin(); it != patch.end(); ++it) {
      if (IsDirectiveKey(it.key()) || it.value().is_null()) continue;
      if (!keep.count(it.key())) {
        return PatchNotApplicable("patch content doesn't match retainKeys list");
      }
    }
    for (auto it = result.begin(); it != result.end();) {
      it = keep.count(it.key()) ? std::next(it) : result.erase(it);
    }
  }
  // $deleteFromPrimitiveList/<f> first, so that values added by the same patch stay.
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!StartsWith(it.key(), kDeleteFromPrimitiveList)) continue;
    if (!it.value().is_array()) {
      return apierrors::NewBadRequest("invalid patch format of primitive list");
    }
    std::string field = it.key().substr(kDeleteFromPrimitiveList.size());
    auto cur = result.find(field);
    if (cur == result.end() || !cur->is_array()) continue;
    Json kept = Json::array();
    for (const auto& e : *cur) {
      if (std::find(it.value().begin(), it.value().end(), e) == it.value().end()) {
        kept.push_back(e);
      }
    }
    *cur = std::move(kept);
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (IsDirectiveKey(k)) continue;
    const Json& pv = it.value();
    if (pv.is_null()) {
      result.erase(k);
      continue;
    }
    FieldSchema child = ChildSchema(type, k);
    auto cur = result.find(k);
    if (pv.is_object()) {
      KORRAL_ASSIGN_OR_RETURN(std::string d, PatchDirective(pv));
      if (d == "delete") {
        result.erase(k);
        continue;
      }
    }
    if (cur == result.end()) {
      // Nothing to merge with: the patch value, cleaned of directives (merged into an empty
      // value so that nested directives are validated the same way).
      KORRAL_ASSIGN_OR_RETURN(Json v, MergeValue(Json(), pv, child.node, child.type));
      result[k] = std::move(v);
      continue;
    }
    KORRAL_ASSIGN_OR_RETURN(Json v, MergeValue(*cur, pv, child.node, child.type));
    *cur = std::move(v);
  }
  // $setElementOrder/<f>: reorder the merged list.
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (!StartsWith(it.key(), kSetElementOrder)) continue;
    std::string field = it.key().substr(kSetElementOrder.size());
    if (!it.value().is_array()) {
      return apierrors::NewBadRequest("invalid patch format of setElementOrder list");
    }
    auto cur = result.find(field);
    if (cur == result.end() || !cur->is_array()) continue;
    FieldSchema child = ChildSchema(type, field);
    ListInfo info = ListInfoOf(child.node);
    std::string key = info.merge_key;
    bool maps = !cur->empty() && (*cur)[0].is_object();
    if (!maps) key.clear();
    auto server = original.find(field);
    static const Json kEmpty = Json::array();
    const Json& server_list = server != original.end() && server->is_array() ? *server : kEmpty;
    KORRAL_ASSIGN_OR_RETURN(Json ordered, ApplyElementOrder(*cur, it.value(), server_list, key));
    *cur = std::move(ordered);
  }
  return result;
}

}  // namespace

FieldSchema ChildSchema(const Schema* type, std::string_view key) {
  FieldSchema out;
  if (!type) return out;
  if (const Schema* p = type->FindProperty(key)) {
    out.node = p;
    out.type = schema::Deref(p);
    out.declared = true;
    return out;
  }
  if (type->additional_properties) {
    out.node = type->additional_properties.get();
    out.type = schema::Deref(out.node);
  }
  return out;
}

ListInfo ListInfoOf(const Schema* node) {
  ListInfo info;
  if (!node) return info;
  info.merge_key = node->patch_merge_key;
  info.merge = node->patch_strategy.find("merge") != std::string::npos;
  if (node->list_type == "map") {
    info.kind = ListInfo::kMap;
    info.keys = node->list_map_keys;
    if (info.keys.empty() && !info.merge_key.empty()) info.keys.push_back(info.merge_key);
  } else if (node->list_type == "set") {
    info.kind = ListInfo::kSet;
  } else if (node->list_type.empty() && info.merge) {
    // Upstream's OpenAPI-to-SMD conversion: an untyped "merge" list is a map keyed by its
    // merge key, or a set of primitives without one.
    if (!info.merge_key.empty()) {
      info.kind = ListInfo::kMap;
      info.keys.push_back(info.merge_key);
    } else {
      info.kind = ListInfo::kSet;
    }
  }
  return info;
}

const Schema* ListItemSchema(const Schema* node) {
  if (!node) return nullptr;
  const Schema* arr = node->items ? node : schema::Deref(node);
  if (!arr || !arr->items) return nullptr;
  return schema::Deref(arr->items.get());
}

absl::StatusOr<Json> StrategicMergePatch(const Json& original, const Json& patch,
                                         const Schema* type) {
  if (!patch.is_object()) {
    return apierrors::NewBadRequest(
        fmt::format("json: cannot unmarshal {} into Go value of type map[string]interface {{}}",
                    patch.type_name()));
  }
  KORRAL_RETURN_IF_ERROR(CheckPatchDepth(patch));
  return MergeMap(original, patch, type);
}

}  // namespace korral::patch
