"""The runtime and its Engine on a real API server: status reporting, governance directives
(within a second, halt to flat), the shutdown handshake, and obedience while the API is away."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support import rtdb
from support.runtime import Account, RuntimeProcess, admin, make_runtime
from support.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.integration]


def engine_object(name: str, account: Account) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1",
        "kind": "Engine",
        "metadata": {"name": name},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": str(account.uid)},
    }


def runtime_status(plane: ControlPlane, ns: str, name: str) -> dict[str, Any]:
    out = plane.kubectl("get", "engine", name, "-n", ns, "-o", "json")
    return dict((json.loads(out.stdout).get("status") or {}).get("runtime") or {})


def patch_status(plane: ControlPlane, ns: str, name: str, status: dict[str, Any]) -> None:
    plane.kubectl(
        "patch", "engine", name, "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def directive(sequence: int, **fields: Any) -> dict[str, Any]:
    return {
        "governance": {
            "sequence": sequence,
            "policy": "test",
            "level": fields.pop("level", 1),
            "issuedAt": datetime.now(UTC).isoformat(),
            **fields,
        }
    }


def log_lines(rt: RuntimeProcess) -> list[dict[str, Any]]:
    """The runtime's JSON log lines so far."""
    lines = []
    for text in rt.text().splitlines():
        with contextlib.suppress(ValueError):
            lines.append(json.loads(text))
    return [line for line in lines if isinstance(line, dict)]


@pytest.fixture
def engine_rt(
    control_plane: ControlPlane, namespace: str, fast_venue: str, account: Account,
    postgres: str, redis: str, tmp_path: Path,
) -> Iterator[RuntimeProcess]:  # fmt: skip
    name = "gov"
    control_plane.kubectl(
        "apply", "-n", namespace, "-f", "-", input=json.dumps(engine_object(name, account))
    )
    rt = make_runtime(
        tmp_path / name,
        name=name,
        namespace=namespace,
        venue_url=fast_venue,
        database_url=postgres,
        redis_url=redis,
        account=account,
        kubeconfig=control_plane.kubeconfig,
    )
    rt.start()
    rt.wait_ready()
    yield rt
    rt.stop()


def test_reports_status_and_obeys_a_changed_directive_within_a_second(
    control_plane: ControlPlane, namespace: str, engine_rt: RuntimeProcess, postgres: str
) -> None:
    first = wait_for(
        lambda: runtime_status(control_plane, namespace, "gov").get("heartbeat"), 15, "a heartbeat"
    )
    status = runtime_status(control_plane, namespace, "gov")
    assert Decimal(status["equity"]) > 0
    assert Decimal(status["cash"]) > 0
    assert status["venueConnected"] is True
    assert status["openOrders"] == 0
    assert status["flat"] is True
    assert Decimal(status["drawdown"]) >= 0
    assert first

    started = time.monotonic()
    patch_status(
        control_plane, namespace, "gov", directive(3, entriesPaused=True, sizeMultiplier=0.5)
    )
    wait_for(
        lambda: runtime_status(control_plane, namespace, "gov").get("appliedDirective") == 3,
        5,
        "the directive to be applied",
    )
    assert time.monotonic() - started < 1.5  # includes two kubectl round trips
    applied = [line for line in log_lines(engine_rt) if line.get("msg") == "directive applied"]
    assert applied[-1]["level"] == "INFO"  # the line's own level, not the breaker's
    assert (applied[-1]["breaker_level"], applied[-1]["sequence"]) == (1, 3)
    engine_rt.command(op="submit", id="e", side="Buy", type="Market", qty="0.01")
    refusal = wait_for(
        lambda: rtdb.fetch(postgres, "SELECT * FROM risk_refusals WHERE engine=$1",
                           f"{namespace}/gov"),
        15, "the entry to be refused",
    )  # fmt: skip
    assert refusal[0]["check_name"] == "entries_paused"
    events = rtdb.fetch(
        postgres, "SELECT * FROM governance_events WHERE engine=$1", f"{namespace}/gov"
    )
    assert [e["sequence"] for e in events] == [3]


def test_last_error_is_reported_while_the_venue_fails_and_cleared_after(
    control_plane: ControlPlane, namespace: str, engine_rt: RuntimeProcess, fast_venue: str
) -> None:
    def status() -> dict[str, Any]:
        return runtime_status(control_plane, namespace, "gov")

    wait_for(lambda: status().get("heartbeat"), 15, "a heartbeat")
    assert status().get("lastError") is None
    admin(fast_venue, "faults", {"http_5xx": 1_000_000})  # every REST request: 503
    try:
        error = wait_for(lambda: status().get("lastError"), 30, "the error in the status")
    finally:
        admin(fast_venue, "faults/clear", {})
    assert str(error).startswith("wallet: HTTP 503")
    wait_for(lambda: status().get("lastError") is None, 30, "the error to clear")


def test_halt_cancels_everything_and_leaves_the_account_flat(
    control_plane: ControlPlane, namespace: str, engine_rt: RuntimeProcess, postgres: str,
    fast_venue: str, account: Account,
) -> None:  # fmt: skip
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    engine_rt.command(op="submit", id="pos", side="Sell", type="Market", qty="0.01")
    engine_rt.command(op="submit", id="rest", side="Buy", type="Limit", qty="0.01", offset="-0.05")

    def exposed() -> bool:
        positions = venue.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
        orders = venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
        return bool(positions and Decimal(positions[0]["size"]) > 0 and orders)

    wait_for(exposed, 20, "a position and a resting order")
    patch_status(
        control_plane, namespace, "gov", directive(7, level=4, halt=True, entriesPaused=True)
    )
    wait_for(
        lambda: (
            runtime_status(control_plane, namespace, "gov").get("flat") is True
            and runtime_status(control_plane, namespace, "gov").get("appliedDirective") == 7
        ),
        20,
        "the runtime to report flat",
    )
    positions = venue.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert not positions or Decimal(positions[0]["size"]) == 0
    assert not venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    # Halted: new entries are refused.
    engine_rt.command(op="submit", id="after", side="Buy", type="Market", qty="0.01")
    wait_for(
        lambda: rtdb.fetch(postgres, "SELECT 1 FROM risk_refusals WHERE engine=$1 AND "
                           "check_name='governance_halt'", f"{namespace}/gov"),
        15, "the entry to be refused",
    )  # fmt: skip


def test_shutdown_handshake_cancels_orders_and_confirms(
    control_plane: ControlPlane, namespace: str, engine_rt: RuntimeProcess, fast_venue: str,
    account: Account,
) -> None:  # fmt: skip
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    engine_rt.command(op="submit", id="rest", side="Buy", type="Limit", qty="0.01", offset="-0.05")
    wait_for(
        lambda: venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"],
        20,
        "a resting order",
    )
    requested = datetime.now(UTC).replace(microsecond=0)
    patch_status(
        control_plane,
        namespace,
        "gov",
        {"shutdown": {"reason": "Suspend", "flatten": False, "requestedAt": requested.isoformat()}},
    )
    done = wait_for(
        lambda: runtime_status(control_plane, namespace, "gov").get("shutdownDoneAt"),
        15,
        "shutdownDoneAt",
    )
    assert datetime.fromisoformat(done.replace("Z", "+00:00")) >= requested
    assert not venue.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]


def test_last_directive_is_obeyed_after_a_restart_without_the_api_server(
    control_plane: ControlPlane, namespace: str, engine_rt: RuntimeProcess, postgres: str
) -> None:
    patch_status(control_plane, namespace, "gov", directive(11, entriesPaused=True))
    wait_for(
        lambda: runtime_status(control_plane, namespace, "gov").get("appliedDirective") == 11,
        5,
        "the directive",
    )
    engine_rt.stop()
    engine_rt.env["KUBECONFIG"] = str(engine_rt.directory / "unreachable-kubeconfig")
    (engine_rt.directory / "unreachable-kubeconfig").write_text(
        control_plane.kubeconfig.read_text().replace(control_plane.server, "https://127.0.0.1:1")
    )
    engine_rt.start()
    engine_rt.wait_ready()
    engine_rt.command(op="submit", id="x", side="Buy", type="Market", qty="0.01")
    refusal = wait_for(
        lambda: rtdb.fetch(postgres, "SELECT * FROM risk_refusals WHERE engine=$1",
                           f"{namespace}/gov"),
        15, "the entry to be refused from the checkpointed directive",
    )  # fmt: skip
    assert refusal[0]["check_name"] == "entries_paused"
