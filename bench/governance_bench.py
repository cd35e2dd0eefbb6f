"""Governance latency with real runtimes on the local stack.

    .venv/bin/python bench/governance_bench.py [--engines 4 50] [--runs 5]

For each fleet size: a fresh stack (control plane, PostgreSQL, Redis, paper venue, operator,
pod runner) and N funded engines, each holding a resting order and spot BTC. Then, repeated:
- emergency halt: from `kubectl patch ... emergencyHalt: true` to every runtime reporting flat
  for the halting directive (it cancels and closes on the venue before it says so);
- breach: from the venue's price move that puts drawdown over level 1 to every runtime
  reporting that directive applied.
Prints p50/p99 over the runs of the time until the LAST engine is done.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
from pybit.exceptions import InvalidRequestError

from engine_runtime.venue.session import http_session
from eternal_operator.devtools.processes import free_port
from eternal_operator.devtools.stack import PORTS, Stack
from eternal_operator.kube import KubeClient

API = "/apis/trading.eternal-engine.io/v1alpha1/namespaces/default"


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def rest_one(session: Any) -> None:
    """A resting order far from the market: a bid with USDT, else an offer with the BTC held."""
    for side, price in (("Buy", "20000"), ("Sell", "200000")):
        try:
            session.place_order(category="spot", symbol="BTCUSDT", side=side, orderType="Limit",
                                qty="0.0001", price=price)  # fmt: skip
            return
        except InvalidRequestError:
            continue


Engines = dict[str, dict[str, Any]]


class Fleet:
    """The engines as a watch on the API server shows them: waiting costs no polling load on the
    API server the operator and the runtimes are using, and sees each change as it happens."""

    def __init__(self, kube: KubeClient) -> None:
        self.kube = kube
        self.engines: Engines = {}
        self.changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Fleet:
        self._task = asyncio.create_task(self._watch())
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        kube = self.kube
        async with aiohttp.ClientSession(headers=kube.headers) as session:
            while True:
                listed = await kube.request("GET", f"{API}/engines")
                async with self.changed:
                    self.engines = {e["metadata"]["name"]: e for e in listed["items"]}
                    self.changed.notify_all()
                params = {"watch": "1", "resourceVersion": listed["metadata"]["resourceVersion"]}
                async with session.get(
                    f"{kube.host}{API}/engines", params=params, ssl=kube.ssl_context,
                    timeout=aiohttp.ClientTimeout(total=None, sock_read=None),
                ) as response:  # fmt: skip
                    async for line in response.content:
                        event = json.loads(line)
                        obj = event["object"]
                        if event["type"] not in ("ADDED", "MODIFIED", "DELETED"):
                            break  # an error (e.g. expired version): list again
                        async with self.changed:
                            if event["type"] == "DELETED":
                                self.engines.pop(obj["metadata"]["name"], None)
                            else:
                                self.engines[obj["metadata"]["name"]] = obj
                            self.changed.notify_all()

    def _holds(self, check: Callable[[Engines], bool]) -> bool:
        return check(self.engines)

    async def stages(
        self, started: float, checks: list[Callable[[Engines], bool]], limit_s: float, what: str
    ) -> list[float]:
        """Seconds from `started` (monotonic) until each check in turn first holds."""
        times: list[float] = []
        async with self.changed:
            for check in checks:
                remaining = limit_s - (time.monotonic() - started)
                try:
                    await asyncio.wait_for(
                        self.changed.wait_for(partial(self._holds, check)), remaining
                    )
                except TimeoutError:
                    raise TimeoutError(what) from None
                times.append(time.monotonic() - started)
        return times


class Bench:
    def __init__(self, stack: Stack, n: int) -> None:
        self.stack, self.n = stack, n
        self.names = [f"bench-{i:03d}" for i in range(n)]
        self.kube: KubeClient | None = None
        self.fleet: Fleet | None = None
        self._sessions: dict[str, Any] = {}
        self.venue = f"http://127.0.0.1:{stack.ports['paper-venue']}"

    def kubectl(self, *args: str, body: Any = None) -> str:
        assert self.stack.plane is not None
        text = json.dumps(body) if body is not None else None
        return self.stack.plane.kubectl(*args, input=text, timeout=300).stdout

    async def policy(self) -> dict[str, Any]:
        assert self.kube is not None
        return await self.kube.request("GET", f"{API}/circuitbreakerpolicies/bench")

    async def patch_policy(self, spec: dict[str, Any]) -> None:
        assert self.kube is not None
        await self.kube.merge_patch(
            "trading.eternal-engine.io/v1alpha1", "CircuitBreakerPolicy", "default", "bench",
            {"spec": spec},
        )  # fmt: skip

    async def wait(self, check: Callable[[Engines], bool], limit_s: float, what: str) -> None:
        assert self.fleet is not None
        await self.fleet.stages(time.monotonic(), [check], limit_s, what)

    async def explain(self) -> None:
        """What governance and the engines said when a run timed out."""
        assert self.fleet is not None
        status = (await self.policy()).get("status") or {}
        print("policy status:", json.dumps(status, indent=1)[:4000], file=sys.stderr)
        assert self.kube is not None
        allocation = await self.kube.request("GET", f"{API}/allocations/bench")
        transfers = (allocation.get("status") or {}).get("transfers") or []
        states = Counter(t["state"] for t in transfers)
        print("allocation transfers by state:", dict(states), file=sys.stderr)
        for name, engine in sorted(self.fleet.engines.items())[:3]:
            print(name, json.dumps({k: engine["status"].get(k) for k in ("governance", "runtime")}),
                  file=sys.stderr)  # fmt: skip

    def session(self, engine: str) -> Any:
        """The engine's venue session (its keys read once: a kubectl per engine and run would
        load the very machine being measured)."""
        if engine not in self._sessions:
            self._sessions[engine] = self._new_session(engine)
        return self._sessions[engine]

    def _new_session(self, engine: str) -> Any:
        data = json.loads(
            self.kubectl("get", "secret", f"{engine}-venue-credentials", "-o", "json")
        )["data"]
        key, secret = (base64.b64decode(data[k]).decode() for k in ("apiKey", "apiSecret"))
        return http_session(self.venue, key, secret)

    def price(self, value: Decimal) -> None:
        request = urllib.request.Request(  # noqa: S310 - the local paper venue
            f"{self.venue}/admin/price", method="POST",
            data=json.dumps({"symbol": "BTCUSDT", "price": str(value)}).encode(),
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310

    async def setup(self) -> None:
        weight = round(1 / self.n, 6)
        items: list[dict[str, Any]] = [{
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
            "metadata": {"name": name, "labels": {"bench": "yes"}},
            "spec": {"strategy": "core-hodl", "symbols": ["BTCUSDT"],
                     "subaccount": f"bench{i:03d}x", "risk": {"maxPositionFraction": 1}},
        } for i, name in enumerate(self.names)]  # fmt: skip
        items.append({
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Allocation",
            "metadata": {"name": "bench"},
            "spec": {"targets": [{"engine": n, "weight": weight} for n in self.names],
                     "monthlyContribution": 200 * self.n, "driftThreshold": 1,
                     "calendarFallback": "none"},
        })  # fmt: skip
        items.append({
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
            "metadata": {"name": "bench"},
            "spec": {"selector": {"matchLabels": {"bench": "yes"}}, "cooldownSeconds": 0,
                     "hysteresis": 0.01, "dailyLossLimit": 0.9, "weeklyLossLimit": 0.95,
                     "staleAfterSeconds": 120},
        })  # fmt: skip
        self.kubectl("apply", "-f", "-", body={"apiVersion": "v1", "kind": "List", "items": items})

        def running(engines: Engines) -> bool:
            return len(engines) == self.n and all(
                e.get("status", {}).get("phase") == "Running"
                and Decimal((e["status"].get("runtime") or {}).get("equity") or 0) > 0
                for e in engines.values()
            )

        await self.wait(running, 900, "every engine Running and funded")

    async def expose(self) -> None:
        """Most of each account in BTC, so that a price move is a drawdown (a halt sells it)."""
        for name in self.names:
            session = self.session(name)
            wallet = session.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
            coin = next(c for c in wallet["coin"] if c["coin"] == "USDT")
            free = Decimal(coin["walletBalance"]) - Decimal(coin.get("locked") or 0)
            if free > 20:
                with contextlib.suppress(InvalidRequestError):  # the strategy may move first
                    session.place_order(
                        category="spot", symbol="BTCUSDT", side="Buy", orderType="Market",
                        qty=str((free * Decimal("0.9")).quantize(Decimal(1))),
                        marketUnit="quoteCoin",
                    )  # fmt: skip
        await asyncio.sleep(5)  # a report: governance sees the holdings at today's price

    async def halt_once(self) -> list[float]:
        """Seconds from the patch until every engine has the halt, and until every one is flat."""
        assert self.fleet is not None
        for name in self.names:  # a resting order each: flat means cancelled on the venue
            rest_one(self.session(name))
        started = time.monotonic()
        await self.patch_policy({"emergencyHalt": True})

        def told(engines: Engines) -> bool:
            return all((e["status"].get("governance") or {}).get("halt") for e in engines.values())

        def flat(engines: Engines) -> bool:
            return all(
                (e["status"].get("runtime") or {}).get("flat")
                and (e["status"]["runtime"].get("appliedDirective") or 0)
                >= e["status"]["governance"]["sequence"]
                for e in engines.values()
            )

        times = await self.fleet.stages(started, [told, flat], 120, "every engine flat")
        await self.patch_policy({"emergencyHalt": False})
        self.kubectl(
            "annotate", "cbp", "bench", "--overwrite",
            f"trading.eternal-engine.io/reset={time.time()}",
        )  # fmt: skip
        await self.wait(
            lambda engines: all(
                not (e["status"].get("governance") or {}).get("halt") for e in engines.values()
            ),
            120, "resumed",
        )  # fmt: skip
        return times

    async def breach_once(self, base: Decimal) -> list[float]:
        """Seconds from the price move until every engine has the new directive, and until every
        runtime reports it applied."""
        assert self.fleet is not None
        await self.expose()
        before = (await self.policy())["status"].get("directiveSequence", 0)
        started = time.monotonic()
        self.price(base * Decimal("0.8"))  # BTC -20%: with most of the fleet in BTC, level 1+

        def told(engines: Engines) -> bool:
            return all(
                (e["status"].get("governance") or {}).get("sequence", 0) > before
                and (e["status"].get("governance") or {}).get("level", 0) >= 1
                for e in engines.values()
            )

        def applied(engines: Engines) -> bool:
            return all(
                ((e["status"].get("runtime") or {}).get("appliedDirective") or 0)
                >= e["status"]["governance"]["sequence"]
                for e in engines.values()
            )

        what = "every runtime applying the breach directive"
        times = await self.fleet.stages(started, [told, applied], 120, what)
        self.price(base)
        deadline = time.monotonic() + 120
        while (await self.policy())["status"].get("level", 0) != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("back to level 0")
            await asyncio.sleep(0.5)
        return times


def report(n: int, what: str, runs: list[list[float]], stages: tuple[str, str]) -> None:
    """p50/p99 of the time until the LAST engine is done, and how much of it was the operator's
    (until every engine had its directive) and the runtimes' (from there until done)."""
    done = [r[-1] for r in runs]
    operator = [r[0] for r in runs]
    runtimes = [r[-1] - r[0] for r in runs]
    print(f"{n:3d} engines, {what:<28} p50 {statistics.median(done):6.3f} s   "
          f"p99 {quantile(done, 0.99):6.3f} s   ({len(runs)} runs)", flush=True)  # fmt: skip
    for name, values in zip(stages, (operator, runtimes), strict=True):
        print(f"{'':14}{name:<28} p50 {statistics.median(values):6.3f} s   "
              f"p99 {quantile(values, 0.99):6.3f} s", flush=True)  # fmt: skip


async def measure(n: int, runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"gov-bench-{n}-"))
    stack = Stack(root=root, ports={k: free_port() for k in PORTS}, apply_samples=False,
                  operator_env={"EE_OPERATOR_LOG_LEVEL": "WARNING",
                                "EE_OPERATOR_HEARTBEAT_TIMEOUT_SECONDS": "120"})  # fmt: skip
    stack.up()
    try:
        os.environ["KUBECONFIG"] = str(stack.plane.kubeconfig)  # type: ignore[union-attr]
        bench = Bench(stack, n)
        bench.kube = KubeClient.from_environment()
        async with Fleet(bench.kube) as bench.fleet:
            await bench.setup()
            base = Decimal("60000")
            bench.price(base)
            try:
                breaches = [await bench.breach_once(base) for _ in range(runs)]
            except TimeoutError:
                await bench.explain()
                raise
            report(n, "breach -> all applied", breaches,
                   ("  directive on every engine", "  then applied by runtimes"))  # fmt: skip
            try:
                halts = [await bench.halt_once() for _ in range(runs)]
            except TimeoutError:
                await bench.explain()
                raise
            report(n, "emergency halt -> all flat", halts,
                   ("  halt on every engine", "  then all flat"))  # fmt: skip
        await bench.kube.close()
    finally:
        stack.down()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", type=int, nargs="+", default=[4, 50])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for n in args.engines:
        asyncio.run(measure(n, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
