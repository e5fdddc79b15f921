#include "korral/apiserver/ephemeral.h"

#include <fmt/format.h>

#include <set>
#include <vector>

#include "korral/apimachinery/errors.h"

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

const Json& ListOf(const Json& pod, const char* field) {
  static const Json kEmpty = Json::array();
  if (!pod.is_object() || !pod.contains("spec") || !pod["spec"].is_object()) return kEmpty;
  auto it = pod["spec"].find(field);
  return it != pod["spec"].end() && it->is_array() ? *it : kEmpty;
}

}  // namespace

absl::StatusOr<Json> MergeEphemeralContainers(const Json& current, const Json& desired) {
  std::string name = current["metadata"].value("name", "");
  const Json& next = ListOf(desired, "ephemeralContainers");
  const Json& prev = ListOf(current, "ephemeralContainers");
  std::vector<apierrors::Cause> causes;
  std::set<std::string> names;
  for (const char* f : {"containers", "initContainers"}) {
    for (const auto& c : ListOf(current, f)) {
      if (c.is_object()) names.insert(c.value("name", ""));
    }
  }
  for (size_t i = 0; i < next.size(); ++i) {
    const Json& c = next[i];
    std::string path = fmt::format("spec.ephemeralContainers[{}]", i);
    if (!c.is_object()) {
      causes.push_back({"FieldValueInvalid", "Invalid value: must be an object", path});
      continue;
    }
    std::string cname = c.value("name", "");
    if (cname.empty()) {
      causes.push_back({"FieldValueRequired", "Required value", path + ".name"});
    } else if (!names.insert(cname).second) {
      causes.push_back(
          {"FieldValueDuplicate", fmt::format("Duplicate value: \"{}\"", cname), path + ".name"});
    }
    if (c.value("image", "").empty()) {
      causes.push_back({"FieldValueRequired", "Required value", path + ".image"});
    }
    for (const char* forbidden :
         {"ports", "livenessProbe", "readinessProbe", "startupProbe", "lifecycle"}) {
      if (c.contains(forbidden) && !c[forbidden].is_null()) {
        causes.push_back({"FieldValueForbidden",
                          "Forbidden: cannot be set for an Ephemeral Container",
                          path + "." + forbidden});
      }
    }
  }
  // Existing ephemeral containers stay exactly as they are.
  for (const auto& old : prev) {
    if (!old.is_object()) continue;
    std::string oname = old.value("name", "");
    bool found = false;
    for (size_t i = 0; i < next.size(); ++i) {
      if (!next[i].is_object() || next[i].value("name", "") != oname) continue;
      found = true;
      if (next[i] != old) {
        causes.push_back({"FieldValueForbidden",
                          fmt::format("Forbidden: existing ephemeral containers \"{}\" may not "
                                      "be changed",
                                      oname),
                          fmt::format("spec.ephemeralContainers[{}]", i)});
      }
    }
    if (!found) {
      causes.push_back({"FieldValueForbidden",
                        fmt::format("Forbidden: existing ephemeral containers \"{}\" may not be "
                                    "removed",
                                    oname),
                        "spec.ephemeralContainers"});
    }
  }
  if (!causes.empty()) return apierrors::NewInvalid("", "Pod", name, causes);
  Json out = current;
  if (next.empty()) {
    out["spec"].erase("ephemeralContainers");
  } else {
    out["spec"]["ephemeralContainers"] = next;
  }
  // A resourceVersion in the request is a precondition.
  if (desired.contains("metadata") && desired["metadata"].is_object() &&
      desired["metadata"].contains("resourceVersion")) {
    out["metadata"]["resourceVersion"] = desired["metadata"]["resourceVersion"];
  } else {
    out["metadata"].erase("resourceVersion");
  }
  return out;
}

}  // namespace korral::apiserver
