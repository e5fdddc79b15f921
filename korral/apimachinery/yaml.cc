#include "korral/apimachinery/yaml.h"

#include <fmt/format.h>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace korral::yaml {
namespace {

using Json = nlohmann::json;

constexpr char kErrPrefix[] = "error converting YAML to JSON: yaml: ";

absl::Status Error(std::string_view msg) {
  return absl::InvalidArgumentError(
      absl::StrCat(kErrPrefix, absl::string_view(msg.data(), msg.size())));
}
absl::Status ErrorAt(const YAML::Mark& mark, std::string_view msg) {
  if (mark.is_null()) return Error(msg);
  return Error(
      absl::StrCat("line ", mark.line + 1, ": ", absl::string_view(msg.data(), msg.size())));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Go's strconv.ParseInt/ParseUint with base 0 (sign, 0x/0o/0b prefixes, leading-0 octal).
struct IntValue {
  bool negative = false;
  uint64_t magnitude = 0;
};
std::optional<IntValue> ParseGoInt(std::string_view s) {
  IntValue v;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    v.negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  int base = 10;
  if (s.size() >= 2 && s[0] == '0') {
    char p = s[1];
    if (p == 'x' || p == 'X')
      base = 16, s.remove_prefix(2);
    else if (p == 'o' || p == 'O')
      base = 8, s.remove_prefix(2);
    else if (p == 'b' || p == 'B')
      base = 2, s.remove_prefix(2);
    else
      base = 8, s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v.magnitude, base);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
bool IsYamlStyleFloat(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    size_t d = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == d) return false;
  } else {
    size_t d = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == d) return false;
    if (i < s.size() && s[i] == '.') {
      ++i;
      while (i < s.size() && IsDigit(s[i])) ++i;
    }
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t d = i;
    while (i < s.size() && IsDigit(s[i])) ++i;
    if (i == d) return false;
  }
  return i == s.size();
}

std::optional<double> ParseDouble(std::string_view s) {
  std::string tmp(s);
  if (!tmp.empty() && tmp[0] == '+') tmp.erase(0, 1);
  double d = 0;
  auto [ptr, ec] = std::from_chars(tmp.data(), tmp.data() + tmp.size(), d);
  if (ec != std::errc() || ptr != tmp.data() + tmp.size()) return std::nullopt;
  return d;
}

enum class Kind { kString, kBool, kInt, kFloat, kNull, kSpecialFloat };

struct Resolved {
  Kind kind = Kind::kString;
  Json value;
};

// goyaml.v2 resolve() for a plain scalar.
Resolved ResolvePlain(const std::string& in) {
  static const std::set<std::string, std::less<>> kTrue = {
      "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON"};
  static const std::set<std::string, std::less<>> kFalse = {
      "n", "N", "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF"};
  static const std::set<std::string, std::less<>> kNull = {"", "~", "null", "Null", "NULL"};
  static const std::set<std::string, std::less<>> kSpecial = {".nan",  ".NaN",  ".NAN",  ".inf",
                                                              ".Inf",  ".INF",  "+.inf", "+.Inf",
                                                              "+.INF", "-.inf", "-.Inf", "-.INF"};
  if (kTrue.count(in)) return {Kind::kBool, true};
  if (kFalse.count(in)) return {Kind::kBool, false};
  if (kNull.count(in)) return {Kind::kNull, nullptr};
  if (kSpecial.count(in)) return {Kind::kSpecialFloat, in};
  char c = in[0];
  if (c == '.') {
    if (auto d = ParseDouble(in); d && IsYamlStyleFloat(in)) return {Kind::kFloat, *d};
  } else if (IsDigit(c) || c == '+' || c == '-') {
    std::string plain;
    plain.reserve(in.size());
    for (char ch : in) {
      if (ch != '_') plain += ch;
    }
    if (auto v = ParseGoInt(plain)) {
      if (!v->negative) {
        if (v->magnitude <= static_cast<uint64_t>(INT64_MAX)) {
          return {Kind::kInt, static_cast<int64_t>(v->magnitude)};
        }
        return {Kind::kInt, v->magnitude};
      }
      if (v->magnitude <= static_cast<uint64_t>(INT64_MAX) + 1) {
        return {Kind::kInt, static_cast<int64_t>(0 - v->magnitude)};
      }
    }
    if (IsYamlStyleFloat(plain)) {
      if (auto d = ParseDouble(plain); d && std::isfinite(*d)) return {Kind::kFloat, *d};
    }
  }
  return {Kind::kString, in};
}

std::string FloatKey(double d) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  return std::string(buf, ptr);
}

class Converter {
 public:
  explicit Converter(size_t input_size)
      : budget_(std::min<uint64_t>(uint64_t{100} * input_size + 10000, 50'000'000)) {}

  absl::StatusOr<Json> Convert(const YAML::Node& n, int depth) {
    if (depth > kMaxYamlDepth) {
      return ErrorAt(n.Mark(), absl::StrCat("exceeded max depth of ", kMaxYamlDepth));
    }
    if (++visited_ > budget_) return Error("document contains excessive aliasing");
    switch (n.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return Json(nullptr);
      case YAML::NodeType::Scalar:
        return Scalar(n);
      case YAML::NodeType::Sequence: {
        Json arr = Json::array();
        for (const auto& item : n) {
          auto v = Convert(item, depth + 1);
          if (!v.ok()) return v.status();
          arr.push_back(*std::move(v));
        }
        return arr;
      }
      case YAML::NodeType::Map: {
        Json obj = Json::object();
        std::set<std::string> explicit_keys;
        std::vector<YAML::Node> merges;
        for (const auto& kv : n) {
          const YAML::Node& k = kv.first;
          if (k.IsScalar() && k.Tag() == "?" && k.Scalar() == "<<") {
            merges.push_back(kv.second);
            continue;
          }
          auto key = Key(k);
          if (!key.ok()) return key.status();
          if (!explicit_keys.insert(*key).second) {
            return Error(absl::StrCat("unmarshal errors:\n  line ", k.Mark().line + 1, ": key ",
                                      Json(*key).dump(), " already set in map"));
          }
          auto v = Convert(kv.second, depth + 1);
          if (!v.ok()) return v.status();
          obj[*key] = *std::move(v);
        }
        // Merged keys never override explicit ones; earlier merge sources win over later ones.
        for (const auto& m : merges) {
          std::vector<YAML::Node> sources;
          if (m.IsMap()) {
            sources.push_back(m);
          } else if (m.IsSequence()) {
            for (const auto& s : m) {
              if (!s.IsMap()) {
                return ErrorAt(s.Mark(), "map merge requires map or sequence of maps as the value");
              }
              sources.push_back(s);
            }
          } else {
            return ErrorAt(m.Mark(), "map merge requires map or sequence of maps as the value");
          }
          for (const auto& src : sources) {
            auto merged = Convert(src, depth + 1);
            if (!merged.ok()) return merged.status();
            for (auto& [mk, mv] : merged->items()) {
              if (!obj.contains(mk)) obj[mk] = std::move(mv);
            }
          }
        }
        return obj;
      }
    }
    return Json(nullptr);
  }

 private:
  absl::StatusOr<Json> Scalar(const YAML::Node& n) {
    const std::string& tag = n.Tag();
    const std::string& text = n.Scalar();
    if (tag == "!" || tag == "tag:yaml.org,2002:str" || tag == "tag:yaml.org,2002:binary") {
      return Json(text);
    }
    Resolved r = ResolvePlain(text);
    if (tag != "?" && !tag.empty()) {
      // Explicit tags: the resolved kind must agree (an int is accepted as a float).
      auto mismatch = [&](const char* want) {
        return ErrorAt(n.Mark(), absl::StrCat("cannot decode `", text, "` as a ", want));
      };
      if (tag == "tag:yaml.org,2002:int") {
        if (r.kind != Kind::kInt) return mismatch("!!int");
      } else if (tag == "tag:yaml.org,2002:float") {
        if (r.kind == Kind::kInt) return Json(r.value.get<double>());
        if (r.kind != Kind::kFloat && r.kind != Kind::kSpecialFloat) return mismatch("!!float");
      } else if (tag == "tag:yaml.org,2002:bool") {
        if (r.kind != Kind::kBool) return mismatch("!!bool");
      } else if (tag == "tag:yaml.org,2002:null") {
        if (r.kind != Kind::kNull) return mismatch("!!null");
      } else {
        return Json(text);  // unknown (local) tags decode as their text
      }
    }
    if (r.kind == Kind::kSpecialFloat) {
      return ErrorAt(n.Mark(), absl::StrCat("json: unsupported value: ", text));
    }
    return std::move(r.value);
  }

  absl::StatusOr<std::string> Key(const YAML::Node& k) {
    if (k.IsNull()) {
      return ErrorAt(k.Mark(), "unsupported map key of type: <nil>");
    }
    if (!k.IsScalar()) {
      return ErrorAt(k.Mark(), "invalid map key: only scalar keys are supported");
    }
    auto v = Scalar(k);
    if (!v.ok()) return v.status();
    if (v->is_string()) return v->get<std::string>();
    if (v->is_boolean()) return std::string(v->get<bool>() ? "true" : "false");
    if (v->is_number_float()) return FloatKey(v->get<double>());
    if (v->is_null()) return ErrorAt(k.Mark(), "unsupported map key of type: <nil>");
    return v->dump();
  }

  uint64_t budget_;
  uint64_t visited_ = 0;
};

absl::Status FromYamlException(const YAML::Exception& e) { return ErrorAt(e.mark, e.msg); }

// yaml-cpp 0.7 loops forever (allocating a document per turn) on some malformed streams, e.g. a
// top-level ",". This event handler only watches document starts so that a pre-pass can detect
// a parser that no longer advances.
class ProgressGuard : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override {
    if (mark.pos == last_pos_) stuck_ = true;
    last_pos_ = mark.pos;
    mark_ = mark;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  bool stuck() const { return stuck_; }
  const YAML::Mark& mark() const { return mark_; }

 private:
  int last_pos_ = -1;
  bool stuck_ = false;
  YAML::Mark mark_;
};

// Parses every document of `yaml` (exceptions turned into statuses).
// Byte offset of the first invalid UTF-8 sequence, or npos. YAML streams must be UTF-8, and
// upstream's parser rejects anything else before parsing.
size_t InvalidUtf8Offset(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return i;
    if (n == 2 && c < 0xc2) return i;  // overlong
    i += n;
  }
  return std::string_view::npos;
}

absl::StatusOr<std::vector<YAML::Node>> LoadDocuments(std::string_view yaml) {
  if (size_t bad = InvalidUtf8Offset(yaml); bad != std::string_view::npos) {
    return Error(fmt::format("yaml: invalid UTF-8 at byte offset {}", bad));
  }
  std::string text(yaml);
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    ProgressGuard guard;
    while (parser.HandleNextDocument(guard)) {
      if (guard.stuck()) return ErrorAt(guard.mark(), "did not find expected node content");
    }
    return YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    return FromYamlException(e);
  } catch (const std::exception& e) {
    return Error(e.what());
  }
}

// ---- emitter ----

bool ResolvesToNonString(const std::string& s) {
  if (s.empty()) return true;
  Resolved r = ResolvePlain(s);
  if (r.kind != Kind::kString) return true;
  // Also YAML 1.2 / other readers: a timestamp-looking or number-looking string stays quoted.
  if (IsDigit(s[0]) && s.size() >= 8 && s[4] == '-') return true;
  return false;
}

bool NeedsQuotes(const std::string& s) {
  if (ResolvesToNonString(s)) return true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t') return true;
  static constexpr std::string_view kIndicators = "-?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos) {
    // "-foo", "?x" and ":x" are fine as plain scalars only when followed by a non-space, but
    // keep it simple and safe: quote any leading indicator.
    return true;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x20 || c == 0x7f) return true;
    if (c == ':' && (i + 1 == s.size() || s[i + 1] == ' ')) return true;
    if (c == '#' && i > 0 && s[i - 1] == ' ') return true;
  }
  if (s == "<<") return true;
  return false;
}

std::string DoubleQuoted(const std::string& s) {
  // JSON string escapes are valid YAML double-quoted escapes.
  return Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
}

bool CanUseLiteral(const std::string& s) {
  if (s.find('\n') == std::string::npos) return false;
  if (s.front() == ' ' || s.front() == '\n') return false;
  // At most one trailing newline, so that "|" or "|-" chomping reproduces it.
  if (s.size() >= 2 && s[s.size() - 1] == '\n' && s[s.size() - 2] == '\n') return false;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n') || c == 0x7f) return false;
    // Trailing spaces before a newline survive literal blocks, but a line made of spaces
    // only would be ambiguous with indentation; avoid it.
    if (c == '\n' && i + 1 < s.size() && s[i + 1] == ' ') return false;
  }
  return true;
}

void EmitString(const std::string& s, int indent, std::string& out, bool is_key = false) {
  if (!is_key && indent > 0 && CanUseLiteral(s)) {
    out += s.back() == '\n' ? "|" : "|-";
    std::string pad(indent, ' ');
    size_t start = 0;
    std::string_view body(s);
    if (body.back() == '\n') body.remove_suffix(1);
    while (start <= body.size()) {
      size_t nl = body.find('\n', start);
      std::string_view line =
          body.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start);
      out += '\n';
      if (!line.empty()) {
        out += pad;
        out.append(line.data(), line.size());
      }
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
    return;
  }
  out += NeedsQuotes(s) ? DoubleQuoted(s) : s;
}

void EmitScalar(const Json& j, int indent, std::string& out) {
  switch (j.type()) {
    case Json::value_t::null:
      out += "null";
      break;
    case Json::value_t::boolean:
      out += j.get<bool>() ? "true" : "false";
      break;
    case Json::value_t::string:
      EmitString(j.get_ref<const std::string&>(), indent, out);
      break;
    case Json::value_t::number_float: {
      double d = j.get<double>();
      if (!std::isfinite(d)) {
        out += std::isnan(d) ? ".nan" : (d > 0 ? ".inf" : "-.inf");
      } else {
        out += j.dump();
      }
      break;
    }
    case Json::value_t::binary:
      out += "null";
      break;
    default:
      out += j.dump();
      break;
  }
}

bool IsEmptyCollection(const Json& j) { return (j.is_object() || j.is_array()) && j.empty(); }

void Emit(const Json& j, int indent, std::string& out);

// Emits `j` as the value following "key:" or "- ".
void EmitValueAfterIndicator(const Json& j, int indent, bool in_sequence, std::string& out) {
  if (j.is_object() && !j.empty()) {
    if (in_sequence) {
      // First key on the same line as "- ".
      bool first = true;
      for (const auto& [k, v] : j.items()) {
        if (!first) out += std::string(indent, ' ');
        first = false;
        EmitString(k, indent, out, /*is_key=*/true);
        out += ':';
        EmitValueAfterIndicator(v, indent + 2, false, out);
      }
    } else {
      out += '\n';
      Emit(j, indent, out);
    }
    return;
  }
  if (j.is_array() && !j.empty()) {
    out += '\n';
    // Compact sequences: "- " at the key's indentation.
    Emit(j, in_sequence ? indent : indent - 2, out);
    return;
  }
  if (!in_sequence) out += ' ';
  if (j.is_object()) {
    out += "{}\n";
  } else if (j.is_array()) {
    out += "[]\n";
  } else {
    EmitScalar(j, indent, out);
    out += '\n';
  }
}

void Emit(const Json& j, int indent, std::string& out) {
  std::string pad(indent, ' ');
  if (j.is_object() && !j.empty()) {
    for (const auto& [k, v] : j.items()) {
      out += pad;
      EmitString(k, indent, out, /*is_key=*/true);
      out += ':';
      EmitValueAfterIndicator(v, indent + 2, false, out);
    }
  } else if (j.is_array() && !j.empty()) {
    for (const auto& v : j) {
      out += pad;
      out += "- ";
      if (IsEmptyCollection(v) || !(v.is_object() || v.is_array())) {
        EmitValueAfterIndicator(v, indent + 2, true, out);
      } else if (v.is_object()) {
        EmitValueAfterIndicator(v, indent + 2, true, out);
      } else {
        // Nested sequence: "- - a".
        std::string nested;
        Emit(v, indent + 2, nested);
        out += nested.substr(indent + 2);
      }
    }
  } else {
    out += pad;
    if (j.is_object()) {
      out += "{}";
    } else if (j.is_array()) {
      out += "[]";
    } else {
      EmitScalar(j, indent, out);
    }
    out += '\n';
  }
}

}  // namespace

absl::StatusOr<Json> YamlToJson(std::string_view yaml) {
  auto docs = LoadDocuments(yaml);
  if (!docs.ok()) return docs.status();
  if (docs->empty()) return Json(nullptr);
  if (docs->size() > 1) return Error("expected a single document in the stream");
  try {
    return Converter(yaml.size()).Convert((*docs)[0], 0);
  } catch (const std::exception& e) {
    return Error(e.what());
  }
}

absl::StatusOr<std::vector<Json>> YamlDocumentsToJson(std::string_view yaml) {
  auto loaded = LoadDocuments(yaml);
  if (!loaded.ok()) return loaded.status();
  const std::vector<YAML::Node>& docs = *loaded;
  std::vector<Json> out;
  Converter conv(yaml.size());
  try {
    for (const auto& d : docs) {
      auto j = conv.Convert(d, 0);
      if (!j.ok()) return j.status();
      if (j->is_null()) continue;
      out.push_back(*std::move(j));
    }
  } catch (const std::exception& e) {
    return Error(e.what());
  }
  return out;
}

std::string JsonToYaml(const Json& json) {
  std::string out;
  Emit(json, 0, out);
  return out;
}

}  // namespace korral::yaml
