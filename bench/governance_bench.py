"""Governance latency with real runtimes on the local stack.

    .venv/bin/python bench/governance_bench.py [--engines 4 50] [--runs 5]

For each fleet size: a fresh stack (control plane, PostgreSQL, Redis, paper venue, operator,
pod runner) and N funded engines, each holding a resting order and spot BTC. Then, repeated:
- emergency halt: from `kubectl patch ... emergencyHalt: true` to every engine flat on the venue
  (the last order the halt cancelled or filled there, by the venue's own order times), and to
  every runtime reporting flat for the halting directive in its status;
- breach: from the venue's price move that puts drawdown over level 1 to every runtime
  reporting that directive applied.
Prints p50/p99 over the runs of the time until the LAST engine is done, and where the
machine's CPU went meanwhile (every process, from /proc): with all cores busy for the whole
run, the time is bounded by the work on this machine, not by waiting.
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
from dataclasses import dataclass
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


CLOCK_HZ = os.sysconf("SC_CLK_TCK")
ROLES = (("kube-apiserver", "API server"), ("/etcd ", "etcd"), ("paper_venue", "paper venue"),
         ("-m engine_runtime", "runtimes"), ("podrunner", "pod runner"),
         ("-m eternal_operator", "operator"), ("postgres", "PostgreSQL"), ("redis", "Redis"),
         ("governance_bench", "this bench"))  # fmt: skip


def cpu_by_role() -> dict[str, float]:
    """CPU seconds every process on the machine has used so far, by role (its command line)."""
    used: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # exited meanwhile
        fields = stat[stat.rfind(")") + 2 :].split()  # from field 3 on: utime, stime at 14, 15
        role = next((name for key, name in ROLES if key in command), "other")
        used[role] = used.get(role, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_HZ
    return used


def cpu_since(before: dict[str, float]) -> dict[str, float]:
    return {role: seconds - before.get(role, 0.0) for role, seconds in cpu_by_role().items()}


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


@dataclass
class Run:
    times: list[float]
    """Seconds from the start until each stage held for every engine."""
    cpu: dict[str, float]
    """CPU seconds each role used meanwhile."""


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
            headers={"X-Admin-Token": self.stack.venue_token},
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

    def flat_on_venue(self, since_ms: int) -> float:
        """Seconds from `since_ms` until the last engine was flat on the venue: the latest time
        the venue finished one of its orders (cancelled the resting one, filled the sale). The
        local venue's clock is the wall clock; it is asked after the run, so as not to load it
        during one."""
        last = []
        for name in self.names:
            orders = self.session(name).get_order_history(category="spot", limit=50)["result"]
            times = [int(o["updatedTime"]) for o in orders["list"]]
            finished = [t for t in times if t >= since_ms]
            if not finished:
                raise RuntimeError(f"{name}: the venue shows no order the halt finished")
            last.append(max(finished))
        return (max(last) - since_ms) / 1000

    async def halt_once(self) -> Run:
        """Seconds from the patch until every engine has the halt, until every one is flat on
        the venue, and until every runtime has reported it flat."""
        assert self.fleet is not None
        for name in self.names:  # a resting order each: flat means cancelled on the venue
            rest_one(self.session(name))
        cpu, started, wall_ms = cpu_by_role(), time.monotonic(), time.time_ns() // 1_000_000
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

        told_s, reported_s = await self.fleet.stages(started, [told, flat], 120, "all flat")
        used = cpu_since(cpu)  # before the venue is asked
        run = Run([told_s, self.flat_on_venue(wall_ms), reported_s], used)
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
        return run

    async def breach_once(self, base: Decimal) -> Run:
        """Seconds from the price move until every engine has the new directive, and until every
        runtime reports it applied."""
        assert self.fleet is not None
        await self.expose()
        before = (await self.policy())["status"].get("directiveSequence", 0)
        cpu, started = cpu_by_role(), time.monotonic()
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
        run = Run(times, cpu_since(cpu))
        self.price(base)
        deadline = time.monotonic() + 120
        while (await self.policy())["status"].get("level", 0) != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("back to level 0")
            await asyncio.sleep(0.5)
        return run


def report(n: int, what: str, runs: list[Run], stages: tuple[str, ...], goal: int) -> None:
    """p50/p99 of the time until the LAST engine is done (stage `goal`), the same from the start
    until each stage, and the machine's CPU in the median run (until the last stage)."""
    done = [r.times[goal] for r in runs]
    print(f"{n:3d} engines, {what:<28} p50 {statistics.median(done):6.3f} s   "
          f"p99 {quantile(done, 0.99):6.3f} s   ({len(runs)} runs)", flush=True)  # fmt: skip
    for i, name in enumerate(stages):
        values = [r.times[i] for r in runs]
        print(f"{'':14}{name:<28} p50 {statistics.median(values):6.3f} s   "
              f"p99 {quantile(values, 0.99):6.3f} s", flush=True)  # fmt: skip
    median = sorted(runs, key=lambda r: r.times[-1])[len(runs) // 2]
    busy = sum(median.cpu.values()) / median.times[-1]
    top = sorted(median.cpu.items(), key=lambda item: -item[1])[:5]
    parts = ", ".join(f"{role} {seconds:.2f}" for role, seconds in top)
    print(f"{'':14}{'CPU in the median run':<28} {busy:.2f} of {os.cpu_count()} cores busy "
          f"({parts} s)", flush=True)  # fmt: skip


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
                   ("  directive on every engine", "  applied by every runtime"),
                   goal=1)  # fmt: skip
            try:
                halts = [await bench.halt_once() for _ in range(runs)]
            except TimeoutError:
                await bench.explain()
                raise
            report(n, "emergency halt -> all flat", halts,
                   ("  halt on every engine", "  all flat on the venue", "  all reported flat"),
                   goal=1)  # fmt: skip
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
