#include "korral/api/schema/strict.h"

#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/apimachinery/errors.h"

namespace korral::schema {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Parses `body` strictly and returns the unknown fields for its apiVersion/kind.
std::vector<std::string> Unknown(std::string_view body) {
  auto r = ParseJsonStrict(body);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {"<parse error>"};
  EXPECT_THAT(r->duplicate_fields, IsEmpty());
  return FindUnknownFields(r->object, r->object.value("apiVersion", ""),
                           r->object.value("kind", ""));
}

constexpr char kRichPod[] = R"({
  "apiVersion": "v1", "kind": "Pod",
  "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "x/y": "z"},
    "annotations": {"a": "b"}, "finalizers": ["f"], "generateName": "web-",
    "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u",
      "controller": true, "blockOwnerDeletion": true}],
    "managedFields": [{"manager": "kubectl", "operation": "Apply", "apiVersion": "v1",
      "time": "2024-01-01T00:00:00Z", "fieldsType": "FieldsV1",
      "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}}],
    "creationTimestamp": null, "uid": "1", "resourceVersion": "5"},
  "spec": {
    "initContainers": [{"name": "init", "image": "busybox", "command": ["sh", "-c", "true"],
      "restartPolicy": "Always"}],
    "containers": [{
      "name": "nginx", "image": "nginx:1.25", "imagePullPolicy": "IfNotPresent",
      "args": ["-g"], "workingDir": "/", "tty": false, "stdin": false, "stdinOnce": false,
      "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP", "hostPort": 8080, "hostIP": "0.0.0.0"}],
      "env": [{"name": "A", "value": "1"},
              {"name": "B", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}}},
              {"name": "C", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": true}}},
              {"name": "D", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
              {"name": "E", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1m", "containerName": "nginx"}}}],
      "envFrom": [{"configMapRef": {"name": "c"}, "prefix": "P_"}, {"secretRef": {"name": "s", "optional": false}}],
      "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": 0.1},
                    "claims": [{"name": "gpu"}]},
      "resizePolicy": [{"resourceName": "cpu", "restartPolicy": "NotRequired"}],
      "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true, "subPath": "x",
                        "mountPropagation": "None", "recursiveReadOnly": "Disabled"}],
      "volumeDevices": [{"name": "blk", "devicePath": "/dev/xvda"}],
      "livenessProbe": {"httpGet": {"path": "/healthz", "port": 80, "scheme": "HTTP",
                        "httpHeaders": [{"name": "X", "value": "y"}]},
                        "initialDelaySeconds": 3, "periodSeconds": 3, "timeoutSeconds": 1,
                        "failureThreshold": 3, "successThreshold": 1, "terminationGracePeriodSeconds": 5},
      "readinessProbe": {"tcpSocket": {"port": "http"}},
      "startupProbe": {"exec": {"command": ["cat", "/tmp/ok"]}, "grpc": {"port": 9000, "service": "s"}},
      "lifecycle": {"postStart": {"exec": {"command": ["echo"]}},
                    "preStop": {"sleep": {"seconds": 5}}},
      "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "runAsNonRoot": true,
        "allowPrivilegeEscalation": false, "readOnlyRootFilesystem": true, "privileged": false,
        "capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"}, "appArmorProfile": {"type": "Unconfined"},
        "seLinuxOptions": {"level": "s0"}, "procMount": "Default"},
      "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"}],
    "ephemeralContainers": [{"name": "debug", "image": "busybox", "targetContainerName": "nginx"}],
    "volumes": [
      {"name": "data", "persistentVolumeClaim": {"claimName": "pvc", "readOnly": false}},
      {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "1Gi"}},
      {"name": "host", "hostPath": {"path": "/var", "type": "Directory"}},
      {"name": "cfg", "configMap": {"name": "c", "defaultMode": 420, "items": [{"key": "k", "path": "p", "mode": 256}]}},
      {"name": "sec", "secret": {"secretName": "s", "optional": true}},
      {"name": "proj", "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600, "audience": "api"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
        {"secret": {"name": "s"}}]}},
      {"name": "dapi", "downwardAPI": {"items": [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
        {"path": "cpu", "resourceFieldRef": {"containerName": "nginx", "resource": "limits.cpu"}}]}},
      {"name": "nfs", "nfs": {"server": "10.0.0.1", "path": "/export", "readOnly": true}},
      {"name": "csi", "csi": {"driver": "d", "volumeAttributes": {"a": "b"}, "nodePublishSecretRef": {"name": "s"}}},
      {"name": "eph", "ephemeral": {"volumeClaimTemplate": {"metadata": {"labels": {"a": "b"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard"}}}},
      {"name": "blk", "persistentVolumeClaim": {"claimName": "blk"}}],
    "affinity": {
      "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
          {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]},
        "preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference":
          {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["n1"]}]}}]},
      "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "zone",
          "labelSelector": {"matchLabels": {"app": "db"}}, "namespaces": ["default"],
          "matchLabelKeys": ["pod-template-hash"]}]},
      "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100,
          "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname",
            "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]},
            "namespaceSelector": {}}}]}},
    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule",
      "labelSelector": {"matchLabels": {"app": "web"}}, "minDomains": 2, "nodeAffinityPolicy": "Honor",
      "nodeTaintsPolicy": "Ignore", "matchLabelKeys": ["pod-template-hash"]}],
    "dnsPolicy": "None", "dnsConfig": {"nameservers": ["1.1.1.1"], "searches": ["svc"],
      "options": [{"name": "ndots", "value": "2"}]},
    "hostAliases": [{"ip": "127.0.0.1", "hostnames": ["foo"]}],
    "readinessGates": [{"conditionType": "example.com/ready"}],
    "overhead": {"cpu": "10m"}, "os": {"name": "linux"},
    "schedulingGates": [{"name": "wait"}],
    "resourceClaims": [{"name": "gpu", "resourceClaimTemplateName": "gpu-template"}],
    "securityContext": {"fsGroup": 2000, "fsGroupChangePolicy": "OnRootMismatch",
      "supplementalGroups": [3000], "sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1024 65535"}],
      "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"},
      "supplementalGroupsPolicy": "Merge", "seLinuxChangePolicy": "MountOption"},
    "imagePullSecrets": [{"name": "regcred"}],
    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30, "activeDeadlineSeconds": 600,
    "serviceAccountName": "default", "serviceAccount": "default", "automountServiceAccountToken": false,
    "nodeName": "n1", "nodeSelector": {"disk": "ssd"}, "hostNetwork": false, "hostPID": false,
    "hostIPC": false, "hostUsers": true, "shareProcessNamespace": true, "hostname": "web",
    "subdomain": "sub", "setHostnameAsFQDN": false, "schedulerName": "default-scheduler",
    "priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never",
    "runtimeClassName": "runc", "enableServiceLinks": false},
  "status": {"phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}],
    "hostIP": "192.168.0.2", "hostIPs": [{"ip": "192.168.0.2"}], "qosClass": "Burstable",
    "startTime": "2024-01-01T00:00:00Z",
    "conditions": [{"type": "Ready", "status": "True", "lastProbeTime": null,
                    "lastTransitionTime": "2024-01-01T00:00:00Z"}],
    "containerStatuses": [{"name": "nginx", "ready": true, "restartCount": 0, "image": "nginx:1.25",
      "imageID": "sha256:x", "containerID": "containerd://x", "started": true,
      "state": {"running": {"startedAt": "2024-01-01T00:00:00Z"}},
      "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "signal": 9}},
      "volumeMounts": [{"name": "data", "mountPath": "/data"}]}]}
})";

TEST(StrictTest, RichPodHasNoUnknownFields) { EXPECT_THAT(Unknown(kRichPod), IsEmpty()); }

TEST(StrictTest, TyposAreReportedWithPaths) {
  auto r = ParseJsonStrict(R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","nmae":"x"},
    "spec":{"containers":[{"name":"a","image":"i"},{"name":"b","imagee":"i",
    "ports":[{"containerPort":1,"protocl":"TCP"}]}],"foo":1},"extra":true})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(FindUnknownFields(r->object, "v1", "Pod"),
              ElementsAre("extra", "metadata.nmae", "spec.containers[1].imagee",
                          "spec.containers[1].ports[0].protocl", "spec.foo"));
}

TEST(StrictTest, DeploymentTypoReplica) {
  constexpr char kDeploy[] = R"({"apiVersion":"apps/v1","kind":"Deployment",
    "metadata":{"name":"web","labels":{"app":"web"}},
    "spec":{"replica":3,"selector":{"matchLabels":{"app":"web"}},
      "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}},
      "revisionHistoryLimit":5,"progressDeadlineSeconds":600,"minReadySeconds":1,"paused":false,
      "template":{"metadata":{"labels":{"app":"web"},"annotations":{"kubectl.kubernetes.io/restartedAt":"now"}},
        "spec":{"containers":[{"name":"nginx","image":"nginx"}]}}}})";
  EXPECT_THAT(Unknown(kDeploy), ElementsAre("spec.replica"));
}

TEST(StrictTest, ValidManifestsOfManyKinds) {
  const char* manifests[] = {
      R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"s"},"spec":{"type":"LoadBalancer",
        "selector":{"app":"web"},"ports":[{"name":"http","port":80,"targetPort":"http","protocol":"TCP",
        "nodePort":30080,"appProtocol":"http"}],"clusterIP":"10.0.0.1","clusterIPs":["10.0.0.1"],
        "ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack","sessionAffinity":"ClientIP",
        "sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10}},"externalTrafficPolicy":"Local",
        "internalTrafficPolicy":"Cluster","externalIPs":["1.2.3.4"],"loadBalancerSourceRanges":["0.0.0.0/0"],
        "allocateLoadBalancerNodePorts":true,"publishNotReadyAddresses":false,"trafficDistribution":"PreferClose"},
        "status":{"loadBalancer":{"ingress":[{"ip":"1.2.3.4","ipMode":"VIP","ports":[{"port":80,"protocol":"TCP"}]}]}}})",
      R"({"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"completions":3,
        "parallelism":2,"backoffLimit":4,"backoffLimitPerIndex":1,"maxFailedIndexes":2,"completionMode":"Indexed",
        "ttlSecondsAfterFinished":100,"activeDeadlineSeconds":60,"suspend":false,"podReplacementPolicy":"Failed",
        "podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[42]}},
          {"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]},
        "successPolicy":{"rules":[{"succeededIndexes":"0-1","succeededCount":1}]},
        "template":{"spec":{"restartPolicy":"Never","containers":[{"name":"main","image":"perl"}]}}}})",
      R"({"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"*/1 * * * *",
        "timeZone":"Etc/UTC","concurrencyPolicy":"Forbid","startingDeadlineSeconds":10,"suspend":false,
        "successfulJobsHistoryLimit":3,"failedJobsHistoryLimit":1,
        "jobTemplate":{"metadata":{"labels":{"a":"b"}},"spec":{"template":{"spec":{"restartPolicy":"OnFailure",
          "containers":[{"name":"hello","image":"busybox","command":["date"]}]}}}}}})",
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"a":"b","game.properties":"x=1"},
        "binaryData":{"bin":"AAEC"},"immutable":true})",
      R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"type":"Opaque",
        "data":{"password":"cGFzcw=="},"stringData":{"user":"admin"}})",
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"Role","metadata":{"name":"r","namespace":"d"},
        "rules":[{"apiGroups":[""],"resources":["pods","pods/log"],"verbs":["get","list"],"resourceNames":["p"]}]})",
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRole","metadata":{"name":"r"},
        "aggregationRule":{"clusterRoleSelectors":[{"matchLabels":{"a":"b"}}]},
        "rules":[{"nonResourceURLs":["/healthz"],"verbs":["get"]}]})",
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"rb"},
        "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"Role","name":"r"},
        "subjects":[{"kind":"ServiceAccount","name":"default","namespace":"d"},
                    {"kind":"User","name":"jane","apiGroup":"rbac.authorization.k8s.io"}]})",
      R"({"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"crb"},
        "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"r"},
        "subjects":[{"kind":"Group","name":"system:masters","apiGroup":"rbac.authorization.k8s.io"}]})",
      R"({"apiVersion":"policy/v1","kind":"PodDisruptionBudget","metadata":{"name":"pdb"},
        "spec":{"minAvailable":"50%","selector":{"matchLabels":{"app":"web"}},"unhealthyPodEvictionPolicy":"AlwaysAllow"},
        "status":{"currentHealthy":1,"desiredHealthy":1,"disruptionsAllowed":0,"expectedPods":1,
          "disruptedPods":{"web-1":"2024-01-01T00:00:00Z"},"observedGeneration":1,
          "conditions":[{"type":"DisruptionAllowed","status":"False","reason":"x","message":"m",
                         "lastTransitionTime":"2024-01-01T00:00:00Z","observedGeneration":1}]}})",
      R"({"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"p","namespace":"d"},"deleteOptions":{}})",
      R"({"apiVersion":"apps/v1","kind":"StatefulSet","metadata":{"name":"s"},"spec":{"serviceName":"s",
        "replicas":2,"podManagementPolicy":"Parallel","ordinals":{"start":1},
        "persistentVolumeClaimRetentionPolicy":{"whenDeleted":"Delete","whenScaled":"Retain"},
        "updateStrategy":{"type":"RollingUpdate","rollingUpdate":{"partition":0,"maxUnavailable":1}},
        "selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"b"}},
        "spec":{"containers":[{"name":"c","image":"i"}]}},
        "volumeClaimTemplates":[{"metadata":{"name":"data"},"spec":{"accessModes":["ReadWriteOnce"],
          "resources":{"requests":{"storage":"1Gi"}}}}]}})",
      R"({"apiVersion":"apps/v1","kind":"DaemonSet","metadata":{"name":"d"},"spec":{
        "selector":{"matchLabels":{"a":"b"}},"updateStrategy":{"type":"RollingUpdate",
        "rollingUpdate":{"maxSurge":0,"maxUnavailable":1}},"template":{"metadata":{"labels":{"a":"b"}},
        "spec":{"tolerations":[{"operator":"Exists"}],"containers":[{"name":"c","image":"i"}]}}}})",
      R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"},"spec":{"finalizers":["kubernetes"]}})",
      R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"sa"},"automountServiceAccountToken":false,
        "imagePullSecrets":[{"name":"r"}],"secrets":[{"name":"t"}]})",
      R"({"apiVersion":"v1","kind":"PersistentVolume","metadata":{"name":"pv"},"spec":{"capacity":{"storage":"5Gi"},
        "accessModes":["ReadWriteOnce"],"persistentVolumeReclaimPolicy":"Retain","storageClassName":"local",
        "volumeMode":"Filesystem","local":{"path":"/mnt/disk"},"mountOptions":["ro"],
        "nodeAffinity":{"required":{"nodeSelectorTerms":[{"matchExpressions":[{"key":"k","operator":"Exists"}]}]}},
        "claimRef":{"name":"c","namespace":"d"}}})",
      R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"n1","namespace":"kube-node-lease"},
        "spec":{"holderIdentity":"n1","leaseDurationSeconds":40,"renewTime":"2024-01-01T00:00:00.000000Z"}})",
      R"({"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice","metadata":{"name":"e"},"addressType":"IPv4",
        "endpoints":[{"addresses":["10.0.0.1"],"conditions":{"ready":true,"serving":true,"terminating":false},
          "nodeName":"n1","zone":"z","targetRef":{"kind":"Pod","name":"p","namespace":"d","uid":"u"},
          "hints":{"forZones":[{"name":"z"}]}}],"ports":[{"name":"http","port":80,"protocol":"TCP"}]})",
      R"({"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"name":"e"},"eventTime":"2024-01-01T00:00:00.000000Z",
        "reportingController":"c","reportingInstance":"i","action":"Pull","reason":"Pulled","note":"n","type":"Normal",
        "regarding":{"kind":"Pod","name":"p"},"series":{"count":2,"lastObservedTime":"2024-01-01T00:00:00.000000Z"}})",
      R"({"apiVersion":"v1","kind":"Event","metadata":{"name":"e"},"involvedObject":{"kind":"Pod","name":"p"},
        "reason":"Scheduled","message":"m","source":{"component":"scheduler"},"firstTimestamp":"2024-01-01T00:00:00Z",
        "lastTimestamp":"2024-01-01T00:00:00Z","count":1,"type":"Normal","reportingComponent":"s","reportingInstance":""})",
      R"({"apiVersion":"autoscaling/v1","kind":"Scale","metadata":{"name":"web"},"spec":{"replicas":4},
        "status":{"replicas":3,"selector":"app=web"}})",
      R"({"apiVersion":"v1","kind":"PodList","metadata":{"resourceVersion":"1"},"items":[{"metadata":{"name":"p"},
        "spec":{"containers":[{"name":"c","image":"i"}]}}]})",
  };
  for (const char* m : manifests) EXPECT_THAT(Unknown(m), IsEmpty()) << m;
}

TEST(StrictTest, TopLevelStatusAndUnknownKinds) {
  nlohmann::json cm = {{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"status", {{"x", 1}}}};
  EXPECT_THAT(FindUnknownFields(cm, "v1", "ConfigMap"), IsEmpty());
  nlohmann::json foo = {{"spec", {{"anything", 1}}}};
  EXPECT_THAT(FindUnknownFields(foo, "example.com/v1", "Foo"), IsEmpty());
  EXPECT_THAT(FindUnknownFields(nlohmann::json::array(), "v1", "Pod"), IsEmpty());
  // Free-form and int-or-string fields accept anything.
  nlohmann::json cr = {{"data", {{"any", {{"thing", 1}}}}}, {"revision", 1}};
  EXPECT_THAT(FindUnknownFields(cr, "apps/v1", "ControllerRevision"), IsEmpty());
  // Wrong JSON types are not unknown fields.
  nlohmann::json pod = {{"spec", {{"containers", "oops"}, {"nodeSelector", 3}}}};
  EXPECT_THAT(FindUnknownFields(pod, "v1", "Pod"), IsEmpty());
  // Unknown keys inside list items of status are reported with their index.
  nlohmann::json node = {{"status", {{"conditions", {{{"type", "Ready"}, {"bogus", 1}}}}}}};
  EXPECT_THAT(FindUnknownFields(node, "v1", "Node"), ElementsAre("status.conditions[0].bogus"));
}

TEST(StrictTest, DuplicatesAreReportedByPath) {
  auto r = ParseJsonStrict(R"({"kind":"Pod","metadata":{"name":"a","name":"b"},
      "spec":{"containers":[{"name":"x"},{"name":"y","image":"1","image":"2"}]},"kind":"Pod"})");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(r->duplicate_fields,
              ElementsAre("metadata.name", "spec.containers[1].image", "kind"));
  EXPECT_EQ(r->object["metadata"]["name"], "b");  // last one wins
  EXPECT_EQ(r->object["spec"]["containers"][1]["image"], "2");

  auto nested = ParseJsonStrict(R"({"a":[[{"b":1,"b":2}]]})");
  ASSERT_TRUE(nested.ok());
  EXPECT_THAT(nested->duplicate_fields, ElementsAre("a[0][0].b"));
}

TEST(StrictTest, MalformedJson) {
  for (const char* bad :
       {"", "   ", "{", "{\"a\":}", "{\"a\":1}x", "[1,2", "{\"a\" 1}", "nul", "{\"a\":\"\xff\"}"}) {
    auto r = ParseJsonStrict(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("couldn't get version/kind; json parse error: "));
  }
  EXPECT_THAT(ParseJsonStrict("").status().message(), HasSubstr("unexpected end of JSON input"));
}

TEST(StrictTest, DepthLimit) {
  std::string ok = std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']');
  EXPECT_TRUE(ParseJsonStrict(ok).ok());
  std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  auto r = ParseJsonStrict(deep);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("max depth"));
  std::string very_deep(100000, '[');
  EXPECT_FALSE(ParseJsonStrict(very_deep).ok());
}

TEST(StrictTest, ParsesScalarsAndKeepsValues) {
  auto r = ParseJsonStrict(
      R"({"i":-1,"u":18446744073709551615,"f":1.5,"b":true,"n":null,"s":"\u00e9"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->object["i"], -1);
  EXPECT_EQ(r->object["u"].get<uint64_t>(), 18446744073709551615ull);
  EXPECT_EQ(r->object["f"], 1.5);
  EXPECT_EQ(r->object["b"], true);
  EXPECT_TRUE(r->object["n"].is_null());
  EXPECT_EQ(r->object["s"], "\xc3\xa9");
  auto scalar = ParseJsonStrict("42");
  ASSERT_TRUE(scalar.ok());
  EXPECT_EQ(scalar->object, 42);
}

TEST(StrictTest, ErrorMessages) {
  EXPECT_EQ(StrictDecodingMessage({"spec.foo", "spec.bar"}, {"metadata.name"}),
            "strict decoding error: duplicate field \"metadata.name\", unknown field "
            "\"spec.foo\", unknown field \"spec.bar\"");
  EXPECT_EQ(StrictDecodingMessage({}, {}), "");
  EXPECT_THAT(StrictDecodingWarnings({"spec.foo"}, {}), ElementsAre("unknown field \"spec.foo\""));
  absl::Status s = NewStrictDecodingError("Pod", "v1", {"spec.containers[0].imagee"}, {});
  EXPECT_EQ(apierrors::HttpCode(s), 400);
  EXPECT_EQ(apierrors::Reason(s), "BadRequest");
  EXPECT_EQ(
      s.message(),
      "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field "
      "\"spec.containers[0].imagee\"");
  EXPECT_TRUE(NewStrictDecodingError("Pod", "v1", {}, {}).ok());
}

}  // namespace
}  // namespace korral::schema
