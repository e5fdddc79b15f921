#!/usr/bin/python3
"""Controller-manager benchmark: deletes a namespace holding N objects and reports how long the
namespace controller takes, and the standalone controller manager's RSS.

Usage: controllers_bench.py [--objects=10000] [--writers=8] [--korral=PATH]

Starts `korral server --disable-controller-manager` and a separate `korral controller-manager`
(so its RSS is its own) on 127.0.0.1 with temporary data, fills namespace `bench` with
configmaps, secrets and pods (40/30/30 %) plus a `keep` namespace with a tenth as many, deletes
`bench` and waits until it is gone. Prints one `name: value` line per result.
"""
import argparse
import concurrent.futures
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(ROOT, "..", "..", "test", "integration"))
import harness  # noqa: E402

from kubernetes import client, config  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


def rss_kib(pid, field="VmRSS"):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def fill(api_client, ns, n, writers):
    core = client.CoreV1Api(api_client)

    def make(i):
        kind = i % 10
        name = "obj-%06d" % i
        for attempt in range(5):
            try:
                if kind < 4:
                    core.create_namespaced_config_map(ns, client.V1ConfigMap(
                        metadata=client.V1ObjectMeta(name=name), data={"k": "v" * 64}))
                elif kind < 7:
                    core.create_namespaced_secret(ns, client.V1Secret(
                        metadata=client.V1ObjectMeta(name=name), string_data={"k": "v" * 64}))
                else:
                    core.create_namespaced_pod(ns, client.V1Pod(
                        metadata=client.V1ObjectMeta(name=name, labels={"app": "bench"}),
                        spec=client.V1PodSpec(containers=[client.V1Container(
                            name="c", image="busybox")])))
                return
            except ApiException as e:
                if e.status == 409:
                    return
                time.sleep(0.1 * (attempt + 1))
        raise RuntimeError("could not create " + name)

    with concurrent.futures.ThreadPoolExecutor(writers) as pool:
        list(pool.map(make, range(n)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=10000)
    ap.add_argument("--writers", type=int, default=8)
    ap.add_argument("--korral", default=harness.KORRAL)
    args = ap.parse_args()
    harness.KORRAL = args.korral

    server = harness.Server(extra_args=["--disable-controller-manager"]).start()
    cm = None
    try:
        cm_log = open(os.path.join(server.tmp, "cm.log"), "ab")
        cm = subprocess.Popen([args.korral, "controller-manager", "--kubeconfig",
                               server.kubeconfig, "--leader-elect=false",
                               "--kube-api-qps=500", "--kube-api-burst=1000"],
                              stdout=cm_log, stderr=subprocess.STDOUT)
        api_client = config.new_client_from_config(config_file=server.kubeconfig)
        api_client.configuration.connection_pool_maxsize = args.writers * 2
        api_client.rest_client.pool_manager.connection_pool_kw["maxsize"] = args.writers * 2
        core = client.CoreV1Api(api_client)
        for ns in ("bench", "keep"):
            core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
        time.sleep(2)
        print("controller_manager_rss_idle_mib: %.1f" % (rss_kib(cm.pid) / 1024))
        t0 = time.time()
        fill(api_client, "bench", args.objects, args.writers)
        fill(api_client, "keep", args.objects // 10, args.writers)
        fill_s = time.time() - t0
        print("objects_created: %d in %.1f s (%.0f/s)" % (
            args.objects * 11 // 10, fill_s, args.objects * 1.1 / fill_s))
        time.sleep(3)
        print("controller_manager_rss_with_objects_mib: %.1f" % (rss_kib(cm.pid) / 1024))
        t0 = time.time()
        core.delete_namespace("bench")
        deadline = t0 + 600
        while time.time() < deadline:
            try:
                core.read_namespace("bench")
            except ApiException as e:
                if e.status == 404:
                    break
                raise
            time.sleep(0.05)
        else:
            print("namespace_delete_s: timeout")
            return 1
        print("namespace_delete_s: %.2f (%d objects)" % (time.time() - t0, args.objects))
        left = sum(len(x.items) for x in (core.list_namespaced_config_map("bench"),
                                          core.list_namespaced_secret("bench"),
                                          core.list_namespaced_pod("bench")))
        kept = len(core.list_namespaced_config_map("keep").items)
        print("objects_left_in_deleted_namespace: %d" % left)
        print("configmaps_in_other_namespace: %d" % kept)
        print("controller_manager_rss_peak_mib: %.1f" % (rss_kib(cm.pid, "VmHWM") / 1024))
        return 0 if left == 0 else 1
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
