// Tests of the pvc-protection and pv-protection controllers.
#include "korral/controllers/volume/protection.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"
#include "korral/controllers/volume/pv_controller.h"

namespace korral::controllers::volume {
namespace {

Json Claim(const std::string& name, bool deleting, bool finalizer = true) {
  Json c = {{"metadata", {{"name", name}, {"namespace", "default"}}},
            {"spec", {{"accessModes", {"ReadWriteOnce"}}}}};
  if (finalizer) c["metadata"]["finalizers"] = {kPvcProtectionFinalizer};
  if (deleting) c["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
  return c;
}

Json Pod(const std::string& name, const std::string& claim, const std::string& node) {
  Json p = {
      {"metadata", {{"name", name}, {"namespace", "default"}}},
      {"spec",
       {{"containers", {{{"name", "c"}, {"image", "busybox"}}}},
        {"volumes", {{{"name", "data"}, {"persistentVolumeClaim", {{"claimName", claim}}}}}}}}};
  if (!node.empty()) p["spec"]["nodeName"] = node;
  return p;
}

Json Finalizers(client::Client& c, const client::ResourceRef& ref, const std::string& ns,
                const std::string& name) {
  auto o = c.Get(ref, ns, name);
  if (!o.ok()) return nullptr;
  return (*o)["metadata"].value("finalizers", Json::array());
}

TEST(PvcProtectionTest, KeepsTheFinalizerWhileAScheduledPodUsesTheClaim) {
  ControllerTestEnv env;
  PvcProtectionController c(env.ctx);
  auto stop = env.StopInformersOnExit();
  env.StartInformers();
  auto pvcs = PersistentVolumeClaimsRef();
  auto pods = client::resources::Pods();
  ASSERT_TRUE(env.client.Create(pvcs, "default", Claim("used", true)).ok());
  ASSERT_TRUE(env.client.Create(pvcs, "default", Claim("free", true)).ok());
  ASSERT_TRUE(env.client.Create(pvcs, "default", Claim("old", false, false)).ok());
  ASSERT_TRUE(env.client.Create(pods, "default", Pod("runs", "used", "n1")).ok());
  ASSERT_TRUE(env.client.Create(pods, "default", Pod("pending", "free", "")).ok());
  for (const char* k : {"default/used", "default/free", "default/old"}) {
    ASSERT_TRUE(env.WaitForCache(pvcs, k));
  }
  ASSERT_TRUE(env.WaitForCache(pods, "default/runs"));
  ASSERT_TRUE(c.Sync("default/used").ok());
  ASSERT_TRUE(c.Sync("default/free").ok());
  ASSERT_TRUE(c.Sync("default/old").ok());
  EXPECT_EQ(Finalizers(env.client, pvcs, "default", "used"), Json({kPvcProtectionFinalizer}));
  // Only scheduled pods count.
  EXPECT_EQ(Finalizers(env.client, pvcs, "default", "free"), Json::array());
  // A live claim without the finalizer gets it.
  EXPECT_EQ(Finalizers(env.client, pvcs, "default", "old"), Json({kPvcProtectionFinalizer}));

  // A pod the cache has not seen yet still counts (live list).
  ASSERT_TRUE(env.client.Create(pvcs, "default", Claim("fresh", true)).ok());
  ASSERT_TRUE(env.WaitForCache(pvcs, "default/fresh"));
  ASSERT_TRUE(env.client.Create(pods, "default", Pod("new", "fresh", "n2")).ok());
  ASSERT_TRUE(c.Sync("default/fresh").ok());
  EXPECT_EQ(Finalizers(env.client, pvcs, "default", "fresh"), Json({kPvcProtectionFinalizer}));

  // The pod goes away: its deletion event queues the claim, which loses the finalizer.
  c.Run(1);
  ASSERT_TRUE(env.client.Delete(pods, "default", "runs").ok());
  EXPECT_TRUE(
      Eventually([&] { return Finalizers(env.client, pvcs, "default", "used") == Json::array(); }));
  c.Stop();
}

TEST(PvcProtectionTest, PodUsesClaim) {
  Json claim = Claim("data", false);
  claim["metadata"]["uid"] = "claim-uid";
  EXPECT_TRUE(PodUsesClaim(Pod("p", "data", "n1"), claim));
  EXPECT_FALSE(PodUsesClaim(Pod("p", "data", ""), claim));
  EXPECT_FALSE(PodUsesClaim(Pod("p", "other", "n1"), claim));
  Json eph = {
      {"metadata", {{"name", "web"}, {"namespace", "default"}, {"uid", "pod-uid"}}},
      {"spec",
       {{"nodeName", "n1"}, {"volumes", {{{"name", "scratch"}, {"ephemeral", Json::object()}}}}}}};
  Json eclaim = Claim("web-scratch", false);
  EXPECT_FALSE(PodUsesClaim(eph, eclaim));  // not owned by the pod
  eclaim["metadata"]["ownerReferences"] = {{{"uid", "pod-uid"}, {"kind", "Pod"}, {"name", "web"}}};
  EXPECT_TRUE(PodUsesClaim(eph, eclaim));
  eph["status"]["phase"] = "Succeeded";
  EXPECT_FALSE(PodUsesClaim(eph, eclaim));
}

TEST(PvProtectionTest, RemovesTheFinalizerOnlyWhenNotBound) {
  ControllerTestEnv env;
  PvProtectionController c(env.ctx);
  auto stop = env.StopInformersOnExit();
  env.StartInformers();
  auto pvs = PersistentVolumesRef();
  auto make = [](const std::string& name, const std::string& phase, bool deleting, bool fin) {
    Json pv = {{"metadata", {{"name", name}}}, {"status", {{"phase", phase}}}};
    if (fin) pv["metadata"]["finalizers"] = {kPvProtectionFinalizer};
    if (deleting) pv["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z";
    return pv;
  };
  ASSERT_TRUE(env.client.Create(pvs, "", make("bound", "Bound", true, true)).ok());
  ASSERT_TRUE(env.client.Create(pvs, "", make("released", "Released", true, true)).ok());
  ASSERT_TRUE(env.client.Create(pvs, "", make("bare", "Available", false, false)).ok());
  for (const char* k : {"bound", "released", "bare"}) ASSERT_TRUE(env.WaitForCache(pvs, k));
  for (const char* k : {"bound", "released", "bare"}) ASSERT_TRUE(c.Sync(k).ok());
  EXPECT_EQ(Finalizers(env.client, pvs, "", "bound"), Json({kPvProtectionFinalizer}));
  EXPECT_EQ(Finalizers(env.client, pvs, "", "released"), Json::array());
  EXPECT_EQ(Finalizers(env.client, pvs, "", "bare"), Json({kPvProtectionFinalizer}));
}

}  // namespace
}  // namespace korral::controllers::volume
