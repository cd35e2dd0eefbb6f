"""An Engine's `metadata.managedFields`: reset where no server-side apply manages it.

The API server records, on every write, which manager wrote which field (the field ownership
of server-side apply). An Engine pays for that at every status write (each runtime report and
heartbeat, each governance record, each phase): 9.7 ms of API-server CPU per status write with
it, 3.9 ms without (`bench/status_write_cost.py`; docs/operator.md "Managed fields"). The
ownership means something only to a server-side applier, which needs it to remove a field it
leaves out. Where every writer of an Engine is an update (`kubectl apply` client-side, Argo CD's
default sync, the operator's and the runtimes' merge patches), nothing reads it.

So, with `reset_engine_managed_fields` on, once per Engine the operator resets the list (a
write of `[{}]`); from then on the API server tracks no ownership on that Engine's updates,
until a server-side apply starts it again. An Engine that a server-side apply manages keeps its
list, and the cost: its applier could no longer remove what it leaves out. Off by default: a
first server-side apply after a reset removes what other writers added (a label, the operator's
finalizer) where the ownership would have kept it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from eternal_kernel.api.v1alpha1 import API_VERSION
from eternal_operator.kube import Conflict, KubeClient, KubeError

log = logging.getLogger(__name__)

RESET: list[dict[str, Any]] = [{}]
"""What resets the list (an empty list would not: clients unaware of the field send that)."""


def worth_dropping(metadata: Mapping[str, Any]) -> bool:
    """True when the object's ownership is tracked and no server-side applier relies on it."""
    entries = metadata.get("managedFields") or []
    return bool(entries) and all(e.get("operation") != "Apply" for e in entries)


async def drop_if_unused(kube: KubeClient, body: Mapping[str, Any], tries: int = 3) -> bool:
    """Reset the Engine's managed fields when `worth_dropping`; True if it did. Conditional on
    the resourceVersion it was read at, so a server-side apply that lands meanwhile keeps its
    ownership: the Engine is read again and looked at again."""
    meta = body.get("metadata") or {}
    namespace, name = meta.get("namespace"), meta.get("name", "")
    try:
        for _ in range(tries):
            if not worth_dropping(meta):
                return False
            reset = {"managedFields": RESET, "resourceVersion": meta.get("resourceVersion")}
            try:
                await kube.merge_patch(API_VERSION, "Engine", namespace, name, {"metadata": reset})
                return True
            except Conflict:
                fresh = await kube.get_or_none(API_VERSION, "Engine", namespace, name)
                meta = (fresh or {}).get("metadata") or {}
    except KubeError as error:  # gone, or refused: the next pass looks again
        log.debug("managed fields of Engine %s kept for now: %s", name, error)
    return False
