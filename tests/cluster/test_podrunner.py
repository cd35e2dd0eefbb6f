"""The local pod runner against a real kube-apiserver: env, volumes, the ServiceAccount's own
token, readiness in the Deployment's status, scale to zero, rollouts and crash restarts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.devtools.podrunner.runner import READY_RESETS_BACKOFF_S, RESTARTS
from support.kube import apply
from support.podrunner import FakeClock, Runner
from support.processes import alive
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
MANAGED_BY = "app.kubernetes.io/managed-by"

# The pod: writes what it was given, then serves HTTP on its assigned port until SIGTERM.
POD_SCRIPT = """
import json, os, sys, http.server, pathlib
out = pathlib.Path(os.environ["OUT"])
out.write_text(json.dumps({
    "pid": os.getpid(), "argv": sys.argv[1:], "secret": os.environ.get("FROM_SECRET"),
    "namespace": os.environ.get("MY_NAMESPACE"), "file": open(os.environ["CFG"]).read(),
    "extra": os.environ.get("EXTRA"), "kubeconfig": os.environ.get("KUBECONFIG"),
}))
if os.environ.get("CRASH"):
    sys.exit(3)
handler = http.server.SimpleHTTPRequestHandler
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), handler).serve_forever()
"""


def deployment(name: str, out: Path, **env: str) -> dict[str, Any]:
    extra_env = [{"name": k, "value": v} for k, v in env.items()]
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": name, "labels": {MANAGED_BY: "eternal-engine-operator"}},
        "spec": {
            "replicas": 1, "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "serviceAccountName": "worker", "terminationGracePeriodSeconds": 5,
                    "containers": [{
                        "name": "main", "image": "unused", "command": ["python", "-c", POD_SCRIPT],
                        "args": ["$(EE_HTTP_PORT)"],
                        "ports": [{"name": "http", "containerPort": 8080}],
                        "readinessProbe": {"httpGet": {"path": "/", "port": "http"}},
                        "env": [
                            {"name": "OUT", "value": str(out)},
                            {"name": "CFG", "value": "/etc/app/settings.txt"},
                            {"name": "FROM_SECRET",
                             "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
                            {"name": "MY_NAMESPACE",
                             "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
                            *extra_env,
                        ],
                        "envFrom": [{"secretRef": {"name": "bulk", "optional": True}}],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
                    }],
                    "volumes": [{"name": "cfg", "configMap": {"name": "cfg"}}],
                },
            },
        },
    }  # fmt: skip


@pytest.fixture
def pod_ns(control_plane: ControlPlane, namespace: str) -> str:
    kc = control_plane.kubectl
    kc("create", "secret", "generic", "s", "-n", namespace, "--from-literal=k=from-the-secret")
    kc("create", "secret", "generic", "bulk", "-n", namespace, "--from-literal=EXTRA=bulk-value")
    kc("create", "configmap", "cfg", "-n", namespace, "--from-literal=settings.txt=hello")
    kc("create", "serviceaccount", "worker", "-n", namespace)
    return namespace


def status(plane: ControlPlane, ns: str, name: str) -> dict[str, Any]:
    out = plane.kubectl("get", "deployment", name, "-n", ns, "-o", "json").stdout
    return dict(json.loads(out))


def written(out: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads(out.read_text()))
    except (OSError, ValueError):
        return None


def test_a_deployment_runs_as_a_local_process_with_its_pods_inputs(
    control_plane: ControlPlane, pod_ns: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    apply(control_plane, pod_ns, deployment("web", out))
    with Runner(control_plane, tmp_path / "runner"):
        seen = wait_for(lambda: written(out), 30, "the pod to start")
        assert seen["secret"] == "from-the-secret"
        assert seen["namespace"] == pod_ns
        assert seen["file"] == "hello"  # the ConfigMap volume, mount path rewritten
        assert seen["extra"] == "bulk-value"  # envFrom
        assert seen["argv"][0].isdigit()  # $(EE_HTTP_PORT) expanded to its local port
        wait_for(
            lambda: status(control_plane, pod_ns, "web").get("status", {}).get("readyReplicas"),
            30, "readyReplicas 1",
        )  # fmt: skip
        who = subprocess.run(
            ["kubectl", f"--kubeconfig={seen['kubeconfig']}", "auth", "whoami", "-o", "json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        username = json.loads(who.stdout)["status"]["userInfo"]["username"]
        assert username == f"system:serviceaccount:{pod_ns}:worker"

        control_plane.kubectl("scale", "deployment", "web", "-n", pod_ns, "--replicas=0")
        wait_for(lambda: not alive(seen["pid"]), 30, "the process stopped")
        wait_for(
            lambda: status(control_plane, pod_ns, "web")["status"].get("replicas", 0) == 0, 15, "0"
        )

        control_plane.kubectl("scale", "deployment", "web", "-n", pod_ns, "--replicas=1")
        again = wait_for(lambda: (w := written(out)) and w["pid"] != seen["pid"] and w, 30)
        control_plane.kubectl("set", "env", "deployment/web", "-n", pod_ns, "ROLL=2")
        rolled = wait_for(lambda: (w := written(out)) and w["pid"] != again["pid"] and w, 30)
        assert not alive(again["pid"])
        assert alive(rolled["pid"])
    assert not alive(rolled["pid"])  # the runner stops what it started


def test_a_crashing_pod_is_restarted_with_backoff_and_counted(
    control_plane: ControlPlane, pod_ns: str, tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    apply(control_plane, pod_ns, deployment("crash", out, CRASH="1"))
    with Runner(control_plane, tmp_path / "runner"):

        def restarts() -> int:
            meta = status(control_plane, pod_ns, "crash")["metadata"]
            return int((meta.get("annotations") or {}).get(RESTARTS, "0"))

        wait_for(lambda: restarts() >= 2, 30, "two restarts")
        message = status(control_plane, pod_ns, "crash")["status"]["conditions"][0]["message"]
        assert "exited with code 3" in message
        assert status(control_plane, pod_ns, "crash")["status"].get("readyReplicas", 0) == 0


def test_a_pod_ready_for_a_while_crashes_back_to_the_shortest_backoff(
    control_plane: ControlPlane, pod_ns: str, tmp_path: Path
) -> None:
    out, clock = tmp_path / "out.json", FakeClock()
    apply(control_plane, pod_ns, deployment("flaky", out))

    def message() -> str:
        conditions = status(control_plane, pod_ns, "flaky").get("status", {}).get("conditions")
        return str(conditions[0]["message"]) if conditions else ""

    def ready_again(old_pid: int | None) -> int:
        pid = wait_for(lambda: (w := written(out)) and w["pid"] != old_pid and w["pid"], 30)
        wait_for(lambda: status(control_plane, pod_ns, "flaky")["status"].get("readyReplicas"),
                 30, "ready")  # fmt: skip
        return int(pid)

    def crash(pid: int, then_waits_s: int) -> None:
        os.kill(pid, signal.SIGKILL)
        expected = f"exited with code -9; restarting in {then_waits_s}s"
        wait_for(lambda: message() == expected, 30, expected)
        clock.now += then_waits_s  # the runner's time moves only here

    with Runner(control_plane, tmp_path / "runner", clock):
        pid = ready_again(None)
        crash(pid, 2)
        pid = ready_again(pid)
        crash(pid, 4)  # at once again: twice as long
        pid = ready_again(pid)
        clock.now += READY_RESETS_BACKOFF_S  # ready for a minute by the runner's clock
        crash(pid, 2)  # so the next crash is a first one again
        ready_again(pid)
