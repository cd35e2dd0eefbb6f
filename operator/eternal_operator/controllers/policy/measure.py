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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from eternal_kernel.api.v1alpha1 import Engine
from eternal_kernel.breaker.evaluate import Observation
from eternal_operator.controllers.engine import claims, credentials, render
from eternal_operator.controllers.engine.reconcile import Context, subaccount_of

log = logging.getLogger(__name__)

QUIET_S = 3.0
REMEASURE_S = 1.0
RETRY_MAX_S = 30.0


@dataclass(frozen=True)
class Account:
    """An engine's account as the operator may touch it: its claim held, its keys loaded."""

    engine: Engine
    ref: render.EngineRef
    keys: credentials.ApiKeys


async def account_of(
    ctx: Context, namespace: str, name: str, uid: str, spec: dict[str, object]
) -> Account:
    """The engine's account, or RuntimeError saying why the operator may not touch it."""
    engine = Engine.model_validate({"spec": spec})
    ref = render.EngineRef(name, namespace, uid)
    refused = await claims.claim(ctx.kube, ctx.settings.pod_namespace, subaccount_of(engine), ref)
    if refused is not None:
        raise RuntimeError(f"{refused.message}: not touched")
    secret, key_key, secret_key = render.credentials_ref(engine, ref)
    keys = await credentials.load(
        ctx.kube, credentials.SecretRef(namespace, secret, key_key, secret_key)
    )
    if not isinstance(keys, credentials.ApiKeys):
        raise RuntimeError(keys.message)
    return Account(engine, ref, keys)


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
        try:
            account = await account_of(self.ctx, self.namespace, engine, uid, spec)
            at = self.ctx.clock()  # before the read: a figure never claims to be newer
            equity = await self.ctx.venue.equity(account.engine, account.ref, account.keys)
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
