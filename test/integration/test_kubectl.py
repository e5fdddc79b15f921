#!/usr/bin/python3
"""The foundation issue's "must show" list, driven with the real kubectl 1.32."""
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

POD = """
apiVersion: v1
kind: Pod
metadata:
  name: %(name)s
  labels:
    app: %(app)s
    tier: %(tier)s
spec:
  containers:
  - name: main
    image: nginx:1.25
    ports:
    - containerPort: 80
"""

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
"""

SERVICE = """
apiVersion: v1
kind: Service
metadata:
  name: %(name)s
spec:
  type: %(type)s
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""


class KubectlTest(harness.ServerTestCase):

    def create(self, manifest, *extra):
        return self.kubectl("create", "-f", "-", *extra, input=manifest)

    def pod(self, name, app="web", tier="front"):
        return POD % {"name": name, "app": app, "tier": tier}

    def test_version_reports_1_32(self):
        out = json.loads(self.kubectl("version", "-o", "json").stdout)
        self.assertTrue(out["serverVersion"]["gitVersion"].startswith("v1.32."), out)
        self.assertEqual(out["serverVersion"]["minor"], "32")
        self.assertTrue(out["clientVersion"]["gitVersion"].startswith("v1.32"), out)

    def test_api_resources(self):
        out = self.kubectl("api-resources").stdout
        # metrics.k8s.io also serves "pods" and "nodes": keep the core/v1 line of each name.
        lines = {}
        for l in out.splitlines()[1:]:
            if l.strip() and not (l.split()[0] in lines and "metrics.k8s.io" in l):
                lines[l.split()[0]] = l
        for name in ["pods", "nodes", "services", "deployments", "replicasets", "jobs",
                     "cronjobs", "leases", "endpointslices", "roles", "poddisruptionbudgets",
                     "configmaps", "secrets", "namespaces", "events"]:
            self.assertIn(name, lines, out)
        self.assertIn("po", lines["pods"].split())
        self.assertIn("apps/v1", lines["deployments"])
        self.assertIn("Deployment", lines["deployments"])
        wide = self.kubectl("api-resources", "-o", "wide").stdout
        self.assertRegex(wide, r"pods\s+po\s+v1\s+true\s+Pod\s+.*create.*delete.*watch")

    def test_get_namespaces(self):
        out = self.kubectl("get", "ns").stdout
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"]:
            self.assertRegex(out, r"(?m)^%s\s+Active\s+" % ns)
        self.assertTrue(out.startswith("NAME"), out)
        self.assertIn("STATUS", out.splitlines()[0])

    def test_kubernetes_service_exists(self):
        svc = self.server.kubectl_json("get", "svc", "kubernetes")
        self.assertEqual(svc["spec"]["clusterIP"], "10.96.0.1")
        self.assertEqual(svc["spec"]["ports"][0]["port"], 443)

    def test_create_pod_and_output_formats(self):
        out = self.create(self.pod("fmt-pod")).stdout
        self.assertIn("pod/fmt-pod created", out)
        wide = self.kubectl("get", "pod", "fmt-pod", "-o", "wide").stdout
        header = wide.splitlines()[0].split()
        self.assertEqual(header[:5], ["NAME", "READY", "STATUS", "RESTARTS", "AGE"])
        self.assertIn("NODE", header)
        self.assertRegex(wide.splitlines()[1], r"^fmt-pod\s+0/1\s+Pending\s+0\s+")
        obj = json.loads(self.kubectl("get", "pod", "fmt-pod", "-o", "json").stdout)
        self.assertEqual(obj["kind"], "Pod")
        self.assertEqual(obj["metadata"]["namespace"], "default")
        self.assertTrue(obj["metadata"]["uid"])
        self.assertTrue(obj["metadata"]["resourceVersion"].isdigit())
        self.assertEqual(obj["spec"]["restartPolicy"], "Always")
        self.assertEqual(obj["spec"]["containers"][0]["imagePullPolicy"], "IfNotPresent")
        self.assertEqual(obj["status"]["phase"], "Pending")
        y = self.kubectl("get", "pod", "fmt-pod", "-o", "yaml").stdout
        self.assertIn("kind: Pod", y)
        self.assertIn("name: fmt-pod", y)
        self.assertEqual(self.kubectl("get", "pod", "fmt-pod", "-o", "name").stdout.strip(),
                         "pod/fmt-pod")
        jp = self.kubectl("get", "pod", "fmt-pod", "-o",
                          "jsonpath={.spec.containers[0].image}").stdout
        self.assertEqual(jp, "nginx:1.25")

    def test_selectors_all_namespaces_labels_sort(self):
        self.kubectl("create", "namespace", "sel")
        self.create(self.pod("sel-b", app="api", tier="back"), "-n", "sel")
        self.create(self.pod("sel-a", app="web", tier="front"), "-n", "sel")
        self.create(self.pod("sel-c", app="web", tier="back"), "-n", "sel")
        names = lambda out: [l.split()[0] for l in out.splitlines()[1:]]
        out = self.kubectl("get", "pods", "-n", "sel", "-l", "app=web").stdout
        self.assertEqual(sorted(names(out)), ["sel-a", "sel-c"])
        out = self.kubectl("get", "pods", "-n", "sel", "-l", "app in (api),tier!=front").stdout
        self.assertEqual(names(out), ["sel-b"])
        out = self.kubectl("get", "pods", "-n", "sel", "--field-selector",
                           "metadata.name=sel-c").stdout
        self.assertEqual(names(out), ["sel-c"])
        out = self.kubectl("get", "pods", "-n", "sel", "--field-selector",
                           "status.phase=Pending,spec.nodeName=").stdout
        self.assertEqual(sorted(names(out)), ["sel-a", "sel-b", "sel-c"])
        out = self.kubectl("get", "pods", "-A").stdout
        self.assertRegex(out, r"(?m)^sel\s+sel-a\s+0/1\s+Pending")
        out = self.kubectl("get", "pods", "-n", "sel", "--show-labels").stdout
        self.assertRegex(out, r"(?m)^sel-a\s.*app=web,tier=front$")
        out = self.kubectl("get", "pods", "-n", "sel", "--sort-by", ".metadata.name").stdout
        self.assertEqual(names(out), ["sel-a", "sel-b", "sel-c"])
        out = self.kubectl("get", "pods", "-n", "sel", "--chunk-size", "1").stdout
        self.assertEqual(sorted(names(out)), ["sel-a", "sel-b", "sel-c"])

    def test_watch_prints_changes(self):
        self.kubectl("create", "namespace", "watched")
        cmd = [harness.KUBECTL, "--kubeconfig", self.server.kubeconfig, "--cache-dir",
               self.server.cache_dir, "get", "pods", "-n", "watched", "-w",
               "--output-watch-events", "--request-timeout", "20s"]
        with tempfile.TemporaryFile(mode="w+") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True)
            try:
                # The watch is established once the empty list was printed (or nothing).
                time.sleep(1.0)
                self.create(self.pod("w1"), "-n", "watched")
                self.kubectl("label", "pod", "w1", "-n", "watched", "changed=yes")
                self.kubectl("delete", "pod", "w1", "-n", "watched", "--wait=false")
                deadline = time.time() + 15
                text = ""
                while time.time() < deadline:
                    out.seek(0)
                    text = out.read()
                    if "DELETED" in text:
                        break
                    time.sleep(0.1)
            finally:
                proc.terminate()
                proc.wait()
        events = [l.split()[0] for l in text.splitlines() if l.split() and
                  l.split()[0] in ("ADDED", "MODIFIED", "DELETED")]
        self.assertEqual(events[0], "ADDED", text)
        self.assertIn("MODIFIED", events, text)
        self.assertEqual(events[-1], "DELETED", text)

    def test_label_annotate_delete_wait(self):
        self.create(self.pod("lab"))
        self.kubectl("label", "pod", "lab", "env=prod")
        self.kubectl("annotate", "pod", "lab", "note=hello")
        obj = self.server.kubectl_json("get", "pod", "lab")
        self.assertEqual(obj["metadata"]["labels"]["env"], "prod")
        self.assertEqual(obj["metadata"]["annotations"]["note"], "hello")
        self.kubectl("label", "pod", "lab", "env-")
        obj = self.server.kubectl_json("get", "pod", "lab")
        self.assertNotIn("env", obj["metadata"]["labels"])
        out = self.kubectl("delete", "pod", "lab", "--wait=true", timeout=30).stdout
        self.assertIn('pod "lab" deleted', out)
        p = self.kubectl("get", "pod", "lab", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('pods "lab" not found', p.stderr)

    def test_generators_send_protobuf(self):
        self.kubectl("create", "namespace", "gen")
        self.kubectl("create", "configmap", "cfg", "-n", "gen", "--from-literal=a=1",
                     "--from-literal=b=two")
        self.kubectl("create", "secret", "generic", "sec", "-n", "gen",
                     "--from-literal=password=s3cret")
        self.kubectl("create", "serviceaccount", "robot", "-n", "gen")
        self.kubectl("create", "deployment", "dep", "-n", "gen", "--image=nginx:1.25",
                     "--replicas=3", "--port=80")
        cm = self.server.kubectl_json("get", "configmap", "cfg", "-n", "gen")
        self.assertEqual(cm["data"], {"a": "1", "b": "two"})
        sec = self.server.kubectl_json("get", "secret", "sec", "-n", "gen")
        self.assertEqual(sec["data"]["password"], "czNjcmV0")
        self.assertEqual(sec["type"], "Opaque")
        sa = self.server.kubectl_json("get", "sa", "robot", "-n", "gen")
        self.assertEqual(sa["metadata"]["name"], "robot")
        dep = self.server.kubectl_json("get", "deploy", "dep", "-n", "gen")
        self.assertEqual(dep["spec"]["replicas"], 3)
        self.assertEqual(dep["spec"]["selector"]["matchLabels"], {"app": "dep"})
        c = dep["spec"]["template"]["spec"]["containers"][0]
        self.assertEqual(c["image"], "nginx:1.25")
        self.assertEqual(c["ports"][0]["containerPort"], 80)
        self.assertEqual(dep["metadata"]["generation"], 1)
        ns = self.server.kubectl_json("get", "ns", "gen")
        self.assertEqual(ns["status"]["phase"], "Active")
        out = self.kubectl("get", "deploy", "-n", "gen").stdout
        self.assertRegex(out, r"(?m)^dep\s+0/3\s+\d+\s+0\s+")

    def test_deployment_service_from_files(self):
        self.kubectl("create", "namespace", "files")
        self.create(DEPLOYMENT, "-n", "files")
        self.create(SERVICE % {"name": "web", "type": "ClusterIP"}, "-n", "files")
        self.create(SERVICE % {"name": "web-np", "type": "NodePort"}, "-n", "files")
        svc = self.server.kubectl_json("get", "svc", "web", "-n", "files")
        ip = svc["spec"]["clusterIP"]
        octets = [int(x) for x in ip.split(".")]
        self.assertEqual(octets[0], 10)
        self.assertTrue(96 <= octets[1] <= 111, ip)
        np = self.server.kubectl_json("get", "svc", "web-np", "-n", "files")
        self.assertNotEqual(np["spec"]["clusterIP"], ip)
        self.assertTrue(30000 <= np["spec"]["ports"][0]["nodePort"] <= 32767)
        out = self.kubectl("get", "svc", "-n", "files").stdout
        self.assertRegex(out, r"(?m)^web-np\s+NodePort\s+10\.\S+\s+<none>\s+80:3\d+/TCP")
        # scale through the scale subresource
        self.kubectl("scale", "deploy", "web", "-n", "files", "--replicas=5")
        dep = self.server.kubectl_json("get", "deploy", "web", "-n", "files")
        self.assertEqual(dep["spec"]["replicas"], 5)
        self.assertEqual(dep["metadata"]["generation"], 2)

    def test_client_side_apply_cycle(self):
        self.kubectl("create", "namespace", "applied")
        manifest = DEPLOYMENT.replace("      - name: nginx\n        image: nginx:1.25\n",
                                      "      - name: nginx\n        image: nginx:1.25\n"
                                      "      - name: side\n        image: busybox:1.36\n")
        out = self.kubectl("apply", "-n", "applied", "-f", "-", input=manifest).stdout
        self.assertIn("deployment.apps/web created", out)
        out = self.kubectl("apply", "-n", "applied", "-f", "-", input=manifest).stdout
        self.assertIn("deployment.apps/web unchanged", out)
        changed = DEPLOYMENT.replace("replicas: 2", "replicas: 4").replace("nginx:1.25",
                                                                          "nginx:1.26")
        out = self.kubectl("apply", "-n", "applied", "-f", "-", input=changed).stdout
        self.assertIn("deployment.apps/web configured", out)
        dep = self.server.kubectl_json("get", "deploy", "web", "-n", "applied")
        self.assertEqual(dep["spec"]["replicas"], 4)
        self.assertEqual([c["name"] for c in dep["spec"]["template"]["spec"]["containers"]],
                         ["nginx"], "a container removed from the manifest must go")
        self.assertEqual(dep["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.26")
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration",
                      dep["metadata"]["annotations"])
        out = self.kubectl("apply", "--server-side", "-n", "applied", "-f", "-",
                           input=changed).stdout
        self.assertIn("serverside-applied", out)

    def test_explain_uses_openapi(self):
        out = self.kubectl("explain", "pod.spec.containers.ports").stdout
        self.assertIn("containerPort", out)
        self.assertRegex(out, r"FIELD:\s+ports")

    def test_describe_pod(self):
        self.create(self.pod("desc"))
        out = self.kubectl("describe", "pod", "desc").stdout
        self.assertRegex(out, r"Name:\s+desc")
        self.assertRegex(out, r"Namespace:\s+default")
        self.assertRegex(out, r"Image:\s+nginx:1.25")
        self.assertRegex(out, r"Status:\s+Pending")

    def test_wait_for_delete(self):
        self.create(self.pod("gone"))
        waiter = subprocess.Popen(
            [harness.KUBECTL, "--kubeconfig", self.server.kubeconfig, "--cache-dir",
             self.server.cache_dir, "wait", "--for=delete", "pod/gone", "--timeout=30s"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(0.5)
        self.kubectl("delete", "pod", "gone", "--wait=false")
        out, _ = waiter.communicate(timeout=40)
        self.assertEqual(waiter.returncode, 0, out)
        self.assertIn("condition met", out)

    def test_errors(self):
        p = self.kubectl("get", "pod", "does-not-exist", check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn('Error from server (NotFound): pods "does-not-exist" not found', p.stderr)
        self.create(self.pod("dup"))
        p = self.kubectl("create", "-f", "-", input=self.pod("dup"), check=False)
        self.assertIn("AlreadyExists", p.stderr)
        self.assertIn('pods "dup" already exists', p.stderr)
        bad = POD % {"name": "Bad_Name", "app": "xx", "tier": "yy"}
        p = self.kubectl("create", "-f", "-", input=bad, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('The Pod "Bad_Name" is invalid', p.stderr)
        self.assertIn("metadata.name", p.stderr)
        unknown = self.pod("unk").replace("  containers:", "  foo: bar\n  containers:")
        p = self.kubectl("create", "-f", "-", input=unknown, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn('unknown field "spec.foo"', p.stderr)
        p = self.kubectl("create", "-f", "-", input="apiVersion: v1\nkind: Pod\nmetadata: [\n",
                         check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("error", p.stderr.lower())
        missing = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: nocontainers\nspec: {}\n"
        p = self.kubectl("create", "-f", "-", input=missing, check=False)
        self.assertIn("spec.containers: Required value", p.stderr)


if __name__ == "__main__":
    harness.main()
