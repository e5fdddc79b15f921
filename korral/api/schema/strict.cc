#include "korral/api/schema/strict.h"

#include <cctype>

#include <algorithm>
#include <utility>

#include "korral/api/schema/schema.h"
#include "korral/api/schema/strutil.h"
#include "korral/apimachinery/errors.h"

namespace korral::schema {
namespace {

using Json = nlohmann::json;

// Builds the DOM like nlohmann's own SAX DOM parser, and also tracks the path of the value
// being parsed so duplicate keys can be reported by path.
class StrictSax {
 public:
  explicit StrictSax(StrictDecodeResult* out) : out_(out) {}

  bool null() { return Put(Json(nullptr)); }
  bool boolean(bool v) { return Put(Json(v)); }
  bool number_integer(Json::number_integer_t v) { return Put(Json(v)); }
  bool number_unsigned(Json::number_unsigned_t v) { return Put(Json(v)); }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return Put(Json(v)); }
  bool string(Json::string_t& v) { return Put(Json(std::move(v))); }
  bool binary(Json::binary_t& v) { return Put(Json::binary(std::move(v))); }

  bool start_object(std::size_t) { return Open(Json::object()); }
  bool start_array(std::size_t) { return Open(Json::array()); }
  bool end_object() { return Close(); }
  bool end_array() { return Close(); }

  bool key(Json::string_t& k) {
    Frame& f = frames_.back();
    if (f.value->contains(k)) out_->duplicate_fields.push_back(PathWith(k));
    f.key = std::move(k);
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& ex) {
    std::string_view what = ex.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (what.substr(0, 16) == "[json.exception.") {
      if (size_t close = what.find("] "); close != std::string_view::npos) {
        what.remove_prefix(close + 2);
      }
    }
    error_ = std::string(what);
    return false;
  }

  const std::string& error() const { return error_; }

 private:
  struct Frame {
    Json* value;
    std::string key;  // objects: the key whose value comes next
  };

  // Path of `key` inside the innermost (object) container.
  std::string PathWith(std::string_view key) const {
    std::string path;
    for (size_t i = 0; i + 1 < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.value->is_array()) {
        path += internal::Cat("[", f.value->size() - 1, "]");
      } else {
        if (!path.empty()) path += '.';
        path += f.key;
      }
    }
    if (!path.empty()) path += '.';
    path += key;
    return path;
  }

  // Stores `v` in the current container (or as the root) and returns where it went.
  Json* Store(Json v) {
    if (frames_.empty()) {
      out_->object = std::move(v);
      return &out_->object;
    }
    Frame& f = frames_.back();
    if (f.value->is_array()) {
      f.value->push_back(std::move(v));
      return &f.value->back();
    }
    Json& slot = (*f.value)[f.key];
    slot = std::move(v);
    return &slot;
  }

  bool Put(Json v) {
    Store(std::move(v));
    return true;
  }

  bool Open(Json container) {
    if (static_cast<int>(frames_.size()) >= kMaxJsonDepth) {
      error_ = internal::Cat("exceeded max depth of ", kMaxJsonDepth);
      return false;
    }
    Json* slot = Store(std::move(container));
    frames_.push_back(Frame{slot, {}});
    return true;
  }

  bool Close() {
    frames_.pop_back();
    return true;
  }

  StrictDecodeResult* out_;
  std::vector<Frame> frames_;
  std::string error_;
};

void Walk(const Json& v, const Schema* node, const std::string& path,
          std::vector<std::string>* out) {
  const Schema* s = Deref(node);
  if (s == nullptr || s->IsFreeForm() || s->int_or_string) return;
  if (v.is_object()) {
    if (!s->properties.empty()) {
      for (const auto& [k, child] : v.items()) {
        std::string child_path = path.empty() ? k : internal::Cat(path, ".", k);
        const Schema* prop = s->FindProperty(k);
        if (prop == nullptr) {
          out->push_back(std::move(child_path));
          continue;
        }
        Walk(child, prop, child_path, out);
      }
    } else if (s->additional_properties) {
      for (const auto& [k, child] : v.items()) {
        Walk(child, s->additional_properties.get(), path.empty() ? k : internal::Cat(path, ".", k),
             out);
      }
    }
  } else if (v.is_array() && s->items) {
    for (size_t i = 0; i < v.size(); ++i) {
      Walk(v[i], s->items.get(), internal::Cat(path, "[", i, "]"), out);
    }
  }
}

const char* JsonTypeName(const Json& v) {
  if (v.is_string()) return "string";
  if (v.is_number()) return "number";
  if (v.is_boolean()) return "bool";
  if (v.is_array()) return "array";
  return "object";
}

std::string GoTypeName(const Schema* s) {
  switch (s->type) {
    case Type::kString:
      return "string";
    case Type::kInteger:
      return s->format == "int32" ? "int32" : "int64";
    case Type::kNumber:
      return "float64";
    case Type::kBoolean:
      return "bool";
    case Type::kArray:
      return "[]" + (s->items ? GoTypeName(Deref(s->items.get())) : std::string("interface {}"));
    case Type::kObject: {
      if (s->properties.empty() && s->additional_properties) {
        return "map[string]" + GoTypeName(Deref(s->additional_properties.get()));
      }
      std::string n = s->name;
      auto dot = n.rfind('.');
      return dot == std::string::npos ? "struct" : "v1." + n.substr(dot + 1);
    }
    default:
      return "interface {}";
  }
}

bool IsBase64(const std::string& v) {
  size_t n = 0;
  for (char c : v) {
    if (c == '=') break;
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/')) return false;
    ++n;
  }
  size_t pad = v.size() - n;
  return pad <= 2 && v.size() % 4 == 0 && v.find_first_not_of('=', n) == std::string::npos;
}

// Returns the first mismatch below `v` as "<json type>|<field path>|<go type>".
std::optional<std::string> CheckTypes(const Json& v, const Schema* node, const std::string& path) {
  if (v.is_null()) return std::nullopt;
  const Schema* s = Deref(node);
  if (s == nullptr || s->preserve_unknown_fields) return std::nullopt;
  if (s->int_or_string) {
    if (v.is_string() || v.is_number_integer()) return std::nullopt;
    return internal::Cat(JsonTypeName(v), "|", path, "|intstr.IntOrString");
  }
  if (s->name == "io.k8s.apimachinery.pkg.api.resource.Quantity") {
    if (v.is_string() || v.is_number()) return std::nullopt;
    return internal::Cat(JsonTypeName(v), "|", path, "|resource.Quantity");
  }
  auto mismatch = [&]() {
    return std::optional<std::string>(
        internal::Cat(JsonTypeName(v), "|", path, "|", GoTypeName(s)));
  };
  switch (s->type) {
    case Type::kString:
      if (!v.is_string()) return mismatch();
      if (s->format == "byte" && !IsBase64(v.get<std::string>())) {
        return internal::Cat("base64|", path, "|[]byte");
      }
      return std::nullopt;
    case Type::kInteger:
      if (!v.is_number_integer()) return mismatch();
      return std::nullopt;
    case Type::kNumber:
      if (!v.is_number()) return mismatch();
      return std::nullopt;
    case Type::kBoolean:
      if (!v.is_boolean()) return mismatch();
      return std::nullopt;
    case Type::kArray:
      if (!v.is_array()) return mismatch();
      if (s->items) {
        for (size_t i = 0; i < v.size(); ++i) {
          if (auto e = CheckTypes(v[i], s->items.get(), path)) return e;
        }
      }
      return std::nullopt;
    case Type::kObject:
      if (s->IsFreeForm()) return std::nullopt;
      if (!v.is_object()) return mismatch();
      for (const auto& [k, child] : v.items()) {
        const Schema* prop =
            s->properties.empty() ? s->additional_properties.get() : s->FindProperty(k);
        if (prop == nullptr) continue;  // unknown fields are FindUnknownFields' business
        std::string child_path = s->properties.empty() ? path : internal::Cat(path, ".", k);
        if (auto e = CheckTypes(child, prop, child_path)) return e;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> FindTypeError(const Json& obj, std::string_view api_version,
                                         std::string_view kind) {
  const Schema* s = FindKindSchema(api_version, kind);
  if (s == nullptr || !obj.is_object()) return std::nullopt;
  auto e = CheckTypes(obj, s, std::string(kind));
  if (!e) return std::nullopt;
  auto bar1 = e->find('|');
  auto bar2 = e->find('|', bar1 + 1);
  std::string json_type = e->substr(0, bar1);
  std::string field = e->substr(bar1 + 1, bar2 - bar1 - 1);
  std::string go_type = e->substr(bar2 + 1);
  if (json_type == "base64") {
    return internal::Cat("illegal base64 data in field ", field);
  }
  return internal::Cat("json: cannot unmarshal ", json_type, " into Go struct field ", field,
                       " of type ", go_type);
}

absl::StatusOr<StrictDecodeResult> ParseJsonStrict(std::string_view body) {
  StrictDecodeResult result;
  StrictSax sax(&result);
  bool ok = false;
  try {
    ok = Json::sax_parse(body.begin(), body.end(), &sax);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        internal::Cat("couldn't get version/kind; json parse error: ", e.what()));
  }
  if (!ok) {
    std::string why = sax.error().empty() ? "invalid JSON" : sax.error();
    if (body.find_first_not_of(" \t\r\n") == std::string_view::npos) {
      why = "unexpected end of JSON input";
    }
    return absl::InvalidArgumentError(
        internal::Cat("couldn't get version/kind; json parse error: ", why));
  }
  return result;
}

std::vector<std::string> FindUnknownFields(const nlohmann::json& obj, std::string_view api_version,
                                           std::string_view kind) {
  std::vector<std::string> out;
  const Schema* s = FindKindSchema(api_version, kind);
  if (s == nullptr || !obj.is_object()) return out;
  for (const auto& [k, child] : obj.items()) {
    if (k == "apiVersion" || k == "kind") continue;
    const Schema* prop = s->FindProperty(k);
    if (prop == nullptr) {
      if (k != "metadata" && k != "status") out.push_back(k);
      continue;
    }
    Walk(child, prop, k, &out);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string StrictDecodingMessage(const std::vector<std::string>& unknown_fields,
                                  const std::vector<std::string>& duplicate_fields) {
  std::vector<std::string> parts = StrictDecodingWarnings(unknown_fields, duplicate_fields);
  if (parts.empty()) return "";
  std::string out = "strict decoding error: ";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += ", ";
    out += parts[i];
  }
  return out;
}

std::vector<std::string> StrictDecodingWarnings(const std::vector<std::string>& unknown_fields,
                                                const std::vector<std::string>& duplicate_fields) {
  std::vector<std::string> out;
  out.reserve(unknown_fields.size() + duplicate_fields.size());
  for (const std::string& f : duplicate_fields)
    out.push_back(internal::Cat("duplicate field \"", f, "\""));
  for (const std::string& f : unknown_fields)
    out.push_back(internal::Cat("unknown field \"", f, "\""));
  return out;
}

absl::Status NewStrictDecodingError(std::string_view kind, std::string_view version,
                                    const std::vector<std::string>& unknown_fields,
                                    const std::vector<std::string>& duplicate_fields) {
  std::string msg = StrictDecodingMessage(unknown_fields, duplicate_fields);
  if (msg.empty()) return absl::OkStatus();
  return apierrors::NewBadRequest(internal::Cat(kind, " in version \"", version,
                                                "\" cannot be handled as a ", kind, ": ", msg));
}

}  // namespace korral::schema
