#include "korral/apiserver/rbac_bootstrap.h"

#include <string>

namespace korral::apiserver {

using Json = nlohmann::json;

namespace {

using L = std::vector<std::string>;

Json R(L verbs, L groups, L resources, L names = {}) {
  Json r = {{"verbs", verbs}, {"apiGroups", groups}, {"resources", resources}};
  if (!names.empty()) r["resourceNames"] = names;
  return r;
}
Json U(L verbs, L urls) { return {{"verbs", verbs}, {"nonResourceURLs", urls}}; }

const L kRead = {"get", "list", "watch"};
const L kWrite = {"create", "delete", "deletecollection", "patch", "update"};
const L kReadWrite = {"get",    "list",  "watch",  "create",
                      "update", "patch", "delete", "deletecollection"};
const L kEvents = {"create", "update", "patch"};

Json Role(const std::string& name, std::vector<Json> rules, Json labels = Json::object(),
          Json aggregation = nullptr) {
  labels["kubernetes.io/bootstrapping"] = "rbac-defaults";
  Json r = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRole"},
            {"metadata",
             {{"name", name},
              {"labels", labels},
              {"annotations", {{"rbac.authorization.kubernetes.io/autoupdate", "true"}}}}},
            {"rules", rules}};
  if (!aggregation.is_null()) r["aggregationRule"] = aggregation;
  return r;
}

Json Subject(const std::string& kind, const std::string& name, const std::string& ns = "") {
  Json s = {{"kind", kind}, {"name", name}};
  if (kind == "ServiceAccount") {
    s["namespace"] = ns;
  } else {
    s["apiGroup"] = "rbac.authorization.k8s.io";
  }
  return s;
}

Json Binding(const std::string& name, const std::string& role, std::vector<Json> subjects) {
  Json b = {{"apiVersion", "rbac.authorization.k8s.io/v1"},
            {"kind", "ClusterRoleBinding"},
            {"metadata",
             {{"name", name},
              {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}},
              {"annotations", {{"rbac.authorization.kubernetes.io/autoupdate", "true"}}}}},
            {"roleRef",
             {{"apiGroup", "rbac.authorization.k8s.io"}, {"kind", "ClusterRole"}, {"name", role}}}};
  if (!subjects.empty()) b["subjects"] = subjects;
  return b;
}

Json Aggregate(const std::string& label) {
  return {{"clusterRoleSelectors",
           Json::array({{{"matchLabels", {{"rbac.authorization.k8s.io/" + label, "true"}}}}})}};
}

std::vector<Json> ViewRules() {
  return {
      R(kRead, {""},
        {"pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
         "services", "services/status", "endpoints", "persistentvolumeclaims",
         "persistentvolumeclaims/status", "configmaps"}),
      R(kRead, {""},
        {"limitranges", "resourcequotas", "bindings", "events", "pods/status",
         "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
         "pods/log"}),
      R(kRead, {""}, {"namespaces"}),
      R(kRead, {"discovery.k8s.io"}, {"endpointslices"}),
      R(kRead, {"apps"},
        {"controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
         "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
         "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"}),
      R(kRead, {"autoscaling"}, {"horizontalpodautoscalers", "horizontalpodautoscalers/status"}),
      R(kRead, {"batch"}, {"cronjobs", "cronjobs/status", "jobs", "jobs/status"}),
      R(kRead, {"extensions"},
        {"daemonsets", "daemonsets/status", "deployments", "deployments/scale",
         "deployments/status", "ingresses", "ingresses/status", "networkpolicies", "replicasets",
         "replicasets/scale", "replicasets/status", "replicationcontrollers/scale"}),
      R(kRead, {"policy"}, {"poddisruptionbudgets", "poddisruptionbudgets/status"}),
      R(kRead, {"networking.k8s.io"}, {"ingresses", "ingresses/status", "networkpolicies"}),
  };
}

std::vector<Json> EditRules() {
  return {
      R(kRead, {""},
        {"pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets",
         "services/proxy"}),
      R({"impersonate"}, {""}, {"serviceaccounts"}),
      R(kWrite, {""}, {"pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"}),
      R({"create"}, {""}, {"pods/eviction"}),
      R(kWrite, {""},
        {"configmaps", "events", "persistentvolumeclaims", "replicationcontrollers",
         "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy",
         "endpoints"}),
      R({"create"}, {""}, {"serviceaccounts/token"}),
      R(kWrite, {"apps"},
        {"daemonsets", "deployments", "deployments/rollback", "deployments/scale", "replicasets",
         "replicasets/scale", "statefulsets", "statefulsets/scale"}),
      R(kWrite, {"autoscaling"}, {"horizontalpodautoscalers"}),
      R(kWrite, {"batch"}, {"cronjobs", "jobs"}),
      R(kWrite, {"extensions"},
        {"daemonsets", "deployments", "deployments/rollback", "deployments/scale", "ingresses",
         "networkpolicies", "replicasets", "replicasets/scale", "replicationcontrollers/scale"}),
      R(kWrite, {"policy"}, {"poddisruptionbudgets"}),
      R(kWrite, {"networking.k8s.io"}, {"ingresses", "networkpolicies"}),
      R(kReadWrite, {"coordination.k8s.io"}, {"leases"}),
  };
}

std::vector<Json> AdminRules() {
  return {
      R({"create"}, {"authorization.k8s.io"}, {"localsubjectaccessreviews"}),
      R({"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"},
        {"rbac.authorization.k8s.io"}, {"rolebindings", "roles"}),
  };
}

struct Controller {
  const char* name;
  std::vector<Json> rules;
};

std::vector<Controller> ControllerRoles() {
  const Json events = R(kEvents, {"", "events.k8s.io"}, {"events"});
  return {
      {"attachdetach-controller",
       {R(kRead, {""}, {"persistentvolumes", "persistentvolumeclaims"}),
        R({"get", "list", "watch"}, {""}, {"nodes"}),
        R({"patch", "update"}, {""}, {"nodes/status"}), R(kRead, {""}, {"pods"}), events,
        R({"create", "delete", "get", "list", "watch"}, {"storage.k8s.io"},
          {"volumeattachments"})}},
      {"certificate-controller",
       {R({"delete", "get", "list", "watch"}, {"certificates.k8s.io"},
          {"certificatesigningrequests"}),
        R({"update"}, {"certificates.k8s.io"},
          {"certificatesigningrequests/status", "certificatesigningrequests/approval"}),
        R({"approve"}, {"certificates.k8s.io"}, {"signers"}),
        R({"sign"}, {"certificates.k8s.io"}, {"signers"}),
        R({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}), events}},
      {"clusterrole-aggregation-controller",
       {R({"escalate", "get", "list", "watch", "update", "patch"}, {"rbac.authorization.k8s.io"},
          {"clusterroles"})}},
      {"cronjob-controller",
       {R({"get", "list", "watch", "update"}, {"batch"}, {"cronjobs"}),
        R({"get", "list", "watch", "create", "update", "delete", "patch"}, {"batch"}, {"jobs"}),
        R({"update"}, {"batch"}, {"cronjobs/status"}),
        R({"update"}, {"batch"}, {"cronjobs/finalizers"}), R({"list", "delete"}, {""}, {"pods"}),
        events}},
      {"daemon-set-controller",
       {R(kRead, {"apps", "extensions"}, {"daemonsets"}),
        R({"update"}, {"apps", "extensions"}, {"daemonsets/status"}),
        R({"update"}, {"apps", "extensions"}, {"daemonsets/finalizers"}), R(kRead, {""}, {"nodes"}),
        R({"list", "watch", "create", "delete", "patch"}, {""}, {"pods"}),
        R({"create"}, {""}, {"pods/binding"}),
        R({"get", "list", "watch", "create", "delete", "update", "patch"}, {"apps"},
          {"controllerrevisions"}),
        events}},
      {"deployment-controller",
       {R({"get", "list", "watch", "update"}, {"apps", "extensions"}, {"deployments"}),
        R({"update"}, {"apps", "extensions"}, {"deployments/status"}),
        R({"update"}, {"apps", "extensions"}, {"deployments/finalizers"}),
        R({"get", "list", "watch", "create", "update", "patch", "delete"}, {"apps", "extensions"},
          {"replicasets"}),
        R({"get", "list", "watch", "update"}, {""}, {"pods"}), events}},
      {"disruption-controller",
       {R(kRead, {"apps", "extensions"}, {"deployments", "replicasets", "statefulsets"}),
        R(kRead, {""}, {"replicationcontrollers", "pods"}),
        R(kRead, {"policy"}, {"poddisruptionbudgets"}),
        R({"update"}, {"policy"}, {"poddisruptionbudgets/status"}),
        R({"patch", "update"}, {""}, {"pods/status"}), R({"get"}, {"*"}, {"*/scale"}), events}},
      {"endpoint-controller",
       {R(kRead, {""}, {"services", "pods"}),
        R({"get", "list", "create", "update", "delete"}, {""}, {"endpoints"}),
        R({"create"}, {""}, {"endpoints/restricted"}), events}},
      {"endpointslice-controller",
       {R(kRead, {""}, {"services", "pods", "nodes"}),
        R({"create", "update", "delete"}, {""}, {"services/finalizers"}),
        R({"get", "list", "create", "update", "delete"}, {"discovery.k8s.io"}, {"endpointslices"}),
        events}},
      {"endpointslicemirroring-controller",
       {R(kRead, {""}, {"services", "endpoints"}),
        R({"create", "update", "delete"}, {""}, {"services/finalizers", "endpoints/finalizers"}),
        R({"get", "list", "create", "update", "delete"}, {"discovery.k8s.io"}, {"endpointslices"}),
        events}},
      {"ephemeral-volume-controller",
       {R({"get", "list", "watch"}, {""}, {"pods"}), R({"update"}, {""}, {"pods/finalizers"}),
        R({"get", "list", "watch", "create"}, {""}, {"persistentvolumeclaims"}), events}},
      {"expand-controller",
       {R({"get", "list", "watch", "update", "patch"}, {""}, {"persistentvolumes"}),
        R({"update", "patch"}, {""}, {"persistentvolumeclaims/status"}),
        R(kRead, {""}, {"persistentvolumeclaims"}),
        R({"get"}, {"storage.k8s.io"}, {"storageclasses"}),
        R({"get"}, {""}, {"endpoints", "services"}), R({"get"}, {""}, {"secrets"}), events}},
      {"generic-garbage-collector",
       {R({"get", "list", "watch", "patch", "update", "delete"}, {"*"}, {"*"})}},
      {"horizontal-pod-autoscaler",
       {R({"get", "list", "watch"}, {"autoscaling"}, {"horizontalpodautoscalers"}),
        R({"update"}, {"autoscaling"}, {"horizontalpodautoscalers/status"}),
        R({"get", "update"}, {"*"}, {"*/scale"}), R({"list"}, {""}, {"pods"}),
        R({"list"}, {"metrics.k8s.io"}, {"pods"}),
        R({"get", "list"}, {"custom.metrics.k8s.io", "external.metrics.k8s.io"}, {"*"}), events}},
      {"job-controller",
       {R({"get", "list", "watch", "update", "patch"}, {"batch"}, {"jobs"}),
        R({"update", "patch"}, {"batch"}, {"jobs/status"}),
        R({"update"}, {"batch"}, {"jobs/finalizers"}),
        R({"list", "watch", "create", "delete", "patch"}, {""}, {"pods"}), events}},
      {"namespace-controller",
       {R({"get", "list", "watch", "delete"}, {""}, {"namespaces"}),
        R({"update"}, {""}, {"namespaces/finalize", "namespaces/status"}),
        R({"get", "list", "delete", "deletecollection"}, {"*"}, {"*"})}},
      {"node-controller",
       {R({"get", "list", "update", "delete", "patch"}, {""}, {"nodes"}),
        R({"patch", "update"}, {""}, {"nodes/status"}),
        R({"patch", "update"}, {""}, {"pods/status"}), R({"list", "delete"}, {""}, {"pods"}),
        R({"get"}, {""}, {"pods"}), events}},
      {"persistent-volume-binder",
       {R({"get", "list", "watch", "update", "create", "delete"}, {""}, {"persistentvolumes"}),
        R({"update"}, {""}, {"persistentvolumes/status"}),
        R({"get", "list", "watch", "update"}, {""}, {"persistentvolumeclaims"}),
        R({"update"}, {""}, {"persistentvolumeclaims/status"}),
        R({"list", "watch", "get", "create", "delete"}, {""}, {"pods"}),
        R({"get", "create", "delete"}, {""}, {"endpoints"}),
        R({"get", "create", "delete"}, {""}, {"services"}),
        R(kRead, {"storage.k8s.io"}, {"storageclasses"}), R({"get"}, {""}, {"secrets"}),
        R({"list", "watch"}, {""}, {"nodes"}), events}},
      {"pod-garbage-collector",
       {R({"list", "watch", "delete"}, {""}, {"pods"}), R({"get", "list"}, {""}, {"nodes"}),
        R({"patch"}, {""}, {"pods/status"})}},
      {"pv-protection-controller",
       {R({"get", "list", "watch", "update"}, {""}, {"persistentvolumes"}), events}},
      {"pvc-protection-controller",
       {R({"get", "list", "watch", "update"}, {""}, {"persistentvolumeclaims"}),
        R({"list", "watch", "get"}, {""}, {"pods"}), events}},
      {"replicaset-controller",
       {R({"get", "list", "watch", "update"}, {"apps", "extensions"}, {"replicasets"}),
        R({"update"}, {"apps", "extensions"}, {"replicasets/status"}),
        R({"update"}, {"apps", "extensions"}, {"replicasets/finalizers"}),
        R({"list", "watch", "patch", "create", "delete"}, {""}, {"pods"}), events}},
      {"replication-controller",
       {R({"get", "list", "watch", "update"}, {""}, {"replicationcontrollers"}),
        R({"update"}, {""}, {"replicationcontrollers/status"}),
        R({"update"}, {""}, {"replicationcontrollers/finalizers"}),
        R({"list", "watch", "patch", "create", "delete"}, {""}, {"pods"}), events}},
      {"resourcequota-controller",
       {R({"list", "watch"}, {"*"}, {"*"}), R({"update"}, {""}, {"resourcequotas/status"}),
        events}},
      {"root-ca-cert-publisher", {R({"create", "update"}, {""}, {"configmaps"}), events}},
      {"route-controller",
       {R({"list", "watch"}, {""}, {"nodes"}), R({"patch"}, {""}, {"nodes/status"}), events}},
      {"service-account-controller", {R({"create"}, {""}, {"serviceaccounts"}), events}},
      {"service-controller",
       {R(kRead, {""}, {"services"}), R({"patch", "update"}, {""}, {"services/status"}),
        R({"list", "watch"}, {""}, {"nodes"}), events}},
      {"statefulset-controller",
       {R({"list", "watch"}, {""}, {"pods"}), R({"list", "watch"}, {"apps"}, {"statefulsets"}),
        R({"update"}, {"apps"}, {"statefulsets/status"}),
        R({"update"}, {"apps"}, {"statefulsets/finalizers"}),
        R({"get", "create", "delete", "update", "patch"}, {""}, {"pods"}),
        R({"get", "create", "delete", "update", "patch", "list", "watch"}, {"apps"},
          {"controllerrevisions"}),
        R({"get", "create"}, {""}, {"persistentvolumeclaims"}),
        R({"update", "delete"}, {""}, {"persistentvolumeclaims"}), events}},
      {"ttl-controller", {R({"update", "patch", "list", "watch"}, {""}, {"nodes"}), events}},
      {"ttl-after-finished-controller",
       {R({"get", "list", "watch", "delete"}, {"batch"}, {"jobs"}), events}},
      {"legacy-service-account-token-cleaner",
       {R({"get"}, {""}, {"configmaps"}, {"kube-apiserver-legacy-service-account-token-tracking"}),
        R({"delete"}, {""}, {"secrets"})}},
  };
}

BootstrapPolicy Build() {
  BootstrapPolicy p;
  auto& roles = p.cluster_roles;
  auto& binds = p.cluster_role_bindings;
  roles.push_back(Role("cluster-admin", {R({"*"}, {"*"}, {"*"}), U({"*"}, {"*"})}));
  binds.push_back(Binding("cluster-admin", "cluster-admin", {Subject("Group", "system:masters")}));

  roles.push_back(
      Role("system:discovery",
           {U({"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi",
                        "/openapi/*", "/readyz", "/version", "/version/"})}));
  binds.push_back(
      Binding("system:discovery", "system:discovery", {Subject("Group", "system:authenticated")}));
  roles.push_back(Role("system:public-info-viewer",
                       {U({"get"}, {"/healthz", "/livez", "/readyz", "/version", "/version/"})}));
  binds.push_back(Binding(
      "system:public-info-viewer", "system:public-info-viewer",
      {Subject("Group", "system:authenticated"), Subject("Group", "system:unauthenticated")}));
  roles.push_back(Role("system:basic-user",
                       {R({"create"}, {"authorization.k8s.io"},
                          {"selfsubjectaccessreviews", "selfsubjectrulesreviews"}),
                        R({"create"}, {"authentication.k8s.io"}, {"selfsubjectreviews"})}));
  binds.push_back(Binding("system:basic-user", "system:basic-user",
                          {Subject("Group", "system:authenticated")}));
  roles.push_back(Role("system:monitoring",
                       {U({"get"}, {"/healthz", "/healthz/*", "/livez", "/livez/*", "/metrics",
                                    "/metrics/slis", "/readyz", "/readyz/*"})}));
  binds.push_back(
      Binding("system:monitoring", "system:monitoring", {Subject("Group", "system:monitoring")}));
  roles.push_back(
      Role("system:service-account-issuer-discovery",
           {U({"get"}, {"/.well-known/openid-configuration", "/.well-known/openid-configuration/",
                        "/openid/v1/jwks", "/openid/v1/jwks/"})}));
  binds.push_back(Binding("system:service-account-issuer-discovery",
                          "system:service-account-issuer-discovery",
                          {Subject("Group", "system:serviceaccounts")}));

  // User-facing roles, aggregated.
  roles.push_back(Role("admin", {}, {{"kubernetes.io/bootstrapping", "rbac-defaults"}},
                       Aggregate("aggregate-to-admin")));
  roles.push_back(Role("edit", {}, {{"rbac.authorization.k8s.io/aggregate-to-admin", "true"}},
                       Aggregate("aggregate-to-edit")));
  roles.push_back(Role("view", {}, {{"rbac.authorization.k8s.io/aggregate-to-edit", "true"}},
                       Aggregate("aggregate-to-view")));
  roles.push_back(Role("system:aggregate-to-admin", AdminRules(),
                       {{"rbac.authorization.k8s.io/aggregate-to-admin", "true"}}));
  roles.push_back(Role("system:aggregate-to-edit", EditRules(),
                       {{"rbac.authorization.k8s.io/aggregate-to-edit", "true"}}));
  roles.push_back(Role("system:aggregate-to-view", ViewRules(),
                       {{"rbac.authorization.k8s.io/aggregate-to-view", "true"}}));

  roles.push_back(Role("system:auth-delegator",
                       {R({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                        R({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"})}));
  roles.push_back(Role("system:node", NodeRules()));
  binds.push_back(Binding("system:node", "system:node", {}));
  roles.push_back(Role("system:node-proxier",
                       {R({"list", "watch"}, {""}, {"services", "endpoints"}),
                        R(kRead, {""}, {"nodes"}), R(kEvents, {"", "events.k8s.io"}, {"events"}),
                        R({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}));
  binds.push_back(Binding("system:node-proxier", "system:node-proxier",
                          {Subject("User", "system:kube-proxy")}));
  roles.push_back(Role("system:node-bootstrapper",
                       {R({"create", "get", "list", "watch"}, {"certificates.k8s.io"},
                          {"certificatesigningrequests"})}));
  binds.push_back(Binding("system:node-bootstrapper", "system:node-bootstrapper",
                          {Subject("Group", "system:bootstrappers")}));
  roles.push_back(
      Role("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
           {R({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/nodeclient"})}));
  binds.push_back(Binding("system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                          "system:certificates.k8s.io:certificatesigningrequests:nodeclient",
                          {Subject("Group", "system:bootstrappers")}));
  roles.push_back(Role(
      "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
      {R({"create"}, {"certificates.k8s.io"}, {"certificatesigningrequests/selfnodeclient"})}));
  binds.push_back(Binding("system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                          "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient",
                          {Subject("Group", "system:nodes")}));
  roles.push_back(
      Role("system:kube-dns", {R({"list", "watch"}, {""}, {"endpoints", "services"}),
                               R({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"})}));
  binds.push_back(Binding("system:kube-dns", "system:kube-dns",
                          {Subject("ServiceAccount", "kube-dns", "kube-system")}));

  // The scheduler. Leases and endpoints are not restricted to the resource names upstream
  // uses ("kube-scheduler") so korral's own lease names work.
  roles.push_back(
      Role("system:kube-scheduler",
           {R(kEvents, {"", "events.k8s.io"}, {"events"}),
            R({"create", "get", "list", "watch", "update", "patch"}, {"coordination.k8s.io"},
              {"leases"}),
            R({"create", "get", "update"}, {""}, {"endpoints"}), R(kRead, {""}, {"nodes"}),
            R({"delete", "get", "list", "watch"}, {""}, {"pods"}),
            R({"create"}, {""}, {"bindings", "pods/binding"}),
            R({"patch", "update"}, {""}, {"pods/status"}),
            R(kRead, {""}, {"replicationcontrollers", "services"}),
            R(kRead, {"apps", "extensions"}, {"replicasets"}), R(kRead, {"apps"}, {"statefulsets"}),
            R(kRead, {"policy"}, {"poddisruptionbudgets"}),
            R(kRead, {""}, {"persistentvolumeclaims", "persistentvolumes"}),
            R({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
            R({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
            R(kRead, {"storage.k8s.io"},
              {"csinodes", "csidrivers", "csistoragecapacities", "storageclasses"}),
            R(kRead, {""}, {"namespaces"}), R({"get", "list", "watch"}, {""}, {"configmaps"})}));
  binds.push_back(Binding("system:kube-scheduler", "system:kube-scheduler",
                          {Subject("User", "system:kube-scheduler")}));
  // What the apiserver may do on kubelets (logs, exec, port-forward, stats, metrics); bound to
  // its kubelet client identity as k3s binds it (upstream leaves the binding to the installer).
  roles.push_back(
      Role("system:kubelet-api-admin",
           {R({"get", "list", "watch", "proxy"}, {""}, {"nodes"}),
            R({"*"}, {""}, {"nodes/proxy", "nodes/log", "nodes/stats", "nodes/metrics"})}));
  binds.push_back(Binding("kube-apiserver-kubelet-admin", "system:kubelet-api-admin",
                          {Subject("User", "kube-apiserver-kubelet-client")}));
  roles.push_back(
      Role("system:volume-scheduler",
           {R({"get", "list", "patch", "update", "watch"}, {""}, {"persistentvolumes"}),
            R(kRead, {"storage.k8s.io"}, {"storageclasses"}),
            R({"get", "list", "patch", "update", "watch"}, {""}, {"persistentvolumeclaims"})}));
  binds.push_back(Binding("system:volume-scheduler", "system:volume-scheduler",
                          {Subject("User", "system:kube-scheduler")}));

  roles.push_back(
      Role("system:kube-controller-manager",
           {R(kEvents, {"", "events.k8s.io"}, {"events"}),
            R({"create", "get", "list", "watch", "update", "patch"}, {"coordination.k8s.io"},
              {"leases"}),
            R({"create", "get", "update"}, {""}, {"endpoints"}),
            R({"create", "delete", "get", "update"}, {""}, {"secrets"}),
            R({"create", "get", "update"}, {""}, {"serviceaccounts"}),
            R({"get"}, {""}, {"configmaps", "namespaces"}),
            R({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
            R({"create"}, {"authorization.k8s.io"}, {"subjectaccessreviews"}),
            R({"list", "watch"}, {"*"}, {"*"}), R({"create"}, {""}, {"serviceaccounts/token"})}));
  binds.push_back(Binding("system:kube-controller-manager", "system:kube-controller-manager",
                          {Subject("User", "system:kube-controller-manager")}));
  // Not an upstream default: the cloud controller manager's role from upstream's cloud-provider
  // manifests, bound to its user.
  roles.push_back(
      Role("system:cloud-controller-manager",
           {R(kEvents, {"", "events.k8s.io"}, {"events"}),
            R({"create", "get", "list", "watch", "update", "patch"}, {"coordination.k8s.io"},
              {"leases"}),
            R({"*"}, {""}, {"nodes"}), R({"patch"}, {""}, {"nodes/status"}),
            R({"list", "patch", "update", "watch"}, {""}, {"services"}),
            R({"patch", "update"}, {""}, {"services/status"}),
            R({"create", "get", "list", "watch", "update"}, {""}, {"serviceaccounts", "endpoints"}),
            R({"get", "list", "watch", "update"}, {""}, {"persistentvolumes"}),
            R({"create"}, {""}, {"serviceaccounts/token"})}));
  binds.push_back(Binding("system:cloud-controller-manager", "system:cloud-controller-manager",
                          {Subject("User", "system:cloud-controller-manager")}));
  for (auto& c : ControllerRoles()) {
    std::string name = std::string("system:controller:") + c.name;
    roles.push_back(Role(name, c.rules));
    binds.push_back(Binding(name, name,
                            {Subject("ServiceAccount", c.name, "kube-system"),
                             Subject("User", "system:kube-controller-manager")}));
  }
  return p;
}

}  // namespace

std::vector<Json> NodeRules() {
  return {
      R({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
      R({"create"}, {"authorization.k8s.io"},
        {"subjectaccessreviews", "localsubjectaccessreviews"}),
      R(kRead, {""}, {"services"}),
      R({"create", "get", "list", "watch"}, {""}, {"nodes"}),
      R({"patch", "update"}, {""}, {"nodes/status"}),
      R({"patch", "update"}, {""}, {"nodes"}),
      R(kEvents, {"", "events.k8s.io"}, {"events"}),
      R(kRead, {""}, {"pods"}),
      R({"create", "delete"}, {""}, {"pods"}),
      R({"patch", "update"}, {""}, {"pods/status"}),
      R({"create"}, {""}, {"pods/eviction"}),
      R({"get", "update", "patch"}, {""}, {"persistentvolumeclaims/status"}),
      R({"create", "get", "list", "watch"}, {"certificates.k8s.io"},
        {"certificatesigningrequests"}),
      R({"get", "create", "update", "patch", "delete"}, {"coordination.k8s.io"}, {"leases"}),
      R({"get"}, {"storage.k8s.io"}, {"volumeattachments"}),
      R(kRead, {"storage.k8s.io"}, {"csidrivers"}),
      R({"get", "create", "update", "patch", "delete"}, {"storage.k8s.io"}, {"csinodes"}),
      R(kRead, {"node.k8s.io"}, {"runtimeclasses"}),
      // korral's node agent also runs kube-proxy's watches under the node identity.
      R({"list", "watch"}, {""}, {"endpoints"}),
      R({"list", "watch"}, {"discovery.k8s.io"}, {"endpointslices"}),
  };
}

const BootstrapPolicy& DefaultBootstrapPolicy() {
  static const BootstrapPolicy* const kPolicy = new BootstrapPolicy(Build());
  return *kPolicy;
}

}  // namespace korral::apiserver
