#!/usr/bin/python3
"""kill -9 of the server during concurrent writes loses no acknowledged write; a clean restart
keeps everything."""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402


class DurabilityTest(harness.unittest.TestCase):

    def test_kill9_during_concurrent_writes(self):
        server = harness.Server().start()
        acked = []
        lock = threading.Lock()
        stop = threading.Event()

        def writer(wid):
            i = 0
            while not stop.is_set() and i < 2000:
                name = "w%d-%d" % (wid, i)
                body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                                   "metadata": {"name": name}, "data": {"i": str(i)}})
                try:
                    status, _, _ = server.request(
                        "POST", "/api/v1/namespaces/default/configmaps", body,
                        {"Content-Type": "application/json"})
                except Exception:
                    return  # the server died mid-request: not acknowledged
                if status == 201:
                    with lock:
                        acked.append(name)
                i += 1

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        deadline = time.time() + 20
        while time.time() < deadline:
            with lock:
                if len(acked) >= 300:
                    break
            time.sleep(0.01)
        server.kill9()
        stop.set()
        for t in threads:
            t.join()
        self.assertGreater(len(acked), 50, "too few writes before the kill")
        restarted = harness.Server(data_dir=server.data_dir, port=harness.free_port()).start()
        try:
            status, _, body = restarted.request("GET", "/api/v1/namespaces/default/configmaps")
            self.assertEqual(status, 200)
            names = {i["metadata"]["name"] for i in json.loads(body)["items"]}
            missing = [n for n in acked if n not in names]
            self.assertEqual(missing, [], "acknowledged writes lost after kill -9")
            # Revisions keep increasing after the restart.
            st, _, b = restarted.request(
                "POST", "/api/v1/namespaces/default/configmaps",
                json.dumps({"metadata": {"name": "after-restart"}}),
                {"Content-Type": "application/json"})
            self.assertEqual(st, 201, b)
            rv_after = int(json.loads(b)["metadata"]["resourceVersion"])
            max_before = max(int(i["metadata"]["resourceVersion"])
                             for i in json.loads(body)["items"])
            self.assertGreater(rv_after, max_before)
        finally:
            self.assertEqual(restarted.stop(), 0)

    def test_clean_restart_keeps_objects_and_pki(self):
        server = harness.Server().start()
        server.kubectl("create", "configmap", "keep", "--from-literal=x=1")
        with open(os.path.join(server.data_dir, "tls", "ca.crt")) as f:
            ca = f.read()
        self.assertEqual(server.stop(), 0)
        again = harness.Server(data_dir=server.data_dir, port=server.port).start()
        try:
            cm = again.kubectl_json("get", "configmap", "keep")
            self.assertEqual(cm["data"], {"x": "1"})
            with open(os.path.join(again.data_dir, "tls", "ca.crt")) as f:
                self.assertEqual(f.read(), ca, "the CA must be reused across restarts")
        finally:
            self.assertEqual(again.stop(), 0)


if __name__ == "__main__":
    harness.main()
