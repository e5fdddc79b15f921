#include "korral/api/schema/schema.h"
#include "korral/api/schema/strutil.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "korral/api/schema/schema_data.h"

namespace korral::schema {
namespace {

struct Registry {
  std::map<std::string, std::unique_ptr<Schema>, std::less<>> types;
  std::map<std::string, const Schema*, std::less<>> by_kind;  // "apps/v1/Deployment"
  absl::Status status;
};

void SetError(Registry* r, std::string msg) {
  if (r->status.ok()) r->status = absl::InternalError(std::move(msg));
}

// Parses the schema language described in schema_data.h.
class Parser {
 public:
  explicit Parser(Registry* r) : r_(r) {}

  void ParseText(std::string_view text) {
    int line_no = 0;
    for (std::string_view raw : internal::Split(text, '\n')) {
      ++line_no;
      std::string_view line = internal::TrimRight(raw);
      std::string_view body = internal::TrimLeft(line);
      if (body.empty() || body[0] == '#') continue;
      bool indented = body.size() != line.size();
      std::string_view desc;
      if (size_t bar = body.find('|'); bar != std::string_view::npos) {
        desc = internal::Trim(body.substr(bar + 1));
        body = internal::Trim(body.substr(0, bar));
      }
      std::vector<std::string_view> tok = internal::Split(body, ' ', true);
      line_ctx_ = internal::Cat("line ", line_no, ": ", body);
      if (indented) {
        Field(tok, desc);
      } else if (tok[0] == "pkg" && tok.size() == 3) {
        Finish();
        aliases_[std::string(tok[1])] = std::string(tok[2]);
      } else if (tok[0] == "in" && tok.size() == 2) {
        Finish();
        auto it = aliases_.find(tok[1]);
        if (it == aliases_.end()) return Error("unknown package alias");
        pkg_ = it->second;
      } else if (tok[0] == "T" && tok.size() >= 2) {
        Finish();
        Type(tok, desc);
      } else {
        Error("unrecognized line");
      }
    }
    Finish();
  }

 private:
  void Error(std::string_view what) { SetError(r_, internal::Cat(what, " at ", line_ctx_)); }

  std::string Qualify(std::string_view name) {
    if (size_t dot = name.find('.'); dot != std::string_view::npos) {
      auto it = aliases_.find(name.substr(0, dot));
      if (it == aliases_.end()) {
        Error("unknown alias in reference");
        return std::string(name);
      }
      return internal::Cat(it->second, name.substr(dot));
    }
    return internal::Cat(pkg_, ".", name);
  }

  // Fills `s` from a primitive keyword; false when `t` is not one.
  static bool Primitive(std::string_view t, Schema* s) {
    if (t == "s") {
      s->type = Type::kString;
    } else if (t == "i32" || t == "i64") {
      s->type = Type::kInteger;
      s->format = t == "i32" ? "int32" : "int64";
    } else if (t == "b") {
      s->type = Type::kBoolean;
    } else if (t == "f64") {
      s->type = Type::kNumber;
      s->format = "double";
    } else if (t == "byte") {
      s->type = Type::kString;
      s->format = "byte";
    } else if (t == "dt") {
      s->type = Type::kString;
      s->format = "date-time";
    } else if (t == "obj") {
      s->type = Type::kObject;
    } else if (t == "any") {
      s->preserve_unknown_fields = true;
    } else {
      return false;
    }
    return true;
  }

  Schema TypeExpr(std::string_view t) {
    Schema s;
    if (internal::ConsumePrefix(&t, "[]")) {
      s.type = Type::kArray;
      s.items = std::make_shared<Schema>(TypeExpr(t));
    } else if (internal::ConsumePrefix(&t, "{}")) {
      s.type = Type::kObject;
      s.additional_properties = std::make_shared<Schema>(TypeExpr(t));
    } else if (!Primitive(t, &s)) {
      size_t first = t.find('.') == std::string_view::npos ? 0 : t.find('.') + 1;
      if (first >= t.size() || !std::isupper(static_cast<unsigned char>(t[first]))) {
        Error(internal::Cat("bad type expression '", t, "'"));
      }
      s.ref = Qualify(t);
    }
    return s;
  }

  void Type(const std::vector<std::string_view>& tok, std::string_view desc) {
    auto s = std::make_unique<Schema>();
    s->name = Qualify(tok[1]);
    s->type = Type::kObject;
    s->description = std::string(desc);
    nometa_ = false;
    want_list_ = false;
    for (size_t i = 2; i < tok.size(); ++i) {
      std::string_view f = tok[i];
      if (internal::ConsumePrefix(&f, "gvk=")) {
        std::vector<std::string> parts = internal::SplitToStrings(f, '/');
        if (parts.size() != 3) return Error("bad gvk");
        s->gvks.push_back({parts[0], parts[1], parts[2]});
      } else if (f == "nometa") {
        nometa_ = true;
      } else if (f == "list") {
        want_list_ = true;
      } else if (internal::ConsumePrefix(&f, "scalar=")) {
        s->type = Type::kUnspecified;
        if (!Primitive(f, s.get())) Error("bad scalar");
      } else if (f == "iostr") {
        s->type = Type::kString;
        s->format = "int-or-string";
        s->int_or_string = true;
      } else if (f == "preserve") {
        s->preserve_unknown_fields = true;
      } else if (f == "obj") {
        // Free-form object: the default type with no properties.
      } else if (internal::ConsumePrefix(&f, "mt=")) {
        s->map_type = std::string(f);
      } else {
        Error(internal::Cat("unknown type flag '", f, "'"));
      }
    }
    cur_ = std::move(s);
  }

  void Field(const std::vector<std::string_view>& tok, std::string_view desc) {
    if (!cur_) return Error("field outside a type");
    if (tok.size() < 2) return Error("field needs a type");
    Property p;
    p.name = std::string(tok[0]);
    p.schema = TypeExpr(tok[1]);
    p.schema.description = std::string(desc);
    for (size_t i = 2; i < tok.size(); ++i) {
      std::string_view f = tok[i];
      if (f == "req") {
        cur_->required.push_back(p.name);
      } else if (f == "A") {
        p.schema.list_type = "atomic";
      } else if (internal::ConsumePrefix(&f, "M=")) {
        p.schema.list_map_keys = internal::SplitToStrings(f, ',');
        p.schema.patch_merge_key = p.schema.list_map_keys[0];
        p.schema.patch_strategy = "merge";
        p.schema.list_type = "map";
      } else if (internal::ConsumePrefix(&f, "mk=")) {
        p.schema.patch_merge_key = std::string(f);
      } else if (internal::ConsumePrefix(&f, "ps=")) {
        p.schema.patch_strategy = std::string(f);
      } else if (internal::ConsumePrefix(&f, "lt=")) {
        p.schema.list_type = std::string(f);
      } else if (internal::ConsumePrefix(&f, "lmk=")) {
        p.schema.list_map_keys = internal::SplitToStrings(f, ',');
      } else if (internal::ConsumePrefix(&f, "mt=")) {
        p.schema.map_type = std::string(f);
      } else if (f == "preserve") {
        p.schema.preserve_unknown_fields = true;
      } else {
        Error(internal::Cat("unknown field flag '", f, "'"));
      }
    }
    cur_->properties.push_back(std::move(p));
  }

  void AddIfMissing(Schema* s, std::string_view name, Schema field, std::string_view desc) {
    for (const Property& p : s->properties) {
      if (p.name == name) return;
    }
    field.description = std::string(desc);
    s->properties.push_back(Property{std::string(name), std::move(field)});
  }

  void AddTypeMeta(Schema* s, std::string_view metadata_ref) {
    Schema str;
    str.type = Type::kString;
    AddIfMissing(s, "apiVersion", str,
                 "Versioned schema of this representation (group/version); the server converts "
                 "unrecognized values.");
    AddIfMissing(s, "kind", str, "REST resource type this object represents, in CamelCase.");
    if (!metadata_ref.empty()) {
      Schema meta;
      meta.ref = std::string(metadata_ref);
      AddIfMissing(s, "metadata", meta,
                   metadata_ref == kObjectMeta ? "Standard object metadata: name, labels, owners..."
                                               : "Standard list metadata.");
    }
  }

  void Store(std::unique_ptr<Schema> s) {
    std::sort(s->properties.begin(), s->properties.end(),
              [](const Property& a, const Property& b) { return a.name < b.name; });
    for (size_t i = 1; i < s->properties.size(); ++i) {
      if (s->properties[i].name == s->properties[i - 1].name) {
        Error(internal::Cat("duplicate property ", s->properties[i].name, " in ", s->name));
      }
    }
    for (const GroupVersionKind& g : s->gvks) {
      r_->by_kind[internal::Cat(g.group, "/", g.version, "/", g.kind)] = s.get();
    }
    std::string name = s->name;
    if (!r_->types.emplace(name, std::move(s)).second) Error("duplicate type " + name);
  }

  void Finish() {
    if (!cur_) return;
    std::unique_ptr<Schema> s = std::move(cur_);
    if (!s->gvks.empty() && !nometa_) AddTypeMeta(s.get(), kObjectMeta);
    if (want_list_) {
      auto list = std::make_unique<Schema>();
      list->name = s->name + "List";
      list->type = Type::kObject;
      std::string short_name = s->name.substr(s->name.rfind('.') + 1);
      list->description = internal::Cat("A list of ", short_name, " objects.");
      for (const GroupVersionKind& g : s->gvks) {
        list->gvks.push_back({g.group, g.version, g.kind + "List"});
      }
      Schema items;
      items.type = Type::kArray;
      auto item = std::make_shared<Schema>();
      item->ref = s->name;
      items.items = item;
      AddIfMissing(list.get(), "items", items, internal::Cat("The ", short_name, " objects."));
      list->required.push_back("items");
      AddTypeMeta(list.get(), kListMeta);
      Store(std::move(list));
    }
    Store(std::move(s));
  }

  static constexpr std::string_view kObjectMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
  static constexpr std::string_view kListMeta = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";

  Registry* r_;
  std::map<std::string, std::string, std::less<>> aliases_;
  std::string pkg_;
  std::string line_ctx_;
  std::unique_ptr<Schema> cur_;
  bool nometa_ = false;
  bool want_list_ = false;
};

void CheckRefs(Registry* r, const Schema& s, const std::string& where) {
  if (!s.ref.empty() && r->types.find(s.ref) == r->types.end()) {
    SetError(r, internal::Cat("unresolved reference ", s.ref, " in ", where));
  }
  for (const Property& p : s.properties) CheckRefs(r, p.schema, where + "." + p.name);
  if (s.items) CheckRefs(r, *s.items, where + "[]");
  if (s.additional_properties) CheckRefs(r, *s.additional_properties, where + "{}");
}

const Registry& GetRegistry() {
  static const Registry* registry = [] {
    auto* r = new Registry;
    Parser parser(r);
    for (std::string_view text : internal::SchemaTexts()) parser.ParseText(text);
    for (const auto& [name, s] : r->types) CheckRefs(r, *s, name);
    return r;
  }();
  return *registry;
}

}  // namespace

std::string_view TypeName(Type type) {
  switch (type) {
    case Type::kObject:
      return "object";
    case Type::kArray:
      return "array";
    case Type::kString:
      return "string";
    case Type::kInteger:
      return "integer";
    case Type::kNumber:
      return "number";
    case Type::kBoolean:
      return "boolean";
    case Type::kUnspecified:
      break;
  }
  return "";
}

const Schema* Schema::FindProperty(std::string_view field) const {
  auto it = std::lower_bound(properties.begin(), properties.end(), field,
                             [](const Property& p, std::string_view f) { return p.name < f; });
  if (it == properties.end() || it->name != field) return nullptr;
  return &it->schema;
}

bool Schema::IsFreeForm() const {
  if (preserve_unknown_fields) return true;
  if (!ref.empty()) return false;
  if (type == Type::kUnspecified) return true;
  return type == Type::kObject && properties.empty() && !additional_properties;
}

const Schema* FindSchema(std::string_view name) {
  const Registry& r = GetRegistry();
  auto it = r.types.find(name);
  return it == r.types.end() ? nullptr : it->second.get();
}

const Schema* FindKindSchema(std::string_view api_version, std::string_view kind) {
  std::string key = api_version.find('/') != std::string_view::npos
                        ? internal::Cat(api_version, "/", kind)
                        : internal::Cat("/", api_version, "/", kind);
  const Registry& r = GetRegistry();
  auto it = r.by_kind.find(key);
  return it == r.by_kind.end() ? nullptr : it->second;
}

const Schema* Deref(const Schema* s) {
  if (s == nullptr || s->ref.empty()) return s;
  return FindSchema(s->ref);
}

std::vector<const Schema*> AllSchemas() {
  std::vector<const Schema*> out;
  for (const auto& [name, s] : GetRegistry().types) out.push_back(s.get());
  return out;
}

absl::Status SchemaDataStatus() { return GetRegistry().status; }

nlohmann::json ToOpenApiV3(const Schema& s, std::string_view ref_prefix) {
  nlohmann::json j = nlohmann::json::object();
  if (!s.ref.empty()) {
    j["allOf"] = nlohmann::json::array({{{"$ref", internal::Cat(ref_prefix, s.ref)}}});
  } else if (s.type != Type::kUnspecified) {
    j["type"] = TypeName(s.type);
  }
  if (!s.format.empty()) j["format"] = s.format;
  if (!s.description.empty()) j["description"] = s.description;
  if (!s.properties.empty()) {
    nlohmann::json props = nlohmann::json::object();
    for (const Property& p : s.properties) props[p.name] = ToOpenApiV3(p.schema, ref_prefix);
    j["properties"] = std::move(props);
  }
  if (s.items) j["items"] = ToOpenApiV3(*s.items, ref_prefix);
  if (s.additional_properties) {
    j["additionalProperties"] = ToOpenApiV3(*s.additional_properties, ref_prefix);
  }
  if (!s.required.empty()) j["required"] = s.required;
  if (!s.enum_values.empty()) j["enum"] = s.enum_values;
  if (!s.patch_merge_key.empty()) j["x-kubernetes-patch-merge-key"] = s.patch_merge_key;
  if (!s.patch_strategy.empty()) j["x-kubernetes-patch-strategy"] = s.patch_strategy;
  if (!s.list_type.empty()) j["x-kubernetes-list-type"] = s.list_type;
  if (!s.list_map_keys.empty()) j["x-kubernetes-list-map-keys"] = s.list_map_keys;
  if (!s.map_type.empty()) j["x-kubernetes-map-type"] = s.map_type;
  if (s.int_or_string) j["x-kubernetes-int-or-string"] = true;
  if (s.preserve_unknown_fields) j["x-kubernetes-preserve-unknown-fields"] = true;
  if (!s.gvks.empty()) {
    nlohmann::json gvks = nlohmann::json::array();
    for (const GroupVersionKind& g : s.gvks) {
      gvks.push_back({{"group", g.group}, {"version", g.version}, {"kind", g.kind}});
    }
    j["x-kubernetes-group-version-kind"] = std::move(gvks);
  }
  return j;
}

void CollectReferences(const Schema& s, std::vector<std::string>* out) {
  std::set<std::string> seen(out->begin(), out->end());
  std::vector<const Schema*> stack = {&s};
  while (!stack.empty()) {
    const Schema* n = stack.back();
    stack.pop_back();
    if (!n->ref.empty() && seen.insert(n->ref).second) {
      out->push_back(n->ref);
      if (const Schema* target = FindSchema(n->ref)) stack.push_back(target);
    }
    for (const Property& p : n->properties) stack.push_back(&p.schema);
    if (n->items) stack.push_back(n->items.get());
    if (n->additional_properties) stack.push_back(n->additional_properties.get());
  }
}

}  // namespace korral::schema
