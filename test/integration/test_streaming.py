"""pods/log, exec, attach, port-forward and nodes/proxy end to end: kubectl 1.32 and the Python
client against `korral server`, whose Node points at the fake kubelet server (the real kubelet
server code with a scripted backend, korral/kubelet/server/testing) on 127.0.0.1.
"""
import base64
import json
import os
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import harness

FAKE_KUBELET = os.environ.get("FAKE_KUBELET_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(harness.KORRAL)), "fake_kubelet")

LOG_LINES = ["2026-11-28T10:00:00.000000001Z stdout F hello from main",
             "2026-11-28T10:00:01Z stderr F second line",
             "2026-11-28T10:00:02Z stdout F third line"]


def pod(name, containers=("main",), node="fake-node"):
    spec = {"containers": [{"name": c, "image": "busybox", "stdin": True} for c in containers]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default"},
            "spec": spec}


class EchoServer:
    """A TCP server on 127.0.0.1 that answers every read with b"echo:" + data."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()

    @staticmethod
    def handle(conn):
        with conn:
            while True:
                data = conn.recv(4096)
                if not data:
                    return
                conn.sendall(b"echo:" + data)


class StreamingTest(harness.ServerTestCase):
    # The test writes pod phases itself (no kubelet): no scheduler or controllers may race it.
    server_args = ["--disable-scheduler", "--disable-controller-manager"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.log_dir = tempfile.mkdtemp(prefix="korral-fake-kubelet-")
        with open(os.path.join(cls.log_dir, "default_web_main.log"), "w") as f:
            f.write("\n".join(LOG_LINES) + "\n")
        cls.kubelet = subprocess.Popen(
            [FAKE_KUBELET, "--data-dir", cls.server.data_dir, "--log-dir", cls.log_dir],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = cls.kubelet.stdout.readline()
        assert line.startswith("PORT "), "fake_kubelet did not start: %r" % line
        cls.kubelet_port = int(line.split()[1])
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "fake-node"}}
        status, _, body = cls.server.request("POST", "/api/v1/nodes", json.dumps(node),
                                             {"Content-Type": "application/json"})
        assert status == 201, body
        node = json.loads(body)
        node["status"] = {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": "fake-node"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": cls.kubelet_port}},
            "conditions": [{"type": "Ready", "status": "True"}]}
        status, _, body = cls.server.request("PUT", "/api/v1/nodes/fake-node/status",
                                             json.dumps(node),
                                             {"Content-Type": "application/json"})
        assert status == 200, body
        for p, phase in [(pod("web"), "Running"), (pod("multi", ("a", "b")), "Running"),
                         (pod("done"), "Succeeded"), (pod("waiting"), "Pending"),
                         (pod("unscheduled", node=None), "Pending")]:
            cls.create_pod(p, phase)

    @classmethod
    def create_pod(cls, p, phase):
        status, _, body = cls.server.request("POST", "/api/v1/namespaces/default/pods",
                                             json.dumps(p), {"Content-Type": "application/json"})
        assert status == 201, body
        obj = json.loads(body)
        obj["status"] = {"phase": phase, "podIP": "127.0.0.1",
                         "conditions": [{"type": "Ready", "status": "True"}]}
        status, _, body = cls.server.request(
            "PUT", "/api/v1/namespaces/default/pods/%s/status" % p["metadata"]["name"],
            json.dumps(obj), {"Content-Type": "application/json"})
        assert status == 200, body

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "kubelet", None):
            cls.kubelet.terminate()
            cls.kubelet.wait(timeout=20)
        super().tearDownClass()

    def python_client(self):
        from kubernetes import client, config
        api_client = config.new_client_from_config(config_file=self.server.kubeconfig)
        return client.CoreV1Api(api_client)

    # ---- logs ----

    def test_logs(self):
        out = self.kubectl("logs", "web").stdout
        self.assertEqual(out, "hello from main\nsecond line\nthird line\n")
        self.assertEqual(self.kubectl("logs", "web", "--tail=1").stdout, "third line\n")
        ts = self.kubectl("logs", "web", "--timestamps", "--tail=1").stdout
        self.assertEqual(ts, "2026-11-28T10:00:02.000000000Z third line\n")
        self.assertEqual(self.kubectl("logs", "web", "--limit-bytes=7").stdout, "hello f")

    def test_logs_follow(self):
        path = os.path.join(self.log_dir, "default_follow_main.log")
        with open(path, "w") as f:
            f.write("2026-11-28T10:00:00Z stdout F first\n")
        self.create_pod(pod("follow"), "Running")
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "logs", "-f", "follow"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            self.assertEqual(p.stdout.readline(), "first\n")
            with open(path, "a") as f:
                f.write("2026-11-28T10:00:05Z stdout F appended later\n")
            self.assertEqual(p.stdout.readline(), "appended later\n")
            # The container stops: the stream ends and kubectl exits 0.
            open(path + ".exited", "w").close()
            self.assertEqual(p.wait(timeout=15), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()

    def test_logs_errors(self):
        r = self.kubectl("logs", "web", "-c", "nope", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("container nope is not valid for pod web", r.stderr)
        status, _, body = self.server.request("GET", "/api/v1/namespaces/default/pods/multi/log")
        self.assertEqual(status, 400)
        self.assertIn("a container name must be specified for pod multi, choose one of: [a b]",
                      json.loads(body)["message"])
        status, _, body = self.server.request(
            "GET", "/api/v1/namespaces/default/pods/unscheduled/log")
        self.assertEqual(status, 400)
        self.assertIn("does not have a host assigned", json.loads(body)["message"])
        status, _, body = self.server.request(
            "GET", "/api/v1/namespaces/default/pods/web/log?tailLines=-1")
        self.assertEqual(status, 422)
        self.assertIn("tailLines", json.loads(body)["message"])
        r = self.kubectl("logs", "multi", "-c", "b", check=False)  # no log file on the node
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("is not available", r.stderr)
        r = self.kubectl("logs", "nosuchpod", check=False)
        self.assertIn('pods "nosuchpod" not found', r.stderr)

    def test_python_logs(self):
        v1 = self.python_client()
        self.assertEqual(v1.read_namespaced_pod_log("web", "default"),
                         "hello from main\nsecond line\nthird line\n")
        self.assertEqual(v1.read_namespaced_pod_log("web", "default", tail_lines=1),
                         "third line\n")
        resp = v1.read_namespaced_pod_log("web", "default", follow=False,
                                          _preload_content=False)
        self.assertIn(b"second line", resp.data)

    # ---- exec / attach ----

    def test_exec(self):
        r = self.kubectl("exec", "web", "--", "echo", "hello", "world")
        self.assertEqual(r.stdout, "hello world\n")

    def test_exec_exit_code(self):
        r = self.kubectl("exec", "web", "--", "sh", "-c", "exit 42", check=False)
        self.assertEqual(r.returncode, 42, r.stderr)
        self.assertIn("command terminated with exit code 42", r.stderr)

    def test_exec_stdin(self):
        r = self.kubectl("exec", "-i", "web", "--", "cat", input="line one\nline two\n")
        self.assertEqual(r.stdout, "line one\nline two\n")

    def test_exec_stderr(self):
        r = self.kubectl("exec", "web", "--", "stderr", "oops")
        self.assertEqual(r.stdout, "")
        self.assertEqual(r.stderr, "oops\n")

    def test_exec_errors(self):
        r = self.kubectl("exec", "done", "--", "echo", "x", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("completed pod", r.stderr)
        r = self.kubectl("exec", "web", "-c", "nope", "--", "echo", "x", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("container nope is not valid for pod web", r.stderr)
        r = self.kubectl("exec", "web", "--", "nosuchbinary", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("executable file not found", r.stderr)
        status, _, body = self.server.request(
            "GET", "/api/v1/namespaces/default/pods/waiting/exec?command=ls&stdout=true")
        self.assertEqual(status, 400)
        self.assertIn("is not running", json.loads(body)["message"])
        status, _, body = self.server.request(
            "GET", "/api/v1/namespaces/default/pods/web/exec?command=ls&stdout=true")
        self.assertEqual(status, 400)
        self.assertIn("Upgrade request required", json.loads(body)["message"])

    def test_exec_spdy_fallback(self):
        # kubectl's SPDY/3.1 path (what it falls back to when WebSocket fails).
        env = dict(os.environ, KUBECTL_REMOTE_COMMAND_WEBSOCKETS="false")
        cmd = [harness.KUBECTL, "--kubeconfig", self.server.kubeconfig, "--cache-dir",
               self.server.cache_dir, "exec", "-i", "web", "--"]
        r = subprocess.run(cmd + ["cat"], input="over spdy\n", capture_output=True, text=True,
                           env=env, timeout=60)
        self.assertEqual((r.returncode, r.stdout), (0, "over spdy\n"), r.stderr)
        r = subprocess.run(cmd + ["exit", "7"], input="", capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 7, r.stderr)

    def test_port_forward_raw_spdy(self):
        echo = EchoServer()
        local = harness.free_port()
        env = dict(os.environ, KUBECTL_PORT_FORWARD_WEBSOCKETS="false")
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "port-forward", "pod/web",
                              "%d:%d" % (local, echo.port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        try:
            self.assertIn("Forwarding from", p.stdout.readline())
            with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
                s.sendall(b"raw")
                self.assertEqual(s.recv(100), b"echo:raw")
        finally:
            p.terminate()
            p.wait(timeout=10)

    def test_attach(self):
        r = self.kubectl("attach", "-i", "web", input="typed\n")
        self.assertIn("attached to main\n", r.stdout)
        self.assertIn("typed\n", r.stdout)

    def test_python_exec(self):
        from kubernetes.stream import stream
        v1 = self.python_client()
        out = stream(v1.connect_get_namespaced_pod_exec, "web", "default",
                     command=["echo", "from", "python"], stderr=True, stdin=False, stdout=True,
                     tty=False)
        self.assertEqual(out, "from python\n")
        resp = stream(v1.connect_get_namespaced_pod_exec, "web", "default",
                      command=["sh", "-c", "exit 42"], stderr=True, stdin=False, stdout=True,
                      tty=False, _preload_content=False)
        resp.run_forever(timeout=10)
        self.assertEqual(resp.returncode, 42)
        # stdin through the v4 protocol (text frames).
        resp = stream(v1.connect_get_namespaced_pod_exec, "web", "default",
                      command=["cat"], stderr=True, stdin=True, stdout=True, tty=False,
                      _preload_content=False)
        resp.write_stdin("via python stdin\n")
        got = ""
        deadline = time.time() + 10
        while "via python stdin" not in got and time.time() < deadline:
            resp.update(timeout=1)
            got += resp.read_stdout() if resp.peek_stdout() else ""
        resp.close()
        self.assertIn("via python stdin\n", got)

    # ---- port-forward ----

    def test_port_forward(self):
        echo = EchoServer()
        local = harness.free_port()
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "port-forward", "pod/web",
                              "%d:%d" % (local, echo.port)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            line = p.stdout.readline()
            self.assertIn("Forwarding from 127.0.0.1:%d" % local, line)
            for i in range(3):  # several connections through one tunnel
                with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
                    s.sendall(b"ping %d" % i)
                    self.assertEqual(s.recv(100), b"echo:ping %d" % i)
        finally:
            p.terminate()
            p.wait(timeout=10)

    def test_python_port_forward(self):
        # The Python client speaks the older WebSocket channel protocol (v4.channel.k8s.io).
        from kubernetes.stream import portforward
        echo = EchoServer()
        v1 = self.python_client()
        pf = portforward(v1.connect_get_namespaced_pod_portforward, "web", "default",
                         ports=str(echo.port))
        s = pf.socket(echo.port)
        s.settimeout(10)
        s.sendall(b"py")
        self.assertEqual(s.recv(100), b"echo:py")
        s.close()
        self.assertIsNone(pf.error(echo.port))

    def test_port_forward_refused(self):
        closed = harness.free_port()  # nothing listens there
        local = harness.free_port()
        p = subprocess.Popen([harness.KUBECTL, "--kubeconfig", self.server.kubeconfig,
                              "--cache-dir", self.server.cache_dir, "port-forward", "pod/web",
                              "%d:%d" % (local, closed)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            p.stdout.readline()
            with socket.create_connection(("127.0.0.1", local), timeout=10) as s:
                s.settimeout(10)
                self.assertEqual(s.recv(100), b"")  # closed after the error
        finally:
            p.terminate()
            _, err = p.communicate(timeout=10)
        self.assertIn("connection refused", err.lower())

    def test_port_forward_not_running(self):
        r = self.kubectl("port-forward", "pod/done", "%d:80" % harness.free_port(), check=False,
                         timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("not running", r.stderr)

    # ---- nodes/proxy ----

    def test_node_proxy(self):
        status, _, body = self.server.request("GET", "/api/v1/nodes/fake-node/proxy/healthz")
        self.assertEqual((status, body), (200, b"ok"))
        status, _, body = self.server.request("GET", "/api/v1/nodes/fake-node/proxy/pods")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body)["kind"], "PodList")
        r = self.kubectl("get", "--raw", "/api/v1/nodes/fake-node/proxy/healthz")
        self.assertEqual(r.stdout, "ok")
        status, _, body = self.server.request("GET", "/api/v1/nodes/nonode/proxy/healthz")
        self.assertEqual(status, 404)

    # ---- malformed WebSocket traffic through the apiserver ----

    def websocket(self, path, protocol):
        ctx = self.server.ssl_context()
        raw = socket.create_connection(("127.0.0.1", self.server.port), timeout=10)
        s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
                   "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: %s\r\n"
                   "Sec-WebSocket-Protocol: %s\r\n\r\n" % (path, key, protocol)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(4096)
            if not chunk:
                break
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            hdr, _, body = head.partition(b"\r\n\r\n")
            length = 0
            for line in hdr.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            while len(body) < length:
                chunk = s.recv(4096)
                if not chunk:
                    break
                body += chunk
            head = hdr + b"\r\n\r\n" + body
        return s, head

    def test_websocket_bad_input(self):
        s, head = self.websocket(
            "/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true&stdout=true",
            "v9.channel.k8s.io")
        s.close()
        self.assertTrue(head.startswith(b"HTTP/1.1 400"), head)
        self.assertIn(b"none of the offered subprotocols", head)
        s, head = self.websocket(
            "/api/v1/namespaces/default/pods/web/exec?command=cat&stdin=true&stdout=true",
            "v5.channel.k8s.io")
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        s.sendall(b"\x82\x02\x00x")  # an unmasked client frame: protocol error
        data = head.split(b"\r\n\r\n", 1)[1]
        deadline = time.time() + 10
        while b"\x88" not in data and time.time() < deadline:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
        i = data.find(b"\x88")
        self.assertGreaterEqual(i, 0, data)
        self.assertEqual(struct.unpack(">H", data[i + 2:i + 4])[0], 1002)


if __name__ == "__main__":
    harness.main()
