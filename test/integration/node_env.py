"""Helpers shared by the real-node suites (test_node.py, test_node_streaming.py): what the node
runtime needs on the host, the iptables NAT chains to restore, and a bounded wait."""
import json
import os
import shutil
import subprocess
import time

# Host binaries the agent's runtime needs (installed by scripts/install-deps.sh).
REQUIRED = ["containerd", "runc", "ctr", "docker-registry", "/usr/lib/cni/bridge", "/bin/busybox",
            "ip", "iptables"]


# Agent flags every real-node suite passes. The host's disk is not the test's: CI machines
# share one large disk that can be over 90% full, and upstream's default hard threshold
# nodefs.available<10% then puts the node under DiskPressure (pods evicted, a NoSchedule
# taint; CI failed this way). Only the memory threshold stays; eviction itself is covered by
# kubelet_eviction_test with a fake clock and fake stats.
AGENT_TEST_FLAGS = ["--eviction-hard", "memory.available<100Mi"]


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


def tail(path, lines=80):
    try:
        with open(path, "rb") as f:
            return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError as e:
        return "(%s)" % e


def failed(testcase):
    """Whether the running test has failed so far (for tearDown; Python >= 3.11 records
    failures as they happen)."""
    result = getattr(getattr(testcase, "_outcome", None), "result", None)
    if result is None:
        return False
    return any(t is testcase for t, _ in list(result.failures) + list(result.errors))


def dump_cluster(server, agent_log_path, node):
    """What a failed real-node case needs for a diagnosis when only CI saw it: pods, events,
    the node's conditions and taints, and the tails of the agent's and the server's logs."""
    out = ["---- diagnostics ----"]
    for args in (("get", "pods", "-A", "-o", "wide"),
                 ("get", "events", "-A", "--sort-by=.lastTimestamp"),
                 ("get", "node", node, "-o",
                  "jsonpath={.spec.taints}{\"\\n\"}{.status.conditions}")):
        p = server.kubectl(*args, check=False)
        out.append("$ kubectl " + " ".join(args) + "\n" + (p.stdout + p.stderr)[-6000:])
    out.append("---- agent log (tail) ----\n" + tail(agent_log_path, 120))
    out.append("---- server log (tail) ----\n" + tail(server.log_path, 80))
    print("\n".join(out), flush=True)


def node_ready(server, node):
    """Whether the Node object reports Ready=True."""
    p = server.kubectl("get", "node", node, "-o", "json", check=False)
    if p.returncode != 0:
        return False
    conds = json.loads(p.stdout).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conds)


def restore_host(suite):
    """Undoes what a real-node suite left on the host, whatever the agent managed to clean: its
    CNI bridge, the CNI NAT chains created since `suite.chains_before`, net.ipv4.ip_forward, the
    QoS cgroups under `suite.cgroup_root`, mounts under `suite.agent_dir`, and `suite.tmp`."""
    subprocess.run(["ip", "link", "del", suite.bridge], capture_output=True)
    for op in ("-F", "-X"):
        for chain in sorted(nat_chains() - suite.chains_before):
            if chain.startswith("CNI-"):
                subprocess.run(["iptables", "-t", "nat", op, chain], capture_output=True)
    with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
        f.write(suite.ip_forward)
    for h in os.listdir("/sys/fs/cgroup"):
        root = os.path.join("/sys/fs/cgroup", h, suite.cgroup_root.lstrip("/"))
        for d in ("burstable", "besteffort", ""):
            try:
                os.rmdir(os.path.join(root, d))
            except OSError:
                pass
    subprocess.run(["umount", "-R", suite.agent_dir], capture_output=True)
    shutil.rmtree(suite.tmp, ignore_errors=True)
