"""One subaccount, one Engine, cluster-wide.

Before the operator provisions, loads or uses any key for an Engine, the Engine claims its
subaccount: a coordination.k8s.io/v1 Lease in the operator's own namespace, named after the
venue and the subaccount and held by the Engine (`namespace/name/uid`). Creating a Lease is
atomic, so of two Engines naming one subaccount, in any namespaces, exactly one holds it; the
other is refused with `SubaccountConflict` (a condition and an Event), and gets no key and no
venue call. A subaccount named by its username is claimed under its UID as well once the venue
has told the UID, so the two names of one account cannot go to two Engines. A claim whose
holder no longer exists (that namespace/name with that uid) is taken over; the Engine's deletion
releases it, once its orders are cancelled.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from eternal_kernel.api.v1alpha1 import API_VERSION, GROUP
from eternal_kernel.api.v1alpha1.engine_conditions import EngineReason as R
from eternal_operator.kube import Conflict, KubeClient, KubeError

from .render import EngineRef
from .status import Problem

log = logging.getLogger(__name__)

LEASES = "coordination.k8s.io/v1"
CLAIM_LABEL = f"{GROUP}/subaccount-claim"
SUBACCOUNT_ANNOTATION = f"{GROUP}/subaccount"


@dataclass(frozen=True)
class Subaccount:
    venue: str
    name: str

    @property
    def lease(self) -> str:
        """A DNS-safe name for it; Bybit usernames are compared without regard to case."""
        digest = hashlib.sha256(self.name.lower().encode()).hexdigest()[:24]
        return f"subaccount-{self.venue}-{digest}"

    def __str__(self) -> str:
        return f"{self.name} ({self.venue})"


def holder_of(ref: EngineRef) -> str:
    return f"{ref.namespace}/{ref.name}/{ref.uid}"


def _lease(account: Subaccount, namespace: str, holder: str, version: str | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": account.lease,
        "namespace": namespace,
        "labels": {CLAIM_LABEL: "true"},
        "annotations": {SUBACCOUNT_ANNOTATION: str(account)},
    }
    if version:
        metadata["resourceVersion"] = version
    return {"apiVersion": LEASES, "kind": "Lease", "metadata": metadata,
            "spec": {"holderIdentity": holder}}  # fmt: skip


async def _holder_exists(kube: KubeClient, holder: str) -> bool:
    namespace, name, uid = [*holder.split("/"), "", "", ""][:3]
    try:
        engine = await kube.get_or_none(API_VERSION, "Engine", namespace, name)
    except KubeError as error:
        if error.status == 403:  # a namespace this operator does not serve: assume it lives
            return True
        raise
    return engine is not None and engine["metadata"].get("uid") == uid


async def claim(
    kube: KubeClient, namespace: str, account: Subaccount, ref: EngineRef
) -> Problem | None:
    """Hold `account` for this Engine; a Problem naming the holder if another Engine does."""
    mine = holder_of(ref)
    for _ in range(3):  # a lost race re-reads, at most twice
        lease = await kube.get_or_none(LEASES, "Lease", namespace, account.lease)
        try:
            if lease is None:
                await kube.create(_lease(account, namespace, mine, None))
                log.info("subaccount %s claimed for %s", account, mine)
                return None
            holder = str((lease.get("spec") or {}).get("holderIdentity") or "")
            if holder == mine:
                return None
            if holder and await _holder_exists(kube, holder):
                other = "/".join(holder.split("/")[:2])
                return Problem(
                    R.SUBACCOUNT_CONFLICT,
                    f"subaccount {account} belongs to Engine {other}: one subaccount, one "
                    "Engine; no key was provisioned or used for this one",
                )
            version = lease["metadata"].get("resourceVersion")
            await kube.replace(_lease(account, namespace, mine, version))
            log.info("subaccount %s taken over from %s (gone) by %s", account, holder, mine)
            return None
        except Conflict:
            continue
    return Problem(R.SUBACCOUNT_CONFLICT, f"subaccount {account} is being claimed concurrently")


async def release(kube: KubeClient, namespace: str, ref: EngineRef) -> None:
    """Give up every claim this Engine holds (its subaccount by each of its names)."""
    listed = await kube.request(
        "GET", f"/apis/{LEASES}/namespaces/{namespace}/leases",
        params={"labelSelector": f"{CLAIM_LABEL}=true"},
    )  # fmt: skip
    for lease in listed.get("items") or []:
        if (lease.get("spec") or {}).get("holderIdentity") == holder_of(ref):
            await kube.delete(LEASES, "Lease", namespace, lease["metadata"]["name"])
            account = (lease["metadata"].get("annotations") or {}).get(SUBACCOUNT_ANNOTATION)
            log.info("subaccount %s released by %s", account, holder_of(ref))
