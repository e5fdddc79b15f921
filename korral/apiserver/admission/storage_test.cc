// Tests of the DefaultStorageClass and StorageObjectInUseProtection admission plugins.
#include "korral/apiserver/admission/storage.h"

#include <gtest/gtest.h>

#include "korral/api/resource.h"

namespace korral::apiserver::admission {
namespace {

using Json = nlohmann::json;

Json Class(const std::string& name, bool is_default, const std::string& created) {
  Json sc = {{"metadata", {{"name", name}, {"creationTimestamp", created}}},
             {"provisioner", "example.com/x"}};
  if (is_default) {
    sc["metadata"]["annotations"] = {{"storageclass.kubernetes.io/is-default-class", "true"}};
  }
  return sc;
}

Request Create(const char* resource, Json* obj) {
  Request r;
  r.op = Operation::kCreate;
  r.type = api::FindResourceType("", "v1", resource);
  r.ns = "default";
  r.object = obj;
  return r;
}

TEST(DefaultStorageClassTest, ClaimsWithoutAClassGetTheNewestDefault) {
  std::vector<Json> classes = {Class("slow", false, "2026-01-03T00:00:00Z"),
                               Class("old-default", true, "2026-01-01T00:00:00Z"),
                               Class("b-default", true, "2026-01-02T00:00:00Z"),
                               Class("a-default", true, "2026-01-02T00:00:00Z")};
  auto p = NewDefaultStorageClass([&] { return classes; });
  EXPECT_STREQ(p->Name(), "DefaultStorageClass");
  Json pvc = {{"metadata", {{"name", "c"}}}, {"spec", {{"accessModes", {"ReadWriteOnce"}}}}};
  Request r = Create("persistentvolumeclaims", &pvc);
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_EQ(pvc["spec"]["storageClassName"], "a-default");

  // An explicit class, even "", and the beta annotation are kept.
  Json empty = {{"metadata", {{"name", "c"}}}, {"spec", {{"storageClassName", ""}}}};
  r = Create("persistentvolumeclaims", &empty);
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_EQ(empty["spec"]["storageClassName"], "");
  Json beta = {
      {"metadata",
       {{"name", "c"}, {"annotations", {{"volume.beta.kubernetes.io/storage-class", "slow"}}}}},
      {"spec", Json::object()}};
  r = Create("persistentvolumeclaims", &beta);
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_FALSE(beta["spec"].contains("storageClassName"));

  // Updates and other resources are left alone; no default: nothing set.
  Json upd = {{"metadata", {{"name", "c"}}}, {"spec", Json::object()}};
  r = Create("persistentvolumeclaims", &upd);
  r.op = Operation::kUpdate;
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_FALSE(upd["spec"].contains("storageClassName"));
  classes = {Class("slow", false, "2026-01-03T00:00:00Z")};
  Json none = {{"metadata", {{"name", "c"}}}, {"spec", Json::object()}};
  r = Create("persistentvolumeclaims", &none);
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_FALSE(none["spec"].contains("storageClassName"));
}

TEST(StorageObjectInUseProtectionTest, AddsFinalizersOnCreateOnce) {
  auto p = NewStorageObjectInUseProtection();
  Json pvc = {{"metadata", {{"name", "c"}, {"finalizers", {"example.com/keep"}}}}};
  Request r = Create("persistentvolumeclaims", &pvc);
  ASSERT_TRUE(p->Admit(r).ok());
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_EQ(pvc["metadata"]["finalizers"],
            Json({"example.com/keep", "kubernetes.io/pvc-protection"}));
  Json pv = {{"metadata", {{"name", "v"}}}};
  r = Create("persistentvolumes", &pv);
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_EQ(pv["metadata"]["finalizers"], Json({"kubernetes.io/pv-protection"}));
  Json pod = {{"metadata", {{"name", "p"}}}};
  r = Create("pods", &pod);
  ASSERT_TRUE(p->Admit(r).ok());
  EXPECT_FALSE(pod["metadata"].contains("finalizers"));
}

TEST(StorageAdmissionTest, ChainKnowsThePluginsByDefault) {
  auto names = DefaultPlugins();
  EXPECT_NE(std::find(names.begin(), names.end(), "DefaultStorageClass"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "StorageObjectInUseProtection"), names.end());
  EXPECT_EQ(NewStoragePlugin("Priority", nullptr), nullptr);
  EXPECT_NE(NewStoragePlugin("DefaultStorageClass", nullptr), nullptr);
}

}  // namespace
}  // namespace korral::apiserver::admission
