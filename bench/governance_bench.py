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
from decimal import Decimal
from pathlib import Path
from typing import Any

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


class Bench:
    def __init__(self, stack: Stack, n: int) -> None:
        self.stack, self.n = stack, n
        self.names = [f"bench-{i:03d}" for i in range(n)]
        self.kube: KubeClient | None = None
        self.venue = f"http://127.0.0.1:{stack.ports['paper-venue']}"

    def kubectl(self, *args: str, body: Any = None) -> str:
        assert self.stack.plane is not None
        text = json.dumps(body) if body is not None else None
        return self.stack.plane.kubectl(*args, input=text, timeout=300).stdout

    async def engines(self) -> dict[str, dict[str, Any]]:
        assert self.kube is not None
        listed = await self.kube.request("GET", f"{API}/engines")
        return {e["metadata"]["name"]: e for e in listed["items"]}

    async def policy(self) -> dict[str, Any]:
        assert self.kube is not None
        return await self.kube.request("GET", f"{API}/circuitbreakerpolicies/bench")

    async def wait(self, done: Any, limit_s: float, what: str) -> float:
        started = time.monotonic()
        while time.monotonic() - started < limit_s:
            if await done():
                return time.monotonic() - started
            await asyncio.sleep(0.02)
        raise TimeoutError(what)

    def session(self, engine: str) -> Any:
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

        async def running() -> bool:
            engines = await self.engines()
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

    async def halt_once(self) -> float:
        for name in self.names:  # a resting order each: flat means cancelled on the venue
            rest_one(self.session(name))
        started = time.monotonic()
        self.kubectl(
            "patch", "cbp", "bench", "--type", "merge", "-p", '{"spec":{"emergencyHalt":true}}'
        )

        async def flat() -> bool:
            engines = await self.engines()
            return all(
                (e["status"].get("governance") or {}).get("halt")
                and (e["status"].get("runtime") or {}).get("flat")
                and (e["status"]["runtime"].get("appliedDirective") or 0)
                >= e["status"]["governance"]["sequence"]
                for e in engines.values()
            )

        await self.wait(flat, 120, "every engine flat")
        latency = time.monotonic() - started
        self.kubectl(
            "patch", "cbp", "bench", "--type", "merge", "-p", '{"spec":{"emergencyHalt":false}}'
        )
        self.kubectl(
            "annotate",
            "cbp",
            "bench",
            "--overwrite",
            f"trading.eternal-engine.io/reset={time.time()}",
        )

        async def resumed() -> bool:
            engines = await self.engines()
            return all(
                not (e["status"].get("governance") or {}).get("halt") for e in engines.values()
            )

        await self.wait(resumed, 120, "resumed")
        return latency

    async def breach_once(self, base: Decimal) -> float:
        await self.expose()
        before = (await self.policy())["status"].get("directiveSequence", 0)
        started = time.monotonic()
        self.price(base * Decimal("0.8"))  # BTC -20%: with most of the fleet in BTC, level 1+

        async def applied() -> bool:
            engines = await self.engines()
            return all(
                (e["status"].get("governance") or {}).get("sequence", 0) > before
                and (e["status"].get("governance") or {}).get("level", 0) >= 1
                and ((e["status"].get("runtime") or {}).get("appliedDirective") or 0)
                >= e["status"]["governance"]["sequence"]
                for e in engines.values()
            )

        await self.wait(applied, 120, "every runtime applying the breach directive")
        latency = time.monotonic() - started
        self.price(base)

        async def recovered() -> bool:
            return (await self.policy())["status"].get("level", 0) == 0

        await self.wait(recovered, 120, "back to level 0")
        return latency


def report(n: int, what: str, values: list[float]) -> None:
    p50, p99 = statistics.median(values), quantile(values, 0.99)
    print(f"{n:3d} engines, {what:<28} p50 {p50:6.3f} s   p99 {p99:6.3f} s   "
          f"({len(values)} runs)", flush=True)  # fmt: skip


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
        await bench.setup()
        base = Decimal("60000")
        bench.price(base)
        report(n, "breach -> all applied", [await bench.breach_once(base) for _ in range(runs)])
        report(n, "emergency halt -> all flat", [await bench.halt_once() for _ in range(runs)])
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
