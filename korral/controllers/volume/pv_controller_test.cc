// Tests of the PersistentVolume binder controller.
#include "korral/controllers/volume/pv_controller.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "korral/controllers/testing.h"

namespace korral::controllers::volume {
namespace {

Json Pv(const std::string& name, const std::string& size,
        std::vector<std::string> modes = {"ReadWriteOnce"}, const std::string& cls = "",
        const std::string& policy = "Retain") {
  Json pv = {{"apiVersion", "v1"},
             {"kind", "PersistentVolume"},
             {"metadata", {{"name", name}}},
             {"spec",
              {{"capacity", {{"storage", size}}},
               {"accessModes", modes},
               {"persistentVolumeReclaimPolicy", policy},
               {"hostPath", {{"path", "/tmp/" + name}}}}},
             {"status", {{"phase", "Pending"}}}};
  if (!cls.empty()) pv["spec"]["storageClassName"] = cls;
  return pv;
}

Json Pvc(const std::string& name, const std::string& size,
         std::vector<std::string> modes = {"ReadWriteOnce"}) {
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata", {{"name", name}, {"namespace", "default"}}},
          {"spec", {{"accessModes", modes}, {"resources", {{"requests", {{"storage", size}}}}}}},
          {"status", {{"phase", "Pending"}}}};
}

class PvControllerTest : public ::testing::Test {
 protected:
  PvControllerTest() : c_(env_.ctx) {}

  void Start() { env_.StartInformers(); }

  void AddPv(const Json& pv) {
    ASSERT_TRUE(env_.client.Create(PersistentVolumesRef(), "", pv).ok());
    ASSERT_TRUE(env_.WaitForCache(PersistentVolumesRef(), pv["metadata"]["name"]));
  }
  void AddPvc(const Json& pvc) {
    ASSERT_TRUE(env_.client.Create(PersistentVolumeClaimsRef(), "default", pvc).ok());
    ASSERT_TRUE(env_.WaitForCache(PersistentVolumeClaimsRef(),
                                  "default/" + pvc["metadata"]["name"].get<std::string>()));
  }
  void AddClass(const std::string& name, const std::string& mode, const std::string& prov) {
    Json sc = {{"metadata", {{"name", name}}},
               {"provisioner", prov},
               {"volumeBindingMode", mode},
               {"reclaimPolicy", "Delete"}};
    ASSERT_TRUE(env_.client.Create(StorageClassesRef(), "", sc).ok());
    ASSERT_TRUE(env_.WaitForCache(StorageClassesRef(), name));
  }
  Json GetPv(const std::string& name) { return *env_.client.Get(PersistentVolumesRef(), "", name); }
  Json GetPvc(const std::string& name) {
    return *env_.client.Get(PersistentVolumeClaimsRef(), "default", name);
  }
  bool HasEvent(const std::string& text) {
    auto r = c_.recorder().Recent();
    return std::any_of(r.begin(), r.end(), [&](const std::string& e) { return e == text; });
  }
  // Makes every volume Available (the volume sync of a new, unclaimed PV).
  void SyncVolumes(const std::vector<std::string>& names) {
    for (const auto& n : names) ASSERT_TRUE(c_.SyncVolume(n).ok()) << n;
  }

  ControllerTestEnv env_;
  PersistentVolumeController c_;
  ControllerTestEnv::InformerStopper stop_ = env_.StopInformersOnExit();
};

TEST(PvMatching, SmallestFitInTheNarrowestAccessModeGroup) {
  auto make = [](Json pv, const std::string& phase = "Available") {
    pv["status"]["phase"] = phase;
    return std::make_shared<const Json>(pv);
  };
  Json claim = Pvc("c", "1Gi");
  claim["metadata"]["uid"] = "u1";
  std::vector<client::ObjectPtr> vols = {
      make(Pv("big", "10Gi")),
      make(Pv("small", "1Gi")),
      make(Pv("tiny", "500Mi")),
      make(Pv("rwx-smallest", "1Gi", {"ReadWriteOnce", "ReadWriteMany"})),
      make(Pv("gold", "1Gi", {"ReadWriteOnce"}, "gold")),
      make(Pv("pending", "1Gi"), "Pending"),
  };
  auto best = FindBestMatch(claim, vols, false);
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(NameOf(*best), "small");
  // A claim asking for RWX only finds the two-mode group.
  Json rwx = Pvc("c", "1Gi", {"ReadWriteMany"});
  best = FindBestMatch(rwx, vols, false);
  ASSERT_NE(best, nullptr);
  EXPECT_EQ(NameOf(*best), "rwx-smallest");
  // Class, selector and volume mode.
  Json gold = claim;
  gold["spec"]["storageClassName"] = "gold";
  EXPECT_EQ(NameOf(*FindBestMatch(gold, vols, false)), "gold");
  Json sel = claim;
  sel["spec"]["selector"] = {{"matchLabels", {{"tier", "fast"}}}};
  EXPECT_EQ(FindBestMatch(sel, vols, false), nullptr);
  Json block = claim;
  block["spec"]["volumeMode"] = "Block";
  EXPECT_EQ(FindBestMatch(block, vols, false), nullptr);
  // Delayed binding: only a volume pre-bound to the claim.
  EXPECT_EQ(FindBestMatch(claim, vols, true), nullptr);
  Json pre = Pv("pre", "5Gi");
  pre["spec"]["claimRef"] = {{"namespace", "default"}, {"name", "c"}};
  vols.push_back(make(pre, "Pending"));
  EXPECT_EQ(NameOf(*FindBestMatch(claim, vols, true)), "pre");
  EXPECT_EQ(NameOf(*FindBestMatch(claim, vols, false)), "pre");
  Json other = Pvc("other", "1Gi");
  EXPECT_EQ(NameOf(*FindBestMatch(other, vols, false)), "small");
}

TEST_F(PvControllerTest, BindsAnImmediateClaimToTheSmallestAvailableVolume) {
  Start();
  AddPv(Pv("big", "10Gi"));
  AddPv(Pv("small", "1Gi"));
  SyncVolumes({"big", "small"});
  EXPECT_EQ(GetPv("small")["status"]["phase"], "Available");
  EXPECT_TRUE(GetPv("small")["status"].contains("lastPhaseTransitionTime"));
  AddPvc(Pvc("data", "1Gi"));
  ASSERT_TRUE(c_.SyncClaim("default/data").ok());
  Json pv = GetPv("small");
  Json pvc = GetPvc("data");
  EXPECT_EQ(pv["spec"]["claimRef"]["name"], "data");
  EXPECT_EQ(pv["spec"]["claimRef"]["namespace"], "default");
  EXPECT_EQ(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"]);
  EXPECT_EQ(pv["metadata"]["annotations"][kAnnBoundByController], "yes");
  EXPECT_EQ(pv["status"]["phase"], "Bound");
  EXPECT_EQ(pvc["spec"]["volumeName"], "small");
  EXPECT_EQ(pvc["metadata"]["annotations"][kAnnBindCompleted], "yes");
  EXPECT_EQ(pvc["metadata"]["annotations"][kAnnBoundByController], "yes");
  EXPECT_EQ(pvc["status"]["phase"], "Bound");
  EXPECT_EQ(pvc["status"]["capacity"]["storage"], "1Gi");
  EXPECT_EQ(pvc["status"]["accessModes"], Json::array({"ReadWriteOnce"}));
  EXPECT_EQ(GetPv("big")["status"]["phase"], "Available");
  // Syncing again (stale cache or not) changes nothing.
  auto rv = client::ResourceVersionOf(GetPvc("data"));
  ASSERT_TRUE(c_.SyncClaim("default/data").ok());
  ASSERT_TRUE(c_.SyncVolume("small").ok());
  EXPECT_EQ(client::ResourceVersionOf(GetPvc("data")), rv);
  EXPECT_EQ(GetPv("small")["status"]["phase"], "Bound");
  // A second claim cannot take the bound volume.
  AddPvc(Pvc("more", "1Gi"));
  ASSERT_TRUE(c_.SyncClaim("default/more").ok());
  EXPECT_EQ(GetPvc("more")["spec"]["volumeName"], "big");
}

TEST_F(PvControllerTest, LeavesWaitForFirstConsumerAndProvisionedClaimsPending) {
  Start();
  AddClass("local", "WaitForFirstConsumer", "kubernetes.io/no-provisioner");
  AddClass("ebs", "Immediate", "ebs.csi.example.com");
  AddClass("none", "Immediate", "kubernetes.io/no-provisioner");
  AddPv(Pv("l1", "1Gi", {"ReadWriteOnce"}, "local"));
  SyncVolumes({"l1"});
  Json wffc = Pvc("wffc", "1Gi");
  wffc["spec"]["storageClassName"] = "local";
  AddPvc(wffc);
  ASSERT_TRUE(c_.SyncClaim("default/wffc").ok());
  EXPECT_FALSE(GetPvc("wffc")["spec"].contains("volumeName"));
  EXPECT_FALSE(GetPv("l1")["spec"].contains("claimRef"));
  EXPECT_TRUE(
      HasEvent("Normal WaitForFirstConsumer waiting for first consumer to be created "
               "before binding"));

  Json ext = Pvc("ext", "1Gi");
  ext["spec"]["storageClassName"] = "ebs";
  AddPvc(ext);
  ASSERT_TRUE(c_.SyncClaim("default/ext").ok());
  Json got = GetPvc("ext");
  EXPECT_EQ(got["metadata"]["annotations"][kAnnStorageProvisioner], "ebs.csi.example.com");
  EXPECT_EQ(got["metadata"]["annotations"][kAnnBetaStorageProvisioner], "ebs.csi.example.com");
  EXPECT_EQ(got["status"]["phase"], "Pending");
  EXPECT_TRUE(HasEvent(
      "Normal ExternalProvisioning Waiting for a volume to be created either by the external "
      "provisioner 'ebs.csi.example.com' or manually by the system administrator. If volume "
      "creation is delayed, please verify that the provisioner is running and correctly "
      "registered."));

  Json none = Pvc("none", "1Gi");
  none["spec"]["storageClassName"] = "none";
  AddPvc(none);
  ASSERT_TRUE(c_.SyncClaim("default/none").ok());
  EXPECT_TRUE(HasEvent(
      "Warning ProvisioningFailed no volume plugin matched name: kubernetes.io/no-provisioner"));
  Json missing = Pvc("missing", "1Gi");
  missing["spec"]["storageClassName"] = "nope";
  AddPvc(missing);
  ASSERT_TRUE(c_.SyncClaim("default/missing").ok());
  EXPECT_TRUE(
      HasEvent("Warning ProvisioningFailed storageclass.storage.k8s.io \"nope\" not found"));

  AddPvc(Pvc("classless", "1Gi"));
  ASSERT_TRUE(c_.SyncClaim("default/classless").ok());
  EXPECT_TRUE(
      HasEvent("Normal FailedBinding no persistent volumes available for this claim and "
               "no storage class is set"));
}

TEST_F(PvControllerTest, PreBoundVolumesAndClaims) {
  Start();
  Json pre = Pv("reserved", "5Gi");
  pre["spec"]["claimRef"] = {{"namespace", "default"}, {"name", "mine"}};
  AddPv(pre);
  AddPv(Pv("free", "1Gi"));
  AddPv(Pv("tiny", "100Mi"));
  SyncVolumes({"reserved", "free", "tiny"});
  EXPECT_EQ(GetPv("reserved")["status"]["phase"], "Available");
  AddPvc(Pvc("mine", "1Gi"));
  ASSERT_TRUE(c_.SyncClaim("default/mine").ok());
  Json pv = GetPv("reserved");
  EXPECT_EQ(GetPvc("mine")["spec"]["volumeName"], "reserved");
  EXPECT_EQ(pv["spec"]["claimRef"]["uid"], GetPvc("mine")["metadata"]["uid"]);
  EXPECT_FALSE(pv["metadata"].contains("annotations") &&
               pv["metadata"]["annotations"].contains(kAnnBoundByController));

  // A claim naming a volume that is too small: VolumeMismatch, Pending.
  Json want_tiny = Pvc("want-tiny", "1Gi");
  want_tiny["spec"]["volumeName"] = "tiny";
  AddPvc(want_tiny);
  ASSERT_TRUE(c_.SyncClaim("default/want-tiny").ok());
  EXPECT_FALSE(GetPv("tiny")["spec"].contains("claimRef"));
  EXPECT_TRUE(
      HasEvent("Warning VolumeMismatch Cannot bind to requested volume \"tiny\": requested PV is "
               "too small"));
  // A claim naming a volume that fits: bound, without bound-by-controller on the claim.
  Json want_free = Pvc("want-free", "1Gi");
  want_free["spec"]["volumeName"] = "free";
  AddPvc(want_free);
  ASSERT_TRUE(c_.SyncClaim("default/want-free").ok());
  Json pvc = GetPvc("want-free");
  EXPECT_EQ(pvc["status"]["phase"], "Bound");
  EXPECT_EQ(pvc["metadata"]["annotations"][kAnnBindCompleted], "yes");
  EXPECT_FALSE(pvc["metadata"]["annotations"].contains(kAnnBoundByController));
  EXPECT_EQ(GetPv("free")["metadata"]["annotations"][kAnnBoundByController], "yes");
  // Naming a volume bound to someone else.
  Json late = Pvc("late", "1Gi");
  late["spec"]["volumeName"] = "free";
  AddPvc(late);
  ASSERT_TRUE(c_.SyncClaim("default/late").ok());
  EXPECT_TRUE(
      HasEvent("Warning FailedBinding volume \"free\" already bound to a different claim."));
  EXPECT_EQ(GetPvc("late")["status"]["phase"], "Pending");
}

TEST_F(PvControllerTest, ReleasesVolumesOfDeletedClaimsByReclaimPolicy) {
  Start();
  AddPv(Pv("keep", "1Gi", {"ReadWriteOnce"}, "", "Retain"));
  AddPv(Pv("drop", "2Gi", {"ReadWriteOnce"}, "", "Delete"));
  Json ext = Pv("ext", "3Gi", {"ReadWriteOnce"}, "", "Delete");
  ext["metadata"]["annotations"] = {{kAnnDynamicallyProvisioned, "ebs.csi.example.com"}};
  AddPv(ext);
  SyncVolumes({"keep", "drop", "ext"});
  for (auto [claim, size] : {std::pair{"a", "1Gi"}, {"b", "2Gi"}, {"c", "3Gi"}}) {
    AddPvc(Pvc(claim, size));
    ASSERT_TRUE(c_.SyncClaim(std::string("default/") + claim).ok());
  }
  ASSERT_EQ(GetPvc("a")["spec"]["volumeName"], "keep");
  ASSERT_EQ(GetPvc("b")["spec"]["volumeName"], "drop");
  ASSERT_EQ(GetPvc("c")["spec"]["volumeName"], "ext");
  for (const char* claim : {"a", "b", "c"}) {
    ASSERT_TRUE(env_.client.Delete(PersistentVolumeClaimsRef(), "default", claim).ok());
    ASSERT_TRUE(
        env_.WaitForCache(PersistentVolumeClaimsRef(), std::string("default/") + claim, false));
  }
  SyncVolumes({"keep", "drop", "ext"});
  EXPECT_EQ(GetPv("keep")["status"]["phase"], "Released");
  EXPECT_EQ(GetPv("keep")["spec"]["claimRef"]["name"], "a");
  EXPECT_EQ(GetPv("ext")["status"]["phase"], "Released");
  Json drop = GetPv("drop");
  EXPECT_EQ(drop["status"]["phase"], "Failed");
  EXPECT_EQ(drop["status"]["message"],
            "error getting deleter volume plugin for volume \"drop\": no deletable volume plugin "
            "matched");
  EXPECT_TRUE(
      HasEvent("Warning VolumeFailedDelete error getting deleter volume plugin for volume "
               "\"drop\": no deletable volume plugin matched"));
  // A released volume is not bound again.
  AddPvc(Pvc("new", "1Gi"));
  ASSERT_TRUE(c_.SyncClaim("default/new").ok());
  EXPECT_FALSE(GetPvc("new")["spec"].contains("volumeName"));
}

TEST_F(PvControllerTest, LostClaimsAndSchedulerBindings) {
  Start();
  Json lost = Pvc("lost", "1Gi");
  lost["spec"]["volumeName"] = "gone";
  lost["metadata"]["annotations"] = {{kAnnBindCompleted, "yes"}};
  AddPvc(lost);
  ASSERT_TRUE(c_.SyncClaim("default/lost").ok());
  EXPECT_EQ(GetPvc("lost")["status"]["phase"], "Lost");
  EXPECT_TRUE(HasEvent(
      "Warning ClaimLost Bound claim has lost its PersistentVolume. Data on the volume is lost!"));

  // The scheduler bound both sides through the API (WaitForFirstConsumer); the controller only
  // fills in the phases.
  Json claim = Pvc("sched", "1Gi");
  claim["spec"]["volumeName"] = "local-1";
  claim["metadata"]["annotations"] = {{kAnnBindCompleted, "yes"}, {kAnnBoundByController, "yes"}};
  AddPvc(claim);
  Json pv = Pv("local-1", "1Gi");
  pv["spec"]["claimRef"] = {{"namespace", "default"},
                            {"name", "sched"},
                            {"uid", GetPvc("sched")["metadata"]["uid"]},
                            {"kind", "PersistentVolumeClaim"},
                            {"apiVersion", "v1"}};
  AddPv(pv);
  ASSERT_TRUE(c_.SyncVolume("local-1").ok());
  ASSERT_TRUE(c_.SyncClaim("default/sched").ok());
  EXPECT_EQ(GetPv("local-1")["status"]["phase"], "Bound");
  EXPECT_EQ(GetPvc("sched")["status"]["phase"], "Bound");
  EXPECT_EQ(GetPvc("sched")["status"]["capacity"]["storage"], "1Gi");
}

TEST_F(PvControllerTest, WorkersBindThroughInformerEvents) {
  c_.Run(1);
  Start();
  AddPv(Pv("pv1", "1Gi"));
  AddPvc(Pvc("c1", "1Gi"));
  EXPECT_TRUE(Eventually([&] {
    auto pvc = env_.client.Get(PersistentVolumeClaimsRef(), "default", "c1");
    auto pv = env_.client.Get(PersistentVolumesRef(), "", "pv1");
    return pvc.ok() && pv.ok() && (*pvc)["status"].value("phase", "") == "Bound" &&
           (*pv)["status"].value("phase", "") == "Bound";
  }));
  ASSERT_TRUE(env_.client.Delete(PersistentVolumeClaimsRef(), "default", "c1").ok());
  EXPECT_TRUE(Eventually([&] {
    auto pv = env_.client.Get(PersistentVolumesRef(), "", "pv1");
    return pv.ok() && (*pv)["status"].value("phase", "") == "Released";
  }));
  c_.Stop();
}

}  // namespace
}  // namespace korral::controllers::volume
