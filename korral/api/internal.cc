// korral/api/internal.cc: JSON access helpers.
#include "korral/api/internal.h"

namespace korral::api::internal {

const Json* Get(const Json& obj, Path path) {
  const Json* cur = &obj;
  for (std::string_view key : path) {
    if (!cur->is_object()) return nullptr;
    auto it = cur->find(std::string(key));
    if (it == cur->end()) return nullptr;
    cur = &*it;
  }
  return cur;
}

std::string GetString(const Json& obj, Path path, std::string_view def) {
  const Json* v = Get(obj, path);
  if (v == nullptr || !v->is_string()) return std::string(def);
  return v->get<std::string>();
}

int64_t GetInt(const Json& obj, Path path, int64_t def) {
  const Json* v = Get(obj, path);
  if (v == nullptr || !v->is_number()) return def;
  if (v->is_number_float()) return static_cast<int64_t>(v->get<double>());
  return v->get<int64_t>();
}

bool GetBool(const Json& obj, Path path, bool def) {
  const Json* v = Get(obj, path);
  if (v == nullptr || !v->is_boolean()) return def;
  return v->get<bool>();
}

bool Has(const Json& obj, Path path) {
  const Json* v = Get(obj, path);
  return v != nullptr && !v->is_null();
}

const Json& GetArray(const Json& obj, Path path) {
  static const Json* const kEmpty = new Json(Json::array());
  const Json* v = Get(obj, path);
  return (v != nullptr && v->is_array()) ? *v : *kEmpty;
}

const Json& GetObject(const Json& obj, Path path) {
  static const Json* const kEmpty = new Json(Json::object());
  const Json* v = Get(obj, path);
  return (v != nullptr && v->is_object()) ? *v : *kEmpty;
}

Json& Ensure(Json& obj, Path path) {
  Json* cur = &obj;
  if (!cur->is_object()) *cur = Json::object();
  for (std::string_view key : path) {
    Json& next = (*cur)[std::string(key)];
    if (!next.is_object()) next = Json::object();
    cur = &next;
  }
  return *cur;
}

void SetDefault(Json& obj, std::string_view key, Json value) {
  if (!obj.is_object()) obj = Json::object();
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) obj[std::string(key)] = std::move(value);
}

void SetDefaultString(Json& obj, std::string_view key, std::string_view value) {
  if (!obj.is_object()) obj = Json::object();
  auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null() ||
      (it->is_string() && it->get_ref<const std::string&>().empty())) {
    obj[std::string(key)] = std::string(value);
  }
}

}  // namespace korral::api::internal
