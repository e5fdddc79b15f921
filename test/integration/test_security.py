"""Security end to end: authentication (x509, static tokens, service-account JWTs, anonymous),
RBAC and escalation prevention, impersonation, the Node authorizer, admission, encryption at
rest and audit, against a real `korral server` driven by kubectl 1.32."""
import base64
import datetime
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

SECRET_VALUE = "topsecret-plaintext-7f3a9"


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_jwt(private_key, claims, kid="k"):
    header = {"alg": "RS256", "kid": kid}
    signing_input = (b64url(json.dumps(header).encode()) + "." +
                     b64url(json.dumps(claims).encode())).encode()
    sig = private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(sig)


def make_cert(cn, orgs, issuer_cert=None, issuer_key=None):
    """An EC client certificate (self-signed CA when issuer_* is None). Returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    attrs += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    subject = x509.Name(attrs)
    now = datetime.datetime.utcnow()
    builder = (x509.CertificateBuilder().subject_name(subject)
               .issuer_name(issuer_cert.subject if issuer_cert else subject)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1)))
    if issuer_cert is None:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert, key


def write_pem(dirname, name, cert, key):
    cp = os.path.join(dirname, name + ".crt")
    kp = os.path.join(dirname, name + ".key")
    with open(cp, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(kp, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return cp, kp


def encryption_config(providers):
    lines = ["apiVersion: apiserver.config.k8s.io/v1", "kind: EncryptionConfiguration",
             "resources:", "  - resources: [secrets]", "    providers:"]
    for kind, keys in providers:
        if kind == "identity":
            lines.append("      - identity: {}")
            continue
        lines.append("      - %s:" % kind)
        lines.append("          keys:")
        for name, secret in keys:
            lines.append("            - name: %s" % name)
            lines.append("              secret: %s" % base64.b64encode(secret).decode())
    return "\n".join(lines) + "\n"


AUDIT_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    verbs: [get, list, watch]
    resources: [{group: "", resources: [configmaps]}]
  - level: RequestResponse
    resources: [{group: "", resources: [configmaps]}]
  - level: Metadata
    resources: [{group: "", resources: [secrets]}]
  - level: None
"""


def role_binding(name, ns, role, subject_kind, subject, role_kind="ClusterRole"):
    s = {"kind": subject_kind, "name": subject}
    if subject_kind == "ServiceAccount":
        s["namespace"], s["name"] = subject.split(":")
    else:
        s["apiGroup"] = "rbac.authorization.k8s.io"
    return json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                       "metadata": {"name": name, "namespace": ns},
                       "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind,
                                   "name": role},
                       "subjects": [s]})


def role(name, ns, verbs, resources):
    return json.dumps({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                       "metadata": {"name": name, "namespace": ns},
                       "rules": [{"apiGroups": [""], "resources": resources, "verbs": verbs}]})


class SecurityTest(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="korral-sec-")
        cls.token_file = os.path.join(cls.tmp, "tokens.csv")
        with open(cls.token_file, "w") as f:
            f.write("alice-token,alice,1001\n")
            f.write("bob-token,bob,1002\n")
            f.write('carol-token,carol,1003,"team-leads,devs"\n')
        cls.enc_file = os.path.join(cls.tmp, "enc.yaml")
        with open(cls.enc_file, "w") as f:
            f.write(encryption_config([("aescbc", [("key1", b"k" * 32)]), ("identity", [])]))
        cls.audit_policy = os.path.join(cls.tmp, "audit.yaml")
        with open(cls.audit_policy, "w") as f:
            f.write(AUDIT_POLICY)
        cls.audit_log = os.path.join(cls.tmp, "audit", "audit.log")
        cls.server = harness.Server(extra_args=[
            "--token-auth-file", cls.token_file,
            "--encryption-provider-config", cls.enc_file,
            "--audit-policy-file", cls.audit_policy,
            "--audit-log-path", cls.audit_log]).start()
        for ns in ("team-a", "team-b"):
            cls.server.kubectl("create", "namespace", ns)
        cls.server.kubectl("create", "-f", "-",
                           input=role_binding("alice-view", "team-a", "view", "User", "alice"))

    # ---- helpers -----------------------------------------------------------------------------
    def user_kubeconfig(self, name, token=None, cert=None):
        path = os.path.join(self.tmp, name + ".kubeconfig")
        ca = os.path.join(self.server.data_dir, "tls", "ca.crt")
        user = {"token": token} if token else {"client-certificate": cert[0],
                                               "client-key": cert[1]}
        cfg = {"apiVersion": "v1", "kind": "Config",
               "clusters": [{"name": "c", "cluster": {
                   "server": "https://127.0.0.1:%d" % self.server.port,
                   "certificate-authority": ca}}],
               "users": [{"name": name, "user": user}],
               "contexts": [{"name": "c", "context": {"cluster": "c", "user": name}}],
               "current-context": "c"}
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def as_user(self, kubeconfig, *args, check=False, input=None):
        cmd = [harness.KUBECTL, "--kubeconfig", kubeconfig, "--cache-dir",
               self.server.cache_dir] + list(args)
        return subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=60,
                              check=False) if not check else self.server.kubectl(*args)

    def raw(self, path, token=None, cert=None, method="GET", body=None):
        ctx = ssl.create_default_context(
            cafile=os.path.join(self.server.data_dir, "tls", "ca.crt"))
        if cert:
            ctx.load_cert_chain(cert[0], cert[1])
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        req = urllib.request.Request(self.server.url(path), method=method, headers=headers,
                                     data=body.encode() if body else None)
        try:
            with urllib.request.urlopen(req, context=ctx, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            data = e.read()
            try:
                return e.code, json.loads(data)
            except ValueError:
                return e.code, {"raw": data.decode(errors="replace")}

    def eventually(self, fn, timeout=10):
        deadline = time.time() + timeout
        while True:
            ok = fn()
            if ok or time.time() > deadline:
                return ok
            time.sleep(0.2)

    def sa_key(self):
        with open(os.path.join(self.server.data_dir, "tls", "service-account.key"), "rb") as f:
            return serialization.load_pem_private_key(f.read(), None)

    # ---- RBAC --------------------------------------------------------------------------------
    def test_view_user_in_one_namespace(self):
        kc = self.user_kubeconfig("alice", token="alice-token")
        self.server.kubectl("create", "configmap", "cm1", "-n", "team-a", "--from-literal=a=b")
        p = self.as_user(kc, "get", "configmaps", "-n", "team-a")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("cm1", p.stdout)
        p = self.as_user(kc, "create", "configmap", "cm2", "-n", "team-a")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('User "alice" cannot create resource "configmaps" in API group "" in the '
                      'namespace "team-a"', p.stderr)
        p = self.as_user(kc, "get", "pods", "-n", "team-b")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Forbidden", p.stderr)
        self.assertEqual(self.as_user(kc, "auth", "can-i", "list", "pods", "-n", "team-a")
                         .stdout.strip(), "yes")
        self.assertEqual(self.as_user(kc, "auth", "can-i", "create", "pods", "-n", "team-a")
                         .stdout.strip(), "no")
        self.assertEqual(self.as_user(kc, "auth", "can-i", "get", "secrets", "-n", "team-a")
                         .stdout.strip(), "no")
        p = self.as_user(kc, "auth", "can-i", "--list", "-n", "team-a")
        self.assertEqual(p.returncode, 0, p.stderr)
        pods_line = [l for l in p.stdout.splitlines() if l.startswith("pods ")]
        self.assertTrue(pods_line, p.stdout)
        self.assertIn("[get list watch]", pods_line[0])
        self.assertNotIn("secrets ", p.stdout)
        self.assertIn("selfsubjectaccessreviews.authorization.k8s.io", p.stdout)

    def test_whoami_and_reviews(self):
        kc = self.user_kubeconfig("carol", token="carol-token")
        p = self.as_user(kc, "auth", "whoami", "-o", "json")
        self.assertEqual(p.returncode, 0, p.stderr)
        info = json.loads(p.stdout)["status"]["userInfo"]
        self.assertEqual(info["username"], "carol")
        self.assertEqual(info["groups"], ["team-leads", "devs", "system:authenticated"])
        who = json.loads(self.server.kubectl("auth", "whoami", "-o", "json").stdout)
        self.assertIn("system:masters", who["status"]["userInfo"]["groups"])
        # SubjectAccessReview and TokenReview as the admin.
        code, sar = self.raw("/apis/authorization.k8s.io/v1/subjectaccessreviews",
                             cert=self.admin_cert(), method="POST", body=json.dumps({
                                 "spec": {"user": "alice", "resourceAttributes": {
                                     "namespace": "team-a", "verb": "list",
                                     "resource": "pods"}}}))
        self.assertEqual(code, 201, sar)
        self.assertTrue(sar["status"]["allowed"])
        code, tr = self.raw("/apis/authentication.k8s.io/v1/tokenreviews", cert=self.admin_cert(),
                            method="POST", body=json.dumps({"spec": {"token": "carol-token"}}))
        self.assertEqual(code, 201, tr)
        self.assertTrue(tr["status"]["authenticated"])
        self.assertEqual(tr["status"]["user"]["username"], "carol")

    def admin_cert(self):
        tls = os.path.join(self.server.data_dir, "tls")
        return (os.path.join(tls, "admin.crt"), os.path.join(tls, "admin.key"))

    def test_impersonation(self):
        self.assertEqual(self.server.kubectl("auth", "can-i", "list", "pods", "-n", "team-a",
                                             "--as", "alice").stdout.strip(), "yes")
        p = self.server.kubectl("auth", "can-i", "list", "pods", "-n", "team-b", "--as",
                                "alice", check=False)
        self.assertEqual(p.stdout.strip(), "no")
        kc = self.user_kubeconfig("bob", token="bob-token")
        p = self.as_user(kc, "get", "pods", "-n", "team-a", "--as", "alice")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('users "alice" is forbidden: User "bob" cannot impersonate resource '
                      '"users" in API group "" at the cluster scope', p.stderr)

    def test_escalation_prevention(self):
        self.server.kubectl("create", "-f", "-",
                            input=role_binding("carol-admin", "team-a", "admin", "User", "carol"))
        kc = self.user_kubeconfig("carol", token="carol-token")
        ok = self.eventually(lambda: self.as_user(
            kc, "create", "-f", "-", input=role("cm-reader", "team-a", ["get"], ["configmaps"]))
            .returncode == 0)
        self.assertTrue(ok)
        p = self.as_user(kc, "create", "-f", "-",
                         input=role("node-reader", "team-a", ["get"], ["nodes"]))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("is attempting to grant RBAC permissions not currently held", p.stderr)
        p = self.as_user(kc, "create", "-f", "-", input=role_binding(
            "grab", "team-a", "cluster-admin", "User", "carol"))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("Forbidden", p.stderr)
        # Binding a role carol holds entirely is fine.
        p = self.as_user(kc, "create", "-f", "-", input=role_binding(
            "share-view", "team-a", "view", "User", "bob"))
        self.assertEqual(p.returncode, 0, p.stderr)

    # ---- authentication ----------------------------------------------------------------------
    def test_anonymous(self):
        ctx = ssl.create_default_context(
            cafile=os.path.join(self.server.data_dir, "tls", "ca.crt"))
        with urllib.request.urlopen(self.server.url("/version"), context=ctx, timeout=10) as r:
            self.assertEqual(r.status, 200)
        code, body = self.raw("/api/v1/namespaces")
        self.assertEqual(code, 403)
        self.assertIn('User "system:anonymous" cannot list resource "namespaces"',
                      body["message"])

    def test_bad_credentials_get_401(self):
        code, body = self.raw("/api/v1/namespaces", token="no-such-token")
        self.assertEqual(code, 401)
        self.assertEqual(body["reason"], "Unauthorized")
        # A client certificate from another CA.
        ca, ca_key = make_cert("evil-ca", [])
        cert, key = make_cert("admin", ["system:masters"], ca, ca_key)
        paths = write_pem(self.tmp, "foreign", cert, key)
        code, body = self.raw("/api/v1/namespaces", cert=paths)
        self.assertEqual(code, 401, body)
        now = int(time.time())
        base = {"iss": "https://kubernetes.default.svc.cluster.local",
                "aud": ["https://kubernetes.default.svc.cluster.local"],
                "sub": "system:serviceaccount:default:default", "iat": now, "nbf": now,
                "exp": now + 600,
                "kubernetes.io": {"namespace": "default",
                                  "serviceaccount": {"name": "default"}}}
        real = self.sa_key()
        code, _ = self.raw("/api/v1/namespaces/default/pods", token=sign_jwt(real, base))
        self.assertNotEqual(code, 401, "a valid self-signed token should authenticate")
        forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for claims, key in ((base, forged_key),
                            (dict(base, exp=now - 3600, nbf=now - 7200, iat=now - 7200), real),
                            (dict(base, iss="https://evil.example.com"), real),
                            (dict(base, aud=["other"]), real)):
            code, body = self.raw("/api/v1/namespaces/default/pods", token=sign_jwt(key, claims))
            self.assertEqual(code, 401, (claims, body))
        code, _ = self.raw("/api/v1/namespaces", token="a.b.c")
        self.assertEqual(code, 401)

    def test_service_account_token_bound_to_pod(self):
        k = self.server.kubectl
        k("create", "serviceaccount", "robot", "-n", "team-a")
        k("create", "-f", "-", input=role_binding("robot-view", "team-a", "view",
                                                  "ServiceAccount", "team-a:robot"))
        k("run", "tok-pod", "--image=busybox", "-n", "team-a", "--restart=Never")
        token = k("create", "token", "robot", "-n", "team-a", "--bound-object-kind", "Pod",
                  "--bound-object-name", "tok-pod", "--duration", "1h").stdout.strip()
        header, payload, _ = token.split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        self.assertEqual(claims["sub"], "system:serviceaccount:team-a:robot")
        self.assertEqual(claims["kubernetes.io"]["pod"]["name"], "tok-pod")
        self.assertLessEqual(claims["exp"] - claims["iat"], 3600)
        kc = self.user_kubeconfig("robot", token=token)
        self.assertTrue(self.eventually(
            lambda: self.as_user(kc, "get", "pods", "-n", "team-a").returncode == 0))
        who = json.loads(self.as_user(kc, "auth", "whoami", "-o", "json").stdout)
        self.assertEqual(who["status"]["userInfo"]["username"],
                         "system:serviceaccount:team-a:robot")
        self.assertIn("system:serviceaccounts:team-a", who["status"]["userInfo"]["groups"])
        k("delete", "pod", "tok-pod", "-n", "team-a", "--grace-period=0", "--force",
          "--wait=false")
        self.assertTrue(self.eventually(
            lambda: self.raw("/api/v1/namespaces/team-a/pods", token=token)[0] == 401))
        # Too short a duration is refused.
        p = k("create", "token", "robot", "-n", "team-a", "--duration", "1m", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("may not specify a duration less than 10 minutes", p.stderr)

    def test_oidc_discovery(self):
        code, doc = self.raw("/.well-known/openid-configuration", cert=self.admin_cert())
        self.assertEqual(code, 200)
        self.assertEqual(doc["issuer"], "https://kubernetes.default.svc.cluster.local")
        code, jwks = self.raw("/openid/v1/jwks", cert=self.admin_cert())
        self.assertEqual(code, 200)
        self.assertEqual(jwks["keys"][0]["alg"], "RS256")
        self.assertEqual(jwks["keys"][0]["kty"], "RSA")
        mode = os.stat(os.path.join(self.server.data_dir, "tls", "service-account.key")).st_mode
        self.assertEqual(mode & 0o777, 0o600)

    # ---- node authorizer ---------------------------------------------------------------------
    def test_kubelet_reads_only_its_pods_secrets(self):
        k = self.server.kubectl
        for node in ("node-a", "node-b"):
            k("create", "secret", "generic", "sec-" + node, "--from-literal=x=y")
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"name": "pod-" + node, "namespace": "default"},
                   "spec": {"nodeName": node,
                            "containers": [{"name": "c", "image": "busybox"}],
                            "volumes": [{"name": "s", "secret": {"secretName": "sec-" + node}}]}}
            k("apply", "-f", "-", input=json.dumps(pod))
        with open(os.path.join(self.server.data_dir, "tls", "ca.crt"), "rb") as f:
            ca = x509.load_pem_x509_certificate(f.read())
        with open(os.path.join(self.server.data_dir, "tls", "ca.key"), "rb") as f:
            ca_key = serialization.load_pem_private_key(f.read(), None)
        cert, key = make_cert("system:node:node-a", ["system:nodes"], ca, ca_key)
        paths = write_pem(self.tmp, "node-a", cert, key)
        self.assertTrue(self.eventually(lambda: self.raw(
            "/api/v1/namespaces/default/secrets/sec-node-a", cert=paths)[0] == 200))
        code, body = self.raw("/api/v1/namespaces/default/secrets/sec-node-b", cert=paths)
        self.assertEqual(code, 403, body)
        self.assertIn("no relationship found between node 'node-a' and this object",
                      body["message"])
        # NodeRestriction: node-a may not modify node-b's pod or create ordinary pods.
        code, body = self.raw("/api/v1/namespaces/default/pods/pod-node-b", cert=paths,
                              method="DELETE")
        self.assertEqual(code, 403, body)
        code, body = self.raw("/api/v1/namespaces/default/pods", cert=paths, method="POST",
                              body=json.dumps({"metadata": {"name": "sneaky"}, "spec": {
                                  "nodeName": "node-a",
                                  "containers": [{"name": "c", "image": "busybox"}]}}))
        self.assertEqual(code, 403, body)
        self.assertIn("can only create mirror pods", body["message"])

    # ---- admission ---------------------------------------------------------------------------
    def test_namespace_lifecycle(self):
        p = self.server.kubectl("delete", "namespace", "kube-system", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("this namespace may not be deleted", p.stderr)
        p = self.server.kubectl("create", "configmap", "x", "-n", "no-such-ns", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('namespaces "no-such-ns" not found', p.stderr)

    def test_resource_quota_no_overshoot(self):
        k = self.server.kubectl
        k("create", "namespace", "quota-ns")
        k("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "q", "namespace": "quota-ns"},
            "spec": {"hard": {"configmaps": "3"}}}))
        procs = [subprocess.Popen(
            [harness.KUBECTL, "--kubeconfig", self.server.kubeconfig, "--cache-dir",
             self.server.cache_dir, "create", "configmap", "c%d" % i, "-n", "quota-ns"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for i in range(8)]
        errs = [p.communicate(timeout=60)[1].decode() for p in procs]
        names = k("get", "configmaps", "-n", "quota-ns", "-o", "name").stdout.split()
        # kube-root-ca.crt may or may not exist (a controller publishes it).
        created = [n for n in names if n != "configmap/kube-root-ca.crt"]
        self.assertLessEqual(len(created), 3, names)
        self.assertTrue(any("exceeded quota: q" in e for e in errs), errs)

    def test_scoped_resource_quota_counts_only_matching_pods(self):
        k = self.server.kubectl
        k("create", "namespace", "scoped-ns")
        k("create", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "ResourceQuota",
            "metadata": {"name": "be", "namespace": "scoped-ns"},
            "spec": {"hard": {"pods": "1"}, "scopes": ["BestEffort"]}}))

        def pod(name, best_effort):
            c = {"name": "c", "image": "busybox"}
            if not best_effort:
                c["resources"] = {"requests": {"cpu": "10m", "memory": "8Mi"}}
            return json.dumps({"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": name, "namespace": "scoped-ns"},
                               "spec": {"containers": [c]}})
        # Pods out of the scope are not charged, however many.
        for i in range(3):
            k("create", "-f", "-", input=pod("burst%d" % i, False))
        k("create", "-f", "-", input=pod("be0", True))
        p = k("create", "-f", "-", input=pod("be1", True), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("exceeded quota: be", p.stderr)
        # The quota controller's recount (on every pod change) agrees: only the BestEffort
        # pod is used. A recount that ignored the scope would write 4.
        k("delete", "pod", "burst0", "-n", "scoped-ns", "--grace-period=0", "--force")
        deadline = time.time() + 30
        seen = []
        while time.time() < deadline and seen[-10:] != ["1"] * 10:
            q = json.loads(k("get", "resourcequota", "be", "-n", "scoped-ns", "-o",
                             "json").stdout)
            seen.append(q.get("status", {}).get("used", {}).get("pods"))
            time.sleep(0.2)
        self.assertEqual(seen[-10:], ["1"] * 10, seen)

    def test_pod_security_baseline(self):
        k = self.server.kubectl
        k("create", "namespace", "psa")
        k("label", "namespace", "psa", "pod-security.kubernetes.io/enforce=baseline")
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "priv", "namespace": "psa"},
               "spec": {"hostNetwork": True, "containers": [
                   {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}]}}
        p = k("apply", "-f", "-", input=json.dumps(pod), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('violates PodSecurity "baseline:latest"', p.stderr)
        self.assertIn("hostNetwork=true", p.stderr)

    # ---- encryption at rest and audit ---------------------------------------------------------
    def test_secret_encrypted_at_rest(self):
        self.server.kubectl("create", "secret", "generic", "enc-test", "-n", "team-a",
                            "--from-literal=password=" + SECRET_VALUE)
        got = self.server.kubectl_json("get", "secret", "enc-test", "-n", "team-a")
        self.assertEqual(base64.b64decode(got["data"]["password"]).decode(), SECRET_VALUE)
        encoded = base64.b64encode(SECRET_VALUE.encode())
        db_dir = os.path.join(self.server.data_dir, "db")
        found_prefix = False
        for name in os.listdir(db_dir):
            with open(os.path.join(db_dir, name), "rb") as f:
                raw = f.read()
            self.assertNotIn(SECRET_VALUE.encode(), raw, name)
            self.assertNotIn(encoded, raw, name)
            found_prefix |= b"k8s:enc:aescbc:v1:key1:" in raw
        self.assertTrue(found_prefix)

    def test_audit_log(self):
        self.server.kubectl("create", "configmap", "audited", "-n", "team-b",
                            "--from-literal=k=v")
        self.server.kubectl("create", "secret", "generic", "audited-secret", "-n", "team-b",
                            "--from-literal=k=v")

        def events():
            with open(self.audit_log) as f:
                return [json.loads(l) for l in f if l.strip()]
        self.assertTrue(self.eventually(lambda: any(
            e["objectRef"].get("name") == "audited-secret" or
            (e["objectRef"].get("resource") == "secrets" and e["verb"] == "create")
            for e in events() if "objectRef" in e)))
        evs = events()
        cm = [e for e in evs if e.get("objectRef", {}).get("resource") == "configmaps" and
              e["verb"] == "create" and e["objectRef"].get("namespace") == "team-b"]
        self.assertTrue(cm, evs[-5:])
        self.assertEqual(cm[-1]["level"], "RequestResponse")
        self.assertEqual(cm[-1]["user"]["username"], "admin")
        self.assertEqual(cm[-1]["responseStatus"]["code"], 201)
        self.assertEqual(cm[-1]["requestObject"]["metadata"]["name"], "audited")
        self.assertEqual(cm[-1]["responseObject"]["metadata"]["name"], "audited")
        sec = [e for e in evs if e.get("objectRef", {}).get("resource") == "secrets" and
               e["verb"] == "create" and e["objectRef"].get("namespace") == "team-b"]
        self.assertTrue(sec)
        self.assertEqual(sec[-1]["level"], "Metadata")
        self.assertNotIn("requestObject", sec[-1])
        # Reads of config maps are not logged (level None); pods are not logged at all.
        self.assertFalse([e for e in evs if e.get("objectRef", {}).get("resource") == "pods"])


class EncryptionRotationTest(unittest.TestCase):
    def test_rotation_and_bad_config(self):
        tmp = tempfile.mkdtemp(prefix="korral-rot-")
        cfg = os.path.join(tmp, "enc.yaml")
        key1, key2 = ("key1", b"1" * 32), ("key2", b"2" * 32)
        with open(cfg, "w") as f:
            f.write(encryption_config([("aescbc", [key1])]))
        server = harness.Server(extra_args=["--encryption-provider-config", cfg])
        server.start()
        try:
            server.kubectl("create", "secret", "generic", "old", "--from-literal=v=" +
                           SECRET_VALUE)
        finally:
            self.assertEqual(server.stop(), 0)
        # Rotate: key2 (secretbox) writes, key1 still reads.
        with open(cfg, "w") as f:
            f.write(encryption_config([("secretbox", [key2]), ("aescbc", [key1])]))
        server.start()
        try:
            got = server.kubectl_json("get", "secret", "old")
            self.assertEqual(base64.b64decode(got["data"]["v"]).decode(), SECRET_VALUE)
            all_secrets = server.kubectl("get", "secrets", "-A", "-o", "json").stdout
            # (--validate=false: korral's OpenAPI has no schema for the List kind.)
            server.kubectl("replace", "--validate=false", "-f", "-", input=all_secrets)
        finally:
            self.assertEqual(server.stop(), 0)
        # Drop key1: the re-written secret reads with key2 alone.
        with open(cfg, "w") as f:
            f.write(encryption_config([("secretbox", [key2])]))
        server.start()
        try:
            got = server.kubectl_json("get", "secret", "old")
            self.assertEqual(base64.b64decode(got["data"]["v"]).decode(), SECRET_VALUE)
        finally:
            self.assertEqual(server.stop(), 0)
        # A broken config stops start-up with a message.
        with open(cfg, "w") as f:
            f.write(encryption_config([("aesgcm", [("bad", b"short")])]))
        bad = harness.Server(data_dir=server.data_dir, extra_args=[
            "--encryption-provider-config", cfg])
        with self.assertRaises(RuntimeError) as ctx:
            bad.start(timeout=15)
        self.assertIn("secret is not of the expected length, got 5", str(ctx.exception))


class PriorityClassTest(harness.ServerTestCase):
    """scheduling.k8s.io PriorityClass and the Priority admission plugin."""

    def pod(self, name, cls=None, priority=None):
        spec = {"containers": [{"name": "c", "image": "busybox"}]}
        if cls is not None:
            spec["priorityClassName"] = cls
        if priority is not None:
            spec["priority"] = priority
        return json.dumps({"apiVersion": "v1", "kind": "Pod",
                           "metadata": {"name": name, "namespace": "default"}, "spec": spec})

    def test_builtins_values_and_immutability(self):
        out = self.kubectl("get", "priorityclasses").stdout
        self.assertRegex(out, r"system-cluster-critical\s+2000000000\s+false")
        self.assertRegex(out, r"system-node-critical\s+2000001000\s+false")
        self.assertIn("PREEMPTIONPOLICY", out)
        # kubectl create priorityclass sends protobuf.
        self.kubectl("create", "priorityclass", "high", "--value=1000", "--description=hi",
                     "--preemption-policy=Never")
        pc = self.server.kubectl_json("get", "pc", "high")
        self.assertEqual((pc["value"], pc["description"], pc["preemptionPolicy"]),
                         (1000, "hi", "Never"))
        p = self.kubectl("patch", "pc", "high", "--type=merge", "-p", '{"value": 5}',
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("value: Forbidden: may not be changed in an update", p.stderr)
        p = self.kubectl("create", "priorityclass", "system-mine", "--value=10", check=False)
        self.assertIn("priority class names with 'system-' prefix are reserved", p.stderr)
        p = self.kubectl("create", "priorityclass", "huge", "--value=2000000000", check=False)
        self.assertIn("maximum allowed value of a user defined priority is 1000000000", p.stderr)
        p = self.kubectl("delete", "pc", "system-node-critical", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("system priority class and cannot be deleted", p.stderr)

    def test_pods_get_priority_from_classes(self):
        self.kubectl("create", "priorityclass", "mid", "--value=500")
        self.kubectl("create", "-f", "-", input=self.pod("p-mid", "mid"))
        spec = self.server.kubectl_json("get", "pod", "p-mid")["spec"]
        self.assertEqual((spec["priority"], spec["preemptionPolicy"]),
                         (500, "PreemptLowerPriority"))
        self.kubectl("create", "-f", "-", input=self.pod("p-crit", "system-node-critical"))
        self.assertEqual(self.server.kubectl_json("get", "pod", "p-crit")["spec"]["priority"],
                         2000001000)
        p = self.kubectl("create", "-f", "-", input=self.pod("p-none", "nope"), check=False)
        self.assertIn("no PriorityClass with name nope was found", p.stderr)
        p = self.kubectl("create", "-f", "-", input=self.pod("p-bad", "mid", 7), check=False)
        self.assertIn("the integer value of priority (7) must not be provided in pod spec",
                      p.stderr)
        # A global default applies to pods without a class; only one default may exist.
        self.kubectl("create", "priorityclass", "everyone", "--value=42", "--global-default")
        p = self.kubectl("create", "priorityclass", "another", "--value=43", "--global-default",
                         check=False)
        self.assertIn("PriorityClass everyone is already marked as default. Only one default "
                      "can exist", p.stderr)
        self.kubectl("create", "-f", "-", input=self.pod("p-default"))
        spec = self.server.kubectl_json("get", "pod", "p-default")["spec"]
        self.assertEqual((spec["priority"], spec["priorityClassName"]), (42, "everyone"))
        self.kubectl("delete", "pc", "everyone")
        self.kubectl("create", "-f", "-", input=self.pod("p-zero"))
        self.assertEqual(self.server.kubectl_json("get", "pod", "p-zero")["spec"]["priority"], 0)


class KubectlProtobufAndDiscoveryTest(harness.ServerTestCase):
    """kubectl 1.32 sends protobuf bodies for these generators; the review APIs are listed."""

    def test_create_rbac_and_quota_with_kubectl(self):
        self.kubectl("create", "namespace", "pb")
        self.kubectl("create", "role", "reader", "-n", "pb", "--verb=get,list",
                     "--resource=pods,configmaps", "--resource-name=x")
        r = self.server.kubectl_json("get", "role", "reader", "-n", "pb")
        self.assertEqual(r["rules"][0]["verbs"], ["get", "list"])
        self.assertEqual(sorted(r["rules"][0]["resources"]), ["configmaps", "pods"])
        self.assertEqual(r["rules"][0]["resourceNames"], ["x"])
        self.kubectl("create", "rolebinding", "rb", "-n", "pb", "--role=reader", "--user=u1",
                     "--group=g1", "--serviceaccount=pb:sa1")
        b = self.server.kubectl_json("get", "rolebinding", "rb", "-n", "pb")
        self.assertEqual(b["roleRef"], {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                                        "name": "reader"})
        kinds = sorted((s["kind"], s["name"]) for s in b["subjects"])
        self.assertEqual(kinds, [("Group", "g1"), ("ServiceAccount", "sa1"), ("User", "u1")])
        self.kubectl("create", "clusterrole", "cr", "--verb=get", "--non-resource-url=/logs/*")
        cr = self.server.kubectl_json("get", "clusterrole", "cr")
        self.assertEqual(cr["rules"][0]["nonResourceURLs"], ["/logs/*"])
        self.kubectl("create", "clusterrole", "agg",
                     "--aggregation-rule=example.com/aggregate=true")
        agg = self.server.kubectl_json("get", "clusterrole", "agg")
        self.assertEqual(agg["aggregationRule"]["clusterRoleSelectors"][0]["matchLabels"],
                         {"example.com/aggregate": "true"})
        self.kubectl("create", "clusterrolebinding", "crb", "--clusterrole=cr", "--user=u2")
        crb = self.server.kubectl_json("get", "clusterrolebinding", "crb")
        self.assertEqual(crb["subjects"][0]["name"], "u2")
        self.assertEqual(crb["roleRef"]["kind"], "ClusterRole")
        p = self.kubectl("auth", "can-i", "get", "pods/x", "-n", "pb", "--as", "u1", check=False)
        self.assertEqual(p.stdout.strip(), "yes")
        p = self.kubectl("auth", "can-i", "get", "pods/y", "-n", "pb", "--as", "u1", check=False)
        self.assertEqual(p.stdout.strip(), "no")
        self.kubectl("create", "quota", "q", "-n", "pb", "--hard=pods=2,requests.cpu=1",
                     "--scopes=NotTerminating")
        q = self.server.kubectl_json("get", "quota", "q", "-n", "pb")
        self.assertEqual(q["spec"]["hard"], {"pods": "2", "requests.cpu": "1"})
        self.assertEqual(q["spec"]["scopes"], ["NotTerminating"])
        # Bad input through protobuf still gets the API's validation.
        p = self.kubectl("create", "quota", "bad", "-n", "pb", "--hard=pods=-1", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("spec.hard[pods]", p.stderr)

    def test_review_groups_in_discovery(self):
        out = self.kubectl("api-resources").stdout
        for line in ("selfsubjectreviews", "tokenreviews", "localsubjectaccessreviews",
                     "selfsubjectaccessreviews", "selfsubjectrulesreviews",
                     "subjectaccessreviews", "certificatesigningrequests", "priorityclasses"):
            self.assertIn(line, out)
        groups = self.kubectl("api-versions").stdout.split()
        for gv in ("authentication.k8s.io/v1", "authorization.k8s.io/v1",
                   "certificates.k8s.io/v1", "scheduling.k8s.io/v1"):
            self.assertIn(gv, groups)
        out = self.kubectl("api-resources", "--api-group=authorization.k8s.io", "-o", "wide").stdout
        self.assertRegex(out, r"localsubjectaccessreviews\s+authorization.k8s.io/v1\s+true\s+"
                              r"LocalSubjectAccessReview\s+create")


if __name__ == "__main__":
    harness.main()
