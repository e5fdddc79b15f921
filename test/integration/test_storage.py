"""Persistent volumes end to end in `korral server`, driven with kubectl: storage.k8s.io
StorageClasses (`kubectl get sc` with the default class, immutable fields, explain), the
DefaultStorageClass and StorageObjectInUseProtection admission plugins, the PV binder controller
binding a claim to a PV, the scheduler placing the claim's pod on the PV's node, the
pvc-protection finalizer kept while a pod uses the claim, and the Released PV of a Retain
volume once the claim is gone."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import ServerTestCase, main  # noqa: E402


def node_manifest(name):
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True",
                                       "reason": "KubeletReady", "message": "ready"}]}}


def storage_class(name, default=False, mode="Immediate"):
    meta = {"name": name}
    if default:
        meta["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": meta,
            "provisioner": "kubernetes.io/no-provisioner", "volumeBindingMode": mode}


def local_pv(name, node, size="1Gi", cls="standard", policy="Retain"):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": policy, "storageClassName": cls,
                     "local": {"path": "/mnt/" + name},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [
                         {"matchExpressions": [{"key": "kubernetes.io/hostname",
                                                "operator": "In", "values": [node]}]}]}}}}


def claim(name, size="1Gi"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": size}}}}


def pod_with(name, claim_name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "registry.k8s.io/pause:3.9"}],
                     "volumes": [{"name": "data",
                                  "persistentVolumeClaim": {"claimName": claim_name}}]}}


class StorageTest(ServerTestCase):

    def apply(self, obj, check=True):
        p = self.kubectl("apply", "-f", "-", input=json.dumps(obj), check=check)
        if obj["kind"] == "Node":
            code, _, body = self.server.request(
                "PATCH", "/api/v1/nodes/%s/status" % obj["metadata"]["name"],
                json.dumps({"status": obj["status"]}),
                {"Content-Type": "application/merge-patch+json"})
            self.assertEqual(code, 200, body)
        return p

    def get(self, *args):
        p = self.kubectl("get", "-o", "json", *args, check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def wait_for(self, fn, timeout=30, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))

    def test_1_storage_classes(self):
        self.apply(storage_class("standard", default=True))
        self.apply(storage_class("local-wait", mode="WaitForFirstConsumer"))
        out = self.kubectl("get", "sc").stdout.splitlines()
        self.assertEqual(out[0].split(), ["NAME", "PROVISIONER", "RECLAIMPOLICY",
                                          "VOLUMEBINDINGMODE", "ALLOWVOLUMEEXPANSION", "AGE"])
        rows = {l.split()[0]: l.split() for l in out[1:]}
        self.assertEqual(rows["standard"][1:6], ["(default)", "kubernetes.io/no-provisioner",
                                                 "Delete", "Immediate", "false"])
        self.assertEqual(rows["local-wait"][1:5], ["kubernetes.io/no-provisioner", "Delete",
                                                   "WaitForFirstConsumer", "false"])
        # Immutable fields, as upstream's messages.
        changed = storage_class("local-wait", mode="Immediate")
        changed["provisioner"] = "example.com/other"
        p = self.apply(changed, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("provisioner: Forbidden: updates to provisioner are forbidden.", p.stderr)
        self.assertIn("volumeBindingMode: Invalid value: \"Immediate\": field is immutable",
                      p.stderr)
        # OpenAPI: kubectl explain knows the type.
        explain = self.kubectl("explain", "storageclass.volumeBindingMode").stdout
        self.assertIn("storage.k8s.io", explain)
        # The CSI kinds are served too.
        self.apply({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver",
                    "metadata": {"name": "disk.example.com"}, "spec": {}})
        drv = self.get("csidriver", "disk.example.com")
        self.assertEqual(drv["spec"]["attachRequired"], True)
        self.assertEqual(drv["spec"]["volumeLifecycleModes"], ["Persistent"])
        self.assertEqual(self.get("csinodes")["items"], [])
        self.assertEqual(self.get("volumeattachments")["items"], [])

    def test_2_claim_bound_pod_scheduled_and_protected(self):
        self.apply(node_manifest("st-a"))
        self.apply(node_manifest("st-b"))
        self.apply(local_pv("pv-b", "st-b"))
        self.apply(local_pv("pv-big", "st-a", size="10Gi"))
        self.apply(claim("data"))
        # DefaultStorageClass filled the class; the finalizer came from admission.
        pvc = self.get("pvc", "data")
        self.assertEqual(pvc["spec"]["storageClassName"], "standard")
        self.assertIn("kubernetes.io/pvc-protection", pvc["metadata"]["finalizers"])
        self.assertIn("kubernetes.io/pv-protection", self.get("pv", "pv-b")["metadata"]["finalizers"])
        # The binder picks the smallest fitting volume.
        pvc = self.wait_for(lambda: (lambda c: c if c and c["status"].get("phase") == "Bound"
                                     else None)(self.get("pvc", "data")), what="claim Bound")
        self.assertEqual(pvc["spec"]["volumeName"], "pv-b")
        self.assertEqual(pvc["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"], "yes")
        self.assertEqual(pvc["status"]["capacity"]["storage"], "1Gi")
        pv = self.wait_for(lambda: (lambda v: v if v["status"].get("phase") == "Bound" else None)(
            self.get("pv", "pv-b")), what="volume Bound")
        self.assertEqual(pv["spec"]["claimRef"]["name"], "data")
        self.assertEqual(pv["spec"]["claimRef"]["uid"], pvc["metadata"]["uid"])
        row = self.kubectl("get", "pvc", "data").stdout.splitlines()[1].split()
        self.assertEqual(row[:6], ["data", "Bound", "pv-b", "1Gi", "RWO", "standard"])
        self.assertEqual(self.get("pv", "pv-big")["status"]["phase"], "Available")

        # The pod goes to the PV's node.
        self.apply(pod_with("user", "data"))
        node = self.wait_for(lambda: self.get("pod", "user")["spec"].get("nodeName"),
                             what="pod scheduled")
        self.assertEqual(node, "st-b")

        # Deleting the claim while the pod uses it: it stays, Terminating, with its finalizer.
        self.kubectl("delete", "pvc", "data", "--wait=false")
        pvc = self.get("pvc", "data")
        self.assertIn("deletionTimestamp", pvc["metadata"])
        time.sleep(2)
        pvc = self.get("pvc", "data")
        self.assertIsNotNone(pvc)
        self.assertEqual(pvc["metadata"]["finalizers"], ["kubernetes.io/pvc-protection"])
        self.assertIn("Terminating", self.kubectl("get", "pvc", "data").stdout)
        # The pod goes: the claim goes, and the Retain volume is Released (claimRef kept).
        self.kubectl("delete", "pod", "user", "--grace-period=0", "--force")
        self.wait_for(lambda: self.get("pvc", "data") is None, what="claim deleted")
        pv = self.wait_for(lambda: (lambda v: v if v["status"].get("phase") == "Released"
                                    else None)(self.get("pv", "pv-b")), what="volume Released")
        self.assertEqual(pv["spec"]["claimRef"]["name"], "data")
        self.assertRegex(self.kubectl("get", "pv", "pv-b").stdout,
                         r"pv-b\s+1Gi\s+RWO\s+Retain\s+Released\s+default/data\s+standard")
        # A Released volume is not bound again; deleting it is not blocked (not Bound).
        self.kubectl("delete", "pv", "pv-b", "--wait=false")
        self.wait_for(lambda: self.get("pv", "pv-b") is None, what="released volume deleted")

    def test_3_wait_for_first_consumer_left_to_the_scheduler(self):
        self.apply(local_pv("pv-wait", "st-a", cls="local-wait"))
        c = claim("late")
        c["spec"]["storageClassName"] = "local-wait"
        self.apply(c)
        events = self.wait_for(
            lambda: [e for e in self.get("events")["items"]
                     if e["involvedObject"]["name"] == "late"
                     and e["reason"] == "WaitForFirstConsumer"], what="WaitForFirstConsumer event")
        self.assertEqual(events[0]["message"],
                         "waiting for first consumer to be created before binding")
        self.assertEqual(self.get("pvc", "late")["status"]["phase"], "Pending")
        # The first pod: the scheduler binds the claim on the PV's node; the binder completes it.
        self.apply(pod_with("consumer", "late"))
        node = self.wait_for(lambda: self.get("pod", "consumer")["spec"].get("nodeName"),
                             what="pod scheduled")
        self.assertEqual(node, "st-a")
        pvc = self.wait_for(lambda: (lambda c: c if c["status"].get("phase") == "Bound" else None)(
            self.get("pvc", "late")), what="claim Bound")
        self.assertEqual(pvc["spec"]["volumeName"], "pv-wait")
        self.wait_for(lambda: self.get("pv", "pv-wait")["status"].get("phase") == "Bound",
                      what="volume Bound")


if __name__ == "__main__":
    main()
