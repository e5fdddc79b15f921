// Tests of the garbage collector against the fake client. The fake does not run finalizers, so
// the apiserver's part of Foreground/Orphan deletion (deletionTimestamp + finalizer) is created
// directly.
#include "korral/controllers/garbagecollector/garbagecollector.h"

#include <gtest/gtest.h>

#include "korral/controllers/testing.h"

namespace korral::controllers {
namespace {

using client::resources::Pods;
using client::resources::ReplicaSets;
const client::ResourceRef kClusterRoles{"rbac.authorization.k8s.io", "v1", "clusterroles", false};

Json OwnerRef(const Json& owner, bool block = false) {
  return {{"apiVersion", "apps/v1"}, {"kind", "ReplicaSet"}, {"name", NameOf(owner)},
          {"uid", UidOf(owner)},     {"controller", true},   {"blockOwnerDeletion", block}};
}

class GarbageCollectorTest : public ::testing::Test {
 protected:
  Json Make(const client::ResourceRef& r, const std::string& ns, const std::string& name,
            Json owners = Json::array(), Json extra_meta = Json::object()) {
    Json meta = {{"name", name}};
    if (!owners.empty()) meta["ownerReferences"] = owners;
    meta.merge_patch(extra_meta);
    auto c = env.client.Create(r, ns, {{"metadata", meta}});
    EXPECT_TRUE(c.ok()) << c.status();
    return *c;
  }
  bool Exists(const client::ResourceRef& r, const std::string& ns, const std::string& name) {
    return env.client.Get(r, ns, name).ok();
  }
  // Runs the collector until `cond` holds (events arrive asynchronously).
  bool RunUntil(const std::function<bool()>& cond) {
    return Eventually([&] {
      gc->worker().ProcessAll();
      return cond();
    });
  }
  // Informers call into the collector: stop them before it is destroyed.
  void TearDown() override { env.informers->Stop(); }
  void Start() {
    gc = std::make_unique<GarbageCollector>(env.ctx);
    env.StartInformers();
  }

  ControllerTestEnv env;
  std::unique_ptr<GarbageCollector> gc;
};

TEST_F(GarbageCollectorTest, BackgroundDeletesDependentsOfDeletedOwner) {
  Json rs = Make(ReplicaSets(), "default", "rs");
  Make(Pods(), "default", "p1", {OwnerRef(rs)});
  Make(Pods(), "default", "p2", {OwnerRef(rs)});
  Make(Pods(), "default", "free");
  Start();
  ASSERT_TRUE(RunUntil([&] { return gc->GraphSize() >= 4; }));
  EXPECT_TRUE(Exists(Pods(), "default", "p1"));
  ASSERT_TRUE(env.client.Delete(ReplicaSets(), "default", "rs").ok());
  EXPECT_TRUE(RunUntil(
      [&] { return !Exists(Pods(), "default", "p1") && !Exists(Pods(), "default", "p2"); }));
  EXPECT_TRUE(Exists(Pods(), "default", "free"));
}

TEST_F(GarbageCollectorTest, DanglingReferencesAtStartupAndUidMismatch) {
  Json rs = Make(ReplicaSets(), "default", "rs");
  Json fake_owner = rs;
  fake_owner["metadata"]["uid"] = "not-the-uid";
  Make(Pods(), "default", "wrong-uid", {OwnerRef(fake_owner)});
  Json ghost = {{"metadata", {{"name", "ghost"}, {"uid", "ghost-uid"}}}};
  Make(Pods(), "default", "orphaned", {OwnerRef(ghost)});
  Make(Pods(), "default", "owned", {OwnerRef(rs)});
  Start();
  EXPECT_TRUE(RunUntil([&] {
    return !Exists(Pods(), "default", "wrong-uid") && !Exists(Pods(), "default", "orphaned");
  }));
  EXPECT_TRUE(Exists(Pods(), "default", "owned"));
}

TEST_F(GarbageCollectorTest, SolidOwnerKeepsDependentAndDropsDanglingRef) {
  Json rs = Make(ReplicaSets(), "default", "rs");
  Json ghost = {{"metadata", {{"name", "ghost"}, {"uid", "ghost-uid"}}}};
  Make(Pods(), "default", "p", {OwnerRef(rs), OwnerRef(ghost)});
  Start();
  EXPECT_TRUE(RunUntil([&] {
    auto p = env.client.Get(Pods(), "default", "p");
    return p.ok() && (*p)["metadata"]["ownerReferences"].size() == 1;
  }));
  auto p = env.client.Get(Pods(), "default", "p");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ((*p)["metadata"]["ownerReferences"][0]["uid"], UidOf(rs));
}

TEST_F(GarbageCollectorTest, ForegroundDeletesBlockingDependentsThenReleasesOwner) {
  Json rs =
      Make(ReplicaSets(), "default", "rs", Json::array(),
           {{"deletionTimestamp", "2023-11-14T22:13:20Z"}, {"finalizers", {"foregroundDeletion"}}});
  Make(Pods(), "default", "blocker", {OwnerRef(rs, true)});
  Start();
  EXPECT_TRUE(RunUntil([&] { return !Exists(Pods(), "default", "blocker"); }));
  EXPECT_TRUE(RunUntil([&] {
    auto r = env.client.Get(ReplicaSets(), "default", "rs");
    return r.ok() && !(*r)["metadata"].contains("finalizers");
  }));
}

TEST_F(GarbageCollectorTest, ForegroundWaitsWhileABlockingDependentRemains) {
  Json rs =
      Make(ReplicaSets(), "default", "rs", Json::array(),
           {{"deletionTimestamp", "2023-11-14T22:13:20Z"}, {"finalizers", {"foregroundDeletion"}}});
  Json other = Make(ReplicaSets(), "default", "other");
  // Has a solid second owner: its reference to rs is dropped instead of deleting it.
  Make(Pods(), "default", "shared", {OwnerRef(rs, true), OwnerRef(other)});
  Start();
  EXPECT_TRUE(RunUntil([&] {
    auto p = env.client.Get(Pods(), "default", "shared");
    return p.ok() && (*p)["metadata"]["ownerReferences"].size() == 1;
  }));
  EXPECT_TRUE(RunUntil([&] {
    auto r = env.client.Get(ReplicaSets(), "default", "rs");
    return r.ok() && !(*r)["metadata"].contains("finalizers");
  }));
  EXPECT_TRUE(Exists(Pods(), "default", "shared"));
}

TEST_F(GarbageCollectorTest, OrphanRemovesOwnerReferencesThenTheFinalizer) {
  Json rs = Make(ReplicaSets(), "default", "rs", Json::array(),
                 {{"deletionTimestamp", "2023-11-14T22:13:20Z"}, {"finalizers", {"orphan"}}});
  Make(Pods(), "default", "p1", {OwnerRef(rs, true)});
  Make(Pods(), "default", "p2", {OwnerRef(rs)});
  Start();
  EXPECT_TRUE(RunUntil([&] {
    auto r = env.client.Get(ReplicaSets(), "default", "rs");
    return r.ok() && !(*r)["metadata"].contains("finalizers");
  }));
  for (const char* p : {"p1", "p2"}) {
    auto pod = env.client.Get(Pods(), "default", p);
    ASSERT_TRUE(pod.ok());
    EXPECT_FALSE((*pod)["metadata"].contains("ownerReferences")) << (*pod).dump();
  }
}

TEST_F(GarbageCollectorTest, ClusterScopedDependentOfNamespacedKindIsCollected) {
  Json rs = Make(ReplicaSets(), "default", "rs");
  Make(kClusterRoles, "", "bad", {OwnerRef(rs)});
  Start();
  EXPECT_TRUE(RunUntil([&] { return !Exists(kClusterRoles, "", "bad"); }));
}

TEST_F(GarbageCollectorTest, CycleOfForegroundOwnersResolves) {
  // a and b own each other (blockOwnerDeletion) and both are being deleted in the foreground.
  Json a = Make(ReplicaSets(), "default", "a");
  Json b = Make(ReplicaSets(), "default", "b", {OwnerRef(a, true)});
  Json a2 = a;
  a2["metadata"]["ownerReferences"] = {OwnerRef(b, true)};
  a2["metadata"]["deletionTimestamp"] = "2023-11-14T22:13:20Z";
  a2["metadata"]["finalizers"] = {"foregroundDeletion"};
  ASSERT_TRUE(env.client.Update(ReplicaSets(), "default", a2).ok());
  Start();
  // b waits on a (foreground) and is deleted; then a is released.
  EXPECT_TRUE(RunUntil([&] { return !Exists(ReplicaSets(), "default", "b"); }));
  EXPECT_TRUE(RunUntil([&] {
    auto r = env.client.Get(ReplicaSets(), "default", "a");
    return r.ok() && !(*r)["metadata"].contains("finalizers");
  }));
}

}  // namespace
}  // namespace korral::controllers
