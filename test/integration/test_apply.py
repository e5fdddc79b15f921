#!/usr/bin/python3
"""Patches and apply end to end with kubectl 1.32 and the Python client: client-side apply
(created / configured / unchanged / removed fields), server-side apply with two field managers,
conflicts and --force-conflicts, diff, patch --type merge|json|strategic, scale, set image,
rollout restart, --dry-run=server, replace --force, managedFields on every write path, and
malformed patches that change nothing."""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
import harness  # noqa: E402

from kubernetes import client, config  # noqa: E402

DEP = "/apis/apps/v1/namespaces/default/deployments"


def deployment(name, image="nginx:1.25", replicas=2, labels=None, env=None):
    c = {"name": "web", "image": image, "ports": [{"containerPort": 80}]}
    if env:
        c["env"] = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [c]}}}}


class ApplyTest(harness.ServerTestCase):
    # test_diff checks that `kubectl diff` changes nothing: no deployment controller writes.
    server_args = ["--disable-controller-manager"]

    def write(self, obj):
        f = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, dir=self.server.tmp)
        json.dump(obj, f)
        f.close()
        return f.name

    def get(self, kind, name):
        return self.server.kubectl_json("get", kind, name, "--show-managed-fields")

    def req(self, method, path, body=None, ctype="application/json"):
        code, _, raw = self.server.request(method, path, body, {"Content-Type": ctype})
        return code, json.loads(raw) if raw else None

    def managers(self, obj):
        return {(m["manager"], m["operation"]) for m in obj["metadata"].get("managedFields", [])}

    def test_client_side_apply_cycle(self):
        d = deployment("csa", env={"A": "1", "B": "2"})
        out = self.kubectl("apply", "-f", self.write(d)).stdout
        self.assertIn("deployment.apps/csa created", out)
        live = self.get("deployment", "csa")
        self.assertIn("kubectl.kubernetes.io/last-applied-configuration",
                      live["metadata"]["annotations"])
        self.assertIn(("kubectl-client-side-apply", "Update"), self.managers(live))
        # Change image and replicas, drop env B and the label: a strategic merge patch.
        d2 = deployment("csa", image="nginx:1.26", replicas=3, env={"A": "1"},
                        labels={"app": "csa"})
        out = self.kubectl("apply", "-f", self.write(d2)).stdout
        self.assertIn("deployment.apps/csa configured", out)
        live = self.get("deployment", "csa")
        self.assertEqual(live["spec"]["replicas"], 3)
        c = live["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(c), 1)
        self.assertEqual(c[0]["image"], "nginx:1.26")
        self.assertEqual(c[0]["env"], [{"name": "A", "value": "1"}])
        self.assertEqual(live["metadata"]["generation"], 2)
        out = self.kubectl("apply", "-f", self.write(d2)).stdout
        self.assertIn("deployment.apps/csa unchanged", out)
        # A second container, then remove it again.
        d3 = json.loads(json.dumps(d2))
        d3["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "busybox"})
        self.kubectl("apply", "-f", self.write(d3))
        self.assertEqual(len(self.get("deployment", "csa")["spec"]["template"]["spec"]["containers"]), 2)
        self.kubectl("apply", "-f", self.write(d2))
        names = [x["name"] for x in self.get("deployment", "csa")["spec"]["template"]["spec"]["containers"]]
        self.assertEqual(names, ["web"])

    def test_server_side_apply_two_managers_conflict_force(self):
        d = deployment("ssa", replicas=2)
        p = self.kubectl("apply", "--server-side", "-f", self.write(d))
        self.assertIn("serverside-applied", p.stdout)
        live = self.get("deployment", "ssa")
        self.assertIn(("kubectl", "Apply"), self.managers(live))
        entry = [m for m in live["metadata"]["managedFields"] if m["manager"] == "kubectl"][0]
        self.assertEqual(entry["fieldsType"], "FieldsV1")
        self.assertIn("f:replicas", entry["fieldsV1"]["f:spec"])
        self.assertIn('k:{"name":"web"}',
                      entry["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"])
        # Another manager applying a different replicas value conflicts.
        other = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ssa"},
                 "spec": {"replicas": 5}}
        p = self.kubectl("apply", "--server-side", "--field-manager=scaler", "-f",
                         self.write(other), check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("conflict", p.stderr)
        self.assertIn('conflict with "kubectl"', p.stderr)
        self.assertIn(".spec.replicas", p.stderr)
        self.assertIn("--force-conflicts", p.stderr)
        self.assertEqual(self.get("deployment", "ssa")["spec"]["replicas"], 2)
        # The raw 409 Status.
        code, st = self.req("PATCH", DEP + "/ssa?fieldManager=scaler", json.dumps(other),
                            "application/apply-patch+yaml")
        self.assertEqual(code, 409)
        self.assertEqual(st["reason"], "Conflict")
        self.assertEqual(st["details"]["causes"][0]["reason"], "FieldManagerConflict")
        self.assertEqual(st["details"]["causes"][0]["field"], ".spec.replicas")
        self.assertEqual(st["message"],
                         'Apply failed with 1 conflict: conflict with "kubectl": .spec.replicas')
        p = self.kubectl("apply", "--server-side", "--field-manager=scaler", "--force-conflicts",
                         "-f", self.write(other))
        live = self.get("deployment", "ssa")
        self.assertEqual(live["spec"]["replicas"], 5)
        owners = {m["manager"]: m["fieldsV1"] for m in live["metadata"]["managedFields"]}
        self.assertIn("f:replicas", owners["scaler"]["f:spec"])
        self.assertNotIn("f:replicas", owners["kubectl"].get("f:spec", {}))
        # kubectl re-applies without replicas: it no longer owns it, scaler keeps it.
        d.pop("spec")["replicas"]
        d["spec"] = deployment("ssa")["spec"]
        del d["spec"]["replicas"]
        self.kubectl("apply", "--server-side", "-f", self.write(d))
        self.assertEqual(self.get("deployment", "ssa")["spec"]["replicas"], 5)

    def test_server_side_apply_removes_fields_no_longer_applied(self):
        d = deployment("ssr", labels={"app": "ssr", "tier": "web"})
        self.kubectl("apply", "--server-side", "-f", self.write(d))
        self.assertEqual(self.get("deployment", "ssr")["metadata"]["labels"]["tier"], "web")
        d["metadata"]["labels"] = {"app": "ssr"}
        self.kubectl("apply", "--server-side", "-f", self.write(d))
        self.assertNotIn("tier", self.get("deployment", "ssr")["metadata"]["labels"])

    def test_create_on_apply_is_201_and_apply_needs_field_manager(self):
        body = json.dumps({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "ssa-cm"}, "data": {"a": "1"}})
        code, o = self.req("PATCH", "/api/v1/namespaces/default/configmaps/ssa-cm?fieldManager=me",
                           body, "application/apply-patch+yaml")
        self.assertEqual(code, 201, o)
        self.assertEqual(o["metadata"]["managedFields"][0]["operation"], "Apply")
        code, o = self.req("PATCH", "/api/v1/namespaces/default/configmaps/ssa-cm", body,
                           "application/apply-patch+yaml")
        self.assertEqual(code, 422, o)
        self.assertIn("fieldManager", o["message"])
        code, o = self.req("PATCH", "/api/v1/namespaces/default/configmaps/ssa-cm?force=true",
                           '{"data":{"b":"2"}}', "application/merge-patch+json")
        self.assertEqual(code, 422, o)

    def test_diff(self):
        d = deployment("dif")
        self.kubectl("apply", "-f", self.write(d))
        rv = self.get("deployment", "dif")["metadata"]["resourceVersion"]
        p = self.kubectl("diff", "-f", self.write(d), check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        d["spec"]["replicas"] = 7
        p = self.kubectl("diff", "-f", self.write(d), check=False)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("+  replicas: 7", p.stdout)
        self.assertIn("-  replicas: 2", p.stdout)
        live = self.get("deployment", "dif")
        self.assertEqual(live["spec"]["replicas"], 2)
        self.assertEqual(live["metadata"]["resourceVersion"], rv)

    def test_patch_types(self):
        self.kubectl("apply", "-f", self.write(deployment("pt")))
        self.kubectl("patch", "deployment", "pt", "--type=merge", "-p",
                     '{"metadata":{"labels":{"m":"1"}}}')
        self.kubectl("patch", "deployment", "pt", "--type=json", "-p",
                     '[{"op":"replace","path":"/spec/replicas","value":4}]')
        self.kubectl("patch", "deployment", "pt", "--type=strategic", "-p",
                     '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}')
        live = self.get("deployment", "pt")
        self.assertEqual(live["metadata"]["labels"]["m"], "1")
        self.assertEqual(live["spec"]["replicas"], 4)
        c = live["spec"]["template"]["spec"]["containers"]
        self.assertEqual(len(c), 1)
        self.assertEqual(c[0]["image"], "nginx:1.27")
        self.assertEqual(c[0]["ports"][0]["containerPort"], 80)
        self.assertIn(("kubectl-patch", "Update"), self.managers(live))
        p = self.kubectl("patch", "deployment", "pt", "--type=json", "-p",
                         '[{"op":"test","path":"/spec/replicas","value":9}]', check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("test failed", p.stderr)

    def test_malformed_patches_change_nothing(self):
        self.kubectl("apply", "-f", self.write(deployment("bad")))
        rv = self.get("deployment", "bad")["metadata"]["resourceVersion"]
        cases = [
            ("application/json-patch+json", '{"op":"add"}', 400),
            ("application/json-patch+json", '[{"op":"remove","path":"/spec/nope"}]', 422),
            ("application/json-patch+json", '[{"op":"test","path":"/spec/replicas","value":0}]', 422),
            ("application/json-patch+json", '[{"op":"bogus","path":"/a"}]', 400),
            ("application/merge-patch+json", '[1,2]', 400),
            ("application/merge-patch+json", '{not json', 400),
            ("application/strategic-merge-patch+json",
             '{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}', 400),
            ("application/strategic-merge-patch+json", '{"spec":{"$patch":"explode"}}', 400),
            ("application/strategic-merge-patch+json",
             '{"spec":{"strategy":{"$retainKeys":["type"],"rollingUpdate":{}}}}', 422),
            ("application/apply-patch+yaml", '{"apiVersion":"apps/v2","kind":"Deployment"}', 400),
            ("text/plain", '{}', 415),
        ]
        for ctype, body, want in cases:
            code, st = self.req("PATCH", DEP + "/bad?fieldManager=t", body, ctype)
            self.assertEqual(code, want, (ctype, body, st))
            self.assertEqual(st["kind"], "Status")
        self.assertEqual(self.get("deployment", "bad")["metadata"]["resourceVersion"], rv)

    def test_scale_set_image_rollout_restart(self):
        self.kubectl("apply", "-f", self.write(deployment("ops")))
        self.kubectl("scale", "deployment", "ops", "--replicas=4")
        self.assertEqual(self.get("deployment", "ops")["spec"]["replicas"], 4)
        code, s = self.req("GET", DEP + "/ops/scale")
        self.assertEqual(code, 200)
        self.assertEqual(s["spec"]["replicas"], 4)
        self.kubectl("set", "image", "deployment/ops", "web=nginx:1.28")
        live = self.get("deployment", "ops")
        self.assertEqual(live["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1.28")
        self.kubectl("rollout", "restart", "deployment/ops")
        live = self.get("deployment", "ops")
        self.assertIn("kubectl.kubernetes.io/restartedAt",
                      live["spec"]["template"]["metadata"]["annotations"])
        self.assertIn(("kubectl-rollout", "Update"), self.managers(live))

    def test_dry_run_server(self):
        d = deployment("dry")
        self.kubectl("create", "--dry-run=server", "-f", self.write(d))
        self.kubectl("apply", "--dry-run=server", "-f", self.write(d))
        self.kubectl("apply", "--server-side", "--dry-run=server", "-f", self.write(d))
        self.assertNotEqual(self.kubectl("get", "deployment", "dry", check=False).returncode, 0)
        self.kubectl("apply", "-f", self.write(d))
        d["spec"]["replicas"] = 9
        self.kubectl("apply", "--dry-run=server", "-f", self.write(d))
        self.kubectl("scale", "deployment", "dry", "--replicas=8", "--dry-run=server")
        self.kubectl("delete", "deployment", "dry", "--dry-run=server")
        self.assertEqual(self.get("deployment", "dry")["spec"]["replicas"], 2)
        code, _ = self.req("DELETE", DEP + "?dryRun=All&labelSelector=app%3Ddry")
        self.assertEqual(code, 200)
        self.assertEqual(self.get("deployment", "dry")["spec"]["replicas"], 2)

    def test_replace_force(self):
        self.kubectl("apply", "-f", self.write(deployment("rep")))
        uid = self.get("deployment", "rep")["metadata"]["uid"]
        d = deployment("rep", replicas=1)
        self.kubectl("replace", "--force", "-f", self.write(d))
        live = self.get("deployment", "rep")
        self.assertNotEqual(live["metadata"]["uid"], uid)
        self.assertEqual(live["spec"]["replicas"], 1)

    def test_update_keeps_managed_fields(self):
        code, o = self.req("POST", "/api/v1/namespaces/default/configmaps?fieldManager=creator",
                           json.dumps({"metadata": {"name": "mf"}, "data": {"a": "1"}}))
        self.assertEqual(code, 201)
        self.assertEqual(o["metadata"]["managedFields"][0]["manager"], "creator")
        o["data"]["b"] = "2"
        del o["metadata"]["managedFields"]
        code, o = self.req("PUT", "/api/v1/namespaces/default/configmaps/mf?fieldManager=editor",
                           json.dumps(o))
        self.assertEqual(code, 200)
        m = {e["manager"]: e["fieldsV1"] for e in o["metadata"]["managedFields"]}
        self.assertIn("f:a", m["creator"]["f:data"])
        self.assertIn("f:b", m["editor"]["f:data"])

    def test_python_client_strategic_patch(self):
        api = client.AppsV1Api(config.new_client_from_config(self.server.kubeconfig))
        api.create_namespaced_deployment("default", deployment("py", env={"X": "1"}))
        api.patch_namespaced_deployment("py", "default", {
            "spec": {"template": {"spec": {"containers": [
                {"name": "web", "env": [{"name": "Y", "value": "2"}]}]}}}})
        d = api.read_namespaced_deployment("py", "default")
        c = d.spec.template.spec.containers
        self.assertEqual(len(c), 1)
        self.assertEqual(c[0].image, "nginx:1.25")
        self.assertEqual(sorted(e.name for e in c[0].env), ["X", "Y"])
        managers = {m.manager for m in d.metadata.managed_fields}
        self.assertIn("OpenAPI-Generator", managers)


if __name__ == "__main__":
    harness.main()
