"""A halt carried out by the operator itself: at once, and past its deadline whatever the
runtime does.

At once: when a halt is published, the operator flattens every account it governs
concurrently (`flatten_now`), racing the runtimes, which hear the same halt from the policy's
status. Both run the shared flatten with the halt's purpose (`halt:<policy>:<sequence>`), so
they plan the same closes under the same order ids: whoever sends first fills, the other's copy
is refused as a duplicate, and an account already flat is only read.

Each halted engine's directive carries `haltedAt`, when the halt first reached it, so a restarted
or newly elected operator keeps the deadline. Past `haltDeadlineSeconds` the operator reads the
account on the venue itself, through the shared flatten (same plan, same order ids as the
runtime's, so the two never double a close): a runtime that confirmed flat for the halting
directive, whose account is flat, is marked `verifiedFlatAt` (Event `HaltVerified`); otherwise
the operator closes what is open and scales the runtime to zero (`runtimeStopped`, Event
`OperatorFlattened`), and goes on trying, backing off, until the venue shows the account flat.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from eternal_kernel.bybit.flatten import FlattenResult
from eternal_operator.controllers.engine import render
from eternal_operator.controllers.engine.reconcile import Context
from eternal_operator.controllers.engine.status import reports_flat

from . import sources
from .measure import Account, on_account

log = logging.getLogger(__name__)

ENGINES_API = "trading.eternal-engine.io/v1alpha1"
RETRY_MAX_S = 60.0
"""A flatten the venue did not let finish is tried again after 2 s, 4 s, ... up to this."""

EventSink = Callable[[str, str, str, str | None], None]
"""(type, reason, message, engine name or None for the policy)."""


def stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def patch_engine(ctx: Context, namespace: str, engine: str, status: dict[str, Any]) -> None:
    """Merge-patch an Engine's status (governance writes only `status.governance`)."""
    await ctx.kube.merge_patch(
        ENGINES_API, "Engine", namespace, engine, {"status": status}, subresource="status"
    )


@dataclass
class HaltEnforcer:
    ctx: Context
    namespace: str
    policy: str
    events: EventSink
    _running: set[str] = field(default_factory=set)
    _done: set[tuple[str, str]] = field(default_factory=set)
    _failures: dict[str, int] = field(default_factory=dict)
    _retry_at: dict[str, datetime] = field(default_factory=dict)

    async def flatten_now(self, engines: list[Any], purpose: str) -> None:
        """Flatten every account of `engines` now, all at once; one Event on the policy says
        what was done. What fails here is left to the runtimes and to the deadline."""
        if not engines:
            return
        started = time.monotonic()
        results = await asyncio.gather(
            *(self._flatten(e, purpose) for e in engines), return_exceptions=True
        )
        took = time.monotonic() - started
        sent = sum(len(r.sent) for r in results if not isinstance(r, BaseException))
        flat = sum(1 for r in results if not isinstance(r, BaseException) and r.flat)
        failed = [f"{e.name}: {r}" for e, r in zip(engines, results, strict=True)
                  if isinstance(r, BaseException)]  # fmt: skip
        for line in failed:
            log.warning("governance: flattening at once failed for %s", line)
        message = (
            f"{purpose}: the operator flattened {len(engines)} accounts at once in {took:.2f}s: "
            f"{flat} flat, {sent} closes sent by it (the runtimes may have sent theirs first)"
        )
        if failed:
            message += f"; failed: {'; '.join(failed)[:512]}"
        self.events("Warning" if failed else "Normal", "FlattenedAtOnce", message, None)

    async def _flatten(self, engine: Any, purpose: str) -> FlattenResult:
        async def flatten(account: Account) -> FlattenResult:
            return await self.ctx.venue.flatten(
                account.engine, account.ref, account.keys, purpose=purpose
            )

        return await on_account(self.ctx, self.namespace, engine.name, engine.uid, engine.spec,
                                flatten)  # fmt: skip

    def enforce(self, deadline_s: float, engines: list[Any], now: datetime) -> None:
        """Start the check of every halted engine whose deadline has passed (in the
        background: a slow venue does not hold the evaluation up). No engines: no halt."""
        if not engines:
            self._done.clear()
        deadline = timedelta(seconds=deadline_s)
        for engine in engines:
            governance = engine.governance or {}
            halted_at = str(governance.get("haltedAt") or "")
            episode = (engine.name, halted_at)
            if (
                not governance.get("halt")
                or governance.get("verifiedFlatAt")
                or episode in self._done
                or engine.name in self._running
            ):
                continue
            since = sources.parse_time(halted_at) or now
            if now - since < deadline or now < self._retry_at.get(engine.name, since):
                continue
            self._running.add(engine.name)
            asyncio.create_task(self._enforce(engine, governance, episode))  # noqa: RUF006

    async def _enforce(
        self, snapshot: Any, governance: dict[str, Any], episode: tuple[str, str]
    ) -> None:
        name = snapshot.name
        runtime = snapshot.runtime or {}
        confirmed = reports_flat(governance, runtime)
        purpose = f"halt:{governance.get('policy') or self.policy}:{governance.get('sequence')}"
        try:
            result = await self._flatten(snapshot, purpose)
            trusted = confirmed and result.flat and not (result.sent or result.cancelled)
            if not trusted and not governance.get("runtimeStopped"):
                await self._stop_runtime(name)
                why = (
                    "the runtime reported flat but the venue did not show it"
                    if confirmed
                    else "the runtime did not confirm flat in time"
                )
                self.events("Warning", "OperatorFlattened",
                            f"{why}; the operator {result.summary()} and scaled it to zero",
                            name)  # fmt: skip
            if not result.flat:
                raise RuntimeError(f"not flat yet: {result.plan.describe()}")
            verified = {"verifiedFlatAt": stamp(self.ctx.clock())}
            await patch_engine(self.ctx, self.namespace, name, {"governance": verified})
            if trusted:
                residue = f" (residue: {', '.join(result.residue)})" if result.residue else ""
                self.events("Normal", "HaltVerified",
                            f"the venue shows the account flat{residue}", name)  # fmt: skip
            self._done.add(episode)
            self._failures.pop(name, None)
        except Exception as error:  # tried again later, backing off
            failures = self._failures[name] = self._failures.get(name, 0) + 1
            delay = min(RETRY_MAX_S, 2.0**failures)
            self._retry_at[name] = self.ctx.clock() + timedelta(seconds=delay)
            log.warning("governance: flattening %s failed: %s", name, error)
            self.events("Warning", "FlattenFailed",
                        f"cannot flatten through the venue: {error}; next try in {delay:.0f}s",
                        name)  # fmt: skip
        finally:
            self._running.discard(name)

    async def _stop_runtime(self, name: str) -> None:
        """Mark the directive (the Engine's reconcile then keeps it at zero) and scale now."""
        await patch_engine(self.ctx, self.namespace, name, {"governance": {"runtimeStopped": True}})
        await self.ctx.kube.merge_patch(
            "apps/v1", "Deployment", self.namespace, render.RuntimeNames.of(name).deployment,
            {"spec": {"replicas": 0}},
        )  # fmt: skip
