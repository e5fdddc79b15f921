#include "korral/apimachinery/patch/json_patch.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "korral/apimachinery/errors.h"

namespace korral::patch {
namespace {

// A parsed RFC 6901 pointer: its reference tokens, unescaped.
struct Pointer {
  std::string text;
  std::vector<std::string> tokens;
};

absl::StatusOr<Pointer> ParsePointer(const std::string& text) {
  Pointer p{text, {}};
  if (text.empty()) return p;
  if (text[0] != '/') {
    return apierrors::NewBadRequest(
        fmt::format("JSON pointer \"{}\" must be empty or start with '/'", text));
  }
  std::string cur;
  for (size_t i = 1; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '/') {
      p.tokens.push_back(std::move(cur));
      cur.clear();
      continue;
    }
    if (text[i] == '~') {
      if (i + 1 < text.size() && text[i + 1] == '0') {
        cur.push_back('~');
      } else if (i + 1 < text.size() && text[i + 1] == '1') {
        cur.push_back('/');
      } else {
        return apierrors::NewBadRequest(
            fmt::format("JSON pointer \"{}\" has an invalid escape", text));
      }
      ++i;
      continue;
    }
    cur.push_back(text[i]);
  }
  return p;
}

// Array index token: digits without leading zeros ("-" handled by the caller).
bool ParseIndex(const std::string& tok, size_t* out) {
  if (tok.empty() || tok.size() > 9) return false;
  if (tok.size() > 1 && tok[0] == '0') return false;
  size_t v = 0;
  for (char c : tok) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *out = v;
  return true;
}

// The value at all tokens of `p`, or nullptr.
Json* Resolve(Json& doc, const Pointer& p, size_t ntokens) {
  Json* cur = &doc;
  for (size_t i = 0; i < ntokens; ++i) {
    const std::string& t = p.tokens[i];
    if (cur->is_object()) {
      auto it = cur->find(t);
      if (it == cur->end()) return nullptr;
      cur = &*it;
    } else if (cur->is_array()) {
      size_t idx;
      if (!ParseIndex(t, &idx) || idx >= cur->size()) return nullptr;
      cur = &(*cur)[idx];
    } else {
      return nullptr;
    }
  }
  return cur;
}

absl::Status Missing(std::string_view op, const Pointer& p) {
  return PatchNotApplicable(fmt::format(
      "{} operation does not apply: doc is missing path: \"{}\": missing value", op, p.text));
}

absl::Status Add(Json& doc, const Pointer& p, Json value, std::string_view op) {
  if (p.tokens.empty()) {
    doc = std::move(value);
    return absl::OkStatus();
  }
  Json* parent = Resolve(doc, p, p.tokens.size() - 1);
  if (!parent) return Missing(op, p);
  const std::string& last = p.tokens.back();
  if (parent->is_object()) {
    (*parent)[last] = std::move(value);
    return absl::OkStatus();
  }
  if (parent->is_array()) {
    if (last == "-") {
      parent->push_back(std::move(value));
      return absl::OkStatus();
    }
    size_t idx;
    if (!ParseIndex(last, &idx) || idx > parent->size()) {
      return PatchNotApplicable(
          fmt::format("{} operation does not apply: index out of bounds: \"{}\"", op, p.text));
    }
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(idx), std::move(value));
    return absl::OkStatus();
  }
  return Missing(op, p);
}

absl::StatusOr<Json> Remove(Json& doc, const Pointer& p, std::string_view op) {
  if (p.tokens.empty()) {
    Json out = std::move(doc);
    doc = Json();
    return out;
  }
  Json* parent = Resolve(doc, p, p.tokens.size() - 1);
  if (!parent) return Missing(op, p);
  const std::string& last = p.tokens.back();
  if (parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) return Missing(op, p);
    Json out = std::move(*it);
    parent->erase(it);
    return out;
  }
  if (parent->is_array()) {
    size_t idx;
    if (!ParseIndex(last, &idx) || idx >= parent->size()) return Missing(op, p);
    Json out = std::move((*parent)[idx]);
    parent->erase(parent->begin() + static_cast<std::ptrdiff_t>(idx));
    return out;
  }
  return Missing(op, p);
}

absl::StatusOr<const Json*> Member(const Json& op, const char* name, size_t index) {
  auto it = op.find(name);
  if (it == op.end()) {
    return apierrors::NewBadRequest(
        fmt::format("json patch operation {} is missing \"{}\"", index, name));
  }
  return &*it;
}

absl::StatusOr<Pointer> PointerMember(const Json& op, const char* name, size_t index) {
  auto m = Member(op, name, index);
  if (!m.ok()) return m.status();
  if (!(*m)->is_string()) {
    return apierrors::NewBadRequest(
        fmt::format("json patch operation {}: \"{}\" must be a string", index, name));
  }
  return ParsePointer((*m)->get<std::string>());
}

Json MergePatchValue(const Json& target, const Json& patch) {
  if (!patch.is_object()) return patch;
  Json result = target.is_object() ? target : Json::object();
  for (auto it = patch.begin(); it != patch.end(); ++it) {
    if (it.value().is_null()) {
      result.erase(it.key());
      continue;
    }
    auto cur = result.find(it.key());
    if (cur == result.end()) {
      result[it.key()] = MergePatchValue(Json(), it.value());
    } else {
      *cur = MergePatchValue(*cur, it.value());
    }
  }
  return result;
}

}  // namespace

absl::Status CheckPatchDepth(const Json& doc) {
  std::vector<std::pair<const Json*, size_t>> stack{{&doc, 1}};
  while (!stack.empty()) {
    auto [v, depth] = stack.back();
    stack.pop_back();
    if (depth > kMaxPatchDepth) {
      return apierrors::NewBadRequest(
          fmt::format("the patch nests deeper than {} levels", kMaxPatchDepth));
    }
    if (v->is_structured()) {
      for (const auto& child : *v) stack.emplace_back(&child, depth + 1);
    }
  }
  return absl::OkStatus();
}

absl::Status PatchNotApplicable(std::string_view detail) {
  Json status = {
      {"kind", "Status"},
      {"apiVersion", "v1"},
      {"metadata", Json::object()},
      {"status", "Failure"},
      {"message", "the server rejected our request due to an error in our request"},
      {"reason", "Invalid"},
      {"details",
       {{"causes", Json::array({{{"reason", "UnexpectedServerResponse"}, {"message", detail}}})}}},
      {"code", 422}};
  return apierrors::FromStatusObject(absl::StatusCode::kInvalidArgument, status);
}

absl::StatusOr<Json> ApplyJsonPatch(const Json& original, const Json& patch) {
  if (!patch.is_array()) {
    return apierrors::NewBadRequest(fmt::format(
        "json: cannot unmarshal {} into Go value of type jsonpatch.Patch", patch.type_name()));
  }
  if (auto s = CheckPatchDepth(patch); !s.ok()) return s;
  if (patch.size() > kMaxJsonPatchOperations) {
    return apierrors::NewRequestEntityTooLarge(
        fmt::format("The allowed maximum operations in a JSON patch is {}, got {}",
                    kMaxJsonPatchOperations, patch.size()));
  }
  Json doc = original;
  for (size_t i = 0; i < patch.size(); ++i) {
    const Json& op = patch[i];
    if (!op.is_object()) {
      return apierrors::NewBadRequest(fmt::format("json patch operation {} is not an object", i));
    }
    auto opname = op.find("op");
    if (opname == op.end() || !opname->is_string()) {
      return apierrors::NewBadRequest(fmt::format("json patch operation {} has no \"op\"", i));
    }
    const std::string name = opname->get<std::string>();
    auto path = PointerMember(op, "path", i);
    if (!path.ok()) return path.status();
    if (name == "add") {
      auto v = Member(op, "value", i);
      if (!v.ok()) return v.status();
      if (auto s = Add(doc, *path, **v, "add"); !s.ok()) return s;
    } else if (name == "remove") {
      auto r = Remove(doc, *path, "remove");
      if (!r.ok()) return r.status();
    } else if (name == "replace") {
      auto v = Member(op, "value", i);
      if (!v.ok()) return v.status();
      Json* target = Resolve(doc, *path, path->tokens.size());
      if (!target) {
        return PatchNotApplicable(fmt::format(
            "replace operation does not apply: doc is missing key: {}: missing value", path->text));
      }
      *target = **v;
    } else if (name == "move" || name == "copy") {
      auto from = PointerMember(op, "from", i);
      if (!from.ok()) return from.status();
      if (name == "move" && path->text.size() > from->text.size() &&
          path->text.compare(0, from->text.size(), from->text) == 0 &&
          path->text[from->text.size()] == '/') {
        return PatchNotApplicable(fmt::format(
            "move operation does not apply: cannot move \"{}\" into its own child \"{}\"",
            from->text, path->text));
      }
      Json value;
      if (name == "move") {
        auto r = Remove(doc, *from, "move");
        if (!r.ok()) return r.status();
        value = std::move(*r);
      } else {
        Json* src = Resolve(doc, *from, from->tokens.size());
        if (!src) return Missing("copy", *from);
        value = *src;
      }
      if (auto s = Add(doc, *path, std::move(value), name); !s.ok()) return s;
    } else if (name == "test") {
      auto v = Member(op, "value", i);
      if (!v.ok()) return v.status();
      Json* target = Resolve(doc, *path, path->tokens.size());
      if (!target || *target != **v) {
        return PatchNotApplicable(fmt::format("testing value {} failed: test failed", path->text));
      }
    } else {
      return apierrors::NewBadRequest(fmt::format("Unexpected kind: {}", name));
    }
  }
  return doc;
}

absl::StatusOr<Json> ApplyMergePatch(const Json& original, const Json& patch) {
  if (!patch.is_object()) {
    // RFC 7386 allows any JSON value, but a Kubernetes object patch must be an object.
    return apierrors::NewBadRequest("Invalid JSON Patch");
  }
  if (auto s = CheckPatchDepth(patch); !s.ok()) return s;
  return MergePatchValue(original, patch);
}

}  // namespace korral::patch
