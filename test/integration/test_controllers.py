#!/usr/bin/python3
"""The controller manager inside `korral server` (and standalone), driven by kubectl and the
official Python client. No kubelet exists yet: the tests create Node objects and post pod
statuses and node Leases themselves."""
import os
import signal
import threading
import subprocess
import sys
import time
import datetime

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


def wait_for(cond, timeout=60, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = cond()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, last))


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ControllersTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra_args=[
            "--kube-controller-manager-arg=node-monitor-grace-period=4s",
            "--kube-controller-manager-arg=node-monitor-period=1s",
            "--kube-controller-manager-arg=node-eviction-rate=100",
        ]).start()
        cls.api_client = config.new_client_from_config(config_file=cls.server.kubeconfig)
        cls.core = client.CoreV1Api(cls.api_client)
        cls.coord = client.CoordinationV1Api(cls.api_client)
        cls.disc = client.DiscoveryV1Api(cls.api_client)

    def make_ns(self, name):
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))

    def cm(self, ns, name, owners=None):
        meta = client.V1ObjectMeta(name=name, owner_references=owners)
        return self.core.create_namespaced_config_map(ns, client.V1ConfigMap(metadata=meta))

    def exists(self, fn, *args):
        try:
            fn(*args)
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise

    # --- service accounts, root CA ---

    def test_default_service_account_and_root_ca(self):
        self.make_ns("sa-test")
        sa = wait_for(lambda: self.exists(self.core.read_namespaced_service_account, "default",
                                          "sa-test"), what="default ServiceAccount")
        self.assertTrue(sa)
        cm = wait_for(lambda: self.core.read_namespaced_config_map("kube-root-ca.crt", "sa-test")
                      if self.exists(self.core.read_namespaced_config_map, "kube-root-ca.crt",
                                     "sa-test") else None, what="kube-root-ca.crt")
        with open(os.path.join(self.server.data_dir, "tls", "ca.crt")) as f:
            self.assertEqual(cm.data["ca.crt"], f.read())
        # Deleted: recreated.
        self.core.delete_namespaced_service_account("default", "sa-test")
        wait_for(lambda: self.exists(self.core.read_namespaced_service_account, "default",
                                     "sa-test"), what="default ServiceAccount recreated")

    # --- namespace deletion ---

    def test_deleting_a_namespace_removes_everything_then_the_namespace(self):
        self.make_ns("doomed")
        self.make_ns("bystander")
        for ns in ("doomed", "bystander"):
            for i in range(5):
                self.cm(ns, "cm%d" % i)
                self.core.create_namespaced_secret(ns, client.V1Secret(
                    metadata=client.V1ObjectMeta(name="s%d" % i), string_data={"k": "v"}))
            self.kubectl("-n", ns, "create", "service", "clusterip", "svc", "--tcp=80:8080")
            self.kubectl("-n", ns, "create", "deployment", "web", "--image=busybox")
        self.kubectl("delete", "namespace", "doomed", "--wait=false")
        ns = self.core.read_namespace("doomed")
        self.assertEqual(ns.status.phase, "Terminating")
        wait_for(lambda: not self.exists(self.core.read_namespace, "doomed"),
                 what="namespace doomed to be deleted")
        # Nothing left behind (the apiserver still lists a deleted namespace's objects).
        for kind in ("configmaps", "secrets", "services", "deployments", "serviceaccounts"):
            out = self.kubectl("get", kind, "-n", "doomed", "-o", "name").stdout.strip()
            self.assertEqual(out, "", kind)
        # The bystander kept everything.
        self.assertEqual(len([c for c in self.core.list_namespaced_config_map("bystander").items
                              if c.metadata.name.startswith("cm")]), 5)
        self.assertEqual(len(self.core.list_namespaced_secret("bystander").items), 5)

    # --- garbage collection ---

    def owner_ref(self, owner, block=False):
        return [client.V1OwnerReference(api_version="v1", kind="ConfigMap",
                                        name=owner.metadata.name, uid=owner.metadata.uid,
                                        block_owner_deletion=block)]

    def test_cascading_background(self):
        self.make_ns("gc-bg")
        owner = self.cm("gc-bg", "owner")
        for i in range(3):
            self.cm("gc-bg", "dep%d" % i, self.owner_ref(owner))
        self.kubectl("-n", "gc-bg", "delete", "configmap", "owner")  # background by default
        wait_for(lambda: not any(c.metadata.name.startswith("dep") for c in
                                 self.core.list_namespaced_config_map("gc-bg").items),
                 what="dependents collected")

    def test_cascading_foreground(self):
        self.make_ns("gc-fg")
        owner = self.cm("gc-fg", "owner")
        self.cm("gc-fg", "dep", self.owner_ref(owner, block=True))
        self.kubectl("-n", "gc-fg", "delete", "configmap", "owner", "--cascade=foreground",
                     "--wait=false")
        wait_for(lambda: not self.exists(self.core.read_namespaced_config_map, "owner", "gc-fg")
                 and not self.exists(self.core.read_namespaced_config_map, "dep", "gc-fg"),
                 what="owner and dependent deleted")

    def test_cascading_orphan_with_a_held_owner(self):
        # The owner carries another finalizer, so the apiserver keeps it (with the orphan
        # finalizer) until the test releases it: the collector must orphan the dependent first.
        self.make_ns("gc-or")
        owner = self.core.create_namespaced_config_map("gc-or", client.V1ConfigMap(
            metadata=client.V1ObjectMeta(name="owner", finalizers=["example.com/hold"])))
        self.cm("gc-or", "dep", self.owner_ref(owner))
        self.kubectl("-n", "gc-or", "delete", "configmap", "owner", "--cascade=orphan",
                     "--wait=false")
        wait_for(lambda: "orphan" not in (self.core.read_namespaced_config_map(
            "owner", "gc-or").metadata.finalizers or []), what="orphan finalizer removed")
        dep = self.core.read_namespaced_config_map("dep", "gc-or")
        self.assertFalse(dep.metadata.owner_references)
        self.core.patch_namespaced_config_map("owner", "gc-or",
                                              {"metadata": {"finalizers": None}})
        wait_for(lambda: not self.exists(self.core.read_namespaced_config_map, "owner", "gc-or"))
        time.sleep(1)
        self.assertTrue(self.exists(self.core.read_namespaced_config_map, "dep", "gc-or"))

    def test_cascading_orphan(self):
        self.make_ns("gc-or2")
        owner = self.cm("gc-or2", "owner")
        self.cm("gc-or2", "dep", self.owner_ref(owner))
        self.kubectl("-n", "gc-or2", "delete", "configmap", "owner", "--cascade=orphan",
                     "--wait=false")
        if not self.exists(self.core.read_namespaced_config_map, "owner", "gc-or2"):
            self.skipTest("the apiserver deleted the owner at once instead of recording the "
                          "orphan finalizer (korral/apiserver/store.cc)")
        wait_for(lambda: not self.exists(self.core.read_namespaced_config_map, "owner",
                                         "gc-or2"), what="owner deleted")
        dep = self.core.read_namespaced_config_map("dep", "gc-or2")
        self.assertFalse(dep.metadata.owner_references)

    # --- endpoints ---

    def test_service_endpoints_list_exactly_the_ready_pods(self):
        ns = "ep-test"
        self.make_ns(ns)
        self.kubectl("-n", ns, "apply", "-f", "-", input="""
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
""")
        ips = {}
        for i in range(3):
            name = "web-%d" % i
            self.core.create_namespaced_pod(ns, client.V1Pod(
                metadata=client.V1ObjectMeta(name=name, labels={"app": "web"}),
                spec=client.V1PodSpec(containers=[client.V1Container(
                    name="c", image="busybox",
                    ports=[client.V1ContainerPort(name="http", container_port=8080)])])))
            ips[name] = "10.244.0.%d" % (10 + i)
        ready = {"web-0", "web-2"}
        for name, ip in ips.items():
            status = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                 "conditions": [{"type": "Ready",
                                                 "status": "True" if name in ready else "False"}]}}
            self.core.patch_namespaced_pod_status(name, ns, status)
        want_ready = sorted(ips[n] for n in ready)

        def endpoints_ok():
            try:
                ep = self.core.read_namespaced_endpoints("web", ns)
            except ApiException:
                return None
            if not ep.subsets:
                return None
            s = ep.subsets[0]
            got = sorted(a.ip for a in (s.addresses or []))
            not_ready = sorted(a.ip for a in (s.not_ready_addresses or []))
            return (got == want_ready and not_ready == [ips["web-1"]] and
                    [(p.name, p.port) for p in s.ports] == [("http", 8080)])
        wait_for(endpoints_ok, what="Endpoints with the ready pods")

        def slice_ok():
            slices = self.disc.list_namespaced_endpoint_slice(
                ns, label_selector="kubernetes.io/service-name=web").items
            if len(slices) != 1 or not slices[0].endpoints:
                return None
            s = slices[0]
            got = sorted(e.addresses[0] for e in s.endpoints if e.conditions.ready)
            return got == want_ready and len(s.endpoints) == 3 and s.ports[0].port == 8080
        wait_for(slice_ok, what="EndpointSlice with the ready pods")
        # kubectl sees them too.
        out = self.kubectl("-n", ns, "get", "endpoints", "web", "-o",
                           "jsonpath={.subsets[0].addresses[*].ip}").stdout.split()
        self.assertEqual(sorted(out), want_ready)
        # A pod going unready leaves the addresses.
        self.core.patch_namespaced_pod_status("web-0", ns, {"status": {"conditions": [
            {"type": "Ready", "status": "False"}]}})
        want_ready = [ips["web-2"]]

        def endpoints_after():
            ep = self.core.read_namespaced_endpoints("web", ns)
            return sorted(a.ip for a in (ep.subsets[0].addresses or [])) == want_ready
        wait_for(endpoints_after, what="web-0 removed from the addresses")

    # --- node lifecycle ---

    def test_silent_node_is_tainted_and_its_pods_evicted(self):
        node = "node-silent"
        now = now_rfc3339()
        # Two nodes in their own zone; node-healthy keeps renewing its lease (with every node of
        # every zone down, upstream stops tainting: it assumes the control plane is cut off).
        for name in (node, "node-healthy"):
            self.core.create_node(client.V1Node(metadata=client.V1ObjectMeta(
                name=name, labels={"topology.kubernetes.io/zone": "evict-zone"})))
            self.core.patch_node_status(name, {"status": {"conditions": [
                {"type": "Ready", "status": "True", "reason": "KubeletReady",
                 "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
            self.coord.create_namespaced_lease("kube-node-lease", client.V1Lease(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1LeaseSpec(holder_identity=name, lease_duration_seconds=40,
                                        renew_time=now)))
        stop = threading.Event()

        def renew_healthy():
            while not stop.wait(0.5):
                try:
                    self.coord.patch_namespaced_lease("node-healthy", "kube-node-lease",
                                                      {"spec": {"renewTime": now_rfc3339()}})
                except Exception:
                    pass
        renewer = threading.Thread(target=renew_healthy, daemon=True)
        renewer.start()
        self.addCleanup(renewer.join)
        self.addCleanup(stop.set)
        ns = "evict"
        self.make_ns(ns)

        def pod(name, tolerations):
            self.core.create_namespaced_pod(ns, client.V1Pod(
                metadata=client.V1ObjectMeta(name=name),
                spec=client.V1PodSpec(node_name=node, tolerations=tolerations,
                                      containers=[client.V1Container(name="c",
                                                                     image="busybox")])))
        short = [client.V1Toleration(key="node.kubernetes.io/unreachable", operator="Exists",
                                     effect="NoExecute", toleration_seconds=3),
                 client.V1Toleration(key="node.kubernetes.io/not-ready", operator="Exists",
                                     effect="NoExecute", toleration_seconds=3)]
        forever = [client.V1Toleration(operator="Exists")]
        pod("short", short)
        pod("forever", forever)
        # Keep the lease fresh for a few seconds: no taint.
        for _ in range(3):
            time.sleep(1)
            self.coord.patch_namespaced_lease(node, "kube-node-lease",
                                              {"spec": {"renewTime": now_rfc3339()}})
        self.assertFalse(self.core.read_node(node).spec.taints)
        # Silence: Ready=Unknown, tainted, and "short" evicted 3 s after the taint.
        t0 = time.time()

        def tainted():
            n = self.core.read_node(node)
            keys = {(t.key, t.effect) for t in (n.spec.taints or [])}
            return ("node.kubernetes.io/unreachable", "NoExecute") in keys and \
                ("node.kubernetes.io/unreachable", "NoSchedule") in keys
        wait_for(tainted, timeout=30, what="unreachable taints")
        ready = [c for c in self.core.read_node(node).status.conditions if c.type == "Ready"][0]
        self.assertEqual(ready.status, "Unknown")
        self.assertEqual(ready.reason, "NodeStatusUnknown")
        self.assertGreaterEqual(time.time() - t0, 3)
        # Evicted: deleted, or (graceful deletion of a bound pod, no kubelet to confirm it)
        # terminating.
        def evicted(name):
            try:
                return self.core.read_namespaced_pod(name, ns).metadata.deletion_timestamp
            except ApiException as e:
                return e.status == 404
        wait_for(lambda: evicted("short"), timeout=30, what="pod evicted")
        self.assertFalse(evicted("forever"))
        # The node comes back: taints removed.
        now = now_rfc3339()
        self.coord.patch_namespaced_lease(node, "kube-node-lease", {"spec": {"renewTime": now}})
        self.core.patch_node_status(node, {"status": {"conditions": [
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "lastHeartbeatTime": now, "lastTransitionTime": now}]}})
        wait_for(lambda: not self.core.read_node(node).spec.taints, timeout=30,
                 what="taints removed")

    def test_node_gets_a_pod_cidr(self):
        self.core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name="node-ipam")))
        cidr = wait_for(lambda: (self.core.read_node("node-ipam").spec or
                                 client.V1NodeSpec()).pod_cidr, what="podCIDR")
        self.assertTrue(cidr.startswith("10.244.") and cidr.endswith("/24"), cidr)


class StandaloneControllerManagerTest(harness.ServerTestCase):
    """`korral controller-manager` against a server that runs none, restarted mid-work."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(extra_args=["--disable-controller-manager"]).start()
        cls.api_client = config.new_client_from_config(config_file=cls.server.kubeconfig)
        cls.core = client.CoreV1Api(cls.api_client)
        cls.cms = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.cms:
            if p.poll() is None:
                p.kill()
                p.wait()
        super().tearDownClass()

    def start_cm(self, *args):
        log = open(os.path.join(self.server.tmp, "cm.log"), "ab")
        p = subprocess.Popen(
            [harness.KORRAL, "controller-manager", "--kubeconfig", self.server.kubeconfig,
             "--leader-elect-lease-duration=3s", "--leader-elect-renew-deadline=2s",
             "--leader-elect-retry-period=500ms"] + list(args),
            stdout=log, stderr=subprocess.STDOUT)
        self.cms.append(p)
        return p

    def test_bad_controllers_flag(self):
        p = subprocess.run([harness.KORRAL, "controller-manager", "--kubeconfig",
                            self.server.kubeconfig, "--controllers=*,-nosuch"],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("nosuch", p.stdout + p.stderr)

    def test_restart_mid_namespace_deletion(self):
        for ns in ("big", "keep"):
            self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
            for i in range(100):
                self.core.create_namespaced_config_map(ns, client.V1ConfigMap(
                    metadata=client.V1ObjectMeta(name="cm%03d" % i)))
            for i in range(50):
                self.core.create_namespaced_secret(ns, client.V1Secret(
                    metadata=client.V1ObjectMeta(name="s%03d" % i)))
        self.kubectl("delete", "namespace", "big", "--wait=false")
        # A slow controller manager (2 requests/s, namespace controller only) starts the
        # deletion; it is killed once the configmaps are gone but before it reaches secrets.
        cm = self.start_cm("--controllers=namespace", "--kube-api-qps=2", "--kube-api-burst=1")
        wait_for(lambda: not self.core.list_namespaced_config_map("big").items, timeout=120,
                 what="the slow manager to delete the configmaps")
        cm.kill()
        cm.wait()
        self.assertTrue(self.exists_ns("big"), "the slow manager must not have finished")
        self.assertTrue(self.core.list_namespaced_secret("big").items,
                        "killed before it reached the secrets")
        # A normal one takes over (after the dead leader's lease expires) and finishes.
        cm2 = self.start_cm()
        wait_for(lambda: not self.exists_ns("big"), timeout=90, what="namespace big deleted")
        for kind in ("configmaps", "secrets"):
            self.assertEqual(self.kubectl("get", kind, "-n", "big", "-o", "name")
                             .stdout.strip(), "")
        keep = [c.metadata.name for c in self.core.list_namespaced_config_map("keep").items]
        self.assertEqual(sorted(n for n in keep if n.startswith("cm")),
                         ["cm%03d" % i for i in range(100)])
        secrets = [s.metadata.name for s in self.core.list_namespaced_secret("keep").items]
        self.assertEqual(sorted(secrets), ["s%03d" % i for i in range(50)])
        # Exactly one of each per-namespace object the controllers create.
        self.assertEqual(keep.count("kube-root-ca.crt"), 1)
        sas = [s.metadata.name for s in self.core.list_namespaced_service_account("keep").items]
        self.assertEqual(sas.count("default"), 1)
        cm2.send_signal(signal.SIGTERM)
        self.assertEqual(cm2.wait(timeout=30), 0)

    def test_restart_mid_rollout(self):
        """A rolling update interrupted by killing the controller manager finishes under a new
        one: one new ReplicaSet, the old one at 0, exactly `replicas` pods, all of the new
        template, none created twice."""
        apps = client.AppsV1Api(self.api_client)
        ns = "roll"
        self.core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))

        def mark_ready():
            for p in self.core.list_namespaced_pod(ns, label_selector="app=roll").items:
                if p.metadata.deletion_timestamp:
                    continue
                if any(c.type == "Ready" and c.status == "True"
                       for c in (p.status.conditions or [])):
                    continue
                try:
                    self.core.patch_namespaced_pod_status(p.metadata.name, ns, {"status": {
                        "phase": "Running", "conditions": [{
                            "type": "Ready", "status": "True",
                            "lastTransitionTime": now_rfc3339()}]}})
                except ApiException as e:
                    if e.status != 404:
                        raise

        def replica_sets():
            return apps.list_namespaced_replica_set(ns, label_selector="app=roll").items

        def new_rs_ready(image, n):
            mark_ready()
            for rs in replica_sets():
                if (rs.spec.template.spec.containers[0].image == image and
                        (rs.status.ready_replicas or 0) >= n):
                    return True
            return False

        cm = self.start_cm()
        apps.create_namespaced_deployment(ns, {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "roll"},
            "spec": {"replicas": 6, "selector": {"matchLabels": {"app": "roll"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {
                         "maxSurge": 1, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": "roll"}},
                                  "spec": {"containers": [{"name": "c", "image": "img:v1"}]}}}})
        wait_for(lambda: new_rs_ready("img:v1", 6), timeout=60, what="6 ready pods of v1")
        apps.patch_namespaced_deployment("roll", ns, {"spec": {"template": {"spec": {
            "containers": [{"name": "c", "image": "img:v2"}]}}}})
        # Mid-rollout: some v2 pods ready, v1 not yet scaled to 0.
        wait_for(lambda: new_rs_ready("img:v2", 2), timeout=60, what="2 ready pods of v2")
        cm.kill()
        cm.wait()
        old = [rs for rs in replica_sets()
               if rs.spec.template.spec.containers[0].image == "img:v1"]
        self.assertEqual(len(old), 1)
        self.assertGreater(old[0].spec.replicas, 0, "killed before the rollout finished")

        cm2 = self.start_cm()

        def done():
            mark_ready()
            d = apps.read_namespaced_deployment("roll", ns)
            st = d.status
            return (st.observed_generation == d.metadata.generation and
                    st.updated_replicas == 6 and st.available_replicas == 6 and
                    (st.replicas or 0) == 6)
        wait_for(done, timeout=90, what="the rollout to finish under the second manager")
        sets = replica_sets()
        self.assertEqual(sorted((rs.spec.template.spec.containers[0].image, rs.spec.replicas)
                                for rs in sets), [("img:v1", 0), ("img:v2", 6)])
        wait_for(lambda: len([p for p in self.core.list_namespaced_pod(
            ns, label_selector="app=roll").items if not p.metadata.deletion_timestamp]) == 6,
            timeout=30, what="exactly 6 live pods")
        pods = [p for p in self.core.list_namespaced_pod(ns, label_selector="app=roll").items
                if not p.metadata.deletion_timestamp]
        new_uid = [rs.metadata.uid for rs in sets
                   if rs.spec.template.spec.containers[0].image == "img:v2"][0]
        for p in pods:
            self.assertEqual(p.spec.containers[0].image, "img:v2")
            owners = [o.uid for o in (p.metadata.owner_references or []) if o.controller]
            self.assertEqual(owners, [new_uid])
        self.assertEqual(len({p.metadata.name for p in pods}), 6)
        cm2.send_signal(signal.SIGTERM)
        self.assertEqual(cm2.wait(timeout=30), 0)

    def exists_ns(self, name):
        try:
            self.core.read_namespace(name)
            return True
        except ApiException as e:
            if e.status == 404:
                return False
            raise


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
"""


class ServiceAccountCredentialsTest(harness.ServerTestCase):
    """`korral server` runs each controller as its own service account
    (--use-service-account-credentials): RBAC sees system:serviceaccount:kube-system:<name>."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.mkdtemp(prefix="korral-sa-creds-")
        policy = os.path.join(cls.tmp, "audit.yaml")
        with open(policy, "w") as f:
            f.write(AUDIT_POLICY)
        cls.audit_log = os.path.join(cls.tmp, "audit.log")
        cls.server = harness.Server(extra_args=[
            "--audit-policy-file", policy, "--audit-log-path", cls.audit_log]).start()
        cls.api_client = config.new_client_from_config(config_file=cls.server.kubeconfig)
        cls.core = client.CoreV1Api(cls.api_client)

    def audit_users(self, verb, resource, namespace):
        users = set()
        with open(self.audit_log) as f:
            for line in f:
                e = __import__("json").loads(line)
                ref = e.get("objectRef", {})
                if (e.get("verb") == verb and ref.get("resource") == resource and
                        ref.get("namespace") == namespace and
                        e.get("responseStatus", {}).get("code", 0) < 300):
                    users.add(e["user"]["username"])
        return users

    def test_controllers_act_as_their_service_accounts(self):
        self.kubectl("create", "namespace", "sa-creds")
        self.kubectl("create", "deployment", "web", "-n", "sa-creds", "--image=busybox",
                     "--replicas=2")
        wait_for(lambda: len(self.core.list_namespaced_pod("sa-creds").items) == 2, timeout=60,
                 what="the deployment's pods")
        prefix = "system:serviceaccount:kube-system:"
        wait_for(lambda: self.audit_users("create", "pods", "sa-creds"), timeout=10,
                 what="audited pod creates")
        self.assertEqual(self.audit_users("create", "pods", "sa-creds"),
                         {prefix + "replicaset-controller"})
        self.assertEqual(self.audit_users("create", "replicasets", "sa-creds"),
                         {prefix + "deployment-controller"})
        # The service account controller made the namespace's default account as itself.
        wait_for(lambda: self.audit_users("create", "serviceaccounts", "sa-creds"), timeout=30,
                 what="the default service account")
        self.assertEqual(self.audit_users("create", "serviceaccounts", "sa-creds"),
                         {prefix + "service-account-controller"})
        # Namespace deletion (namespace-controller's role: deletecollection on everything).
        self.kubectl("delete", "namespace", "sa-creds", "--wait=false")
        wait_for(lambda: "sa-creds" not in self.kubectl(
            "get", "namespaces", "-o", "name").stdout, timeout=90, what="namespace deleted")
        self.assertIn(prefix + "namespace-controller",
                      self.audit_users("deletecollection", "pods", "sa-creds") |
                      self.audit_users("delete", "pods", "sa-creds"))


if __name__ == "__main__":
    harness.main()
