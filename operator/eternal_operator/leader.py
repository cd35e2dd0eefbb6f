"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas, exactly one acts.

kopf's peering lets replicas of equal priority both act, so the operator holds a Lease instead,
as client-go's leader election does: acquire it (or wait), renew it every third of its
duration, and stop acting the moment a renewal cannot be made before it expires.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from .kube import Conflict, KubeClient, KubeError, NotFound

log = logging.getLogger(__name__)


def _micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.strptime(text.replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")


@dataclass
class LeaderElection:
    kube: KubeClient
    namespace: str
    name: str
    identity: str
    lease_seconds: float
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    lost: bool = False

    def _body(self, current: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
        spec = dict((current or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = _micro(now)
            spec["leaseTransitions"] = int(spec.get("leaseTransitions") or 0) + (
                1 if current else 0
            )
        spec.update(
            holderIdentity=self.identity,
            leaseDurationSeconds=max(1, round(self.lease_seconds)),
            renewTime=_micro(now),
        )
        metadata: dict[str, Any] = {"name": self.name, "namespace": self.namespace}
        if current:
            metadata["resourceVersion"] = current["metadata"]["resourceVersion"]
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": metadata,
            "spec": spec,
        }

    async def try_acquire(self) -> bool:
        """Take or renew the Lease if it is free, expired or ours; False if another holds it."""
        now = self.clock()
        try:
            current = await self.kube.get_or_none(
                "coordination.k8s.io/v1", "Lease", self.namespace, self.name
            )
            if current is None:
                await self.kube.create(self._body(None, now))
                return True
            spec = current.get("spec") or {}
            holder = spec.get("holderIdentity")
            renewed = _parse(spec.get("renewTime"))
            duration = timedelta(seconds=float(spec.get("leaseDurationSeconds") or 0))
            if holder and holder != self.identity and renewed and now < renewed + duration:
                return False
            await self.kube.replace(self._body(current, now))
            return True
        except (Conflict, NotFound):
            return False  # someone else moved first; look again next round

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True) or `stop` is set (False)."""
        waited = False
        while not stop.is_set():
            try:
                if await self.try_acquire():
                    log.info("leader election: %s leads via Lease %s", self.identity, self.name)
                    return True
            except KubeError as error:
                log.warning("leader election: cannot reach the API server: %s", error)
            if not waited:
                log.info("leader election: another replica leads; %s waits", self.identity)
                waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.lease_seconds / 3)
        return False

    async def keep(self, stop: asyncio.Event) -> None:
        """Renew until `stop`; on a lost Lease, mark `lost` and set `stop` before it expires."""
        last_renewal = self.clock()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.lease_seconds / 3)
                return
            except TimeoutError:
                pass
            try:
                if await self.try_acquire():
                    last_renewal = self.clock()
                    continue
                log.error("leader election: the Lease was taken over; stopping")
            except KubeError as error:
                remaining = last_renewal + timedelta(seconds=self.lease_seconds) - self.clock()
                if remaining > timedelta(seconds=self.lease_seconds / 3):
                    log.warning("leader election: renewal failed (%s); retrying", error)
                    continue
                log.error("leader election: cannot renew before the Lease expires; stopping")
            self.lost = True
            stop.set()
            return

    async def release(self) -> None:
        """Give the Lease up on a clean stop, so another replica takes over at once."""
        if self.lost:
            return
        try:
            current = await self.kube.get_or_none(
                "coordination.k8s.io/v1", "Lease", self.namespace, self.name
            )
            if current and (current.get("spec") or {}).get("holderIdentity") == self.identity:
                body = self._body(current, self.clock())
                body["spec"]["holderIdentity"] = None
                body["spec"]["leaseDurationSeconds"] = 1
                await self.kube.replace(body)
        except KubeError as error:
            log.warning("leader election: could not release the Lease: %s", error)
