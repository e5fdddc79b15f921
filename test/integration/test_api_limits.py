"""Max in-flight limits (429 + Retry-After), the `timeout=` query parameter and watch
`timeoutSeconds`, deprecation `Warning` headers, and pods/proxy + services/proxy, against
`korral server` driven by kubectl 1.32 and raw HTTPS.
"""
import http.client
import http.server
import json
import os
import socket
import ssl
import tempfile
import threading
import time
import unittest

import harness

# pods/proxy refuses loopback pod IPs as upstream does ("address not allowed"); the test's
# "pods" are local HTTP servers, so the server under test allows loopback.
os.environ["KORRAL_ALLOW_LOOPBACK_PROXY"] = "1"


def ca_context(server):
    return ssl.create_default_context(cafile=os.path.join(server.data_dir, "tls", "ca.crt"))


def raw(server, method, path, body=None, token=None, headers=None, timeout=30):
    """One HTTPS request on its own connection. Returns (status, headers dict, body bytes)."""
    if token:
        ctx = ca_context(server)
    else:
        ctx = server.ssl_context()
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=timeout)
    h = {"Content-Type": "application/json"}
    if token:
        h["Authorization"] = "Bearer " + token
    h.update(headers or {})
    data = json.dumps(body) if isinstance(body, dict) else body
    try:
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read(), r
    finally:
        conn.close()


def warnings_of(resp):
    return [v for k, v in resp.getheaders() if k.lower() == "warning"]


# ---- max in-flight ---------------------------------------------------------------------------

class MaxInFlightTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="korral-limits-")
        token_file = os.path.join(cls.tmp, "tokens.csv")
        with open(token_file, "w") as f:
            f.write("bob-token,bob,2001\n")
            f.write('root-token,root,2002,"system:masters"\n')
        # The in-process controllers and scheduler are not system:masters: with budgets of one
        # they would be throttled too (and korral's client does not retry 429s yet).
        cls.server_args = ["--token-auth-file", token_file, "--max-requests-inflight", "1",
                           "--max-mutating-requests-inflight", "1", "--disable-scheduler",
                           "--disable-controller-manager"]
        super().setUpClass()
        cls.server.kubectl("create", "clusterrolebinding", "bob-admin",
                           "--clusterrole=cluster-admin", "--user=bob")

    def burst(self, token, n_threads=12, per_thread=12, prefix="cm"):
        results = []
        lock = threading.Lock()

        def worker(t):
            for i in range(per_thread):
                name = "%s-%d-%d" % (prefix, t, i)
                body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name},
                        "data": {"k": "v" * 512}}
                status, headers, data, _ = raw(self.server, "POST",
                                               "/api/v1/namespaces/default/configmaps", body,
                                               token=token)
                with lock:
                    results.append((status, headers, data))

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        return results

    def test_over_the_mutating_limit_requests_get_429_with_retry_after(self):
        results = self.burst("bob-token", prefix="bob")
        codes = [r[0] for r in results]
        self.assertEqual(set(codes) - {201, 429}, set(), codes)
        rejected = [r for r in results if r[0] == 429]
        self.assertGreater(len(rejected), 0, "12 concurrent writers never exceeded a limit of 1")
        self.assertGreater(codes.count(201), 0)
        for _, headers, data in rejected:
            self.assertEqual(headers.get("retry-after"), "1")
            self.assertEqual(data, b"Too many requests, please try again later.\n")
            self.assertTrue(headers.get("content-type", "").startswith("text/plain"))

    def test_system_masters_are_never_rejected(self):
        results = self.burst("root-token", prefix="root")
        self.assertEqual({r[0] for r in results}, {201})

    def test_watches_do_not_take_read_slots(self):
        # Three long-lived watches held open by bob, then reads one after another: each read
        # finds the (size 1) read-only budget free.
        ctx = ca_context(self.server)
        watches = []
        for _ in range(3):
            c = http.client.HTTPSConnection("127.0.0.1", self.server.port, context=ctx,
                                            timeout=30)
            c.request("GET", "/api/v1/namespaces/default/configmaps?watch=true",
                      headers={"Authorization": "Bearer bob-token"})
            r = c.getresponse()
            self.assertEqual(r.status, 200)
            watches.append(c)
        try:
            for _ in range(20):
                status, _, body, _ = raw(self.server, "GET", "/api/v1/namespaces/default/pods",
                                         token="bob-token")
                self.assertEqual(status, 200, body)
        finally:
            for c in watches:
                c.close()

    def test_kubectl_works_under_the_limit(self):
        out = self.kubectl("get", "configmaps", "-n", "kube-system", "-o", "name").stdout
        self.assertIsInstance(out, str)


# ---- timeout= and timeoutSeconds ------------------------------------------------------------

class TimeoutTest(harness.ServerTestCase):
    def test_malformed_timeout_is_400(self):
        status, _, body, _ = raw(self.server, "GET", "/api/v1/namespaces/default/pods?timeout=abc")
        self.assertEqual(status, 400)
        st = json.loads(body)
        self.assertEqual(st["reason"], "BadRequest")
        self.assertEqual(st["message"], 'invalid timeout specified in the request URL - '
                                        'time: invalid duration "abc"')
        status, _, body, _ = raw(self.server, "GET", "/api/v1/namespaces/default/pods?timeout=5")
        self.assertEqual(status, 400)
        self.assertIn('time: missing unit in duration "5"', json.loads(body)["message"])

    def test_request_past_its_deadline_gets_504(self):
        status, _, body, _ = raw(self.server, "GET", "/api/v1/namespaces/default/pods?timeout=1ns")
        self.assertEqual(status, 504)
        st = json.loads(body)
        self.assertEqual(st["reason"], "Timeout")
        self.assertEqual(st["code"], 504)
        self.assertEqual(st["message"], "Timeout: request did not complete within requested "
                                        "timeout - context deadline exceeded")

    def test_write_past_its_deadline_still_lands_as_upstream(self):
        body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}
        status, _, _, _ = raw(self.server, "POST",
                              "/api/v1/namespaces/default/configmaps?timeout=1ns", body)
        self.assertEqual(status, 504)
        deadline = time.time() + 20
        while time.time() < deadline:
            if self.kubectl("get", "configmap", "late", check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            self.fail("the timed-out create never landed")

    def test_generous_timeout_answers_normally_and_kubectl_request_timeout_works(self):
        status, _, body, _ = raw(self.server, "GET",
                                 "/api/v1/namespaces/default/pods?timeout=30s")
        self.assertEqual(status, 200, body)
        status, _, body, _ = raw(self.server, "GET",
                                 "/api/v1/namespaces/default/pods?timeout=10m")  # capped at 60s
        self.assertEqual(status, 200, body)
        p = self.kubectl("get", "pods", "--request-timeout=20s", "-v=6")
        self.assertIn("timeout=20s", p.stderr)

    def test_watch_ends_after_timeout_seconds_and_ignores_timeout(self):
        self.kubectl("create", "configmap", "watched", "--from-literal=a=b")
        start = time.time()
        status, _, body, _ = raw(
            self.server, "GET",
            "/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1&timeout=1ns")
        elapsed = time.time() - start
        self.assertEqual(status, 200, body)
        self.assertGreaterEqual(elapsed, 0.9)
        self.assertLess(elapsed, 10)
        # Initial ADDED events for what exists (kube-root-ca.crt at least) came through.
        self.assertIn(b'"type":"ADDED"', body)


# ---- Warning headers ------------------------------------------------------------------------

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: old-labels
spec:
  replicas: 1
  selector: {matchLabels: {app: old}}
  template:
    metadata: {labels: {app: old}}
    spec:
      nodeSelector: {beta.kubernetes.io/os: linux}
      containers: [{name: c, image: busybox}]
"""


class WarningsTest(harness.ServerTestCase):
    server_args = ["--disable-scheduler", "--disable-controller-manager"]

    def test_kubectl_prints_deprecated_node_label_warning(self):
        p = self.kubectl("apply", "-f", "-", input=DEPLOYMENT)
        self.assertIn('Warning: spec.template.spec.nodeSelector[beta.kubernetes.io/os]: '
                      'deprecated since v1.14; use "kubernetes.io/os" instead', p.stderr)
        # A change that bumps metadata.generation warns again; a label-only change does not.
        p = self.kubectl("scale", "deployment", "old-labels", "--replicas=2")
        p = self.kubectl("patch", "deployment", "old-labels", "--type=merge",
                         "-p", '{"spec":{"replicas":3}}')
        self.assertIn("beta.kubernetes.io/os", p.stderr)
        p = self.kubectl("label", "deployment", "old-labels", "x=y")
        self.assertNotIn("Warning", p.stderr)

    def test_pod_create_warns_and_updates_do_not(self):
        pod = {"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": "warned",
                            "annotations": {"scheduler.alpha.kubernetes.io/critical-pod": ""}},
               "spec": {"containers": [{"name": "c", "image": "busybox",
                                        "env": [{"name": "A", "value": "1"},
                                                {"name": "A", "value": "2"}]}],
                        "volumes": [{"name": "g", "gitRepo": {"repository": "r"}}]}}
        status, _, body, resp = raw(self.server, "POST", "/api/v1/namespaces/default/pods", pod)
        self.assertEqual(status, 201, body)
        self.assertEqual(warnings_of(resp), [
            '299 - "metadata.annotations[scheduler.alpha.kubernetes.io/critical-pod]: '
            'non-functional in v1.16+; use the \\"priorityClassName\\" field instead"',
            '299 - "spec.volumes[0].gitRepo: deprecated in v1.11"',
            '299 - "spec.containers[0].env[1]: hides previous definition of \\"A\\", which may '
            'be dropped when using apply"'])
        obj = json.loads(body)
        obj["metadata"]["labels"] = {"a": "b"}
        status, _, body, resp = raw(self.server, "PUT",
                                    "/api/v1/namespaces/default/pods/warned", obj)
        self.assertEqual(status, 200, body)
        self.assertEqual(warnings_of(resp), [])

    def test_unknown_field_and_deprecation_warnings_together(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "both"},
               "spec": {"bogus": 1, "nodeSelector": {"failure-domain.beta.kubernetes.io/zone": "a"},
                        "containers": [{"name": "c", "image": "busybox"}]}}
        status, _, body, resp = raw(self.server, "POST", "/api/v1/namespaces/default/pods", pod)
        self.assertEqual(status, 201, body)
        w = warnings_of(resp)
        self.assertIn('299 - "unknown field \\"spec.bogus\\""', w)
        self.assertIn('299 - "spec.nodeSelector[failure-domain.beta.kubernetes.io/zone]: '
                      'deprecated since v1.17; use \\"topology.kubernetes.io/zone\\" instead"', w)


# ---- pods/proxy and services/proxy ----------------------------------------------------------

class EchoHandler(http.server.BaseHTTPRequestHandler):
    def reply(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path.startswith("/missing"):
            self.send_response(404)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"nothing here")
            return
        out = ("%s %s body=%s" % (self.command, self.path, body.decode())).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("X-Backend", "echo")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = reply

    def log_message(self, *args):
        pass


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ProxyTest(harness.ServerTestCase):
    # The test owns pod IPs and Endpoints: no kubelet, scheduler or endpoints controller.
    server_args = ["--disable-scheduler", "--disable-controller-manager"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EchoHandler)
        cls.port = cls.backend.server_address[1]
        threading.Thread(target=cls.backend.serve_forever, daemon=True).start()
        cls.make_pod("web", "127.0.0.1", cls.port)
        cls.make_pod("linklocal", "169.254.1.1", 80)
        svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
               "spec": {"ports": [{"name": "http", "port": 80, "targetPort": cls.port}]}}
        st, _, body, _ = raw(cls.server, "POST", "/api/v1/namespaces/default/services", svc)
        assert st == 201, body
        eps = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
               "subsets": [{"addresses": [{"ip": "127.0.0.1", "targetRef": {
                   "kind": "Pod", "name": "web", "namespace": "default"}}],
                            "ports": [{"name": "http", "port": cls.port}]}]}
        st, _, body, _ = raw(cls.server, "POST", "/api/v1/namespaces/default/endpoints", eps)
        assert st == 201, body
        empty = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty"},
                 "spec": {"ports": [{"port": 80}]}}
        st, _, body, _ = raw(cls.server, "POST", "/api/v1/namespaces/default/services", empty)
        assert st == 201, body

    @classmethod
    def tearDownClass(cls):
        cls.backend.shutdown()
        super().tearDownClass()

    @classmethod
    def make_pod(cls, name, ip, port):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"containers": [{"name": "c", "image": "busybox",
                                        "ports": [{"containerPort": port}]}]}}
        st, _, body, _ = raw(cls.server, "POST", "/api/v1/namespaces/default/pods", pod)
        assert st == 201, body
        obj = json.loads(body)
        obj["status"] = {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}
        st, _, body, _ = raw(cls.server, "PUT", "/api/v1/namespaces/default/pods/%s/status" % name,
                             obj)
        assert st == 200, body

    def test_kubectl_get_raw_through_pods_proxy(self):
        out = self.kubectl("get", "--raw",
                           "/api/v1/namespaces/default/pods/web:%d/proxy/" % self.port).stdout
        self.assertEqual(out, "GET / body=")
        out = self.kubectl("get", "--raw",
                           "/api/v1/namespaces/default/pods/web:%d/proxy/a/b?x=1&y=2"
                           % self.port).stdout
        self.assertEqual(out, "GET /a/b?x=1&y=2 body=")
        # Without a port: the first container port.
        out = self.kubectl("get", "--raw", "/api/v1/namespaces/default/pods/web/proxy/first").stdout
        self.assertEqual(out, "GET /first body=")

    def test_methods_bodies_and_headers_pass_through(self):
        st, headers, body, _ = raw(self.server, "POST",
                                   "/api/v1/namespaces/default/pods/web/proxy/post", "payload")
        self.assertEqual((st, body), (200, b"POST /post body=payload"))
        self.assertEqual(headers.get("x-backend"), "echo")
        st, _, body, _ = raw(self.server, "GET",
                             "/api/v1/namespaces/default/pods/web/proxy/missing")
        self.assertEqual((st, body), (404, b"nothing here"))

    def test_bare_proxy_path_redirects_to_trailing_slash(self):
        st, headers, _, _ = raw(self.server, "GET",
                                "/api/v1/namespaces/default/pods/web:%d/proxy?q=1" % self.port)
        self.assertEqual(st, 301)
        self.assertEqual(headers["location"],
                         "/api/v1/namespaces/default/pods/web:%d/proxy/?q=1" % self.port)

    def test_services_proxy_picks_an_endpoint(self):
        for ref in ("web:http", "web:80", "http:web:http"):
            out = self.kubectl("get", "--raw",
                               "/api/v1/namespaces/default/services/%s/proxy/svc" % ref).stdout
            self.assertEqual(out, "GET /svc body=", ref)

    def test_errors(self):
        def status(path):
            st, _, body, _ = raw(self.server, "GET", path)
            return st, json.loads(body) if body.startswith(b"{") else body

        st, body = status("/api/v1/namespaces/default/services/empty/proxy/")
        self.assertEqual(st, 404)  # no Endpoints object at all
        self.assertEqual(body["reason"], "NotFound")
        st, body = status("/api/v1/namespaces/default/services/web:81/proxy/")
        self.assertEqual(st, 503)
        self.assertEqual(body["message"], 'no service port 81 found for service "web"')
        st, body = status("/api/v1/namespaces/default/services/web:nope/proxy/")
        self.assertEqual(st, 503)
        self.assertEqual(body["message"], 'no endpoints available for service "web:nope"')
        st, body = status("/api/v1/namespaces/default/pods/linklocal/proxy/")
        self.assertEqual((st, body["message"]), (400, "address not allowed"))
        st, body = status("/api/v1/namespaces/default/pods/a:b:c:d/proxy/")
        self.assertEqual((st, body["message"]), (400, 'invalid pod request "a:b:c:d"'))
        st, body = status("/api/v1/namespaces/default/pods/ftp:web:80/proxy/")
        self.assertEqual(st, 400)
        st, body = status("/api/v1/namespaces/default/pods/nosuch/proxy/")
        self.assertEqual(st, 404)
        closed = free_port()
        st, body = status("/api/v1/namespaces/default/pods/web:%d/proxy/" % closed)
        self.assertEqual(st, 503)
        self.assertIn("error trying to reach service", body["message"])


if __name__ == "__main__":
    harness.main()
