#include "korral/apiserver/warnings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace korral::apiserver {
namespace {

using Json = nlohmann::json;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

const api::ResourceType& Type(const char* group, const char* resource) {
  const api::ResourceType* t = api::FindResourceType(group, group[0] ? "v1" : "v1", resource);
  EXPECT_NE(t, nullptr) << resource;
  return *t;
}

Json PodSpec() {
  return Json::parse(R"({
    "nodeSelector": {"beta.kubernetes.io/os": "linux", "kubernetes.io/os": "linux"},
    "affinity": {"nodeAffinity": {
      "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "failure-domain.beta.kubernetes.io/zone", "operator": "In", "values": ["a"]}]}]},
      "preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 1, "preference": {"matchExpressions": [{"key": "beta.kubernetes.io/arch", "operator": "Exists"}]}}]},
      "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{"topologyKey": "kubernetes.io/hostname"}]}},
    "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "failure-domain.beta.kubernetes.io/region", "whenUnsatisfiable": "DoNotSchedule"}],
    "volumes": [{"name": "v", "gitRepo": {"repository": "x"}}, {"name": "w", "emptyDir": {}}],
    "hostAliases": [{"ip": "1.2.3.4"}, {"ip": "1.2.3.4"}],
    "imagePullSecrets": [{"name": "s"}, {"name": "s"}, {"name": ""}],
    "terminationGracePeriodSeconds": -5,
    "containers": [
      {"name": "a", "image": "i",
       "resources": {"requests": {"memory": "100m"}, "limits": {"memory": "1Gi"}},
       "env": [{"name": "X", "value": "1"}, {"name": "X", "value": "2"}, {"name": "Y", "value": "1"}, {"name": "Y", "value": "$(Y)-2"}],
       "ports": [{"containerPort": 80, "protocol": "TCP"}]},
      {"name": "b", "image": "i", "ports": [{"containerPort": 80, "protocol": "TCP"},
                                            {"containerPort": 90, "protocol": "TCP", "hostIP": "10.0.0.1"}]}
    ]})");
}

TEST(Warnings, PodCreateCoversUpstreamsChecks) {
  Json pod = {{"apiVersion", "v1"},
              {"kind", "Pod"},
              {"metadata",
               {{"name", "p"},
                {"annotations",
                 {{"scheduler.alpha.kubernetes.io/critical-pod", ""},
                  {"seccomp.security.alpha.kubernetes.io/pod", "runtime/default"},
                  {"container.seccomp.security.alpha.kubernetes.io/a", "runtime/default"}}}}},
              {"spec", PodSpec()}};
  auto w = WriteWarnings(Type("", "pods"), pod, std::nullopt);
  EXPECT_THAT(
      w,
      ElementsAre(
          "spec.nodeSelector[beta.kubernetes.io/os]: deprecated since v1.14; use "
          "\"kubernetes.io/os\" instead",
          "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution."
          "nodeSelectorTerms[0].matchExpressions[0].key: failure-domain.beta.kubernetes.io/zone is "
          "deprecated since v1.17; use \"topology.kubernetes.io/zone\" instead",
          "spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0]."
          "preference.matchExpressions[0].key: beta.kubernetes.io/arch is deprecated since v1.14; "
          "use \"kubernetes.io/arch\" instead",
          "spec.topologySpreadConstraints[0].topologyKey: failure-domain.beta.kubernetes.io/region "
          "is deprecated since v1.17; use \"topology.kubernetes.io/region\" instead",
          "spec.topologySpreadConstraints[0].labelSelector: a null labelSelector results in "
          "matching no pod",
          "metadata.annotations[scheduler.alpha.kubernetes.io/critical-pod]: non-functional in "
          "v1.16+; use the \"priorityClassName\" field instead",
          "spec.volumes[0].gitRepo: deprecated in v1.11",
          "spec.hostAliases[1].ip: duplicate ip \"1.2.3.4\"",
          "spec.imagePullSecrets[1].name: duplicate name \"s\"",
          "spec.imagePullSecrets[2].name: invalid empty name \"\"",
          "metadata.annotations[seccomp.security.alpha.kubernetes.io/pod]: non-functional in "
          "v1.27+; use the \"seccompProfile\" field instead",
          "metadata.annotations[container.seccomp.security.alpha.kubernetes.io/a]: non-functional "
          "in v1.27+; use the \"seccompProfile\" field instead",
          "spec.containers[0].resources.requests[memory]: fractional byte value \"100m\" is "
          "invalid, must be an integer",
          "spec.containers[0].env[1]: hides previous definition of \"X\", which may be dropped "
          "when using apply",
          "spec.containers[1].ports[0]: duplicate port definition with spec.containers[0].ports[0]",
          "spec.containers[1].ports[1]: hostIP set without hostPort: {Name: HostPort:0 "
          "ContainerPort:90 Protocol:TCP HostIP:10.0.0.1}",
          "spec.terminationGracePeriodSeconds: must be >= 0; negative values are invalid and will "
          "be treated as 1",
          "spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]."
          "labelSelector: a null labelSelector results in matching no pod"));
}

TEST(Warnings, CleanPodHasNone) {
  Json pod = {{"metadata", {{"name", "p"}}},
              {"spec",
               {{"containers",
                 {{{"name", "a"},
                   {"image", "i"},
                   {"resources", {{"limits", {{"memory", "64Mi"}, {"cpu", "100m"}}}}},
                   {"ports", {{{"containerPort", 80}, {"protocol", "TCP"}}}}}}}}}};
  EXPECT_THAT(WriteWarnings(Type("", "pods"), pod, std::nullopt), IsEmpty());
}

TEST(Warnings, PodUpdatesNeverWarn) {
  Json pod = {{"metadata", {{"name", "p"}, {"generation", 2}}}, {"spec", PodSpec()}};
  EXPECT_THAT(WriteWarnings(Type("", "pods"), pod, 1), IsEmpty());
}

TEST(Warnings, TemplatesWarnOnCreateAndOnGenerationChanges) {
  Json d = {{"metadata", {{"name", "d"}, {"generation", 3}}},
            {"spec",
             {{"template",
               {{"metadata", {{"labels", {{"a", "b"}}}}},
                {"spec",
                 {{"nodeSelector", {{"beta.kubernetes.io/arch", "amd64"}}},
                  {"containers", {{{"name", "a"}, {"image", "i"}}}}}}}}}}};
  const auto& deployments = Type("apps", "deployments");
  std::string want =
      "spec.template.spec.nodeSelector[beta.kubernetes.io/arch]: deprecated since v1.14; use "
      "\"kubernetes.io/arch\" instead";
  EXPECT_THAT(WriteWarnings(deployments, d, std::nullopt), ElementsAre(want));
  EXPECT_THAT(WriteWarnings(deployments, d, 2), ElementsAre(want));
  EXPECT_THAT(WriteWarnings(deployments, d, 3), IsEmpty());
  EXPECT_TRUE(WarnsOnUpdate(deployments));
  EXPECT_FALSE(WarnsOnUpdate(Type("", "pods")));

  Json cj = {{"metadata", {{"name", "c"}}},
             {"spec", {{"jobTemplate", {{"spec", {{"template", d["spec"]["template"]}}}}}}}};
  EXPECT_THAT(WriteWarnings(Type("batch", "cronjobs"), cj, std::nullopt),
              ElementsAre("spec.jobTemplate.spec.template.spec.nodeSelector[beta.kubernetes.io/"
                          "arch]: deprecated since v1.14; use \"kubernetes.io/arch\" instead"));
  EXPECT_THAT(WriteWarnings(Type("", "configmaps"), Json{{"data", {{"a", "b"}}}}, std::nullopt),
              IsEmpty());
}

TEST(Warnings, HeadersAreEscapedAndDeduplicated) {
  http::HeaderList h = {{"Warning", "299 - \"unknown field \\\"x\\\"\""}};
  AppendWarningHeaders({"unknown field \"x\"", "a \\ b", "a \\ b"}, &h);
  EXPECT_THAT(
      h, UnorderedElementsAre(
             std::pair<std::string, std::string>{"Warning", "299 - \"unknown field \\\"x\\\"\""},
             std::pair<std::string, std::string>{"Warning", "299 - \"a \\\\ b\""}));
}

}  // namespace
}  // namespace korral::apiserver
