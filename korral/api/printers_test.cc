// Tests for the server-side Table printers: columns and cell formatting.
#include <chrono>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/api/printers.h"
#include "korral/api/resource.h"

namespace korral::api {
namespace {

using ::testing::ElementsAre;

const auto kNow = *ParseTime("2026-11-28T08:00:00Z");

const ResourceType& T(std::string_view group, std::string_view resource) {
  const ResourceType* t = FindResourceType(group, "v1", resource);
  if (t == nullptr) ADD_FAILURE() << resource;
  return *t;
}

std::vector<std::string> ColumnNames(const ResourceType& t, bool wide) {
  std::vector<std::string> names;
  for (const auto& c : t.columns) {
    if (wide || c.priority == 0) names.push_back(c.name);
  }
  return names;
}

Json Row(std::string_view group, std::string_view resource, const Json& obj) {
  return T(group, resource).row_cells(obj, kNow);
}

Json Meta(std::string name, std::string created = "2026-11-28T07:55:00Z") {
  return {{"name", name}, {"namespace", "default"}, {"creationTimestamp", created}};
}

TEST(PrintersTest, Columns) {
  EXPECT_THAT(ColumnNames(T("", "pods"), false),
              ElementsAre("Name", "Ready", "Status", "Restarts", "Age"));
  EXPECT_THAT(ColumnNames(T("", "pods"), true),
              ElementsAre("Name", "Ready", "Status", "Restarts", "Age", "IP", "Node",
                          "Nominated Node", "Readiness Gates"));
  EXPECT_EQ(T("", "pods").columns[0].format, "name");
  EXPECT_THAT(
      ColumnNames(T("", "services"), true),
      ElementsAre("Name", "Type", "Cluster-IP", "External-IP", "Port(s)", "Age", "Selector"));
  EXPECT_THAT(ColumnNames(T("apps", "deployments"), true),
              ElementsAre("Name", "Ready", "Up-to-date", "Available", "Age", "Containers", "Images",
                          "Selector"));
  EXPECT_THAT(ColumnNames(T("batch", "jobs"), false),
              ElementsAre("Name", "Status", "Completions", "Duration", "Age"));
  EXPECT_THAT(ColumnNames(T("", "events"), false),
              ElementsAre("Last Seen", "Type", "Reason", "Object", "Message"));
  EXPECT_THAT(ColumnNames(T("", "nodes"), false),
              ElementsAre("Name", "Status", "Roles", "Age", "Version"));
  EXPECT_THAT(ColumnNames(T("rbac.authorization.k8s.io", "roles"), false),
              ElementsAre("Name", "Created At"));
}

TEST(PrintersTest, RunningPodWithRestarts) {
  Json pod = {
      {"metadata", Meta("web")},
      {"spec", {{"nodeName", "n1"}, {"containers", {{{"name", "c"}}}}}},
      {"status",
       {{"phase", "Running"},
        {"podIPs", {{{"ip", "10.1.0.5"}}}},
        {"containerStatuses",
         {{{"name", "c"},
           {"ready", true},
           {"restartCount", 2},
           {"state", {{"running", {{"startedAt", "2026-11-28T07:56:00Z"}}}}},
           {"lastState",
            {{"terminated", {{"exitCode", 1}, {"finishedAt", "2026-11-28T07:55:00Z"}}}}}}}}}}};
  EXPECT_EQ(Row("", "pods", pod), Json::array({"web", "1/1", "Running", "2 (5m ago)", "5m",
                                               "10.1.0.5", "n1", "<none>", "<none>"}));
}

TEST(PrintersTest, PodStatusReasons) {
  Json pending = {{"metadata", Meta("p")},
                  {"spec", {{"containers", {{{"name", "a"}}, {{"name", "b"}}}}}},
                  {"status", {{"phase", "Pending"}}}};
  Json row = Row("", "pods", pending);
  EXPECT_EQ(row[1], "0/2");
  EXPECT_EQ(row[2], "Pending");
  EXPECT_EQ(row[3], "0");
  EXPECT_EQ(row[5], "<none>");

  Json crash = pending;
  crash["status"] = {
      {"phase", "Running"},
      {"containerStatuses",
       {{{"name", "a"},
         {"restartCount", 0},
         {"state", {{"waiting", {{"reason", "CrashLoopBackOff"}}}}}},
        {{"name", "b"}, {"ready", true}, {"state", {{"running", Json::object()}}}}}}};
  row = Row("", "pods", crash);
  EXPECT_EQ(row[1], "1/2");
  EXPECT_EQ(row[2], "CrashLoopBackOff");

  Json init = pending;
  init["spec"]["initContainers"] = {{{"name", "setup"}}};
  init["status"]["initContainerStatuses"] = {
      {{"name", "setup"}, {"state", {{"waiting", {{"reason", "PodInitializing"}}}}}}};
  EXPECT_EQ(Row("", "pods", init)[2], "Init:0/1");

  Json done = pending;
  done["status"] = {
      {"phase", "Succeeded"},
      {"containerStatuses",
       {{{"name", "a"}, {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}},
        {{"name", "b"}, {"state", {{"terminated", {{"exitCode", 0}, {"reason", "Completed"}}}}}}}}};
  EXPECT_EQ(Row("", "pods", done)[2], "Completed");

  Json killed = done;
  killed["status"]["phase"] = "Failed";
  killed["status"]["containerStatuses"][0]["state"] = {{"terminated", {{"exitCode", 137}}}};
  EXPECT_EQ(Row("", "pods", killed)[2], "ExitCode:137");

  Json deleting = crash;
  deleting["metadata"]["deletionTimestamp"] = "2026-11-28T07:59:00Z";
  EXPECT_EQ(Row("", "pods", deleting)[2], "Terminating");
}

TEST(PrintersTest, Services) {
  Json svc = {{"metadata", Meta("web", "2026-11-26T08:00:00Z")},
              {"spec",
               {{"type", "NodePort"},
                {"clusterIP", "10.96.0.20"},
                {"clusterIPs", {"10.96.0.20"}},
                {"selector", {{"app", "web"}, {"tier", "fe"}}},
                {"ports",
                 {{{"port", 80}, {"protocol", "TCP"}, {"nodePort", 30080}},
                  {{"port", 53}, {"protocol", "UDP"}}}}}}};
  EXPECT_EQ(Row("", "services", svc),
            Json::array({"web", "NodePort", "10.96.0.20", "<none>", "80:30080/TCP,53/UDP", "2d",
                         "app=web,tier=fe"}));
  Json lb = {{"metadata", Meta("lb")}, {"spec", {{"type", "LoadBalancer"}}}};
  Json row = Row("", "services", lb);
  EXPECT_EQ(row[2], "<none>");
  EXPECT_EQ(row[3], "<pending>");
  EXPECT_EQ(row[4], "<none>");
  EXPECT_EQ(row[6], "<none>");
  lb["status"] = {{"loadBalancer", {{"ingress", {{{"ip", "1.2.3.4"}}}}}}};
  EXPECT_EQ(Row("", "services", lb)[3], "1.2.3.4");
  Json ext = {{"metadata", Meta("ext")},
              {"spec", {{"type", "ExternalName"}, {"externalName", "db.example.com"}}}};
  EXPECT_EQ(Row("", "services", ext)[3], "db.example.com");
}

TEST(PrintersTest, Endpoints) {
  Json ep = {
      {"metadata", Meta("web")},
      {"subsets",
       {{{"addresses",
          {{{"ip", "10.0.0.1"}}, {{"ip", "10.0.0.2"}}, {{"ip", "10.0.0.3"}}, {{"ip", "10.0.0.4"}}}},
         {"ports", {{{"port", 8080}}}}}}}};
  EXPECT_EQ(Row("", "endpoints", ep)[1], "10.0.0.1:8080,10.0.0.2:8080,10.0.0.3:8080 + 1 more...");
  EXPECT_EQ(Row("", "endpoints", {{"metadata", Meta("x")}})[1], "<none>");
}

TEST(PrintersTest, Workloads) {
  Json d = {{"metadata", Meta("web")},
            {"spec",
             {{"replicas", 3},
              {"selector", {{"matchLabels", {{"app", "web"}}}}},
              {"template",
               {{"spec", {{"containers", {{{"name", "nginx"}, {"image", "nginx:1.25"}}}}}}}}}},
            {"status", {{"readyReplicas", 2}, {"updatedReplicas", 3}, {"availableReplicas", 2}}}};
  EXPECT_EQ(Row("apps", "deployments", d),
            Json::array({"web", "2/3", 3, 2, "5m", "nginx", "nginx:1.25", "app=web"}));
  EXPECT_EQ(Row("apps", "replicasets", d),
            Json::array({"web", 3, 0, 2, "5m", "nginx", "nginx:1.25", "app=web"}));
  EXPECT_EQ(Row("apps", "statefulsets", d),
            Json::array({"web", "2/3", "5m", "nginx", "nginx:1.25"}));
  Json ds = d;
  ds["status"] = {{"desiredNumberScheduled", 2},
                  {"currentNumberScheduled", 2},
                  {"numberReady", 1},
                  {"updatedNumberScheduled", 2},
                  {"numberAvailable", 1}};
  EXPECT_EQ(Row("apps", "daemonsets", ds),
            Json::array({"web", 2, 2, 1, 2, 1, "<none>", "5m", "nginx", "nginx:1.25", "app=web"}));
}

TEST(PrintersTest, JobsAndCronJobs) {
  Json job = {{"metadata", Meta("pi")},
              {"spec", {{"completions", 1}, {"parallelism", 1}}},
              {"status", {{"startTime", "2026-11-28T07:56:00Z"}}}};
  Json row = Row("batch", "jobs", job);
  EXPECT_EQ(row[1], "Running");
  EXPECT_EQ(row[2], "0/1");
  EXPECT_EQ(row[3], "4m");
  job["status"] = {{"succeeded", 1},
                   {"startTime", "2026-11-28T07:56:00Z"},
                   {"completionTime", "2026-11-28T07:56:07Z"},
                   {"conditions", {{{"type", "Complete"}, {"status", "True"}}}}};
  row = Row("batch", "jobs", job);
  EXPECT_EQ(row[1], "Complete");
  EXPECT_EQ(row[2], "1/1");
  EXPECT_EQ(row[3], "7s");
  Json par = {{"metadata", Meta("par")}, {"spec", {{"parallelism", 3}}}};
  row = Row("batch", "jobs", par);
  EXPECT_EQ(row[2], "0/1 of 3");
  EXPECT_EQ(row[3], "");

  Json cj = {{"metadata", Meta("tick")},
             {"spec", {{"schedule", "*/5 * * * *"}, {"suspend", false}}},
             {"status",
              {{"active", {{{"name", "tick-1"}}}}, {"lastScheduleTime", "2026-11-28T07:59:00Z"}}}};
  EXPECT_EQ(Row("batch", "cronjobs", cj),
            Json::array({"tick", "*/5 * * * *", "<none>", "False", 1, "60s", "5m", "", "", ""}));
}

TEST(PrintersTest, Events) {
  Json ev = {
      {"metadata", Meta("web.1")},
      {"involvedObject", {{"kind", "Pod"}, {"name", "web"}, {"fieldPath", "spec.containers{c}"}}},
      {"reason", "Pulled"},
      {"message", "  Pulled image  "},
      {"type", "Normal"},
      {"source", {{"component", "kubelet"}, {"host", "n1"}}},
      {"firstTimestamp", "2026-11-28T07:50:00Z"},
      {"lastTimestamp", "2026-11-28T07:58:00Z"},
      {"count", 4}};
  EXPECT_EQ(Row("", "events", ev),
            Json::array({"2m", "Normal", "Pulled", "pod/web", "spec.containers{c}", "kubelet, n1",
                         "Pulled image", "10m", 4, "web.1"}));
  Json ev1 = {{"metadata", Meta("x")},
              {"regarding", {{"kind", "Node"}, {"name", "n1"}}},
              {"reason", "Ready"},
              {"note", "ok"},
              {"type", "Normal"},
              {"reportingController", "ctrl"},
              {"eventTime", "2026-11-28T07:59:30.000000Z"}};
  EXPECT_EQ(Row("events.k8s.io", "events", ev1),
            Json::array({"30s", "Normal", "Ready", "node/n1", "", "ctrl", "ok", "30s", 1, "x"}));
}

TEST(PrintersTest, MiscTypes) {
  EXPECT_EQ(Row("", "namespaces", {{"metadata", Meta("team")}, {"status", {{"phase", "Active"}}}}),
            Json::array({"team", "Active", "5m"}));
  EXPECT_EQ(Row("", "configmaps", {{"metadata", Meta("c")}, {"data", {{"a", "1"}, {"b", "2"}}}}),
            Json::array({"c", 2, "5m"}));
  EXPECT_EQ(
      Row("", "secrets", {{"metadata", Meta("s")}, {"type", "Opaque"}, {"data", {{"a", "MQ=="}}}}),
      Json::array({"s", "Opaque", 1, "5m"}));
  EXPECT_EQ(Row("", "serviceaccounts", {{"metadata", Meta("default")}}),
            Json::array({"default", 0, "5m"}));
  Json node = {{"metadata",
                {{"name", "n1"},
                 {"creationTimestamp", "2026-11-28T07:00:00Z"},
                 {"labels", {{"node-role.kubernetes.io/control-plane", ""}}}}},
               {"spec", {{"unschedulable", true}}},
               {"status",
                {{"conditions", {{{"type", "Ready"}, {"status", "True"}}}},
                 {"addresses", {{{"type", "InternalIP"}, {"address", "192.0.2.10"}}}},
                 {"nodeInfo", {{"kubeletVersion", "v1.32.0"}}}}}};
  EXPECT_EQ(Row("", "nodes", node),
            Json::array({"n1", "Ready,SchedulingDisabled", "control-plane", "60m", "v1.32.0",
                         "192.0.2.10", "<none>", "<unknown>", "<unknown>", "<unknown>"}));
  Json pvc = {
      {"metadata", Meta("data")},
      {"spec",
       {{"volumeName", "pv1"}, {"storageClassName", "standard"}, {"volumeMode", "Filesystem"}}},
      {"status",
       {{"phase", "Bound"},
        {"capacity", {{"storage", "1Gi"}}},
        {"accessModes", {"ReadWriteOnce"}}}}};
  EXPECT_EQ(Row("", "persistentvolumeclaims", pvc),
            Json::array(
                {"data", "Bound", "pv1", "1Gi", "RWO", "standard", "<unset>", "5m", "Filesystem"}));
  EXPECT_EQ(Row("coordination.k8s.io", "leases",
                {{"metadata", Meta("kube-scheduler")}, {"spec", {{"holderIdentity", "node-a"}}}}),
            Json::array({"kube-scheduler", "node-a", "5m"}));
  EXPECT_EQ(Row("rbac.authorization.k8s.io", "roles", {{"metadata", Meta("r")}}),
            Json::array({"r", "2026-11-28T07:55:00Z"}));
  Json rb = {{"metadata", Meta("rb")},
             {"roleRef", {{"kind", "ClusterRole"}, {"name", "view"}}},
             {"subjects",
              {{{"kind", "User"}, {"name", "alice"}},
               {{"kind", "ServiceAccount"}, {"name", "sa"}, {"namespace", "ns"}}}}};
  EXPECT_EQ(Row("rbac.authorization.k8s.io", "rolebindings", rb),
            Json::array({"rb", "ClusterRole/view", "5m", "alice", "", "ns:sa"}));
  EXPECT_EQ(Row("policy", "poddisruptionbudgets",
                {{"metadata", Meta("pdb")},
                 {"spec", {{"minAvailable", 2}}},
                 {"status", {{"disruptionsAllowed", 1}}}}),
            Json::array({"pdb", "2", "N/A", 1, "5m"}));
  Json slice = {{"metadata", Meta("web-abc")},
                {"addressType", "IPv4"},
                {"ports", {{{"port", 80}}, {{"name", "x"}}}},
                {"endpoints", {{{"addresses", {"10.0.0.1"}}}}}};
  EXPECT_EQ(Row("discovery.k8s.io", "endpointslices", slice),
            Json::array({"web-abc", "IPv4", "80,x", "10.0.0.1", "5m"}));
  Json quota = {{"metadata", Meta("q")},
                {"spec", {{"hard", {{"pods", "10"}, {"limits.cpu", "2"}}}}},
                {"status", {{"used", {{"pods", "3"}}}}}};
  EXPECT_EQ(Row("", "resourcequotas", quota),
            Json::array({"q", "5m", "pods: 3/10", "limits.cpu: 0/2"}));
  EXPECT_EQ(Row("", "pods", {{"metadata", {{"name", "x"}}}})[4], "<unknown>");
}

}  // namespace
}  // namespace korral::api
