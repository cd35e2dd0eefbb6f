"""Light stand-ins for a fleet's runtimes, as far as governance goes: each plays one engine's
runtime in this process through the runtime's own code (an `EngineClient` with the engine's
ServiceAccount token, the runtime's `Watcher`s on its Engine and on the policies, a
`Governor`, the runtime's `obey` over an account that holds nothing), reports `status.runtime`
at the runtime's cadence and its equity to the Redis stream governance reads."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
import time
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx2
import redis.asyncio as aioredis
from governance_records import NAMESPACE

from engine_runtime.app.obey import Obedience, obey
from engine_runtime.governance.kube import EngineClient, KubeError
from engine_runtime.governance.obedience import Governor
from engine_runtime.governance.watcher import Watcher
from engine_runtime.persistence.cache import EQUITY_MAXLEN, equity_key
from engine_runtime.reporting.errors import ErrorRegistry
from engine_runtime.reporting.status import status_patch
from eternal_kernel.api.v1alpha1.engine import RuntimeReport
from eternal_kernel.bybit.flatten import FlattenResult
from eternal_kernel.kube.transport import AiohttpTransport
from eternal_operator.kube import KubeClient

log = logging.getLogger("governance_bench")

RUNTIME_REPORT_S = 10.0
"""A runtime's status report interval (`report_interval_seconds`' default): stand-ins' too."""
EQUITY_HEARTBEAT_S = 1.0
"""A runtime says its equity at least this often (engine_runtime.app.runtime): stand-ins too."""
STANDIN_EQUITY = "1000"


class StandIn:
    """One engine's runtime, as far as governance goes: the runtime's watchers and Governor,
    its status report (runtime's cadence), its obedience (the runtime's own `obey`: a
    directive applied at once, a halt flat at once, it holds nothing; each reported once the
    Engine's record shows it, as a runtime's is)."""

    def __init__(self, name: str, client: EngineClient, fleet: StandIns) -> None:
        self.name, self.client, self.fleet = name, client, fleet
        self.governor = Governor(name)
        self.report_now = asyncio.Event()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.obedience = Obedience(
            governor=self.governor, flattener=Holdings(), cancel_all=_nothing,
            resync=_nothing, save_checkpoint=_nothing, governance_event=_nothing,
            publish_event=_nothing, errors=ErrorRegistry(), report_now=self.report_now,
            spawn=self._spawn,
        )  # fmt: skip
        self.halted = False
        self.changed_at: float | None = None
        """Monotonic time the Governor's `halted` last flipped."""

    def _observe_engine(self, engine: dict[str, Any]) -> None:
        self.governor.observe(engine)
        self._note()

    def _observe_policy(self, policy: dict[str, Any]) -> None:
        self.governor.observe_policy(policy)
        self._note()

    def _note(self) -> None:
        if self.governor.halted != self.halted:
            self.halted = self.governor.halted
            self.changed_at = time.monotonic()
            self.fleet.flipped(self.halted)

    async def run(self, first_report_in: float) -> None:
        watchers = [
            Watcher("engine", self.client.engines, self._observe_engine),
            Watcher("policies", self.client.policies, self._observe_policy),
        ]
        tasks = [asyncio.create_task(w.run()) for w in watchers]
        tasks.append(asyncio.create_task(self._obey()))
        try:
            await asyncio.sleep(first_report_in)
            while True:
                await self.report()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.report_now.wait(), RUNTIME_REPORT_S)
                self.report_now.clear()
        finally:
            for w in watchers:
                w.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.client.close()

    async def _obey(self) -> None:
        governor = self.governor
        while True:
            await governor.wake.wait()
            governor.wake.clear()
            await obey(self.obedience)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def report(self) -> None:
        governor = self.governor
        sent = time.time_ns() // 1_000_000
        beat = datetime.fromtimestamp(sent / 1000, UTC).replace(microsecond=0)
        report = RuntimeReport(
            equity=STANDIN_EQUITY, cash=STANDIN_EQUITY, day_pnl="0", drawdown="0",
            open_orders=0, heartbeat=beat,
            applied_directive=governor.reported_sequence, flat=True, venue_connected=True,
            shutdown_done_at=governor.shutdown_done_at,
        )  # fmt: skip
        try:
            engine = await self.client.patch_status(status_patch(report))
        except (KubeError, httpx2.HTTPError, TimeoutError, OSError) as error:
            # as the runtime does: the next report in RUNTIME_REPORT_S (the audit counts these)
            log.debug("%s: status patch failed: %s", self.name, error)
            return
        self._observe_engine(engine)  # the answer is the Engine as of this write
        governor.confirm(sent)


class Holdings:
    """A stand-in's account: it holds nothing, so every flatten finds it flat."""

    async def flatten(self, purpose: str, *, directional_only: bool = False) -> FlattenResult:
        return FlattenResult(flat=True)


async def _nothing(*_: Any) -> Any:
    return 0


class StandIns:
    """The stand-ins of a fleet, and when their Governors were last all halted / all lifted."""

    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self.members: list[StandIn] = []
        self.halted = 0
        self.all_halted = asyncio.Event()
        self.all_lifted = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def flipped(self, halted: bool) -> None:
        self.halted += 1 if halted else -1
        if self.halted == len(self.members):
            self.all_halted.set()
        if self.halted == 0:
            self.all_lifted.set()

    async def start(self, kube: KubeClient, names: list[str], ca_file: Path) -> None:
        """A ServiceAccount token per engine (the runtime's own RBAC and admission rules), then
        the stand-ins, started over a few seconds as a fleet's pods would be."""
        context = ssl.create_default_context(cafile=str(ca_file))
        limit = asyncio.Semaphore(16)

        async def token(name: str) -> str:
            async with limit:
                answer = await kube.request(
                    "POST", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts/{name}-runtime/token",
                    {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                     "spec": {"expirationSeconds": 86400}},
                )  # fmt: skip
                return str(answer["status"]["token"])

        tokens = await asyncio.gather(*(token(n) for n in names))
        for name, secret in zip(names, tokens, strict=True):
            headers = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
            client = EngineClient(
                functools.partial(  # over aiohttp, as the runtimes' client (kubeconfig.connect)
                    httpx2.AsyncClient,
                    base_url=kube.host,
                    headers=headers,
                    transport=AiohttpTransport(context),
                ),
                NAMESPACE,
                name,
            )
            self.members.append(StandIn(name, client, self))
        for i, member in enumerate(self.members):
            # first reports spread over the report interval, as runtimes started apart
            self._tasks.append(asyncio.create_task(member.run(RUNTIME_REPORT_S * i / len(names))))
            if i % 25 == 24:
                await asyncio.sleep(0.5)
        self._tasks.append(asyncio.create_task(self._equity()))

    async def _equity(self) -> None:
        """Every stand-in's equity into its Redis stream, every second, one pipeline for all:
        governance takes a runtime heard from within 3 s as live (and reads no venue for it)."""
        client = aioredis.from_url(self.redis_url, socket_timeout=5, socket_connect_timeout=5)
        try:
            while True:
                ts = str(time.time_ns() // 1_000_000)
                async with client.pipeline(transaction=False) as pipe:
                    for member in self.members:
                        pipe.xadd(equity_key(NAMESPACE, member.name),
                                  {"equity": STANDIN_EQUITY, "ts": ts},
                                  maxlen=EQUITY_MAXLEN, approximate=True)  # fmt: skip
                    with contextlib.suppress(Exception):
                        await pipe.execute()
                await asyncio.sleep(EQUITY_HEARTBEAT_S)
        finally:
            await client.aclose()

    def arm(self, halting: bool) -> None:
        """Before a halt (or a resume): its time is the last flip from now on."""
        (self.all_halted if halting else self.all_lifted).clear()

    async def last(self, halting: bool, started: float, limit_s: float) -> float:
        event = self.all_halted if halting else self.all_lifted
        want = len(self.members) if halting else 0
        try:
            await asyncio.wait_for(event.wait(), limit_s - (time.monotonic() - started))
        except TimeoutError:
            raise TimeoutError(
                f"stand-ins {'told' if halting else 'lifted'}: {self.halted} of "
                f"{len(self.members)} halted, want {want}"
            ) from None
        return max(m.changed_at or started for m in self.members) - started

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
