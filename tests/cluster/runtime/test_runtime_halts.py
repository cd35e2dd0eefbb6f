"""A halt as the runtime hears it, on a real API server with a real runtime process: from any
source, lifted only by its own policy, and nothing that adds exposure leaves the runtime while
it cannot hear governance (cut from the API server) or after it wakes from a freeze."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from eternal_operator.devtools.tcpproxy import TcpProxy
from support import rtdb
from support.runtime import Account, RuntimeProcess, make_runtime
from support.waiting import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.integration]
LABELS = {"trading.eternal-engine.io/portfolio": "p"}


def kubectl_json(plane: ControlPlane, *args: str) -> dict[str, Any]:
    return dict(json.loads(plane.kubectl(*args, "-o", "json").stdout))


def runtime_status(plane: ControlPlane, ns: str) -> dict[str, Any]:
    engine = kubectl_json(plane, "get", "engine", "rt", "-n", ns)
    return dict((engine.get("status") or {}).get("runtime") or {})


def write_directive(
    plane: ControlPlane, ns: str, policy: str, sequence: int, **fields: Any
) -> None:
    governance = {"policy": policy, "sequence": sequence, "issuedAt": datetime.now(UTC).isoformat(),
                  "reason": f"{policy} says so", **fields}  # fmt: skip
    plane.kubectl(
        "patch", "engine", "rt", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"governance": governance}}),
    )  # fmt: skip


def orders(venue: Any, side: str) -> list[dict[str, Any]]:
    out = []
    for category in ("spot", "linear"):
        listed = venue.get_order_history(category=category, limit=50)["result"]["list"]
        out += [o for o in listed if o["side"] == side]
    return out


def refusals(postgres: str, ns: str) -> list[Any]:
    return rtdb.fetch(
        postgres,
        "SELECT reject_reason FROM orders WHERE engine=$1 AND status='Rejected'",
        f"{ns}/rt",
    )


@pytest.fixture
def proxy(control_plane: ControlPlane) -> Iterator[TcpProxy]:
    proxy = TcpProxy(int(control_plane.server.rsplit(":", 1)[1]))
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def rt(
    control_plane: ControlPlane, namespace: str, fast_venue: str, account: Account,
    postgres: str, redis: str, tmp_path: Path, proxy: TcpProxy,
) -> Iterator[RuntimeProcess]:  # fmt: skip
    """A runtime whose way to the API server goes through `proxy`."""
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
        "metadata": {"name": "rt", "labels": LABELS},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": str(account.uid)},
    }))  # fmt: skip
    kubeconfig = tmp_path / "proxied-kubeconfig"
    kubeconfig.write_text(control_plane.kubeconfig.read_text().replace(
        control_plane.server, proxy.url))  # fmt: skip
    runtime = make_runtime(
        tmp_path / "rt", name="rt", namespace=namespace, venue_url=fast_venue,
        database_url=postgres, redis_url=redis, account=account, kubeconfig=kubeconfig,
        extra_env={"EE_GOVERNANCE_LEASE_SECONDS": "2", "EE_REPORT_INTERVAL_SECONDS": "1"},
    )  # fmt: skip
    runtime.start()
    runtime.wait_ready()
    wait_for(lambda: runtime_status(control_plane, namespace).get("heartbeat"), 15, "a report")
    yield runtime
    runtime.stop()


def test_another_policy_or_an_older_word_never_lifts_a_halt(
    control_plane: ControlPlane, namespace: str, rt: RuntimeProcess, postgres: str,
    fast_venue: str, account: Account,
) -> None:  # fmt: skip
    write_directive(control_plane, namespace, "a", 5, halt=True, level=4)
    wait_for(
        lambda: (
            runtime_status(control_plane, namespace).get("appliedDirective") == 5
            and runtime_status(control_plane, namespace).get("flat")
        ),
        15,
        "halted and flat",
    )
    write_directive(control_plane, namespace, "b", 9, halt=False)  # a rival policy's word
    wait_for(lambda: runtime_status(control_plane, namespace).get("appliedDirective") == 9, 10)
    rt.command(op="submit", id="rival", side="Buy", type="Market", qty="0.001")
    wait_for(lambda: rtdb.fetch(postgres, "SELECT 1 FROM risk_refusals WHERE engine=$1 AND "
                                "check_name='governance_halt'", f"{namespace}/rt"),
             15, "the entry refused: a still halted")  # fmt: skip
    write_directive(control_plane, namespace, "a", 4, halt=False)  # a's older word
    rt.command(op="submit", id="older", side="Buy", type="Market", qty="0.001")
    wait_for(lambda: len(rtdb.fetch(postgres, "SELECT 1 FROM risk_refusals WHERE engine=$1 AND "
                                    "check_name='governance_halt'", f"{namespace}/rt")) >= 2,
             15, "the entry refused again")  # fmt: skip
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    assert orders(venue, "Buy") == []
    write_directive(control_plane, namespace, "a", 6, halt=False)  # a's reset
    rt.command(op="submit", id="after-reset", side="Buy", type="Market", qty="0.001")
    wait_for(lambda: orders(venue, "Buy"), 15, "trading again after a's own release")


def test_a_policy_s_latched_halt_alone_flattens_the_whole_account(
    control_plane: ControlPlane, namespace: str, rt: RuntimeProcess, fast_venue: str,
    account: Account,
) -> None:  # fmt: skip
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    venue.place_order(
        category="spot",
        symbol="ETHUSDT",
        side="Buy",
        orderType="Market",
        qty="300",
        marketUnit="quoteCoin",
    )  # a coin its spec never names
    rt.command(op="submit", id="long", side="Buy", type="Market", qty="0.01")
    wait_for(lambda: orders(venue, "Buy") and runtime_status(control_plane, namespace)
             .get("positions"), 15, "a position")  # fmt: skip
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "crash"}, "spec": {"selector": {"matchLabels": LABELS}},
    }))  # fmt: skip
    # No directive reaches the engine: only the policy's own latched status (no operator runs).
    control_plane.kubectl(
        "patch", "cbp", "crash", "-n", namespace, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": {"halted": True, "directiveSequence": 3,
                                     "haltReason": "level 4"}}),
    )  # fmt: skip

    def flat() -> bool:
        wallet = venue.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
        coins = {c["coin"]: Decimal(c["walletBalance"]) for c in wallet}
        positions = venue.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
        return coins.get("ETH", Decimal(0)) < Decimal("0.001") and not any(
            Decimal(p["size"]) for p in positions
        )

    wait_for(flat, 20, "the whole account flat, ETH included")
    wait_for(lambda: runtime_status(control_plane, namespace).get("flat") is True, 10,
             "the runtime reporting it flat")  # fmt: skip


def test_cut_from_the_api_server_it_refuses_entries_once_the_lease_runs_out(
    control_plane: ControlPlane, namespace: str, rt: RuntimeProcess, proxy: TcpProxy,
    postgres: str, fast_venue: str, account: Account,
) -> None:  # fmt: skip
    proxy.cut()
    write_directive(control_plane, namespace, "a", 2, halt=True)  # it cannot hear this
    time.sleep(2.5)  # the lease (2 s) runs out without a word from the API server
    rt.command(op="submit", id="blind", side="Buy", type="Market", qty="0.001")
    refused = wait_for(lambda: refusals(postgres, namespace), 15, "the blind entry refused")
    assert "governance unconfirmed" in refused[0]["reject_reason"]
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    assert orders(venue, "Buy") == []
    proxy.heal()
    wait_for(lambda: runtime_status(control_plane, namespace).get("appliedDirective") == 2
             and runtime_status(control_plane, namespace).get("flat"), 30,
             "the halt heard once the line is back")  # fmt: skip


def test_a_runtime_woken_from_a_freeze_checks_before_it_sends(
    control_plane: ControlPlane, namespace: str, rt: RuntimeProcess, postgres: str,
    fast_venue: str, account: Account,
) -> None:  # fmt: skip
    assert rt.process is not None
    os.kill(rt.process.pid, signal.SIGSTOP)
    try:
        write_directive(control_plane, namespace, "a", 7, halt=True)
        rt.command(op="submit", id="waking", side="Buy", type="Market", qty="0.001")
        rt.command(op="submit", id="waking-spot", side="Buy", type="Market", qty="0.001")
        time.sleep(3)  # longer than the lease: whatever it heard before is stale
    finally:
        os.kill(rt.process.pid, signal.SIGCONT)
    wait_for(
        lambda: (
            runtime_status(control_plane, namespace).get("appliedDirective") == 7
            and runtime_status(control_plane, namespace).get("flat")
        ),
        20,
        "halted and flat",
    )
    # Both commands are tried, at the next bars, and refused: by the gate or by the risk checks.
    wait_for(lambda: len(refusals(postgres, namespace)) + len(rtdb.fetch(
        postgres, "SELECT 1 FROM risk_refusals WHERE engine=$1", f"{namespace}/rt")) >= 2,
        20, "both commands refused")  # fmt: skip
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    assert orders(venue, "Buy") == []  # none before the freeze, none after


def publish(plane: ControlPlane, ns: str, sequence: int, **directive: Any) -> None:
    """The policy's status as the operator publishes it: the latch and the fleet's directive."""
    halted = bool(directive.get("halt"))
    whole = {
        "sequence": sequence,
        "level": 0,
        "sizeMultiplier": 1,
        "entriesPaused": False,
        "closeDirectional": False,
        "halt": halted,
        "reason": "published",
        "issuedAt": datetime.now(UTC).isoformat(),
        **directive,
    }  # every field: a merge patch
    status = {"halted": halted, "directiveSequence": sequence, "haltReason": "level 4",
              "directive": whole}  # fmt: skip
    plane.kubectl(
        "patch", "cbp", "crash", "-n", ns, "--subresource=status", "--type=merge",
        "-p", json.dumps({"status": status}),
    )  # fmt: skip


def test_a_policy_s_published_level_and_reset_alone_steer_the_runtime(
    control_plane: ControlPlane, namespace: str, rt: RuntimeProcess, fast_venue: str,
    account: Account, postgres: str,
) -> None:  # fmt: skip
    """No operator runs and no directive reaches the Engine: the policy's status, written once
    for a fleet, pauses entries, halts, and its reset lets the runtime trade again."""
    venue = http_session(fast_venue, account.api_key, account.api_secret)
    control_plane.kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
        "metadata": {"name": "crash"}, "spec": {"selector": {"matchLabels": LABELS}},
    }))  # fmt: skip
    publish(control_plane, namespace, 2, level=2, entriesPaused=True, sizeMultiplier=0.5)
    wait_for(lambda: runtime_status(control_plane, namespace).get("appliedDirective") == 2, 10,
             "the published level applied")  # fmt: skip
    rt.command(op="submit", id="paused", side="Buy", type="Market", qty="0.01")
    wait_for(lambda: rtdb.fetch(postgres, "SELECT 1 FROM risk_refusals WHERE engine=$1 AND "
                                "check_name='entries_paused'", f"{namespace}/rt"),
             15, "the entry refused: entries paused")  # fmt: skip
    publish(control_plane, namespace, 3, level=4, halt=True, entriesPaused=True,
            sizeMultiplier=0)  # fmt: skip
    wait_for(lambda: runtime_status(control_plane, namespace).get("appliedDirective") == 3
             and runtime_status(control_plane, namespace).get("flat"), 15, "flat")  # fmt: skip
    publish(control_plane, namespace, 4, level=0)  # the reset
    wait_for(lambda: runtime_status(control_plane, namespace).get("appliedDirective") == 4, 10,
             "the reset applied")  # fmt: skip
    assert orders(venue, "Buy") == []
    rt.command(op="submit", id="after-reset", side="Buy", type="Market", qty="0.001")
    wait_for(lambda: orders(venue, "Buy"), 15, "trading again after the published reset")
