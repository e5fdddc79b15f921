#!/usr/bin/python3
"""Deletion and lifecycle semantics: graceful pod deletion, grace periods and --force,
propagation policies recorded as finalizers, preconditions, deletecollection with selectors,
pods/eviction against PodDisruptionBudgets, pods/ephemeralcontainers, --dry-run=server."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

NS = "/api/v1/namespaces/default"
PODS = NS + "/pods"
PDBS = "/apis/policy/v1/namespaces/default/poddisruptionbudgets"
MERGE = "application/merge-patch+json"


def pod(name, node="", grace=None, labels=None):
    spec = {"containers": [{"name": "c", "image": "busybox"}]}
    if node:
        spec["nodeName"] = node
    if grace is not None:
        spec["terminationGracePeriodSeconds"] = grace
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": name}}, "spec": spec}


class DeletionTest(harness.ServerTestCase):
    # The eviction test writes PodDisruptionBudget status itself; the disruption controller
    # would race it.
    server_args = ["--kube-controller-manager-arg=controllers=*,-disruption"]

    def req(self, method, path, body=None, ctype="application/json"):
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        code, _, raw = self.server.request(method, path, body, {"Content-Type": ctype})
        return code, json.loads(raw) if raw else None

    def create(self, path, obj):
        code, o = self.req("POST", path, obj)
        self.assertEqual(code, 201, o)
        return o

    def test_graceful_pod_deletion(self):
        self.create(PODS, pod("g1", node="node-a", grace=15))
        code, o = self.req("DELETE", PODS + "/g1")
        self.assertEqual(code, 200)
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 15)
        self.assertIn("deletionTimestamp", o["metadata"])
        code, o = self.req("GET", PODS + "/g1")
        self.assertEqual(code, 200, "a bound pod waits for its kubelet")
        # A longer grace period changes nothing; a shorter one shortens it.
        code, o = self.req("DELETE", PODS + "/g1", {"gracePeriodSeconds": 60})
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 15)
        code, o = self.req("DELETE", PODS + "/g1", {"gracePeriodSeconds": 5})
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 5)
        # Status updates from the kubelet do not delete it early.
        code, o = self.req("PATCH", PODS + "/g1/status", {"status": {"phase": "Running"}}, MERGE)
        self.assertEqual(code, 200, o)
        # The kubelet's final delete (grace 0) removes it.
        code, o = self.req("DELETE", PODS + "/g1", {"gracePeriodSeconds": 0})
        self.assertEqual(code, 200)
        code, _ = self.req("GET", PODS + "/g1")
        self.assertEqual(code, 404)

    def test_default_grace_and_force(self):
        self.create(PODS, pod("g2", node="node-a"))
        p = self.kubectl("delete", "pod", "g2", "--wait=false")
        self.assertIn('pod "g2" deleted', p.stdout)
        o = self.server.kubectl_json("get", "pod", "g2")
        self.assertEqual(o["metadata"]["deletionGracePeriodSeconds"], 30)
        p = self.kubectl("delete", "pod", "g2", "--force", "--grace-period=0")
        self.assertNotEqual(self.kubectl("get", "pod", "g2", check=False).returncode, 0)
        self.create(PODS, pod("g3", node="node-a"))
        self.kubectl("delete", "pod", "g3", "--grace-period=7", "--wait=false")
        self.assertEqual(
            self.server.kubectl_json("get", "pod", "g3")["metadata"]["deletionGracePeriodSeconds"], 7)

    def test_unscheduled_and_terminal_pods_delete_at_once(self):
        self.create(PODS, pod("u1"))
        self.kubectl("delete", "pod", "u1", "--wait=true", timeout=30)
        self.assertEqual(self.req("GET", PODS + "/u1")[0], 404)
        self.create(PODS, pod("t1", node="node-a"))
        code, o = self.req("PATCH", PODS + "/t1/status", {"status": {"phase": "Succeeded"}}, MERGE)
        self.assertEqual(code, 200, o)
        self.req("DELETE", PODS + "/t1")
        self.assertEqual(self.req("GET", PODS + "/t1")[0], 404)

    def test_cascade_policies_record_finalizers(self):
        for name, cascade, fin in (("fg", "foreground", "foregroundDeletion"),
                                   ("or", "orphan", "orphan")):
            self.create(NS + "/configmaps", {"metadata": {"name": name}})
            p = self.kubectl("delete", "configmap", name, "--cascade=" + cascade,
                             "--wait=false", "-v=9")
            # The object the server returned for kubectl's DELETE (the garbage collector may
            # finish the job, which has no dependents, before a later GET).
            log = p.stderr.replace('\\"', '"')
            self.assertIn('"finalizers":["%s"]' % fin, log)
            self.assertIn('"deletionTimestamp"', log)
            # Whoever finishes the job removes the finalizer; the object goes.
            code, _ = self.req("PATCH", NS + "/configmaps/" + name,
                               {"metadata": {"finalizers": None}}, MERGE)
            self.assertIn(code, (200, 404))
            self.assertEqual(self.req("GET", NS + "/configmaps/" + name)[0], 404)
        # Background removes nothing and waits for nothing.
        self.create(NS + "/configmaps", {"metadata": {"name": "bg"}})
        self.kubectl("delete", "configmap", "bg", "--cascade=background")
        self.assertEqual(self.req("GET", NS + "/configmaps/bg")[0], 404)
        # Both options at once are invalid.
        self.create(NS + "/configmaps", {"metadata": {"name": "both"}})
        code, st = self.req("DELETE", NS + "/configmaps/both",
                            {"orphanDependents": True, "propagationPolicy": "Orphan"})
        self.assertEqual(code, 422, st)

    def test_preconditions(self):
        o = self.create(NS + "/configmaps", {"metadata": {"name": "pre"}})
        code, st = self.req("DELETE", NS + "/configmaps/pre", {"preconditions": {"uid": "nope"}})
        self.assertEqual(code, 409)
        self.assertIn("Precondition failed: UID in precondition", st["message"])
        code, st = self.req("DELETE", NS + "/configmaps/pre",
                            {"preconditions": {"resourceVersion": "1"}})
        self.assertEqual(code, 409)
        code, st = self.req("DELETE", NS + "/configmaps/pre",
                            {"preconditions": {"uid": o["metadata"]["uid"],
                                               "resourceVersion": o["metadata"]["resourceVersion"]}})
        self.assertEqual(code, 200, st)
        self.assertEqual(self.req("GET", NS + "/configmaps/pre")[0], 404)

    def test_deletecollection_with_selectors(self):
        for i, tier in enumerate(["a", "a", "b"]):
            self.create(NS + "/configmaps",
                        {"metadata": {"name": "dc%d" % i, "labels": {"tier": tier}}})
        code, lst = self.req("DELETE", NS + "/configmaps?labelSelector=tier%3Da")
        self.assertEqual(code, 200, lst)
        self.assertEqual(sorted(i["metadata"]["name"] for i in lst["items"]), ["dc0", "dc1"])
        self.assertEqual(self.req("GET", NS + "/configmaps/dc2")[0], 200)
        self.assertEqual(self.req("GET", NS + "/configmaps/dc0")[0], 404)
        code, _ = self.req("DELETE", NS + "/configmaps?fieldSelector=metadata.name%3Ddc2")
        self.assertEqual(self.req("GET", NS + "/configmaps/dc2")[0], 404)

    def test_deletecollection_many_with_finalizers(self):
        # Enough items for the apiserver's parallel delete workers: every matching item is
        # deleted exactly once, finalizers still hold their objects, the rest is untouched.
        for i in range(120):
            meta = {"name": "many%03d" % i, "labels": {"batch": "x" if i < 100 else "y"}}
            if i % 25 == 0 and i < 100:
                meta["finalizers"] = ["example.com/hold"]
            self.create(NS + "/configmaps", {"metadata": meta})
        code, lst = self.req("DELETE", NS + "/configmaps?labelSelector=batch%3Dx")
        self.assertEqual(code, 200, lst)
        self.assertEqual(sorted(i["metadata"]["name"] for i in lst["items"]),
                         ["many%03d" % i for i in range(100)])
        code, left = self.req("GET", NS + "/configmaps?labelSelector=batch")
        names = sorted(i["metadata"]["name"] for i in left["items"])
        held = ["many%03d" % i for i in range(0, 100, 25)]
        self.assertEqual(names, held + ["many%03d" % i for i in range(100, 120)])
        for n in held:
            o = self.req("GET", NS + "/configmaps/" + n)[1]
            self.assertIn("deletionTimestamp", o["metadata"])
            o["metadata"]["finalizers"] = []
            self.assertEqual(self.req("PUT", NS + "/configmaps/" + n, o)[0], 200)
        self.req("DELETE", NS + "/configmaps?labelSelector=batch%3Dy")
        code, left = self.req("GET", NS + "/configmaps?labelSelector=batch")
        self.assertEqual(left["items"], [])

    def running(self, name):
        code, o = self.req("PATCH", PODS + "/" + name + "/status", {"status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}]}}, MERGE)
        self.assertEqual(code, 200, o)

    def test_eviction_honours_pdb(self):
        self.create(PODS, pod("ev1", node="node-a", grace=0, labels={"app": "ev"}))
        self.running("ev1")
        self.create(PDBS, {"metadata": {"name": "ev-pdb"},
                           "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "ev"}}}})
        gen = self.req("GET", PDBS + "/ev-pdb")[1]["metadata"].get("generation", 1)
        code, o = self.req("PUT", PDBS + "/ev-pdb/status", dict(
            self.req("GET", PDBS + "/ev-pdb")[1],
            status={"disruptionsAllowed": 0, "currentHealthy": 1, "desiredHealthy": 1,
                    "expectedPods": 1, "observedGeneration": gen}))
        self.assertEqual(code, 200, o)
        evict = {"apiVersion": "policy/v1", "kind": "Eviction",
                 "metadata": {"name": "ev1", "namespace": "default"}}
        code, st = self.req("POST", PODS + "/ev1/eviction", evict)
        self.assertEqual(code, 429, st)
        self.assertEqual(st["reason"], "TooManyRequests")
        self.assertEqual(st["message"],
                         "Cannot evict pod as it would violate the pod's disruption budget.")
        self.assertEqual(st["details"]["causes"][0]["reason"], "DisruptionBudget")
        self.assertEqual(self.req("GET", PODS + "/ev1")[0], 200)
        cur = self.req("GET", PDBS + "/ev-pdb")[1]
        cur["status"]["disruptionsAllowed"] = 1
        cur["status"]["currentHealthy"] = 2
        self.assertEqual(self.req("PUT", PDBS + "/ev-pdb/status", cur)[0], 200)
        code, st = self.req("POST", PODS + "/ev1/eviction", evict)
        self.assertEqual(code, 201, st)
        self.assertEqual(st["status"], "Success")
        pdb = self.req("GET", PDBS + "/ev-pdb")[1]
        self.assertEqual(pdb["status"]["disruptionsAllowed"], 0)
        self.assertIn("ev1", pdb["status"]["disruptedPods"])
        self.assertEqual(self.req("GET", PODS + "/ev1")[0], 404)
        # No budget: plain delete; a name mismatch is 400.
        self.create(PODS, pod("ev2", labels={"app": "other"}))
        self.assertEqual(self.req("POST", PODS + "/ev2/eviction",
                                  dict(evict, metadata={"name": "x"}))[0], 400)
        self.assertEqual(self.req("POST", PODS + "/ev2/eviction",
                                  dict(evict, metadata={"name": "ev2"}))[0], 201)
        self.assertEqual(self.req("GET", PODS + "/ev2")[0], 404)

    def test_ephemeral_containers(self):
        self.create(PODS, pod("eph", node="node-a"))
        code, o = self.req("PATCH", PODS + "/eph/ephemeralcontainers", {"spec": {
            "ephemeralContainers": [{"name": "debug", "image": "busybox",
                                     "targetContainerName": "c"}]}},
            "application/strategic-merge-patch+json")
        self.assertEqual(code, 200, o)
        self.assertEqual(o["spec"]["ephemeralContainers"][0]["name"], "debug")
        code, o = self.req("GET", PODS + "/eph/ephemeralcontainers")
        self.assertEqual(code, 200)
        self.assertEqual(o["kind"], "Pod")
        code, st = self.req("PATCH", PODS + "/eph/ephemeralcontainers",
                            {"spec": {"ephemeralContainers": None}}, MERGE)
        self.assertEqual(code, 422, st)
        self.assertIn("may not be removed", st["message"])
        code, st = self.req("PATCH", PODS + "/eph/ephemeralcontainers", {"spec": {
            "ephemeralContainers": [{"name": "debug", "image": "busybox",
                                     "targetContainerName": "c"},
                                    {"name": "c", "image": "x"}]}}, MERGE)
        self.assertEqual(code, 422, st)
        # Nothing else of the pod changes through it.
        code, o = self.req("PATCH", PODS + "/eph/ephemeralcontainers",
                           {"metadata": {"labels": {"x": "y"}}}, MERGE)
        self.assertEqual(code, 200, o)
        self.assertNotIn("x", o["metadata"]["labels"])

    def test_dry_run_delete(self):
        self.create(PODS, pod("dd", node="node-a"))
        self.kubectl("delete", "pod", "dd", "--dry-run=server")
        o = self.server.kubectl_json("get", "pod", "dd")
        self.assertNotIn("deletionTimestamp", o["metadata"])
        self.create(NS + "/configmaps", {"metadata": {"name": "ddc"}})
        self.kubectl("delete", "configmap", "ddc", "--dry-run=server")
        self.assertEqual(self.req("GET", NS + "/configmaps/ddc")[0], 200)


if __name__ == "__main__":
    harness.main()
