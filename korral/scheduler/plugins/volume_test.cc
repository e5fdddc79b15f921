// VolumeBinding, VolumeRestrictions and VolumeZone, table-driven from upstream's documented
// behaviour (kubernetes.io/docs/concepts/storage/{persistent-volumes,storage-classes} and the
// plugins' failure reasons): each case feeds nodes, claims, PVs and classes into a Scheduler
// (no API; a recording fake), schedules one pod, and checks the node or the failure message.
#include <gtest/gtest.h>

#include <map>
#include <mutex>

#include "korral/scheduler/scheduler.h"
#include "korral/scheduler/test_util.h"

namespace korral::scheduler {
namespace {

using testing::NodeJson;
using testing::PodJson;

class RecordingApi : public SchedulerApi {
 public:
  absl::Status Bind(const PodInfo& pod, const std::string& node) override {
    std::lock_guard l(mu);
    bound[pod.key] = node;
    return absl::OkStatus();
  }
  absl::Status DeletePod(const PodInfo&) override { return absl::OkStatus(); }
  absl::Status UpdatePodScheduledCondition(const PodInfo&, const std::string&, const std::string&,
                                           const std::string*) override {
    return absl::OkStatus();
  }
  void RecordEvent(const PodInfo& pod, const std::string&, const std::string&, const std::string&,
                   const std::string& message) override {
    std::lock_guard l(mu);
    last_message[pod.key] = message;
  }
  absl::StatusOr<Json> UpdateVolumeObject(bool claim, const Json& object, bool status) override {
    std::lock_guard l(mu);
    if (fail_volume_writes) return absl::UnavailableError("injected");
    std::string name = object["metadata"]["name"];
    (claim ? pvcs : pvs)[name] = object;
    if (status) ++status_writes;
    return object;
  }
  std::mutex mu;
  std::map<std::string, std::string> bound, last_message;
  std::map<std::string, Json> pvs, pvcs;
  int status_writes = 0;
  bool fail_volume_writes = false;
};

Json Pvc(const std::string& name, const std::string& size, const std::string& cls = "",
         const std::string& volume = "", std::vector<std::string> modes = {"ReadWriteOnce"}) {
  Json spec = {{"accessModes", modes}, {"resources", {{"requests", {{"storage", size}}}}}};
  if (!cls.empty()) spec["storageClassName"] = cls;
  if (!volume.empty()) spec["volumeName"] = volume;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolumeClaim"},
          {"metadata",
           {{"name", name},
            {"namespace", "default"},
            {"uid", "uid-" + name},
            {"resourceVersion", "5"}}},
          {"spec", spec},
          {"status", {{"phase", volume.empty() ? "Pending" : "Bound"}}}};
}

Json Pv(const std::string& name, const std::string& size, const std::string& cls = "",
        const std::string& node = "", std::map<std::string, std::string> labels = {},
        std::vector<std::string> modes = {"ReadWriteOnce"}) {
  Json spec = {{"accessModes", modes}, {"capacity", {{"storage", size}}}};
  if (!cls.empty()) spec["storageClassName"] = cls;
  if (!node.empty()) {
    spec["nodeAffinity"] = {
        {"required",
         {{"nodeSelectorTerms",
           Json::array({{{"matchExpressions", Json::array({{{"key", "kubernetes.io/hostname"},
                                                            {"operator", "In"},
                                                            {"values", {node}}}})}}})}}}};
  }
  Json meta = {{"name", name}, {"resourceVersion", "3"}};
  if (!labels.empty()) meta["labels"] = labels;
  return {{"apiVersion", "v1"},
          {"kind", "PersistentVolume"},
          {"metadata", meta},
          {"spec", spec},
          {"status", {{"phase", "Available"}}}};
}

Json Class(const std::string& name, const std::string& mode,
           const std::string& provisioner = "kubernetes.io/no-provisioner") {
  return {{"apiVersion", "storage.k8s.io/v1"},
          {"kind", "StorageClass"},
          {"metadata", {{"name", name}}},
          {"provisioner", provisioner},
          {"volumeBindingMode", mode}};
}

// A pod mounting the given claims.
Json PodWith(const std::string& name, std::vector<std::string> claims) {
  Json p = PodJson(name);
  Json vols = Json::array();
  for (size_t i = 0; i < claims.size(); ++i) {
    vols.push_back(
        {{"name", "v" + std::to_string(i)}, {"persistentVolumeClaim", {{"claimName", claims[i]}}}});
  }
  p["spec"]["volumes"] = vols;
  return p;
}

struct Env {
  RecordingApi api;
  std::unique_ptr<Scheduler> s;
  explicit Env(std::vector<ProfileConfig> profiles = {}) {
    SchedulerOptions o;
    o.profiles = std::move(profiles);
    o.bind_workers = 0;
    o.seed = 42;
    auto r = Scheduler::New(std::move(o), &api);
    EXPECT_TRUE(r.ok()) << r.status();
    s = std::move(*r);
  }
  void Node(const std::string& name, std::map<std::string, std::string> labels = {}) {
    s->OnNodeAdd(MakeNode(NodeJson(name, "4", "32Gi", std::move(labels))));
  }
  void Claim(const Json& j) {
    PvcPtr p = MakePvc(j);
    ASSERT_NE(p, nullptr);
    s->OnPvc(p->key, p);
  }
  void Volume(const Json& j) {
    PvPtr p = MakePv(j);
    ASSERT_NE(p, nullptr);
    s->OnPv(p->name, p);
  }
  void StorageClass(const Json& j) {
    auto sc = ParseStorageClass(j);
    s->OnStorageClass(sc->name, sc);
  }
  void Existing(Json p, const std::string& node) {
    p["spec"]["nodeName"] = node;
    s->OnPodAdd(MakePod(p));
  }
  std::string Schedule(const Json& p, std::string* message = nullptr) {
    PodInfoPtr pod = MakePod(p);
    EXPECT_NE(pod, nullptr);
    s->OnPodAdd(pod);
    s->ScheduleOne(std::chrono::milliseconds(10));
    std::lock_guard l(api.mu);
    if (message) *message = api.last_message[pod->key];
    auto it = api.bound.find(pod->key);
    return it == api.bound.end() ? "" : it->second;
  }
};

TEST(VolumeBinding, PodWithoutClaimsIsUnaffected) {
  Env e;
  e.Node("a");
  EXPECT_EQ(e.Schedule(PodJson("p")), "a");
}

TEST(VolumeBinding, UnboundImmediateClaimIsUnschedulable) {
  Env e;
  e.Node("a");
  e.Node("b");
  e.Claim(Pvc("data", "1Gi"));  // no class: Immediate
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
  EXPECT_EQ(msg,
            "0/2 nodes are available: pod has unbound immediate PersistentVolumeClaims. "
            "preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling..");
}

TEST(VolumeBinding, ImmediateClassAndUnknownClassAreImmediate) {
  for (const char* cls : {"fast", "missing"}) {
    Env e;
    e.Node("a");
    e.StorageClass(Class("fast", "Immediate"));
    e.Claim(Pvc("data", "1Gi", cls));
    std::string msg;
    EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "") << cls;
    EXPECT_NE(msg.find("pod has unbound immediate PersistentVolumeClaims"), std::string::npos)
        << msg;
  }
}

TEST(VolumeBinding, MissingClaimIsUnschedulable) {
  Env e;
  e.Node("a");
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"nope"}), &msg), "");
  EXPECT_NE(msg.find("0/1 nodes are available: persistentvolumeclaim \"nope\" not found."),
            std::string::npos)
      << msg;
}

TEST(VolumeBinding, BoundPvNodeAffinityIsRespected) {
  Env e;
  e.Node("a");
  e.Node("b");
  e.Node("c");
  e.Volume(Pv("pv1", "1Gi", "", "b"));
  e.Claim(Pvc("data", "1Gi", "", "pv1"));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(e.Schedule(PodWith("p" + std::to_string(i), {"data"})), "b");
  }
}

TEST(VolumeBinding, BoundPvNodeAffinityConflict) {
  Env e;
  e.Node("a");
  e.Node("b");
  e.Volume(Pv("pv1", "1Gi", "", "elsewhere"));
  e.Claim(Pvc("data", "1Gi", "", "pv1"));
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
  EXPECT_NE(msg.find("0/2 nodes are available: 2 node(s) had volume node affinity conflict."),
            std::string::npos)
      << msg;
}

TEST(VolumeBinding, ClaimBoundToMissingPv) {
  {
    // Default profile: VolumeZone's PreFilter looks the PV up first (as upstream).
    Env e;
    e.Node("a");
    e.Claim(Pvc("data", "1Gi", "", "gone"));
    std::string msg;
    EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
    EXPECT_NE(msg.find("0/1 nodes are available: persistentvolume \"gone\" not found."),
              std::string::npos)
        << msg;
  }
  ProfileConfig pc;
  pc.plugins["multiPoint"].disabled = {"VolumeZone"};
  Env e({pc});
  e.Node("a");
  e.Claim(Pvc("data", "1Gi", "", "gone"));
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
  EXPECT_NE(msg.find("1 node(s) unavailable due to one or more pvc(s) bound to non-existent "
                     "pv(s)"),
            std::string::npos)
      << msg;
}

TEST(VolumeBinding, WaitForFirstConsumerMatchesStaticPvAndBindsInPreBind) {
  Env e;
  e.Node("a");
  e.Node("b");
  e.StorageClass(Class("local", "WaitForFirstConsumer"));
  e.Volume(Pv("small", "1Gi", "local", "a"));
  e.Volume(Pv("big", "10Gi", "local", "b"));
  e.Claim(Pvc("data", "5Gi", "local"));
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"})), "b");
  std::lock_guard l(e.api.mu);
  ASSERT_TRUE(e.api.pvs.count("big"));
  const Json& ref = e.api.pvs["big"]["spec"]["claimRef"];
  EXPECT_EQ(ref["name"], "data");
  EXPECT_EQ(ref["namespace"], "default");
  EXPECT_EQ(ref["uid"], "uid-data");
  ASSERT_TRUE(e.api.pvcs.count("data"));
  EXPECT_EQ(e.api.pvcs["data"]["spec"]["volumeName"], "big");
  EXPECT_EQ(e.api.pvcs["data"]["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"],
            "yes");
  EXPECT_EQ(e.api.status_writes, 0);
  EXPECT_FALSE(e.api.pvs.count("small"));
}

TEST(VolumeBinding, WaitForFirstConsumerPicksTheSmallestFittingPv) {
  Env e;
  e.Node("a");
  e.StorageClass(Class("local", "WaitForFirstConsumer"));
  e.Volume(Pv("pv-10", "10Gi", "local", "a"));
  e.Volume(Pv("pv-2", "2Gi", "local", "a"));
  e.Volume(Pv("pv-1", "1Gi", "local", "a"));  // too small
  e.Claim(Pvc("data", "1500Mi", "local"));
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"})), "a");
  std::lock_guard l(e.api.mu);
  EXPECT_EQ(e.api.pvcs["data"]["spec"]["volumeName"], "pv-2");
}

TEST(VolumeBinding, WaitForFirstConsumerNoMatchingPv) {
  struct Case {
    const char* name;
    Json pv;
    Json claim;
  };
  Json wrong_phase = Pv("pv", "5Gi", "local");
  wrong_phase["status"]["phase"] = "Released";
  Json selector_claim = Pvc("data", "1Gi", "local");
  selector_claim["spec"]["selector"] = {{"matchLabels", {{"tier", "gold"}}}};
  Json block_claim = Pvc("data", "1Gi", "local");
  block_claim["spec"]["volumeMode"] = "Block";
  Json taken = Pv("pv", "5Gi", "local");
  taken["spec"]["claimRef"] = {{"namespace", "default"}, {"name", "other"}};
  std::vector<Case> cases = {
      {"too small", Pv("pv", "1Gi", "local"), Pvc("data", "2Gi", "local")},
      {"access modes", Pv("pv", "5Gi", "local"),
       Pvc("data", "1Gi", "local", "", {"ReadWriteMany"})},
      {"other class", Pv("pv", "5Gi", "slow"), Pvc("data", "1Gi", "local")},
      {"not available", wrong_phase, Pvc("data", "1Gi", "local")},
      {"selector", Pv("pv", "5Gi", "local", "", {{"tier", "silver"}}), selector_claim},
      {"volume mode", Pv("pv", "5Gi", "local"), block_claim},
      {"claimed by another", taken, Pvc("data", "1Gi", "local")},
      {"node affinity", Pv("pv", "5Gi", "local", "elsewhere"), Pvc("data", "1Gi", "local")},
  };
  for (const auto& c : cases) {
    Env e;
    e.Node("a");
    e.StorageClass(Class("local", "WaitForFirstConsumer"));
    e.Volume(c.pv);
    e.Claim(c.claim);
    std::string msg;
    EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "") << c.name;
    EXPECT_NE(
        msg.find("0/1 nodes are available: 1 node(s) didn't find available persistent volumes "
                 "to bind."),
        std::string::npos)
        << c.name << ": " << msg;
  }
}

TEST(VolumeBinding, PreBoundPvIsUsedEvenIfOthersFitBetter) {
  Env e;
  e.Node("a");
  e.Node("b");
  e.StorageClass(Class("local", "WaitForFirstConsumer"));
  e.Volume(Pv("tiny-fit", "1Gi", "local", "a"));
  Json pre = Pv("prebound", "50Gi", "local", "b");
  pre["spec"]["claimRef"] = {{"namespace", "default"}, {"name", "data"}};
  e.Volume(pre);
  e.Claim(Pvc("data", "1Gi", "local"));
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"})), "b");
  std::lock_guard l(e.api.mu);
  EXPECT_EQ(e.api.pvcs["data"]["spec"]["volumeName"], "prebound");
}

TEST(VolumeBinding, TwoClaimsOfOnePodGetDistinctPvs) {
  Env e;
  e.Node("a");
  e.StorageClass(Class("local", "WaitForFirstConsumer"));
  e.Volume(Pv("pv1", "5Gi", "local", "a"));
  e.Volume(Pv("pv2", "5Gi", "local", "a"));
  e.Claim(Pvc("c1", "1Gi", "local"));
  e.Claim(Pvc("c2", "1Gi", "local"));
  EXPECT_EQ(e.Schedule(PodWith("p", {"c1", "c2"})), "a");
  std::lock_guard l(e.api.mu);
  EXPECT_NE(e.api.pvcs["c1"]["spec"]["volumeName"], e.api.pvcs["c2"]["spec"]["volumeName"]);
}

TEST(VolumeBinding, AssumedPvIsNotGivenToASecondPod) {
  Env e;
  e.Node("a");
  e.StorageClass(Class("local", "WaitForFirstConsumer"));
  e.Volume(Pv("only", "5Gi", "local", "a"));
  e.Claim(Pvc("c1", "1Gi", "local"));
  e.Claim(Pvc("c2", "1Gi", "local"));
  {
    // The API write fails: the pod is not bound and its assumption is dropped.
    std::lock_guard l(e.api.mu);
    e.api.fail_volume_writes = true;
  }
  EXPECT_EQ(e.Schedule(PodWith("p0", {"c1"})), "");
  EXPECT_FALSE(e.s->Volumes()->GetPv("only")->has_claim_ref);
  {
    std::lock_guard l(e.api.mu);
    e.api.fail_volume_writes = false;
  }
  // Reserve assumes the PV for c1 before the write; c2 then finds none.
  ASSERT_TRUE(e.s->Volumes()->AssumePv("only", *e.s->Volumes()->GetPvc("default", "c1")));
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p2", {"c2"}), &msg), "");
  EXPECT_NE(msg.find("didn't find available persistent volumes to bind"), std::string::npos) << msg;
  e.s->Volumes()->RestorePv("only");
}

TEST(VolumeBinding, DynamicProvisioningHonoursAllowedTopologies) {
  ProfileConfig pc;
  pc.plugin_config["VolumeBinding"] = {{"bindTimeoutSeconds", 0}};
  Env e({pc});
  e.Node("a", {{"topology.kubernetes.io/zone", "us-1"}});
  e.Node("b", {{"topology.kubernetes.io/zone", "us-2"}});
  Json sc = Class("csi", "WaitForFirstConsumer", "csi.example.com");
  sc["allowedTopologies"] = Json::array(
      {{{"matchLabelExpressions",
         Json::array({{{"key", "topology.kubernetes.io/zone"}, {"values", {"us-2"}}}})}}});
  e.StorageClass(sc);
  e.Claim(Pvc("data", "1Gi", "csi"));
  std::string msg;
  // PreBind annotates the claim with the node and waits for a provisioner (none here): the
  // binding times out, the pod is not bound.
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
  std::lock_guard l(e.api.mu);
  ASSERT_TRUE(e.api.pvcs.count("data"));
  EXPECT_EQ(e.api.pvcs["data"]["metadata"]["annotations"]["volume.kubernetes.io/selected-node"],
            "b");
  EXPECT_NE(msg.find("Binding rejected"), std::string::npos) << msg;
}

TEST(VolumeBinding, NoProvisionerAndNoPvIsABindConflict) {
  Env e;
  e.Node("a");
  e.StorageClass(Class("local", "WaitForFirstConsumer"));
  e.Claim(Pvc("data", "1Gi", "local"));
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
  EXPECT_NE(msg.find("1 node(s) didn't find available persistent volumes to bind"),
            std::string::npos)
      << msg;
}

TEST(VolumeBinding, BindTimeoutArgIsValidated) {
  ProfileConfig pc;
  pc.plugin_config["VolumeBinding"] = {{"bindTimeoutSeconds", -1}};
  SchedulerOptions o;
  o.profiles = {pc};
  EXPECT_FALSE(Scheduler::New(std::move(o), nullptr).ok());
}

TEST(VolumeZone, BoundPvZoneLabelsRestrictNodes) {
  Env e;
  e.Node("a", {{"topology.kubernetes.io/zone", "z1"}, {"topology.kubernetes.io/region", "r"}});
  e.Node("b", {{"topology.kubernetes.io/zone", "z2"}, {"topology.kubernetes.io/region", "r"}});
  e.Volume(Pv("pv1", "1Gi", "", "", {{"topology.kubernetes.io/zone", "z2"}}));
  e.Claim(Pvc("data", "1Gi", "", "pv1"));
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(e.Schedule(PodWith("p" + std::to_string(i), {"data"})), "b");
  }
}

TEST(VolumeZone, BetaPvLabelMatchesGaNodeLabelAndMultiZoneValues) {
  Env e;
  e.Node("a", {{"topology.kubernetes.io/zone", "z1"}});
  e.Node("b", {{"topology.kubernetes.io/zone", "z2"}});
  e.Node("c", {{"topology.kubernetes.io/zone", "z3"}});
  e.Volume(Pv("pv1", "1Gi", "", "", {{"failure-domain.beta.kubernetes.io/zone", "z1__z3"}}));
  e.Claim(Pvc("data", "1Gi", "", "pv1"));
  for (int i = 0; i < 6; ++i) {
    std::string n = e.Schedule(PodWith("p" + std::to_string(i), {"data"}));
    EXPECT_TRUE(n == "a" || n == "c") << n;
  }
}

TEST(VolumeZone, ConflictMessageAndNodesWithoutZoneLabelsPass) {
  Env e;
  e.Node("a", {{"topology.kubernetes.io/zone", "z1"}});
  e.Volume(Pv("pv1", "1Gi", "", "", {{"topology.kubernetes.io/zone", "z9"}}));
  e.Claim(Pvc("data", "1Gi", "", "pv1"));
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"data"}), &msg), "");
  EXPECT_NE(msg.find("0/1 nodes are available: 1 node(s) had no available volume zone."),
            std::string::npos)
      << msg;
  e.Node("plain");  // no topology labels at all: not restricted
  EXPECT_EQ(e.Schedule(PodWith("q", {"data"})), "plain");
}

TEST(VolumeRestrictions, ReadWriteOncePodClaimInUse) {
  Env e;
  e.Node("a");
  e.Node("b");
  e.Volume(Pv("pv1", "1Gi"));
  e.Claim(Pvc("solo", "1Gi", "", "pv1", {"ReadWriteOncePod"}));
  e.Existing(PodWith("owner", {"solo"}), "a");
  std::string msg;
  EXPECT_EQ(e.Schedule(PodWith("p", {"solo"}), &msg), "");
  EXPECT_NE(msg.find("0/2 nodes are available: 2 node has pod using PersistentVolumeClaim with "
                     "the same name and ReadWriteOncePod access mode."),
            std::string::npos)
      << msg;
  // Once the owner is gone the claim is free.
  e.s->OnPodDelete(MakePod([] {
    Json p = PodWith("owner", {"solo"});
    p["spec"]["nodeName"] = "a";
    return p;
  }()));
  EXPECT_NE(e.Schedule(PodWith("p2", {"solo"})), "");
}

TEST(VolumeRestrictions, ReadWriteOnceClaimMayBeShared) {
  Env e;
  e.Node("a");
  e.Volume(Pv("pv1", "1Gi"));
  e.Claim(Pvc("shared", "1Gi", "", "pv1"));
  e.Existing(PodWith("first", {"shared"}), "a");
  EXPECT_EQ(e.Schedule(PodWith("second", {"shared"})), "a");
}

Json DiskPod(const std::string& name, const Json& volume) {
  Json p = PodJson(name);
  Json v = volume;
  v["name"] = "disk";
  p["spec"]["volumes"] = Json::array({v});
  return p;
}

TEST(VolumeRestrictions, DiskConflicts) {
  struct Case {
    const char* name;
    Json existing, incoming;
    bool conflict;
  };
  Json gce = {{"gcePersistentDisk", {{"pdName", "pd"}}}};
  Json gce_ro = {{"gcePersistentDisk", {{"pdName", "pd"}, {"readOnly", true}}}};
  Json gce_other = {{"gcePersistentDisk", {{"pdName", "other"}}}};
  Json ebs = {{"awsElasticBlockStore", {{"volumeID", "vol-1"}}}};
  Json iscsi = {{"iscsi", {{"iqn", "iqn.x"}, {"lun", 0}, {"targetPortal", "p"}}}};
  Json rbd1 = {{"rbd", {{"monitors", {"m1", "m2"}}, {"image", "img"}}}};
  Json rbd2 = {{"rbd", {{"monitors", {"m2"}}, {"image", "img"}, {"pool", "rbd"}}}};
  Json rbd_pool = {{"rbd", {{"monitors", {"m2"}}, {"image", "img"}, {"pool", "other"}}}};
  std::vector<Case> cases = {
      {"same gce pd", gce, gce, true},
      {"gce pd both read-only", gce_ro, gce_ro, false},
      {"gce pd one read-only", gce_ro, gce, true},
      {"different gce pd", gce, gce_other, false},
      {"same ebs volume", ebs, ebs, true},
      {"same iscsi iqn", iscsi, iscsi, true},
      {"rbd overlapping monitors", rbd1, rbd2, true},
      {"rbd other pool", rbd1, rbd_pool, false},
  };
  for (const auto& c : cases) {
    Env e;
    e.Node("a");
    e.Existing(DiskPod("old", c.existing), "a");
    std::string msg;
    std::string node = e.Schedule(DiskPod("new", c.incoming), &msg);
    if (c.conflict) {
      EXPECT_EQ(node, "") << c.name;
      EXPECT_NE(msg.find("1 node(s) had no available disk"), std::string::npos) << msg;
    } else {
      EXPECT_EQ(node, "a") << c.name;
    }
  }
}

TEST(VolumeStore, AssumeAndRestore) {
  VolumeStore vs;
  vs.SetPv(MakePv(Pv("pv", "1Gi")));
  PvcPtr a = MakePvc(Pvc("a", "1Gi"));
  PvcPtr b = MakePvc(Pvc("b", "1Gi"));
  EXPECT_TRUE(vs.AssumePv("pv", *a));
  EXPECT_TRUE(vs.GetPv("pv")->BoundTo(*a));
  EXPECT_FALSE(vs.AssumePv("pv", *b));
  EXPECT_TRUE(vs.AssumePv("pv", *a));  // idempotent for the same claim
  vs.RestorePv("pv");
  EXPECT_FALSE(vs.GetPv("pv")->has_claim_ref);
  EXPECT_TRUE(vs.AssumePv("pv", *b));
  // The informer's next version replaces the assumption.
  vs.SetPv(MakePv(Pv("pv", "1Gi")));
  EXPECT_FALSE(vs.GetPv("pv")->has_claim_ref);
  EXPECT_FALSE(vs.AssumePv("missing", *a));
}

TEST(VolumeBinding, DefaultProfileListsTheVolumePlugins) {
  Env e;
  auto plugins = e.s->Profile("default-scheduler")->ListPlugins();
  std::vector<std::string> filters = plugins["filter"];
  auto pos = [&](const std::string& n) {
    return std::find(filters.begin(), filters.end(), n) - filters.begin();
  };
  EXPECT_LT(pos("NodeResourcesFit"), pos("VolumeRestrictions"));
  EXPECT_LT(pos("VolumeRestrictions"), pos("VolumeBinding"));
  EXPECT_LT(pos("VolumeBinding"), pos("VolumeZone"));
  EXPECT_LT(pos("VolumeZone"), pos("PodTopologySpread"));
  EXPECT_EQ(plugins["reserve"], std::vector<std::string>{"VolumeBinding"});
  EXPECT_EQ(plugins["preBind"], std::vector<std::string>{"VolumeBinding"});
}

}  // namespace
}  // namespace korral::scheduler
