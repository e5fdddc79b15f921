#!/usr/bin/env python3
"""bench/workloads/deployment_bench.py: time for the workload controllers to create every pod of a
large Deployment through a running `korral server` (controller manager in-process).

Starts `korral server --disable-agent` on 127.0.0.1 in a temporary data dir (test/integration
harness), creates namespace `bench`, opens a pod watch, creates a Deployment of --replicas
replicas and measures, from the Deployment's creation:
  - first pod ADDED, last pod ADDED (all pods exist), pods/s over the whole run;
  - the server's RSS (VmRSS, apiserver + controller manager + scheduler in one process) at the end.
Prints a table and a `JSON: {...}` line. Bounded by --timeout; the server is stopped at the end.

With --nodes N the bench first registers N fake Nodes (Ready, 110 pods each, no kubelet), so the
scheduler binds every pod (a binding and a Scheduled event per pod) instead of reporting
FailedScheduling; --disable-scheduler leaves pods Pending, which measures the controller manager's
create path alone.

Usage: bench/workloads/deployment_bench.py [--korral build/bin/korral] [--replicas 10000]
       [--cm-qps 5000] [--nodes 100] [--disable-scheduler]
"""
import argparse
import json
import os
import ssl
import sys
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))


def rss_kib(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--korral", default=os.path.join(ROOT, "build", "bin", "korral"))
    ap.add_argument("--replicas", type=int, default=10000)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--cm-qps", type=int, default=5000,
                    help="controller manager --kube-api-qps/--kube-api-burst inside the server "
                         "(upstream's default 20 would cap the run at 20 pods/s); 0: default")
    ap.add_argument("--nodes", type=int, default=0,
                    help="register this many fake Ready nodes (110 pods each) first")
    ap.add_argument("--disable-scheduler", action="store_true")
    args = ap.parse_args()
    os.environ["KORRAL_BIN"] = os.path.abspath(args.korral)
    import harness  # noqa: E402 (reads KORRAL_BIN)
    harness.KORRAL = os.environ["KORRAL_BIN"]

    extra = []
    if args.cm_qps > 0:
        extra = ["--kube-controller-manager-arg=kube-api-qps=%d" % args.cm_qps,
                 "--kube-controller-manager-arg=kube-api-burst=%d" % args.cm_qps]
    if args.disable_scheduler:
        extra.append("--disable-scheduler")
    srv = harness.Server(extra_args=extra).start()
    try:
        def post(path, obj):
            code, _, body = srv.request("POST", path, json.dumps(obj),
                                        {"Content-Type": "application/json"})
            if code not in (200, 201):
                raise RuntimeError("POST %s: %d %s" % (path, code, body[:300]))
            return json.loads(body)

        post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace",
                                    "metadata": {"name": "bench"}})
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        for i in range(args.nodes):
            post("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "fake-%d" % i,
                             "labels": {"kubernetes.io/hostname": "fake-%d" % i}}})
            status = {
                "capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                "allocatable": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                "lastHeartbeatTime": now, "lastTransitionTime": now}]}
            code, _, body = srv.request("PATCH", "/api/v1/nodes/fake-%d/status" % i,
                                        json.dumps({"status": status}),
                                        {"Content-Type": "application/merge-patch+json"})
            if code != 200:
                raise RuntimeError("node status: %d %s" % (code, body[:300]))
        code, _, body = srv.request("GET", "/api/v1/namespaces/bench/pods")
        rv = json.loads(body)["metadata"]["resourceVersion"]

        state = {"added": 0, "first": None, "last": None, "done": threading.Event(),
                 "bound": set(), "last_bound": None}
        ctx = srv.ssl_context()

        def watch():
            url = srv.url("/api/v1/namespaces/bench/pods?watch=1&resourceVersion=%s"
                          "&timeoutSeconds=%d" % (rv, int(args.timeout) + 30))
            try:
                with urllib.request.urlopen(urllib.request.Request(url), context=ctx,
                                            timeout=args.timeout + 60) as r:
                    for line in r:
                        ev = json.loads(line)
                        if ev.get("type") == "ADDED":
                            now = time.time()
                            state["added"] += 1
                            if state["first"] is None:
                                state["first"] = now
                            state["last"] = now
                        if args.nodes and ev.get("type") in ("ADDED", "MODIFIED"):
                            obj = ev.get("object", {})
                            if obj.get("spec", {}).get("nodeName"):
                                name = obj["metadata"]["name"]
                                if name not in state["bound"]:
                                    state["bound"].add(name)
                                    state["last_bound"] = time.time()
                        if state["added"] >= args.replicas and (
                                not args.nodes or len(state["bound"]) >= args.replicas):
                            break
            except (OSError, ssl.SSLError, ValueError) as e:
                print("watch ended: %s" % e, file=sys.stderr)
            state["done"].set()

        t = threading.Thread(target=watch, daemon=True)
        t.start()
        time.sleep(0.5)
        t0 = time.time()
        post("/apis/apps/v1/namespaces/bench/deployments", {
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
            "spec": {"replicas": args.replicas, "selector": {"matchLabels": {"app": "big"}},
                     "template": {"metadata": {"labels": {"app": "big"}},
                                  "spec": {"containers": [{"name": "c", "image": "pause:3.9",
                                                           "resources": {"requests": {
                                                               "cpu": "1m"}}}]}}}})
        state["done"].wait(args.timeout)
        rss = rss_kib(srv.proc.pid)
        added = state["added"]
        total = (state["last"] - t0) if state["last"] else float("nan")
        first = (state["first"] - t0) if state["first"] else float("nan")
        rate = added / total if state["last"] and total > 0 else 0.0
        print("| metric | value |")
        print("|---|---|")
        print("| replicas | %d |" % args.replicas)
        print("| pods created (watch ADDED) | %d |" % added)
        print("| first pod after | %.3f s |" % first)
        print("| all pods after | %.3f s |" % total)
        print("| pods/s | %.0f |" % rate)
        if args.nodes:
            lb = (state["last_bound"] - t0) if state["last_bound"] else float("nan")
            print("| pods bound to the %d fake nodes | %d |" % (args.nodes, len(state["bound"])))
            print("| all pods bound after | %.3f s (%.0f pods/s) |" % (
                lb, len(state["bound"]) / lb if lb > 0 else 0))
        import resource
        ru = resource.getrusage(resource.RUSAGE_SELF)
        print("| bench's own CPU (watch decoding) | %.1f s |" % (ru.ru_utime + ru.ru_stime))
        print("| server RSS at end | %.1f MiB |" % (rss / 1024.0))
        print("JSON: " + json.dumps({"replicas": args.replicas, "created": added,
                                     "first_s": round(first, 3), "all_s": round(total, 3),
                                     "pods_per_s": round(rate), "server_rss_mib":
                                     round(rss / 1024.0, 1)}))
        return 0 if added >= args.replicas else 1
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
