"""Test harness: runs a real `korral server` on 127.0.0.1 and drives it with the real kubectl
and the official Python client.

Each test class gets its own server (fresh data dir, free port); each kubectl call gets the
fresh cache dir of its server so the kubectl dispatcher never reuses another server's /version.
"""
import json
import os
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import unittest
import urllib.request

KORRAL = os.environ.get("KORRAL_BIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "build", "bin", "korral")
KUBECTL = os.environ.get("KUBECTL", "kubectl")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    """One korral server process."""

    def __init__(self, data_dir=None, port=None, extra_args=()):
        self.tmp = tempfile.mkdtemp(prefix="korral-it-")
        self.data_dir = data_dir or os.path.join(self.tmp, "data")
        self.port = port or free_port()
        self.extra_args = list(extra_args)
        self.proc = None
        self.log_path = os.path.join(self.tmp, "server.log")
        self.cache_dir = os.path.join(self.tmp, "kubectl-cache")

    @property
    def kubeconfig(self):
        return os.path.join(self.data_dir, "admin.kubeconfig")

    def start(self, timeout=30):
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [KORRAL, "server", "--data-dir", self.data_dir, "--bind-address", "127.0.0.1",
             "--secure-port", str(self.port), "--disable-agent"] + self.extra_args,
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("korral exited early:\n" + self.read_log())
            if os.path.exists(self.kubeconfig) and self.ready():
                return self
            time.sleep(0.05)
        raise RuntimeError("korral did not become ready:\n" + self.read_log())

    def ssl_context(self):
        tls = os.path.join(self.data_dir, "tls")
        ctx = ssl.create_default_context(cafile=os.path.join(tls, "ca.crt"))
        ctx.load_cert_chain(os.path.join(tls, "admin.crt"), os.path.join(tls, "admin.key"))
        return ctx

    def url(self, path):
        return "https://127.0.0.1:%d%s" % (self.port, path)

    def ready(self):
        try:
            with urllib.request.urlopen(self.url("/readyz"), context=self.ssl_context(),
                                        timeout=2) as r:
                return r.status == 200
        except Exception:
            return False

    def request(self, method, path, body=None, headers=None):
        """Raw HTTPS request with the admin certificate. Returns (status, headers, body)."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.url(path), data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=self.ssl_context(), timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def kubectl(self, *args, input=None, check=True, timeout=60):
        cmd = [KUBECTL, "--kubeconfig", self.kubeconfig, "--cache-dir", self.cache_dir] + list(args)
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError("kubectl %s failed (%d):\nstdout: %s\nstderr: %s" %
                                 (" ".join(args), p.returncode, p.stdout, p.stderr))
        return p

    def kubectl_json(self, *args):
        return json.loads(self.kubectl(*args, "-o", "json").stdout)

    def stop(self, sig=signal.SIGTERM, timeout=20):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode if self.proc else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait()

    def read_log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""


class ServerTestCase(unittest.TestCase):
    """A test class with one shared server."""

    server = None
    # Extra `korral server` flags for the whole class (e.g. ["--disable-controller-manager"] for
    # tests that check exact resourceVersions of objects a controller would also write).
    server_args = ()

    @classmethod
    def setUpClass(cls):
        cls.server = Server(extra_args=cls.server_args).start()

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            code = cls.server.stop()
            if code not in (0, None):
                print(cls.server.read_log())
            assert code == 0, "server did not shut down cleanly (exit %s)" % code

    def kubectl(self, *args, **kw):
        return self.server.kubectl(*args, **kw)


def main():
    """Runs the module's tests and prints the plain 'N passed, N failed' line."""
    import __main__
    suite = unittest.defaultTestLoader.loadTestsFromModule(__main__)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    print("%d passed, %d failed" % (passed, failed))
    raise SystemExit(0 if failed == 0 else 1)
