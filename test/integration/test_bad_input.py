#!/usr/bin/python3
"""Hostile and malformed input gets a Kubernetes Status with the right code, and loses
nothing."""
import json
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

CM_PATH = "/api/v1/namespaces/default/configmaps"


class BadInputTest(harness.ServerTestCase):

    def status(self, method, path, body=None, ctype="application/json"):
        code, headers, raw = self.server.request(method, path, body,
                                                 {"Content-Type": ctype} if ctype else {})
        obj = json.loads(raw)
        self.assertEqual(obj.get("kind"), "Status", raw)
        self.assertEqual(obj.get("code"), code, raw)
        return code, obj

    def test_malformed_json(self):
        code, obj = self.status("POST", CM_PATH, '{"metadata": {"name": "x"')
        self.assertEqual(code, 400)
        self.assertEqual(obj["reason"], "BadRequest")

    def test_malformed_yaml(self):
        code, obj = self.status("POST", CM_PATH, "metadata: [unclosed\n  - :", "application/yaml")
        self.assertEqual(code, 400)

    def test_malformed_protobuf(self):
        code, _ = self.status("POST", CM_PATH, b"k8s\x00\x0a\xff\xff\xff\xff\x0f",
                              "application/vnd.kubernetes.protobuf")
        self.assertEqual(code, 400)

    def test_unsupported_media_type(self):
        code, obj = self.status("POST", CM_PATH, "name=x", "application/x-www-form-urlencoded")
        self.assertEqual(code, 415)
        self.assertEqual(obj["reason"], "UnsupportedMediaType")

    def test_oversized_body(self):
        big = json.dumps({"metadata": {"name": "big"}, "data": {"k": "x" * (4 * 1024 * 1024)}})
        code, obj = self.status("POST", CM_PATH, big)
        self.assertEqual(code, 413)
        code, _, _ = self.server.request("GET", CM_PATH + "/big")
        self.assertEqual(code, 404)

    def test_unknown_resource_and_path(self):
        code, obj = self.status("GET", "/api/v1/namespaces/default/foos", ctype=None)
        self.assertEqual(code, 404)
        code, obj = self.status("GET", "/apis/nope.example.com/v1/things", ctype=None)
        self.assertEqual(code, 404)

    def test_bad_selectors_and_continue(self):
        code, obj = self.status("GET", CM_PATH + "?labelSelector=a%20in%20(b", ctype=None)
        self.assertEqual(code, 400)
        code, obj = self.status("GET", CM_PATH + "?fieldSelector=spec.nope%3Dx", ctype=None)
        self.assertEqual(code, 400)
        self.assertIn("field label not supported", obj["message"])
        code, obj = self.status("GET", CM_PATH + "?limit=1&continue=not-base64!!", ctype=None)
        self.assertEqual(code, 400)
        code, obj = self.status("GET", CM_PATH + "?limit=1&continue=eyJydiI6MX0", ctype=None)
        self.assertEqual(code, 400)
        self.assertIn("continue key is not valid", obj["message"])
        code, obj = self.status("GET", CM_PATH + "?limit=-5", ctype=None)
        self.assertEqual(code, 400)

    def test_wrong_kind_and_namespace(self):
        code, obj = self.status("POST", CM_PATH, json.dumps(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "k"}}))
        self.assertEqual(code, 400)
        code, obj = self.status("POST", CM_PATH, json.dumps(
            {"metadata": {"name": "k", "namespace": "other"}}))
        self.assertEqual(code, 400)
        code, obj = self.status("POST", "/api/v1/namespaces/missing-ns/configmaps", json.dumps(
            {"metadata": {"name": "k"}}))
        self.assertEqual(code, 404)

    def test_strict_duplicate_field(self):
        code, obj = self.status(
            "POST", CM_PATH + "?fieldValidation=Strict",
            '{"metadata": {"name": "d1", "name": "d2"}}')
        self.assertEqual(code, 400)
        self.assertIn("duplicate field", obj["message"])

    def test_malformed_http(self):
        ctx = self.server.ssl_context()
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(b"GARBAGE / HTTP/9.9\r\nno-colon-header\r\n\r\n")
                data = s.recv(65536).decode(errors="replace")
        self.assertTrue(data.startswith("HTTP/1.1 400"), data[:200])

    def test_plain_http_on_tls_port_is_refused(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=5) as s:
            s.sendall(b"GET /version HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                data = s.recv(1024)
            except (ConnectionResetError, socket.timeout):
                data = b""
        self.assertFalse(data.startswith(b"HTTP/1.1 200"))

    def test_anonymous_gets_no_data(self):
        ctx = ssl.create_default_context(cafile=os.path.join(self.server.data_dir, "tls", "ca.crt"))
        import urllib.request
        import urllib.error
        with urllib.request.urlopen(self.server.url("/version"), context=ctx) as r:
            self.assertEqual(r.status, 200)
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(self.server.url("/api/v1/secrets"), context=ctx)
        self.assertEqual(e.exception.code, 403)
        status = json.loads(e.exception.read())
        self.assertEqual(status["reason"], "Forbidden")
        # Upstream's RBAC message for a resource request (security issue).
        self.assertEqual(status["message"],
                         'secrets is forbidden: User "system:anonymous" cannot list resource '
                         '"secrets" in API group "" at the cluster scope')

    def test_nothing_lost_after_bad_requests(self):
        code, _, _ = self.server.request("POST", CM_PATH, json.dumps(
            {"metadata": {"name": "survivor"}, "data": {"a": "b"}}),
            {"Content-Type": "application/json"})
        self.assertEqual(code, 201)
        for body in ['{', '[]', '"str"', '{"metadata": 5}', '{"data": {"a": 1}}',
                     '{"metadata": {"name": "survivor"}, "binaryData": {"k": "%%%"}}']:
            code, _, raw = self.server.request("PUT", CM_PATH + "/survivor", body,
                                               {"Content-Type": "application/json"})
            self.assertEqual(code, 400, (body, raw))
            self.assertEqual(json.loads(raw)["kind"], "Status")
        code, _, raw = self.server.request("GET", CM_PATH + "/survivor")
        self.assertEqual(code, 200)
        self.assertEqual(json.loads(raw)["data"], {"a": "b"})


if __name__ == "__main__":
    harness.main()
