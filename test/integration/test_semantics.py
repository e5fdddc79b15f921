#!/usr/bin/python3
"""API semantics beyond plain CRUD: resourceVersion rules, 410 Expired, status subresource,
generation, finalizers, dry run, watch filtering and timeouts, metrics."""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402

CM = "/api/v1/namespaces/default/configmaps"
DEP = "/apis/apps/v1/namespaces/default/deployments"
JSON = {"Content-Type": "application/json"}
MERGE = {"Content-Type": "application/merge-patch+json"}


def cm(name, data=None, **meta):
    m = {"name": name}
    m.update(meta)
    return json.dumps({"metadata": m, "data": data or {}})


class SemanticsTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(
            extra_args=["--etcd-compaction-interval", "1s", "--disable-controller-manager"]).start()

    def req(self, method, path, body=None, headers=None):
        code, _, raw = self.server.request(method, path, body, headers or JSON)
        return code, json.loads(raw) if raw else None

    def watch_lines(self, path, max_events, timeout=10, headers=None):
        """Reads newline-delimited watch events from a raw HTTPS stream."""
        import http.client
        conn = http.client.HTTPSConnection("127.0.0.1", self.server.port,
                                           context=self.server.ssl_context(), timeout=timeout)
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        events = []
        buf = b""
        deadline = time.time() + timeout
        while len(events) < max_events and time.time() < deadline:
            chunk = resp.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                if line.strip():
                    events.append(json.loads(line))
        conn.close()
        return events

    def test_exact_resource_version_reads_the_past(self):
        code, first = self.req("POST", CM, cm("past", {"v": "1"}))
        self.assertEqual(code, 201)
        rv1 = first["metadata"]["resourceVersion"]
        code, _ = self.req("PATCH", CM + "/past", json.dumps({"data": {"v": "2"}}), MERGE)
        self.assertEqual(code, 200)
        code, lst = self.req("GET", CM + "?resourceVersion=%s&resourceVersionMatch=Exact" % rv1)
        self.assertEqual(code, 200, lst)
        self.assertEqual(lst["metadata"]["resourceVersion"], rv1)
        old = [i for i in lst["items"] if i["metadata"]["name"] == "past"]
        self.assertEqual(old[0]["data"], {"v": "1"})
        code, now = self.req("GET", CM + "/past")
        self.assertEqual(now["data"], {"v": "2"})
        self.assertGreater(int(now["metadata"]["resourceVersion"]), int(rv1))

    def test_continue_after_compaction_is_expired(self):
        for i in range(3):
            self.req("POST", CM, cm("page-%d" % i))
        code, page = self.req("GET", CM + "?limit=1")
        self.assertEqual(code, 200)
        token = page["metadata"]["continue"]
        self.assertTrue(token)
        # Writes move the revision on; two compaction ticks later the first page's revision
        # is gone.
        deadline = time.time() + 15
        code = 200
        while time.time() < deadline:
            self.req("POST", CM, cm("tick-%d" % int(time.time() * 1000)))
            code, body = self.req("GET", CM + "?limit=1&continue=" + token)
            if code == 410:
                break
            time.sleep(0.3)
        self.assertEqual(code, 410)
        self.assertEqual(body["reason"], "Expired")

    def test_watch_from_before_server_start_is_410_error_event(self):
        # The watch cache's history starts when the server starts: a restarted server cannot
        # replay revisions from before, and says so with 410 inside a 200 watch stream.
        first = harness.Server().start()
        self.assertEqual(first.stop(), 0)
        restarted = harness.Server(data_dir=first.data_dir).start()
        self.addCleanup(restarted.stop)
        saved, type(self).server = type(self).server, restarted
        self.addCleanup(setattr, type(self), "server", saved)
        events = self.watch_lines(CM + "?watch=true&resourceVersion=1", 1)
        self.assertEqual(events[0]["type"], "ERROR")
        self.assertEqual(events[0]["object"]["code"], 410)
        self.assertEqual(events[0]["object"]["reason"], "Expired")
        api = client.CoreV1Api(config.new_client_from_config(config_file=restarted.kubeconfig))
        with self.assertRaises(ApiException) as ctx:
            for _ in watch.Watch().stream(api.list_namespaced_config_map, "default",
                                          resource_version="1", timeout_seconds=5):
                pass
        self.assertEqual(ctx.exception.status, 410)

    def test_watch_filters_and_times_out(self):
        code, lst = self.req("GET", CM)
        rv = lst["metadata"]["resourceVersion"]
        self.req("POST", CM, cm("wf-a", labels={"team": "a"}))
        self.req("POST", CM, cm("wf-b", labels={"team": "b"}))
        start = time.time()
        events = self.watch_lines(
            CM + "?watch=1&labelSelector=team%%3Da&resourceVersion=%s&timeoutSeconds=2" % rv, 10)
        self.assertLess(time.time() - start, 8, "timeoutSeconds did not end the watch")
        self.assertEqual([(e["type"], e["object"]["metadata"]["name"]) for e in events],
                         [("ADDED", "wf-a")])

    def test_status_subresource_and_generation(self):
        dep = {"metadata": {"name": "gen"}, "spec": {
            "replicas": 1, "selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}},
                         "spec": {"containers": [{"name": "c", "image": "i"}]}}}}
        code, d = self.req("POST", DEP, json.dumps(dep))
        self.assertEqual(code, 201, d)
        self.assertEqual(d["metadata"]["generation"], 1)
        # Status through /status changes status only.
        d["status"] = {"replicas": 7, "observedGeneration": 1}
        d["spec"]["replicas"] = 99
        code, s = self.req("PUT", DEP + "/gen/status", json.dumps(d))
        self.assertEqual(code, 200, s)
        self.assertEqual(s["status"]["replicas"], 7)
        self.assertEqual(s["spec"]["replicas"], 1)
        self.assertEqual(s["metadata"]["generation"], 1)
        # The main resource ignores status and bumps generation on spec change.
        s["status"] = {"replicas": 0}
        s["spec"]["replicas"] = 3
        code, m = self.req("PUT", DEP + "/gen", json.dumps(s))
        self.assertEqual(code, 200, m)
        self.assertEqual(m["status"]["replicas"], 7)
        self.assertEqual(m["metadata"]["generation"], 2)
        # A metadata-only change does not.
        code, m2 = self.req("PATCH", DEP + "/gen", json.dumps(
            {"metadata": {"labels": {"x": "y"}}}), MERGE)
        self.assertEqual(m2["metadata"]["generation"], 2)

    def test_finalizers_hold_deletion(self):
        self.req("POST", CM, cm("held", finalizers=["example.com/hold"]))
        code, d = self.req("DELETE", CM + "/held")
        self.assertEqual(code, 200)
        self.assertIn("deletionTimestamp", d["metadata"])
        code, g = self.req("GET", CM + "/held")
        self.assertEqual(code, 200)
        code, _ = self.req("PATCH", CM + "/held", json.dumps(
            {"metadata": {"finalizers": None}}), MERGE)
        self.assertEqual(code, 200)
        code, _ = self.req("GET", CM + "/held")
        self.assertEqual(code, 404)

    def test_dry_run_persists_nothing(self):
        code, d = self.req("POST", CM + "?dryRun=All", cm("dry"))
        self.assertEqual(code, 201)
        self.assertEqual(d["metadata"]["name"], "dry")
        code, _ = self.req("GET", CM + "/dry")
        self.assertEqual(code, 404)
        code, _ = self.req("POST", CM + "?dryRun=Bogus", cm("dry"))
        self.assertEqual(code, 400)

    def test_json_patch_and_strategic_patch(self):
        self.req("POST", CM, cm("jp", {"a": "1"}))
        code, o = self.req("PATCH", CM + "/jp", json.dumps(
            [{"op": "add", "path": "/data/b", "value": "2"}]),
            {"Content-Type": "application/json-patch+json"})
        self.assertEqual(code, 200, o)
        self.assertEqual(o["data"], {"a": "1", "b": "2"})
        code, o = self.req("PATCH", CM + "/jp", json.dumps(
            [{"op": "test", "path": "/data/a", "value": "nope"}]),
            {"Content-Type": "application/json-patch+json"})
        self.assertEqual(code, 422)
        self.kubectl("patch", "configmap", "jp", "-p", '{"data":{"c":"3"}}')
        self.assertEqual(self.server.kubectl_json("get", "cm", "jp")["data"],
                         {"a": "1", "b": "2", "c": "3"})

    def test_partial_object_metadata_get_list_and_watch(self):
        # The metadata client's view (client-go's metadata informers, upstream's GC and
        # namespace controllers): only apiVersion/kind/metadata, as meta.k8s.io/v1 kinds.
        code, created = self.req("POST", CM, cm("meta-only", {"big": "x" * 1000},
                                                labels={"app": "meta"}))
        self.assertEqual(code, 201)
        get_h = {"Accept": "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,"
                           "application/json"}
        code, obj = self.req("GET", CM + "/meta-only", headers=get_h)
        self.assertEqual(code, 200)
        self.assertEqual(obj["kind"], "PartialObjectMetadata")
        self.assertEqual(obj["apiVersion"], "meta.k8s.io/v1")
        self.assertEqual(obj["metadata"]["uid"], created["metadata"]["uid"])
        self.assertEqual(obj["metadata"]["labels"], {"app": "meta"})
        self.assertNotIn("data", obj)
        list_h = {"Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1"}
        code, lst = self.req("GET", CM + "?labelSelector=app%3Dmeta", headers=list_h)
        self.assertEqual(code, 200)
        self.assertEqual(lst["kind"], "PartialObjectMetadataList")
        self.assertEqual(lst["apiVersion"], "meta.k8s.io/v1")
        self.assertTrue(lst["metadata"]["resourceVersion"])
        self.assertEqual([i["metadata"]["name"] for i in lst["items"]], ["meta-only"])
        self.assertEqual(lst["items"][0]["kind"], "PartialObjectMetadata")
        self.assertNotIn("data", lst["items"][0])
        code, _ = self.req("PATCH", CM + "/meta-only", json.dumps({"data": {"big": "y"}}), MERGE)
        self.assertEqual(code, 200)
        # A watch from the create's revision replays the change, as metadata only.
        events = self.watch_lines(
            CM + "?watch=1&labelSelector=app%3Dmeta&resourceVersion="
            + created["metadata"]["resourceVersion"], 1, headers=get_h)
        self.assertEqual(events[0]["type"], "MODIFIED")
        self.assertEqual(events[0]["object"]["kind"], "PartialObjectMetadata")
        self.assertNotIn("data", events[0]["object"])
        # Without the header: the full object, as before.
        code, full = self.req("GET", CM + "/meta-only")
        self.assertEqual(full["kind"], "ConfigMap")
        self.assertEqual(full["data"], {"big": "y"})

    def test_metrics(self):
        self.req("GET", CM)
        code, _, raw = self.server.request("GET", "/metrics")
        text = raw.decode()
        self.assertEqual(code, 200)
        self.assertRegex(text, r'apiserver_request_total\{verb="LIST",resource="configmaps",code="200"\} \d+')
        self.assertIn("apiserver_request_duration_seconds_bucket", text)
        self.assertIn('korral_storage_operation_duration_seconds_count{operation="create"}', text)

    def test_discovery_documents(self):
        code, apis = self.req("GET", "/apis")
        self.assertEqual(apis["kind"], "APIGroupList")
        groups = {g["name"] for g in apis["groups"]}
        for g in ["apps", "batch", "coordination.k8s.io", "discovery.k8s.io", "events.k8s.io",
                  "rbac.authorization.k8s.io", "policy"]:
            self.assertIn(g, groups)
        code, _, raw = self.server.request("GET", "/api", headers={
            "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"})
        agg = json.loads(raw)
        self.assertEqual(agg["kind"], "APIGroupDiscoveryList")
        pods = [r for r in agg["items"][0]["versions"][0]["resources"] if r["resource"] == "pods"]
        self.assertEqual(pods[0]["scope"], "Namespaced")
        self.assertIn("all", pods[0]["categories"])
        code, v1 = self.req("GET", "/api/v1")
        names = {r["name"] for r in v1["resources"]}
        self.assertIn("pods/status", names)
        self.assertIn("deployments", {r["name"] for r in self.req("GET", "/apis/apps/v1")[1]["resources"]})


if __name__ == "__main__":
    harness.main()
