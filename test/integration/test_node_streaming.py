"""The kubelet server on the real node: `korral agent` (its own containerd, runc, CNI bridge and
the offline busybox image) serving the kubelet API on 127.0.0.1, reached by kubectl 1.32 and the
official Python client through `korral server`: logs (-f, --tail, --previous), exec (exit codes,
stdin), port-forward to a busybox httpd, top pod, nodes/proxy to /healthz, /pods,
/stats/summary, /metrics, /metrics/cadvisor. Plus the kubelet server's authentication and
authorization through the API (TokenReview / SubjectAccessReview): 401 without credentials, 403
without nodes/proxy; that part runs against the fake kubelet and needs no root.

The node part needs root and containerd/runc/CNI plugins/busybox-static/docker-registry; it
skips otherwise. Everything it creates is unique to the run and removed at the end.
"""
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402
from node_env import (AGENT_TEST_FLAGS, dump_cluster, failed, nat_chains,  # noqa: E402
                      node_ready, node_runtime_available, restore_host, wait_for)

FAKE_KUBELET = os.environ.get("FAKE_KUBELET_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(harness.KORRAL)), "fake_kubelet")


def watchdog(proc, seconds):
    """Kills `proc` after `seconds` (bounds blocking reads of its output)."""
    t = threading.Timer(seconds, proc.kill)
    t.daemon = True
    t.start()


def kubelet_get(port, path, token=None, cert=None):
    """GET https://127.0.0.1:port/path (kubelet certificate not verified). -> (status, body)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(*cert)
    headers = {"Authorization": "Bearer " + token} if token else {}
    req = urllib.request.Request("https://127.0.0.1:%d%s" % (port, path), headers=headers)
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def admin_cert(server):
    tls = os.path.join(server.data_dir, "tls")
    return os.path.join(tls, "admin.crt"), os.path.join(tls, "admin.key")


def service_account_token(server, name, rules=None):
    """A token of a new service account default/<name>, bound to a ClusterRole with `rules`."""
    server.kubectl("create", "serviceaccount", name)
    if rules:
        role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": {"name": name}, "rules": rules}
        binding = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                   "metadata": {"name": name},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                               "name": name},
                   "subjects": [{"kind": "ServiceAccount", "name": name,
                                 "namespace": "default"}]}
        server.kubectl("apply", "-f", "-", input=json.dumps(role))
        server.kubectl("apply", "-f", "-", input=json.dumps(binding))
    return server.kubectl("create", "token", name).stdout.strip()


@unittest.skipUnless(os.path.exists(FAKE_KUBELET), "fake_kubelet not built")
class KubeletAuthTest(unittest.TestCase):
    """The kubelet server's authn/authz through the API, with the fake backend."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server().start()
        cls.log_dir = tempfile.mkdtemp(prefix="korral-kauth-logs-")
        cls.fake_log = open(os.path.join(cls.log_dir, "fake.log"), "ab")
        cls.fake = subprocess.Popen(
            [FAKE_KUBELET, "--data-dir", cls.server.data_dir, "--log-dir", cls.log_dir,
             "--kubeconfig", cls.server.kubeconfig, "--node-name", "auth-node"],
            stdout=subprocess.PIPE, stderr=cls.fake_log, text=True)
        line = cls.fake.stdout.readline()
        if not line.startswith("PORT "):
            cls.fake.kill()
            raise RuntimeError("fake_kubelet did not start: " + line)
        cls.port = int(line.split()[1])

    @classmethod
    def tearDownClass(cls):
        cls.fake.send_signal(signal.SIGTERM)
        try:
            cls.fake.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cls.fake.kill()
            cls.fake.wait()
        cls.fake.stdout.close()
        cls.fake_log.close()
        cls.server.stop()
        shutil.rmtree(cls.log_dir, ignore_errors=True)

    def test_unauthenticated_gets_401(self):
        for path in ("/healthz", "/pods", "/containerLogs/default/web/main"):
            status, body = kubelet_get(self.port, path)
            self.assertEqual((status, body), (401, "Unauthorized"), path)
        status, body = kubelet_get(self.port, "/pods", token="not-a-token")
        self.assertEqual((status, body), (401, "Unauthorized"))

    def test_user_without_nodes_proxy_gets_403(self):
        token = service_account_token(self.server, "no-proxy", rules=[
            {"apiGroups": [""], "resources": ["nodes/stats"], "verbs": ["get"]}])
        status, body = kubelet_get(self.port, "/pods", token=token)
        self.assertEqual(status, 403, body)
        self.assertEqual(body, "Forbidden (user=system:serviceaccount:default:no-proxy, "
                               "verb=get, resource=nodes, subresource=proxy)")
        # nodes/stats is granted: authorized (the fake kubelet has no stats handler: 404).
        status, body = kubelet_get(self.port, "/stats/summary", token=token)
        self.assertEqual(status, 404, body)

    def test_user_with_nodes_proxy_and_cluster_admin_cert_allowed(self):
        token = service_account_token(self.server, "proxier", rules=[
            {"apiGroups": [""], "resources": ["nodes/proxy"], "verbs": ["get"]}])
        status, body = kubelet_get(self.port, "/pods", token=token)
        self.assertEqual(status, 200, body)
        self.assertEqual(json.loads(body)["kind"], "PodList")
        status, body = kubelet_get(self.port, "/healthz", cert=admin_cert(self.server))
        self.assertEqual((status, body), (200, "ok"))


@unittest.skipUnless(node_runtime_available(), "needs root and the node runtime packages")
class NodeStreamingTest(unittest.TestCase):
    server = None
    agent = None

    @classmethod
    def setUpClass(cls):
        tag = "%06x" % random.randrange(1 << 24)
        cls.tmp = tempfile.mkdtemp(prefix="korral-nstream-it-")
        cls.node = "nstream-" + tag
        cls.bridge = "krns" + tag
        cls.cidr_octet = random.randrange(1, 250)
        cls.pod_cidr = "10.251.%d.0/24" % cls.cidr_octet
        cls.cgroup_root = "/korral-nstream-" + tag
        cls.registry_port = harness.free_port()
        cls.kubelet_port = harness.free_port()
        cls.agent_dir = os.path.join(cls.tmp, "agent")
        cls.chains_before = nat_chains()
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            cls.ip_forward = f.read().strip()
        cls.server = harness.Server().start()
        cls.start_agent()
        try:
            wait_for(cls.node_ready, 90, what="node Ready")
            # The apiserver verifies kubelet serving certificates: until the node's
            # kubelet-serving CSR is issued (about a second after registration) it refuses to
            # dial the kubelet's node-local certificate.
            wait_for(cls.kubelet_reachable, 60, what="kubelet reachable through the apiserver")
        except AssertionError:
            cls.tearDownClass()
            raise

    @classmethod
    def agent_args(cls, cleanup=False):
        args = [harness.KORRAL, "agent", "--kubeconfig", cls.server.kubeconfig,
                "--data-dir", cls.agent_dir, "--node-name", cls.node, "--node-ip", "127.0.0.1",
                "--pod-cidr", cls.pod_cidr, "--cni-bridge", cls.bridge,
                "--cgroup-root", cls.cgroup_root, "--registry-port", str(cls.registry_port),
                "--kubelet-port", str(cls.kubelet_port)] + AGENT_TEST_FLAGS
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
        if cls.agent:
            cls.agent_log.close()
        return cls.agent.returncode if cls.agent else None

    @classmethod
    def kubelet_reachable(cls):
        p = cls.server.kubectl("get", "--raw", "/api/v1/nodes/%s/proxy/healthz" % cls.node,
                               check=False)
        return p.returncode == 0 and p.stdout == "ok"

    @classmethod
    def node_ready(cls):
        return node_ready(cls.server, cls.node)

    @classmethod
    def tearDownClass(cls):
        try:
            if cls.server and cls.agent:
                cls.server.kubectl("delete", "pods", "--all", "--wait=false", check=False)
                try:
                    wait_for(lambda: cls.server.kubectl("get", "pods", "-o", "name",
                                                        check=False).stdout.strip() == "",
                             60, what="pods gone")
                except AssertionError as e:
                    print(e)
                cls.stop_agent()
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

    def kubectl(self, *args, **kw):
        return self.server.kubectl(*args, **kw)

    def run_pod(self, name, command, **spec):
        p = {"apiVersion": "v1", "kind": "Pod",
             "metadata": {"name": name, "namespace": "default"},
             "spec": {"nodeName": self.node, "terminationGracePeriodSeconds": 2,
                      "containers": [{"name": "main", "image": "busybox",
                                      "command": ["sh", "-c", command]}]}}
        p["spec"].update(spec)
        self.kubectl("apply", "-f", "-", input=json.dumps(p))

    def get_pod(self, name):
        p = self.kubectl("get", "pod", name, "-o", "json", check=False)
        return json.loads(p.stdout) if p.returncode == 0 else None

    def wait_running(self, name, timeout=90):
        def running():
            p = self.get_pod(name)
            cs = (p or {}).get("status", {}).get("containerStatuses", [])
            return bool(cs) and "running" in cs[0].get("state", {})
        try:
            wait_for(running, timeout, what=name + " running")
        except AssertionError:
            print(json.dumps((self.get_pod(name) or {}).get("status"), indent=1))
            raise

    def logs(self, *args, check=True):
        return self.kubectl("logs", *args, check=check, timeout=30)

    # ---- tests ----

    def test_01_node_daemon_endpoint_and_proxy_endpoints(self):
        node = self.server.kubectl_json("get", "node", self.node)
        self.assertEqual(node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"],
                         self.kubelet_port)
        base = "/api/v1/nodes/%s/proxy" % self.node
        self.assertEqual(self.kubectl("get", "--raw", base + "/healthz").stdout, "ok")
        pods = json.loads(self.kubectl("get", "--raw", base + "/pods").stdout)
        self.assertEqual(pods["kind"], "PodList")
        metrics = self.kubectl("get", "--raw", base + "/metrics").stdout
        self.assertIn('kubelet_node_name{node="%s"} 1' % self.node, metrics)
        self.assertIn("kubelet_running_pods", metrics)
        summary = json.loads(wait_for(
            lambda: (lambda p: p.returncode == 0 and p.stdout)(
                self.kubectl("get", "--raw", base + "/stats/summary", check=False)),
            30, interval=1, what="stats/summary"))
        self.assertEqual(summary["node"]["nodeName"], self.node)
        cadvisor = self.kubectl("get", "--raw", base + "/metrics/cadvisor").stdout
        self.assertIn("container_cpu_usage_seconds_total", cadvisor)
        # The kubelet port itself: only on 127.0.0.1 (the node IP here), authenticated.
        status, body = kubelet_get(self.kubelet_port, "/pods")
        self.assertEqual((status, body), (401, "Unauthorized"))
        status, _ = kubelet_get(self.kubelet_port, "/healthz", cert=admin_cert(self.server))
        self.assertEqual(status, 200)

    def test_02_logs_tail_follow(self):
        self.run_pod("talker", "echo one; echo two; echo three; i=0; "
                     "while true; do i=$((i+1)); echo tick $i; sleep 1; done")
        self.wait_running("talker")
        out = wait_for(lambda: (lambda s: "tick 1" in s and s)(self.logs("talker").stdout),
                       30, what="talker logs")
        self.assertTrue(out.startswith("one\ntwo\nthree\ntick 1\n"), out)
        tail = self.logs("talker", "--tail", "1").stdout
        self.assertEqual(len(tail.splitlines()), 1, tail)
        self.assertTrue(tail.startswith("tick "), tail)
        stamped = self.logs("talker", "--timestamps", "--tail", "1").stdout
        self.assertRegex(stamped, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick \d+\n$")
        # -f: new lines arrive while following.
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "logs", "-f", "talker",
                              "--tail", "1"], stdout=subprocess.PIPE, text=True)
        watchdog(p, 60)  # bounds the blocking reads
        try:
            first = p.stdout.readline()
            n = int(first.split()[1])
            seen = [p.stdout.readline() for _ in range(2)]
            self.assertEqual(seen, ["tick %d\n" % (n + 1), "tick %d\n" % (n + 2)])
        finally:
            p.kill()
            p.wait()
            p.stdout.close()

    def test_03_logs_previous(self):
        p = self.logs("talker", "--previous", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('previous terminated container "main" in pod "talker" not found', p.stderr)
        self.run_pod("crasher", "echo crashed-run; sleep 1; exit 3")
        wait_for(lambda: (self.get_pod("crasher") or {}).get("status", {}).get(
            "containerStatuses", [{}])[0].get("restartCount", 0) >= 1, 60,
            what="crasher restarted")
        prev = self.logs("crasher", "--previous").stdout
        self.assertEqual(prev, "crashed-run\n")

    def test_04_exec_exit_code_and_stdin(self):
        self.run_pod("shell", "sleep 3600")
        self.wait_running("shell")
        p = self.kubectl("exec", "shell", "--", "sh", "-c", "echo out; echo err >&2; exit 42",
                         check=False)
        self.assertEqual(p.returncode, 42, p.stderr)
        self.assertEqual(p.stdout, "out\n")
        self.assertIn("err\n", p.stderr)
        ok = self.kubectl("exec", "shell", "-c", "main", "--", "cat", "/etc/hostname")
        self.assertEqual(ok.stdout.strip(), "shell")
        piped = self.kubectl("exec", "-i", "shell", "--", "sh", "-c", "tr a-z A-Z; exit 7",
                             input="hello stdin\n", check=False)
        self.assertEqual((piped.returncode, piped.stdout), (7, "HELLO STDIN\n"), piped.stderr)
        missing = self.kubectl("exec", "shell", "--", "/no/such/binary", check=False)
        self.assertNotEqual(missing.returncode, 0)

    def test_05_port_forward_to_busybox_httpd(self):
        self.run_pod("web", "mkdir -p /www && echo hello-httpd > /www/index.html && "
                     "exec httpd -f -p 8080 -h /www")
        self.wait_running("web")
        local = harness.free_port()
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "port-forward", "pod/web",
                              "%d:8080" % local], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        watchdog(p, 60)  # bounds the blocking reads
        try:
            line = p.stdout.readline()
            self.assertIn("Forwarding from 127.0.0.1:%d -> 8080" % local, line)

            def fetch():
                try:
                    with urllib.request.urlopen("http://127.0.0.1:%d/" % local, timeout=10) as r:
                        return r.read().decode()
                except OSError:
                    return None
            self.assertEqual(wait_for(fetch, 30, interval=1, what="httpd through port-forward"),
                             "hello-httpd\n")
            # A second connection over the same forward.
            self.assertEqual(fetch(), "hello-httpd\n")
        finally:
            p.send_signal(signal.SIGINT)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
            p.stdout.close()

    def test_06_top_pod(self):
        self.run_pod("busy", "while true; do :; done")
        self.wait_running("busy")

        def top():
            p = self.kubectl("top", "pod", "busy", "--no-headers", check=False)
            return p.returncode == 0 and p.stdout
        out = wait_for(top, 90, interval=2, what="kubectl top pod")
        fields = out.split()
        self.assertEqual(fields[0], "busy")
        self.assertTrue(fields[1].endswith("m") and int(fields[1][:-1]) > 0, out)
        self.assertTrue(fields[2].endswith("Mi"), out)

    def test_07_python_client_exec_and_logs(self):
        self.run_pod("pyexec", "echo py-log-1; echo py-log-2; sleep 3600")
        self.wait_running("pyexec")
        code = r"""
import json, sys
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
out = stream(v1.connect_get_namespaced_pod_exec, "pyexec", "default",
             command=["sh", "-c", "echo from-exec"], stderr=True, stdin=False, stdout=True,
             tty=False)
ws = stream(v1.connect_get_namespaced_pod_exec, "pyexec", "default",
            command=["sh", "-c", "read x; echo got:$x; exit 5"], stderr=True, stdin=True,
            stdout=True, tty=False, _preload_content=False)
ws.write_stdin("abc\n")
ws.run_forever(timeout=20)
log = v1.read_namespaced_pod_log("pyexec", "default")
tail = v1.read_namespaced_pod_log("pyexec", "default", tail_lines=1)
print(json.dumps({"out": out, "stdin_out": ws.read_stdout(), "rc": ws.returncode, "log": log,
                  "tail": tail}))
"""
        r = subprocess.run(["/usr/bin/python3", "-c", code, self.server.kubeconfig],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        res = json.loads(r.stdout.strip().splitlines()[-1])
        self.assertEqual(res["out"], "from-exec\n")
        self.assertEqual(res["stdin_out"], "got:abc\n")
        self.assertEqual(res["rc"], 5)
        self.assertEqual(res["log"], "py-log-1\npy-log-2\n")
        self.assertEqual(res["tail"], "py-log-2\n")

    def test_08_exec_tty_and_attach(self):
        self.run_pod("ttyer", "i=0; while true; do i=$((i+1)); echo attach-tick $i; sleep 1; done")
        self.wait_running("ttyer")
        code = r"""
import json, sys
from kubernetes import client, config
from kubernetes.stream import stream
config.load_kube_config(sys.argv[1])
v1 = client.CoreV1Api()
out = stream(v1.connect_get_namespaced_pod_exec, "ttyer", "default",
             command=["sh", "-c", "test -t 1 && echo is-a-tty"], stderr=True, stdin=False,
             stdout=True, tty=True)
print(json.dumps({"out": out}))
"""
        r = subprocess.run(["/usr/bin/python3", "-c", code, self.server.kubeconfig],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout.strip().splitlines()[-1])["out"].strip(), "is-a-tty")
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "attach", "ttyer"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        watchdog(p, 60)  # bounds the blocking reads
        try:
            lines = [p.stdout.readline() for _ in range(2)]
            self.assertTrue(all(line.startswith("attach-tick ") for line in lines), lines)
        finally:
            p.kill()
            p.wait()
            p.stdout.close()


if __name__ == "__main__":
    harness.main()
