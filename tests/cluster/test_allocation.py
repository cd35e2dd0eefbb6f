"""The allocation controller against a real kube-apiserver and the paper venue: drift moves
capital exactly once even across an operator crash, contributions are flows (not gains), and a
target raised while governance pauses entries is refused."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eternal_kernel.bybit.session import http_session
from eternal_operator.devtools.controlplane import ControlPlane
from support import kube, processes
from support.kube import apply
from support.processes import Venue
from support.venue_admin import admin
from support.waiting import wait_for

pytestmark = pytest.mark.cluster
SUBS = {"a": ("100001", "PAPERSUBKEY0001", "PAPERSUBSECRET000000000000000001"),
        "b": ("100002", "PAPERSUBKEY0002", "PAPERSUBSECRET000000000000000002")}  # fmt: skip
LABEL = {"trading.eternal-engine.io/portfolio": "alloc"}


def get(plane: ControlPlane, kind: str, name: str, ns: str) -> dict[str, Any]:
    return kube.get(plane, kind, name, ns) or {}


def usdt(venue: Venue, engine: str) -> Decimal:
    _, key, secret = SUBS[engine]
    wallet = http_session(venue.url, key, secret).get_wallet_balance(accountType="UNIFIED")
    coins = {c["coin"]: c for c in wallet["result"]["list"][0]["coin"]}
    return Decimal(coins["USDT"]["walletBalance"])


def faults(venue: Venue, **settings: int) -> None:
    admin(venue.url, "faults", dict(settings), venue.admin_token)


def setup_engines(plane: ControlPlane, ns: str) -> None:
    for name, (uid, key, secret) in SUBS.items():
        kube.secret(plane, ns, f"{name}-keys", {"apiKey": key, "apiSecret": secret})
        apply(plane, ns, {
            "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Engine",
            "metadata": {"name": name, "labels": LABEL},
            "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": uid,
                     "credentials": {"secretName": f"{name}-keys"}},
        })  # fmt: skip


def allocation(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "Allocation",
        "metadata": {"name": "eternal"},
        "spec": {"targets": [{"engine": "a", "weight": 0.75}, {"engine": "b", "weight": 0.25}],
                 "driftThreshold": 0.1, "calendarFallback": "none", **spec},
    }  # fmt: skip


class VenueEquity(kube.StandInRuntime):
    """Stands in for the runtimes' reports: each engine's real equity on the venue."""

    def __init__(self, plane: ControlPlane, ns: str, venue: Venue) -> None:
        super().__init__(plane, ns)
        self.venue = venue

    def report(self) -> None:
        for name in SUBS:
            # The time stamped is when the equity was measured, never later (the contract).
            measured = kube.measured_now()
            try:
                equity = usdt(self.venue, name)
            except Exception:  # the venue may be slowed down on purpose
                continue
            runtime = {"equity": str(equity), "venueConnected": True, "heartbeat": measured}
            kube.patch_runtime(self.plane, self.ns, name, runtime)


@pytest.fixture
def ns(control_plane: ControlPlane) -> Iterator[str]:
    name = f"alloc-{secrets.token_hex(4)}"
    control_plane.kubectl("create", "namespace", name)
    yield name
    # Nothing of it may move money on the shared venue's subaccounts while the next test runs,
    # and the next test's Engines name the same subaccounts: its Engines go now (their
    # finalizers would wait for the test's operator, which is gone).
    control_plane.kubectl(
        "delete", "allocations,cbp", "--all", "-n", name, "--wait=false", check=False
    )
    kube.drop_engines(control_plane, name)
    control_plane.kubectl("delete", "namespace", name, "--wait=false", check=False)


def operator(plane: ControlPlane, venue: Venue, log: Path, name: str) -> processes.Operator:
    op = processes.start_operator(
        plane.kubeconfig, venue, log, name=name, namespaces="alloc-*", lease_name="alloc-tests",
        lease_seconds="3",
    )  # fmt: skip
    wait_for(lambda: "leads via Lease" in op.text(), 30, "the operator to lead")
    return op


def test_drift_moves_capital_exactly_once_across_an_operator_crash(
    control_plane: ControlPlane, paper_venue: Venue, ns: str, tmp_path: Path
) -> None:
    setup_engines(control_plane, ns)
    before = {name: usdt(paper_venue, name) for name in SUBS}
    expected = (before["a"] + before["b"]) * Decimal("0.75") - before["a"]
    op = operator(control_plane, paper_venue, tmp_path / "first.log", "alloc-first")
    try:
        with VenueEquity(control_plane, ns, paper_venue):
            faults(paper_venue, latency_ms=2500)  # every venue call now takes 2.5 s
            apply(control_plane, ns, allocation())

            def transfer(state: str) -> dict[str, Any] | None:
                for t in (
                    get(control_plane, "alloc", "eternal", ns)
                    .get("status", {})
                    .get("transfers", [])
                ):
                    if t["state"] == state:
                        return dict(t)
                return None

            pending = wait_for(lambda: transfer("Pending"), 60, "a transfer under way")
            op.process.kill()  # halfway: planned and maybe sent, not yet recorded as done
            op.process.wait(timeout=10)
            faults(paper_venue, latency_ms=0)
            op = operator(control_plane, paper_venue, tmp_path / "second.log", "alloc-second")
            done = wait_for(lambda: transfer("Success"), 60, "the transfer done")
    finally:
        op.stop()
        faults(paper_venue, latency_ms=0)

    assert done["transferId"] == pending["transferId"]
    transfers = get(control_plane, "alloc", "eternal", ns)["status"]["transfers"]
    assert len(transfers) == 1
    moved = Decimal(done["amount"])
    assert abs(moved - expected) <= Decimal("0.01")
    after = {name: usdt(paper_venue, name) for name in SUBS}
    assert after["a"] - before["a"] == moved  # once, not twice
    assert before["b"] - after["b"] == moved


def test_a_rebalance_waits_for_equity_measured_after_its_transfers(
    control_plane: ControlPlane, paper_venue: Venue, ns: str, tmp_path: Path
) -> None:
    setup_engines(control_plane, ns)
    before = {name: usdt(paper_venue, name) for name in SUBS}
    reports = VenueEquity(control_plane, ns, paper_venue)
    reports.report()  # once: from now on the engines' status holds equity from before the move
    total = before["a"] + before["b"]
    weight = Decimal("0.25") if before["a"] > total / 2 else Decimal("0.75")  # a drift, whatever
    targets = [
        {"engine": "a", "weight": float(weight)},
        {"engine": "b", "weight": float(1 - weight)},
    ]
    moves = allocation(targets=targets)
    op = operator(control_plane, paper_venue, tmp_path / "op.log", "alloc-settle")

    def status_at(generation: int) -> dict[str, Any] | None:
        status = get(control_plane, "alloc", "eternal", ns).get("status", {})
        return status if status.get("observedGeneration") == generation else None

    def ready(status: dict[str, Any]) -> dict[str, Any]:
        return next(c for c in status["conditions"] if c["type"] == "Ready")

    try:
        apply(control_plane, ns, moves)
        wait_for(
            lambda: (s := status_at(1)) and [t for t in s.get("transfers", [])
                                             if t["state"] == "Success"],
            60, "the rebalance done",
        )  # fmt: skip
        # Another pass on the same (pre-transfer) figures: the drift they show is already fixed.
        moves["spec"]["driftThreshold"] = 0.11
        apply(control_plane, ns, moves)
        status = wait_for(lambda: status_at(2), 30, "a pass on the new generation")
        assert len(status["transfers"]) == 1
        assert ready(status)["reason"] == "AwaitingReports"
        assert "a, b" in ready(status)["message"]
        reports.report()  # measured after the transfer
        moves["spec"]["driftThreshold"] = 0.12
        apply(control_plane, ns, moves)
        status = wait_for(
            lambda: (s := status_at(3)) and ready(s)["reason"] == "Balanced" and s, 30
        )  # fmt: skip
        assert len(status["transfers"]) == 1
    finally:
        op.stop()
    after = {name: usdt(paper_venue, name) for name in SUBS}
    assert abs(after["a"] - total * weight) <= Decimal("0.01")  # moved once, not twice
    assert after["a"] + after["b"] == total


def test_a_contribution_is_a_flow_not_a_gain(
    control_plane: ControlPlane, paper_venue: Venue, ns: str, tmp_path: Path
) -> None:
    setup_engines(control_plane, ns)
    op = operator(control_plane, paper_venue, tmp_path / "op.log", "alloc-flow")
    try:
        with VenueEquity(control_plane, ns, paper_venue):
            apply(control_plane, ns, {
                "apiVersion": "trading.eternal-engine.io/v1alpha1", "kind": "CircuitBreakerPolicy",
                "metadata": {"name": "eternal"},
                "spec": {"selector": {"matchLabels": LABEL}, "dailyLossLimit": 0.5,
                         "weeklyLossLimit": 0.6},
            })  # fmt: skip
            wait_for(
                lambda: (
                    get(control_plane, "cbp", "eternal", ns).get("status", {}).get("navPerUnit")
                ),
                30,
            )
            apply(control_plane, ns, allocation(monthlyContribution=2000, driftThreshold=1))

            def counted() -> list[str] | None:
                status = get(control_plane, "cbp", "eternal", ns).get("status", {})
                return (
                    status.get("flowsApplied") if len(status.get("flowsApplied", [])) == 2 else None
                )

            flows = wait_for(counted, 60, "both contribution transfers counted as flows")
            transfers = get(control_plane, "alloc", "eternal", ns)["status"]["transfers"]
            assert sorted(flows) == sorted(t["transferId"] for t in transfers)
            assert {t["toEngine"]: t["amount"] for t in transfers} == {"a": "1500", "b": "500"}
            status = wait_for(
                lambda: (s := get(control_plane, "cbp", "eternal", ns)["status"])
                and Decimal(s["equity"]) > 0 and s,
                10,
            )  # fmt: skip
            assert abs(Decimal(status["navPerUnit"]) - 1) < Decimal("0.001")  # not 1.1
            assert Decimal(status["highWaterMark"]) < Decimal("1.001")
            assert status["level"] == 0
    finally:
        op.stop()


def test_raising_a_target_while_entries_are_paused_is_refused(
    control_plane: ControlPlane, paper_venue: Venue, ns: str, tmp_path: Path
) -> None:
    setup_engines(control_plane, ns)
    op = operator(control_plane, paper_venue, tmp_path / "op.log", "alloc-guard")
    try:
        with VenueEquity(control_plane, ns, paper_venue):
            apply(control_plane, ns, allocation(driftThreshold=1))
            wait_for(
                lambda: (
                    get(control_plane, "alloc", "eternal", ns)
                    .get("status", {})
                    .get("acceptedTargets")
                ),
                30,
            )
            # Governance holds engine b at level 2 (entries paused).
            control_plane.kubectl(
                "patch", "engine", "b", "-n", ns, "--subresource=status", "--type=merge",
                "-p", json.dumps({"status": {"governance": {"level": 2, "entriesPaused": True}}}),
            )  # fmt: skip
            raised = allocation(driftThreshold=1)
            raised["spec"]["targets"] = [
                {"engine": "a", "weight": 0.6},
                {"engine": "b", "weight": 0.4},
            ]
            apply(control_plane, ns, raised)

            def refused() -> dict[str, Any] | None:
                status = get(control_plane, "alloc", "eternal", ns).get("status", {})
                for c in status.get("conditions", []):
                    if c["type"] == "Accepted" and c["reason"] == "BlockedByGovernance":
                        return status
                return None

            status = wait_for(refused, 30, "the change refused")
            accepted = {t["engine"]: t["weight"] for t in status["acceptedTargets"]}
            assert accepted == {"a": 0.75, "b": 0.25}
            message = next(c["message"] for c in status["conditions"] if c["type"] == "Accepted")
            assert "b" in message
            assert "level 2" in message
            assert (
                get(control_plane, "engine", "b", ns)["status"]["allocation"]["targetWeight"]
                == "0.25"
            )
    finally:
        op.stop()
