"""The scheduler inside `korral server`, driven with kubectl: Node objects created by hand (no
kubelet), pods placed by nodeSelector and resources, upstream's FailedScheduling message in
`kubectl describe`, re-scheduling when a fitting node appears, preemption, multiple schedulers,
and leader failover between two standalone `korral scheduler` replicas."""
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from harness import KORRAL, ServerTestCase, free_port, main  # noqa: E402


def node_manifest(name, cpu="4", memory="8Gi", labels=None, taints=None):
    labels = dict(labels or {})
    labels.setdefault("kubernetes.io/hostname", name)
    alloc = {"cpu": cpu, "memory": memory, "pods": "110"}
    spec = {}
    if taints:
        spec["taints"] = taints
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels}, "spec": spec,
            "status": {"capacity": alloc, "allocatable": alloc,
                       "conditions": [{"type": "Ready", "status": "True",
                                       "reason": "KubeletReady", "message": "ready"}]}}


def pod_manifest(name, cpu=None, node_selector=None, priority_class=None, labels=None,
                 scheduler_name=None, namespace="default"):
    c = {"name": "c", "image": "registry.k8s.io/pause:3.9"}
    if cpu:
        c["resources"] = {"requests": {"cpu": cpu}}
    spec = {"containers": [c]}
    if node_selector:
        spec["nodeSelector"] = node_selector
    if priority_class:
        spec["priorityClassName"] = priority_class
    if scheduler_name:
        spec["schedulerName"] = scheduler_name
    meta = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


class SchedulerTest(ServerTestCase):

    def apply(self, obj):
        self.kubectl("apply", "-f", "-", input=json.dumps(obj))
        if obj["kind"] == "Node":
            # Status may be dropped on create; set it through the status subresource as a
            # kubelet would.
            code, _, body = self.server.request(
                "PATCH", "/api/v1/nodes/%s/status" % obj["metadata"]["name"],
                json.dumps({"status": obj["status"]}),
                {"Content-Type": "application/merge-patch+json"})
            self.assertEqual(code, 200, body)

    def pod(self, name):
        return self.server.kubectl_json("get", "pod", name)

    def wait_for(self, fn, timeout=20, what="condition"):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        self.fail("timed out waiting for %s (last: %r)" % (what, last))

    def events_for(self, name):
        return [e for e in self.server.kubectl_json("get", "events")["items"]
                if e.get("involvedObject", {}).get("name") == name]

    def node_of(self, name):
        return self.pod(name)["spec"].get("nodeName", "")

    def scheduled_condition(self, name):
        for c in self.pod(name).get("status", {}).get("conditions", []):
            if c["type"] == "PodScheduled" and c["status"] == "False":
                return c
        return None

    def test_1_node_selector_and_resources(self):
        self.apply(node_manifest("sel-a", labels={"disk": "hdd"}))
        self.apply(node_manifest("sel-b", labels={"disk": "ssd"}))
        self.apply(node_manifest("sel-c", labels={"disk": "hdd"}))
        self.apply(pod_manifest("ssd-pod", cpu="100m", node_selector={"disk": "ssd"}))
        self.assertEqual(self.wait_for(lambda: self.node_of("ssd-pod"), what="binding"), "sel-b")
        conds = self.pod("ssd-pod")["status"].get("conditions", [])
        self.assertIn(("PodScheduled", "True"), [(c["type"], c["status"]) for c in conds])
        events = self.wait_for(lambda: [
            e for e in self.events_for("ssd-pod") if e["reason"] == "Scheduled"],
            what="Scheduled event")
        self.assertEqual(events[0]["message"], "Successfully assigned default/ssd-pod to sel-b")
        self.assertEqual(events[0]["source"]["component"], "default-scheduler")
        describe = self.kubectl("describe", "pod", "ssd-pod").stdout
        self.assertIn("Successfully assigned default/ssd-pod to sel-b", describe)

    def test_2_unschedulable_message_then_new_node(self):
        # The three sel-* nodes have 4 cpu; only sel-b is ssd. 6 cpu fits nowhere.
        self.apply(pod_manifest("big", cpu="6", node_selector={"disk": "ssd"}))
        cond = self.wait_for(lambda: self.scheduled_condition("big"), what="PodScheduled=False")
        want = ("0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
                "affinity/selector. preemption: 0/3 nodes are available: 1 No preemption victims "
                "found for incoming pod, 2 Preemption is not helpful for scheduling..")
        self.assertEqual(cond["reason"], "Unschedulable")
        self.assertEqual(cond["message"], want)
        describe = self.wait_for(
            lambda: (lambda d: d if "FailedScheduling" in d else None)(
                self.kubectl("describe", "pod", "big").stdout), what="FailedScheduling event")
        self.assertIn(want, describe)
        # A node that fits arrives: the pod is scheduled without restarting anything.
        self.apply(node_manifest("sel-big", cpu="16", labels={"disk": "ssd"}))
        self.assertEqual(self.wait_for(lambda: self.node_of("big"), timeout=30,
                                       what="binding after node add"), "sel-big")
        # The binding replaced the False condition: exactly one PodScheduled, now True.
        conds = [c for c in self.pod("big")["status"].get("conditions", [])
                 if c["type"] == "PodScheduled"]
        self.assertEqual([c["status"] for c in conds], ["True"], conds)

    def test_3_preemption(self):
        # PriorityClass objects are not served yet; use priority 0 against the built-in
        # system-cluster-critical class (2000000000), which the Priority admission resolves.
        self.apply(node_manifest("prio", cpu="2", labels={"pool": "prio"}))
        self.apply(pod_manifest("low", cpu="1500m", node_selector={"pool": "prio"}))
        self.assertEqual(self.wait_for(lambda: self.node_of("low")), "prio")
        self.assertEqual(self.pod("low")["spec"].get("priority", 0), 0)
        self.apply(pod_manifest("high", cpu="1", node_selector={"pool": "prio"},
                                priority_class="system-cluster-critical", namespace="kube-system"))
        # The victim is deleted through the API (graceful: no kubelet here to finish it) and the
        # preemptor is nominated to the node.
        self.wait_for(lambda: self.pod("low")["metadata"].get("deletionTimestamp"),
                      what="victim deletion")
        high = lambda: self.server.kubectl_json("get", "pod", "-n", "kube-system", "high")
        self.assertEqual(high()["spec"].get("priority"), 2000000000)
        self.assertEqual(self.wait_for(
            lambda: high().get("status", {}).get("nominatedNodeName")), "prio")
        self.assertEqual(high()["spec"].get("nodeName", ""), "")
        self.wait_for(lambda: "Preempted" in [e["reason"] for e in self.events_for("low")],
                      what="Preempted event")
        # The kubelet would now finish the deletion; do it by hand.
        self.kubectl("delete", "pod", "low", "--grace-period=0", "--force")
        self.assertEqual(self.wait_for(lambda: high()["spec"].get("nodeName"), timeout=30,
                                       what="preemptor binding"), "prio")

    def test_5_volumes(self):
        """VolumeBinding/VolumeRestrictions: an unbound Immediate claim keeps the pod pending with
        upstream's message; a claim bound to a PV with node affinity puts the pod on that node; a
        ReadWriteOncePod claim in use blocks a second pod."""
        self.apply(node_manifest("vol-a", labels={"pool": "vol"}))
        self.apply(node_manifest("vol-b", labels={"pool": "vol"}))

        def pv(name, node, modes):
            return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
                    "spec": {"capacity": {"storage": "1Gi"}, "accessModes": modes,
                             "hostPath": {"path": "/tmp/" + name},
                             "nodeAffinity": {"required": {"nodeSelectorTerms": [
                                 {"matchExpressions": [{"key": "kubernetes.io/hostname",
                                                        "operator": "In",
                                                        "values": [node]}]}]}}}}

        def pvc(name, modes, volume=None):
            spec = {"accessModes": modes, "resources": {"requests": {"storage": "1Gi"}},
                    "storageClassName": ""}
            if volume:
                spec["volumeName"] = volume
            return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                    "metadata": {"name": name, "namespace": "default"}, "spec": spec}

        def pod_with(name, claim):
            p = pod_manifest(name)
            p["spec"]["volumes"] = [{"name": "data", "persistentVolumeClaim": {
                "claimName": claim}}]
            return p

        # Unbound, Immediate (no class): unschedulable on every node.
        unbound = pvc("unbound", ["ReadWriteOnce"])
        # Larger than every PV below, so the PV binder controller never binds it.
        unbound["spec"]["resources"]["requests"]["storage"] = "5Gi"
        self.apply(unbound)
        self.apply(pod_with("vol-pending", "unbound"))
        n = len(self.server.kubectl_json("get", "nodes")["items"])
        want = ("0/%d nodes are available: pod has unbound immediate PersistentVolumeClaims. "
                "preemption: 0/%d nodes are available: %d Preemption is not helpful for "
                "scheduling.." % (n, n, n))
        # (The first attempt may predate the two new nodes; node events retry the pod.)
        cond = self.wait_for(
            lambda: (lambda c: c if c and c["message"] == want else None)(
                self.scheduled_condition("vol-pending")),
            what="PodScheduled=False with the unbound-claim message")
        self.assertEqual(cond["reason"], "Unschedulable")
        describe = self.wait_for(
            lambda: (lambda d: d if "FailedScheduling" in d else None)(
                self.kubectl("describe", "pod", "vol-pending").stdout),
            what="FailedScheduling event")
        self.assertIn("pod has unbound immediate PersistentVolumeClaims", describe)

        # Bound to a PV that only vol-b can reach.
        self.apply(pv("pv-b", "vol-b", ["ReadWriteOnce"]))
        self.apply(pvc("on-b", ["ReadWriteOnce"], volume="pv-b"))
        for i in range(3):
            self.apply(pod_with("vol-pod-%d" % i, "on-b"))
        for i in range(3):
            self.assertEqual(self.wait_for(lambda: self.node_of("vol-pod-%d" % i),
                                           what="binding"), "vol-b")

        # ReadWriteOncePod: the second user of the claim is rejected.
        self.apply(pv("pv-solo", "vol-a", ["ReadWriteOncePod"]))
        self.apply(pvc("solo", ["ReadWriteOncePod"], volume="pv-solo"))
        self.apply(pod_with("solo-1", "solo"))
        self.assertEqual(self.wait_for(lambda: self.node_of("solo-1"), what="binding"), "vol-a")
        self.apply(pod_with("solo-2", "solo"))
        cond = self.wait_for(lambda: self.scheduled_condition("solo-2"),
                             what="PodScheduled=False")
        self.assertIn("node has pod using PersistentVolumeClaim with the same name and "
                      "ReadWriteOncePod access mode", cond["message"])
        self.assertEqual(self.node_of("solo-2"), "")

    def test_4_other_scheduler_name_left_alone(self):
        self.apply(pod_manifest("mine", cpu="100m", scheduler_name="my-scheduler"))
        self.apply(pod_manifest("canary", cpu="100m"))
        self.wait_for(lambda: self.node_of("canary"), what="canary binding")
        time.sleep(0.5)
        self.assertEqual(self.node_of("mine"), "")
        self.assertIsNone(self.scheduled_condition("mine"))


class FailoverTest(ServerTestCase):
    """Two standalone scheduler replicas with the server's own scheduler disabled."""

    @classmethod
    def setUpClass(cls):
        from harness import Server
        cls.server = Server(extra_args=["--disable-scheduler"]).start()

    def start_replica(self, name, port=None):
        log = open(os.path.join(self.server.tmp, name + ".log"), "wb")
        return subprocess.Popen(
            [KORRAL, "scheduler", "--kubeconfig", self.server.kubeconfig,
             "--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "3s",
             "--leader-elect-retry-period", "500ms",
             "--secure-port", str(port or free_port()), "--bind-address", "127.0.0.1"],
            stdout=log, stderr=subprocess.STDOUT)

    @staticmethod
    def get_secure(port, path, token=None):
        """GET https://127.0.0.1:port/path (self-signed serving cert): (status, body)."""
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path))
        if token:
            req.add_header("Authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics_token(self):
        """A service account token allowed `get` on the non-resource URL /metrics."""
        for obj in [
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "metrics-reader", "namespace": "default"}},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                 "metadata": {"name": "metrics-reader"},
                 "rules": [{"nonResourceURLs": ["/metrics"], "verbs": ["get"]}]},
                {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                 "metadata": {"name": "metrics-reader"},
                 "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                             "name": "metrics-reader"},
                 "subjects": [{"kind": "ServiceAccount", "name": "metrics-reader",
                               "namespace": "default"}]},
                {"apiVersion": "v1", "kind": "ServiceAccount",
                 "metadata": {"name": "nobody", "namespace": "default"}}]:
            self.server.kubectl("apply", "-f", "-", input=json.dumps(obj))
        token = self.server.kubectl("create", "token", "metrics-reader").stdout.strip()
        other = self.server.kubectl("create", "token", "nobody").stdout.strip()
        return token, other

    def test_secure_port_healthz_and_metrics(self):
        """A standalone scheduler serves /healthz and Prometheus /metrics on --secure-port;
        /metrics needs a user the apiserver allows `get` on /metrics (delegated authn/authz)."""
        token, other = self.metrics_token()
        self.server.kubectl("apply", "-f", "-", input=json.dumps(node_manifest("sp-1")))
        code, _, body = self.server.request(
            "PATCH", "/api/v1/nodes/sp-1/status",
            json.dumps({"status": node_manifest("sp-1")["status"]}),
            {"Content-Type": "application/merge-patch+json"})
        self.assertEqual(code, 200, body)
        port = free_port()
        p = self.start_replica("sp", port)
        try:
            deadline = time.time() + 20
            status = None
            while time.time() < deadline:
                try:
                    status, body = self.get_secure(port, "/healthz")
                    break
                except OSError:
                    time.sleep(0.1)
            self.assertEqual((status, body), (200, "ok"))
            self.server.kubectl("apply", "-f", "-",
                                input=json.dumps(pod_manifest("sp-pod", node_selector={
                                    "kubernetes.io/hostname": "sp-1"})))
            self.server.kubectl("apply", "-f", "-",
                                input=json.dumps(pod_manifest("sp-nowhere", node_selector={
                                    "kubernetes.io/hostname": "missing"})))
            # Delegated authorization: anonymous and unprivileged users are forbidden, a bad
            # token is unauthorized, /healthz stays open.
            status, body = self.get_secure(port, "/metrics")
            self.assertEqual(status, 403, body)
            self.assertEqual(json.loads(body)["message"],
                             'forbidden: User "system:anonymous" cannot get path "/metrics"')
            status, body = self.get_secure(port, "/metrics", other)
            self.assertEqual(status, 403, body)
            self.assertIn('User "system:serviceaccount:default:nobody" cannot get path',
                          json.loads(body)["message"])
            self.assertEqual(self.get_secure(port, "/metrics", "not-a-token")[0], 401)
            self.assertEqual(self.get_secure(port, "/healthz", token), (200, "ok"))
            want = ('scheduler_schedule_attempts_total{profile="default-scheduler",'
                    'result="scheduled"} 1')
            deadline = time.time() + 30
            metrics = ""
            while time.time() < deadline:
                status, metrics = self.get_secure(port, "/metrics", token)
                if want in metrics and 'result="unschedulable"' in metrics:
                    break
                time.sleep(0.2)
            self.assertEqual(status, 200)
            self.assertIn(want, metrics)
            self.assertIn("# TYPE scheduler_scheduling_attempt_duration_seconds histogram",
                          metrics)
            self.assertIn('scheduler_scheduling_attempt_duration_seconds_count{'
                          'profile="default-scheduler",result="scheduled"} 1', metrics)
            self.assertIn('scheduler_pending_pods{queue="unschedulable"} 1', metrics)
            self.assertEqual(self.get_secure(port, "/nope", token)[0], 403)
        finally:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            self.server.kubectl("delete", "pod", "sp-pod", "sp-nowhere", "--wait=false",
                                check=False)

    def holder(self):
        p = self.server.kubectl("get", "lease", "-n", "kube-system", "kube-scheduler", "-o",
                                "json", check=False)
        if p.returncode != 0:
            return ""
        return json.loads(p.stdout)["spec"].get("holderIdentity", "")

    def test_failover(self):
        self.server.kubectl("apply", "-f", "-", input=json.dumps(node_manifest("fo-1")))
        code, _, body = self.server.request(
            "PATCH", "/api/v1/nodes/fo-1/status",
            json.dumps({"status": node_manifest("fo-1")["status"]}),
            {"Content-Type": "application/merge-patch+json"})
        self.assertEqual(code, 200, body)
        a = self.start_replica("a")
        b = None
        try:
            deadline = time.time() + 20
            while not self.holder() and time.time() < deadline:
                time.sleep(0.1)
            first = self.holder()
            self.assertTrue(first)
            b = self.start_replica("b")
            time.sleep(1)
            self.assertEqual(self.holder(), first)  # b waits
            self.server.kubectl("apply", "-f", "-", input=json.dumps(pod_manifest("fo-a")))
            deadline = time.time() + 20
            while time.time() < deadline and not self.server.kubectl_json(
                    "get", "pod", "fo-a")["spec"].get("nodeName"):
                time.sleep(0.1)
            self.assertEqual(self.server.kubectl_json("get", "pod", "fo-a")["spec"]["nodeName"],
                             "fo-1")
            # Kill the leader hard (no lease release): b takes over within the lease duration.
            a.kill()
            a.wait()
            killed = time.time()
            deadline = killed + 15
            while time.time() < deadline and self.holder() == first:
                time.sleep(0.1)
            self.assertNotEqual(self.holder(), first)
            self.assertLess(time.time() - killed, 4 + 3)
            self.server.kubectl("apply", "-f", "-", input=json.dumps(pod_manifest("fo-b")))
            deadline = time.time() + 20
            while time.time() < deadline and not self.server.kubectl_json(
                    "get", "pod", "fo-b")["spec"].get("nodeName"):
                time.sleep(0.1)
            self.assertEqual(self.server.kubectl_json("get", "pod", "fo-b")["spec"]["nodeName"],
                             "fo-1")
        finally:
            for p in (a, b):
                if p and p.poll() is None:
                    p.send_signal(signal.SIGTERM)
                    try:
                        p.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        p.kill()
                        p.wait()


if __name__ == "__main__":
    main()
