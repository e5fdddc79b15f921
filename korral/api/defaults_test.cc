// Tests for defaulting and create-time preparation of the built-in types.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/api/defaults.h"
#include "korral/api/resource.h"

namespace korral::api {
namespace {

const ResourceType& T(std::string_view group, std::string_view resource) {
  const ResourceType* t = FindResourceType(group, "v1", resource);
  if (t == nullptr) ADD_FAILURE() << resource;
  return *t;
}

Json Defaulted(std::string_view group, std::string_view resource, Json obj) {
  const ResourceType& t = T(group, resource);
  if (t.apply_defaults) t.apply_defaults(obj);
  return obj;
}

Json Created(std::string_view group, std::string_view resource, Json obj) {
  const ResourceType& t = T(group, resource);
  if (t.apply_defaults) t.apply_defaults(obj);
  if (t.prepare_for_create) t.prepare_for_create(obj);
  return obj;
}

TEST(DefaultsTest, ImagePullPolicy) {
  EXPECT_EQ(defaults::DefaultImagePullPolicy("nginx"), "Always");
  EXPECT_EQ(defaults::DefaultImagePullPolicy("nginx:latest"), "Always");
  EXPECT_EQ(defaults::DefaultImagePullPolicy("nginx:1.25"), "IfNotPresent");
  EXPECT_EQ(defaults::DefaultImagePullPolicy("registry:5000/team/app"), "Always");
  EXPECT_EQ(defaults::DefaultImagePullPolicy("registry:5000/team/app:v2"), "IfNotPresent");
  EXPECT_EQ(defaults::DefaultImagePullPolicy("app@sha256:abcd"), "IfNotPresent");
}

TEST(DefaultsTest, Pod) {
  Json pod = Defaulted("", "pods",
                       {{"metadata", {{"name", "p"}}},
                        {"spec",
                         {{"containers",
                           {{{"name", "c"},
                             {"image", "nginx:1.25"},
                             {"ports", {{{"containerPort", 80}}}},
                             {"readinessProbe", {{"httpGet", {{"port", 80}}}}}}}}}}});
  const Json& spec = pod["spec"];
  EXPECT_EQ(spec["restartPolicy"], "Always");
  EXPECT_EQ(spec["dnsPolicy"], "ClusterFirst");
  EXPECT_EQ(spec["terminationGracePeriodSeconds"], 30);
  EXPECT_EQ(spec["schedulerName"], "default-scheduler");
  EXPECT_EQ(spec["securityContext"], Json::object());
  EXPECT_EQ(spec["enableServiceLinks"], true);
  EXPECT_EQ(spec["preemptionPolicy"], "PreemptLowerPriority");
  EXPECT_EQ(spec["priority"], 0);
  EXPECT_EQ(spec["serviceAccountName"], "default");
  EXPECT_EQ(spec["serviceAccount"], "default");
  EXPECT_FALSE(spec.contains("tolerations"));
  const Json& c = spec["containers"][0];
  EXPECT_EQ(c["imagePullPolicy"], "IfNotPresent");
  EXPECT_EQ(c["terminationMessagePath"], "/dev/termination-log");
  EXPECT_EQ(c["terminationMessagePolicy"], "File");
  EXPECT_EQ(c["resources"], Json::object());
  EXPECT_EQ(c["ports"][0]["protocol"], "TCP");
  const Json& probe = c["readinessProbe"];
  EXPECT_EQ(probe["timeoutSeconds"], 1);
  EXPECT_EQ(probe["periodSeconds"], 10);
  EXPECT_EQ(probe["successThreshold"], 1);
  EXPECT_EQ(probe["failureThreshold"], 3);
  EXPECT_EQ(probe["httpGet"]["path"], "/");
  EXPECT_EQ(probe["httpGet"]["scheme"], "HTTP");
}

TEST(DefaultsTest, PodKeepsExplicitValues) {
  Json pod = Defaulted(
      "", "pods",
      {{"spec",
        {{"restartPolicy", "Never"},
         {"terminationGracePeriodSeconds", 0},
         {"containers", {{{"name", "c"}, {"image", "x"}, {"imagePullPolicy", "Never"}}}}}}});
  EXPECT_EQ(pod["spec"]["restartPolicy"], "Never");
  EXPECT_EQ(pod["spec"]["terminationGracePeriodSeconds"], 0);
  EXPECT_EQ(pod["spec"]["containers"][0]["imagePullPolicy"], "Never");
}

TEST(DefaultsTest, PodCreateStatusAndQos) {
  Json best = Created("", "pods",
                      {{"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}},
                       {"status", {{"phase", "Running"}}}});
  EXPECT_EQ(best["status"], (Json{{"phase", "Pending"}, {"qosClass", "BestEffort"}}));

  Json guaranteed =
      Created("", "pods",
              {{"spec",
                {{"containers",
                  {{{"name", "c"},
                    {"image", "x"},
                    {"resources", {{"limits", {{"cpu", "500m"}, {"memory", "128Mi"}}}}}}}}}}});
  // Requests default to limits.
  EXPECT_EQ(guaranteed["spec"]["containers"][0]["resources"]["requests"]["cpu"], "500m");
  EXPECT_EQ(guaranteed["status"]["qosClass"], "Guaranteed");

  Json burstable = Created(
      "", "pods",
      {{"spec",
        {{"containers",
          {{{"name", "c"}, {"image", "x"}, {"resources", {{"requests", {{"cpu", "100m"}}}}}}}}}}});
  EXPECT_EQ(burstable["status"]["qosClass"], "Burstable");

  Json unequal = Created("", "pods",
                         {{"spec",
                           {{"containers",
                             {{{"name", "c"},
                               {"image", "x"},
                               {"resources",
                                {{"requests", {{"cpu", "0.5"}, {"memory", "1Gi"}}},
                                 {"limits", {{"cpu", "1"}, {"memory", "1024Mi"}}}}}}}}}}});
  EXPECT_EQ(unequal["status"]["qosClass"], "Burstable");
  Json equal_units = unequal;
  equal_units["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "1000m";
  EXPECT_EQ(defaults::PodQosClass(equal_units), "Guaranteed");
}

TEST(DefaultsTest, DeploymentAndTemplate) {
  Json d = Created("apps", "deployments",
                   {{"spec",
                     {{"selector", {{"matchLabels", {{"app", "web"}}}}},
                      {"template",
                       {{"metadata", {{"labels", {{"app", "web"}}}}},
                        {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx"}}}}}}}}}},
                    {"status", {{"replicas", 5}}}});
  const Json& spec = d["spec"];
  EXPECT_EQ(spec["replicas"], 1);
  EXPECT_EQ(spec["strategy"],
            (Json{{"type", "RollingUpdate"},
                  {"rollingUpdate", {{"maxUnavailable", "25%"}, {"maxSurge", "25%"}}}}));
  EXPECT_EQ(spec["revisionHistoryLimit"], 10);
  EXPECT_EQ(spec["progressDeadlineSeconds"], 600);
  const Json& tspec = spec["template"]["spec"];
  EXPECT_EQ(tspec["restartPolicy"], "Always");
  EXPECT_EQ(tspec["dnsPolicy"], "ClusterFirst");
  EXPECT_EQ(tspec["containers"][0]["imagePullPolicy"], "Always");
  // Pod-only (admission) defaults are not applied to templates.
  EXPECT_FALSE(tspec.contains("enableServiceLinks"));
  EXPECT_EQ(d["status"], Json::object());
  EXPECT_EQ(d["metadata"]["generation"], 1);

  Json recreate =
      Defaulted("apps", "deployments", {{"spec", {{"strategy", {{"type", "Recreate"}}}}}});
  EXPECT_FALSE(recreate["spec"]["strategy"].contains("rollingUpdate"));
}

TEST(DefaultsTest, ReplicaSetStatefulSetDaemonSet) {
  Json rs = Created("apps", "replicasets", {{"spec", Json::object()}});
  EXPECT_EQ(rs["spec"]["replicas"], 1);
  EXPECT_EQ(rs["status"], (Json{{"replicas", 0}}));

  Json sts = Defaulted("apps", "statefulsets",
                       {{"spec",
                         {{"volumeClaimTemplates",
                           {{{"metadata", {{"name", "data"}}}, {"spec", Json::object()}}}}}}});
  EXPECT_EQ(sts["spec"]["replicas"], 1);
  EXPECT_EQ(sts["spec"]["podManagementPolicy"], "OrderedReady");
  EXPECT_EQ(sts["spec"]["updateStrategy"],
            (Json{{"type", "RollingUpdate"}, {"rollingUpdate", {{"partition", 0}}}}));
  EXPECT_EQ(sts["spec"]["revisionHistoryLimit"], 10);
  EXPECT_EQ(sts["spec"]["persistentVolumeClaimRetentionPolicy"],
            (Json{{"whenDeleted", "Retain"}, {"whenScaled", "Retain"}}));
  EXPECT_EQ(sts["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"], "Filesystem");

  Json ds = Defaulted("apps", "daemonsets", {{"spec", Json::object()}});
  EXPECT_EQ(ds["spec"]["updateStrategy"],
            (Json{{"type", "RollingUpdate"},
                  {"rollingUpdate", {{"maxUnavailable", 1}, {"maxSurge", 0}}}}));
  EXPECT_EQ(ds["spec"]["revisionHistoryLimit"], 10);
}

TEST(DefaultsTest, JobAndSelectorGeneration) {
  Json job = Created("batch", "jobs",
                     {{"metadata", {{"name", "pi"}, {"namespace", "default"}, {"uid", "1234"}}},
                      {"spec",
                       {{"template",
                         {{"spec",
                           {{"restartPolicy", "Never"},
                            {"containers", {{{"name", "pi"}, {"image", "perl"}}}}}}}}}}});
  const Json& spec = job["spec"];
  EXPECT_EQ(spec["completions"], 1);
  EXPECT_EQ(spec["parallelism"], 1);
  EXPECT_EQ(spec["backoffLimit"], 6);
  EXPECT_EQ(spec["completionMode"], "NonIndexed");
  EXPECT_EQ(spec["suspend"], false);
  EXPECT_EQ(spec["podReplacementPolicy"], "TerminatingOrFailed");
  EXPECT_FALSE(spec.contains("manualSelector"));
  EXPECT_EQ(spec["selector"],
            (Json{{"matchLabels", {{"batch.kubernetes.io/controller-uid", "1234"}}}}));
  const Json& labels = spec["template"]["metadata"]["labels"];
  EXPECT_EQ(labels["batch.kubernetes.io/controller-uid"], "1234");
  EXPECT_EQ(labels["batch.kubernetes.io/job-name"], "pi");
  EXPECT_EQ(labels["controller-uid"], "1234");
  EXPECT_EQ(labels["job-name"], "pi");
  EXPECT_EQ(job["status"], Json::object());
  EXPECT_TRUE(T("batch", "jobs").validate(job, nullptr).empty());

  Json parallel = Defaulted("batch", "jobs", {{"spec", {{"parallelism", 3}}}});
  EXPECT_FALSE(parallel["spec"].contains("completions"));
  EXPECT_EQ(parallel["spec"]["parallelism"], 3);
}

TEST(DefaultsTest, CronJob) {
  Json cj = Defaulted(
      "batch", "cronjobs",
      {{"spec",
        {{"schedule", "*/1 * * * *"},
         {"jobTemplate",
          {{"spec",
            {{"template", {{"spec", {{"containers", {{{"name", "c"}, {"image", "x"}}}}}}}}}}}}}}});
  EXPECT_EQ(cj["spec"]["concurrencyPolicy"], "Allow");
  EXPECT_EQ(cj["spec"]["suspend"], false);
  EXPECT_EQ(cj["spec"]["successfulJobsHistoryLimit"], 3);
  EXPECT_EQ(cj["spec"]["failedJobsHistoryLimit"], 1);
  EXPECT_EQ(cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"], "ClusterFirst");
}

TEST(DefaultsTest, Service) {
  Json svc =
      Created("", "services",
              {{"spec", {{"ports", {{{"port", 80}}, {{"port", 443}, {"targetPort", "https"}}}}}}});
  const Json& spec = svc["spec"];
  EXPECT_EQ(spec["type"], "ClusterIP");
  EXPECT_EQ(spec["sessionAffinity"], "None");
  EXPECT_EQ(spec["internalTrafficPolicy"], "Cluster");
  EXPECT_EQ(spec["ipFamilyPolicy"], "SingleStack");
  EXPECT_EQ(spec["ipFamilies"], Json::array({"IPv4"}));
  EXPECT_EQ(spec["ports"][0]["protocol"], "TCP");
  EXPECT_EQ(spec["ports"][0]["targetPort"], 80);
  EXPECT_EQ(spec["ports"][1]["targetPort"], "https");
  EXPECT_FALSE(spec.contains("externalTrafficPolicy"));
  EXPECT_EQ(svc["status"], (Json{{"loadBalancer", Json::object()}}));

  Json np = Defaulted("", "services", {{"spec", {{"type", "NodePort"}}}});
  EXPECT_EQ(np["spec"]["externalTrafficPolicy"], "Cluster");
  Json ext = Defaulted("", "services", {{"spec", {{"type", "ExternalName"}}}});
  EXPECT_FALSE(ext["spec"].contains("ipFamilies"));
  EXPECT_FALSE(ext["spec"].contains("internalTrafficPolicy"));
}

TEST(DefaultsTest, NamespacePvcSecret) {
  Json ns = Created("", "namespaces", {{"metadata", {{"name", "team"}}}});
  EXPECT_EQ(ns["spec"]["finalizers"], Json::array({"kubernetes"}));
  EXPECT_EQ(ns["status"], (Json{{"phase", "Active"}}));
  EXPECT_EQ(ns["metadata"]["labels"]["kubernetes.io/metadata.name"], "team");

  Json pvc = Defaulted("", "persistentvolumeclaims", {{"spec", Json::object()}});
  EXPECT_EQ(pvc["spec"]["volumeMode"], "Filesystem");

  Json secret = Defaulted("", "secrets", {{"stringData", {{"password", "hunter2"}}}});
  EXPECT_EQ(secret["type"], "Opaque");
  EXPECT_EQ(secret["data"]["password"], "aHVudGVyMg==");
  EXPECT_FALSE(secret.contains("stringData"));
}

}  // namespace
}  // namespace korral::api
