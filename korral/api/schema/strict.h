// korral/api/schema/strict.h: strict decoding of request bodies (fieldValidation=Strict|Warn).
//
// kube-apiserver's strict decoder reports two kinds of problems in a JSON body: keys that occur
// twice in the same object ("duplicate field") and keys the kind's schema does not know
// ("unknown field"). Both are reported as paths such as `metadata.name` or
// `spec.containers[0].imagee`. With fieldValidation=Strict the request fails with 400 BadRequest;
// with Warn each problem becomes a `Warning:` header; with Ignore nothing is checked.
//
// Example:
//   KORRAL_ASSIGN_OR_RETURN(StrictDecodeResult r, ParseJsonStrict(body));
//   std::vector<std::string> unknown = FindUnknownFields(r.object, "v1", "Pod");
//   if (!unknown.empty() || !r.duplicate_fields.empty())
//     return NewStrictDecodingError("Pod", "v1", unknown, r.duplicate_fields);
//
// Thread safety: all functions are pure and may run concurrently.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace korral::schema {

// Nesting deeper than this (objects plus arrays) is rejected by ParseJsonStrict.
inline constexpr int kMaxJsonDepth = 100;

struct StrictDecodeResult {
  // The parsed document; for a duplicated key the last occurrence wins (as in Go).
  nlohmann::json object;
  // Paths of keys that occurred more than once in the same object, in document order.
  std::vector<std::string> duplicate_fields;
};

// Parses `body` as one JSON value (any type; callers check is_object()). Malformed JSON, trailing
// garbage and nesting deeper than kMaxJsonDepth give InvalidArgument with a message starting
// "couldn't get version/kind; json parse error: ". Never throws.
absl::StatusOr<StrictDecodeResult> ParseJsonStrict(std::string_view body);

// Paths of the fields of `obj` that the schema of `kind` in `api_version` does not define, sorted.
// Maps (labels, annotations, data...) accept any key, free-form fields (fieldsV1, RawExtension,
// preserve-unknown-fields) accept anything, and at the top level apiVersion, kind, metadata and
// status are always accepted. Values of the wrong JSON type are not reported here. An unknown
// kind gives an empty result.
std::vector<std::string> FindUnknownFields(const nlohmann::json& obj, std::string_view api_version,
                                           std::string_view kind);

// `strict decoding error: duplicate field "a", unknown field "b.c"` (duplicates first). Empty
// when both lists are empty.
std::string StrictDecodingMessage(const std::vector<std::string>& unknown_fields,
                                  const std::vector<std::string>& duplicate_fields);

// One warning per problem, as sent in `Warning:` headers for fieldValidation=Warn:
// `unknown field "spec.foo"`, `duplicate field "metadata.name"`.
std::vector<std::string> StrictDecodingWarnings(const std::vector<std::string>& unknown_fields,
                                                const std::vector<std::string>& duplicate_fields);

// 400 BadRequest: `<Kind> in version "<version>" cannot be handled as a <Kind>: strict decoding
// error: ...`, the message kube-apiserver returns for fieldValidation=Strict. OK when both lists
// are empty.
absl::Status NewStrictDecodingError(std::string_view kind, std::string_view version,
                                    const std::vector<std::string>& unknown_fields,
                                    const std::vector<std::string>& duplicate_fields);

// The first value whose JSON type cannot be decoded into the field's Go type, as upstream's
// decoder reports it ("json: cannot unmarshal number into Go struct field ConfigMap.data of type
// string"); nullopt when every value fits. null fits every field (it decodes as the zero value),
// quantities take strings and numbers, int-or-string fields take either, `format: byte` strings
// must be base64. Unknown kinds: nullopt.
std::optional<std::string> FindTypeError(const nlohmann::json& obj, std::string_view api_version,
                                         std::string_view kind);

}  // namespace korral::schema
