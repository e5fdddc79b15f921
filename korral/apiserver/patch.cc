#include "korral/apiserver/patch.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <set>
#include <string>

#include "korral/apimachinery/errors.h"

namespace korral::apiserver {

using Json = nlohmann::json;

absl::StatusOr<PatchType> PatchTypeFromContentType(std::string_view ct) {
  auto semi = ct.find(';');
  if (semi != std::string_view::npos) ct = ct.substr(0, semi);
  while (!ct.empty() && ct.back() == ' ') ct.remove_suffix(1);
  if (ct == "application/merge-patch+json") return PatchType::kMerge;
  if (ct == "application/json-patch+json") return PatchType::kJson;
  if (ct == "application/strategic-merge-patch+json") return PatchType::kStrategic;
  if (ct == "application/apply-patch+yaml") return PatchType::kApply;
  return apierrors::NewUnsupportedMediaType(ct);
}

namespace {

Json MergePatch(const Json& target, const Json& patch) {
  if (!patch.is_object()) return patch;
  Json result = target.is_object() ? target : Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      result.erase(it.key());
    } else {
      auto cur = result.find(it.key());
      result[it.key()] = MergePatch(cur == result.end() ? Json() : *cur, it.value());
    }
  }
  return result;
}

// Merge keys of the list fields of built-in kinds (by field name).
std::optional<std::string> MergeKeyFor(std::string_view field, const Json& list_a,
                                       const Json& list_b) {
  static const std::pair<std::string_view, std::string_view> kKeys[] = {
      {"containers", "name"},
      {"initContainers", "name"},
      {"ephemeralContainers", "name"},
      {"volumes", "name"},
      {"env", "name"},
      {"volumeMounts", "mountPath"},
      {"volumeDevices", "devicePath"},
      {"imagePullSecrets", "name"},
      {"hostAliases", "ip"},
      {"conditions", "type"},
      {"ownerReferences", "uid"},
      {"topologySpreadConstraints", "topologyKey"},
      {"resourceClaims", "name"},
      {"readinessGates", "conditionType"},
      {"schedulingGates", "name"},
      {"taints", "key"},
      {"addresses", "type"},
      {"secrets", "name"},
  };
  if (field == "ports") {
    auto has = [](const Json& l, const char* k) {
      for (const auto& e : l)
        if (e.is_object() && e.contains(k)) return true;
      return false;
    };
    if (has(list_a, "containerPort") || has(list_b, "containerPort")) return "containerPort";
    return "port";
  }
  for (const auto& [f, k] : kKeys)
    if (f == field) return std::string(k);
  return std::nullopt;
}

// Lists of primitives merged (not replaced) by strategic merge patch.
bool IsMergedPrimitiveList(std::string_view field) { return field == "finalizers"; }

absl::StatusOr<Json> Strategic(const Json& original, const Json& patch);

absl::StatusOr<Json> MergeList(std::string_view field, const Json& original, const Json& patch,
                               const Json* element_order) {
  const Json orig = original.is_array() ? original : Json::array();
  if (IsMergedPrimitiveList(field)) {
    Json out = orig;
    for (const auto& e : patch)
      if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    return out;
  }
  auto key = MergeKeyFor(field, orig, patch);
  if (!key) {
    // Atomic list: replace, dropping any $patch directives.
    Json out = Json::array();
    for (const auto& e : patch)
      if (!(e.is_object() && e.contains("$patch"))) out.push_back(e);
    return out;
  }
  // $patch: replace inside a list replaces the whole list.
  for (const auto& e : patch) {
    if (e.is_object() && e.value("$patch", "") == "replace") {
      Json out = Json::array();
      for (const auto& x : patch)
        if (!(x.is_object() && x.contains("$patch"))) out.push_back(x);
      return out;
    }
  }
  Json out = orig;
  for (const auto& pe : patch) {
    if (!pe.is_object())
      return apierrors::NewBadRequest(
          fmt::format("strategic merge patch: list {} must contain objects", field));
    auto kv = pe.find(*key);
    if (kv == pe.end()) {
      return apierrors::NewBadRequest(
          fmt::format("map: {} does not contain declared merge key: {}", pe.dump(), *key));
    }
    std::string directive = pe.value("$patch", "");
    auto it = std::find_if(out.begin(), out.end(), [&](const Json& oe) {
      return oe.is_object() && oe.contains(*key) && oe[*key] == *kv;
    });
    if (directive == "delete") {
      if (it != out.end()) out.erase(it);
      continue;
    }
    if (it == out.end()) {
      Json clean = pe;
      clean.erase("$patch");
      auto merged = Strategic(Json::object(), clean);
      if (!merged.ok()) return merged.status();
      out.push_back(*merged);
    } else {
      auto merged = Strategic(*it, pe);
      if (!merged.ok()) return merged.status();
      *it = *merged;
    }
  }
  if (element_order && element_order->is_array()) {
    // Reorder: elements named in the order list first, in that order; the rest after.
    Json ordered = Json::array();
    std::vector<bool> used(out.size(), false);
    for (const auto& oe : *element_order) {
      if (!oe.is_object() || !oe.contains(*key)) continue;
      for (size_t i = 0; i < out.size(); ++i) {
        if (!used[i] && out[i].is_object() && out[i].contains(*key) && out[i][*key] == oe[*key]) {
          ordered.push_back(out[i]);
          used[i] = true;
          break;
        }
      }
    }
    for (size_t i = 0; i < out.size(); ++i)
      if (!used[i]) ordered.push_back(out[i]);
    out = std::move(ordered);
  }
  return out;
}

absl::StatusOr<Json> Strategic(const Json& original, const Json& patch) {
  if (!patch.is_object()) return patch;
  std::string directive = patch.value("$patch", "");
  if (directive == "delete") return Json();  // caller removes
  if (directive == "replace") {
    Json out = patch;
    out.erase("$patch");
    return out;
  }
  Json result = original.is_object() ? original : Json::object();
  if (auto rk = patch.find("$retainKeys"); rk != patch.end() && rk->is_array()) {
    std::set<std::string> keep;
    for (const auto& k : *rk)
      if (k.is_string()) keep.insert(k.get<std::string>());
    for (auto it = result.begin(); it != result.end();) {
      if (!keep.count(it.key())) {
        it = result.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    const std::string& k = it.key();
    if (k == "$patch" || k == "$retainKeys" || k.rfind("$setElementOrder/", 0) == 0) continue;
    if (k.rfind("$deleteFromPrimitiveList/", 0) == 0) {
      std::string field = k.substr(sizeof("$deleteFromPrimitiveList/") - 1);
      auto cur = result.find(field);
      if (cur != result.end() && cur->is_array() && it.value().is_array()) {
        Json kept = Json::array();
        for (const auto& e : *cur)
          if (std::find(it.value().begin(), it.value().end(), e) == it.value().end())
            kept.push_back(e);
        *cur = kept;
      }
      continue;
    }
    const Json& pv = it.value();
    if (pv.is_null()) {
      result.erase(k);
      continue;
    }
    auto cur = result.find(k);
    const Json empty;
    const Json& ov = cur == result.end() ? empty : *cur;
    if (pv.is_array()) {
      auto order = patch.find("$setElementOrder/" + k);
      auto merged = MergeList(k, ov, pv, order == patch.end() ? nullptr : &*order);
      if (!merged.ok()) return merged.status();
      result[k] = std::move(*merged);
    } else if (pv.is_object()) {
      if (pv.value("$patch", "") == "delete") {
        result.erase(k);
        continue;
      }
      auto merged = Strategic(ov, pv);
      if (!merged.ok()) return merged.status();
      result[k] = std::move(*merged);
    } else {
      result[k] = pv;
    }
  }
  // $setElementOrder without a list patch still reorders.
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.key().rfind("$setElementOrder/", 0) != 0) continue;
    std::string field = it.key().substr(sizeof("$setElementOrder/") - 1);
    if (patch.contains(field)) continue;
    auto cur = result.find(field);
    if (cur == result.end() || !cur->is_array()) continue;
    auto merged = MergeList(field, *cur, Json::array(), &it.value());
    if (!merged.ok()) return merged.status();
    *cur = std::move(*merged);
  }
  return result;
}

}  // namespace

absl::StatusOr<Json> ApplyMergePatch(const Json& original, const Json& patch) {
  if (!patch.is_object()) {
    return apierrors::NewBadRequest("json merge patch must be a JSON object");
  }
  return MergePatch(original, patch);
}

absl::StatusOr<Json> ApplyJsonPatch(const Json& original, const Json& patch) {
  if (!patch.is_array()) {
    return apierrors::NewBadRequest(
        "json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  }
  try {
    return original.patch(patch);
  } catch (const std::exception& e) {
    return apierrors::NewBadRequest(
        fmt::format("the server rejected our request due to an "
                    "error in our request: {}",
                    e.what()));
  }
}

absl::StatusOr<Json> ApplyStrategicMergePatch(const Json& original, const Json& patch) {
  if (!patch.is_object()) {
    return apierrors::NewBadRequest("strategic merge patch must be a JSON object");
  }
  return Strategic(original, patch);
}

}  // namespace korral::apiserver
