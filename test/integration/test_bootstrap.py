"""Node join with a bootstrap token and the certificates.k8s.io API, end to end: `korral token
create`, `korral agent --token` (TLS bootstrap: CSR as system:bootstrap:<id>, auto-approval by
the controller manager's csrapproving, signing by csrsigning with the cluster CA, kubeconfig
written under the agent's data dir and reused on restart), the kubelet serving certificate (a
kubelet-serving CSR by the node, auto-approved by korral's kubelet-serving approver, served by
the kubelet and verified by the apiserver, which refuses a kubelet whose certificate the cluster
CA did not sign), `kubectl certificate approve|deny`, the kube-apiserver-client signer, CSR
validation and the approval permission checks.

The agent runs without containerd (a CRI endpoint that does not exist): the bootstrap happens
before the runtime is needed, so this runs unprivileged."""
import base64
import datetime
import http.server
import json
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

KUBELET_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet"
SERVING_SIGNER = "kubernetes.io/kubelet-serving"
CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client"


def wait_for(fn, timeout, interval=0.2, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))


def make_csr(cn, orgs=(), dns=()):
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    b = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attrs))
    if dns:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
    csr = b.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return csr.public_bytes(serialization.Encoding.PEM), key_pem


def csr_object(name, pem, signer, usages, expiration=None):
    o = {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
         "metadata": {"name": name},
         "spec": {"request": base64.b64encode(pem).decode(), "signerName": signer,
                  "usages": usages}}
    if expiration is not None:
        o["spec"]["expirationSeconds"] = expiration
    return o


def conditions(csr):
    return {c["type"]: c for c in csr.get("status", {}).get("conditions", [])}


def node_address(node_obj):
    st = node_obj.get("status", {})
    port = st.get("daemonEndpoints", {}).get("kubeletEndpoint", {}).get("Port")
    ips = [a["address"] for a in st.get("addresses", []) if a["type"] == "InternalIP"]
    return (ips[0], port) if port and ips else None


class TlsKubelet:
    """An HTTPS "kubelet" on 127.0.0.1 whose certificate a CA of its own signed."""

    def __init__(self, tmp):
        self.requests = []
        outer = self
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue")])
        now = datetime.datetime.utcnow()
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(hours=1))
                .add_extension(x509.SubjectAlternativeName(
                    [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))]), False)
                .sign(key, hashes.SHA256()))
        d = tempfile.mkdtemp(dir=tmp)
        cert_path, key_path = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
        with open(cert_path, "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(key_path, "wb") as f:
            f.write(key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert_path, key_path)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class BootstrapTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="korral-bootstrap-it-")
        cls.ca = os.path.join(cls.server.data_dir, "tls", "ca.crt")

    def korral(self, *args, check=True, timeout=60):
        p = subprocess.run([harness.KORRAL] + list(args), capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("korral %s failed (%d): %s %s" %
                                 (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def token_request(self, token, method, path, body=None):
        ctx = ssl.create_default_context(cafile=self.ca)
        req = urllib.request.Request(self.server.url(path), method=method,
                                     data=json.dumps(body).encode() if body else None,
                                     headers={"Authorization": "Bearer " + token,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def get_csr(self, name):
        return self.server.kubectl_json("get", "csr", name)

    def create(self, obj, kubeconfig=None):
        args = ["create", "-f", "-", "-o", "json"]
        if kubeconfig:
            args = ["--kubeconfig", kubeconfig] + args
        return self.kubectl(*args, input=json.dumps(obj), check=False)

    def client_kubeconfig(self, name, cert_pem, key_pem):
        d = os.path.join(self.tmp, name)
        os.makedirs(d, exist_ok=True)
        for fname, data in (("c.crt", cert_pem), ("c.key", key_pem)):
            with open(os.path.join(d, fname), "wb") as f:
                f.write(data)
        kc = os.path.join(d, "kubeconfig")
        with open(kc, "w") as f:
            f.write("""apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "%s", certificate-authority: "%s"}}]
users: [{name: u, user: {client-certificate: "%s", client-key: "%s"}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
""" % (self.server.url(""), self.ca, os.path.join(d, "c.crt"), os.path.join(d, "c.key")))
        return kc

    def whoami(self, kubeconfig):
        p = subprocess.run([harness.KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir",
                            self.server.cache_dir, "auth", "whoami", "-o", "json"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)["status"]["userInfo"]

    # ---- korral token + korral agent --token --------------------------------------------
    def test_agent_joins_with_bootstrap_token(self):
        token = self.korral("token", "create", "--data-dir", self.server.data_dir,
                            "--description", "it").stdout.strip()
        self.assertRegex(token, r"^[a-z0-9]{6}\.[a-z0-9]{16}$")
        tid = token.split(".")[0]
        secret = self.server.kubectl_json("get", "secret", "-n", "kube-system",
                                          "bootstrap-token-" + tid)
        self.assertEqual(secret["type"], "bootstrap.kubernetes.io/token")
        listed = self.korral("token", "list", "--data-dir", self.server.data_dir).stdout
        self.assertIn(token, listed)
        join = self.korral("token", "create", "--data-dir", self.server.data_dir,
                           "--print-join-command").stdout
        self.assertIn("korral agent --server " + self.server.url(""), join)
        self.assertIn("--ca-file " + self.ca, join)

        node = "boot-node-1"
        agent_dir = os.path.join(self.tmp, "agent")
        log_path = os.path.join(self.tmp, "agent.log")

        def run_agent():
            log = open(log_path, "ab")
            return subprocess.Popen(
                [harness.KORRAL, "agent", "--server", self.server.url(""), "--token", token,
                 "--ca-file", self.ca, "--data-dir", agent_dir, "--node-name", node,
                 "--container-runtime-endpoint",
                 "unix://" + os.path.join(self.tmp, "no-such-cri.sock"),
                 "--registry-port", "0", "--kubelet-port", str(harness.free_port())],
                stdout=log, stderr=subprocess.STDOUT)

        kubeconfig = os.path.join(agent_dir, "kubelet.kubeconfig")
        stored = os.path.join(agent_dir, "pki", "kubelet-server-current.pem")

        def node_registered():
            p = self.kubectl("get", "node", node, "-o", "json", check=False)
            return json.loads(p.stdout) if p.returncode == 0 else None

        agent = run_agent()
        try:
            wait_for(lambda: os.path.exists(kubeconfig), 60, what="the node kubeconfig")
            # The agent's kubelet registers its Node with the new identity.
            wait_for(node_registered, 30, what="the Node registered by the agent")
            # ... and gets its serving certificate through a kubelet-serving CSR.
            wait_for(lambda: os.path.exists(stored), 60, what="the kubelet serving certificate")
        finally:
            agent.terminate()
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        self.assertEqual(os.stat(kubeconfig).st_mode & 0o777, 0o600)
        # The CSR: requested by the bootstrap token, auto-approved, issued.
        csrs = [c for c in self.server.kubectl_json("get", "csr")["items"]
                if c["spec"]["username"] == "system:bootstrap:" + tid]
        self.assertEqual(len(csrs), 1, csrs)
        csr = csrs[0]
        self.assertEqual(csr["spec"]["signerName"], KUBELET_SIGNER)
        self.assertIn("system:bootstrappers", csr["spec"]["groups"])
        self.assertEqual(conditions(csr)["Approved"]["reason"], "AutoApproved")
        self.assertTrue(csr["status"]["certificate"])
        table = self.kubectl("get", "csr", csr["metadata"]["name"]).stdout
        self.assertIn("Approved,Issued", table)
        self.assertIn("system:bootstrap:" + tid, table)
        # The new identity is the node's (the Node above was registered with it).
        user = self.whoami(kubeconfig)
        self.assertEqual(user["username"], "system:node:" + node)
        self.assertIn("system:nodes", user["groups"])
        self.assertIn("registered node " + node, open(log_path).read())
        # The node identity cannot register another node.
        p = subprocess.run(
            [harness.KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir", self.server.cache_dir,
             "create", "-f", "-"],
            input=json.dumps({"apiVersion": "v1", "kind": "Node",
                              "metadata": {"name": "someone-else"}}),
            capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Forbidden", p.stderr)
        # The kubelet serving certificate: a kubelet-serving CSR by the node itself,
        # auto-approved (korral's approver) and issued by the cluster CA.
        serving = [c for c in self.server.kubectl_json("get", "csr")["items"]
                   if c["spec"]["signerName"] == SERVING_SIGNER and
                   c["spec"]["username"] == "system:node:" + node]
        self.assertEqual(len(serving), 1, serving)
        self.assertEqual(conditions(serving[0])["Approved"]["reason"], "AutoApproved")
        self.assertEqual(sorted(serving[0]["spec"]["usages"]),
                         ["digital signature", "key encipherment", "server auth"])
        self.assertIn("Approved,Issued",
                      self.kubectl("get", "csr", serving[0]["metadata"]["name"]).stdout)
        self.assertEqual(os.stat(stored).st_mode & 0o777, 0o600)
        cert = x509.load_pem_x509_certificate(open(stored, "rb").read())
        self.assertEqual(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         "system:node:" + node)
        # A restart reuses the credentials, even once the token is gone.
        self.korral("token", "delete", "--data-dir", self.server.data_dir, tid)
        before = os.stat(kubeconfig).st_mtime_ns
        agent = run_agent()
        try:
            wait_for(lambda: "reusing the node credentials" in open(log_path).read(), 30,
                     what="the agent reusing its kubeconfig")
            wait_for(lambda: "kubelet-serving: reusing the certificate" in open(log_path).read(),
                     30, what="the agent reusing its serving certificate")
            # The kubelet presents the CA-signed certificate and the apiserver, verifying it
            # against the cluster CA, reaches the kubelet through nodes/proxy.
            addr = wait_for(lambda: node_address(self.server.kubectl_json("get", "node", node)),
                            30, what="the node's kubelet endpoint")
            ctx = ssl.create_default_context(cafile=self.ca)
            ctx.check_hostname = False
            with socket.create_connection(addr, timeout=10) as sock:
                with ctx.wrap_socket(sock) as tls:
                    peer = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
            self.assertEqual(peer.serial_number, cert.serial_number)
            healthz = wait_for(lambda: (lambda p: p.stdout if p.returncode == 0 else None)(
                self.kubectl("get", "--raw", "/api/v1/nodes/%s/proxy/healthz" % node,
                             check=False)), 30, what="nodes/proxy/healthz through the kubelet")
            self.assertEqual(healthz.strip(), "ok")
        finally:
            agent.terminate()
            try:
                agent.wait(timeout=20)
            except subprocess.TimeoutExpired:
                agent.kill()
                agent.wait()
        self.assertEqual(os.stat(kubeconfig).st_mtime_ns, before)
        # The deleted token no longer authenticates.
        code, _ = self.token_request(token, "GET", "/apis/certificates.k8s.io/v1/"
                                     "certificatesigningrequests")
        self.assertEqual(code, 401)

    # ---- the apiserver verifies kubelet serving certificates -------------------------------
    def test_kubelet_with_a_foreign_certificate_is_refused(self):
        kubelet = TlsKubelet(self.tmp)
        try:
            name = "rogue-node"
            self.kubectl("create", "-f", "-", input=json.dumps(
                {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}))
            status = {"status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.port}}}}
            code, _, body = self.server.request(
                "PATCH", "/api/v1/nodes/%s/status" % name, json.dumps(status),
                {"Content-Type": "application/merge-patch+json"})
            self.assertEqual(code, 200, body)
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "on-rogue", "namespace": "default"},
                   "spec": {"nodeName": name, "containers": [{"name": "c", "image": "busybox"}]}}
            self.kubectl("create", "-f", "-", input=json.dumps(pod))
            code, _, body = self.server.request(
                "PATCH", "/api/v1/namespaces/default/pods/on-rogue/status",
                json.dumps({"status": {"phase": "Running"}}),
                {"Content-Type": "application/merge-patch+json"})
            self.assertEqual(code, 200, body)
            want = "tls: failed to verify certificate: x509: certificate signed by unknown authority"
            p = self.kubectl("logs", "on-rogue", check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn('Get "https://127.0.0.1:%d/containerLogs/default/on-rogue/c' %
                          kubelet.port, p.stderr)
            self.assertIn(want, p.stderr)
            code, _, body = self.server.request("GET", "/api/v1/nodes/%s/proxy/healthz" % name)
            self.assertEqual(code, 500, body)
            status = json.loads(body)
            self.assertEqual(status["kind"], "Status")
            self.assertIn(want, status["message"])
            p = self.kubectl("exec", "on-rogue", "--", "true", check=False)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn("error dialing backend: " + want, p.stderr)
            self.assertEqual(kubelet.requests, [])  # nothing got past the handshake
        finally:
            kubelet.stop()

    def test_agent_bad_flags(self):
        p = self.korral("agent", "--data-dir", os.path.join(self.tmp, "x"), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("--kubeconfig or --token is required", p.stdout + p.stderr)
        p = self.korral("agent", "--data-dir", os.path.join(self.tmp, "x"), "--server",
                        self.server.url(""), "--ca-file", self.ca, "--token", "not-a-token",
                        check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("[a-z0-9]{6}.[a-z0-9]{16}", p.stdout + p.stderr)

    # ---- the CSR API with kubectl ---------------------------------------------------------
    def test_kubectl_certificate_approve_and_deny(self):
        pem, key = make_csr("alice", ["devs"])
        p = self.create(csr_object("alice-csr", pem, CLIENT_SIGNER,
                                   ["digital signature", "client auth"], 3600))
        self.assertEqual(p.returncode, 0, p.stderr)
        created = json.loads(p.stdout)
        self.assertEqual(created["spec"]["username"], "admin")  # set by the server
        self.assertIn("system:masters", created["spec"]["groups"])
        self.assertNotIn("Approved", conditions(created))
        self.assertIn("Pending", self.kubectl("get", "csr", "alice-csr").stdout)
        # Not a node CSR: never auto-approved.
        time.sleep(1)
        self.assertEqual(conditions(self.get_csr("alice-csr")), {})
        self.kubectl("certificate", "approve", "alice-csr")
        csr = wait_for(lambda: (lambda c: c if c.get("status", {}).get("certificate") else None)(
            self.get_csr("alice-csr")), 30, what="the certificate")
        self.assertEqual(conditions(csr)["Approved"]["reason"], "KubectlApprove")
        cert_pem = base64.b64decode(csr["status"]["certificate"])
        cert = x509.load_pem_x509_certificate(cert_pem)
        self.assertEqual(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value,
                         "alice")
        lifetime = cert.not_valid_after - cert.not_valid_before
        self.assertLessEqual(lifetime.total_seconds(), 3600 + 301)
        user = self.whoami(self.client_kubeconfig("alice", cert_pem, key))
        self.assertEqual(user["username"], "alice")
        self.assertIn("devs", user["groups"])
        # Approval is final; the certificate cannot be replaced.
        p = self.kubectl("certificate", "deny", "alice-csr", check=False)
        self.assertNotEqual(p.returncode, 0)
        # Deny another one.
        pem2, _ = make_csr("bob")
        self.assertEqual(self.create(csr_object("bob-csr", pem2, CLIENT_SIGNER,
                                                ["client auth"])).returncode, 0)
        self.kubectl("certificate", "deny", "bob-csr")
        time.sleep(1)
        csr = self.get_csr("bob-csr")
        self.assertEqual(conditions(csr)["Denied"]["reason"], "KubectlDeny")
        self.assertNotIn("certificate", csr.get("status", {}))
        self.assertIn("Denied", self.kubectl("get", "csr", "bob-csr").stdout)

    def test_signer_refuses_what_it_does_not_allow(self):
        # A kubelet-signer CSR whose subject is not a node: approved by hand, then failed.
        pem, _ = make_csr("not-a-node", ["system:nodes"])
        self.assertEqual(self.create(csr_object("fake-node", pem, KUBELET_SIGNER,
                                                ["digital signature", "client auth"])).returncode,
                         0)
        self.kubectl("certificate", "approve", "fake-node")
        csr = wait_for(lambda: (lambda c: c if "Failed" in conditions(c) else None)(
            self.get_csr("fake-node")), 30, what="the Failed condition")
        self.assertEqual(conditions(csr)["Failed"]["reason"], "SignerValidationFailure")
        self.assertIn("system:node:", conditions(csr)["Failed"]["message"])
        self.assertNotIn("certificate", csr["status"])

    def test_csr_validation(self):
        good, _ = make_csr("x")
        cases = [
            (csr_object("v1", b"not a pem", CLIENT_SIGNER, ["client auth"]),
             "PEM block type must be CERTIFICATE REQUEST"),
            (csr_object("v2", good, "no-slash", ["client auth"]),
             "must be a fully qualified domain and path"),
            (csr_object("v3", good, CLIENT_SIGNER, ["client auth"], 100),
             "may not specify a duration less than 600 seconds"),
            (csr_object("v4", good, CLIENT_SIGNER, []), "spec.usages: Required value"),
            (csr_object("v5", good, CLIENT_SIGNER, ["fly"]), "spec.usages[0]: Unsupported value"),
        ]
        for obj, msg in cases:
            p = self.create(obj)
            self.assertNotEqual(p.returncode, 0, obj["metadata"]["name"])
            self.assertIn(msg, p.stderr)
        masters, _ = make_csr("eve", ["system:masters"])
        p = self.create(csr_object("v6", masters, CLIENT_SIGNER, ["client auth"]))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("with system:masters group is not allowed", p.stderr)

    def test_bootstrapper_cannot_approve_or_sign(self):
        token = self.korral("token", "create", "--data-dir", self.server.data_dir).stdout.strip()
        pem, _ = make_csr("system:node:sneaky", ["system:nodes"], dns=["sneaky"])
        code, body = self.token_request(
            token, "POST", "/apis/certificates.k8s.io/v1/certificatesigningrequests",
            csr_object("sneaky-serving", pem, "kubernetes.io/kubelet-serving",
                       ["digital signature", "server auth"]))
        self.assertEqual(code, 201, body)
        body["status"] = {"conditions": [{"type": "Approved", "status": "True",
                                          "reason": "Self"}]}
        code, out = self.token_request(
            token, "PUT", "/apis/certificates.k8s.io/v1/certificatesigningrequests/"
            "sneaky-serving/approval", body)
        self.assertEqual(code, 403, out)
        # A user with update on the approval subresource but no "approve" on the signer.
        self.kubectl("create", "clusterrole", "csr-updater", "--verb=get,update",
                     "--resource=certificatesigningrequests,certificatesigningrequests/approval")
        self.kubectl("create", "clusterrolebinding", "csr-updater", "--clusterrole=csr-updater",
                     "--user=carol")
        p = self.kubectl("--as", "carol", "certificate", "approve", "sneaky-serving",
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('user not permitted to approve requests with signerName '
                      '"kubernetes.io/kubelet-serving"', p.stderr)
        self.assertNotIn("Approved", conditions(self.get_csr("sneaky-serving")))


if __name__ == "__main__":
    harness.main()
