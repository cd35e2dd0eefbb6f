"""Governance latency on the local stack, with real runtimes and with stand-ins.

    .venv/bin/python bench/governance_bench.py [--engines 4 50] [--standins 500] [--runs 10]
        [--no-breach] [--reset-managed-fields] [--allocation-pass]

For each fleet size: a fresh stack (control plane with an audit log of writes, PostgreSQL,
Redis, paper venue, operator and, for real runtimes, the pod runner) and N engines.

Real runtimes (`--engines`): each engine funded (its allocation published before the first run),
holding a resting order and spot BTC. Repeated:
- breach: from the venue's price move that puts drawdown over level 1 to every runtime
  reporting that directive applied;
- emergency halt, from the merge patch of `emergencyHalt: true` to: every runtime heard it (the
  "halt in force" record in its pod log), the first and the last engine flat on the venue (the
  last order the halt cancelled or filled there, by the venue's own order times), every runtime
  reporting flat, every Engine's phase showing the halt (Halting or Halted), every phase Halted,
  every Engine's `status.governance.halt`;
- resume, from the reset annotation (after `emergencyHalt: false`) to every runtime trading
  again (the "halt lifted" record in its pod log: its latch is open, entries go out), every
  runtime reporting it (the Engine's newest directive applied, and that directive lifts the
  halt), and every phase Running.

Stand-ins (`--standins`): no pod runner; each Engine's runtime is played in this process by the
runtime's own governance code (an `EngineClient` with the engine's ServiceAccount token, the
runtime's `Watcher`s on its Engine and on the policies, feeding a `Governor`, and the runtime's
`obey` over an account that holds nothing), reporting `status.runtime` at the runtime's cadence
(every 10 s, and what it applied once the Engine's record shows it, as a runtime does) and
its equity to the Redis stream governance reads (every second, one pipeline for all). A stand-in
is told when its Governor's `halted` first turns true (no write needed to say so); it holds
nothing, so it reports flat (its venue account holds the equity it reports, in USDT, so the
operator's own reading of a stand-in it finds quiet agrees with it). Halt: every stand-in told,
every one reporting flat, every phase Halting or Halted, every phase Halted, every
`status.governance.halt`; resume: every Governor lifted, every stand-in trading again, every
phase Running.

With `--allocation-pass`, each halt also lowers every engine's allocation target by 0.0001 (the
Allocation patched just after the policy): the allocation's pass then has every Engine's
`status.allocation` to rewrite amid the halt, as it has when a falling market moves the
fleet's total at every pass.

For every halt, the API server's writes (its audit log) from the patch to the last engine flat
on the venue (stand-ins: the last one told), by writer and resource, the bench's patch excluded;
and every request it served (its own count) from the patch until every phase Halted, and from
the reset until every phase Running.
Prints p50/p99 over the runs of the time until the LAST engine is done, and where the machine's
CPU went meanwhile (every process, from /proc).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from api_requests import requests_now, requests_since
from cpu_roles import cpu_now, cpu_since
from fleet_watch import (
    Check,
    Engine,
    Fleet,
    governance_halt,
    phase_in,
    reported_flat,
    status_part,
    trading_again,
)
from governance_records import AGENT, NAMESPACE, Audit, RuntimeLogs
from governance_standins import STANDIN_EQUITY, StandIns
from pybit.exceptions import InvalidRequestError

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.processes import free_port
from eternal_operator.devtools.stack import PORTS, Stack
from eternal_operator.kube import KubeClient

API = f"/apis/trading.eternal-engine.io/v1alpha1/namespaces/{NAMESPACE}"
LIMIT_S = 300.0

log = logging.getLogger("governance_bench")


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


@dataclass
class Run:
    times: list[float]
    """Seconds from the start until each stage held for every engine."""
    cpu: dict[str, float]
    """CPU seconds each role used meanwhile."""
    writes: Counter[tuple[str, str]] = field(default_factory=Counter)
    """API writes (writer, resource) from the start until the last engine was done."""
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    """API writes refused (writer, resource and code) from the halt until the fleet resumed."""
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Requests the API server served (verb, resource), reads and watches included, from the
    start until the last stage held for every engine."""


class Bench:
    def __init__(self, stack: Stack, n: int, standins: bool, allocation_pass: bool) -> None:
        self.stack, self.n, self.standins = stack, n, standins
        self.allocation_pass = allocation_pass and not standins  # stand-ins have no allocation
        self.lowered = 0
        self.names = [f"bench-{i:03d}" for i in range(n)]
        self.kube: KubeClient | None = None
        self.fleet: Fleet | None = None
        self.stand: StandIns | None = None
        self.audit = Audit(stack.audit_log) if stack.audit_log else None
        self.logs = RuntimeLogs(stack.root, self.names)
        self._sessions: dict[str, Any] = {}
        self.venue = f"http://127.0.0.1:{stack.ports['paper-venue']}"

    @property
    def who(self) -> str:
        return "stand-ins" if self.standins else "runtimes"

    def kubectl(self, *args: str, body: Any = None) -> str:
        assert self.stack.plane is not None
        text = json.dumps(body) if body is not None else None
        return self.stack.plane.kubectl(*args, input=text, timeout=300).stdout

    async def policy(self) -> dict[str, Any]:
        assert self.kube is not None
        return await self.kube.request("GET", f"{API}/circuitbreakerpolicies/bench")

    async def patch_policy(self, patch: dict[str, Any]) -> None:
        assert self.kube is not None
        await self.kube.merge_patch(
            "trading.eternal-engine.io/v1alpha1", "CircuitBreakerPolicy", NAMESPACE, "bench", patch
        )

    def targets(self) -> list[dict[str, Any]]:
        """Every engine's allocation target: an equal share, less 0.0001 per halt it lowered."""
        share = Decimal(1 / self.n).quantize(Decimal("0.000001"))
        weight = share - Decimal("0.0001") * self.lowered
        return [{"engine": n, "weight": float(weight)} for n in self.names]

    async def wait(self, check: Check, limit_s: float, what: str) -> None:
        assert self.fleet is not None
        await self.fleet.stages([check], limit_s, what)

    async def explain(self) -> None:
        """What governance and the engines said when a run timed out."""
        assert self.fleet is not None
        assert self.kube is not None
        status = (await self.policy()).get("status") or {}
        status.pop("history", None)
        print("policy status:", json.dumps(status, indent=1)[:3000], file=sys.stderr)
        if not self.standins:
            allocation = await self.kube.request("GET", f"{API}/allocations/bench")
            transfers = (allocation.get("status") or {}).get("transfers") or []
            states = Counter(t["state"] for t in transfers)
            print("allocation transfers by state:", dict(states), file=sys.stderr)
        phases = Counter((e.get("status") or {}).get("phase") for e in self.fleet.engines.values())
        print("phases:", dict(phases), file=sys.stderr)
        for name, engine in sorted(self.fleet.engines.items())[:3]:
            print(name, json.dumps({k: status_part(engine, k) for k in ("governance", "runtime")}),
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

    def admin(self, path: str, body: dict[str, Any]) -> None:
        """A call of the local paper venue's admin API."""
        request = urllib.request.Request(  # noqa: S310 - the local paper venue
            f"{self.venue}/admin/{path}", method="POST", data=json.dumps(body).encode(),
            headers={"X-Admin-Token": self.stack.venue_token},
        )  # fmt: skip
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310

    def price(self, value: Decimal) -> None:
        self.admin("price", {"symbol": "BTCUSDT", "price": str(value)})

    def fund_standins(self) -> None:
        """Each stand-in's venue account holds the equity the stand-in reports: the operator
        measures a stand-in on the venue when the bench's loop falls quiet for it, and an empty
        account there read as a 100% drawdown and latched a halt during one setup."""
        listed = json.loads(self.kubectl("get", "secrets", "-o", "json"))["items"]
        keys = {s["metadata"]["name"]: s["data"] for s in listed}
        for name in self.names:
            data = keys[f"{name}-venue-credentials"]
            key, secret = (base64.b64decode(data[k]).decode() for k in ("apiKey", "apiSecret"))
            uid = http_session(self.venue, key, secret).get_api_key_information()["result"]
            self.admin(f"accounts/{uid['userID']}/deposit",
                       {"coin": "USDT", "amount": STANDIN_EQUITY})  # fmt: skip

    async def setup(self) -> None:
        items: list[dict[str, Any]] = [{
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
            "metadata": {"name": name, "labels": {"bench": "yes"}},
            "spec": {"strategy": "core-hodl", "symbols": ["BTCUSDT"],
                     "subaccount": f"bench{i:03d}x", "risk": {"maxPositionFraction": 1}},
        } for i, name in enumerate(self.names)]  # fmt: skip
        if not self.standins:  # stand-ins hold nothing: no money to allocate
            items.append({
                "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Allocation",
                "metadata": {"name": "bench"},
                "spec": {"targets": self.targets(),
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
        started = time.monotonic()
        self.kubectl("apply", "-f", "-", body={"apiVersion": "v1", "kind": "List", "items": items})
        if self.standins:
            await self._start_standins()

        def running(e: Engine) -> bool:
            equity = Decimal(status_part(e, "runtime").get("equity") or 0)
            return phase_in("Running")(e) and equity > 0

        def allocated(e: Engine) -> bool:
            # The allocation's first pass after the engines are funded writes every Engine's
            # status.allocation: before the runs, not amid one of them.
            return (
                self.standins or Decimal(status_part(e, "allocation").get("targetCapital") or 0) > 0
            )

        await self.wait(lambda e: running(e) and allocated(e), 1800,
                        "every engine Running, funded and allocated")  # fmt: skip
        print(f"{self.n:3d} {self.who}: every engine Running and allocated after "
              f"{time.monotonic() - started:.0f} s of setup", flush=True)  # fmt: skip

    async def _start_standins(self) -> None:
        """Once the operator has made each engine's ServiceAccount."""
        assert self.kube is not None
        assert self.stack.plane is not None
        wanted = {f"{n}-runtime" for n in self.names}
        deadline = time.monotonic() + 1800
        while True:
            listed = await self.kube.request(
                "GET", f"/api/v1/namespaces/{NAMESPACE}/serviceaccounts"
            )
            have = {sa["metadata"]["name"] for sa in listed["items"]}
            if wanted <= have:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"ServiceAccounts: {len(wanted & have)} of {self.n}")
            await asyncio.sleep(2)
        self.fund_standins()
        assert self.stack.redis is not None
        self.stand = StandIns(self.stack.redis.url)
        await self.stand.start(self.kube, self.names, self.stack.plane.ca_file)

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

    def flat_on_venue(self, since_ms: int) -> tuple[float, float]:
        """Seconds from `since_ms` until the first and the last engine were flat on the venue:
        for each, the latest time the venue finished one of its orders (cancelled the resting
        one, filled the sale). The local venue's clock is the wall clock; it is asked after the
        run, so as not to load it during one."""
        last = []
        for name in self.names:
            orders = self.session(name).get_order_history(category="spot", limit=50)["result"]
            times = [int(o["updatedTime"]) for o in orders["list"]]
            finished = [t for t in times if t >= since_ms]
            if not finished:
                raise RuntimeError(f"{name}: the venue shows no order the halt finished")
            last.append(max(finished))
        return (min(last) - since_ms) / 1000, (max(last) - since_ms) / 1000

    async def halt_once(self) -> tuple[Run, Run]:
        """The emergency halt and the resume after it (see the module's docstring)."""
        assert self.fleet is not None
        if not self.standins:
            for name in self.names:  # a resting order each: flat means cancelled on the venue
                rest_one(self.session(name))
            self.logs.mark()
        if self.audit is not None:
            self.audit.mark()
        before = int((await self.policy()).get("status", {}).get("directiveSequence") or 0)
        checks = [reported_flat(before), phase_in("Halting", "Halted"), phase_in("Halted"),
                  governance_halt]  # fmt: skip
        if self.stand is not None:
            self.stand.arm(halting=True)
        assert self.kube is not None
        served = await requests_now(self.kube)
        cpu, started, wall = cpu_now(), time.monotonic(), time.time()
        probe = self.fleet.probe(checks, started)
        await self.patch_policy({"spec": {"emergencyHalt": True}})
        if self.allocation_pass:  # lowered: a target raised under a halt would be refused
            self.lowered += 1
            await self.kube.merge_patch(
                "trading.eternal-engine.io/v1alpha1", "Allocation", NAMESPACE, "bench",
                {"spec": {"targets": self.targets()}},
            )  # fmt: skip
        try:
            if self.stand is not None:
                told = await self.stand.last(True, started, LIMIT_S)
            watched = await probe.wait(LIMIT_S, "halt: every engine flat and Halted")
        finally:
            self.fleet.drop(probe)
        used = cpu_since(cpu)  # before the venue and the logs are read
        served = requests_since(served, await requests_now(self.kube))
        if self.stand is not None:
            halt = Run([told, *watched], used, requests=served)
            done = told
        else:
            first, last = self.flat_on_venue(int(wall * 1000))
            heard = self.logs.last_of("halt in force") - wall
            halt = Run([heard, first, last, *watched], used, requests=served)
            done = last
        resume = await self.resume()
        if self.audit is not None:
            halt.writes = self.audit.writes(wall, wall + done, self.who)
            halt.refused = self.audit.writes(wall, time.time(), self.who, refused_only=True)
        return halt, resume

    async def resume(self) -> Run:
        """From the reset annotation (after emergencyHalt false) until trading again."""
        assert self.fleet is not None
        assert self.kube is not None
        await self.patch_policy({"spec": {"emergencyHalt": False}})
        if self.stand is not None:
            self.stand.arm(halting=False)
        if self.stand is None:
            self.logs.mark()
        served = await requests_now(self.kube)
        cpu, started, wall = cpu_now(), time.monotonic(), time.time()
        probe = self.fleet.probe([trading_again, phase_in("Running")], started)
        annotations = {"trading.eternal-engine.io/reset": str(time.time())}
        await self.patch_policy({"metadata": {"annotations": annotations}})
        try:
            if self.stand is not None:
                lifted = await self.stand.last(False, started, LIMIT_S)
            watched = await probe.wait(LIMIT_S, "resume: every engine trading")
        finally:
            self.fleet.drop(probe)
        used = cpu_since(cpu)
        served = requests_since(served, await requests_now(self.kube))
        if self.stand is None:  # the runtime trades again once its latch lifts: its log says when
            lifted = self.logs.last_of("halt lifted") - wall
        return Run([lifted, *watched], used, requests=served)

    async def breach_once(self, base: Decimal) -> Run:
        """Seconds from the price move until every engine has the new directive, and until every
        runtime reports it applied."""
        assert self.fleet is not None
        await self.expose()
        before = (await self.policy())["status"].get("directiveSequence", 0)

        def told(e: Engine) -> bool:
            governance = status_part(e, "governance")
            return int(governance.get("sequence") or 0) > before and (
                int(governance.get("level") or 0) >= 1
            )

        def applied(e: Engine) -> bool:
            sequence = int(status_part(e, "governance").get("sequence") or 0)
            return sequence > before and (
                int(status_part(e, "runtime").get("appliedDirective") or 0) >= sequence
            )

        cpu, started = cpu_now(), time.monotonic()
        probe = self.fleet.probe([told, applied], started)
        self.price(base * Decimal("0.8"))  # BTC -20%: with most of the fleet in BTC, level 1+
        try:
            times = await probe.wait(LIMIT_S, "every runtime applying the breach directive")
        finally:
            self.fleet.drop(probe)
        run = Run(times, cpu_since(cpu))
        self.price(base)
        deadline = time.monotonic() + LIMIT_S
        while (await self.policy())["status"].get("level", 0) != 0:
            if time.monotonic() > deadline:
                raise TimeoutError("back to level 0")
            await asyncio.sleep(0.5)
        return run


def line(label: str, values: list[float], extra: str = "") -> None:
    print(f"{'':14}{label:<36} p50 {statistics.median(values):6.3f} s   "
          f"p99 {quantile(values, 0.99):6.3f} s{extra}", flush=True)  # fmt: skip


def report(n: int, what: str, runs: list[Run], stages: tuple[str, ...], goal: int) -> None:
    """p50/p99 of the time until the LAST engine is done (stage `goal`), the same from the start
    until each stage, and the machine's CPU in the median run (until the last stage)."""
    done = [r.times[goal] for r in runs]
    print(f"{n:3d} engines, {what:<36} p50 {statistics.median(done):6.3f} s   "
          f"p99 {quantile(done, 0.99):6.3f} s   ({len(runs)} runs)", flush=True)  # fmt: skip
    for i, name in enumerate(stages):
        line(f"  {name}", [r.times[i] for r in runs])
    median = sorted(runs, key=lambda r: max(r.times))[len(runs) // 2]
    busy = sum(median.cpu.values()) / max(median.times)
    top = sorted(median.cpu.items(), key=lambda item: -item[1])[:5]
    parts = ", ".join(f"{role} {seconds:.2f}" for role, seconds in top)
    print(f"{'':14}{'CPU in the median run':<36} {busy:.2f} of {os.cpu_count()} cores busy "
          f"({parts} s)", flush=True)  # fmt: skip


def lag(label: str, runs: list[Run], after: int, before: int) -> None:
    """How long after stage `before` stage `after` held (e.g. the phase after the reports)."""
    line(label, [r.times[after] - r.times[before] for r in runs])


def writes_table(n: int, until: str, runs: list[Run]) -> None:
    """The API writes from the patch until `until`, per run, by writer and resource; and the
    writes the API server refused from the patch until the fleet had resumed."""
    totals = [float(sum(r.writes.values())) for r in runs]
    print(f"{n:3d} engines, API writes from the patch to {until}: p50 "
          f"{statistics.median(totals):.0f}, p99 {quantile(totals, 0.99):.0f} per run "
          f"(bench's own patch excluded); mean per run:", flush=True)  # fmt: skip
    counts(runs, "writes")
    refused = [float(sum(r.refused.values())) for r in runs]
    print(f"{'':14}writes refused from the patch until resumed: p50 "
          f"{statistics.median(refused):.0f}, p99 {quantile(refused, 0.99):.0f} per run"
          + ("; mean per run:" if any(refused) else ""), flush=True)  # fmt: skip
    counts(runs, "refused")


def requests_table(n: int, until: str, runs: list[Run], since: str = "the patch") -> None:
    """What the API server served from `since` until `until` (its own count), mean per run,
    by verb and resource: the ten largest."""
    totals = [float(sum(r.requests.values())) for r in runs]
    print(f"{n:3d} engines, API requests served from {since} to {until}: p50 "
          f"{statistics.median(totals):.0f}, p99 {quantile(totals, 0.99):.0f} per run "
          "(the bench's own included); mean per run, the largest:", flush=True)  # fmt: skip
    counts(runs, "requests", most=10)


def counts(runs: list[Run], which: str, most: int | None = None) -> None:
    """A counter of every run, mean per run: by its first key then count, or the `most`
    largest."""
    summed: Counter[tuple[str, str]] = Counter()
    for r in runs:
        summed.update(getattr(r, which))
    rows = (summed.most_common(most) if most is not None
            else sorted(summed.items(), key=lambda kv: (kv[0][0], -kv[1])))  # fmt: skip
    for (who, resource), count in rows:
        print(f"{'':14}{who:<18} {resource:<34} {count / len(runs):7.1f}", flush=True)


async def measure(
    n: int,
    runs: int,
    standins: bool,
    breach: bool = True,
    reset_managed_fields: bool = False,
    allocation_pass: bool = False,
) -> None:
    root = Path(tempfile.mkdtemp(prefix=f"gov-bench-{n}{'s' if standins else ''}-"))
    env = {
        "EE_OPERATOR_LOG_LEVEL": "WARNING",
        "EE_OPERATOR_HEARTBEAT_TIMEOUT_SECONDS": "120",
        "EE_OPERATOR_RESET_ENGINE_MANAGED_FIELDS": str(reset_managed_fields).lower(),
    }
    stack = Stack(root=root, ports={k: free_port() for k in PORTS}, apply_samples=False,
                  operator_env=env, run_pods=not standins,
                  audit_log=root / "audit.log")  # fmt: skip
    began = time.monotonic()
    stack.up()
    print(f"stack up in {time.monotonic() - began:.0f} s ({root})", flush=True)
    bench = Bench(stack, n, standins, allocation_pass)
    try:
        assert stack.plane is not None
        os.environ["KUBECONFIG"] = str(stack.plane.kubeconfig)
        bench.kube = KubeClient.from_environment()
        bench.kube.headers["User-Agent"] = AGENT
        async with Fleet(bench.kube, n) as bench.fleet:
            try:
                await bench.setup()
                if breach and not standins:
                    base = Decimal("60000")
                    bench.price(base)
                    breaches = [await bench.breach_once(base) for _ in range(runs)]
                    report(n, "breach -> all applied", breaches,
                           ("directive on every engine", "applied by every runtime"),
                           goal=1)  # fmt: skip
                halts, resumes = [], []
                for _ in range(runs):
                    halt, resume = await bench.halt_once()
                    halts.append(halt)
                    resumes.append(resume)
            except (TimeoutError, RuntimeError):
                await bench.explain()
                raise
            after = ("every runtime reported flat", "every phase Halting or Halted",
                     "every phase Halted", "every status.governance.halt")  # fmt: skip
            if standins:
                report(n, "emergency halt -> stand-ins told", halts,
                       ("every stand-in told", *after), goal=0)  # fmt: skip
                lag("phase Halted after reports", halts, 3, 1)
                writes_table(n, "the last stand-in told", halts)
                requests_table(n, "every phase Halted", halts)
                report(n, "resume -> stand-ins lifted", resumes,
                       ("every Governor lifted", "every stand-in reported trading",
                        "every phase Running"), goal=0)  # fmt: skip
                lag("phase Running after reports", resumes, 2, 1)
                requests_table(n, "every phase Running", resumes, since="the reset")
            else:
                report(n, "emergency halt -> all flat", halts,
                       ("every runtime heard the halt", "first engine flat on the venue",
                        "all flat on the venue", *after), goal=2)  # fmt: skip
                lag("phase Halted after reports", halts, 5, 3)
                writes_table(n, "the last engine flat on the venue", halts)
                requests_table(n, "every phase Halted", halts)
                report(n, "resume -> all trading", resumes,
                       ("every runtime lifted the halt", "every runtime reported trading",
                        "every phase Running"), goal=0)  # fmt: skip
                lag("phase Running after reports", resumes, 2, 1)
                requests_table(n, "every phase Running", resumes, since="the reset")
    finally:
        if bench.stand is not None:
            await bench.stand.stop()
        if bench.kube is not None:
            await bench.kube.close()
        stack.down()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engines", type=int, nargs="*", default=[4, 50],
                        help="fleet sizes with real runtimes")  # fmt: skip
    parser.add_argument("--standins", type=int, nargs="*", default=[],
                        help="fleet sizes with stand-in runtimes in this process")  # fmt: skip
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--no-breach", action="store_true", help="the halts and resumes only")
    parser.add_argument("--reset-managed-fields", action="store_true",
                        help="EE_OPERATOR_RESET_ENGINE_MANAGED_FIELDS=true")  # fmt: skip
    parser.add_argument(
        "--allocation-pass",
        action="store_true",
        help="each halt meets an allocation pass rewriting every Engine",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("engine_runtime").setLevel(logging.ERROR)  # 500 stand-ins' "halt in force"
    for n in args.engines:
        asyncio.run(measure(n, args.runs, standins=False, breach=not args.no_breach,
                            reset_managed_fields=args.reset_managed_fields,
                            allocation_pass=args.allocation_pass))  # fmt: skip
    for n in args.standins:
        asyncio.run(measure(n, args.runs, standins=True,
                            reset_managed_fields=args.reset_managed_fields))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
