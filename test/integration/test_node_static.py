"""Static pods on the real node: `korral agent --pod-manifest-path DIR` (its own containerd, runc,
CNI bridge and the offline busybox image) against a real `korral server`.

A manifest dropped into DIR runs (the agent re-reads DIR every 20 s, as upstream's
fileCheckFrequency) and gets a mirror pod `<name>-<node>` in the API with upstream's annotations
and the Node as its controller owner; deleting the mirror pod through the API (the apiserver
deletes a bound pod gracefully: deletionTimestamp first) recreates it with the running pod's
status and leaves the container alone; removing the manifest stops the pod and deletes the
mirror pod. Under DiskPressure (the agent restarted with nodefs.available<99%, always met) a pod
bound to the node is rejected at admission as upstream and never started, while a static
(critical) pod runs.

Every wait is on observable state with a bounded timeout (node_env.wait_for). Needs root and
containerd/runc/CNI plugins/busybox-static/docker-registry (scripts/install-deps.sh); skips
otherwise. Everything it creates is unique to the run and removed at the end.
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from node_env import (AGENT_TEST_FLAGS, dump_cluster, failed, nat_chains,  # noqa: E402
                      node_ready, node_runtime_available, restore_host, wait_for)

# One manifest re-read period (20 s) plus the pod's start: the longest wait for the agent to act.
ACT_TIMEOUT = 90


@unittest.skipUnless(node_runtime_available(), "needs root and the node runtime packages")
class StaticPodTest(unittest.TestCase):
    server = None
    agent = None

    @classmethod
    def setUpClass(cls):
        tag = "%06x" % random.randrange(1 << 24)
        cls.tmp = tempfile.mkdtemp(prefix="korral-static-it-")
        cls.node = "nstatic-" + tag
        cls.bridge = "krst" + tag
        cls.pod_cidr = "10.252.%d.0/24" % random.randrange(1, 250)
        cls.cgroup_root = "/korral-static-" + tag
        cls.registry_port = harness.free_port()
        cls.agent_dir = os.path.join(cls.tmp, "agent")
        cls.manifests = os.path.join(cls.tmp, "manifests")
        os.makedirs(cls.manifests)
        cls.chains_before = nat_chains()
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            cls.ip_forward = f.read().strip()
        cls.server = harness.Server().start()
        cls.start_agent()
        try:
            wait_for(cls.node_ready, 90, what="node Ready")
        except AssertionError:
            cls.tearDownClass()
            raise

    @classmethod
    def agent_args(cls, cleanup=False, flags=None):
        args = [harness.KORRAL, "agent", "--kubeconfig", cls.server.kubeconfig,
                "--data-dir", cls.agent_dir, "--node-name", cls.node,
                "--pod-cidr", cls.pod_cidr, "--cni-bridge", cls.bridge,
                "--cgroup-root", cls.cgroup_root, "--registry-port", str(cls.registry_port),
                "--kubelet-port", str(harness.free_port()),
                "--pod-manifest-path", cls.manifests] + (flags or AGENT_TEST_FLAGS)
        return args + (["--cleanup-on-exit"] if cleanup else [])

    @classmethod
    def start_agent(cls, cleanup=False, flags=None):
        cls.agent_log = open(os.path.join(cls.tmp, "agent.log"), "ab")
        cls.agent = subprocess.Popen(cls.agent_args(cleanup, flags), stdout=cls.agent_log,
                                     stderr=subprocess.STDOUT)

    @classmethod
    def stop_agent(cls, timeout=60):
        if cls.agent and cls.agent.poll() is None:
            cls.agent.send_signal(signal.SIGTERM)
            try:
                cls.agent.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                cls.agent.kill()
                cls.agent.wait()
        if cls.agent:
            cls.agent_log.close()

    @classmethod
    def node_ready(cls):
        return node_ready(cls.server, cls.node)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server and cls.agent:
                for f in os.listdir(cls.manifests):
                    os.remove(os.path.join(cls.manifests, f))
                cls.stop_agent()
                # Final pass: whatever still runs is stopped and removed, then cgroups and bridge.
                cls.start_agent(cleanup=True)
                try:
                    wait_for(cls.node_ready, 60, what="cleanup agent up")
                except AssertionError as e:
                    print(e)
                cls.stop_agent()
                cls.agent = None
        finally:
            if cls.server:
                cls.server.stop()
                cls.server = None
            restore_host(cls)

    def tearDown(self):
        if failed(self):
            dump_cluster(self.server, os.path.join(self.tmp, "agent.log"), self.node)

    # ---- helpers ----

    def get_pod(self, name):
        p = self.server.kubectl("get", "pod", name, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def running_mirror(self, name, not_uid=None):
        """The mirror pod `name` once it reports its container running (and, with not_uid, is
        not the object with that uid); None before."""
        p = self.get_pod(name)
        if not p or p["metadata"].get("deletionTimestamp"):
            return None
        if not_uid and p["metadata"]["uid"] == not_uid:
            return None
        st = p.get("status", {})
        cs = st.get("containerStatuses", [])
        if st.get("phase") != "Running" or not cs or "running" not in cs[0].get("state", {}):
            return None
        return p

    def runtime_containers(self, pod_uid, state="running"):
        """containerd's containers of the pod (by the kubelet's pod uid label) in `state` (None:
        in any state, with a task or not)."""
        sock = os.path.join(self.agent_dir, "containerd", "containerd.sock")
        p = subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "tasks", "ls"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        tasks = {line.split()[0]: line.split()[-1].lower()
                 for line in p.stdout.splitlines()[1:] if line.split()}
        # (One filter with both conditions: separate filters are ORed.)
        p = subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "containers", "ls", "-q",
                            'labels."io.kubernetes.pod.uid"==%s,labels."io.cri-containerd.kind"'
                            '==container' % pod_uid],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return [c for c in p.stdout.split() if state is None or tasks.get(c) == state]

    def runtime_sandboxes(self, pod_uid):
        """containerd's sandbox containers of the pod."""
        sock = os.path.join(self.agent_dir, "containerd", "containerd.sock")
        p = subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "containers", "ls", "-q",
                            'labels."io.kubernetes.pod.uid"==%s,labels."io.cri-containerd.kind"'
                            '==sandbox' % pod_uid],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def node_condition(self, type_):
        node = self.server.kubectl_json("get", "node", self.node)
        for c in node.get("status", {}).get("conditions", []):
            if c["type"] == type_:
                return c["status"]
        return None

    def write_manifest(self, name, manifest):
        path = os.path.join(self.manifests, name)
        with open(os.path.join(self.manifests, "." + name + ".tmp"), "w") as f:
            json.dump(manifest, f)
        os.rename(os.path.join(self.manifests, "." + name + ".tmp"), path)  # never half-read
        return path

    # ---- the case ----

    def test_static_pod_mirror_recreated_and_removed_with_the_manifest(self):
        manifest = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "static-web", "labels": {"app": "static-web"}},
                    "spec": {"terminationGracePeriodSeconds": 2,
                             "containers": [{"name": "main", "image": "busybox",
                                             "imagePullPolicy": "IfNotPresent",
                                             "command": ["sleep", "3600"]}]}}
        path = self.write_manifest("static-web.json", manifest)
        name = "static-web-" + self.node

        m = wait_for(lambda: self.running_mirror(name), ACT_TIMEOUT, interval=0.5,
                     what="mirror pod %s Running" % name)
        md = m["metadata"]
        ann = md["annotations"]
        self.assertEqual(md["namespace"], "default")
        self.assertEqual(md["labels"], {"app": "static-web"})
        self.assertEqual(ann["kubernetes.io/config.source"], "file")
        # The static pod's uid is its hash; the mirror pod carries it as config.mirror and has an
        # apiserver-made uid of its own.
        pod_uid = ann["kubernetes.io/config.hash"]
        self.assertEqual(ann["kubernetes.io/config.mirror"], pod_uid)
        self.assertRegex(pod_uid, r"^[0-9a-f]{32}$")
        self.assertNotEqual(md["uid"], pod_uid)
        self.assertIn("kubernetes.io/config.seen", ann)
        self.assertEqual(m["spec"]["nodeName"], self.node)
        owners = md["ownerReferences"]
        self.assertEqual(len(owners), 1)
        self.assertEqual((owners[0]["kind"], owners[0]["name"], owners[0]["controller"]),
                         ("Node", self.node, True))
        node_uid = self.server.kubectl_json("get", "node", self.node)["metadata"]["uid"]
        self.assertEqual(owners[0]["uid"], node_uid)
        self.assertIn({"operator": "Exists", "effect": "NoExecute"}, m["spec"]["tolerations"])
        self.assertTrue(m["status"].get("podIP"))
        running = self.runtime_containers(pod_uid)
        self.assertEqual(len(running), 1, running)

        # Deleting the mirror pod through the API: a new mirror pod comes back with the pod's
        # status; the container is the same one and did not restart.
        self.server.kubectl("delete", "pod", name, "--wait=false")
        again = wait_for(lambda: self.running_mirror(name, not_uid=md["uid"]), ACT_TIMEOUT,
                         interval=0.5, what="mirror pod %s recreated and Running" % name)
        self.assertEqual(again["metadata"]["annotations"]["kubernetes.io/config.mirror"], pod_uid)
        cs = again["status"]["containerStatuses"][0]
        self.assertEqual(cs["restartCount"], 0)
        self.assertEqual(cs["containerID"], m["status"]["containerStatuses"][0]["containerID"])
        self.assertEqual(self.runtime_containers(pod_uid), running)

        # Removing the manifest stops the pod and deletes the mirror pod (not recreated).
        os.remove(path)
        wait_for(lambda: self.get_pod(name) is None and not self.runtime_containers(pod_uid),
                 ACT_TIMEOUT, interval=0.5, what="static pod stopped and mirror pod gone")
        p = self.server.kubectl("get", "pods", "-o", "name")
        self.assertEqual(p.stdout.strip(), "")

    def test_under_disk_pressure_new_pods_are_rejected_and_critical_ones_run(self):
        """Admission under node pressure, as upstream's eviction admit handler: with
        nodefs.available<99% (always met on a real disk) the node reports DiskPressure; a pod
        bound to it is rejected (phase Failed, reason Evicted, upstream's message, a Warning
        Evicted event) and never started, while a static pod (critical) runs. (The pod is bound
        directly: the scheduler keeps pods off a node tainted disk-pressure.)"""
        self.stop_agent()
        self.start_agent(flags=["--eviction-hard", "memory.available<100Mi,nodefs.available<99%"])
        static_path = None
        try:
            wait_for(lambda: self.node_condition("DiskPressure") == "True", 90, interval=0.5,
                     what="DiskPressure=True")
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "rejected", "namespace": "default"},
                   "spec": {"nodeName": self.node, "terminationGracePeriodSeconds": 1,
                            "containers": [{"name": "main", "image": "busybox",
                                            "imagePullPolicy": "IfNotPresent",
                                            "command": ["sleep", "3600"]}]}}
            self.server.kubectl("create", "-f", "-", input=json.dumps(pod))

            def rejected():
                p = self.get_pod("rejected")
                return p if p and p.get("status", {}).get("phase") == "Failed" else None
            p = wait_for(rejected, ACT_TIMEOUT, interval=0.5, what="pod rejected")
            st = p["status"]
            self.assertEqual(st["reason"], "Evicted")
            self.assertEqual(st["message"],
                             "Pod was rejected: The node had condition: [DiskPressure]. ")
            self.assertNotIn("containerStatuses", st)
            uid = p["metadata"]["uid"]
            self.assertEqual(self.runtime_sandboxes(uid), [])
            self.assertEqual(self.runtime_containers(uid, state=None), [])
            events = self.server.kubectl_json(
                "get", "events", "--field-selector", "involvedObject.name=rejected")["items"]
            self.assertIn(("Warning", "Evicted", "The node had condition: [DiskPressure]. "),
                          [(e["type"], e["reason"], e["message"]) for e in events])

            static_path = self.write_manifest("critical.json", {
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "critical"},
                "spec": {"terminationGracePeriodSeconds": 1,
                         "containers": [{"name": "main", "image": "busybox",
                                         "imagePullPolicy": "IfNotPresent",
                                         "command": ["sleep", "3600"]}]}})
            wait_for(lambda: self.running_mirror("critical-" + self.node), ACT_TIMEOUT,
                     interval=0.5, what="static pod running under DiskPressure")
            # The rejected pod stayed as it was.
            self.assertEqual(self.get_pod("rejected")["status"]["phase"], "Failed")
            self.assertEqual(self.runtime_sandboxes(uid), [])
        finally:
            if static_path and os.path.exists(static_path):
                os.remove(static_path)
            self.server.kubectl("delete", "pod", "rejected", "--wait=false", check=False)
            self.stop_agent()
            self.start_agent()
            wait_for(self.node_ready, 90, what="agent back without pressure")


if __name__ == "__main__":
    harness.main()
