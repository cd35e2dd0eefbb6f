"""The whole local stack, as `make up` starts it, with the sample fleet: real runtimes trading on
the paper venue, governance, allocation, the pod runner, and failures of each.

One stack for the module; the tests run in order, and the crash comes last because its halt is
latched.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.processes import free_port, runtime_pid
from eternal_operator.devtools.stack import PORTS, Stack
from support.stack import running
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.e2e
ENGINES = ("core-hodl", "trend", "funding", "tactical")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    fleet = Stack(
        root=Path(tmp_path_factory.mktemp("stack")),
        ports={name: free_port() for name in PORTS},
        operator_env={
            "EE_OPERATOR_RESYNC_SECONDS": "5",
            "EE_OPERATOR_HEARTBEAT_TIMEOUT_SECONDS": "30",
            "EE_OPERATOR_DELETE_DEADLINE_SECONDS": "15",
        },
    )
    with running(fleet):
        yield fleet


def kubectl(stack: Stack, *args: str, check: bool = True) -> str:
    assert stack.plane is not None
    return stack.plane.kubectl(*args, check=check).stdout


def get(stack: Stack, kind: str, name: str) -> dict[str, Any]:
    out = kubectl(stack, "get", kind, name, "-o", "json", check=False)
    return json.loads(out) if out else {}


def phase(stack: Stack, engine: str) -> str | None:
    return get(stack, "engine", engine).get("status", {}).get("phase")


def runtime(stack: Stack, engine: str) -> dict[str, Any]:
    return dict(get(stack, "engine", engine).get("status", {}).get("runtime") or {})


def venue_session(stack: Stack, engine: str) -> Any:
    secret = get(stack, "secret", f"{engine}-venue-credentials")["data"]
    key, value = (base64.b64decode(secret[k]).decode() for k in ("apiKey", "apiSecret"))
    return http_session(f"http://127.0.0.1:{stack.ports['paper-venue']}", key, value)


def venue_admin(stack: Stack, path: str, body: dict[str, Any] | None) -> Any:
    return admin(f"http://127.0.0.1:{stack.ports['paper-venue']}", path, body, stack.venue_token)


def orders(stack: Stack, engine: str) -> list[dict[str, Any]]:
    session, found = venue_session(stack, engine), []
    for category in ("spot", "linear"):
        found += session.get_order_history(category=category, limit=50)["result"]["list"]
    return found


def test_the_sample_fleet_runs_reports_and_trades(stack: Stack) -> None:
    for engine in ENGINES:
        wait_for(lambda e=engine: phase(stack, e) == "Running", 240, f"{engine} Running")

    def funded() -> bool:
        transfers = get(stack, "alloc", "eternal").get("status", {}).get("transfers", [])
        return len(transfers) == 4 and all(t["state"] == "Success" for t in transfers)

    wait_for(funded, 120, "the monthly contribution to reach every engine")
    for engine in ENGINES:
        wait_for(lambda e=engine: Decimal(runtime(stack, e).get("equity") or 0) > 0, 60,
                 f"{engine} to report its equity")  # fmt: skip
    # The local stack runs strategies on 1-minute bars: the first confirmed bar brings orders.
    wait_for(lambda: orders(stack, "core-hodl"), 180, "CORE-HODL's first orders on the venue")
    listing = kubectl(stack, "get", "engines")
    assert all(engine in listing for engine in ENGINES)
    assert "Running" in listing


def test_emergency_halt_holds_through_a_revert_until_reset(stack: Stack) -> None:
    kubectl(stack, "patch", "cbp", "eternal", "--type", "merge", "-p",
            '{"spec":{"emergencyHalt":true}}')  # fmt: skip
    for engine in ENGINES:
        wait_for(lambda e=engine: phase(stack, e) == "Halted", 60, f"{engine} Halted")
        assert runtime(stack, engine)["flat"] is True
        open_now = venue_session(stack, engine).get_open_orders(category="spot")["result"]["list"]
        assert open_now == []

    kubectl(stack, "patch", "cbp", "eternal", "--type", "merge", "-p",
            '{"spec":{"emergencyHalt":false}}')  # fmt: skip
    time.sleep(3)  # a dozen evaluations: the latch must hold through all of them
    assert get(stack, "cbp", "eternal")["status"]["halted"] is True
    assert all(phase(stack, e) == "Halted" for e in ENGINES)

    kubectl(
        stack, "annotate", "cbp", "eternal", f"trading.eternal-engine.io/reset=e2e-{time.time()}"
    )
    for engine in ENGINES:
        wait_for(lambda e=engine: phase(stack, e) == "Running", 60, f"{engine} Running again")


def test_a_killed_engine_restarts_reconciles_and_duplicates_nothing(stack: Stack) -> None:
    pid = wait_for(lambda: runtime_pid("core-hodl"), 30, "the CORE-HODL process")
    before = {o["orderLinkId"] for o in orders(stack, "core-hodl")}
    os.kill(pid, signal.SIGKILL)

    def restarted() -> bool:
        annotations = get(stack, "deployment", "core-hodl-runtime")["metadata"].get(
            "annotations", {}
        )
        return int(annotations.get("dev.eternal-engine.io/restarts", "0")) >= 1

    wait_for(restarted, 60, "the pod runner to restart it")
    new_pid = wait_for(lambda: runtime_pid("core-hodl"), 60, "a new process")
    assert new_pid != pid
    wait_for(lambda: phase(stack, "core-hodl") == "Running", 120, "Running again")
    links = [o["orderLinkId"] for o in orders(stack, "core-hodl")]
    assert len(links) == len(set(links)), "an order was placed twice"
    assert before <= set(links)


def test_a_killed_operator_loses_nothing(stack: Stack) -> None:
    policy = get(stack, "cbp", "eternal")["status"]
    transfers = get(stack, "alloc", "eternal")["status"]["transfers"]
    operator = stack.process("operator")
    assert operator is not None
    operator.send_signal(signal.SIGKILL)  # the stack's supervisor starts it again
    log = stack.logs / "operator.log"
    wait_for(lambda: log.read_text(errors="replace").count("leads via Lease") >= 2, 60, "leader")
    time.sleep(3)  # a few governance evaluations and an allocation pass by the new operator
    after = get(stack, "cbp", "eternal")["status"]
    assert after["highWaterMark"] == policy["highWaterMark"]
    assert after["resetToken"] == policy["resetToken"]
    assert get(stack, "alloc", "eternal")["status"]["transfers"] == transfers
    assert all(phase(stack, e) == "Running" for e in ENGINES)


def test_a_killed_venue_comes_back_with_its_accounts_and_the_fleet_carries_on(
    stack: Stack,
) -> None:
    wallets = {
        e: venue_session(stack, e).get_wallet_balance(accountType="UNIFIED") for e in ENGINES
    }
    assert all(w["retCode"] == 0 for w in wallets.values())
    venue = stack.process("paper-venue")
    assert venue is not None
    venue.send_signal(signal.SIGKILL)

    def serving() -> bool:
        try:
            return bool(venue_admin(stack, "state", None)["accounts"])
        except OSError:
            return False

    wait_for(serving, 60, "the venue to serve again on its port")
    restarted = stack.process("paper-venue")
    assert restarted is not None
    assert restarted.pid != venue.pid
    # The subaccounts the operator made minutes ago, with their keys, came from the snapshot.
    for engine in ENGINES:
        wallet = venue_session(stack, engine).get_wallet_balance(accountType="UNIFIED")
        assert wallet["retCode"] == 0, (engine, wallet)
    assert {c.name: c.restarts for c in stack.components}["paper-venue"] == 1
    state = json.loads((stack.root / "stack.json").read_text())
    assert {c["name"]: c["restarts"] for c in state["components"]}["paper-venue"] == 1
    log = (stack.logs / "paper-venue.log").read_text()
    assert "paper-venue exited (code -9); restarting in 1s" in log
    for engine in ENGINES:
        wait_for(lambda e=engine: phase(stack, e) == "Running", 120, f"{engine} Running")


def test_a_crash_on_the_venue_walks_the_levels_and_ends_flat_and_latched(stack: Stack) -> None:
    # Exposure first: most of each account in spot BTC (bought as a user could), so that a
    # crash reaches the portfolio before level 3's move to stables can protect it.
    for engine in ENGINES:
        session = venue_session(stack, engine)
        wallet = session.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]
        coin = next(c for c in wallet["coin"] if c["coin"] == "USDT")
        free = Decimal(coin["walletBalance"]) - Decimal(coin.get("locked") or 0)
        session.place_order(
            category="spot", symbol="BTCUSDT", side="Buy", orderType="Market",
            qty=str((free * Decimal("0.9")).quantize(Decimal(1))), marketUnit="quoteCoin",
        )  # fmt: skip
    time.sleep(5)  # a report or two, so governance sees the new holdings at today's prices
    btc = Decimal(venue_admin(stack, "price", {"symbol": "BTCUSDT", "price": "60000"})["price"])
    for step in range(1, 11):  # down 5% a step, a step every 0.2 s, to -50%
        venue_admin(stack, "price", {"symbol": "BTCUSDT", "price": str(btc * (20 - step) / 20)})
        time.sleep(0.2)
    status = wait_for(
        lambda: (s := get(stack, "cbp", "eternal")["status"]) and s.get("halted") and s, 60,
        "level 4 and a latched halt",
    )  # fmt: skip
    walked = [h["toLevel"] for h in status["history"] if h["toLevel"] > h["fromLevel"]]
    assert walked == sorted(walked)
    assert walked[-1] == 4
    for engine in ENGINES:
        wait_for(lambda e=engine: phase(stack, e) == "Halted", 90, f"{engine} Halted")
        assert runtime(stack, engine)["flat"] is True
    venue_admin(stack, "price", {"symbol": "BTCUSDT", "price": str(btc)})  # a full recovery
    time.sleep(2)
    assert get(stack, "cbp", "eternal")["status"]["halted"] is True  # still latched
