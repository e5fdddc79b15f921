"""Node benchmarks (needs root and the runtime packages):

  pod startup latency: 100 busybox pods (image present, IfNotPresent) created at once through
  the API; time from each create call to the first watch event showing it Running; p50/p99.
  agent RSS idle, with the pods running and with --rss-pods (the node's 110) running; agent CPU
  with the pods steady.
  hollow nodes: `korral hollow-nodes --count N` RSS per node.

Usage: /usr/bin/python3 bench/node/node_bench.py [--pods 100] [--rss-pods 110] [--hollow 200]
Prints one line per metric; cleans up everything it created (as test/integration/test_node.py).
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "test", "integration"))
import harness  # noqa: E402
import test_node  # noqa: E402


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def agent_rss(agent_pid):
    return rss_kb(agent_pid)


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=100)
    ap.add_argument("--hollow", type=int, default=200)
    ap.add_argument("--rss-pods", type=int, default=110,
                    help="after the latency and CPU runs, add pods up to this many (the node's "
                         "maxPods) and measure the agent's RSS again")
    ap.add_argument("--qps", type=float, default=5.0,
                    help="pod creation rate (0: all at once); upstream's density test paces too")
    args = ap.parse_args()

    N = test_node.NodeTest
    N.setUpClass()
    try:
        from kubernetes import client, config, watch
        config.load_kube_config(N.server.kubeconfig)
        v1 = client.CoreV1Api()
        time.sleep(12)  # let the agent settle (lease, status, first stats sample)
        print("agent_rss_idle_kb %d" % agent_rss(N.agent.pid))

        created = {}
        running = {}
        done = threading.Event()

        def watcher():
            w = watch.Watch()
            for ev in w.stream(v1.list_namespaced_pod, "default", timeout_seconds=300):
                o = ev["object"]
                name = o.metadata.name
                if o.status and o.status.phase == "Running" and name not in running:
                    running[name] = time.time()
                    if len(running) >= args.pods:
                        w.stop()
                        break
            done.set()

        t = threading.Thread(target=watcher, daemon=True)
        t.start()
        time.sleep(0.5)
        t_start = time.time()
        def pod_body(name):
            return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                    "spec": {"nodeName": N.node, "terminationGracePeriodSeconds": 0,
                             "containers": [{"name": "c",
                                             "image": "docker.io/library/busybox:latest",
                                             "imagePullPolicy": "IfNotPresent",
                                             "command": ["sleep", "3600"]}]}}

        for i in range(args.pods):
            name = "bench-%03d" % i
            body = pod_body(name)
            if args.qps > 0:
                time.sleep(max(0.0, t_start + i / args.qps - time.time()))
            created[name] = time.time()
            v1.create_namespaced_pod("default", body)
        done.wait(300)
        lat = [running[n] - created[n] for n in created if n in running]
        print("pods_running %d/%d" % (len(lat), args.pods))
        if lat:
            print("pod_startup_p50_ms %.0f" % (pct(lat, 50) * 1000))
            print("pod_startup_p99_ms %.0f" % (pct(lat, 99) * 1000))
            print("pod_startup_max_ms %.0f" % (max(lat) * 1000))
            # korral's own share: end to end minus the time the kubelet spent waiting in CRI
            # calls for that pod (the kubelet logs both once per pod when it first runs).
            cri_ms, sync_ms = {}, {}
            pat = re.compile(r"kubelet: pod default/(\S+) running: startup sync ([0-9.]+) ms, "
                             r"of which CRI ([0-9.]+) ms")
            with open(os.path.join(N.tmp, "agent.log"), errors="replace") as f:
                for line in f:
                    m = pat.search(line)
                    if m:
                        sync_ms[m.group(1)] = float(m.group(2))
                        cri_ms[m.group(1)] = float(m.group(3))
            own = [(running[n] - created[n]) * 1000 - cri_ms[n] for n in running if n in cri_ms]
            kubelet_own = [sync_ms[n] - cri_ms[n] for n in sync_ms]
            if own:
                print("pod_startup_cri_p50_ms %.0f" % pct(list(cri_ms.values()), 50))
                print("pod_startup_korral_share_p50_ms %.0f" % pct(own, 50))
                print("pod_startup_korral_share_p99_ms %.0f" % pct(own, 99))
                print("kubelet_sync_excluding_cri_p50_ms %.1f" % pct(kubelet_own, 50))
                print("kubelet_sync_excluding_cri_p99_ms %.1f" % pct(kubelet_own, 99))
        time.sleep(5)
        print("agent_rss_%dpods_kb %d" % (args.pods, agent_rss(N.agent.pid)))
        # CPU of the agent over 20 s with the pods steady.
        def cpu_ticks(pid):
            with open("/proc/%d/stat" % pid) as f:
                parts = f.read().rsplit(")", 1)[1].split()
            return int(parts[11]) + int(parts[12])
        c0 = cpu_ticks(N.agent.pid)
        time.sleep(20)
        c1 = cpu_ticks(N.agent.pid)
        print("agent_cpu_cores_steady %.3f" % ((c1 - c0) / os.sysconf("SC_CLK_TCK") / 20.0))
        if args.rss_pods > args.pods:
            for i in range(args.pods, args.rss_pods):
                body = pod_body("bench-%03d" % i)
                v1.create_namespaced_pod("default", body)
            deadline = time.time() + 300
            n_running = 0
            while time.time() < deadline:
                pods = v1.list_namespaced_pod("default").items
                n_running = sum(1 for p in pods if p.status and p.status.phase == "Running")
                if n_running >= args.rss_pods:
                    break
                time.sleep(1)
            time.sleep(15)  # a stats sample and a relist with every pod
            print("pods_running_for_rss %d/%d" % (n_running, args.rss_pods))
            print("agent_rss_%dpods_kb %d" % (args.rss_pods, agent_rss(N.agent.pid)))
    finally:
        N.tearDownClass()

    if args.hollow > 0:
        srv = harness.Server().start()
        try:
            p = subprocess.Popen([harness.KORRAL, "hollow-nodes", "--kubeconfig", srv.kubeconfig,
                                  "--count", str(args.hollow)], stdout=subprocess.PIPE, text=True)
            line = p.stdout.readline().strip()
            print(line)
            time.sleep(5)
            nodes = srv.kubectl_json("get", "nodes")["items"]
            ready = sum(1 for n in nodes if any(c["type"] == "Ready" and c["status"] == "True"
                                                for c in n["status"].get("conditions", [])))
            print("hollow_nodes_ready %d/%d" % (ready, args.hollow))
            print("hollow_rss_kb_total %d" % rss_kb(p.pid))
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
