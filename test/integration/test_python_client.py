#!/usr/bin/python3
"""The official Python client (python3-kubernetes 22.6) against korral, unchanged."""
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

from kubernetes import client, config, watch  # noqa: E402
from kubernetes.client.rest import ApiException  # noqa: E402


class PythonClientTest(harness.ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.api_client = config.new_client_from_config(config_file=cls.server.kubeconfig)
        cls.core = client.CoreV1Api(cls.api_client)
        cls.apps = client.AppsV1Api(cls.api_client)

    def cm(self, name, data):
        return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data)

    def test_list_namespaces(self):
        names = [n.metadata.name for n in self.core.list_namespace().items]
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"]:
            self.assertIn(ns, names)

    def test_crud_and_stale_replace(self):
        created = self.core.create_namespaced_config_map("default", self.cm("py-cm", {"a": "1"}))
        self.assertEqual(created.data, {"a": "1"})
        rv1 = created.metadata.resource_version
        got = self.core.read_namespaced_config_map("py-cm", "default")
        self.assertEqual(got.metadata.uid, created.metadata.uid)
        got.data = {"a": "2"}
        replaced = self.core.replace_namespaced_config_map("py-cm", "default", got)
        self.assertEqual(replaced.data, {"a": "2"})
        self.assertGreater(int(replaced.metadata.resource_version), int(rv1))
        # Replacing with the old resourceVersion must conflict.
        stale = self.cm("py-cm", {"a": "3"})
        stale.metadata.resource_version = rv1
        with self.assertRaises(ApiException) as ctx:
            self.core.replace_namespaced_config_map("py-cm", "default", stale)
        self.assertEqual(ctx.exception.status, 409)
        self.assertIn('"reason":"Conflict"', ctx.exception.body.replace(" ", ""))
        items = self.core.list_namespaced_config_map("default").items
        self.assertIn("py-cm", [i.metadata.name for i in items])
        self.core.delete_namespaced_config_map("py-cm", "default")
        with self.assertRaises(ApiException) as ctx:
            self.core.read_namespaced_config_map("py-cm", "default")
        self.assertEqual(ctx.exception.status, 404)

    def test_create_conflict_and_invalid(self):
        self.core.create_namespaced_config_map("default", self.cm("py-dup", {}))
        with self.assertRaises(ApiException) as ctx:
            self.core.create_namespaced_config_map("default", self.cm("py-dup", {}))
        self.assertEqual(ctx.exception.status, 409)
        with self.assertRaises(ApiException) as ctx:
            self.core.create_namespaced_config_map("default", self.cm("UPPER", {}))
        self.assertEqual(ctx.exception.status, 422)

    def test_watch_stream_in_order(self):
        ns = client.V1Namespace(metadata=client.V1ObjectMeta(name="pywatch"))
        self.core.create_namespace(ns)
        seen = []
        started = threading.Event()

        def consume():
            w = watch.Watch()
            started.set()
            # Only "w": the root CA publisher adds kube-root-ca.crt to the new namespace at
            # any moment.
            for ev in w.stream(self.core.list_namespaced_config_map, "pywatch",
                               field_selector="metadata.name=w", timeout_seconds=10):
                seen.append((ev["type"], ev["object"].metadata.name,
                             (ev["object"].data or {}).get("k")))
                if ev["type"] == "DELETED":
                    w.stop()

        t = threading.Thread(target=consume)
        t.start()
        started.wait()
        import time
        time.sleep(0.5)
        self.core.create_namespaced_config_map("pywatch", self.cm("w", {"k": "1"}))
        self.core.patch_namespaced_config_map("w", "pywatch", {"data": {"k": "2"}})
        self.core.delete_namespaced_config_map("w", "pywatch")
        t.join(timeout=15)
        self.assertEqual(seen, [("ADDED", "w", "1"), ("MODIFIED", "w", "2"),
                                ("DELETED", "w", "2")])

    def test_deployment_roundtrip(self):
        dep = client.V1Deployment(
            metadata=client.V1ObjectMeta(name="py-dep"),
            spec=client.V1DeploymentSpec(
                replicas=2,
                selector=client.V1LabelSelector(match_labels={"app": "py"}),
                template=client.V1PodTemplateSpec(
                    metadata=client.V1ObjectMeta(labels={"app": "py"}),
                    spec=client.V1PodSpec(containers=[client.V1Container(
                        name="c", image="busybox:1.36")]))))
        out = self.apps.create_namespaced_deployment("default", dep)
        self.assertEqual(out.spec.strategy.type, "RollingUpdate")
        self.assertEqual(out.spec.revision_history_limit, 10)
        out.spec.replicas = 4
        out2 = self.apps.replace_namespaced_deployment("py-dep", "default", out)
        self.assertEqual(out2.metadata.generation, 2)
        scale = self.apps.read_namespaced_deployment_scale("py-dep", "default")
        self.assertEqual(scale.spec.replicas, 4)
        self.assertEqual(scale.status.selector, "app=py")


if __name__ == "__main__":
    harness.main()
