"""Workload controllers end to end: kubectl 1.32 and the official Python client against a real
`korral server` (controller manager inside). No kubelet runs (--disable-agent): the test creates
Node objects and plays the kubelet by writing pod status (Running/Ready, Succeeded) itself.

Every wait is bounded in time and polls the API.

Status: written against the controllers' unit-tested behaviour but not yet run against a server
build (the session ran out of build time), so it is not registered in CTest yet. Run it with
  KORRAL_BIN=build/bin/korral /usr/bin/python3 test/integration/test_workloads.py
and register it in test/CMakeLists.txt once it passes.
"""
import datetime
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from harness import ServerTestCase, main  # noqa: E402

NS = "default"


def now_rfc3339():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class WorkloadTest(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i in range(3):
            cls.create_obj("/api/v1/nodes", {
                "apiVersion": "v1", "kind": "Node",
                "metadata": {"name": "node-%d" % i, "labels": {"role": "worker"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})

    # ---- raw API helpers ----
    @classmethod
    def create_obj(cls, path, obj):
        code, _, body = cls.server.request("POST", path, json.dumps(obj),
                                           {"Content-Type": "application/json"})
        assert code in (200, 201), (code, body)
        return json.loads(body)

    def get(self, path):
        code, _, body = self.server.request("GET", path)
        self.assertEqual(code, 200, body)
        return json.loads(body)

    def try_get(self, path):
        code, _, body = self.server.request("GET", path)
        return json.loads(body) if code == 200 else None

    def pods(self, selector=""):
        path = "/api/v1/namespaces/%s/pods" % NS
        if selector:
            path += "?labelSelector=" + selector
        return self.get(path)["items"]

    def patch_status(self, pod, status):
        code, _, body = self.server.request(
            "PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (NS, pod["metadata"]["name"]),
            json.dumps({"status": status}), {"Content-Type": "application/merge-patch+json"})
        # 404: the pod was deleted meanwhile (a controller scaled it away).
        self.assertIn(code, (200, 404), body)

    def mark_ready(self, selector):
        """Marks every active, not-yet-ready pod Running and Ready (as a kubelet would)."""
        n = 0
        for p in self.pods(selector):
            if p["metadata"].get("deletionTimestamp"):
                continue
            st = p.get("status", {})
            if st.get("phase") in ("Succeeded", "Failed"):
                continue
            ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in st.get("conditions", []))
            if ready:
                continue
            self.patch_status(p, {"phase": "Running", "conditions": [
                {"type": "Ready", "status": "True", "lastTransitionTime": now_rfc3339()}]})
            n += 1
        return n

    def mark_succeeded(self, pod):
        self.patch_status(pod, {"phase": "Succeeded", "containerStatuses": [{
            "name": pod["spec"]["containers"][0]["name"], "ready": False, "restartCount": 0,
            "image": pod["spec"]["containers"][0]["image"], "imageID": "",
            "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}}]})

    def wait_for(self, what, fn, timeout=30):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = fn()
            if last:
                return last
            time.sleep(0.1)
        self.fail("timed out waiting for %s (last: %r)\n%s" % (what, last,
                                                               self.server.read_log()[-2000:]))

    def rollout_status(self, kind_name, selector, timeout=60):
        """Runs `kubectl rollout status` while playing the kubelet; returns its stdout."""
        cmd = ["kubectl", "--kubeconfig", self.server.kubeconfig, "--cache-dir",
               self.server.cache_dir, "rollout", "status", kind_name, "--timeout=%ds" % timeout]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + timeout + 10
        while proc.poll() is None and time.time() < deadline:
            self.mark_ready(selector)
            time.sleep(0.2)
        if proc.poll() is None:
            proc.kill()
        out, err = proc.communicate()
        self.assertEqual(proc.returncode, 0, "rollout status failed:\n%s\n%s\n%s" %
                         (out, err, self.server.read_log()[-3000:]))
        return out

    def active_pods(self, selector):
        return [p for p in self.pods(selector)
                if not p["metadata"].get("deletionTimestamp")
                and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]

    # ---- tests ----
    def test_deployment_rollout_set_image_undo(self):
        self.kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=3")
        rs = self.wait_for("a ReplicaSet", lambda: self.get(
            "/apis/apps/v1/namespaces/%s/replicasets?labelSelector=app=web" % NS)["items"])
        self.assertEqual(len(rs), 1)
        ref = rs[0]["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["name"], ref["controller"]), ("Deployment", "web", True))
        self.assertIn("pod-template-hash", rs[0]["metadata"]["labels"])
        self.assertEqual(rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"],
                         "1")
        self.wait_for("3 pods", lambda: len(self.pods("app=web")) == 3)
        out = self.rollout_status("deployment/web", "app=web")
        self.assertIn('deployment "web" successfully rolled out', out)
        d = self.get("/apis/apps/v1/namespaces/%s/deployments/web" % NS)
        self.assertEqual(d["status"].get("availableReplicas"), 3)
        conds = {c["type"]: c for c in d["status"]["conditions"]}
        self.assertEqual(conds["Available"]["status"], "True")
        self.assertEqual(conds["Progressing"]["reason"], "NewReplicaSetAvailable")

        # set image rolls to a new ReplicaSet.
        self.kubectl("set", "image", "deployment/web", "nginx=nginx:1.26")
        out = self.rollout_status("deployment/web", "app=web")
        self.assertIn("successfully rolled out", out)
        pods = self.active_pods("app=web")
        self.wait_for("old pods gone", lambda: all(
            p["spec"]["containers"][0]["image"] == "nginx:1.26"
            for p in self.active_pods("app=web")) and len(self.active_pods("app=web")) == 3)
        rss = self.get("/apis/apps/v1/namespaces/%s/replicasets?labelSelector=app=web" % NS)
        self.assertEqual(len(rss["items"]), 2)
        revs = sorted(r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                      for r in rss["items"])
        self.assertEqual(revs, ["1", "2"])

        # rollout undo goes back to the first template (revision 3).
        self.kubectl("rollout", "undo", "deployment/web")
        out = self.rollout_status("deployment/web", "app=web")
        self.wait_for("pods back on the old image", lambda: all(
            p["spec"]["containers"][0]["image"] == "nginx:1.25"
            for p in self.active_pods("app=web")) and len(self.active_pods("app=web")) == 3)
        d = self.get("/apis/apps/v1/namespaces/%s/deployments/web" % NS)
        self.assertEqual(d["metadata"]["annotations"]["deployment.kubernetes.io/revision"], "3")
        hist = self.kubectl("rollout", "history", "deployment/web").stdout
        self.assertIn("2", hist)
        self.assertIn("3", hist)
        del pods

    def test_scale_and_pause(self):
        self.kubectl("create", "deployment", "scaler", "--image=busybox", "--replicas=2")
        self.wait_for("2 pods", lambda: len(self.active_pods("app=scaler")) == 2)
        self.kubectl("scale", "deployment/scaler", "--replicas=5")
        self.wait_for("5 pods", lambda: len(self.active_pods("app=scaler")) == 5)
        self.kubectl("rollout", "pause", "deployment/scaler")
        self.kubectl("set", "image", "deployment/scaler", "busybox=busybox:2")
        d = self.wait_for("paused condition", lambda: [
            c for c in self.get("/apis/apps/v1/namespaces/%s/deployments/scaler" % NS)
            ["status"].get("conditions", []) if c.get("reason") == "DeploymentPaused"])
        self.assertTrue(d)
        time.sleep(0.5)
        rss = self.get("/apis/apps/v1/namespaces/%s/replicasets?labelSelector=app=scaler" % NS)
        self.assertEqual(len(rss["items"]), 1)
        self.kubectl("rollout", "resume", "deployment/scaler")
        out = self.rollout_status("deployment/scaler", "app=scaler")
        self.assertIn("successfully rolled out", out)

    def test_replicaset_replaces_deleted_pod(self):
        self.create_obj("/apis/apps/v1/namespaces/%s/replicasets" % NS, {
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "frontend"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"tier": "frontend"}},
                     "template": {"metadata": {"labels": {"tier": "frontend"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}})
        pods = self.wait_for("2 pods", lambda: len(self.pods("tier=frontend")) == 2
                             and self.pods("tier=frontend"))
        self.kubectl("delete", "pod", pods[0]["metadata"]["name"], "--wait=false")
        self.wait_for("replacement", lambda: len(self.pods("tier=frontend")) == 2 and
                      pods[0]["metadata"]["name"] not in
                      [p["metadata"]["name"] for p in self.pods("tier=frontend")])
        self.mark_ready("tier=frontend")
        rs = self.wait_for("ready status", lambda: (lambda r: r if r["status"].get(
            "readyReplicas") == 2 else None)(
            self.get("/apis/apps/v1/namespaces/%s/replicasets/frontend" % NS)))
        self.assertEqual(rs["status"]["replicas"], 2)
        self.assertEqual(rs["status"]["availableReplicas"], 2)

    def test_job_of_three_completions(self):
        self.create_obj("/apis/batch/v1/namespaces/%s/jobs" % NS, {
            "apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"},
            "spec": {"completions": 3, "parallelism": 2, "backoffLimit": 2,
                     "template": {"spec": {"restartPolicy": "Never", "containers": [
                         {"name": "pi", "image": "perl", "command": ["perl", "-e", "1"]}]}}}})
        done = set()
        deadline = time.time() + 60
        while time.time() < deadline:
            job = self.get("/apis/batch/v1/namespaces/%s/jobs/pi" % NS)
            if any(c["type"] == "Complete" and c["status"] == "True"
                   for c in job["status"].get("conditions", [])):
                break
            for p in self.pods("job-name=pi"):
                name = p["metadata"]["name"]
                if name in done or p.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                    continue
                self.assertIn("batch.kubernetes.io/job-tracking",
                              p["metadata"].get("finalizers", []))
                self.mark_succeeded(p)
                done.add(name)
            time.sleep(0.2)
        self.kubectl("wait", "--for=condition=complete", "job/pi", "--timeout=30s")
        job = self.get("/apis/batch/v1/namespaces/%s/jobs/pi" % NS)
        self.assertEqual(job["status"]["succeeded"], 3)
        self.assertEqual(len(done), 3)
        self.assertIn("completionTime", job["status"])
        types = [c["type"] for c in job["status"]["conditions"]]
        self.assertIn("SuccessCriteriaMet", types)
        for p in self.pods("job-name=pi"):
            self.assertNotIn("batch.kubernetes.io/job-tracking",
                             p["metadata"].get("finalizers", []))

    def test_cronjob_creates_a_job(self):
        self.create_obj("/apis/batch/v1/namespaces/%s/cronjobs" % NS, {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick"},
            "spec": {"schedule": "@every 2s", "concurrencyPolicy": "Forbid",
                     "jobTemplate": {"spec": {"template": {"spec": {
                         "restartPolicy": "OnFailure",
                         "containers": [{"name": "c", "image": "busybox"}]}}}}}})
        jobs = self.wait_for("a job from the cronjob", lambda: [
            j for j in self.get("/apis/batch/v1/namespaces/%s/jobs" % NS)["items"]
            if j["metadata"]["name"].startswith("tick-")], timeout=30)
        ref = jobs[0]["metadata"]["ownerReferences"][0]
        self.assertEqual((ref["kind"], ref["name"]), ("CronJob", "tick"))
        self.assertIn("batch.kubernetes.io/cronjob-scheduled-timestamp",
                      jobs[0]["metadata"]["annotations"])
        cj = self.wait_for("cronjob status", lambda: (lambda c: c if c.get("status", {}).get(
            "active") else None)(self.get("/apis/batch/v1/namespaces/%s/cronjobs/tick" % NS)))
        self.assertIn("lastScheduleTime", cj["status"])
        self.kubectl("delete", "cronjob", "tick")

    def test_daemonset_one_pod_per_node(self):
        self.create_obj("/apis/apps/v1/namespaces/%s/daemonsets" % NS, {
            "apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": "agent"},
            "spec": {"selector": {"matchLabels": {"app": "agent"}},
                     "template": {"metadata": {"labels": {"app": "agent"}},
                                  "spec": {"nodeSelector": {"role": "worker"},
                                           "containers": [{"name": "c", "image": "a:1"}]}}}})
        self.wait_for("3 daemon pods", lambda: len(self.pods("app=agent")) == 3)
        out = self.rollout_status("daemonset/agent", "app=agent")
        self.assertIn("successfully rolled out", out)
        revs = self.get("/apis/apps/v1/namespaces/%s/controllerrevisions" % NS)["items"]
        self.assertTrue(any(r["metadata"]["name"].startswith("agent-") for r in revs))

    def test_statefulset_ordered(self):
        self.create_obj("/apis/apps/v1/namespaces/%s/statefulsets" % NS, {
            "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"replicas": 2, "serviceName": "db",
                     "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "c", "image": "pg"}]}}}})
        self.wait_for("db-0", lambda: [p["metadata"]["name"] for p in self.pods("app=db")] ==
                      ["db-0"])
        out = self.rollout_status("statefulset/db", "app=db")
        self.assertIn("complete", out)
        names = sorted(p["metadata"]["name"] for p in self.pods("app=db"))
        self.assertEqual(names, ["db-0", "db-1"])


if __name__ == "__main__":
    main()
