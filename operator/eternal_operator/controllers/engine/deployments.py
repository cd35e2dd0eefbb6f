"""The runtime Deployments as the operator's watch last saw them (a kopf index), for the phase
pass: what it needs of one (that it is there, which Engine controls it, its replicas) without a
read each pass. A fleet that halts or resumes together runs a phase pass per Engine at once,
when the API server and the operator's loop are busiest; each read was a request to serve and a
Deployment to decode.

The watch may lag the operator's own write by a moment: the pass then finds no Deployment, or
replicas other than the Engine's status wants, and runs the whole reconcile, which reads and
applies; what the pass takes from a view that is a moment old is only the phase, which the
Engine's next event or resync looks at again."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from eternal_operator.controllers.owned import MANAGED_BY

from .render import RUNTIME_APP

RUNTIME_LABELS = {"app.kubernetes.io/name": RUNTIME_APP, "app.kubernetes.io/managed-by": MANAGED_BY}
"""The labels every runtime Deployment the operator renders carries (`render.labels`)."""


@dataclass(frozen=True)
class Seen:
    owner: str
    """The uid of the object that controls it (its Engine)."""
    replicas: int


Index = Mapping[tuple[str, str], Collection[Seen]]
"""(namespace, Deployment name) -> what the watch saw of it (kopf keeps one per object)."""


def seen(namespace: str, name: str, body: Mapping[str, Any]) -> dict[tuple[str, str], Seen]:
    """The index entry of one runtime Deployment."""
    meta = body.get("metadata") or {}
    owner = next((o.get("uid") or "" for o in meta.get("ownerReferences") or []
                  if o.get("controller")), "")  # fmt: skip
    replicas = (body.get("spec") or {}).get("replicas")
    return {(namespace, name): Seen(owner, 1 if replicas is None else int(replicas))}


def lookup(index: Index, namespace: str, name: str) -> Seen | None:
    return next(iter(index.get((namespace, name)) or ()), None)
