"""The local pod runner mounts a PersistentVolumeClaim's volume when the claim is bound to a
hostPath or local PersistentVolume: the PV's directory, read-only for the pod's process when
the mount says so (and only for it); a claim that is not bound, or bound to a PV of another kind,
does not start the pod and the Deployment's status says why. The test control plane has no PV
binder: claims are pre-bound (support/volumes.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support.kube import apply, get
from support.podrunner import Runner
from support.volumes import bound_host_path, claim, delete_volumes, persistent_volume
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
MANAGED_BY = "app.kubernetes.io/managed-by"

# A pod: reads a file of the data volume, tries to write next to it and into the scratch volume,
# records what happened (outside both volumes) and exits.
POD_SCRIPT = """
import json, os, pathlib
data, scratch = pathlib.Path(os.environ["DATA"]), pathlib.Path(os.environ["SCRATCH"])
record = {"read": (data / "candles.csv").read_text(), "data": str(data)}
try:
    (data / "written-by-pod").write_text("x")
    record["data_write"] = "ok"
except OSError as error:
    record["data_write"] = error.strerror
(scratch / "written-by-pod").write_text("y")
pathlib.Path(os.environ["OUT"]).write_text(json.dumps(record))
"""


def workload(kind: str, name: str, out: Path, volumes: list[dict[str, Any]],
             mounts: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    pod = {
        "restartPolicy": "Never" if kind == "Job" else "Always",
        "automountServiceAccountToken": False, "terminationGracePeriodSeconds": 2,
        "containers": [{
            "name": "main", "image": "unused", "command": ["python", "-c", POD_SCRIPT],
            "env": [{"name": "OUT", "value": str(out)},
                    {"name": "DATA", "value": "/data/2025"},
                    {"name": "SCRATCH", "value": "/scratch"}],
            "volumeMounts": mounts,
        }],
        "volumes": volumes,
    }  # fmt: skip
    meta = {"name": name, "labels": {MANAGED_BY: "eternal-engine-operator"}}
    if kind == "Job":
        return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta,
                "spec": {"backoffLimit": 0, "template": {"spec": pod}}}  # fmt: skip
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": {
        "replicas": 1, "selector": {"matchLabels": {"app": name}},
        "template": {"metadata": {"labels": {"app": name}}, "spec": pod}}}  # fmt: skip


def claim_volume(name: str, claim_name: str) -> dict[str, Any]:
    return {"name": name, "persistentVolumeClaim": {"claimName": claim_name}}


@pytest.fixture
def volumes(control_plane: ControlPlane) -> Iterator[list[str]]:
    """The PVs a test makes (cluster-scoped: deleted afterwards)."""
    made: list[str] = []
    yield made
    delete_volumes(control_plane, *made)


def test_a_bound_claim_is_its_volumes_directory_read_only_when_mounted_so(
    control_plane: ControlPlane, namespace: str, volumes: list[str], tmp_path: Path
) -> None:
    data, scratch = tmp_path / "data", tmp_path / "scratch"
    (data / "2025").mkdir(parents=True)
    scratch.mkdir()
    (data / "2025" / "candles.csv").write_text("timestamp,close\n")
    # scratch is a `local` PV (its node affinity means nothing on one machine)
    work = f"{namespace}-work"
    host = {"key": "kubernetes.io/hostname", "operator": "In", "values": ["this-machine"]}
    anywhere = {"required": {"nodeSelectorTerms": [{"matchExpressions": [host]}]}}
    local = {"local": {"path": str(scratch)}, "nodeAffinity": anywhere}
    apply(control_plane, namespace, persistent_volume(work, local, (namespace, "work")))
    apply(control_plane, namespace, claim("work", work))
    volumes += [bound_host_path(control_plane, namespace, "history", data), work]
    out = tmp_path / "out.json"
    apply(control_plane, namespace, workload(
        "Job", "reader", out,
        [claim_volume("data", "history"), claim_volume("scratch", "work")],
        [{"name": "data", "mountPath": "/data", "readOnly": True},
         {"name": "scratch", "mountPath": "/scratch"}],
    ))  # fmt: skip
    with Runner(control_plane, tmp_path / "runner"):
        control_plane.kubectl("wait", "job/reader", "-n", namespace, "--for=condition=Complete",
                              "--timeout=50s")  # fmt: skip
    seen = json.loads(out.read_text())
    assert seen["read"] == "timestamp,close\n"  # the PV's file, the mount path rewritten
    assert seen["data_write"] == "Read-only file system"
    assert not (data / "2025" / "written-by-pod").exists()
    assert (scratch / "written-by-pod").read_text() == "y"  # a read-write local PV writes
    # read-only for the pod's process alone: the directory is as writable as before
    (data / "2025" / "after").write_text("z")


def available_message(plane: ControlPlane, ns: str, name: str) -> str | None:
    found = get(plane, "deployment", name, ns) or {}
    for condition in (found.get("status") or {}).get("conditions") or []:
        if condition["type"] == "Available" and condition["status"] == "False":
            message = str(condition.get("message"))
            return message if message != "not running" else None
    return None


def test_a_claim_that_is_not_bound_to_a_local_volume_does_not_start_the_pod(
    control_plane: ControlPlane, namespace: str, volumes: list[str], tmp_path: Path
) -> None:
    other = f"{namespace}-nfs"
    apply(control_plane, namespace, claim("pending", None))
    apply(
        control_plane,
        namespace,
        persistent_volume(
            other, {"nfs": {"server": "127.0.0.1", "path": "/export"}}, (namespace, "remote")
        ),
    )
    apply(control_plane, namespace, claim("remote", other))
    taken = f"{namespace}-taken"
    apply(
        control_plane,
        namespace,
        persistent_volume(
            taken, {"hostPath": {"path": str(tmp_path)}}, (namespace, "someone-else")
        ),
    )
    apply(control_plane, namespace, claim("stolen", taken))
    volumes += [other, taken]
    cases = {  # what follows "volume data: persistentvolumeclaim <ns>/<claim>"
        "pending": " is not bound (phase Pending): no volume is bound to it",
        "remote": f": persistentvolume {other} is not hostPath or local, the only kinds of "
                  "volume that run locally",
        "stolen": f" is not bound: persistentvolume {taken} is bound to {namespace}/someone-else",
    }  # fmt: skip
    for name in cases:
        apply(control_plane, namespace, workload(
            "Deployment", f"uses-{name}", tmp_path / f"{name}.json",
            [claim_volume("data", name), {"name": "scratch", "emptyDir": {}}],
            [{"name": "data", "mountPath": "/data"}, {"name": "scratch", "mountPath": "/scratch"}],
        ))  # fmt: skip
    with Runner(control_plane, tmp_path / "runner"):
        for name, reason in cases.items():
            message = wait_for(lambda n=name: available_message(control_plane, namespace,
                                                                f"uses-{n}"),
                               30, f"the reason {name} did not start")  # fmt: skip
            assert message == f"volume data: persistentvolumeclaim {namespace}/{name}{reason}"
    for name in cases:
        assert not (tmp_path / f"{name}.json").exists()  # no pod ran
