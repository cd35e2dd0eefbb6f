"""PersistentVolumeClaim volumes on this machine: a claim bound to a `hostPath` or `local`
PersistentVolume is that PV's directory here, and a read-only mount is made read-only for the
pod's process alone.

A claim is bound when the binding holds both ways, as Kubernetes defines it: the claim's
`spec.volumeName` names the PV and the PV's `spec.claimRef` names the claim (its uid too, once
set). That is what the PV binder of kube-controller-manager sets up (or checks, for a pre-bound
pair) before it writes phase `Bound`; the local control plane runs no binder, so a pre-bound pair
whose phase still reads `Pending` is bound here as it would be on a cluster. A claim without a
volume, or whose PV is bound to another claim, or is `Lost`, is not.

Read-only: the pod's command runs in its own mount namespace (`unshare --mount`, private
propagation; with `--map-root-user` when the runner is not root) where the PV's directory is
bind-mounted onto itself read-only, so the process cannot write it while every other process on
the machine sees it as before, and the mount goes away with the process.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from eternal_operator.kube import KubeClient

Obj = dict[str, Any]

LOCAL_KINDS = ("hostPath", "local")
"""The PersistentVolume sources whose data is a directory on this machine."""

# Bind each directory before "--" onto itself read-only, then exec the command after it.
_READ_ONLY = (
    'for d; do [ "$d" = -- ] && break; mount --bind -o ro "$d" "$d" || exit 126; shift; done; '
    'shift; exec "$@"'
)


class ClaimError(Exception):
    """The claim cannot be mounted here (not bound, not a local kind of volume, missing)."""


async def claimed_directory(kube: KubeClient, namespace: str, claim_name: str) -> Path:
    """The directory on this machine holding claim `namespace/claim_name`'s volume."""
    what = f"persistentvolumeclaim {namespace}/{claim_name}"
    claim = await kube.get_or_none("v1", "PersistentVolumeClaim", namespace, claim_name)
    if claim is None:
        raise ClaimError(f"{what} not found")
    phase = (claim.get("status") or {}).get("phase") or "Pending"
    volume_name = (claim.get("spec") or {}).get("volumeName")
    if not volume_name:
        raise ClaimError(f"{what} is not bound (phase {phase}): no volume is bound to it")
    if phase == "Lost":
        raise ClaimError(f"{what} is Lost: its volume {volume_name} is gone")
    volume = await kube.get_or_none("v1", "PersistentVolume", None, volume_name)
    if volume is None:
        raise ClaimError(f"{what} is not bound: its volume {volume_name} does not exist")
    spec = volume.get("spec") or {}
    ref = spec.get("claimRef") or {}
    uid = (claim.get("metadata") or {}).get("uid")
    if (ref.get("namespace"), ref.get("name")) != (namespace, claim_name) or (
        ref.get("uid") and ref["uid"] != uid
    ):
        holder = f"{ref.get('namespace')}/{ref.get('name')}" if ref else "no claim"
        raise ClaimError(f"{what} is not bound: persistentvolume {volume_name} is bound to "
                         f"{holder}")  # fmt: skip
    kind = next((k for k in LOCAL_KINDS if k in spec), None)
    if kind is None:
        raise ClaimError(f"{what}: persistentvolume {volume_name} is not hostPath or local, the "
                         "only kinds of volume that run locally")  # fmt: skip
    directory = Path(spec[kind]["path"])
    if kind == "hostPath" and spec[kind].get("type") == "DirectoryOrCreate":
        directory.mkdir(parents=True, exist_ok=True)
    if not directory.is_dir():
        raise ClaimError(f"{what}: persistentvolume {volume_name}'s {kind} path {directory} is "
                         "not a directory on this machine")  # fmt: skip
    return directory


def read_only_command(directories: list[Path], argv: list[str]) -> list[str]:
    """`argv` run with `directories` read-only for it alone (its own mount namespace)."""
    if not directories:
        return argv
    unshare = shutil.which("unshare")
    if unshare is None:
        raise ClaimError("a read-only volume needs unshare(1) (util-linux) on this machine")
    user = [] if os.geteuid() == 0 else ["--map-root-user"]
    return [unshare, "--mount", "--propagation", "private", *user, "--",
            "sh", "-c", _READ_ONLY, "sh", *(str(d) for d in directories), "--", *argv]  # fmt: skip
