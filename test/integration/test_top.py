"""`kubectl top nodes` / `kubectl top pods` through korral's metrics.k8s.io API.

A fake kubelet (an HTTPS server in this test, on 127.0.0.1, requiring a client certificate
from the cluster CA) serves a fixed stats/v1alpha1 Summary; a Node object points at it through
status.addresses (InternalIP) and status.daemonEndpoints.kubeletEndpoint.Port. The apiserver
fetches the summary and serves NodeMetrics/PodMetrics; kubectl prints the expected numbers.
"""
import http.server
import json
import os
import socket
import ssl
import threading

import harness


class FakeKubelet:
    """Serves /stats/summary over HTTPS with the given summary (a callable returning a dict)."""

    def __init__(self, tls_dir, summary):
        self.requests = []
        self.summary = summary
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append((self.path, self.connection.getpeercert() is not None))
                if self.path.split("?")[0] != "/stats/summary":
                    self.send_response(404)
                    self.end_headers()
                    return
                body = json.dumps(outer.summary()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(tls_dir, "server.crt"), os.path.join(tls_dir, "server.key"))
        ctx.load_verify_locations(os.path.join(tls_dir, "ca.crt"))
        ctx.verify_mode = ssl.CERT_REQUIRED  # the apiserver must present its client certificate
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def container(name, nanocores, working_set):
    return {"name": name, "startTime": "2026-11-28T09:00:00Z",
            "cpu": {"time": "2026-11-28T10:00:00Z", "usageNanoCores": nanocores,
                    "usageCoreNanoSeconds": nanocores * 100},
            "memory": {"time": "2026-11-28T10:00:00Z", "workingSetBytes": working_set,
                       "usageBytes": working_set * 2, "rssBytes": working_set // 2}}


MI = 1024 * 1024


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class TopTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        s = cls.server
        cls.uids = {}
        cls.kubelet = FakeKubelet(os.path.join(s.data_dir, "tls"), cls.summary)
        cls.make_node("fake-node", cls.kubelet.port)
        cls.make_node("down-node", closed_port())
        cls.make_pod("web-1", "fake-node", "web", ["app", "sidecar"])
        cls.make_pod("db-1", "fake-node", "db", ["db"])
        cls.make_pod("ghost", "down-node", "web", ["app"])

    @classmethod
    def tearDownClass(cls):
        cls.kubelet.stop()
        super().tearDownClass()

    @classmethod
    def make_node(cls, name, port):
        s = cls.server
        s.kubectl("create", "-f", "-", input=json.dumps(
            {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
        status = {"status": {
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"},
                          {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
            "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"}}}
        code, _, body = s.request("PATCH", "/api/v1/nodes/%s/status" % name, json.dumps(status),
                                  {"Content-Type": "application/merge-patch+json"})
        assert code == 200, body

    @classmethod
    def make_pod(cls, name, node, app, containers):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": "default", "labels": {"app": app}},
               "spec": {"nodeName": node,
                        "containers": [{"name": c, "image": "busybox"} for c in containers]}}
        out = cls.server.kubectl("create", "-f", "-", "-o", "json", input=json.dumps(pod))
        cls.uids[name] = json.loads(out.stdout)["metadata"]["uid"]

    @classmethod
    def summary(cls):
        def pod(name, containers):
            return {"podRef": {"name": name, "namespace": "default", "uid": cls.uids.get(name, "")},
                    "startTime": "2026-11-28T09:00:00Z", "containers": containers}
        return {
            "node": {"nodeName": "fake-node", "startTime": "2026-11-28T08:00:00Z",
                     "cpu": {"time": "2026-11-28T10:00:00Z", "usageNanoCores": 250000000,
                             "usageCoreNanoSeconds": 10 ** 12},
                     "memory": {"time": "2026-11-28T10:00:00Z", "workingSetBytes": 1024 * MI,
                                "usageBytes": 2048 * MI, "availableBytes": 3072 * MI}},
            "pods": [
                pod("web-1", [container("app", 100000000, 64 * MI),
                              container("sidecar", 5000000, 16 * MI)]),
                pod("db-1", [container("db", 1500000000, 256 * MI)]),
            ]}

    def rows(self, *args):
        out = self.kubectl("top", *args).stdout
        lines = [l.split() for l in out.strip().splitlines()]
        return lines[0], lines[1:]

    def test_discovery_lists_metrics_group(self):
        out = self.kubectl("api-resources", "--api-group=metrics.k8s.io", "-o", "wide").stdout
        self.assertIn("NodeMetrics", out)
        self.assertIn("PodMetrics", out)
        groups = json.loads(self.kubectl("get", "--raw", "/apis").stdout)
        self.assertIn("metrics.k8s.io", [g["name"] for g in groups["groups"]])

    def test_top_nodes(self):
        header, rows = self.rows("nodes")
        self.assertEqual(header, ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"])
        by_name = {r[0]: r[1:] for r in rows}
        self.assertEqual(by_name["fake-node"], ["250m", "12%", "1024Mi", "25%"])
        # The node whose kubelet is unreachable is listed without numbers.
        self.assertEqual(by_name["down-node"], ["<unknown>"] * 4)
        # The apiserver asked for the cpu/memory-only summary, with a client certificate.
        self.assertIn(("/stats/summary?only_cpu_and_memory=true", True), self.kubelet.requests)

    def test_top_node_by_name(self):
        _, rows = self.rows("node", "fake-node")
        self.assertEqual(rows, [["fake-node", "250m", "12%", "1024Mi", "25%"]])

    def test_top_pods(self):
        header, rows = self.rows("pods")
        self.assertEqual(header, ["NAME", "CPU(cores)", "MEMORY(bytes)"])
        by_name = {r[0]: r[1:] for r in rows}
        self.assertEqual(by_name["web-1"], ["105m", "80Mi"])
        self.assertEqual(by_name["db-1"], ["1500m", "256Mi"])
        self.assertNotIn("ghost", by_name)  # its node's kubelet is down

    def test_top_pods_containers_selector_and_all_namespaces(self):
        _, rows = self.rows("pod", "web-1", "--containers")
        self.assertEqual(sorted(rows), [["web-1", "app", "100m", "64Mi"],
                                        ["web-1", "sidecar", "5m", "16Mi"]])
        _, rows = self.rows("pods", "-l", "app=db")
        self.assertEqual(rows, [["db-1", "1500m", "256Mi"]])
        header, rows = self.rows("pods", "-A")
        self.assertEqual(header[0], "NAMESPACE")
        self.assertIn(["default", "web-1", "105m", "80Mi"], rows)

    def test_pod_without_metrics(self):
        p = self.kubectl("top", "pod", "ghost", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('podmetrics.metrics.k8s.io "default/ghost" not found', p.stderr)

    def test_raw_metrics_objects(self):
        pm = json.loads(self.kubectl(
            "get", "--raw", "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/web-1").stdout)
        self.assertEqual(pm["kind"], "PodMetrics")
        self.assertEqual(pm["metadata"]["labels"], {"app": "web"})
        self.assertEqual(pm["timestamp"], "2026-11-28T10:00:00Z")
        self.assertEqual(pm["containers"][0]["usage"], {"cpu": "100m", "memory": "64Mi"})
        nm = json.loads(self.kubectl(
            "get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/fake-node").stdout)
        self.assertEqual(nm["usage"], {"cpu": "250m", "memory": "1Gi"})
        p = self.kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes/down-node",
                         check=False)
        self.assertIn("NotFound", p.stderr)


if __name__ == "__main__":
    harness.main()
