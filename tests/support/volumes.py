"""PersistentVolumes on this machine for the cluster tests: the test control plane runs no PV
binder (kube-controller-manager has only the garbage-collector, namespace and admission-policy
status controllers), so a claim is bound the way Kubernetes allows without one, pre-bound: the
PV names the claim (`claimRef`) and the claim names the PV (`volumeName`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eternal_operator.devtools.controlplane import ControlPlane
from support.kube import apply


def persistent_volume(name: str, source: dict[str, Any], claim: tuple[str, str] | None
                      ) -> dict[str, Any]:  # fmt: skip
    """A 1Gi PV of `source` (e.g. {"hostPath": {"path": ...}}), pre-bound to `claim`
    (namespace, name) when given."""
    spec: dict[str, Any] = {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
        "persistentVolumeReclaimPolicy": "Retain", "storageClassName": "", **source,
    }  # fmt: skip
    if claim is not None:
        spec["claimRef"] = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                            "namespace": claim[0], "name": claim[1]}  # fmt: skip
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def claim(name: str, volume_name: str | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"accessModes": ["ReadWriteOnce"], "storageClassName": "",
                            "resources": {"requests": {"storage": "1Gi"}}}  # fmt: skip
    if volume_name is not None:
        spec["volumeName"] = volume_name
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def bound_host_path(plane: ControlPlane, ns: str, name: str, directory: Path) -> str:
    """Claim `ns/name` pre-bound to a hostPath PV of `directory`; returns the PV's name
    (cluster-scoped: delete it with `delete_volumes`)."""
    volume = f"{ns}-{name}"
    apply(
        plane,
        ns,
        persistent_volume(
            volume, {"hostPath": {"path": str(directory), "type": "Directory"}}, (ns, name)
        ),
    )
    apply(plane, ns, claim(name, volume))
    return volume


def delete_volumes(plane: ControlPlane, *names: str) -> None:
    if names:
        plane.kubectl("delete", "pv", *names, "--wait=false", "--ignore-not-found", check=False)
