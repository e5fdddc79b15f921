// korral/apimachinery/yaml.h: YAML <-> JSON conversion with the semantics of sigs.k8s.io/yaml
// (the goyaml.v2-based version that Kubernetes 1.32 and kubectl 1.32 use).
//
// Scalars resolve as YAML 1.1 does in goyaml.v2: plain `true/True/TRUE/yes/Yes/YES/y/Y/on/On/ON`
// are true and `false/.../no/n/off` are false (quote them to keep strings), `~`, `null` and empty
// are null, integers accept `0x`, `0o`, `0b`, a leading `0` (octal) and `_` separators, floats
// follow `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`; `.inf`/`.nan` are errors (not
// JSON). Quoted and block scalars are always strings. Map keys become strings (`1: a` gives
// {"1":"a"}). Merge keys (`<<`) are applied. Duplicate keys are rejected (like the strict decoder
// kube-apiserver uses for field validation). Aliases are expanded, but the total expansion is
// bounded ("excessive aliasing") and nesting is limited to kMaxYamlDepth.
//
// Errors are InvalidArgument with upstream's shape:
//   "error converting YAML to JSON: yaml: line 3: <problem>".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace korral::yaml {

inline constexpr int kMaxYamlDepth = 256;

// One document. Empty input (or a document with only comments) gives JSON null. Input with more
// than one document is an error; use YamlDocumentsToJson.
absl::StatusOr<nlohmann::json> YamlToJson(std::string_view yaml);

// Every document of a `---`-separated stream, in order. Empty documents (null) are skipped, as
// kubectl does when reading manifests.
absl::StatusOr<std::vector<nlohmann::json>> YamlDocumentsToJson(std::string_view yaml);

// Block-style YAML for `json` (keys in JSON object order, which is sorted for nlohmann::json;
// sequences indented compactly under their key, as sigs.k8s.io/yaml writes them). Strings that
// would be read back as another type, or that contain special characters, are double-quoted;
// multi-line strings use literal blocks when that round-trips. Ends with a newline.
std::string JsonToYaml(const nlohmann::json& json);

}  // namespace korral::yaml
