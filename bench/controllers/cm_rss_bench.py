#!/usr/bin/python3
"""Controller-manager memory at N pods (issue 6: RSS at 30,000 pods, target <= 150 MB).

Usage: cm_rss_bench.py [--pods=30000] [--korral=PATH] [--timeout=900]

Starts `korral server --disable-controller-manager --disable-scheduler` and a standalone
`korral controller-manager --leader-elect=false --kube-api-qps=5000` (so its RSS is its own) on
127.0.0.1 with temporary data, creates one Deployment of --pods replicas (the controller manager's
ReplicaSet controller creates the pods; no scheduler, so they stay Pending), waits until the
ReplicaSet reports every replica and the controller manager has cached them, then prints one
`name: value` line per result: the controller manager's VmRSS idle, at N pods (after a settle
period) and its peak (VmHWM), and its CPU seconds.
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "..", "..", "test", "integration"))
import harness  # noqa: E402


def proc_status_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=30000)
    ap.add_argument("--korral", default=harness.KORRAL)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--settle", type=float, default=10, help="seconds to wait at N pods")
    ap.add_argument("--trim", action="store_true",
                    help="then call malloc_trim(0) in the controller manager (gdb) and report "
                         "the RSS again")
    args = ap.parse_args()
    harness.KORRAL = args.korral

    server = harness.Server(
        extra_args=["--disable-controller-manager", "--disable-scheduler"]).start()
    cm = None
    try:
        cm_log = open(os.path.join(server.tmp, "cm.log"), "ab")
        cm = subprocess.Popen([args.korral, "controller-manager", "--kubeconfig",
                               server.kubeconfig, "--leader-elect=false",
                               "--kube-api-qps=5000", "--kube-api-burst=5000"],
                              stdout=cm_log, stderr=subprocess.STDOUT)

        def call(method, path, obj=None):
            code, _, body = server.request(method, path, json.dumps(obj) if obj else None,
                                           {"Content-Type": "application/json"})
            if code not in (200, 201):
                raise RuntimeError("%s %s: %d %s" % (method, path, code, body[:300]))
            return json.loads(body)

        call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                            "metadata": {"name": "bench"}})
        time.sleep(5)
        print("controller_manager_rss_idle_mib: %.1f" %
              (proc_status_kib(cm.pid, "VmRSS") / 1024))
        t0 = time.time()
        call("POST", "/apis/apps/v1/namespaces/bench/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
            "spec": {"replicas": args.pods, "selector": {"matchLabels": {"app": "big"}},
                     "template": {"metadata": {"labels": {"app": "big"}},
                                  "spec": {"containers": [{
                                      "name": "c", "image": "registry.k8s.io/pause:3.9",
                                      "resources": {"requests": {"cpu": "1m"}}}]}}}})
        deadline = t0 + args.timeout
        replicas = 0
        while time.time() < deadline:
            if cm.poll() is not None:
                print("controller manager exited: %d" % cm.returncode)
                return 1
            rs = call("GET", "/apis/apps/v1/namespaces/bench/replicasets")["items"]
            replicas = sum(r.get("status", {}).get("replicas", 0) for r in rs)
            if replicas >= args.pods:
                break
            time.sleep(2)
        else:
            print("pods_created: timeout (%d of %d)" % (replicas, args.pods))
            return 1
        print("pods: %d in %.1f s" % (replicas, time.time() - t0))
        time.sleep(args.settle)
        print("controller_manager_rss_at_pods_mib: %.1f" %
              (proc_status_kib(cm.pid, "VmRSS") / 1024))
        print("controller_manager_rss_peak_mib: %.1f" %
              (proc_status_kib(cm.pid, "VmHWM") / 1024))
        print("controller_manager_cpu_s: %.1f" % cpu_seconds(cm.pid))
        if args.trim:
            # How much of the RSS is memory malloc holds free (fragmentation, per-thread arenas).
            subprocess.run(["gdb", "-p", str(cm.pid), "-batch", "-ex",
                            "call (int)malloc_trim(0)"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=120)
            print("controller_manager_rss_after_malloc_trim_mib: %.1f" %
                  (proc_status_kib(cm.pid, "VmRSS") / 1024))
        print("server_rss_mib: %.1f" % (proc_status_kib(server.proc.pid, "VmRSS") / 1024))
        return 0
    finally:
        if cm and cm.poll() is None:
            cm.terminate()
            try:
                cm.wait(timeout=20)
            except subprocess.TimeoutExpired:
                cm.kill()
        server.stop()


if __name__ == "__main__":
    sys.exit(main())
