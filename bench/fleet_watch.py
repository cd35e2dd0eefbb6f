"""A fleet's Engines as one watch on the API server shows them, and the stages a bench waits
for (each a check of one Engine): waiting costs no polling load on the API server the operator
and the runtimes are using, and sees each change as it happens."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import httpx2
from governance_records import NAMESPACE

from eternal_operator.kube import KubeClient

API = f"/apis/trading.eternal-engine.io/v1alpha1/namespaces/{NAMESPACE}"

Engine = dict[str, Any]
Check = Callable[[Engine], bool]
"""Whether one Engine (as the API server has it) has reached a stage."""


def status_part(e: Engine, part: str) -> dict[str, Any]:
    return dict((e.get("status") or {}).get(part) or {})


def phase_in(*phases: str) -> Check:
    return lambda e: (e.get("status") or {}).get("phase") in phases


def governance_halt(e: Engine) -> bool:
    return bool(status_part(e, "governance").get("halt"))


def reported_flat(before: int) -> Check:
    """The runtime reports flat, having applied a directive newer than `before` (the policy's
    sequence before the halt): whether it took the halt from the policy or from its Engine."""

    def check(e: Engine) -> bool:
        runtime = status_part(e, "runtime")
        return bool(runtime.get("flat")) and int(runtime.get("appliedDirective") or 0) > before

    return check


def trading_again(e: Engine) -> bool:
    """The runtime applied the Engine's newest directive, and that directive lifts the halt."""
    runtime, governance = status_part(e, "runtime"), status_part(e, "governance")
    return not governance.get("halt") and (
        int(runtime.get("appliedDirective") or 0) >= int(governance.get("sequence") or 0)
    )  # fmt: skip


class Probe:
    """Stages of one run: the first time each check held for every engine at once. Each event
    re-checks only the engine it is about, so a fleet of 500 costs little per event."""

    def __init__(self, n: int, checks: list[Check], started: float) -> None:
        self.n, self.checks, self.started = n, checks, started
        self.holding: list[set[str]] = [set() for _ in checks]
        self.times: list[float | None] = [None] * len(checks)
        self.done = asyncio.Event()

    def see(self, name: str, engine: Engine | None) -> None:
        now = time.monotonic()
        for i, check in enumerate(self.checks):
            if engine is not None and check(engine):
                self.holding[i].add(name)
            else:
                self.holding[i].discard(name)
            if self.times[i] is None and len(self.holding[i]) >= self.n:
                self.times[i] = now - self.started
        if all(t is not None for t in self.times):
            self.done.set()

    async def wait(self, limit_s: float, what: str) -> list[float]:
        try:
            await asyncio.wait_for(self.done.wait(), limit_s - (time.monotonic() - self.started))
        except TimeoutError:
            pending = [i for i, t in enumerate(self.times) if t is None]
            counts = [f"stage {i}: {len(self.holding[i])}/{self.n}" for i in pending]
            raise TimeoutError(f"{what} ({', '.join(counts)})") from None
        return [t for t in self.times if t is not None]


class Fleet:
    """The engines as a watch on the API server shows them: waiting costs no polling load on the
    API server the operator and the runtimes are using, and sees each change as it happens."""

    def __init__(self, kube: KubeClient, n: int) -> None:
        self.kube, self.n = kube, n
        self.engines: dict[str, Engine] = {}
        self._probes: list[Probe] = []
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Fleet:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def probe(self, checks: list[Check], started: float | None = None) -> Probe:
        """Armed now (before the action it times), checked against the fleet as it is."""
        probe = Probe(self.n, checks, time.monotonic() if started is None else started)
        self._probes.append(probe)
        for name, engine in self.engines.items():
            probe.see(name, engine)
        return probe

    async def stages(self, checks: list[Check], limit_s: float, what: str) -> list[float]:
        probe = self.probe(checks)
        try:
            return await probe.wait(limit_s, what)
        finally:
            self.drop(probe)

    def drop(self, probe: Probe) -> None:
        with contextlib.suppress(ValueError):
            self._probes.remove(probe)

    def _see(self, name: str, engine: Engine | None) -> None:
        if engine is None:
            self.engines.pop(name, None)
        else:
            self.engines[name] = engine
        for probe in self._probes:
            probe.see(name, engine)

    async def _watch(self) -> None:
        kube = self.kube
        while True:
            listed = await kube.request("GET", f"{API}/engines")
            for engine in listed["items"]:
                self._see(engine["metadata"]["name"], engine)
            params = {"watch": "1", "resourceVersion": listed["metadata"]["resourceVersion"]}
            async with kube.http.stream(
                "GET", f"{API}/engines", params=params, timeout=httpx2.Timeout(None)
            ) as response:
                async for line in response.aiter_lines():
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] not in ("ADDED", "MODIFIED", "DELETED"):
                        break  # an error (e.g. expired version): list again
                    gone = event["type"] == "DELETED"
                    self._see(obj["metadata"]["name"], None if gone else obj)
