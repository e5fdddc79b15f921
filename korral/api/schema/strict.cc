#include "korral/api/schema/strict.h"

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

}  // namespace

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
