"""Helpers shared by the real-node suites (test_node.py, test_node_streaming.py): what the node
runtime needs on the host, the iptables NAT chains to restore, and a bounded wait."""
import os
import shutil
import subprocess
import time

# Host binaries the agent's runtime needs (installed by scripts/install-deps.sh).
REQUIRED = ["containerd", "runc", "ctr", "docker-registry", "/usr/lib/cni/bridge", "/bin/busybox",
            "ip", "iptables"]


def have(b):
    return os.path.exists(b) if b.startswith("/") else shutil.which(b) is not None


def node_runtime_available():
    """Root and every REQUIRED binary: the real-node suites skip otherwise."""
    return os.geteuid() == 0 and all(have(b) for b in REQUIRED)


def nat_chains():
    p = subprocess.run(["iptables", "-t", "nat", "-S"], capture_output=True, text=True)
    return {line.split()[1] for line in p.stdout.splitlines() if line.startswith("-N ")}


def wait_for(fn, timeout, interval=0.2, what="condition"):
    """Polls fn until it returns something truthy (returned) or `timeout` seconds pass."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %ss waiting for %s (last: %r)" % (timeout, what, last))
