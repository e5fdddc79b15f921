#include "korral/apimachinery/patch/managed.h"

#include <gtest/gtest.h>

#include "korral/apimachinery/errors.h"

namespace korral::patch {
namespace {

const schema::Schema* Deployment() { return schema::FindKindSchema("apps/v1", "Deployment"); }

ManagedOptions Opts(std::string manager, std::string now = "2026-01-01T00:00:00Z") {
  ManagedOptions o;
  o.manager = std::move(manager);
  o.api_version = "apps/v1";
  o.kind = "Deployment";
  o.now = std::move(now);
  o.ignore_status = true;
  return o;
}

Json Config(int replicas, const char* image) {
  Json c = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"d","labels":{"app":"d"}},
      "spec":{"template":{"spec":{"containers":[{"name":"c"}]}}}})");
  c["spec"]["replicas"] = replicas;
  c["spec"]["template"]["spec"]["containers"][0]["image"] = image;
  return c;
}

const ManagedEntry* Find(const std::vector<ManagedEntry>& es, const std::string& m,
                         const std::string& op) {
  for (const auto& e : es)
    if (e.manager == m && e.operation == op) return &e;
  return nullptr;
}

// The in-place operations agree with the copying ones on overlapping, nested sets.
TEST(FieldSet, InPlaceUnionAndSubtractMatchTheCopyingOnes) {
  auto set = [](const char* fields_v1) { return *FieldSet::FromFieldsV1(Json::parse(fields_v1)); };
  const FieldSet a = set(
      R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}}}})");
  const FieldSet b = set(
      R"({"f:metadata":{"f:labels":{"f:tier":{}}},"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{"f:image":{}}}}}},"f:data":{}})");
  FieldSet u = a;
  u.UnionWith(FieldSet(b));
  EXPECT_EQ(u, a.Union(b));
  EXPECT_EQ(u.ToFieldsV1(), a.Union(b).ToFieldsV1());
  FieldSet d = a;
  d.Subtract(b);
  EXPECT_EQ(d, a.Difference(b));
  // Subtracting everything leaves nothing; subtracting nothing changes nothing.
  FieldSet all = a;
  all.Subtract(a);
  EXPECT_TRUE(all.Empty());
  FieldSet same = a;
  same.Subtract(FieldSet());
  EXPECT_EQ(same, a);
  // Only the listed leaves go: replicas and the container image, not the labels.
  EXPECT_EQ(d.PathStrings(),
            (std::vector<std::string>{".metadata.labels", ".metadata.labels.app",
                                      ".spec.template.spec.containers[name=\"c\"]"}));
}

TEST(FieldSet, FieldsV1RoundTripAndPaths) {
  Json f = Json::parse(
      R"({"f:metadata":{"f:labels":{".":{},"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{},"f:image":{}}}}})");
  auto fs = FieldSet::FromFieldsV1(f);
  ASSERT_TRUE(fs.ok());
  EXPECT_EQ(fs->ToFieldsV1(), f);
  auto paths = fs->PathStrings();
  EXPECT_NE(std::find(paths.begin(), paths.end(), ".spec.containers[name=\"c\"].image"),
            paths.end());
  EXPECT_FALSE(FieldSet::FromFieldsV1(Json::parse(R"({"x:y":{}})")).ok());
}

TEST(Managed, ToFieldSetUsesListKeys) {
  FieldSet fs = ToFieldSet(Config(2, "nginx"), Deployment());
  Json j = fs.ToFieldsV1();
  EXPECT_TRUE(j["f:spec"]["f:template"]["f:spec"]["f:containers"].contains(R"(k:{"name":"c"})"));
  EXPECT_TRUE(j["f:spec"].contains("f:replicas"));
}

TEST(Managed, CreateRecordsUpdateEntry) {
  Json obj = Config(1, "nginx");
  ASSERT_TRUE(RecordUpdate(nullptr, obj, Deployment(), Opts("kubectl-create")).ok());
  auto es = DecodeManagedFields(obj);
  ASSERT_TRUE(es.ok());
  ASSERT_EQ(es->size(), 1u);
  EXPECT_EQ((*es)[0].manager, "kubectl-create");
  EXPECT_EQ((*es)[0].operation, "Update");
  EXPECT_EQ(obj["metadata"]["managedFields"][0]["fieldsType"], "FieldsV1");
  Json f = obj["metadata"]["managedFields"][0]["fieldsV1"];
  EXPECT_TRUE(f["f:spec"].contains("f:replicas"));
  EXPECT_FALSE(f.contains("f:apiVersion"));
  EXPECT_FALSE(f["f:metadata"].contains("f:name"));
}

// A create's one-walk path gives exactly what the general comparison gives (old = {} takes
// the general path): associative and set lists, atomic maps, empty values, status and the
// server-owned metadata fields.
TEST(Managed, CreateFastPathMatchesTheGeneralPath) {
  const Json empty = Json::object();
  auto pod = Json::parse(R"({"apiVersion":"v1","kind":"Pod",
      "metadata":{"name":"p","namespace":"default","uid":"u","generateName":"p-",
                  "creationTimestamp":"2026-01-01T00:00:00Z","labels":{"app":"x"},
                  "annotations":{},"finalizers":["a","b"],
                  "ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"rs","uid":"o",
                                      "controller":true}]},
      "spec":{"containers":[{"name":"c","image":"busybox","ports":[{"containerPort":80,"protocol":"TCP"}],
                             "env":[{"name":"A","value":"1"},{"name":"B"}],"resources":{}}],
              "nodeSelector":{"k":"v"},"tolerations":[{"key":"t","operator":"Exists"}],
              "volumes":[]},
      "status":{"phase":"Pending","conditions":[{"type":"Ready","status":"False"}]}})");
  const schema::Schema* pod_schema = schema::FindKindSchema("v1", "Pod");
  for (bool ignore_status : {true, false}) {
    ManagedOptions o = Opts("kubelet");
    o.api_version = "v1";
    o.kind = "Pod";
    o.ignore_status = ignore_status;
    Json fast = pod, general = pod;
    ASSERT_TRUE(RecordUpdate(nullptr, fast, pod_schema, o).ok());
    ASSERT_TRUE(RecordUpdate(&empty, general, pod_schema, o).ok());
    EXPECT_EQ(fast, general) << fast["metadata"]["managedFields"].dump();
  }
  Json dep = Config(3, "nginx"), dep_general = Config(3, "nginx");
  ManagedOptions o = Opts("kubectl-create");
  o.subresource = "scale";
  ASSERT_TRUE(RecordUpdate(nullptr, dep, Deployment(), o).ok());
  ASSERT_TRUE(RecordUpdate(&empty, dep_general, Deployment(), o).ok());
  EXPECT_EQ(dep, dep_general);
  // Nothing trackable: no managedFields at all, on both paths.
  Json bare = {{"apiVersion", "apps/v1"}, {"kind", "Deployment"}, {"metadata", {{"name", "d"}}}};
  Json bare_general = bare;
  ASSERT_TRUE(RecordUpdate(nullptr, bare, Deployment(), Opts("m")).ok());
  ASSERT_TRUE(RecordUpdate(&empty, bare_general, Deployment(), Opts("m")).ok());
  EXPECT_EQ(bare, bare_general);
  EXPECT_FALSE(bare["metadata"].contains("managedFields"));
}

TEST(Managed, UpdateMovesOwnership) {
  Json obj = Config(1, "nginx");
  ASSERT_TRUE(RecordUpdate(nullptr, obj, Deployment(), Opts("a")).ok());
  Json next = obj;
  next["spec"]["replicas"] = 5;
  ASSERT_TRUE(RecordUpdate(&obj, next, Deployment(), Opts("b")).ok());
  auto es = *DecodeManagedFields(next);
  ASSERT_NE(Find(es, "b", "Update"), nullptr);
  EXPECT_TRUE(Find(es, "b", "Update")->fields.ToFieldsV1()["f:spec"].contains("f:replicas"));
  EXPECT_FALSE(Find(es, "a", "Update")->fields.ToFieldsV1()["f:spec"].contains("f:replicas"));
}

TEST(Managed, ApplyCreatesThenConflictsThenForce) {
  auto created = Apply(nullptr, Config(2, "nginx"), Deployment(), Opts("alice"), false);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["spec"]["replicas"], 2);
  // Same values from another manager: shared ownership, no conflict.
  auto shared = Apply(&*created, Config(2, "nginx"), Deployment(), Opts("bob"), false);
  ASSERT_TRUE(shared.ok()) << shared.status();
  // A different value: conflict with alice (and bob, who co-owns it now? no: bob applies).
  auto conflict = Apply(&*shared, Config(3, "nginx"), Deployment(), Opts("bob"), false);
  ASSERT_FALSE(conflict.ok());
  Json st = apierrors::ToStatusObject(conflict.status());
  EXPECT_EQ(st["code"], 409);
  EXPECT_EQ(st["reason"], "Conflict");
  EXPECT_EQ(st["message"], "Apply failed with 1 conflict: conflict with \"alice\": .spec.replicas");
  EXPECT_EQ(st["details"]["causes"][0]["reason"], "FieldManagerConflict");
  EXPECT_EQ(st["details"]["causes"][0]["field"], ".spec.replicas");
  auto forced = Apply(&*shared, Config(3, "nginx"), Deployment(), Opts("bob"), true);
  ASSERT_TRUE(forced.ok());
  EXPECT_EQ((*forced)["spec"]["replicas"], 3);
  auto es = *DecodeManagedFields(*forced);
  EXPECT_FALSE(Find(es, "alice", "Apply")->fields.ToFieldsV1()["f:spec"].contains("f:replicas"));
}

TEST(Managed, ConflictWithUpdateManagerNamesApiVersion) {
  Json obj = Config(1, "nginx");
  ASSERT_TRUE(RecordUpdate(nullptr, obj, Deployment(), Opts("kubectl-client-side-apply")).ok());
  auto out = Apply(&obj, Config(4, "nginx"), Deployment(), Opts("kubectl"), false);
  ASSERT_FALSE(out.ok());
  Json st = apierrors::ToStatusObject(out.status());
  EXPECT_EQ(st["details"]["causes"][0]["message"],
            "conflict with \"kubectl-client-side-apply\" using apps/v1");
}

TEST(Managed, FieldsNoLongerAppliedAreRemoved) {
  Json cfg = Config(2, "nginx");
  cfg["metadata"]["labels"]["extra"] = "x";
  auto first = Apply(nullptr, cfg, Deployment(), Opts("alice"), false);
  ASSERT_TRUE(first.ok());
  auto second = Apply(&*first, Config(2, "nginx"), Deployment(), Opts("alice"), false);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE((*second)["metadata"]["labels"].contains("extra"));
  EXPECT_EQ((*second)["metadata"]["labels"]["app"], "d");
  // Owned by someone else too: kept.
  auto third = Apply(&*first, cfg, Deployment(), Opts("bob"), false);
  ASSERT_TRUE(third.ok());
  auto fourth = Apply(&*third, Config(2, "nginx"), Deployment(), Opts("alice"), false);
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ((*fourth)["metadata"]["labels"]["extra"], "x");
}

TEST(Managed, AssociativeListMergesByKey) {
  auto first = Apply(nullptr, Config(1, "nginx"), Deployment(), Opts("alice"), false);
  ASSERT_TRUE(first.ok());
  Json sidecar = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment",
      "metadata":{"name":"d"},
      "spec":{"template":{"spec":{"containers":[{"name":"s","image":"busybox"}]}}}})");
  auto second = Apply(&*first, sidecar, Deployment(), Opts("bob"), false);
  ASSERT_TRUE(second.ok()) << second.status();
  const Json& cs = (*second)["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(cs.size(), 2u);
  EXPECT_EQ(cs[0]["name"], "c");
  EXPECT_EQ(cs[1]["name"], "s");
}

TEST(Managed, ApplyValidatesConfig) {
  Json cfg = Config(1, "x");
  cfg["apiVersion"] = "apps/v2";
  EXPECT_EQ(apierrors::HttpCode(Apply(nullptr, cfg, Deployment(), Opts("a"), false).status()), 400);
  cfg = Config(1, "x");
  cfg["metadata"]["managedFields"] = Json::array();
  EXPECT_EQ(apierrors::HttpCode(Apply(nullptr, cfg, Deployment(), Opts("a"), false).status()), 400);
}

TEST(Managed, ManagerFromUserAgent) {
  EXPECT_EQ(ManagerFromUserAgent("kubectl/v1.32.0 (linux/amd64) kubernetes/abc"), "kubectl");
  EXPECT_EQ(ManagerFromUserAgent("OpenAPI-Generator/31.0.0/python"), "OpenAPI-Generator");
  EXPECT_EQ(ManagerFromUserAgent(std::string(300, 'a')).size(), 128u);
}

}  // namespace
}  // namespace korral::patch
