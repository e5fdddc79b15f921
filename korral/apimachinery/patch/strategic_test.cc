// Conformance table for strategic merge patch: each case is upstream's documented behaviour
// (the strategic-merge-patch design doc and the kubectl apply/patch documentation).
#include "korral/apimachinery/patch/strategic.h"

#include <gtest/gtest.h>

#include "korral/apimachinery/errors.h"

namespace korral::patch {
namespace {

struct Case {
  const char* name;
  const char* api_version;
  const char* kind;
  const char* original;
  const char* patch;
  const char* want;  // nullptr: an error with `code`
  int code = 0;
};

const Case kCases[] = {
    {"containers merge by name", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:1"}]}})",
     R"({"spec":{"containers":[{"name":"b","image":"b:2"}]}})",
     R"({"spec":{"containers":[{"name":"a","image":"a:1"},{"name":"b","image":"b:2"}]}})"},
    {"new container appended", "v1", "Pod", R"({"spec":{"containers":[{"name":"a"}]}})",
     R"({"spec":{"containers":[{"name":"c","image":"c"}]}})",
     R"({"spec":{"containers":[{"name":"a"},{"name":"c","image":"c"}]}})"},
    {"$patch delete removes a list element", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a"},{"name":"b"}]}})",
     R"({"spec":{"containers":[{"name":"a","$patch":"delete"}]}})",
     R"({"spec":{"containers":[{"name":"b"}]}})"},
    {"$patch replace in a list replaces the list", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a","image":"x"},{"name":"b"}]}})",
     R"({"spec":{"containers":[{"name":"c"},{"$patch":"replace"}]}})",
     R"({"spec":{"containers":[{"name":"c"}]}})"},
    {"$setElementOrder reorders", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a"},{"name":"b"},{"name":"c"}]}})",
     R"({"spec":{"$setElementOrder/containers":[{"name":"c"},{"name":"a"},{"name":"b"}]}})",
     R"({"spec":{"containers":[{"name":"c"},{"name":"a"},{"name":"b"}]}})"},
    {"$setElementOrder with a changed element (kubectl apply)", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a","image":"1"},{"name":"b","image":"1"}]}})",
     R"({"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}],
        "containers":[{"name":"a","image":"2"}]}})",
     R"({"spec":{"containers":[{"name":"b","image":"1"},{"name":"a","image":"2"}]}})"},
    {"null deletes a map key", "v1", "Pod", R"({"metadata":{"labels":{"a":"1","b":"2"}}})",
     R"({"metadata":{"labels":{"a":null,"c":"3"}}})",
     R"({"metadata":{"labels":{"b":"2","c":"3"}}})"},
    {"finalizers merge as a set", "v1", "Pod", R"({"metadata":{"finalizers":["a","b"]}})",
     R"({"metadata":{"finalizers":["c","a"]}})", R"({"metadata":{"finalizers":["a","b","c"]}})"},
    {"$deleteFromPrimitiveList", "v1", "Pod", R"({"metadata":{"finalizers":["a","b","c"]}})",
     R"({"metadata":{"$deleteFromPrimitiveList/finalizers":["b"]}})",
     R"({"metadata":{"finalizers":["a","c"]}})"},
    {"$setElementOrder on a primitive list", "v1", "Pod",
     R"({"metadata":{"finalizers":["a","b"]}})",
     R"({"metadata":{"$setElementOrder/finalizers":["b","a"]}})",
     R"({"metadata":{"finalizers":["b","a"]}})"},
    {"$retainKeys switches a volume source", "v1", "Pod",
     R"({"spec":{"volumes":[{"name":"v","emptyDir":{}}]}})",
     R"({"spec":{"volumes":[{"name":"v","$retainKeys":["hostPath","name"],"hostPath":{"path":"/x"}}]}})",
     R"({"spec":{"volumes":[{"name":"v","hostPath":{"path":"/x"}}]}})"},
    {"deployment strategy $retainKeys", "apps/v1", "Deployment",
     R"({"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1}}}})",
     R"({"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}})",
     R"({"spec":{"strategy":{"type":"Recreate"}}})"},
    {"container ports merge by containerPort", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"http"}]}]}})",
     R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"web"},{"containerPort":443}]}]}})",
     R"({"spec":{"containers":[{"name":"a","ports":[{"containerPort":80,"name":"web"},{"containerPort":443}]}]}})"},
    {"service ports merge by port", "v1", "Service",
     R"({"spec":{"ports":[{"port":80,"targetPort":8080},{"port":443}]}})",
     R"({"spec":{"ports":[{"port":80,"targetPort":9090}]}})",
     R"({"spec":{"ports":[{"port":80,"targetPort":9090},{"port":443}]}})"},
    {"env merge by name and delete", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"},{"name":"Y","value":"2"}]}]}})",
     R"({"spec":{"containers":[{"name":"a","env":[{"name":"X","$patch":"delete"},{"name":"Z","value":"3"}]}]}})",
     R"({"spec":{"containers":[{"name":"a","env":[{"name":"Y","value":"2"},{"name":"Z","value":"3"}]}]}})"},
    {"atomic list (args) is replaced", "v1", "Pod",
     R"({"spec":{"containers":[{"name":"a","args":["1","2"]}]}})",
     R"({"spec":{"containers":[{"name":"a","args":["3"]}]}})",
     R"({"spec":{"containers":[{"name":"a","args":["3"]}]}})"},
    {"tolerations have no merge strategy: replaced", "v1", "Pod",
     R"({"spec":{"tolerations":[{"key":"a"},{"key":"b"}]}})",
     R"({"spec":{"tolerations":[{"key":"c"}]}})", R"({"spec":{"tolerations":[{"key":"c"}]}})"},
    {"$patch replace on a map", "v1", "Pod",
     R"({"spec":{"securityContext":{"runAsUser":1,"runAsGroup":2}}})",
     R"({"spec":{"securityContext":{"$patch":"replace","runAsUser":5}}})",
     R"({"spec":{"securityContext":{"runAsUser":5}}})"},
    {"$patch delete on a map", "v1", "Pod",
     R"({"spec":{"securityContext":{"runAsUser":1},"hostname":"h"}})",
     R"({"spec":{"securityContext":{"$patch":"delete"}}})", R"({"spec":{"hostname":"h"}})"},
    {"ownerReferences merge by uid", "v1", "Pod",
     R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"}]}})",
     R"({"metadata":{"ownerReferences":[{"uid":"2","name":"b"}]}})",
     R"({"metadata":{"ownerReferences":[{"uid":"1","name":"a"},{"uid":"2","name":"b"}]}})"},
    {"free-form map (configmap data) merges", "v1", "ConfigMap", R"({"data":{"a":"1"}})",
     R"({"data":{"b":"2"}})", R"({"data":{"a":"1","b":"2"}})"},
    {"scalar replaced, absent key added", "apps/v1", "Deployment", R"({"spec":{"replicas":1}})",
     R"({"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"n","image":"i"}]}}}})",
     R"({"spec":{"replicas":3,"template":{"spec":{"containers":[{"name":"n","image":"i"}]}}}})"},
    {"directives inside a new subtree are dropped", "v1", "Pod", R"({})",
     R"({"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"}]}],
        "$setElementOrder/containers":[{"name":"a"}]}})",
     R"({"spec":{"containers":[{"name":"a","env":[{"name":"X","value":"1"}]}]}})"},
    {"merge key missing", "v1", "Pod", R"({"spec":{"containers":[{"name":"a"}]}})",
     R"({"spec":{"containers":[{"image":"x"}]}})", nullptr, 400},
    {"unknown $patch", "v1", "Pod", R"({"spec":{}})", R"({"spec":{"$patch":"explode"}})", nullptr,
     400},
    {"$setElementOrder must be a list", "v1", "Pod", R"({"spec":{"containers":[]}})",
     R"({"spec":{"$setElementOrder/containers":{"name":"a"}}})", nullptr, 400},
    {"$retainKeys must be a list", "apps/v1", "Deployment", R"({"spec":{"strategy":{}}})",
     R"({"spec":{"strategy":{"$retainKeys":"type"}}})", nullptr, 400},
    {"patch outside $retainKeys", "apps/v1", "Deployment", R"({"spec":{"strategy":{}}})",
     R"({"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}})", nullptr, 422},
    {"$deleteFromPrimitiveList must be a list", "v1", "Pod", R"({"metadata":{}})",
     R"({"metadata":{"$deleteFromPrimitiveList/finalizers":"a"}})", nullptr, 400},
    {"lists of lists", "v1", "Pod", R"({"spec":{"containers":[]}})",
     R"({"spec":{"containers":[[1]]}})", nullptr, 422},
    {"patch must be an object", "v1", "Pod", R"({})", R"([1])", nullptr, 400},
};

TEST(StrategicMergePatch, ConformanceTable) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    const schema::Schema* type = schema::FindKindSchema(c.api_version, c.kind);
    ASSERT_NE(type, nullptr);
    Json orig = Json::parse(c.original);
    Json before = orig;
    auto out = StrategicMergePatch(orig, Json::parse(c.patch), type);
    EXPECT_EQ(orig, before) << "the original must not change";
    if (c.want) {
      ASSERT_TRUE(out.ok()) << out.status();
      EXPECT_EQ(*out, Json::parse(c.want));
    } else {
      ASSERT_FALSE(out.ok());
      EXPECT_EQ(apierrors::HttpCode(out.status()), c.code) << out.status();
    }
  }
}

TEST(StrategicMergePatch, ListInfoFromSchema) {
  const schema::Schema* pod = schema::FindKindSchema("v1", "Pod");
  FieldSchema spec = ChildSchema(pod, "spec");
  FieldSchema containers = ChildSchema(spec.type, "containers");
  ListInfo info = ListInfoOf(containers.node);
  EXPECT_EQ(info.kind, ListInfo::kMap);
  EXPECT_EQ(info.merge_key, "name");
  EXPECT_TRUE(info.merge);
  FieldSchema ports = ChildSchema(ListItemSchema(containers.node), "ports");
  EXPECT_EQ(ListInfoOf(ports.node).merge_key, "containerPort");
  EXPECT_EQ(ListInfoOf(ports.node).keys, (std::vector<std::string>{"containerPort", "protocol"}));
  FieldSchema tol = ChildSchema(spec.type, "tolerations");
  EXPECT_EQ(ListInfoOf(tol.node).kind, ListInfo::kAtomic);
  FieldSchema fin = ChildSchema(ChildSchema(pod, "metadata").type, "finalizers");
  EXPECT_EQ(ListInfoOf(fin.node).kind, ListInfo::kSet);
}

}  // namespace
}  // namespace korral::patch
