#include "korral/apimachinery/protobuf.h"

#include <cstdint>
#include <ctime>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace korral::protobuf {
namespace {

using Json = nlohmann::json;

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("invalid protobuf body: ", Sv(what)));
}

// ---- schema ----

enum class T {
  kString,
  kInt32,
  kInt64,
  kBool,
  kBytes,        // base64 in JSON
  kMessage,      // nested message `msg`
  kMapSS,        // map<string,string>
  kMapSB,        // map<string,bytes>
  kMapSM,        // map<string, msg>
  kQuantity,     // resource.Quantity {1 string}
  kIntOrString,  // {1 type, 2 intVal, 3 strVal}
  kTime,         // metav1.Time {1 seconds, 2 nanos}
  kRawJson,      // metav1.FieldsV1 {1 raw bytes holding JSON}
  kStringList,   // a message {1 repeated string} whose JSON is the list (authentication ExtraValue)
};

enum Flag : uint8_t {
  kRep = 1,       // repeated
  kPresence = 2,  // Go pointer / non-omitempty: keep zero values
  kInline = 4,    // embedded struct: merge the message's fields into the parent
};

struct F {
  uint32_t num;
  const char* json;
  T type;
  const char* msg = nullptr;
  uint8_t flags = 0;
};

using Schema = std::unordered_map<std::string_view, std::vector<F>>;

const Schema& Messages() {
  static const Schema* schema = [] {
    constexpr uint8_t R = kRep, P = kPresence, I = kInline;
    auto* s = new Schema;
    auto& m = *s;
    // ---- k8s.io/apimachinery/pkg/apis/meta/v1 ----
    m["ObjectMeta"] = {
        {1, "name", T::kString},
        {2, "generateName", T::kString},
        {3, "namespace", T::kString},
        {4, "selfLink", T::kString},
        {5, "uid", T::kString},
        {6, "resourceVersion", T::kString},
        {7, "generation", T::kInt64},
        {8, "creationTimestamp", T::kTime},
        {9, "deletionTimestamp", T::kTime},
        {10, "deletionGracePeriodSeconds", T::kInt64, nullptr, P},
        {11, "labels", T::kMapSS},
        {12, "annotations", T::kMapSS},
        {13, "ownerReferences", T::kMessage, "OwnerReference", R},
        {14, "finalizers", T::kString, nullptr, R},
        {17, "managedFields", T::kMessage, "ManagedFieldsEntry", R},
    };
    m["OwnerReference"] = {
        {1, "kind", T::kString},
        {3, "name", T::kString},
        {4, "uid", T::kString},
        {5, "apiVersion", T::kString},
        {6, "controller", T::kBool, nullptr, P},
        {7, "blockOwnerDeletion", T::kBool, nullptr, P},
    };
    m["ManagedFieldsEntry"] = {
        {1, "manager", T::kString},     {2, "operation", T::kString},
        {3, "apiVersion", T::kString},  {4, "time", T::kTime},
        {6, "fieldsType", T::kString},  {7, "fieldsV1", T::kRawJson},
        {8, "subresource", T::kString},
    };
    m["LabelSelector"] = {
        {1, "matchLabels", T::kMapSS},
        {2, "matchExpressions", T::kMessage, "LabelSelectorRequirement", R},
    };
    m["LabelSelectorRequirement"] = {
        {1, "key", T::kString},
        {2, "operator", T::kString},
        {3, "values", T::kString, nullptr, R},
    };
    // ---- core/v1 ----
    m["Namespace"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "NamespaceSpec"},
        {3, "status", T::kMessage, "NamespaceStatus"},
    };
    m["NamespaceSpec"] = {{1, "finalizers", T::kString, nullptr, R}};
    m["NamespaceStatus"] = {
        {1, "phase", T::kString},
        {2, "conditions", T::kMessage, "NamespaceCondition", R},
    };
    m["NamespaceCondition"] = {
        {1, "type", T::kString},   {2, "status", T::kString},  {4, "lastTransitionTime", T::kTime},
        {5, "reason", T::kString}, {6, "message", T::kString},
    };
    m["ConfigMap"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "data", T::kMapSS},
        {3, "binaryData", T::kMapSB},
        {4, "immutable", T::kBool, nullptr, P},
    };
    m["Secret"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "data", T::kMapSB},
        {3, "type", T::kString},
        {4, "stringData", T::kMapSS},
        {5, "immutable", T::kBool, nullptr, P},
    };
    m["ServiceAccount"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "secrets", T::kMessage, "ObjectReference", R},
        {3, "imagePullSecrets", T::kMessage, "LocalObjectReference", R},
        {4, "automountServiceAccountToken", T::kBool, nullptr, P},
    };
    m["ObjectReference"] = {
        {1, "kind", T::kString},       {2, "namespace", T::kString},
        {3, "name", T::kString},       {4, "uid", T::kString},
        {5, "apiVersion", T::kString}, {6, "resourceVersion", T::kString},
        {7, "fieldPath", T::kString},
    };
    m["LocalObjectReference"] = {{1, "name", T::kString}};
    m["Pod"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "PodSpec"},
        {3, "status", T::kMessage, "PodStatus"},
    };
    m["PodStatus"] = {
        {1, "phase", T::kString},    {3, "message", T::kString},
        {4, "reason", T::kString},   {5, "hostIP", T::kString},
        {6, "podIP", T::kString},    {7, "startTime", T::kTime},
        {9, "qosClass", T::kString}, {11, "nominatedNodeName", T::kString},
    };
    m["PodTemplateSpec"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "PodSpec"},
    };
    m["PodSpec"] = {
        {1, "volumes", T::kMessage, "Volume", R},
        {2, "containers", T::kMessage, "Container", R},
        {3, "restartPolicy", T::kString},
        {4, "terminationGracePeriodSeconds", T::kInt64, nullptr, P},
        {5, "activeDeadlineSeconds", T::kInt64, nullptr, P},
        {6, "dnsPolicy", T::kString},
        {7, "nodeSelector", T::kMapSS},
        {8, "serviceAccountName", T::kString},
        {9, "serviceAccount", T::kString},
        {10, "nodeName", T::kString},
        {11, "hostNetwork", T::kBool},
        {12, "hostPID", T::kBool},
        {13, "hostIPC", T::kBool},
        {14, "securityContext", T::kMessage, "PodSecurityContext"},
        {15, "imagePullSecrets", T::kMessage, "LocalObjectReference", R},
        {16, "hostname", T::kString},
        {17, "subdomain", T::kString},
        {19, "schedulerName", T::kString},
        {20, "initContainers", T::kMessage, "Container", R},
        {21, "automountServiceAccountToken", T::kBool, nullptr, P},
        {22, "tolerations", T::kMessage, "Toleration", R},
        {23, "hostAliases", T::kMessage, "HostAlias", R},
        {24, "priorityClassName", T::kString},
        {25, "priority", T::kInt32, nullptr, P},
        {26, "dnsConfig", T::kMessage, "PodDNSConfig"},
        {27, "shareProcessNamespace", T::kBool, nullptr, P},
        {28, "readinessGates", T::kMessage, "PodReadinessGate", R},
        {29, "runtimeClassName", T::kString},
        {30, "enableServiceLinks", T::kBool, nullptr, P},
        {31, "preemptionPolicy", T::kString},
        {32, "overhead", T::kMapSM, "Quantity"},
        {33, "topologySpreadConstraints", T::kMessage, "TopologySpreadConstraint", R},
        {35, "setHostnameAsFQDN", T::kBool, nullptr, P},
        {36, "os", T::kMessage, "PodOS"},
        {37, "hostUsers", T::kBool, nullptr, P},
        {38, "schedulingGates", T::kMessage, "PodSchedulingGate", R},
    };
    m["HostAlias"] = {{1, "ip", T::kString}, {2, "hostnames", T::kString, nullptr, R}};
    m["PodDNSConfig"] = {
        {1, "nameservers", T::kString, nullptr, R},
        {2, "searches", T::kString, nullptr, R},
        {3, "options", T::kMessage, "PodDNSConfigOption", R},
    };
    m["PodDNSConfigOption"] = {{1, "name", T::kString}, {2, "value", T::kString, nullptr, P}};
    m["PodReadinessGate"] = {{1, "conditionType", T::kString}};
    m["PodOS"] = {{1, "name", T::kString}};
    m["PodSchedulingGate"] = {{1, "name", T::kString}};
    m["TopologySpreadConstraint"] = {
        {1, "maxSkew", T::kInt32, nullptr, P},
        {2, "topologyKey", T::kString},
        {3, "whenUnsatisfiable", T::kString},
        {4, "labelSelector", T::kMessage, "LabelSelector"},
        {5, "minDomains", T::kInt32, nullptr, P},
        {6, "nodeAffinityPolicy", T::kString},
        {7, "nodeTaintsPolicy", T::kString},
        {8, "matchLabelKeys", T::kString, nullptr, R},
    };
    m["Toleration"] = {
        {1, "key", T::kString},
        {2, "operator", T::kString},
        {3, "value", T::kString},
        {4, "effect", T::kString},
        {5, "tolerationSeconds", T::kInt64, nullptr, P},
    };
    m["PodSecurityContext"] = {
        {1, "seLinuxOptions", T::kMessage, "SELinuxOptions"},
        {2, "runAsUser", T::kInt64, nullptr, P},
        {3, "runAsNonRoot", T::kBool, nullptr, P},
        {4, "supplementalGroups", T::kInt64, nullptr, R},
        {5, "fsGroup", T::kInt64, nullptr, P},
        {6, "runAsGroup", T::kInt64, nullptr, P},
        {7, "sysctls", T::kMessage, "Sysctl", R},
        {9, "fsGroupChangePolicy", T::kString},
        {10, "seccompProfile", T::kMessage, "SeccompProfile"},
    };
    m["Sysctl"] = {{1, "name", T::kString}, {2, "value", T::kString}};
    m["SELinuxOptions"] = {
        {1, "user", T::kString},
        {2, "role", T::kString},
        {3, "type", T::kString},
        {4, "level", T::kString},
    };
    m["SeccompProfile"] = {{1, "type", T::kString}, {2, "localhostProfile", T::kString}};
    m["Container"] = {
        {1, "name", T::kString},
        {2, "image", T::kString},
        {3, "command", T::kString, nullptr, R},
        {4, "args", T::kString, nullptr, R},
        {5, "workingDir", T::kString},
        {6, "ports", T::kMessage, "ContainerPort", R},
        {7, "env", T::kMessage, "EnvVar", R},
        {8, "resources", T::kMessage, "ResourceRequirements"},
        {9, "volumeMounts", T::kMessage, "VolumeMount", R},
        {10, "livenessProbe", T::kMessage, "Probe"},
        {11, "readinessProbe", T::kMessage, "Probe"},
        {12, "lifecycle", T::kMessage, "Lifecycle"},
        {13, "terminationMessagePath", T::kString},
        {14, "imagePullPolicy", T::kString},
        {15, "securityContext", T::kMessage, "SecurityContext"},
        {16, "stdin", T::kBool},
        {17, "stdinOnce", T::kBool},
        {18, "tty", T::kBool},
        {19, "envFrom", T::kMessage, "EnvFromSource", R},
        {20, "terminationMessagePolicy", T::kString},
        {22, "startupProbe", T::kMessage, "Probe"},
        {24, "restartPolicy", T::kString},
    };
    m["ContainerPort"] = {
        {1, "name", T::kString},
        {2, "hostPort", T::kInt32},
        {3, "containerPort", T::kInt32, nullptr, P},
        {4, "protocol", T::kString},
        {5, "hostIP", T::kString},
    };
    m["EnvVar"] = {
        {1, "name", T::kString},
        {2, "value", T::kString},
        {3, "valueFrom", T::kMessage, "EnvVarSource"},
    };
    m["EnvVarSource"] = {
        {1, "fieldRef", T::kMessage, "ObjectFieldSelector"},
        {2, "resourceFieldRef", T::kMessage, "ResourceFieldSelector"},
        {3, "configMapKeyRef", T::kMessage, "KeySelector"},
        {4, "secretKeyRef", T::kMessage, "KeySelector"},
    };
    m["ObjectFieldSelector"] = {{1, "apiVersion", T::kString}, {2, "fieldPath", T::kString}};
    m["ResourceFieldSelector"] = {
        {1, "containerName", T::kString},
        {2, "resource", T::kString},
        {3, "divisor", T::kQuantity},
    };
    // ConfigMapKeySelector and SecretKeySelector share their layout.
    m["KeySelector"] = {
        {1, "", T::kMessage, "LocalObjectReference", I},
        {2, "key", T::kString},
        {3, "optional", T::kBool, nullptr, P},
    };
    m["EnvFromSource"] = {
        {1, "prefix", T::kString},
        {2, "configMapRef", T::kMessage, "EnvSource"},
        {3, "secretRef", T::kMessage, "EnvSource"},
    };
    m["EnvSource"] = {
        {1, "", T::kMessage, "LocalObjectReference", I},
        {2, "optional", T::kBool, nullptr, P},
    };
    m["ResourceRequirements"] = {
        {1, "limits", T::kMapSM, "Quantity"},
        {2, "requests", T::kMapSM, "Quantity"},
        {3, "claims", T::kMessage, "ResourceClaim", R},
    };
    m["ResourceClaim"] = {{1, "name", T::kString}, {2, "request", T::kString}};
    m["VolumeMount"] = {
        {1, "name", T::kString},
        {2, "readOnly", T::kBool},
        {3, "mountPath", T::kString},
        {4, "subPath", T::kString},
        {5, "mountPropagation", T::kString},
        {6, "subPathExpr", T::kString},
        {7, "recursiveReadOnly", T::kString},
    };
    m["Probe"] = {
        {1, "", T::kMessage, "ProbeHandler", I},
        {2, "initialDelaySeconds", T::kInt32},
        {3, "timeoutSeconds", T::kInt32},
        {4, "periodSeconds", T::kInt32},
        {5, "successThreshold", T::kInt32},
        {6, "failureThreshold", T::kInt32},
        {7, "terminationGracePeriodSeconds", T::kInt64, nullptr, P},
    };
    m["ProbeHandler"] = {
        {1, "exec", T::kMessage, "ExecAction"},
        {2, "httpGet", T::kMessage, "HTTPGetAction"},
        {3, "tcpSocket", T::kMessage, "TCPSocketAction"},
        {4, "grpc", T::kMessage, "GRPCAction"},
    };
    m["ExecAction"] = {{1, "command", T::kString, nullptr, R}};
    m["HTTPGetAction"] = {
        {1, "path", T::kString},
        {2, "port", T::kIntOrString},
        {3, "host", T::kString},
        {4, "scheme", T::kString},
        {5, "httpHeaders", T::kMessage, "HTTPHeader", R},
    };
    m["HTTPHeader"] = {{1, "name", T::kString}, {2, "value", T::kString, nullptr, P}};
    m["TCPSocketAction"] = {{1, "port", T::kIntOrString}, {2, "host", T::kString}};
    m["GRPCAction"] = {{1, "port", T::kInt32, nullptr, P}, {2, "service", T::kString, nullptr, P}};
    m["Lifecycle"] = {
        {1, "postStart", T::kMessage, "LifecycleHandler"},
        {2, "preStop", T::kMessage, "LifecycleHandler"},
    };
    m["LifecycleHandler"] = {
        {1, "exec", T::kMessage, "ExecAction"},
        {2, "httpGet", T::kMessage, "HTTPGetAction"},
        {3, "tcpSocket", T::kMessage, "TCPSocketAction"},
        {4, "sleep", T::kMessage, "SleepAction"},
    };
    m["SleepAction"] = {{1, "seconds", T::kInt64, nullptr, P}};
    m["SecurityContext"] = {
        {1, "capabilities", T::kMessage, "Capabilities"},
        {2, "privileged", T::kBool, nullptr, P},
        {3, "seLinuxOptions", T::kMessage, "SELinuxOptions"},
        {4, "runAsUser", T::kInt64, nullptr, P},
        {5, "runAsNonRoot", T::kBool, nullptr, P},
        {6, "readOnlyRootFilesystem", T::kBool, nullptr, P},
        {7, "allowPrivilegeEscalation", T::kBool, nullptr, P},
        {8, "runAsGroup", T::kInt64, nullptr, P},
        {9, "procMount", T::kString},
        {11, "seccompProfile", T::kMessage, "SeccompProfile"},
    };
    m["Capabilities"] = {
        {1, "add", T::kString, nullptr, R},
        {2, "drop", T::kString, nullptr, R},
    };
    m["Volume"] = {
        {1, "name", T::kString},
        {2, "", T::kMessage, "VolumeSource", I},
    };
    m["VolumeSource"] = {
        {1, "hostPath", T::kMessage, "HostPathVolumeSource"},
        {2, "emptyDir", T::kMessage, "EmptyDirVolumeSource"},
        {6, "secret", T::kMessage, "SecretVolumeSource"},
        {7, "nfs", T::kMessage, "NFSVolumeSource"},
        {10, "persistentVolumeClaim", T::kMessage, "PersistentVolumeClaimVolumeSource"},
        {16, "downwardAPI", T::kMessage, "DownwardAPIVolumeSource"},
        {19, "configMap", T::kMessage, "ConfigMapVolumeSource"},
        {26, "projected", T::kMessage, "ProjectedVolumeSource"},
    };
    m["HostPathVolumeSource"] = {{1, "path", T::kString}, {2, "type", T::kString, nullptr, P}};
    m["EmptyDirVolumeSource"] = {{1, "medium", T::kString}, {2, "sizeLimit", T::kQuantity}};
    m["SecretVolumeSource"] = {
        {1, "secretName", T::kString},
        {2, "items", T::kMessage, "KeyToPath", R},
        {3, "defaultMode", T::kInt32, nullptr, P},
        {4, "optional", T::kBool, nullptr, P},
    };
    m["NFSVolumeSource"] = {
        {1, "server", T::kString}, {2, "path", T::kString}, {3, "readOnly", T::kBool}};
    m["PersistentVolumeClaimVolumeSource"] = {{1, "claimName", T::kString},
                                              {2, "readOnly", T::kBool}};
    m["DownwardAPIVolumeSource"] = {
        {1, "items", T::kMessage, "DownwardAPIVolumeFile", R},
        {2, "defaultMode", T::kInt32, nullptr, P},
    };
    m["DownwardAPIVolumeFile"] = {
        {1, "path", T::kString},
        {2, "fieldRef", T::kMessage, "ObjectFieldSelector"},
        {3, "resourceFieldRef", T::kMessage, "ResourceFieldSelector"},
        {4, "mode", T::kInt32, nullptr, P},
    };
    m["ConfigMapVolumeSource"] = {
        {1, "", T::kMessage, "LocalObjectReference", I},
        {2, "items", T::kMessage, "KeyToPath", R},
        {3, "defaultMode", T::kInt32, nullptr, P},
        {4, "optional", T::kBool, nullptr, P},
    };
    m["KeyToPath"] = {
        {1, "key", T::kString}, {2, "path", T::kString}, {3, "mode", T::kInt32, nullptr, P}};
    m["ProjectedVolumeSource"] = {
        {1, "sources", T::kMessage, "VolumeProjection", R},
        {2, "defaultMode", T::kInt32, nullptr, P},
    };
    m["VolumeProjection"] = {
        {1, "secret", T::kMessage, "ObjectProjection"},
        {2, "downwardAPI", T::kMessage, "DownwardAPIProjection"},
        {3, "configMap", T::kMessage, "ObjectProjection"},
        {4, "serviceAccountToken", T::kMessage, "ServiceAccountTokenProjection"},
    };
    // SecretProjection and ConfigMapProjection share their layout.
    m["ObjectProjection"] = {
        {1, "", T::kMessage, "LocalObjectReference", I},
        {2, "items", T::kMessage, "KeyToPath", R},
        {4, "optional", T::kBool, nullptr, P},
    };
    m["DownwardAPIProjection"] = {{1, "items", T::kMessage, "DownwardAPIVolumeFile", R}};
    m["ServiceAccountTokenProjection"] = {
        {1, "audience", T::kString},
        {2, "expirationSeconds", T::kInt64, nullptr, P},
        {3, "path", T::kString},
    };
    m["Service"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "ServiceSpec"},
    };
    m["ServiceSpec"] = {
        {1, "ports", T::kMessage, "ServicePort", R},
        {2, "selector", T::kMapSS},
        {3, "clusterIP", T::kString},
        {4, "type", T::kString},
        {5, "externalIPs", T::kString, nullptr, R},
        {7, "sessionAffinity", T::kString},
        {8, "loadBalancerIP", T::kString},
        {9, "loadBalancerSourceRanges", T::kString, nullptr, R},
        {10, "externalName", T::kString},
        {11, "externalTrafficPolicy", T::kString},
        {12, "healthCheckNodePort", T::kInt32},
        {13, "publishNotReadyAddresses", T::kBool},
        {17, "ipFamilyPolicy", T::kString, nullptr, P},
        {18, "clusterIPs", T::kString, nullptr, R},
        {19, "ipFamilies", T::kString, nullptr, R},
        {20, "allocateLoadBalancerNodePorts", T::kBool, nullptr, P},
        {21, "loadBalancerClass", T::kString, nullptr, P},
        {22, "internalTrafficPolicy", T::kString, nullptr, P},
    };
    m["ServicePort"] = {
        {1, "name", T::kString},
        {2, "protocol", T::kString},
        {3, "port", T::kInt32, nullptr, P},
        {4, "targetPort", T::kIntOrString},
        {5, "nodePort", T::kInt32},
        {6, "appProtocol", T::kString, nullptr, P},
    };
    // ---- apps/v1 ----
    m["Deployment"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "DeploymentSpec"},
        {3, "status", T::kMessage, "DeploymentStatus"},
    };
    m["DeploymentSpec"] = {
        {1, "replicas", T::kInt32, nullptr, P},
        {2, "selector", T::kMessage, "LabelSelector"},
        {3, "template", T::kMessage, "PodTemplateSpec"},
        {4, "strategy", T::kMessage, "DeploymentStrategy"},
        {5, "minReadySeconds", T::kInt32},
        {6, "revisionHistoryLimit", T::kInt32, nullptr, P},
        {7, "paused", T::kBool},
        {9, "progressDeadlineSeconds", T::kInt32, nullptr, P},
    };
    m["DeploymentStrategy"] = {
        {1, "type", T::kString},
        {2, "rollingUpdate", T::kMessage, "RollingUpdateDeployment"},
    };
    m["RollingUpdateDeployment"] = {
        {1, "maxUnavailable", T::kIntOrString},
        {2, "maxSurge", T::kIntOrString},
    };
    m["DeploymentStatus"] = {
        {1, "observedGeneration", T::kInt64},
        {2, "replicas", T::kInt32},
        {3, "updatedReplicas", T::kInt32},
        {4, "availableReplicas", T::kInt32},
        {5, "unavailableReplicas", T::kInt32},
        {6, "conditions", T::kMessage, "DeploymentCondition", R},
        {7, "readyReplicas", T::kInt32},
        {8, "collisionCount", T::kInt32, nullptr, P},
    };
    m["DeploymentCondition"] = {
        {1, "type", T::kString},         {2, "status", T::kString},
        {4, "reason", T::kString},       {5, "message", T::kString},
        {6, "lastUpdateTime", T::kTime}, {7, "lastTransitionTime", T::kTime},
    };
    // ---- authorization.k8s.io/v1 ----
    m["SelfSubjectAccessReview"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "SelfSubjectAccessReviewSpec"},
        {3, "status", T::kMessage, "SubjectAccessReviewStatus"},
    };
    m["SelfSubjectAccessReviewSpec"] = {
        {1, "resourceAttributes", T::kMessage, "ResourceAttributes"},
        {2, "nonResourceAttributes", T::kMessage, "NonResourceAttributes"},
    };
    m["ResourceAttributes"] = {
        {1, "namespace", T::kString},
        {2, "verb", T::kString},
        {3, "group", T::kString},
        {4, "version", T::kString},
        {5, "resource", T::kString},
        {6, "subresource", T::kString},
        {7, "name", T::kString},
        {8, "fieldSelector", T::kMessage, "FieldSelectorAttributes"},
        {9, "labelSelector", T::kMessage, "LabelSelectorAttributes"},
    };
    m["FieldSelectorAttributes"] = {
        {1, "rawSelector", T::kString},
        {2, "requirements", T::kMessage, "FieldSelectorRequirement", R},
    };
    m["FieldSelectorRequirement"] = {
        {1, "key", T::kString},
        {2, "operator", T::kString},
        {3, "values", T::kString, nullptr, R},
    };
    m["LabelSelectorAttributes"] = {
        {1, "rawSelector", T::kString},
        {2, "requirements", T::kMessage, "LabelSelectorRequirement", R},
    };
    m["NonResourceAttributes"] = {{1, "path", T::kString}, {2, "verb", T::kString}};
    m["SubjectAccessReviewStatus"] = {
        {1, "allowed", T::kBool, nullptr, P},
        {2, "reason", T::kString},
        {3, "evaluationError", T::kString},
        {4, "denied", T::kBool},
    };
    m["SelfSubjectRulesReview"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "SelfSubjectRulesReviewSpec"},
        {3, "status", T::kMessage, "SubjectRulesReviewStatus"},
    };
    m["SelfSubjectRulesReviewSpec"] = {{1, "namespace", T::kString}};
    m["SubjectRulesReviewStatus"] = {
        {1, "resourceRules", T::kMessage, "ResourceRule", R},
        {2, "nonResourceRules", T::kMessage, "NonResourceRule", R},
        {3, "incomplete", T::kBool, nullptr, P},
        {4, "evaluationError", T::kString},
    };
    m["ResourceRule"] = {
        {1, "verbs", T::kString, nullptr, R},
        {2, "apiGroups", T::kString, nullptr, R},
        {3, "resources", T::kString, nullptr, R},
        {4, "resourceNames", T::kString, nullptr, R},
    };
    m["NonResourceRule"] = {
        {1, "verbs", T::kString, nullptr, R},
        {2, "nonResourceURLs", T::kString, nullptr, R},
    };
    // ---- authentication.k8s.io/v1 ----
    m["SelfSubjectReview"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "status", T::kMessage, "SelfSubjectReviewStatus"},
    };
    m["SelfSubjectReviewStatus"] = {{1, "userInfo", T::kMessage, "UserInfo"}};
    m["UserInfo"] = {
        {1, "username", T::kString},
        {2, "uid", T::kString},
        {3, "groups", T::kString, nullptr, R},
        {4, "extra", T::kMapSM, "ExtraValue"},
    };
    // ---- rbac.authorization.k8s.io/v1 (kubectl create role|clusterrole|rolebinding|...) ----
    m["Role"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "rules", T::kMessage, "PolicyRule", R},
    };
    m["ClusterRole"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "rules", T::kMessage, "PolicyRule", R},
        {3, "aggregationRule", T::kMessage, "AggregationRule"},
    };
    m["PolicyRule"] = {
        {1, "verbs", T::kString, nullptr, R},
        {2, "apiGroups", T::kString, nullptr, R},
        {3, "resources", T::kString, nullptr, R},
        {4, "resourceNames", T::kString, nullptr, R},
        {5, "nonResourceURLs", T::kString, nullptr, R},
    };
    m["AggregationRule"] = {{1, "clusterRoleSelectors", T::kMessage, "LabelSelector", R}};
    m["RoleBinding"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "subjects", T::kMessage, "Subject", R},
        {3, "roleRef", T::kMessage, "RoleRef"},
    };
    m["Subject"] = {
        {1, "kind", T::kString},
        {2, "apiGroup", T::kString},
        {3, "name", T::kString},
        {4, "namespace", T::kString},
    };
    m["RoleRef"] = {{1, "apiGroup", T::kString}, {2, "kind", T::kString}, {3, "name", T::kString}};
    // ---- v1 ResourceQuota (kubectl create quota) ----
    m["ResourceQuota"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "ResourceQuotaSpec"},
        {3, "status", T::kMessage, "ResourceQuotaStatus"},
    };
    m["ResourceQuotaSpec"] = {
        {1, "hard", T::kMapSM, "Quantity"},
        {2, "scopes", T::kString, nullptr, R},
        {3, "scopeSelector", T::kMessage, "ScopeSelector"},
    };
    m["ScopeSelector"] = {
        {1, "matchExpressions", T::kMessage, "ScopedResourceSelectorRequirement", R},
    };
    m["ScopedResourceSelectorRequirement"] = {
        {1, "scopeName", T::kString},
        {2, "operator", T::kString},
        {3, "values", T::kString, nullptr, R},
    };
    m["ResourceQuotaStatus"] = {
        {1, "hard", T::kMapSM, "Quantity"},
        {2, "used", T::kMapSM, "Quantity"},
    };
    // ---- certificates.k8s.io/v1 (kubectl certificate approve|deny, typed clients) ----
    m["CertificateSigningRequest"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "CertificateSigningRequestSpec"},
        {3, "status", T::kMessage, "CertificateSigningRequestStatus"},
    };
    m["CertificateSigningRequestSpec"] = {
        {1, "request", T::kBytes},
        {2, "username", T::kString},
        {3, "uid", T::kString},
        {4, "groups", T::kString, nullptr, R},
        {5, "usages", T::kString, nullptr, R},
        {6, "extra", T::kMapSM, "ExtraValue"},
        {7, "signerName", T::kString},
        {8, "expirationSeconds", T::kInt32, nullptr, P},
    };
    m["CertificateSigningRequestStatus"] = {
        {1, "conditions", T::kMessage, "CertificateSigningRequestCondition", R},
        {2, "certificate", T::kBytes},
    };
    m["CertificateSigningRequestCondition"] = {
        {1, "type", T::kString},
        {2, "reason", T::kString},
        {3, "message", T::kString},
        {4, "lastUpdateTime", T::kTime},
        {5, "lastTransitionTime", T::kTime},
        {6, "status", T::kString},
    };
    // ---- scheduling.k8s.io/v1 (kubectl create priorityclass) ----
    m["PriorityClass"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "value", T::kInt32, nullptr, P},
        {3, "globalDefault", T::kBool},
        {4, "description", T::kString},
        {5, "preemptionPolicy", T::kString},
    };
    // ---- policy/v1 Eviction and meta/v1 DeleteOptions (pods/eviction, DELETE bodies) ----
    m["Eviction"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "deleteOptions", T::kMessage, "DeleteOptions"},
    };
    m["DeleteOptions"] = {
        {1, "gracePeriodSeconds", T::kInt64, nullptr, P},
        {2, "preconditions", T::kMessage, "Preconditions"},
        {3, "orphanDependents", T::kBool, nullptr, P},
        {4, "propagationPolicy", T::kString},
        {5, "dryRun", T::kString, nullptr, R},
    };
    m["Preconditions"] = {{1, "uid", T::kString}, {2, "resourceVersion", T::kString}};
    m["TokenRequest"] = {
        {1, "metadata", T::kMessage, "ObjectMeta"},
        {2, "spec", T::kMessage, "TokenRequestSpec"},
        {3, "status", T::kMessage, "TokenRequestStatus"},
    };
    m["TokenRequestSpec"] = {
        {1, "audiences", T::kString, nullptr, R},
        {3, "boundObjectRef", T::kMessage, "BoundObjectReference"},
        {4, "expirationSeconds", T::kInt64, nullptr, P},
    };
    m["BoundObjectReference"] = {
        {1, "kind", T::kString},
        {2, "apiVersion", T::kString},
        {3, "name", T::kString},
        {4, "uid", T::kString},
    };
    m["TokenRequestStatus"] = {
        {1, "token", T::kString},
        {2, "expirationTimestamp", T::kTime, nullptr, P},
    };
    return s;
  }();
  return *schema;
}

// apiVersion -> kind -> top-level message.
const char* TopLevelMessage(std::string_view api_version, std::string_view kind) {
  struct Entry {
    std::string_view api_version, kind;
    const char* msg;
  };
  static constexpr Entry kTypes[] = {
      {"v1", "Namespace", "Namespace"},
      {"v1", "ConfigMap", "ConfigMap"},
      {"v1", "Secret", "Secret"},
      {"v1", "ServiceAccount", "ServiceAccount"},
      {"v1", "Pod", "Pod"},
      {"v1", "Service", "Service"},
      {"apps/v1", "Deployment", "Deployment"},
      {"authorization.k8s.io/v1", "SelfSubjectAccessReview", "SelfSubjectAccessReview"},
      {"authorization.k8s.io/v1", "SelfSubjectRulesReview", "SelfSubjectRulesReview"},
      {"authentication.k8s.io/v1", "SelfSubjectReview", "SelfSubjectReview"},
      {"authentication.k8s.io/v1", "TokenRequest", "TokenRequest"},
      {"policy/v1", "Eviction", "Eviction"},
      {"policy/v1beta1", "Eviction", "Eviction"},
      {"rbac.authorization.k8s.io/v1", "Role", "Role"},
      {"rbac.authorization.k8s.io/v1", "ClusterRole", "ClusterRole"},
      {"rbac.authorization.k8s.io/v1", "RoleBinding", "RoleBinding"},
      {"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "RoleBinding"},
      {"v1", "ResourceQuota", "ResourceQuota"},
      {"certificates.k8s.io/v1", "CertificateSigningRequest", "CertificateSigningRequest"},
      {"scheduling.k8s.io/v1", "PriorityClass", "PriorityClass"},
      {"v1", "DeleteOptions", "DeleteOptions"},
      {"meta.k8s.io/v1", "DeleteOptions", "DeleteOptions"},
  };
  for (const auto& e : kTypes) {
    if (e.api_version == api_version && e.kind == kind) return e.msg;
  }
  return nullptr;
}

// ---- wire format ----

enum WireType : uint32_t {
  kVarint = 0,
  kFixed64 = 1,
  kLen = 2,
  kStartGroup = 3,
  kEndGroup = 4,
  kFixed32 = 5
};

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }

  absl::StatusOr<uint64_t> Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) return Malformed("truncated varint");
      uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return Malformed("varint too long");
  }
  absl::StatusOr<std::string_view> Bytes() {
    auto n = Varint();
    if (!n.ok()) return n.status();
    if (*n > data_.size() - pos_) return Malformed("length exceeds message");
    std::string_view out = data_.substr(pos_, *n);
    pos_ += *n;
    return out;
  }
  absl::Status Skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint:
        return Varint().status();
      case kFixed64:
        return Advance(8);
      case kFixed32:
        return Advance(4);
      case kLen:
        return Bytes().status();
      default:
        return Malformed(absl::StrCat("unsupported wire type ", wire_type));
    }
  }

 private:
  absl::Status Advance(size_t n) {
    if (n > data_.size() - pos_) return Malformed("truncated fixed-width field");
    pos_ += n;
    return absl::OkStatus();
  }
  std::string_view data_;
  size_t pos_ = 0;
};

// Replaces invalid UTF-8 with U+FFFD, as Go's encoding/json does.
std::string SanitizeUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    bool ok = len > 0 && i + len <= s.size();
    uint32_t cp = 0;
    if (ok && len > 1) {
      cp = c & (0x7f >> len);
      for (size_t k = 1; k < len; ++k) {
        unsigned char cc = static_cast<unsigned char>(s[i + k]);
        if ((cc & 0xc0) != 0x80) {
          ok = false;
          break;
        }
        cp = (cp << 6) | (cc & 0x3f);
      }
      static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
      if (ok && (cp < kMin[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))) ok = false;
    }
    if (ok) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += "\xef\xbf\xbd";
      ++i;
    }
  }
  return out;
}

absl::StatusOr<std::string> FormatTime(int64_t seconds) {
  // Years 0001..9999, as Go's RFC 3339 marshalling requires.
  if (seconds < -62135596800LL || seconds > 253402300799LL) return Malformed("time out of range");
  time_t t = static_cast<time_t>(seconds);
  struct tm tm;
  if (gmtime_r(&t, &tm) == nullptr) return Malformed("time out of range");
  char buf[32];
  size_t n = strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  // Years < 1000 need zero padding that %Y does not guarantee.
  if (tm.tm_year + 1900 < 1000) {
    n = snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
  }
  return std::string(buf, n);
}

class Decoder {
 public:
  absl::Status Message(std::string_view data, const char* msg_name, Json& out, int depth) {
    if (depth > kMaxProtobufDepth) return Malformed("message nesting too deep");
    auto it = Messages().find(msg_name);
    if (it == Messages().end()) {
      return absl::InternalError(absl::StrCat("protobuf schema has no message ", msg_name));
    }
    const std::vector<F>& fields = it->second;
    if (!out.is_object()) out = Json::object();
    Reader r(data);
    while (!r.done()) {
      auto tag = r.Varint();
      if (!tag.ok()) return tag.status();
      uint64_t num = *tag >> 3;
      uint32_t wt = static_cast<uint32_t>(*tag & 7);
      if (num == 0 || num > 0x1fffffff) return Malformed("invalid field number");
      const F* f = nullptr;
      for (const auto& cand : fields) {
        if (cand.num == num) {
          f = &cand;
          break;
        }
      }
      if (f == nullptr) {
        if (auto s = r.Skip(wt); !s.ok()) return s;
        continue;
      }
      if (auto s = Field(r, wt, *f, out, depth); !s.ok()) return s;
    }
    return absl::OkStatus();
  }

 private:
  static bool IsVarintType(T t) { return t == T::kInt32 || t == T::kInt64 || t == T::kBool; }

  static Json VarintValue(T t, uint64_t v) {
    switch (t) {
      case T::kInt32:
        return static_cast<int32_t>(static_cast<uint32_t>(v));
      case T::kInt64:
        return static_cast<int64_t>(v);
      default:
        return v != 0;
    }
  }

  static bool IsZero(const Json& j) {
    if (j.is_string()) return j.get_ref<const std::string&>().empty();
    if (j.is_boolean()) return !j.get<bool>();
    if (j.is_number_integer()) return j.get<int64_t>() == 0;
    return j.is_null();
  }

  void Set(Json& out, const F& f, Json value) {
    if (f.flags & kRep) {
      Json& arr = out[f.json];
      if (!arr.is_array()) arr = Json::array();
      arr.push_back(std::move(value));
      return;
    }
    if (!(f.flags & kPresence) && IsZero(value)) {
      out.erase(f.json);
      return;
    }
    out[f.json] = std::move(value);
  }

  absl::Status Field(Reader& r, uint32_t wt, const F& f, Json& out, int depth) {
    if (IsVarintType(f.type)) {
      if (wt == kVarint) {
        auto v = r.Varint();
        if (!v.ok()) return v.status();
        Set(out, f, VarintValue(f.type, *v));
        return absl::OkStatus();
      }
      if (wt == kLen && (f.flags & kRep)) {  // packed
        auto b = r.Bytes();
        if (!b.ok()) return b.status();
        Reader pr(*b);
        while (!pr.done()) {
          auto v = pr.Varint();
          if (!v.ok()) return v.status();
          Set(out, f, VarintValue(f.type, *v));
        }
        return absl::OkStatus();
      }
      return Malformed(absl::StrCat("wrong wire type for field ", f.json));
    }
    if (wt != kLen) return Malformed(absl::StrCat("wrong wire type for field ", f.json));
    auto b = r.Bytes();
    if (!b.ok()) return b.status();
    std::string_view data = *b;
    switch (f.type) {
      case T::kString:
        Set(out, f, SanitizeUtf8(data));
        return absl::OkStatus();
      case T::kBytes:
        Set(out, f, absl::Base64Escape(Sv(data)));
        return absl::OkStatus();
      case T::kMessage: {
        if (f.flags & kInline) return Message(data, f.msg, out, depth + 1);
        if (f.flags & kRep) {
          Json item = Json::object();
          if (auto s = Message(data, f.msg, item, depth + 1); !s.ok()) return s;
          Set(out, f, std::move(item));
          return absl::OkStatus();
        }
        // A repeated occurrence of a singular message merges into the earlier one.
        Json& target = out[f.json];
        return Message(data, f.msg, target, depth + 1);
      }
      case T::kMapSS:
      case T::kMapSB:
      case T::kMapSM:
        return MapEntry(data, f, out, depth);
      default: {
        auto v = Special(data, f.type, depth);
        if (!v.ok()) return v.status();
        if (v->is_discarded()) return absl::OkStatus();  // zero Time
        Set(out, f, *std::move(v));
        return absl::OkStatus();
      }
    }
  }

  // Quantity, IntOrString, Time, FieldsV1 and ExtraValue, decoded from their message bytes.
  // A zero Time gives a discarded value (omitted).
  absl::StatusOr<Json> Special(std::string_view data, T type, int depth) {
    if (depth + 1 > kMaxProtobufDepth) return Malformed("message nesting too deep");
    Reader r(data);
    std::string str;
    Json list = Json::array();
    int64_t i64 = 0, seconds = 0;
    int32_t i32 = 0;
    bool has_seconds = false;
    while (!r.done()) {
      auto tag = r.Varint();
      if (!tag.ok()) return tag.status();
      uint64_t num = *tag >> 3;
      uint32_t wt = static_cast<uint32_t>(*tag & 7);
      bool want_len = (type == T::kQuantity && num == 1) || (type == T::kIntOrString && num == 3) ||
                      (type == T::kRawJson && num == 1) || (type == T::kStringList && num == 1);
      bool want_varint = (type == T::kIntOrString && (num == 1 || num == 2)) ||
                         (type == T::kTime && (num == 1 || num == 2));
      if (want_len && wt == kLen) {
        auto b = r.Bytes();
        if (!b.ok()) return b.status();
        if (type == T::kStringList) {
          list.push_back(SanitizeUtf8(*b));
        } else {
          str.assign(b->data(), b->size());
        }
      } else if (want_varint && wt == kVarint) {
        auto v = r.Varint();
        if (!v.ok()) return v.status();
        if (num == 1) {
          i64 = static_cast<int64_t>(*v);
          seconds = i64;
          has_seconds = true;
        } else {
          i32 = static_cast<int32_t>(static_cast<uint32_t>(*v));
        }
      } else if (want_len || want_varint) {
        return Malformed("wrong wire type in well-known message");
      } else if (auto s = r.Skip(wt); !s.ok()) {
        return s;
      }
    }
    switch (type) {
      case T::kQuantity:
        return Json(SanitizeUtf8(str));
      case T::kIntOrString:
        if (i64 == 1) return Json(SanitizeUtf8(str));
        return Json(i32);
      case T::kTime: {
        if (!has_seconds || (seconds == 0 && i32 == 0)) return Json(Json::value_t::discarded);
        auto t = FormatTime(seconds);
        if (!t.ok()) return t.status();
        return Json(*t);
      }
      case T::kRawJson: {
        Json parsed = Json::parse(str, nullptr, /*allow_exceptions=*/false);
        if (parsed.is_discarded()) return Malformed("fieldsV1 is not JSON");
        return parsed;
      }
      case T::kStringList:
        return list;
      default:
        return absl::InternalError("unexpected special type");
    }
  }

  absl::Status MapEntry(std::string_view data, const F& f, Json& out, int depth) {
    if (depth + 1 > kMaxProtobufDepth) return Malformed("message nesting too deep");
    Reader r(data);
    std::string key;
    Json value;
    bool has_value = false;
    while (!r.done()) {
      auto tag = r.Varint();
      if (!tag.ok()) return tag.status();
      uint64_t num = *tag >> 3;
      uint32_t wt = static_cast<uint32_t>(*tag & 7);
      if ((num == 1 || num == 2) && wt != kLen) return Malformed("wrong wire type in map entry");
      if (num == 1) {
        auto b = r.Bytes();
        if (!b.ok()) return b.status();
        key = SanitizeUtf8(*b);
      } else if (num == 2) {
        auto b = r.Bytes();
        if (!b.ok()) return b.status();
        has_value = true;
        if (f.type == T::kMapSS) {
          value = SanitizeUtf8(*b);
        } else if (f.type == T::kMapSB) {
          value = absl::Base64Escape(Sv(*b));
        } else if (std::string_view(f.msg) == "Quantity") {
          auto v = Special(*b, T::kQuantity, depth + 1);
          if (!v.ok()) return v.status();
          value = *std::move(v);
        } else if (std::string_view(f.msg) == "ExtraValue") {
          auto v = Special(*b, T::kStringList, depth + 1);
          if (!v.ok()) return v.status();
          value = *std::move(v);
        } else {
          value = Json::object();
          if (auto s = Message(*b, f.msg, value, depth + 2); !s.ok()) return s;
        }
      } else if (auto s = r.Skip(wt); !s.ok()) {
        return s;
      }
    }
    if (!has_value) {
      if (f.type == T::kMapSM) {
        value = std::string_view(f.msg) == "Quantity"     ? Json("0")
                : std::string_view(f.msg) == "ExtraValue" ? Json::array()
                                                          : Json::object();
      } else {
        value = "";
      }
    }
    Json& map = out[f.json];
    if (!map.is_object()) map = Json::object();
    map[key] = std::move(value);
    return absl::OkStatus();
  }
};

}  // namespace

bool LooksLikeKubernetesProtobuf(std::string_view body) {
  return body.size() >= kKubernetesProtobufMagic.size() &&
         body.substr(0, kKubernetesProtobufMagic.size()) == kKubernetesProtobufMagic;
}

absl::StatusOr<Json> DecodeObject(std::string_view api_version, std::string_view kind,
                                  std::string_view raw) {
  const char* msg = TopLevelMessage(api_version, kind);
  if (msg == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "no kind \"", Sv(kind), "\" is registered for version \"", Sv(api_version), "\""));
  }
  Json out = Json::object();
  Decoder d;
  if (auto s = d.Message(raw, msg, out, 0); !s.ok()) return s;
  out["apiVersion"] = std::string(api_version);
  out["kind"] = std::string(kind);
  return out;
}

absl::StatusOr<Json> DecodeKubernetesProtobuf(std::string_view body) {
  if (!LooksLikeKubernetesProtobuf(body)) {
    return absl::InvalidArgumentError(
        "invalid protobuf body: provided data does not appear to be a protobuf message, expected "
        "prefix [107 56 115 0]");
  }
  Reader r(body.substr(kKubernetesProtobufMagic.size()));
  std::string api_version, kind, content_encoding;
  std::string_view raw;
  while (!r.done()) {
    auto tag = r.Varint();
    if (!tag.ok()) return tag.status();
    uint64_t num = *tag >> 3;
    uint32_t wt = static_cast<uint32_t>(*tag & 7);
    if (num >= 1 && num <= 4) {
      if (wt != kLen) return Malformed("wrong wire type in runtime.Unknown");
      auto b = r.Bytes();
      if (!b.ok()) return b.status();
      if (num == 1) {
        Reader tr(*b);
        while (!tr.done()) {
          auto ttag = tr.Varint();
          if (!ttag.ok()) return ttag.status();
          uint64_t tnum = *ttag >> 3;
          uint32_t twt = static_cast<uint32_t>(*ttag & 7);
          if ((tnum == 1 || tnum == 2) && twt == kLen) {
            auto s = tr.Bytes();
            if (!s.ok()) return s.status();
            (tnum == 1 ? api_version : kind).assign(s->data(), s->size());
          } else if (tnum == 1 || tnum == 2) {
            return Malformed("wrong wire type in TypeMeta");
          } else if (auto st = tr.Skip(twt); !st.ok()) {
            return st;
          }
        }
      } else if (num == 2) {
        raw = *b;
      } else if (num == 3) {
        content_encoding.assign(b->data(), b->size());
      }
    } else if (auto s = r.Skip(wt); !s.ok()) {
      return s;
    }
  }
  if (!content_encoding.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("unsupported protobuf content encoding \"", content_encoding, "\""));
  }
  if (kind.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Object 'Kind' is missing in protobuf body (apiVersion \"", api_version, "\")"));
  }
  return DecodeObject(api_version, kind, raw);
}

}  // namespace korral::protobuf
