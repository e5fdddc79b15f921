// korral/api/validation.cc: name validators, cause constructors, metadata and PodSpec checks.
#include "korral/api/validation.h"

#include <arpa/inet.h>

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "korral/api/internal.h"

namespace korral::api::validation {
namespace {

using internal::GetArray;
using internal::GetInt;
using internal::GetObject;
using internal::GetString;
using internal::Has;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

// [a-z0-9]([-a-z0-9]*[a-z0-9])?
bool MatchesDns1123Label(std::string_view v) {
  if (v.empty() || !IsLowerAlnum(v.front()) || !IsLowerAlnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool MatchesDns1123Subdomain(std::string_view v) {
  if (v.empty()) return false;
  size_t start = 0;
  while (true) {
    size_t dot = v.find('.', start);
    std::string_view part =
        v.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (!MatchesDns1123Label(part)) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]
bool MatchesQualifiedNamePart(std::string_view v) {
  if (v.empty() || !IsAlnum(v.front()) || !IsAlnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(),
                     [](char c) { return IsAlnum(c) || c == '-' || c == '_' || c == '.'; });
}

std::string MaxLenError(int n) { return internal::Cat("must be no more than ", n, " characters"); }

std::string RegexError(std::string_view msg, std::string_view fmt,
                       std::initializer_list<std::string_view> examples) {
  std::string out(msg);
  if (examples.size() == 0) {
    return internal::Cat(out, " (regex used for validation is '", fmt, "')");
  }
  out += " (e.g. ";
  bool first = true;
  for (std::string_view e : examples) {
    if (!first) out += " or ";
    first = false;
    internal::CatAppend(&out, "'", e, "', ");
  }
  internal::CatAppend(&out, "regex used for validation is '", fmt, "')");
  return out;
}

constexpr std::string_view kDns1123LabelFmt = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
constexpr std::string_view kDns1123SubdomainFmt =
    "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
constexpr std::string_view kQualifiedNameFmt = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
constexpr std::string_view kQualifiedNameErrMsg =
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character";

std::string QuotedList(const std::vector<std::string>& values) {
  std::vector<std::string> q;
  q.reserve(values.size());
  for (const auto& v : values) q.push_back(FormatValue(Json(v)));
  return absl::StrJoin(q, ", ");
}

}  // namespace

std::vector<std::string> IsDns1123Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(MaxLenError(63));
  if (!MatchesDns1123Label(value)) {
    if (MatchesDns1123Subdomain(value)) {
      errs.push_back("must not contain dots");
    } else {
      errs.push_back(RegexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
          "and must start and end with an alphanumeric character",
          kDns1123LabelFmt, {"my-name", "123-abc"}));
    }
  }
  return errs;
}

std::vector<std::string> IsDns1123Subdomain(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(MaxLenError(253));
  if (!MatchesDns1123Subdomain(value)) {
    errs.push_back(RegexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
        "or '.', and must start and end with an alphanumeric character",
        kDns1123SubdomainFmt, {"example.com"}));
  }
  return errs;
}

std::vector<std::string> IsDns1035Label(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(MaxLenError(63));
  bool ok =
      !value.empty() && value.front() >= 'a' && value.front() <= 'z' && MatchesDns1123Label(value);
  if (!ok) {
    errs.push_back(RegexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character",
        "[a-z]([-a-z0-9]*[a-z0-9])?", {"my-name", "abc-123"}));
  }
  return errs;
}

std::vector<std::string> IsQualifiedName(std::string_view value) {
  std::vector<std::string> errs;
  std::string_view name;
  size_t slashes = std::count(value.begin(), value.end(), '/');
  if (slashes == 0) {
    name = value;
  } else if (slashes == 1) {
    size_t pos = value.find('/');
    std::string_view prefix = value.substr(0, pos);
    name = value.substr(pos + 1);
    if (prefix.empty()) {
      errs.push_back("prefix part must be non-empty");
    } else {
      for (auto& m : IsDns1123Subdomain(prefix)) errs.push_back("prefix part " + m);
    }
  } else {
    errs.push_back(
        "a qualified name " +
        RegexError(kQualifiedNameErrMsg, kQualifiedNameFmt, {"MyName", "my.name", "123-abc"}) +
        " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')");
    return errs;
  }
  if (name.empty()) {
    errs.push_back("name part must be non-empty");
  } else if (name.size() > 63) {
    errs.push_back("name part " + MaxLenError(63));
  }
  if (!MatchesQualifiedNamePart(name)) {
    errs.push_back("name part " + RegexError(kQualifiedNameErrMsg, kQualifiedNameFmt,
                                             {"MyName", "my.name", "123-abc"}));
  }
  return errs;
}

std::vector<std::string> IsValidLabelValue(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 63) errs.push_back(MaxLenError(63));
  if (!value.empty() && !MatchesQualifiedNamePart(value)) {
    errs.push_back(RegexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
        "or '.', and must start and end with an alphanumeric character",
        "(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?", {"MyValue", "my_value", "12345"}));
  }
  return errs;
}

std::vector<std::string> IsConfigMapKey(std::string_view value) {
  std::vector<std::string> errs;
  if (value.size() > 253) errs.push_back(MaxLenError(253));
  bool ok = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return IsAlnum(c) || c == '-' || c == '_' || c == '.';
  });
  if (!ok) {
    errs.push_back(
        RegexError("a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                   "[-._a-zA-Z0-9]+", {"key.name", "KEY_NAME", "key-name"}));
  }
  if (value == ".") {
    errs.push_back("must not be '.'");
  } else if (value == "..") {
    errs.push_back("must not be '..'");
  } else if (internal::StartsWith(value, "..")) {
    errs.push_back("must not start with '..'");
  }
  return errs;
}

std::vector<std::string> IsValidPathSegmentName(std::string_view value) {
  if (value == ".") return {"may not be '.'"};
  if (value == "..") return {"may not be '..'"};
  std::vector<std::string> errs;
  if (internal::Contains(value, "/")) errs.push_back("may not contain '/'");
  if (internal::Contains(value, "%")) errs.push_back("may not contain '%'");
  return errs;
}

std::vector<std::string> IsValidPortNum(int64_t port) {
  if (port >= 1 && port <= 65535) return {};
  return {"must be between 1 and 65535, inclusive"};
}

std::vector<std::string> IsValidPortName(std::string_view port) {
  std::vector<std::string> errs;
  if (port.size() > 15) errs.push_back(MaxLenError(15));
  bool charset = !port.empty() && std::all_of(port.begin(), port.end(),
                                              [](char c) { return IsLowerAlnum(c) || c == '-'; });
  if (!charset) {
    errs.push_back("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  } else if (std::none_of(port.begin(), port.end(), [](char c) { return c >= 'a' && c <= 'z'; })) {
    errs.push_back("must contain at least one letter (a-z)");
  }
  if (internal::Contains(port, "--")) errs.push_back("must not contain consecutive hyphens");
  if (!port.empty() && (port.front() == '-' || port.back() == '-')) {
    errs.push_back("must not begin or end with a hyphen");
  }
  return errs;
}

std::vector<std::string> IsValidIP(std::string_view value) {
  std::string s(value);
  unsigned char buf[16];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    return {};
  }
  return {"must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"};
}

// ---- causes ----

std::string FormatValue(const Json& value) {
  if (value.is_null()) return "null";
  // JSON string escaping matches Go's %q for printable text.
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

namespace {
Cause Make(std::string reason, std::string message, std::string field) {
  return Cause{std::move(reason), std::move(message), std::move(field)};
}
std::string WithDetail(std::string s, std::string_view detail) {
  if (!detail.empty()) internal::CatAppend(&s, ": ", detail);
  return s;
}
}  // namespace

Cause Required(std::string field, std::string_view detail) {
  return Make("FieldValueRequired", WithDetail("Required value", detail), std::move(field));
}
Cause Invalid(std::string field, const Json& value, std::string_view detail) {
  return Make("FieldValueInvalid", WithDetail("Invalid value: " + FormatValue(value), detail),
              std::move(field));
}
Cause NotSupported(std::string field, const Json& value, const std::vector<std::string>& valid) {
  std::string msg = "Unsupported value: " + FormatValue(value);
  if (!valid.empty()) internal::CatAppend(&msg, ": supported values: ", QuotedList(valid));
  return Make("FieldValueNotSupported", msg, std::move(field));
}
Cause Duplicate(std::string field, const Json& value) {
  return Make("FieldValueDuplicate", "Duplicate value: " + FormatValue(value), std::move(field));
}
Cause Forbidden(std::string field, std::string_view detail) {
  return Make("FieldValueForbidden", WithDetail("Forbidden", detail), std::move(field));
}
Cause TooLong(std::string field, int64_t max_bytes) {
  return Make("FieldValueTooLong",
              internal::Cat("Too long: may not be more than ", max_bytes,
                            max_bytes == 1 ? " byte" : " bytes"),
              std::move(field));
}
Cause NotFound(std::string field, const Json& value) {
  return Make("FieldValueNotFound", "Not found: " + FormatValue(value), std::move(field));
}
Cause Immutable(std::string field, const Json& value) {
  return Invalid(std::move(field), value, "field is immutable");
}

std::string Index(std::string_view path, size_t i) { return internal::Cat(path, "[", i, "]"); }
std::string Key(std::string_view path, std::string_view key) {
  return internal::Cat(path, "[", key, "]");
}
std::string Child(std::string_view path, std::string_view child) {
  if (path.empty()) return std::string(child);
  return internal::Cat(path, ".", child);
}

// ---- metadata ----

void ValidateLabels(const Json& labels, std::string_view path, Causes* out) {
  if (!labels.is_object()) return;
  for (auto it = labels.begin(); it != labels.end(); ++it) {
    for (auto& m : IsQualifiedName(it.key()))
      out->push_back(Invalid(std::string(path), it.key(), m));
    std::string v = it.value().is_string() ? it.value().get<std::string>() : "";
    for (auto& m : IsValidLabelValue(v)) out->push_back(Invalid(std::string(path), v, m));
  }
}

void ValidateAnnotations(const Json& annotations, std::string_view path, Causes* out) {
  if (!annotations.is_object()) return;
  int64_t total = 0;
  for (auto it = annotations.begin(); it != annotations.end(); ++it) {
    for (auto& m : IsQualifiedName(absl::AsciiStrToLower(it.key()))) {
      out->push_back(Invalid(std::string(path), it.key(), m));
    }
    total += it.key().size();
    if (it.value().is_string()) total += it.value().get_ref<const std::string&>().size();
  }
  if (total > kTotalAnnotationSizeLimit) {
    out->push_back(TooLong(std::string(path), kTotalAnnotationSizeLimit));
  }
}

void ValidateObjectMeta(const Json& obj, bool namespaced, NameValidator name_validator,
                        Causes* out) {
  const Json& meta = GetObject(obj, {"metadata"});
  std::string generate_name = GetString(meta, {"generateName"});
  if (!generate_name.empty()) {
    std::string masked = generate_name;
    if (masked.size() > 1 && masked.back() == '-') masked.pop_back();
    for (auto& m : name_validator(masked)) {
      out->push_back(Invalid("metadata.generateName", generate_name, m));
    }
  }
  std::string name = GetString(meta, {"name"});
  if (name.empty()) {
    out->push_back(Required("metadata.name", "name or generateName is required"));
  } else {
    for (auto& m : name_validator(name)) out->push_back(Invalid("metadata.name", name, m));
  }
  std::string ns = GetString(meta, {"namespace"});
  if (namespaced) {
    if (ns.empty()) {
      out->push_back(Required("metadata.namespace"));
    } else {
      for (auto& m : IsDns1123Label(ns)) out->push_back(Invalid("metadata.namespace", ns, m));
    }
  } else if (!ns.empty()) {
    out->push_back(Forbidden("metadata.namespace", "not allowed on this type"));
  }
  int64_t generation = GetInt(meta, {"generation"});
  if (generation < 0) {
    out->push_back(
        Invalid("metadata.generation", generation, "must be greater than or equal to 0"));
  }
  ValidateLabels(GetObject(meta, {"labels"}), "metadata.labels", out);
  ValidateAnnotations(GetObject(meta, {"annotations"}), "metadata.annotations", out);
  const Json& finalizers = GetArray(meta, {"finalizers"});
  for (size_t i = 0; i < finalizers.size(); ++i) {
    std::string f = finalizers[i].is_string() ? finalizers[i].get<std::string>() : "";
    for (auto& m : IsQualifiedName(f)) {
      out->push_back(Invalid(Index("metadata.finalizers", i), f, m));
    }
  }
  const Json& owners = GetArray(meta, {"ownerReferences"});
  for (size_t i = 0; i < owners.size(); ++i) {
    std::string p = Index("metadata.ownerReferences", i);
    if (GetString(owners[i], {"apiVersion"}).empty()) {
      out->push_back(Invalid(Child(p, "apiVersion"), "", "version must not be empty"));
    }
    if (GetString(owners[i], {"kind"}).empty()) {
      out->push_back(Invalid(Child(p, "kind"), "", "must not be empty"));
    }
    if (GetString(owners[i], {"name"}).empty()) {
      out->push_back(Invalid(Child(p, "name"), "", "must not be empty"));
    }
    if (GetString(owners[i], {"uid"}).empty()) {
      out->push_back(Invalid(Child(p, "uid"), "", "must not be empty"));
    }
  }
}

void ValidateObjectMetaUpdate(const Json& obj, const Json& old, Causes* out) {
  for (const char* f : {"name", "namespace"}) {
    std::string n = GetString(obj, {"metadata", f});
    std::string o = GetString(old, {"metadata", f});
    if (!o.empty() && n != o) out->push_back(Immutable(internal::Cat("metadata.", f), n));
  }
  std::string nu = GetString(obj, {"metadata", "uid"});
  std::string ou = GetString(old, {"metadata", "uid"});
  if (!nu.empty() && !ou.empty() && nu != ou) out->push_back(Immutable("metadata.uid", nu));
}

void ValidateLabelSelector(const Json& selector, std::string_view path, Causes* out) {
  if (!selector.is_object()) return;
  ValidateLabels(GetObject(selector, {"matchLabels"}), Child(path, "matchLabels"), out);
  const Json& exprs = GetArray(selector, {"matchExpressions"});
  for (size_t i = 0; i < exprs.size(); ++i) {
    std::string p = Index(Child(path, "matchExpressions"), i);
    std::string op = GetString(exprs[i], {"operator"});
    size_t nvalues = GetArray(exprs[i], {"values"}).size();
    if (op == "In" || op == "NotIn") {
      if (nvalues == 0) {
        out->push_back(
            Required(Child(p, "values"), "must be specified when `operator` is 'In' or 'NotIn'"));
      }
    } else if (op == "Exists" || op == "DoesNotExist") {
      if (nvalues > 0) {
        out->push_back(Forbidden(Child(p, "values"),
                                 "may not be specified when `operator` is 'Exists' or "
                                 "'DoesNotExist'"));
      }
    } else {
      out->push_back(Invalid(Child(p, "operator"), op, "not a valid selector operator"));
    }
    std::string key = GetString(exprs[i], {"key"});
    for (auto& m : IsQualifiedName(key)) out->push_back(Invalid(Child(p, "key"), key, m));
  }
}

bool SelectorMatches(const Json& selector, const Json& labels) {
  if (!selector.is_object()) return false;
  auto label = [&](const std::string& k) -> const Json* {
    if (!labels.is_object()) return nullptr;
    auto it = labels.find(k);
    return it == labels.end() ? nullptr : &*it;
  };
  const Json& ml = GetObject(selector, {"matchLabels"});
  for (auto it = ml.begin(); it != ml.end(); ++it) {
    const Json* v = label(it.key());
    if (v == nullptr || *v != it.value()) return false;
  }
  for (const Json& e : GetArray(selector, {"matchExpressions"})) {
    std::string key = GetString(e, {"key"});
    std::string op = GetString(e, {"operator"});
    const Json* v = label(key);
    const Json& values = GetArray(e, {"values"});
    bool in = v != nullptr && std::find(values.begin(), values.end(), *v) != values.end();
    if (op == "In" && !in) return false;
    if (op == "NotIn" && in) return false;
    if (op == "Exists" && v == nullptr) return false;
    if (op == "DoesNotExist" && v != nullptr) return false;
  }
  return true;
}

std::string SelectorString(const Json& selector) {
  if (!selector.is_object()) return "";
  std::vector<std::pair<std::string, std::string>> reqs;  // key, rendered
  const Json& ml = GetObject(selector, {"matchLabels"});
  for (auto it = ml.begin(); it != ml.end(); ++it) {
    reqs.emplace_back(
        it.key(), it.key() + "=" + (it.value().is_string() ? it.value().get<std::string>() : ""));
  }
  for (const Json& e : GetArray(selector, {"matchExpressions"})) {
    std::string key = GetString(e, {"key"});
    std::string op = GetString(e, {"operator"});
    std::vector<std::string> values;
    for (const Json& v : GetArray(e, {"values"})) {
      if (v.is_string()) values.push_back(v.get<std::string>());
    }
    std::sort(values.begin(), values.end());
    std::string joined = "(" + absl::StrJoin(values, ",") + ")";
    if (op == "In") {
      reqs.emplace_back(key, key + " in " + joined);
    } else if (op == "NotIn") {
      reqs.emplace_back(key, key + " notin " + joined);
    } else if (op == "Exists") {
      reqs.emplace_back(key, key);
    } else if (op == "DoesNotExist") {
      reqs.emplace_back(key, "!" + key);
    }
  }
  std::stable_sort(reqs.begin(), reqs.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> parts;
  for (auto& r : reqs) parts.push_back(r.second);
  return absl::StrJoin(parts, ",");
}

// ---- PodSpec ----

namespace {

void ValidateContainers(const Json& list, std::string_view path, bool require_image,
                        const std::set<std::string>& volumes, std::set<std::string>* names,
                        Causes* out) {
  for (size_t i = 0; i < list.size(); ++i) {
    const Json& c = list[i];
    std::string p = Index(path, i);
    std::string name = GetString(c, {"name"});
    if (name.empty()) {
      out->push_back(Required(Child(p, "name")));
    } else {
      for (auto& m : IsDns1123Label(name)) out->push_back(Invalid(Child(p, "name"), name, m));
      if (!names->insert(name).second) out->push_back(Duplicate(Child(p, "name"), name));
    }
    std::string image = GetString(c, {"image"});
    if (require_image && image.empty()) out->push_back(Required(Child(p, "image")));
    if (Has(c, {"imagePullPolicy"})) {
      std::string pp = GetString(c, {"imagePullPolicy"});
      if (pp != "Always" && pp != "IfNotPresent" && pp != "Never") {
        out->push_back(
            NotSupported(Child(p, "imagePullPolicy"), pp, {"Always", "IfNotPresent", "Never"}));
      }
    }
    if (Has(c, {"terminationMessagePolicy"})) {
      std::string tp = GetString(c, {"terminationMessagePolicy"});
      if (tp != "File" && tp != "FallbackToLogsOnError") {
        out->push_back(NotSupported(Child(p, "terminationMessagePolicy"), tp,
                                    {"File", "FallbackToLogsOnError"}));
      }
    }
    const Json& ports = GetArray(c, {"ports"});
    std::set<std::string> port_names;
    for (size_t j = 0; j < ports.size(); ++j) {
      std::string pp = Index(Child(p, "ports"), j);
      std::string pname = GetString(ports[j], {"name"});
      if (!pname.empty()) {
        for (auto& m : IsValidPortName(pname)) out->push_back(Invalid(Child(pp, "name"), pname, m));
        if (!port_names.insert(pname).second) {
          out->push_back(Duplicate(Child(pp, "name"), pname));
        }
      }
      int64_t cp = GetInt(ports[j], {"containerPort"});
      if (cp == 0) {
        out->push_back(Required(Child(pp, "containerPort")));
      } else {
        for (auto& m : IsValidPortNum(cp))
          out->push_back(Invalid(Child(pp, "containerPort"), cp, m));
      }
      int64_t hp = GetInt(ports[j], {"hostPort"});
      if (hp != 0) {
        for (auto& m : IsValidPortNum(hp)) out->push_back(Invalid(Child(pp, "hostPort"), hp, m));
      }
      std::string proto = GetString(ports[j], {"protocol"});
      if (proto.empty()) {
        out->push_back(Required(Child(pp, "protocol")));
      } else if (proto != "TCP" && proto != "UDP" && proto != "SCTP") {
        out->push_back(NotSupported(Child(pp, "protocol"), proto, {"SCTP", "TCP", "UDP"}));
      }
    }
    const Json& env = GetArray(c, {"env"});
    for (size_t j = 0; j < env.size(); ++j) {
      if (GetString(env[j], {"name"}).empty()) {
        out->push_back(Required(Child(Index(Child(p, "env"), j), "name")));
      }
    }
    const Json& mounts = GetArray(c, {"volumeMounts"});
    for (size_t j = 0; j < mounts.size(); ++j) {
      std::string mp = Index(Child(p, "volumeMounts"), j);
      std::string vname = GetString(mounts[j], {"name"});
      if (vname.empty()) {
        out->push_back(Required(Child(mp, "name")));
      } else if (!volumes.count(vname)) {
        out->push_back(NotFound(Child(mp, "name"), vname));
      }
      if (GetString(mounts[j], {"mountPath"}).empty()) {
        out->push_back(Required(Child(mp, "mountPath")));
      }
    }
  }
}

}  // namespace

void ValidatePodSpec(const Json& spec, std::string_view path, Causes* out) {
  std::set<std::string> volumes;
  const Json& vols = GetArray(spec, {"volumes"});
  for (size_t i = 0; i < vols.size(); ++i) {
    std::string p = Index(Child(path, "volumes"), i);
    std::string name = GetString(vols[i], {"name"});
    if (name.empty()) {
      out->push_back(Required(Child(p, "name")));
    } else {
      for (auto& m : IsDns1123Label(name)) out->push_back(Invalid(Child(p, "name"), name, m));
      if (!volumes.insert(name).second) out->push_back(Duplicate(Child(p, "name"), name));
    }
  }
  std::set<std::string> names;
  ValidateContainers(GetArray(spec, {"initContainers"}), Child(path, "initContainers"), true,
                     volumes, &names, out);
  const Json& containers = GetArray(spec, {"containers"});
  if (containers.empty()) {
    out->push_back(Required(Child(path, "containers")));
  } else {
    ValidateContainers(containers, Child(path, "containers"), true, volumes, &names, out);
  }
  std::string rp = GetString(spec, {"restartPolicy"});
  if (rp.empty()) {
    out->push_back(Required(Child(path, "restartPolicy")));
  } else if (rp != "Always" && rp != "OnFailure" && rp != "Never") {
    out->push_back(
        NotSupported(Child(path, "restartPolicy"), rp, {"Always", "OnFailure", "Never"}));
  }
  std::string dns = GetString(spec, {"dnsPolicy"});
  if (dns.empty()) {
    out->push_back(Required(Child(path, "dnsPolicy")));
  } else if (dns != "ClusterFirst" && dns != "ClusterFirstWithHostNet" && dns != "Default" &&
             dns != "None") {
    out->push_back(NotSupported(Child(path, "dnsPolicy"), dns,
                                {"ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"}));
  }
  if (Has(spec, {"activeDeadlineSeconds"})) {
    int64_t ads = GetInt(spec, {"activeDeadlineSeconds"});
    if (ads < 1 || ads > 2147483647) {
      out->push_back(Invalid(Child(path, "activeDeadlineSeconds"), ads,
                             "must be between 1 and 2147483647, inclusive"));
    }
  }
  std::string node = GetString(spec, {"nodeName"});
  if (!node.empty()) {
    for (auto& m : IsDns1123Subdomain(node))
      out->push_back(Invalid(Child(path, "nodeName"), node, m));
  }
  std::string sa = GetString(spec, {"serviceAccountName"});
  if (!sa.empty()) {
    for (auto& m : IsDns1123Subdomain(sa)) {
      out->push_back(Invalid(Child(path, "serviceAccountName"), sa, m));
    }
  }
  for (const char* f : {"hostname", "subdomain"}) {
    std::string v = GetString(spec, {f});
    if (!v.empty()) {
      for (auto& m : IsDns1123Label(v)) out->push_back(Invalid(Child(path, f), v, m));
    }
  }
  ValidateLabels(GetObject(spec, {"nodeSelector"}), Child(path, "nodeSelector"), out);
  const Json& tols = GetArray(spec, {"tolerations"});
  for (size_t i = 0; i < tols.size(); ++i) {
    std::string p = Index(Child(path, "tolerations"), i);
    std::string key = GetString(tols[i], {"key"});
    std::string op = GetString(tols[i], {"operator"});
    if (!key.empty()) {
      for (auto& m : IsQualifiedName(key)) out->push_back(Invalid(Child(p, "key"), key, m));
    }
    if (key.empty() && op != "Exists") {
      out->push_back(Invalid(Child(p, "operator"), op,
                             "operator must be Exists when `key` is empty, which means \"match "
                             "all values and all keys\""));
    }
    if (!op.empty() && op != "Equal" && op != "Exists") {
      out->push_back(NotSupported(Child(p, "operator"), op, {"Equal", "Exists"}));
    }
    if (op == "Exists" && !GetString(tols[i], {"value"}).empty()) {
      out->push_back(Invalid(Child(p, "operator"), GetString(tols[i], {"value"}),
                             "value must be empty when `operator` is 'Exists'"));
    }
    std::string effect = GetString(tols[i], {"effect"});
    if (!effect.empty() && effect != "NoSchedule" && effect != "PreferNoSchedule" &&
        effect != "NoExecute") {
      out->push_back(NotSupported(Child(p, "effect"), effect,
                                  {"NoSchedule", "PreferNoSchedule", "NoExecute"}));
    }
  }
}

void ValidatePodTemplateSpec(const Json& tmpl, std::string_view path, Causes* out) {
  std::string meta = Child(path, "metadata");
  ValidateLabels(GetObject(tmpl, {"metadata", "labels"}), Child(meta, "labels"), out);
  ValidateAnnotations(GetObject(tmpl, {"metadata", "annotations"}), Child(meta, "annotations"),
                      out);
  ValidatePodSpec(GetObject(tmpl, {"spec"}), Child(path, "spec"), out);
}

}  // namespace korral::api::validation
