"""Capital safety under faults: does a halt hold, whatever fails?

    .venv/bin/python bench/capital_safety.py            # the whole matrix (about 40 minutes)
    .venv/bin/python bench/capital_safety.py --quick    # the subset CI runs (about 8 minutes)
    .venv/bin/python bench/capital_safety.py --speeds fast --faults none runtime-frozen

A private local stack (real API server with its admission policies, PostgreSQL, Redis, the paper
venue with its clock at 60x, the operator, the pod runner). Each cell of the matrix gets a
namespace of its own with two engines run by real runtimes whose strategy (`pressing_strategy`)
asks for a spot buy and a linear long on every bar, whatever governance says; their accounts are
funded and exposed (spot BTC for 60% of equity, a linear long for 60% more), a
CircuitBreakerPolicy (the default levels) opens its book, a fault is set, and BTC drops 30%
over seconds (`fast`) or minutes (`slow`). Level 4 latches the halt. For each cell it prints:

- orders+: orders that could add exposure (spot buys, linear orders not reduce-only) that
  reached the venue after the halt latched, by the venue's own order history (goal 0);
- flat: whether every account ended flat (every coin but USDT, every linear position, no open
  order in any category; what the venue will not take is residue, counted apart);
- halt->flat: seconds from the latch to the last account flat;
- loss past the 25% line (final drawdown of the cell's engines - 0.25), against one slippage
  bound: the drawdown already past the line when the halt latched, plus what the market took
  from the exposure between the latch and flat, plus 0.5% for fees and the book.

Faults: none, runtime-frozen (SIGSTOP before the crash, SIGCONT 3 s after the latch: it must
check before it sends), runtime-kill (kill -9 at the latch, mid-flatten), operator-kill
(a runtime frozen, then the operator kill -9 at the latch: the restarted operator's deadline
holds), two-policies (a lenient second policy over the same engines), forged-directive (the
runtime's own token tries to lift the halt, and a rival directive of another policy is written),
redis-down (Redis frozen throughout), api-unreachable (the runtimes cut from the API server
throughout), venue-storm (the venue answers 10006 to the next 40 requests at the latch),
venue-restart (the venue stopped at the latch and restarted by the stack's supervisor).

Exit code 1 when a cell has orders+ > 0, an account not flat, or a loss past the line beyond the
bound.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import RetryableError
from eternal_kernel.bybit.flatten import snapshot
from eternal_kernel.bybit.flatten_plan import plan
from eternal_kernel.bybit.ratelimit import RateLimiter
from eternal_kernel.bybit.raw import BybitRawClient
from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.processes import free_port, runtime_pid
from eternal_operator.devtools.stack import PORTS, Stack

BENCH = Path(__file__).resolve().parent
FAULTS = ["none", "runtime-frozen", "runtime-kill", "operator-kill", "two-policies",
          "forged-directive", "redis-down", "api-unreachable", "venue-storm",
          "venue-restart"]  # fmt: skip
QUICK = ["none", "runtime-frozen", "operator-kill", "two-policies", "forged-directive",
         "api-unreachable"]  # fmt: skip
SPEEDS = {"fast": 6.0, "slow": 120.0}
"""Seconds the 30% drop takes."""
DROP = Decimal("0.30")
CLOCK_SPEED = 60
HALT_DEADLINE_S = 10
LINE = Decimal("0.25")
SLIPPAGE = Decimal("0.005")
EXPOSURE = Decimal("1.2")
"""Spot BTC for 60% of equity and a linear long for 60% more."""
ENGINES = 2
USDT = Decimal("10000")
FUNDED = Decimal("0.01")
"""How far under the deposit a first equity report may be (the first bars' fees)."""
LABEL = "trading.eternal-engine.io/cell"


@dataclass
class Result:
    speed: str
    fault: str
    increasing: int = 0
    flat: bool = False
    residue: int = 0
    halt_to_flat: float | None = None
    dd_at_halt: Decimal | None = None
    dd_final: Decimal | None = None
    bound: Decimal | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def past_line(self) -> Decimal | None:
        return None if self.dd_final is None else max(Decimal(0), self.dd_final - LINE)

    @property
    def within(self) -> bool:
        return (
            self.past_line is not None and self.bound is not None and self.past_line <= self.bound
        )

    @property
    def ok(self) -> bool:
        return self.increasing == 0 and self.flat and self.within


def pct(value: Decimal | None) -> str:
    return "-" if value is None else f"{value * 100:.2f}%"


class Bench:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.venue_url = f"http://127.0.0.1:{stack.ports['paper-venue']}"
        assert stack.plane is not None
        self.plane = stack.plane

    # plumbing ---------------------------------------------------------------------------
    def kubectl(self, *args: str, body: Any = None, check: bool = True) -> str:
        out = self.plane.kubectl(*args, input=json.dumps(body) if body is not None else None,
                                 check=check)  # fmt: skip
        return str(out.stdout)

    def get(self, kind: str, name: str, ns: str) -> dict[str, Any]:
        out = self.kubectl("get", kind, name, "-n", ns, "-o", "json", check=False)
        return dict(json.loads(out)) if out.strip() else {}

    def admin(self, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the local paper venue
            f"{self.venue_url}/admin/{path}", method="POST" if body is not None else "GET",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"X-Admin-Token": self.stack.venue_token, "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def keys(self, ns: str, engine: str) -> tuple[str, str]:
        data = self.get("secret", f"{engine}-venue-credentials", ns)["data"]
        key, secret = (base64.b64decode(data[k]).decode() for k in ("apiKey", "apiSecret"))
        return key, secret

    def session(self, ns: str, engine: str) -> Any:
        return http_session(self.venue_url, *self.keys(ns, engine))

    def domain(self, ns: str, engine: str) -> BybitDomainClient:
        key, secret = self.keys(ns, engine)
        limiter = RateLimiter({"orders": 20, "queries": 50})
        return BybitDomainClient(BybitRawClient(self.venue_url, key, secret, limiter=limiter))

    def wait(self, probe: Callable[[], Any], timeout: float, what: str, every: float = 0.25) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if got := probe():
                return got
            time.sleep(every)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def price(self, value: Decimal) -> None:
        self.admin("price", {"symbol": "BTCUSDT", "price": str(value.quantize(Decimal("0.1")))})

    def market_ms(self, wall_s: float) -> int:
        """The venue's market time (its clock runs 60x) at a wall-clock time."""
        before = time.time()
        now = int(self.admin("state")["now_ms"])
        after = time.time()
        return now + int((wall_s - (before + after) / 2) * 1000 * CLOCK_SPEED)

    # one cell ---------------------------------------------------------------------------
    def setup(self, ns: str, names: list[str], database: str, redis: str) -> None:
        self.kubectl("create", "namespace", ns)
        env = {"EE_DATABASE_URL": database, "EE_REDIS_URL": redis, "EE_BAR_INTERVAL": "1",
               "EE_STRATEGY_FACTORY": "pressing_strategy:create", "PYTHONPATH": str(BENCH),
               "EE_REPORT_INTERVAL_SECONDS": "5", "EE_DCP_WINDOW_SECONDS": "0"}  # fmt: skip
        self.kubectl("apply", "-f", "-", body={
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "eternal-engine-runtime-env", "namespace": ns},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in env.items()},
        })  # fmt: skip
        for name in names:
            self.kubectl("apply", "-f", "-", body={
                "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
                "metadata": {"name": name, "namespace": ns, "labels": {LABEL: ns}},
                "spec": {"strategy": "trend", "symbols": ["BTCUSDT"],
                         "subaccount": f"{name.replace('-', '')}{secrets.token_hex(2)}",
                         "risk": {"maxLeverage": 10, "maxPositionFraction": 1,
                                  "maxConcurrentPositions": 10, "dailyLossLimit": 1,
                                  "weeklyLossLimit": 1, "minSignalConfidence": 0}},
            })  # fmt: skip
        for name in names:
            self.wait(lambda n=name: self.get("secret", f"{n}-venue-credentials", ns), 60,
                      f"{ns}/{name}'s key")  # fmt: skip
            spec = self.get("engine", name, ns)["spec"]
            uid = next(a["uid"] for a in self.admin("state")["accounts"]
                       if a["username"] == spec["subaccount"])  # fmt: skip
            self.admin(f"accounts/{uid}/deposit", {"coin": "USDT", "amount": str(USDT)})

        def funded() -> bool:
            # The pressing strategy trades from the first bar (a venue minute is a second at
            # CLOCK_SPEED), so its fees take equity just under the deposit at once: a report
            # within FUNDED of the deposit is the deposit's (before it, equity is 0).
            for name in names:
                engine = self.get("engine", name, ns).get("status") or {}
                equity = Decimal((engine.get("runtime") or {}).get("equity") or 0)
                if engine.get("phase") != "Running" or equity < USDT * (1 - FUNDED):
                    return False
            return True

        self.wait(funded, 180, f"{ns}: every engine Running with its deposit reported", 1)

    def policy(self, ns: str, name: str = "strict", **spec: Any) -> dict[str, Any]:
        return {
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"selector": {"matchLabels": {LABEL: ns}}, "cooldownSeconds": 0,
                     "dailyLossLimit": 0.9, "weeklyLossLimit": 0.95,
                     "haltDeadlineSeconds": HALT_DEADLINE_S, "staleAfterSeconds": 60, **spec},
        }  # fmt: skip

    def expose(self, ns: str, names: list[str], price: Decimal) -> None:
        for name in names:
            venue = self.session(ns, name)
            venue.place_order(
                category="spot",
                symbol="BTCUSDT",
                side="Buy",
                orderType="Market",
                qty=str(USDT * Decimal("0.6")),
                marketUnit="quoteCoin",
            )
            qty = (USDT * Decimal("0.6") / price).quantize(Decimal("0.001"))
            venue.place_order(category="linear", symbol="BTCUSDT", side="Buy",
                              orderType="Market", qty=str(qty))  # fmt: skip

    def equity(self, ns: str, names: list[str]) -> Decimal:
        total = Decimal(0)
        for name in names:
            wallet = self.session(ns, name).get_wallet_balance(accountType="UNIFIED")
            total += Decimal(wallet["result"]["list"][0]["totalEquity"])
        return total

    def after_halt(self, ns: str, names: list[str], market_ms: int) -> tuple[int, int]:
        """From the venue's order history, after the latch: how many orders that could add
        exposure it received (spot buys, linear orders not reduce-only), and when (market time)
        it last finished an order (the last cancel or close of the flatten)."""
        increasing, last = 0, 0
        for name in names:
            venue = self.session(ns, name)
            for category in ("spot", "linear"):
                cursor = ""
                while True:
                    extra = {"cursor": cursor} if cursor else {}
                    page = venue.get_order_history(category=category, limit=50, **extra)
                    for order in page["result"]["list"]:
                        if int(order["updatedTime"]) > market_ms:
                            last = max(last, int(order["updatedTime"]))
                        if int(order["createdTime"]) <= market_ms:
                            continue
                        if category == "spot":
                            increasing += order["side"] == "Buy"
                        else:
                            increasing += not order.get("reduceOnly")
                    cursor = page["result"].get("nextPageCursor") or ""
                    if not cursor:
                        break
        return increasing, last

    def account_state(self, ns: str, names: list[str]) -> tuple[bool, int]:
        async def one(name: str) -> tuple[bool, int]:
            venue = self.domain(ns, name)
            for _ in range(20):  # the venue-storm cell limits the bench's reads too
                try:
                    result = plan(await snapshot(venue, {}), engine="", purpose="check")
                except RetryableError:
                    await asyncio.sleep(1)
                    continue
                return result.flat, len(result.residue)
            raise TimeoutError(f"{ns}/{name}: the venue kept refusing the bench's reads")

        states = [asyncio.run(one(n)) for n in names]
        return all(f for f, _ in states), sum(r for _, r in states)

    def crash(
        self, start: Decimal, seconds: float, on_step: Callable[[], None]
    ) -> list[tuple[float, Decimal]]:
        """BTC down 30% in 30 steps over `seconds`; the path, as (wall time, price)."""
        steps, path = 30, []
        for i in range(1, steps + 1):
            price = start * (1 - DROP * i / steps)
            self.price(price)
            path.append((time.time(), price))
            on_step()
            time.sleep(seconds / steps)
        return path

    def cell(self, speed: str, fault: str, database: str, redis: str) -> Result:
        ns = f"cs-{speed}-{fault}"[:40] + f"-{secrets.token_hex(2)}"
        names = [f"e{i}" for i in range(ENGINES)]
        result = Result(speed, fault)
        start_price = Decimal(self.admin("state")["prices"]["BTCUSDT"])
        self.admin("feed/pause", {"symbol": "BTCUSDT", "paused": True})
        self.setup(ns, names, database, redis)
        self.kubectl("apply", "-f", "-", body=self.policy(ns))
        self.wait(lambda: (self.get("cbp", "strict", ns).get("status") or {}).get("highWaterMark"),
                  60, "the book")  # fmt: skip
        self.expose(ns, names, start_price)
        time.sleep(6)  # a status report or two: governance sees the holdings at today's price
        equity_start = self.equity(ns, names)
        frozen: list[int] = []
        redis_pid = self.stack.process("redis").pid if self.stack.process("redis") else None
        if fault in ("runtime-frozen", "operator-kill"):
            pid = self.wait(lambda: runtime_pid(names[0], ns), 30, "a runtime")
            os.kill(pid, signal.SIGSTOP)
            frozen.append(pid)
        elif fault == "two-policies":
            lenient = self.policy(ns, "lenient", levels=[{"level": 1, "drawdown": 0.5}])
            self.kubectl("apply", "-f", "-", body=lenient)
        elif fault == "redis-down" and redis_pid:
            os.kill(redis_pid, signal.SIGSTOP)
        elif fault == "api-unreachable":
            assert self.stack.pod_proxy is not None
            self.stack.pod_proxy.cut()
        halted: dict[str, Any] = {}
        market_halt, halt_wall = 0, 0.0

        def latched() -> bool:
            status = self.get("cbp", "strict", ns).get("status") or {}
            if status.get("halted") and not halted:
                halted.update(status)
            return bool(halted)

        path: list[tuple[float, Decimal]] = []
        try:
            path = self.crash(start_price, SPEEDS[speed], latched)
            self.wait(latched, 60, "the halt")
            tripped = datetime.fromisoformat(halted["trippedAt"].replace("Z", "+00:00"))
            halt_wall = tripped.timestamp()
            market_halt = self.market_ms(halt_wall)
            result.dd_at_halt = Decimal(halted.get("drawdown") or 0)
            self.mid_halt(fault, ns, names, frozen)
            self.wait(lambda: self.account_state(ns, names)[0], HALT_DEADLINE_S + 60,
                      "every account flat", 0.5)  # fmt: skip
        except TimeoutError as error:
            result.notes.append(str(error))
        finally:
            for pid in frozen:
                with_suppressed(lambda p=pid: os.kill(p, signal.SIGCONT))
            if fault == "redis-down" and redis_pid:
                with_suppressed(lambda: os.kill(redis_pid, signal.SIGCONT))
            if fault == "api-unreachable" and self.stack.pod_proxy is not None:
                self.stack.pod_proxy.heal()
        time.sleep(5)  # whatever woke up has had time to send what it would
        if market_halt:
            result.increasing, last = self.after_halt(ns, names, market_halt)
            if last:
                result.halt_to_flat = (last - market_halt) / 1000 / CLOCK_SPEED
        result.flat, result.residue = self.account_state(ns, names)
        result.dd_final = 1 - self.equity(ns, names) / equity_start
        if result.dd_at_halt is not None and halt_wall:
            result.bound = self.bound(result.dd_at_halt, start_price, path, halt_wall)
        self.teardown(ns, start_price)
        return result

    @staticmethod
    def bound(
        dd_at_halt: Decimal, start: Decimal, path: list[tuple[float, Decimal]], halt_wall: float
    ) -> Decimal:
        """What the policy allows past the 25% line: the drawdown already past it when the
        halt latched, plus what the market took from the exposure until the halt's deadline
        (and one evaluation), plus 0.5% for fees and the book."""
        at_halt = start * (1 - dd_at_halt / EXPOSURE)
        until = halt_wall + HALT_DEADLINE_S + 0.5
        lowest = min([p for t, p in path if t <= until], default=at_halt)
        moved = max(Decimal(0), (at_halt - lowest) / at_halt)
        return max(Decimal(0), dd_at_halt - LINE) + EXPOSURE * moved + SLIPPAGE

    def mid_halt(self, fault: str, ns: str, names: list[str], frozen: list[int]) -> None:
        if fault == "runtime-kill":
            pid = runtime_pid(names[0], ns)
            if pid:
                os.kill(pid, signal.SIGKILL)
        elif fault == "operator-kill":
            operator = self.stack.process("operator")
            if operator is not None:
                operator.send_signal(signal.SIGKILL)  # the stack's supervisor restarts it
        elif fault == "runtime-frozen":
            time.sleep(3)  # within the deadline: it wakes to a halt it has not heard yet
            for pid in frozen:
                os.kill(pid, signal.SIGCONT)
            frozen.clear()
        elif fault == "forged-directive":
            token = self.kubectl("create", "token", f"{names[0]}-runtime", "-n", ns).strip()
            forged = {"status": {"governance": {"policy": "strict", "sequence": 99999,
                                                "halt": False, "reason": "forged"}}}  # fmt: skip
            out = self.plane.kubectl(
                "patch", "engine", names[0], "-n", ns, "--subresource=status",
                "--type=merge", f"--token={token}", "-p", json.dumps(forged), check=False,
            )  # fmt: skip
            if out.returncode == 0:
                raise AssertionError("the runtime's own token changed its directive")
            # A rival word written with the operator's rights: another policy's, which the
            # runtime must not take for a release.
            rival = {"status": {"governance": {"policy": "rival", "sequence": 99999,
                                               "halt": False, "reason": "rival"}}}  # fmt: skip
            self.kubectl("patch", "engine", names[1], "-n", ns, "--subresource=status",
                         "--type=merge", "-p", json.dumps(rival))  # fmt: skip
        elif fault == "venue-storm":
            self.admin("faults", {"rate_limit_storm": 40})
        elif fault == "venue-restart":
            venue = self.stack.process("paper-venue")
            if venue is not None:
                venue.send_signal(signal.SIGTERM)  # it saves its books; the supervisor restarts

    def teardown(self, ns: str, start_price: Decimal) -> None:
        with_suppressed(lambda: self.admin("faults/clear", {}))
        self.kubectl("delete", "namespace", ns, "--wait=false", check=False)
        self.price(start_price)


def with_suppressed(action: Callable[[], Any]) -> None:
    try:
        action()
    except Exception as error:
        print(f"  (cleanup: {error})", file=sys.stderr)


def table(results: list[Result]) -> str:
    head = (
        f"{'speed':<5} {'fault':<17} {'orders+':>7} {'flat':>5} {'residue':>7} "
        f"{'halt->flat':>10} {'dd@halt':>8} {'past 25%':>8} {'bound':>7} {'ok':>4}"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        h2f = "-" if r.halt_to_flat is None else f"{r.halt_to_flat:.2f}s"
        lines.append(
            f"{r.speed:<5} {r.fault:<17} {r.increasing:>7} {'yes' if r.flat else 'NO':>5} "
            f"{r.residue:>7} {h2f:>10} {pct(r.dd_at_halt):>8} {pct(r.past_line):>8} "
            f"{pct(r.bound):>7} {'yes' if r.ok else 'NO':>4}"
        )
        lines += [f"      note: {n}" for n in r.notes]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="the fast crash, CI's faults")
    parser.add_argument("--speeds", nargs="+", choices=list(SPEEDS), default=list(SPEEDS))
    parser.add_argument("--faults", nargs="+", choices=FAULTS, default=FAULTS)
    args = parser.parse_args()
    speeds, faults = (["fast"], QUICK) if args.quick else (args.speeds, args.faults)
    root = Path(tempfile.mkdtemp(prefix="capital-safety-"))
    stack = Stack(
        root=root, ports={name: free_port() for name in PORTS}, apply_samples=False,
        operator_env={"EE_OPERATOR_RESYNC_SECONDS": "5", "EE_OPERATOR_LEASE_SECONDS": "6"},
        venue_settings={"clock": {"mode": "accelerated", "speed": CLOCK_SPEED}},
        pods_through_proxy=True,
    )  # fmt: skip
    results: list[Result] = []
    try:
        stack.up()
        assert stack.postgres is not None
        assert stack.redis is not None
        database = stack.postgres.create_database("safety")
        print(f"stack up in {root}; cells: {len(speeds) * len(faults)}", flush=True)
        bench = Bench(stack)
        supervising = threading.Thread(target=stack.supervise, daemon=True)
        supervising.start()
        for speed in speeds:
            for fault in faults:
                started = time.monotonic()
                try:
                    result = bench.cell(speed, fault, database, stack.redis.url)
                except Exception as error:
                    result = Result(speed, fault, notes=[f"{type(error).__name__}: {error}"])
                results.append(result)
                print(table([result]).splitlines()[-1 - len(result.notes)], flush=True)
                print(f"      ({time.monotonic() - started:.0f}s)", flush=True)
    finally:
        stack.down()
    print("\n" + table(results))
    failed = [r for r in results if not r.ok]
    if failed:
        print(f"\n{len(failed)} cell(s) broke the promise", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
