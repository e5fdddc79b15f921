"""Hollow-node scale benchmark: `korral hollow-nodes --count N` against one `korral server`.

Measures, against a fresh server (--disable-agent, on 127.0.0.1):
  hollow_ready_seconds     from starting `korral hollow-nodes` until all N nodes are Ready
  hollow_rss_kb_per_node   (RSS of the hollow process with N nodes - its RSS before the first
                           node started) / N, sampled after the first lease renewal round
  hollow_leases_renewed    nodes whose Lease renewTime advanced over 15 s
  hollow_deploy_seconds    a Deployment of --replicas pods (nodeSelector korral.io/hollow) from
                           create to all replicas Running on the fake runtime (0 replicas: skip)

Usage: /usr/bin/python3 bench/node/hollow_bench.py [--count 1000] [--replicas 1000]
       [--korral build/bin/korral] [--hollow-bin build/bin/hollow_nodes] [--per-node-threads]
Needs no root. KORRAL_BIN (or --korral) selects the server binary, --hollow-bin the hollow-node
process (default: `korral hollow-nodes` of the same binary; the standalone hollow_nodes tool
takes the same flags). Use RelWithDebInfo binaries for real numbers.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "integration"))


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def threads(pid):
    return len(os.listdir("/proc/%d/task" % pid))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--replicas", type=int, default=1000)
    ap.add_argument("--korral", default=None)
    ap.add_argument("--hollow-bin", default=None)
    ap.add_argument("--workers", type=int, default=8)
    ap.add_argument("--per-node-threads", action="store_true",
                    help="the old layout (a watch and threads per node), for comparison")
    ap.add_argument("--timeout", type=float, default=600)
    args = ap.parse_args()
    if args.korral:
        os.environ["KORRAL_BIN"] = os.path.abspath(args.korral)
    import harness  # noqa: E402 (reads KORRAL_BIN)
    from kubernetes import client, config

    srv = harness.Server().start(timeout=60)
    hollow = None
    try:
        config.load_kube_config(srv.kubeconfig)
        v1 = client.CoreV1Api()
        coord = client.CoordinationV1Api()
        apps = client.AppsV1Api()
        prog = [os.path.abspath(args.hollow_bin)] if args.hollow_bin else [harness.KORRAL,
                                                                            "hollow-nodes"]
        cmd = prog + ["--kubeconfig", srv.kubeconfig, "--count", str(args.count), "--workers",
                      str(args.workers)]
        if args.per_node_threads:
            cmd.append("--per-node-threads")
        log = open(os.path.join(srv.tmp, "hollow.log"), "wb")
        t0 = time.time()
        hollow = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
        line = hollow.stdout.readline().strip()
        print(line)
        fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
        base_kb = int(fields.get("rss_kb_base", "0"))

        def ready_count():
            n = 0
            for node in v1.list_node(label_selector="korral.io/hollow=true").items:
                for c in node.status.conditions or []:
                    if c.type == "Ready" and c.status == "True":
                        n += 1
            return n

        ready = 0
        deadline = time.time() + args.timeout
        while time.time() < deadline:
            ready = ready_count()
            if ready >= args.count:
                break
            time.sleep(0.5)
        t_ready = time.time() - t0
        print("hollow_nodes_ready %d/%d" % (ready, args.count))
        print("hollow_ready_seconds %.1f" % t_ready)

        def renew_times():
            out = {}
            for lease in coord.list_namespaced_lease("kube-node-lease").items:
                if lease.metadata.name.startswith("hollow-node-"):
                    out[lease.metadata.name] = lease.spec.renew_time
            return out

        r0 = renew_times()
        time.sleep(15)
        r1 = renew_times()
        renewed = sum(1 for k, v in r1.items() if k in r0 and v != r0[k])
        print("hollow_leases_renewed %d/%d" % (renewed, args.count))
        rss = rss_kb(hollow.pid)
        print("hollow_rss_kb_total %d" % rss)
        print("hollow_threads %d" % threads(hollow.pid))
        if args.count > 0:
            print("hollow_rss_kb_per_node %.1f" % ((rss - base_kb) / args.count))

        if args.replicas > 0:
            body = {"apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "hollow-deploy"},
                    "spec": {"replicas": args.replicas,
                             "selector": {"matchLabels": {"app": "hollow-deploy"}},
                             "template": {"metadata": {"labels": {"app": "hollow-deploy"}},
                                          "spec": {"nodeSelector": {"korral.io/hollow": "true"},
                                                   "tolerations": [{"operator": "Exists"}],
                                                   "containers": [{"name": "c",
                                                                   "image": "busybox:1.36"}]}}}}
            t1 = time.time()
            apps.create_namespaced_deployment("default", body)
            running = 0
            deadline = time.time() + args.timeout
            while time.time() < deadline:
                pods = v1.list_namespaced_pod("default", label_selector="app=hollow-deploy").items
                running = sum(1 for p in pods if p.status and p.status.phase == "Running")
                if running >= args.replicas:
                    break
                time.sleep(1)
            print("hollow_deploy_running %d/%d" % (running, args.replicas))
            print("hollow_deploy_seconds %.1f" % (time.time() - t1))
            print("hollow_rss_kb_total_with_pods %d" % rss_kb(hollow.pid))
    finally:
        if hollow:
            hollow.send_signal(signal.SIGTERM)
            try:
                hollow.wait(timeout=120)
            except subprocess.TimeoutExpired:
                hollow.kill()
                hollow.wait()
        srv.stop(timeout=60)


if __name__ == "__main__":
    main()
