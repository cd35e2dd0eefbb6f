"""Leader election on a coordination.k8s.io/v1 Lease: of several replicas, exactly one acts.

kopf's peering lets replicas of equal priority both act, so the operator holds a Lease instead,
as client-go's leader election does: acquire it (or wait), renew it every fifth of its
duration, and stop acting the moment a renewal cannot be made before it expires.

Expiry is judged as client-go judges it (tools/leaderelection, `observedRecord` and
`observedTime`), never by comparing the holder's `renewTime` with this node's wall clock: a
candidate remembers the LOCAL MONOTONIC time at which it last saw the Lease record change
(holder, renewTime, any spec field or the resourceVersion), and the holder's Lease has expired
once `leaseDurationSeconds` have passed on this clock without a change. Clock skew between
nodes therefore cannot make a standby take over early (a holder's clock running behind) nor
wait forever (a holder's clock running ahead); only the rate of the clocks matters. The wall
clock only stamps `acquireTime`/`renewTime` for people to read.

The leader renews on a thread of its own, with its own event loop and its own connections
(`keep_apart`), as client-go renews in a goroutine of its own, so the operator's own work never
stands in a renewal's way (with 500 Engines created at once, the leader once failed to renew
within the deadline, and stepped down in the middle of creating them). A loop that is stuck
rather than busy stops answering the health endpoints it also serves, and is restarted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .kube import Conflict, KubeClient, KubeError, NotFound

log = logging.getLogger(__name__)


def _micro(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(lease: dict[str, Any]) -> tuple[str, str]:
    """What identifies one version of the Lease record: a change of either is a renewal."""
    spec = lease.get("spec") or {}
    return (
        str((lease.get("metadata") or {}).get("resourceVersion") or ""),
        repr(sorted(spec.items())),
    )


@dataclass
class Observation:
    """The Lease record as last seen, and the local monotonic time it was first seen so."""

    record: tuple[str, str]
    holder: str | None
    lease_seconds: float
    at: float


@dataclass
class LeaderElection:
    kube: KubeClient
    namespace: str
    name: str
    identity: str
    lease_seconds: float
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    """Wall clock: only for the acquireTime/renewTime stamps written into the Lease."""
    monotonic: Callable[[], float] = time.monotonic
    """Every expiry judgement uses this clock, and only this clock."""
    lost: bool = False
    observed: Observation | None = None
    """The Lease record as last seen (read, or written by us)."""
    renewed_at: float | None = None
    """Monotonic time just before our last successful write: our Lease is good until
    renewed_at + lease_seconds at the earliest anyone else can see it expire."""
    contacted_at: float | None = None
    """Monotonic time of the last answer from the API server about the Lease."""
    ticked_at: float = field(default_factory=time.monotonic)
    """Monotonic time the election loop last finished a round (answered or not)."""
    leading: bool = False

    def __post_init__(self) -> None:
        self.ticked_at = self.monotonic()

    @property
    def holder(self) -> str | None:
        return self.observed.holder if self.observed else None

    def _observe(self, lease: dict[str, Any], at: float) -> None:
        """Remember the record; the observation time moves only when the record changed."""
        record = _record(lease)
        if self.observed is not None and self.observed.record == record:
            return
        spec = lease.get("spec") or {}
        self.observed = Observation(
            record=record,
            holder=spec.get("holderIdentity") or None,
            lease_seconds=float(spec.get("leaseDurationSeconds") or 0),
            at=at,
        )

    def held_by_another(self) -> bool:
        """Another replica holds the Lease and it has changed within its duration, by our
        monotonic clock (client-go: holder set, observedTime + leaseDuration after now)."""
        seen = self.observed
        if seen is None or not seen.holder or seen.holder == self.identity:
            return False
        return self.monotonic() < seen.at + seen.lease_seconds

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

    async def try_acquire(self, kube: KubeClient | None = None) -> bool:
        """Take or renew the Lease if it is free, expired or ours; False if another holds it.
        `kube`: the client to do it with (by default `self.kube`)."""
        kube = kube or self.kube
        started = self.monotonic()
        try:
            current = await kube.get_or_none(
                "coordination.k8s.io/v1", "Lease", self.namespace, self.name
            )
            self.contacted_at = self.monotonic()
            if current is None:
                written = await kube.create(self._body(None, self.clock()))
            else:
                self._observe(current, self.contacted_at)
                if self.held_by_another():
                    return False
                written = await kube.replace(self._body(current, self.clock()))
        except (Conflict, NotFound):
            self.contacted_at = self.monotonic()
            return False  # someone else moved first; look again next round
        # Our own write: seen as of before it was sent, so our idea of our expiry is early.
        self.contacted_at = self.monotonic()
        self.renewed_at = started
        self.observed = None
        self._observe(written, started)
        return True

    async def _attempt(self, within: float, kube: KubeClient | None = None) -> bool:
        """One try_acquire that answers within `within` seconds (a KubeError if it cannot)."""
        try:
            if within <= 0:
                raise TimeoutError
            async with asyncio.timeout(within):
                return await self.try_acquire(kube)
        except TimeoutError as error:
            raise KubeError(0, f"no answer within {within:.1f}s") from error
        finally:
            self.ticked_at = self.monotonic()

    async def acquire(self, stop: asyncio.Event) -> bool:
        """Wait until this replica leads (True) or `stop` is set (False)."""
        waited = False
        while not stop.is_set():
            try:
                if await self._attempt(self.lease_seconds):
                    log.info("leader election: %s leads via Lease %s", self.identity, self.name)
                    self.leading = True
                    return True
            except KubeError as error:
                log.warning("leader election: cannot reach the API server: %s", error)
            if not waited:
                log.info(
                    "leader election: another replica leads (%s); %s waits",
                    self.holder,
                    self.identity,
                )
                waited = True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.lease_seconds / 3)
        return False

    async def keep(self, stop: asyncio.Event, kube: KubeClient | None = None) -> None:
        """Renew until `stop` (with `kube`, by default `self.kube`); on a lost Lease, mark
        `lost` and set `stop` before it expires.

        A renewal starts a fifth of the Lease after the last successful one started, at once if
        that took longer (an API server slow to answer: renewals then follow each other, each
        moving the deadline on); a failed one is retried every tenth. Each must succeed before
        two thirds of the Lease have passed since the last success (client-go's renew deadline):
        past that, this replica stops acting while the Lease it last wrote is still valid for
        everyone else, so two replicas never act at once."""

        def until_next() -> float:
            start = (self.renewed_at or self.monotonic()) + self.lease_seconds / 5
            return max(0.0, start - self.monotonic())

        pause = until_next()
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
                return
            except TimeoutError:
                pass
            deadline = (self.renewed_at or self.monotonic()) + self.lease_seconds * 2 / 3
            try:
                if await self._attempt(deadline - self.monotonic(), kube):
                    pause = until_next()
                    continue
                log.error("leader election: the Lease was taken over; stopping")
            except KubeError as error:
                if self.monotonic() < deadline:
                    log.warning("leader election: renewal failed (%s); retrying", error)
                    pause = max(0.0, min(self.lease_seconds / 10, deadline - self.monotonic()))
                    continue
                log.error("leader election: cannot renew before the Lease expires; stopping")
            self.lost = True
            self.leading = False
            stop.set()
            return

    async def keep_apart(self, stop: asyncio.Event, kube: KubeClient) -> None:
        """`keep` on a thread of its own, with its own event loop and its own client `kube`
        (made for it, closed when done), until `stop`; a lost Lease sets `stop` in this loop.
        The two loops share the elector's state (read by the health endpoints) and the stop."""
        loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]]
        started = concurrent.futures.Future()

        async def renew() -> None:
            mine = asyncio.Event()
            started.set_result((asyncio.get_running_loop(), mine))
            try:
                await self.keep(mine, kube)
            finally:
                await kube.close()
                if self.lost:
                    loop.call_soon_threadsafe(stop.set)

        thread = threading.Thread(
            target=asyncio.run, args=(renew(),), name="leader-election", daemon=True
        )
        thread.start()
        own_loop, mine = await asyncio.wrap_future(started)
        try:
            await stop.wait()
        finally:
            with contextlib.suppress(RuntimeError):  # its loop is closed: it stopped by itself
                own_loop.call_soon_threadsafe(mine.set)
            await asyncio.to_thread(thread.join)

    async def release(self) -> None:
        """Give the Lease up on a clean stop, so another replica takes over at once."""
        self.leading = False
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
