// korral/apimachinery/protobuf.h: decoding of Kubernetes protobuf request bodies
// (Content-Type: application/vnd.kubernetes.protobuf) into the JSON wire form.
//
// kubectl 1.32's typed clients send protobuf for `create namespace|deployment|configmap|secret|
// serviceaccount`, `auth can-i`, `auth whoami` and `create token`. The body is the magic
// "k8s\0" followed by a runtime.Unknown {1 typeMeta {1 apiVersion, 2 kind}, 2 raw,
// 3 contentEncoding, 4 contentType}; `raw` is the object's own message.
//
// The decoder is table driven (field numbers from k8s.io/api and k8s.io/apimachinery
// generated.proto). It knows: v1 Namespace, ConfigMap, Secret, ServiceAccount, Pod, Service,
// ResourceQuota; apps/v1 Deployment; authorization.k8s.io/v1 SelfSubjectAccessReview,
// SelfSubjectRulesReview; authentication.k8s.io/v1 SelfSubjectReview, TokenRequest;
// rbac.authorization.k8s.io/v1 Role, ClusterRole, RoleBinding, ClusterRoleBinding;
// certificates.k8s.io/v1 CertificateSigningRequest; scheduling.k8s.io/v1 PriorityClass. Unknown
// fields are skipped (proto semantics), so fields outside the table are dropped.
//
// JSON output follows Go's encoding of the decoded struct: scalar fields that Go would omit when
// zero (omitempty, non-pointer) are omitted when zero; pointer fields (replicas, immutable,
// automountServiceAccountToken, ...) are kept when present even if zero; nested messages are
// emitted when present; bytes become base64 strings; resource.Quantity and IntOrString take
// their JSON forms; metav1.Time becomes an RFC 3339 UTC string (zero time omitted).
#pragma once

#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "absl/status/statusor.h"

namespace korral::protobuf {

// The 4-byte prefix of every Kubernetes protobuf body.
inline constexpr std::string_view kKubernetesProtobufMagic{"k8s\0", 4};
inline constexpr int kMaxProtobufDepth = 64;

// True if `body` starts with the magic.
bool LooksLikeKubernetesProtobuf(std::string_view body);

// Decodes a whole body (magic + runtime.Unknown) into the object's JSON, with apiVersion and kind
// set from the envelope. Errors (InvalidArgument):
//   - missing magic, malformed wire data, nesting deeper than kMaxProtobufDepth;
//   - a contentEncoding other than "";
//   - an unregistered type: `no kind "Foo" is registered for version "v1"`.
absl::StatusOr<nlohmann::json> DecodeKubernetesProtobuf(std::string_view body);

// Decodes one object message (the `raw` of the envelope) of a registered apiVersion/kind.
absl::StatusOr<nlohmann::json> DecodeObject(std::string_view api_version, std::string_view kind,
                                            std::string_view raw);

}  // namespace korral::protobuf
