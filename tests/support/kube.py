"""kubectl-level helpers the cluster tests share."""

from __future__ import annotations

import base64
import json
from typing import Any

from eternal_operator.devtools.controlplane import ControlPlane


def apply(plane: ControlPlane, ns: str, obj: dict[str, Any]) -> None:
    plane.kubectl("apply", "-n", ns, "-f", "-", input=json.dumps(obj))


def get(plane: ControlPlane, kind: str, name: str, ns: str) -> dict[str, Any] | None:
    """The object, or None when it does not exist."""
    out = plane.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def secret(plane: ControlPlane, ns: str, name: str, data: dict[str, str]) -> None:
    apply(plane, ns, {
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": name},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    })  # fmt: skip
