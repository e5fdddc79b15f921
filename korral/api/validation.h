// korral/api/validation.h: upstream-compatible field validation helpers.
//
// Name/value validators return the list of problems (empty: valid) with upstream's exact
// messages (k8s.io/apimachinery/pkg/util/validation). The Cause constructors render causes as
// upstream's field.Error does in a Status object: reason ("FieldValueInvalid", ...), message
// ("Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must ...") and field path
// ("metadata.name", "spec.containers[0].image", "data[key]").
//
// Example:
//   std::vector<Cause> errs;
//   for (auto& m : IsDns1123Label(name)) errs.push_back(Invalid("metadata.name", name, m));
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "korral/api/resource.h"

namespace korral::api::validation {

using Causes = std::vector<Cause>;

// ---- name and value validators (k8s.io/apimachinery/pkg/util/validation) ----
std::vector<std::string> IsDns1123Subdomain(std::string_view value);
std::vector<std::string> IsDns1123Label(std::string_view value);
std::vector<std::string> IsDns1035Label(std::string_view value);
// Label/annotation keys: optional DNS-subdomain prefix + "/" + name part.
std::vector<std::string> IsQualifiedName(std::string_view value);
std::vector<std::string> IsValidLabelValue(std::string_view value);
// ConfigMap and Secret data keys.
std::vector<std::string> IsConfigMapKey(std::string_view value);
// Names of RBAC objects and other path-segment names ("." / ".." / "/" / "%" forbidden).
std::vector<std::string> IsValidPathSegmentName(std::string_view value);
std::vector<std::string> IsValidPortNum(int64_t port);
// IANA_SVC_NAME (named ports).
std::vector<std::string> IsValidPortName(std::string_view value);
std::vector<std::string> IsValidIP(std::string_view value);

using NameValidator = std::vector<std::string> (*)(std::string_view);

// ---- causes (k8s.io/apimachinery/pkg/util/validation/field) ----
// Renders a bad value as upstream does: strings quoted, numbers/bools bare, others as JSON.
std::string FormatValue(const Json& value);
Cause Required(std::string field, std::string_view detail = "");
Cause Invalid(std::string field, const Json& value, std::string_view detail);
Cause NotSupported(std::string field, const Json& value, const std::vector<std::string>& valid);
Cause Duplicate(std::string field, const Json& value);
Cause Forbidden(std::string field, std::string_view detail);
Cause TooLong(std::string field, int64_t max_bytes);
Cause NotFound(std::string field, const Json& value);
// "field is immutable".
Cause Immutable(std::string field, const Json& value);

// "spec.containers" + "[3]".
std::string Index(std::string_view path, size_t i);
// "data" + "[key]".
std::string Key(std::string_view path, std::string_view key);
// "spec" + ".template" (a leading "" gives just the child).
std::string Child(std::string_view path, std::string_view child);

// ---- object metadata ----
// Validates metadata.name (with `name_validator`, required), metadata.namespace (required
// and a DNS label when namespaced, forbidden otherwise), labels, annotations and
// generateName. Appends to `out`.
void ValidateObjectMeta(const Json& obj, bool namespaced, NameValidator name_validator,
                        Causes* out);
// Name/namespace immutability and the checks of ValidateObjectMeta on the new object.
void ValidateObjectMetaUpdate(const Json& obj, const Json& old, Causes* out);
void ValidateLabels(const Json& labels, std::string_view path, Causes* out);
void ValidateAnnotations(const Json& annotations, std::string_view path, Causes* out);
// metav1.LabelSelector syntax (matchLabels / matchExpressions).
void ValidateLabelSelector(const Json& selector, std::string_view path, Causes* out);
// True when the metav1.LabelSelector matches `labels` (an object of strings). An empty
// selector matches everything; a null selector matches nothing.
bool SelectorMatches(const Json& selector, const Json& labels);
// The selector as upstream's labels.Selector.String() prints it ("app=web,tier in (a,b)").
std::string SelectorString(const Json& selector);

// ---- shared spec validation (core/v1 PodSpec and templates) ----
// Validates a PodSpec at `path` ("spec" or "spec.template.spec").
void ValidatePodSpec(const Json& spec, std::string_view path, Causes* out);
// Validates a PodTemplateSpec at `path` (labels + spec).
void ValidatePodTemplateSpec(const Json& tmpl, std::string_view path, Causes* out);

// The annotations size limit (256 KiB) and the ConfigMap/Secret size limit (1 MiB).
inline constexpr int64_t kTotalAnnotationSizeLimit = 256 * 1024;
inline constexpr int64_t kMaxSecretSize = 1024 * 1024;

}  // namespace korral::api::validation
