"""Equity the operator measures itself, for engines whose runtime has gone quiet.

A running runtime says its equity every second at least (its Redis stream; each entry's id is
Redis' own time), revalued at the tickers' prices. A runtime silent for `QUIET_S` is frozen,
dead, restarting or cut off: exactly when a crash must not go unseen behind its last word. For
those engines the operator reads the account's equity on the venue itself, with the engine's own
keys (at most once every `REMEASURE_S` per engine, in the background), stamped before the read
as a runtime stamps its own, and governance takes whichever figure is newer. A halt does not
depend on a healthy runtime; neither does seeing the crash that calls for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TypeVar

from eternal_kernel.api.v1alpha1 import Engine
from eternal_kernel.breaker.evaluate import Observation
from eternal_operator.controllers.engine import claims, credentials, render
from eternal_operator.controllers.engine.reconcile import Context, secret_ref, subaccount_of

log = logging.getLogger(__name__)

T = TypeVar("T")

QUIET_S = 3.0
REMEASURE_S = 1.0
RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class Account:
    """An engine's account as the operator may touch it: its claim held, its keys loaded."""

    engine: Engine
    ref: render.EngineRef
    keys: credentials.ApiKeys
    kept: bool = False
    """The claim and keys are the ones the operator keeps (`ctx.accounts`), not read now."""


async def account_of(
    ctx: Context,
    namespace: str,
    name: str,
    uid: str,
    spec: dict[str, object],
    *,
    fresh: bool = False,
) -> Account:
    """The engine's account, from what the operator keeps of it unless `fresh` or there is
    none; else its claim and Secret read now. RuntimeError saying why the operator may not
    touch it."""
    engine = Engine.model_validate({"spec": spec})
    ref = render.EngineRef(name, namespace, uid)
    subaccount, secret = subaccount_of(engine), secret_ref(engine, ref)
    kept = None if fresh else ctx.accounts.keys(uid, subaccount, secret)
    if kept is not None:
        return Account(engine, ref, kept, kept=True)
    refused = await claims.claim(ctx.kube, ctx.settings.pod_namespace, subaccount, ref)
    if refused is not None:
        ctx.accounts.forget(uid)
        raise RuntimeError(f"{refused.message}: not touched")
    keys = await credentials.load(ctx.kube, secret)
    if not isinstance(keys, credentials.ApiKeys):
        ctx.accounts.forget(uid)
        raise RuntimeError(keys.message)
    ctx.accounts.keep(uid, subaccount, secret, keys)
    return Account(engine, ref, keys)


async def on_account(
    ctx: Context,
    namespace: str,
    name: str,
    uid: str,
    spec: dict[str, object],
    act: Callable[[Account], Awaitable[T]],
) -> T:
    """`act` on the engine's account. Refused with kept keys, it is tried once more with the
    Secret's keys if they are other keys now (rotated since the Engine's last reconcile); with
    the same keys, or keys read just now, the refusal stands."""
    account = await account_of(ctx, namespace, name, uid, spec)
    try:
        return await act(account)
    except Exception:
        if not account.kept:
            raise
        fresh = await account_of(ctx, namespace, name, uid, spec, fresh=True)
        if fresh.keys == account.keys:
            raise
        return await act(fresh)


@dataclass
class VenueEquity:
    ctx: Context
    namespace: str
    measured: dict[str, Observation] = field(default_factory=dict)
    _last_try: dict[str, float] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)
    """Failed readings in a row by engine: the next waits 2, 4, ... up to 30 s."""
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    _first_seen: dict[str, datetime] = field(default_factory=dict)
    """When this operator first asked about an engine: a runtime never heard from is quiet
    only QUIET_S after that (it may be starting, or its first word not yet in the index)."""

    def freshest(
        self, observed: Observation, spec: dict[str, object], uid: str, now: datetime
    ) -> Observation:
        """The newer of the runtime's figure and the operator's own; a new reading is started
        when the runtime has been quiet for QUIET_S and the operator's own is older than that."""
        mine = self.measured.get(observed.engine)
        best = observed
        if (
            mine is not None
            and mine.at is not None
            and (observed.at is None or mine.at > observed.at)
        ):
            best = mine
        quiet = timedelta(seconds=QUIET_S)
        heard = observed.heard or observed.at or self._first_seen.setdefault(observed.engine, now)
        if now - heard > quiet and (best.at is None or now - best.at > quiet):
            self._start(observed.engine, spec, uid)
        return best

    def _start(self, engine: str, spec: dict[str, object], uid: str) -> None:
        clock = time.monotonic()
        in_flight = any(t.get_name() == engine for t in self._tasks)
        wait = min(RETRY_MAX_S, 2.0 ** self._failures[engine]) if engine in self._failures else 0
        if in_flight or clock - self._last_try.get(engine, 0.0) < max(REMEASURE_S, wait):
            return
        self._last_try[engine] = clock
        task = asyncio.create_task(self._measure(engine, spec, uid), name=engine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _measure(self, engine: str, spec: dict[str, object], uid: str) -> None:
        async def read(account: Account) -> tuple[datetime, Decimal]:
            at = self.ctx.clock()  # before the read: a figure never claims to be newer
            return at, await self.ctx.venue.equity(account.engine, account.ref, account.keys)

        try:
            at, equity = await on_account(self.ctx, self.namespace, engine, uid, spec, read)
        except Exception as error:  # tried again, backing off; the figure stays unknown
            failures = self._failures[engine] = self._failures.get(engine, 0) + 1
            level = logging.WARNING if failures == 1 else logging.DEBUG  # said once, not per try
            log.log(level, "governance: cannot measure %s on the venue: %s", engine, error)
            return
        self._failures.pop(engine, None)
        if engine not in self.measured:
            log.info("governance: measuring %s on the venue (its runtime is quiet)", engine)
        self.measured[engine] = Observation(engine, equity, at)

    def forget(self, engines: set[str]) -> None:
        """Drop figures of engines no longer governed."""
        for name in set(self.measured) - engines:
            del self.measured[name]
        for name in set(self._failures) - engines:
            del self._failures[name]
        for name in set(self._first_seen) - engines:
            del self._first_seen[name]
