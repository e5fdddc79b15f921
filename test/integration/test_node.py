"""The node end to end: `korral agent` with a real containerd (started and supervised by the
agent), runc, CNI bridge and the offline busybox image, against a real `korral server`.

Needs root and containerd/runc/CNI plugins/busybox-static/docker-registry (scripts/install-deps.sh);
skips otherwise. Everything it creates is unique to the run (data dir, CNI bridge, pod CIDR,
cgroup root, ports) and removed at the end: pods are deleted through the API, then a final
`korral agent --cleanup-on-exit` pass removes any sandbox left, the pod cgroups and the bridge;
iptables chains the CNI plugins left behind and net.ipv4.ip_forward are restored.
"""
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from node_env import (AGENT_TEST_FLAGS, dump_cluster, failed, nat_chains,  # noqa: E402
                      node_ready, node_runtime_available, restore_host, wait_for)



@unittest.skipUnless(node_runtime_available(), "needs root and the node runtime packages")
class NodeTest(unittest.TestCase):
    server = None
    agent = None

    @classmethod
    def setUpClass(cls):
        tag = "%06x" % random.randrange(1 << 24)
        cls.tmp = tempfile.mkdtemp(prefix="korral-node-it-")
        cls.out = os.path.join(cls.tmp, "out")  # hostPath shared with test pods
        os.makedirs(cls.out)
        cls.node = "node-it-" + tag
        cls.bridge = "krit" + tag
        cls.cidr_octet = random.randrange(1, 250)
        cls.pod_cidr = "10.250.%d.0/24" % cls.cidr_octet
        cls.cgroup_root = "/korral-it-" + tag
        cls.registry_port = harness.free_port()
        cls.agent_dir = os.path.join(cls.tmp, "agent")
        cls.chains_before = nat_chains()
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            cls.ip_forward = f.read().strip()
        cls.server = harness.Server().start()
        cls.start_agent()
        wait_for(cls.node_ready, 60, what="node Ready")

    @classmethod
    def agent_args(cls, cleanup=False):
        args = [harness.KORRAL, "agent", "--kubeconfig", cls.server.kubeconfig,
                "--data-dir", cls.agent_dir, "--node-name", cls.node,
                "--pod-cidr", cls.pod_cidr, "--cni-bridge", cls.bridge,
                "--cgroup-root", cls.cgroup_root, "--registry-port", str(cls.registry_port),
                "--kubelet-port", str(harness.free_port())] + AGENT_TEST_FLAGS
        return args + (["--cleanup-on-exit"] if cleanup else [])

    @classmethod
    def start_agent(cls, cleanup=False):
        cls.agent_log = open(os.path.join(cls.tmp, "agent.log"), "ab")
        cls.agent = subprocess.Popen(cls.agent_args(cleanup), stdout=cls.agent_log,
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
        return cls.agent.returncode if cls.agent else None

    @classmethod
    def node_ready(cls):
        return node_ready(cls.server, cls.node)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server and cls.agent:
                cls.server.kubectl("delete", "deployments,replicasets,jobs", "--all",
                                   "--cascade=orphan", "--wait=false", check=False)
                cls.server.kubectl("delete", "pods", "--all", "--wait=false", check=False)
                try:
                    wait_for(lambda: cls.server.kubectl("get", "pods", "-o", "name",
                                                        check=False).stdout.strip() == "",
                             60, what="pods gone")
                except AssertionError as e:
                    print(e)
                cls.stop_agent()
                # Final pass: anything left is stopped and removed, then cgroups and bridge.
                cls.start_agent(cleanup=True)
                try:
                    wait_for(lambda: os.path.exists(
                        os.path.join(cls.agent_dir, "containerd", "containerd.sock")) and
                        cls.node_ready(), 60, what="cleanup agent up")
                except AssertionError as e:
                    print(e)
                cls.stop_agent()
        finally:
            if cls.server:
                cls.server.stop()
            restore_host(cls)

    def tearDown(self):
        if failed(self):
            dump_cluster(self.server, os.path.join(self.tmp, "agent.log"), self.node)

    # ---- helpers ----

    def kubectl(self, *args, **kw):
        return self.server.kubectl(*args, **kw)

    def apply(self, obj):
        self.kubectl("apply", "-f", "-", input=json.dumps(obj))

    def pod(self, name, command, image="busybox", **spec):
        p = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": name, "namespace": "default"},
             "spec": {"nodeName": self.node, "terminationGracePeriodSeconds": 5,
                      "containers": [{"name": "main", "image": image,
                                      "command": ["sh", "-c", command]}]}}
        p["spec"].update(spec)
        return p

    def get_pod(self, name):
        p = self.kubectl("get", "pod", name, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def phase(self, name):
        p = self.get_pod(name)
        return p and p.get("status", {}).get("phase")

    def waiting_reason(self, name):
        p = self.get_pod(name)
        if not p:
            return None
        for cs in p.get("status", {}).get("containerStatuses", []):
            w = cs.get("state", {}).get("waiting")
            if w:
                return w.get("reason")
        return None

    def watch_waiting_reasons(self, name, want, timeout):
        """Every waiting reason the pod's first container shows, as seen through a watch (a
        reason that lasts one sync is not missed), until all of `want` were seen."""
        cmd = [harness.KUBECTL, "--kubeconfig", self.server.kubeconfig, "--cache-dir",
               self.server.cache_dir, "get", "pod", name, "-w", "-o",
               "jsonpath={.status.containerStatuses[0].state.waiting.reason}{\"\\n\"}"]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True)
        seen = set()
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            for line in proc.stdout:
                if line.strip():
                    seen.add(line.strip())
                if set(want) <= seen:
                    break
        finally:
            timer.cancel()
            proc.kill()
            proc.wait()
        self.assertTrue(set(want) <= seen, "saw %r, want %r" % (seen, want))
        return seen

    def runtime_containers(self, uid):
        """containerd's containers (sandboxes included) labelled with the pod uid."""
        sock = os.path.join(self.agent_dir, "containerd", "containerd.sock")
        p = subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "containers", "ls", "-q",
                            'labels."io.kubernetes.pod.uid"==%s' % uid],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout.split()

    def container_status(self, name):
        p = self.get_pod(name)
        css = (p or {}).get("status", {}).get("containerStatuses") or [{}]
        return css[0]

    def condition(self, name, ctype):
        p = self.get_pod(name) or {}
        for c in p.get("status", {}).get("conditions", []):
            if c["type"] == ctype:
                return c["status"]
        return None

    def read_out(self, name):
        path = os.path.join(self.out, name)
        return open(path).read() if os.path.exists(path) else None

    # ---- tests ----

    def test_01_node_registered_with_lease(self):
        node = self.server.kubectl_json("get", "node", self.node)
        info = node["status"]["nodeInfo"]
        self.assertTrue(info["containerRuntimeVersion"].startswith("containerd://"), info)
        self.assertEqual(node["metadata"]["labels"]["kubernetes.io/os"], "linux")
        self.assertEqual(node["spec"]["podCIDR"], self.pod_cidr)
        for k in ("cpu", "memory", "pods", "ephemeral-storage"):
            self.assertIn(k, node["status"]["allocatable"])
        types = {c["type"]: c["status"] for c in node["status"]["conditions"]}
        self.assertEqual(types.get("Ready"), "True")
        self.assertEqual(types.get("MemoryPressure"), "False")
        lease = self.server.kubectl_json("get", "lease", "-n", "kube-node-lease", self.node)
        self.assertEqual(lease["spec"]["holderIdentity"], self.node)

    def test_02_busybox_runs_with_pod_ip_and_survives_agent_restart(self):
        self.apply(self.pod("bb", "echo hello; sleep 3600"))
        wait_for(lambda: self.phase("bb") == "Running", 60, what="bb Running")
        p = self.get_pod("bb")
        ip = p["status"]["podIP"]
        self.assertTrue(ip.startswith("10.250.%d." % self.cidr_octet), ip)
        cs = p["status"]["containerStatuses"][0]
        self.assertTrue(cs["ready"])
        self.assertTrue(cs["containerID"].startswith("containerd://"))
        self.assertEqual(p["status"]["qosClass"], "BestEffort")
        conds = {c["type"]: c["status"] for c in p["status"]["conditions"]}
        self.assertEqual(conds.get("Ready"), "True")
        # Restart the agent: the container keeps running and is re-adopted.
        self.assertEqual(self.stop_agent(), 0)
        self.start_agent()
        wait_for(self.node_ready, 60, what="node Ready after restart")
        time.sleep(3)  # a few relists
        p2 = self.get_pod("bb")
        cs2 = p2["status"]["containerStatuses"][0]
        self.assertEqual(cs2["containerID"], cs["containerID"])
        self.assertEqual(cs2["restartCount"], 0)
        self.assertEqual(p2["status"]["podIP"], ip)
        self.assertEqual(p2["status"]["phase"], "Running")
        # No duplicates: containerd has exactly the one sandbox and the one container.
        self.assertEqual(len(self.runtime_containers(p2["metadata"]["uid"])), 2)

    def test_03_graceful_delete_sends_sigterm(self):
        script = ("trap 'echo TERM > /out/term-gd; exit 0' TERM; echo up > /out/up-gd; "
                  "while true; do sleep 0.2; done")
        spec = self.pod("gd", script, volumes=[{"name": "out", "hostPath": {"path": self.out}}])
        spec["spec"]["containers"][0]["volumeMounts"] = [{"name": "out", "mountPath": "/out"}]
        self.apply(spec)
        wait_for(lambda: self.read_out("up-gd"), 60, what="gd started")
        start = time.time()
        self.kubectl("delete", "pod", "gd", "--grace-period=10", "--timeout=60s")
        wait_for(lambda: self.get_pod("gd") is None, 30, what="gd gone")
        self.assertEqual((self.read_out("term-gd") or "").strip(), "TERM")
        self.assertLess(time.time() - start, 30)

    def test_04_bad_image_err_image_pull_then_backoff(self):
        bad = "127.0.0.1:%d/nope/missing:v1" % harness.free_port()
        self.apply(self.pod("badimg", "true", image=bad))
        self.watch_waiting_reasons("badimg", ["ErrImagePull", "ImagePullBackOff"], 60)
        self.assertEqual(self.phase("badimg"), "Pending")
        self.assertTrue(self.node_ready())

    def test_05_configmap_secret_env_and_volumes(self):
        self.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"},
                    "data": {"greeting": "hello-cm", "file.txt": "from-volume"}})
        self.apply({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sec1"},
                    "stringData": {"password": "s3cret"}})
        script = ('echo "$GREETING $PASSWORD $POD_NAME" > /out/env-cm; '
                  'cat /cfg/file.txt > /out/vol-cm; cat /sec/password > /out/vol-sec; sleep 3600')
        p = self.pod("cmpod", script, volumes=[
            {"name": "out", "hostPath": {"path": self.out}},
            {"name": "cfg", "configMap": {"name": "cm1"}},
            {"name": "sec", "secret": {"secretName": "sec1"}}])
        c = p["spec"]["containers"][0]
        c["env"] = [
            {"name": "GREETING", "valueFrom": {"configMapKeyRef": {"name": "cm1", "key": "greeting"}}},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "sec1", "key": "password"}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
        c["volumeMounts"] = [{"name": "out", "mountPath": "/out"},
                             {"name": "cfg", "mountPath": "/cfg"},
                             {"name": "sec", "mountPath": "/sec"}]
        self.apply(p)
        wait_for(lambda: self.read_out("vol-sec"), 60, what="cmpod output")
        self.assertEqual(self.read_out("env-cm").strip(), "hello-cm s3cret cmpod")
        self.assertEqual(self.read_out("vol-cm").strip(), "from-volume")
        self.assertEqual(self.read_out("vol-sec").strip(), "s3cret")

    def test_06_missing_configmap_is_create_container_config_error(self):
        p = self.pod("nocm", "sleep 3600")
        p["spec"]["containers"][0]["env"] = [
            {"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]
        self.apply(p)
        wait_for(lambda: self.waiting_reason("nocm") == "CreateContainerConfigError", 60,
                 what="CreateContainerConfigError")
        cs = self.get_pod("nocm")["status"]["containerStatuses"][0]
        self.assertEqual(cs["state"]["waiting"]["message"], 'configmap "absent" not found')

    def test_07_bad_command_run_container_error_then_crashloop(self):
        p = self.pod("badcmd", "")
        p["spec"]["containers"][0]["command"] = ["/does/not/exist"]
        self.apply(p)
        self.watch_waiting_reasons("badcmd", ["RunContainerError", "CrashLoopBackOff"], 60)
        self.assertTrue(self.node_ready())

    def test_08_restart_policy_never_exit_code(self):
        p = self.pod("exit3", "exit 3", restartPolicy="Never")
        self.apply(p)
        wait_for(lambda: self.phase("exit3") == "Failed", 60, what="exit3 Failed")
        t = self.get_pod("exit3")["status"]["containerStatuses"][0]["state"]["terminated"]
        self.assertEqual(t["exitCode"], 3)
        self.assertEqual(t["reason"], "Error")

    def test_09_missing_image_in_local_registry(self):
        # docker.io names resolve only through the agent's local mirror: nothing leaves the node.
        self.apply(self.pod("noimg", "true", image="korral-no-such-image:v1"))
        self.watch_waiting_reasons("noimg", ["ErrImagePull", "ImagePullBackOff"], 60)
        msg = self.container_status("noimg")["state"]["waiting"]["message"]
        self.assertIn("korral-no-such-image:v1", msg)
        self.assertEqual(self.phase("noimg"), "Pending")
        self.assertTrue(self.node_ready())

    def test_10_failing_liveness_probe_restarts(self):
        p = self.pod("live", "sleep 3600", terminationGracePeriodSeconds=2)
        p["spec"]["containers"][0]["livenessProbe"] = {
            "exec": {"command": ["cat", "/tmp/healthy"]}, "periodSeconds": 1,
            "failureThreshold": 1}
        self.apply(p)
        wait_for(lambda: self.container_status("live").get("restartCount", 0) >= 1, 60,
                 what="live restarted")
        cs = self.container_status("live")
        self.assertEqual(cs["lastState"]["terminated"]["exitCode"], 137)
        # It keeps failing, so it keeps being restarted (after the 10 s back-off).
        wait_for(lambda: self.container_status("live").get("restartCount", 0) >= 2, 60,
                 what="live restarted twice")

    def test_11_failing_readiness_probe_makes_pod_not_ready(self):
        p = self.pod("ready", "touch /tmp/ready; sleep 4; rm /tmp/ready; sleep 3600")
        p["spec"]["containers"][0]["readinessProbe"] = {
            "exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
        self.apply(p)
        wait_for(lambda: self.condition("ready", "Ready") == "True", 60, what="ready Ready")
        wait_for(lambda: self.condition("ready", "Ready") == "False", 30, what="ready NotReady")
        cs = self.container_status("ready")
        self.assertFalse(cs["ready"])
        self.assertIn("running", cs["state"])
        self.assertEqual(cs["restartCount"], 0)
        self.assertEqual(self.phase("ready"), "Running")
        self.assertEqual(self.condition("ready", "ContainersReady"), "False")

    def test_12_memory_limit_oom_killed(self):
        p = self.pod("oom", "exec dd if=/dev/zero of=/dev/null bs=64M count=1",
                     restartPolicy="Never")
        p["spec"]["containers"][0]["resources"] = {
            "requests": {"memory": "16Mi", "cpu": "100m"},
            "limits": {"memory": "16Mi", "cpu": "100m"}}
        self.apply(p)
        wait_for(lambda: self.phase("oom") == "Failed", 60, what="oom Failed")
        t = self.container_status("oom")["state"]["terminated"]
        self.assertEqual(t["reason"], "OOMKilled")
        self.assertEqual(t["exitCode"], 137)
        self.assertEqual(self.get_pod("oom")["status"]["qosClass"], "Guaranteed")
        self.assertTrue(self.node_ready())

    def test_13_job_runs_to_complete(self):
        self.apply({"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "job1"},
                    "spec": {"backoffLimit": 0, "template": {"spec": {
                        "restartPolicy": "Never", "terminationGracePeriodSeconds": 2,
                        "containers": [{"name": "main", "image": "busybox",
                                        "command": ["sh", "-c", "echo done"]}]}}}})

        def complete():
            j = self.server.kubectl_json("get", "job", "job1")
            return any(c["type"] == "Complete" and c["status"] == "True"
                       for c in j.get("status", {}).get("conditions", []))
        wait_for(complete, 90, interval=0.5, what="job1 Complete")
        j = self.server.kubectl_json("get", "job", "job1")
        self.assertEqual(j["status"].get("succeeded"), 1)
        pods = self.server.kubectl_json("get", "pods", "-l", "job-name=job1")["items"]
        self.assertEqual([p["status"]["phase"] for p in pods], ["Succeeded"])
        self.assertEqual(pods[0]["spec"]["nodeName"], self.node)

    def test_14_deployment_pods_all_run(self):
        self.apply({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                                 "terminationGracePeriodSeconds": 2,
                                 "containers": [{"name": "main", "image": "busybox",
                                                 "command": ["sleep", "3600"]}]}}}})

        def all_ready():
            d = self.server.kubectl_json("get", "deployment", "web")
            return d.get("status", {}).get("readyReplicas") == 3
        wait_for(all_ready, 90, interval=0.5, what="deployment web 3 ready replicas")
        pods = self.server.kubectl_json("get", "pods", "-l", "app=web")["items"]
        self.assertEqual(len(pods), 3)
        ips = set()
        for p in pods:
            self.assertEqual(p["status"]["phase"], "Running")
            self.assertEqual(p["spec"]["nodeName"], self.node)
            ips.add(p["status"]["podIP"])
        self.assertEqual(len(ips), 3)
        self.kubectl("delete", "deployment", "web", "--wait=false")


    def test_15_imported_docker_archive_runs_from_the_local_registry(self):
        """`korral images import` of a two-layer `docker save` archive: the image is pushed to the
        local registry, so a pod with imagePullPolicy Always pulls it from there even after it is
        removed from containerd."""
        import hashlib
        import io
        import tarfile

        def tar_of(entries):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
                for name, data, link in entries:
                    info = tarfile.TarInfo(name)
                    if link:
                        info.type, info.linkname = tarfile.SYMTYPE, link
                        t.addfile(info)
                    else:
                        info.size, info.mode = len(data), 0o755
                        t.addfile(info, io.BytesIO(data))
            return buf.getvalue()

        with open("/bin/busybox", "rb") as f:
            busybox = f.read()
        l1 = tar_of([("bin/busybox", busybox, None), ("bin/sh", b"", "/bin/busybox"),
                     ("bin/cat", b"", "/bin/busybox")])
        l2 = tar_of([("hello.txt", b"from layer two\n", None)])
        digest = lambda b: "sha256:" + hashlib.sha256(b).hexdigest()  # noqa: E731
        cfg = json.dumps({"architecture": "amd64", "os": "linux",
                          "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
                          "rootfs": {"type": "layers",
                                     "diff_ids": [digest(l1), digest(l2)]}}).encode()
        ref = "korral-it/two-layers:v1"
        manifest = json.dumps([{"Config": "cfg.json", "RepoTags": [ref],
                                "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode()
        archive = os.path.join(self.tmp, "two-layers.tar")
        with open(archive, "wb") as f:
            f.write(tar_of([("manifest.json", manifest, None), ("cfg.json", cfg, None),
                            ("l1/layer.tar", l1, None), ("l2/layer.tar", l2, None)]))
        sock = os.path.join(self.agent_dir, "containerd", "containerd.sock")
        imp = subprocess.run([harness.KORRAL, "images", "import", archive, "--data-dir",
                              self.agent_dir, "--registry-port", str(self.registry_port)],
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(imp.returncode, 0, imp.stdout + imp.stderr)
        full = "docker.io/" + ref
        rm = subprocess.run(["ctr", "--address", sock, "-n", "k8s.io", "images", "rm", full],
                            capture_output=True, text=True, timeout=60)
        self.assertEqual(rm.returncode, 0, rm.stdout + rm.stderr)
        p = self.pod("imported", "cat /hello.txt", image=ref, restartPolicy="Never")
        p["spec"]["containers"][0]["imagePullPolicy"] = "Always"
        self.apply(p)
        wait_for(lambda: self.phase("imported") == "Succeeded", 90, what="imported Succeeded")
        self.assertEqual(self.kubectl("logs", "imported").stdout, "from layer two\n")
        # Unnamed archives are refused with a clear error.
        bad = os.path.join(self.tmp, "unnamed.tar")
        with open(bad, "wb") as f:
            f.write(tar_of([("manifest.json", json.dumps([{"Config": "cfg.json", "Layers": []}])
                             .encode(), None), ("cfg.json", cfg, None)]))
        imp = subprocess.run([harness.KORRAL, "images", "import", bad, "--data-dir",
                              self.agent_dir, "--registry-port", str(self.registry_port)],
                             capture_output=True, text=True, timeout=120)
        self.assertNotEqual(imp.returncode, 0)

    def test_16_kubectl_debug_ephemeral_container_sees_the_target(self):
        self.apply(self.pod("target", "sleep 3600"))
        wait_for(lambda: self.phase("target") == "Running", 60, what="target Running")
        self.kubectl("debug", "target", "--image=busybox", "--target=main", "--container=dbg",
                     "--", "sh", "-c", "ps -o args")

        def dbg_done():
            st = self.get_pod("target")["status"].get("ephemeralContainerStatuses", [])
            return st and "terminated" in st[0].get("state", {})
        wait_for(dbg_done, 60, what="the debug container to finish")
        st = self.get_pod("target")["status"]["ephemeralContainerStatuses"][0]
        self.assertEqual(st["name"], "dbg")
        self.assertEqual(st["state"]["terminated"]["exitCode"], 0)
        # It shared the target's PID namespace: the target's process is in its `ps`.
        self.assertIn("sleep 3600", self.kubectl("logs", "target", "-c", "dbg").stdout)
        self.assertEqual(self.get_pod("target")["status"]["containerStatuses"][0]["restartCount"],
                         0)

if __name__ == "__main__":
    harness.main()
