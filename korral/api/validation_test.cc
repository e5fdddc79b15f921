// Tests for validation: name validators and per-type causes with upstream reasons/messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "korral/api/resource.h"
#include "korral/api/validation.h"

namespace korral::api {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::IsEmpty;
using ::testing::Not;

auto CauseIs(std::string type, std::string field, std::string message) {
  return AllOf(Field(&Cause::type, type), Field(&Cause::field, field),
               Field(&Cause::message, message));
}
auto HasField(std::string type, std::string field) {
  return Contains(AllOf(Field(&Cause::type, type), Field(&Cause::field, field)));
}

const ResourceType& T(std::string_view group, std::string_view resource) {
  const ResourceType* t = FindResourceType(group, "v1", resource);
  if (t == nullptr) ADD_FAILURE() << resource;
  return *t;
}

std::vector<Cause> Validate(std::string_view group, std::string_view resource, Json obj,
                            const Json* old = nullptr) {
  const ResourceType& t = T(group, resource);
  if (t.apply_defaults) t.apply_defaults(obj);
  return t.validate(obj, old);
}

Json Defaulted(std::string_view group, std::string_view resource, Json obj) {
  const ResourceType& t = T(group, resource);
  if (t.apply_defaults) t.apply_defaults(obj);
  return obj;
}

Json Meta(std::string name, std::string ns = "default") {
  Json m = {{"name", name}};
  if (!ns.empty()) m["namespace"] = ns;
  return m;
}

Json ValidPod() {
  return {{"metadata", Meta("web")},
          {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx:1.25"}}}}}}};
}

TEST(NameValidatorsTest, Messages) {
  using namespace validation;
  EXPECT_THAT(IsDns1123Subdomain("example.com"), IsEmpty());
  EXPECT_THAT(IsDns1123Subdomain("Foo_bar"),
              ElementsAre("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                          "characters, '-' or '.', and must start and end with an alphanumeric "
                          "character (e.g. 'example.com', regex used for validation is "
                          "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
  EXPECT_THAT(IsDns1123Label("a.b"), ElementsAre("must not contain dots"));
  EXPECT_THAT(IsDns1123Label("-a"),
              ElementsAre("a lowercase RFC 1123 label must consist of lower case alphanumeric "
                          "characters or '-', and must start and end with an alphanumeric "
                          "character (e.g. 'my-name',  or '123-abc', regex used for validation "
                          "is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"));
  EXPECT_THAT(IsDns1123Label(std::string(64, 'a')),
              ElementsAre("must be no more than 63 characters"));
  EXPECT_THAT(IsDns1035Label("1abc"), Not(IsEmpty()));
  EXPECT_THAT(IsDns1035Label("abc-1"), IsEmpty());
  EXPECT_THAT(IsQualifiedName("example.com/my-key_1"), IsEmpty());
  EXPECT_THAT(IsQualifiedName("/a"), ElementsAre("prefix part must be non-empty"));
  EXPECT_THAT(IsQualifiedName("a/b/c").size(), 1u);
  EXPECT_THAT(IsQualifiedName("").size(), 2u);
  EXPECT_THAT(IsValidLabelValue(""), IsEmpty());
  EXPECT_THAT(IsValidLabelValue("-x"), Not(IsEmpty()));
  EXPECT_THAT(IsConfigMapKey("..x"), ElementsAre("must not start with '..'"));
  EXPECT_THAT(IsConfigMapKey("a b").size(), 1u);
  EXPECT_THAT(IsValidPathSegmentName("system:admin"), IsEmpty());
  EXPECT_THAT(IsValidPathSegmentName("a/b%"),
              ElementsAre("may not contain '/'", "may not contain '%'"));
  EXPECT_THAT(IsValidPathSegmentName(".."), ElementsAre("may not be '..'"));
  EXPECT_THAT(IsValidPortNum(0), ElementsAre("must be between 1 and 65535, inclusive"));
  EXPECT_THAT(IsValidPortName("http"), IsEmpty());
  EXPECT_THAT(IsValidPortName("123"), ElementsAre("must contain at least one letter (a-z)"));
  EXPECT_THAT(IsValidIP("10.0.0.1"), IsEmpty());
  EXPECT_THAT(IsValidIP("::1"), IsEmpty());
  EXPECT_THAT(IsValidIP("10.0.0.256"), Not(IsEmpty()));
}

TEST(SelectorTest, MatchAndString) {
  using namespace validation;
  Json sel = {{"matchLabels", {{"app", "web"}}},
              {"matchExpressions",
               {{{"key", "tier"}, {"operator", "In"}, {"values", {"fe", "be"}}},
                {{"key", "canary"}, {"operator", "DoesNotExist"}}}}};
  EXPECT_TRUE(SelectorMatches(sel, {{"app", "web"}, {"tier", "be"}}));
  EXPECT_FALSE(SelectorMatches(sel, {{"app", "web"}, {"tier", "db"}}));
  EXPECT_FALSE(SelectorMatches(sel, {{"app", "web"}, {"tier", "be"}, {"canary", "1"}}));
  EXPECT_TRUE(SelectorMatches(Json::object(), {{"x", "y"}}));
  EXPECT_FALSE(SelectorMatches(Json(), {{"x", "y"}}));
  EXPECT_EQ(SelectorString(sel), "app=web,!canary,tier in (be,fe)");
}

TEST(PodValidationTest, ValidPodHasNoCauses) {
  EXPECT_THAT(Validate("", "pods", ValidPod()), IsEmpty());
}

TEST(PodValidationTest, RequiredAndInvalid) {
  Json pod = {{"metadata", Meta("Foo_bar")}, {"spec", Json::object()}};
  auto causes = Validate("", "pods", pod);
  EXPECT_THAT(causes,
              Contains(CauseIs("FieldValueInvalid", "metadata.name",
                               "Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must "
                               "consist of lower case alphanumeric characters, '-' or '.', and "
                               "must start and end with an alphanumeric character (e.g. "
                               "'example.com', regex used for validation is "
                               "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)"
                               "*')")));
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueRequired", "spec.containers", "Required value")));

  Json noname = ValidPod();
  noname["metadata"].erase("name");
  EXPECT_THAT(Validate("", "pods", noname),
              Contains(CauseIs("FieldValueRequired", "metadata.name",
                               "Required value: name or generateName is required")));
  Json nons = ValidPod();
  nons["metadata"].erase("namespace");
  EXPECT_THAT(Validate("", "pods", nons), HasField("FieldValueRequired", "metadata.namespace"));
}

TEST(PodValidationTest, Containers) {
  Json pod = ValidPod();
  pod["spec"]["containers"] = {{{"name", "c"}, {"image", "a"}},
                               {{"name", "c"}, {"ports", {{{"containerPort", 70000}}}}},
                               {{"name", "Bad_Name"}, {"image", "b"}}};
  pod["spec"]["restartPolicy"] = "Sometimes";
  pod["spec"]["dnsPolicy"] = "Weird";
  auto causes = Validate("", "pods", pod);
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueDuplicate", "spec.containers[1].name",
                                       "Duplicate value: \"c\"")));
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueRequired", "spec.containers[1].image",
                                       "Required value")));
  EXPECT_THAT(causes,
              Contains(CauseIs("FieldValueInvalid", "spec.containers[1].ports[0].containerPort",
                               "Invalid value: 70000: must be between 1 and 65535, "
                               "inclusive")));
  EXPECT_THAT(causes, HasField("FieldValueInvalid", "spec.containers[2].name"));
  EXPECT_THAT(causes,
              Contains(CauseIs("FieldValueNotSupported", "spec.restartPolicy",
                               "Unsupported value: \"Sometimes\": supported values: \"Always\", "
                               "\"OnFailure\", \"Never\"")));
  EXPECT_THAT(causes, HasField("FieldValueNotSupported", "spec.dnsPolicy"));

  Json mount = ValidPod();
  mount["spec"]["containers"][0]["volumeMounts"] = {{{"name", "data"}, {"mountPath", "/d"}}};
  EXPECT_THAT(Validate("", "pods", mount),
              Contains(CauseIs("FieldValueNotFound", "spec.containers[0].volumeMounts[0].name",
                               "Not found: \"data\"")));
}

TEST(PodValidationTest, LabelsAndAnnotations) {
  Json pod = ValidPod();
  pod["metadata"]["labels"] = {{"bad key", "v"}, {"ok", "-bad"}};
  pod["metadata"]["annotations"] = {{"big", std::string(300 * 1024, 'x')}};
  auto causes = Validate("", "pods", pod);
  EXPECT_THAT(causes, HasField("FieldValueInvalid", "metadata.labels"));
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueTooLong", "metadata.annotations",
                                       "Too long: may not be more than 262144 bytes")));
}

TEST(PodValidationTest, UpdateRules) {
  Json old = Defaulted("", "pods", ValidPod());
  Json image = old;
  image["spec"]["containers"][0]["image"] = "nginx:1.26";
  EXPECT_THAT(Validate("", "pods", image, &old), IsEmpty());

  Json tol = old;
  tol["spec"]["tolerations"] = {{{"key", "k"}, {"operator", "Exists"}}};
  EXPECT_THAT(Validate("", "pods", tol, &old), IsEmpty());

  Json deadline = old;
  deadline["spec"]["activeDeadlineSeconds"] = 30;
  EXPECT_THAT(Validate("", "pods", deadline, &old), IsEmpty());

  Json other = old;
  other["spec"]["restartPolicy"] = "Never";
  auto causes = Validate("", "pods", other, &old);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].type, "FieldValueForbidden");
  EXPECT_EQ(causes[0].field, "spec");
  EXPECT_THAT(causes[0].message,
              ::testing::StartsWith("Forbidden: pod updates may not change fields other than "
                                    "`spec.containers[*].image`"));

  Json removed_tol = tol;
  removed_tol["spec"]["tolerations"] = Json::array();
  EXPECT_THAT(Validate("", "pods", removed_tol, &tol), HasField("FieldValueForbidden", "spec"));
}

TEST(ServiceValidationTest, Rules) {
  Json svc = {{"metadata", Meta("web")}, {"spec", {{"selector", {{"app", "web"}}}}}};
  EXPECT_THAT(Validate("", "services", svc),
              Contains(CauseIs("FieldValueRequired", "spec.ports", "Required value")));
  Json headless = svc;
  headless["spec"]["clusterIP"] = "None";
  EXPECT_THAT(Validate("", "services", headless), IsEmpty());

  Json bad = svc;
  bad["spec"]["type"] = "Magic";
  bad["spec"]["ports"] = {{{"port", 0}, {"protocol", "HTTP"}}, {{"port", 80}}};
  auto causes = Validate("", "services", bad);
  EXPECT_THAT(causes, HasField("FieldValueNotSupported", "spec.type"));
  EXPECT_THAT(causes, HasField("FieldValueInvalid", "spec.ports[0].port"));
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueNotSupported", "spec.ports[0].protocol",
                                       "Unsupported value: \"HTTP\": supported values: \"SCTP\", "
                                       "\"TCP\", \"UDP\"")));
  EXPECT_THAT(causes, HasField("FieldValueRequired", "spec.ports[1].name"));

  Json dns1035 = svc;
  dns1035["metadata"]["name"] = "1web";
  dns1035["spec"]["ports"] = {{{"port", 80}}};
  EXPECT_THAT(Validate("", "services", dns1035), HasField("FieldValueInvalid", "metadata.name"));

  Json old = svc;
  old["spec"]["ports"] = {{{"port", 80}}};
  old["spec"]["clusterIP"] = "10.96.0.10";
  old = Defaulted("", "services", old);
  Json changed = old;
  changed["spec"]["clusterIP"] = "10.96.0.11";
  changed["spec"]["clusterIPs"] = {"10.96.0.11"};
  EXPECT_THAT(Validate("", "services", changed, &old),
              Contains(CauseIs("FieldValueInvalid", "spec.clusterIPs[0]",
                               "Invalid value: [\"10.96.0.11\"]: may not change once set")));
  EXPECT_THAT(Validate("", "services", old, &old), IsEmpty());
}

Json Deployment(Json selector_labels, Json template_labels) {
  return {{"metadata", Meta("web")},
          {"spec",
           {{"selector", {{"matchLabels", selector_labels}}},
            {"template",
             {{"metadata", {{"labels", template_labels}}},
              {"spec", {{"containers", {{{"name", "c"}, {"image", "nginx"}}}}}}}}}}};
}

TEST(WorkloadValidationTest, Deployment) {
  EXPECT_THAT(Validate("apps", "deployments", Deployment({{"app", "web"}}, {{"app", "web"}})),
              IsEmpty());
  EXPECT_THAT(Validate("apps", "deployments", Deployment({{"app", "web"}}, {{"app", "db"}})),
              Contains(CauseIs("FieldValueInvalid", "spec.template.metadata.labels",
                               "Invalid value: {\"app\":\"db\"}: `selector` does not match "
                               "template `labels`")));
  Json nosel = Deployment({{"app", "web"}}, {{"app", "web"}});
  nosel["spec"].erase("selector");
  EXPECT_THAT(Validate("apps", "deployments", nosel),
              Contains(CauseIs("FieldValueRequired", "spec.selector", "Required value")));
  Json neg = Deployment({{"app", "web"}}, {{"app", "web"}});
  neg["spec"]["replicas"] = -1;
  neg["spec"]["template"]["spec"]["restartPolicy"] = "Never";
  auto causes = Validate("apps", "deployments", neg);
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueInvalid", "spec.replicas",
                                       "Invalid value: -1: must be greater than or equal to 0")));
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                                       "Unsupported value: \"Never\": supported values: "
                                       "\"Always\"")));

  Json old = Defaulted("apps", "deployments", Deployment({{"app", "web"}}, {{"app", "web"}}));
  Json moved = Defaulted("apps", "deployments",
                         Deployment({{"app", "web"}, {"v", "2"}}, {{"app", "web"}, {"v", "2"}}));
  EXPECT_THAT(Validate("apps", "deployments", moved, &old),
              Contains(CauseIs("FieldValueInvalid", "spec.selector",
                               "Invalid value: {\"matchLabels\":{\"app\":\"web\",\"v\":\"2\"}}: "
                               "field is immutable")));
  Json scaled = old;
  scaled["spec"]["replicas"] = 5;
  EXPECT_THAT(Validate("apps", "deployments", scaled, &old), IsEmpty());
}

TEST(WorkloadValidationTest, StatefulSetAndDaemonSet) {
  Json sts = Deployment({{"app", "db"}}, {{"app", "db"}});
  sts["spec"]["serviceName"] = "db";
  EXPECT_THAT(Validate("apps", "statefulsets", sts), IsEmpty());
  Json old = Defaulted("apps", "statefulsets", sts);
  Json changed = old;
  changed["spec"]["serviceName"] = "other";
  EXPECT_THAT(Validate("apps", "statefulsets", changed, &old),
              HasField("FieldValueForbidden", "spec"));
  Json ds = Deployment({{"app", "agent"}}, {{"app", "agent"}});
  EXPECT_THAT(Validate("apps", "daemonsets", ds), IsEmpty());
  ds["spec"]["selector"] = Json::object();
  EXPECT_THAT(Validate("apps", "daemonsets", ds), HasField("FieldValueInvalid", "spec.selector"));
}

Json Job(std::string restart_policy) {
  return {{"metadata", {{"name", "pi"}, {"namespace", "default"}, {"uid", "u-1"}}},
          {"spec",
           {{"template",
             {{"spec",
               {{"restartPolicy", restart_policy},
                {"containers", {{{"name", "pi"}, {"image", "perl"}}}}}}}}}}};
}

Json CreatedJob(Json job) {
  const ResourceType& t = T("batch", "jobs");
  t.apply_defaults(job);
  t.prepare_for_create(job);
  return job;
}

TEST(JobValidationTest, RestartPolicyAndImmutability) {
  Json always = Job("");
  auto causes = T("batch", "jobs").validate(CreatedJob(always), nullptr);
  EXPECT_THAT(causes, Contains(CauseIs("FieldValueNotSupported", "spec.template.spec.restartPolicy",
                                       "Unsupported value: \"Always\": supported values: "
                                       "\"OnFailure\", \"Never\"")));
  Json old = CreatedJob(Job("Never"));
  EXPECT_THAT(T("batch", "jobs").validate(old, nullptr), IsEmpty());
  Json changed = old;
  changed["spec"]["template"]["spec"]["containers"][0]["image"] = "perl:2";
  EXPECT_THAT(T("batch", "jobs").validate(changed, &old),
              HasField("FieldValueInvalid", "spec.template"));
  Json selector = old;
  selector["spec"]["selector"]["matchLabels"]["x"] = "y";
  EXPECT_THAT(T("batch", "jobs").validate(selector, &old),
              HasField("FieldValueInvalid", "spec.selector"));
  Json parallel = old;
  parallel["spec"]["parallelism"] = 4;
  EXPECT_THAT(T("batch", "jobs").validate(parallel, &old), IsEmpty());

  Json cj = {{"metadata", Meta("tick")},
             {"spec", {{"jobTemplate", {{"spec", Job("OnFailure")["spec"]}}}}}};
  EXPECT_THAT(Validate("batch", "cronjobs", cj),
              ElementsAre(CauseIs("FieldValueRequired", "spec.schedule", "Required value")));
}

TEST(ConfigValidationTest, ConfigMapsAndSecrets) {
  Json cm = {{"metadata", Meta("cfg")}, {"data", {{"good.key", "v"}, {"bad key", "v"}}}};
  auto causes = Validate("", "configmaps", cm);
  ASSERT_EQ(causes.size(), 1u);
  EXPECT_EQ(causes[0].field, "data[bad key]");
  EXPECT_EQ(causes[0].type, "FieldValueInvalid");
  EXPECT_THAT(causes[0].message,
              ::testing::StartsWith("Invalid value: \"bad key\": a valid config key must consist "
                                    "of alphanumeric characters, '-', '_' or '.'"));
  Json big = {{"metadata", Meta("cfg")}, {"data", {{"k", std::string(1024 * 1024 + 1, 'x')}}}};
  EXPECT_THAT(Validate("", "configmaps", big),
              ElementsAre(CauseIs("FieldValueTooLong", "",
                                  "Too long: may not be more than 1048576 bytes")));

  Json immutable = {{"metadata", Meta("cfg")}, {"data", {{"k", "v"}}}, {"immutable", true}};
  Json edited = immutable;
  edited["data"]["k"] = "w";
  EXPECT_THAT(Validate("", "configmaps", edited, &immutable),
              HasField("FieldValueForbidden", "data"));

  Json tls = {
      {"metadata", Meta("cert")}, {"type", "kubernetes.io/tls"}, {"data", {{"tls.crt", ""}}}};
  EXPECT_THAT(Validate("", "secrets", tls),
              ElementsAre(CauseIs("FieldValueRequired", "data[tls.key]", "Required value")));
  Json opaque = Defaulted("", "secrets", {{"metadata", Meta("s")}});
  Json retyped = opaque;
  retyped["type"] = "kubernetes.io/basic-auth";
  retyped["data"] = {{"username", "YQ=="}};
  EXPECT_THAT(Validate("", "secrets", retyped, &opaque), HasField("FieldValueInvalid", "type"));
}

TEST(ClusterScopedValidationTest, NamespacesNodesRbac) {
  EXPECT_THAT(Validate("", "namespaces", {{"metadata", Meta("team-a", "")}}), IsEmpty());
  EXPECT_THAT(Validate("", "namespaces", {{"metadata", Meta("team.a", "")}}),
              HasField("FieldValueInvalid", "metadata.name"));
  EXPECT_THAT(Validate("", "namespaces", {{"metadata", Meta("team-a", "default")}}),
              Contains(CauseIs("FieldValueForbidden", "metadata.namespace",
                               "Forbidden: not allowed on this type")));
  Json ns_old = {{"metadata", Meta("a", "")}};
  EXPECT_THAT(Validate("", "namespaces", {{"metadata", Meta("b", "")}}, &ns_old),
              HasField("FieldValueInvalid", "metadata.name"));
  EXPECT_THAT(Validate("", "nodes", {{"metadata", Meta("node-1.example", "")}}), IsEmpty());

  Json node_event = {{"metadata", Meta("n1.1", "default")},
                     {"involvedObject", {{"kind", "Node"}, {"name", "n1"}}}};
  EXPECT_THAT(Validate("", "events", node_event), IsEmpty());
  Json wrong_ns = {{"metadata", Meta("p.1", "default")},
                   {"involvedObject", {{"kind", "Pod"}, {"name", "p"}, {"namespace", "team"}}}};
  EXPECT_THAT(Validate("", "events", wrong_ns),
              ElementsAre(CauseIs("FieldValueInvalid", "involvedObject.namespace",
                                  "Invalid value: \"team\": does not match event.namespace")));

  Json role = {{"metadata", Meta("system:reader")},
               {"rules", {{{"apiGroups", {""}}, {"resources", {"pods"}}}}}};
  EXPECT_THAT(Validate("rbac.authorization.k8s.io", "roles", role),
              ElementsAre(CauseIs("FieldValueRequired", "rules[0].verbs",
                                  "Required value: verbs must contain at least one value")));
  Json crb = {{"metadata", Meta("bind", "")},
              {"roleRef", {{"kind", "Role"}, {"name", "x"}}},
              {"subjects", {{{"kind", "ServiceAccount"}, {"name", "sa"}}}}};
  auto causes = Validate("rbac.authorization.k8s.io", "clusterrolebindings", crb);
  EXPECT_THAT(causes, HasField("FieldValueNotSupported", "roleRef.kind"));
  EXPECT_THAT(causes, HasField("FieldValueRequired", "subjects[0].namespace"));
}

}  // namespace
}  // namespace korral::api
