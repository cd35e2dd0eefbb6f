"""The objects the operator renders for each Engine (its runtime's ConfigMap, ServiceAccount,
Role, RoleBinding, Service and Deployment) as the operator's watch last saw them: one kopf index
per kind. The whole reconcile compares what it renders with them instead of reading each object
but the Deployment (at 500 Engines resynced every 30 s, those five reads were about 80 requests
a second for the API server to serve, and about 2,700 of the 9,100 it served while the fleet
halted); the phase pass takes the Deployment's owner and replicas from them.

The watch may lag the operator's own write by a moment. An object not seen yet is applied (an
apply of what is there already changes nothing); one seen as it was before is applied again.
What a moment-old view can hide is someone else's change made in that moment: the next resync
sees it and puts it right, as a read then would have. An object is kept as compact JSON without
its status and managed fields (a few KB each, not a tree of Python objects)."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from eternal_operator.controllers.owned import MANAGED_BY

from .render import RUNTIME_APP

RUNTIME_LABELS = {"app.kubernetes.io/name": RUNTIME_APP, "app.kubernetes.io/managed-by": MANAGED_BY}
"""The labels every object the operator renders for an Engine carries (`render.labels`)."""

KINDS = {
    "ConfigMap": ("v1", "configmaps"),
    "ServiceAccount": ("v1", "serviceaccounts"),
    "Role": ("rbac.authorization.k8s.io/v1", "roles"),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings"),
    "Service": ("v1", "services"),
    "Deployment": ("apps/v1", "deployments"),
}
"""Each kind `render.render_all` renders: its apiVersion and plural, for its index."""


def index_id(kind: str) -> str:
    """The kopf index of one kind (kopf passes it to handlers by this name)."""
    return f"runtime_{KINDS[kind][1]}"


@dataclass(frozen=True)
class Seen:
    owner: str
    """The uid of the object that controls it (its Engine)."""
    replicas: int
    """A Deployment's replicas (the API server's default of 1 when unset); 0 for other kinds."""
    body: bytes = b"{}"
    """The object, without its status and managed fields, as JSON."""

    def object(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.body)
        return found


Index = Mapping[tuple[str, str], Collection[Seen]]
"""(namespace, name) -> what the watch saw of the object (kopf keeps one per object)."""

Watched = Mapping[str, Index]
"""Kind -> the index of that kind."""


def seen(namespace: str, name: str, body: Mapping[str, Any]) -> dict[tuple[str, str], Seen]:
    """The index entry of one object."""
    meta = dict(body.get("metadata") or {})
    owner = next((o.get("uid") or "" for o in meta.get("ownerReferences") or []
                  if o.get("controller")), "")  # fmt: skip
    replicas = 0
    if body.get("kind") == "Deployment":
        wanted = (body.get("spec") or {}).get("replicas")
        replicas = 1 if wanted is None else int(wanted)
    meta.pop("managedFields", None)
    kept = {k: v for k, v in body.items() if k not in ("status", "metadata")}
    text = json.dumps({**kept, "metadata": meta}, separators=(",", ":"))
    return {(namespace, name): Seen(owner, replicas, text.encode())}


def lookup(index: Index, namespace: str, name: str) -> Seen | None:
    return next(iter(index.get((namespace, name)) or ()), None)


def live(watched: Watched, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    """The object as the watch last saw it, or None when it has not seen it."""
    found = lookup(watched.get(kind) or {}, namespace, name)
    return None if found is None else found.object()
