"""Suspending and deleting an Engine on a real kube-apiserver, with the operator and the paper
venue running: the shutdown handshake with a live runtime (played by the test through the
status contract), and the operator cancelling through the venue when no runtime can."""

from __future__ import annotations

from typing import Any

import pytest

from eternal_operator.devtools.controlplane import ControlPlane
from support.engines import (
    SUB1_CREDS,
    FakeRuntimeHeartbeat,
    condition,
    engine_manifest,
    engine_when,
    events,
    gone_before_the_next_test,
    now_stamp,
    open_orders,
    phase,
    reasons,
    replicas,
    resting_order,
    sub1_secret,
)
from support.kube import apply, get
from support.processes import Venue
from support.runtime import admin
from support.waiting import wait_for

pytestmark = pytest.mark.cluster

PREFIX = "esd"  # the namespaces and the operator of this module (conftest)


# -- suspend ------------------------------------------------------------------------------------


def test_suspend_without_a_runtime_cancels_through_the_venue_then_resume(
    control_plane: ControlPlane, ns: str, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("sleepy", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "sleepy") == 1, 20, "one replica")
    order_id = resting_order(venue_sub1)

    control_plane.kubectl(
        "patch", "engine", "sleepy", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
    )

    wait_for(lambda: replicas(control_plane, ns, "sleepy") == 0, 20, "scaled to zero")
    engine = get(control_plane, "engine", "sleepy", ns)
    assert engine["status"]["phase"] == "Suspended"  # type: ignore[index]
    assert engine["status"]["shutdown"]["completedBy"] == "operator"  # type: ignore[index]
    assert order_id not in open_orders(venue_sub1)
    assert "OperatorCancelled" in reasons(control_plane, ns, "sleepy")

    control_plane.kubectl(
        "patch", "engine", "sleepy", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":false}}'
    )
    wait_for(lambda: replicas(control_plane, ns, "sleepy") == 1, 20, "back to one replica")
    wait_for(
        lambda: "shutdown" not in get(control_plane, "engine", "sleepy", ns)["status"],  # type: ignore[index]
        10, "the shutdown request cleared",
    )  # fmt: skip
    assert "Resumed" in reasons(control_plane, ns, "sleepy")
    gone_before_the_next_test(control_plane, ns, "sleepy")


def test_suspend_waits_for_a_live_runtime_to_confirm(control_plane: ControlPlane, ns: str) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("live", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "live") == 1, 20, "one replica")
    with FakeRuntimeHeartbeat(control_plane, ns, "live") as runtime:
        engine_when(control_plane, ns, "live", lambda e: phase(e) == "Running", "Running")
        control_plane.kubectl(
            "patch", "engine", "live", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
        )
        engine = engine_when(
            control_plane, ns, "live", lambda e: "shutdown" in e["status"], "a shutdown request"
        )
        assert condition(engine, "Ready")["reason"] == "Suspending"
        assert replicas(control_plane, ns, "live") == 1

        runtime.report(shutdownDoneAt=now_stamp(), openOrders=0)

        wait_for(lambda: replicas(control_plane, ns, "live") == 0, 15, "scaled to zero")
    engine = get(control_plane, "engine", "live", ns)
    assert engine["status"]["shutdown"]["completedBy"] == "runtime"  # type: ignore[index]
    assert "OperatorCancelled" not in reasons(control_plane, ns, "live")
    gone_before_the_next_test(control_plane, ns, "live")


def test_a_shutdown_is_announced_once_when_a_timer_pass_queues_behind_it(
    control_plane: ControlPlane, ns: str, paper_venue: Venue, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("slow", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "slow") == 1, 20, "one replica")
    order_id = resting_order(venue_sub1)
    # Each venue request now takes 3 s: the operator's cancel pass (its cancels go together)
    # outlasts the 2 s resync, so the timer's pass waits behind it with the Engine as it was
    # before the request was written.
    admin(paper_venue.url, "faults", {"latency_ms": 3000})
    try:
        control_plane.kubectl(
            "patch", "engine", "slow", "-n", ns, "--type=merge", "-p", '{"spec":{"suspend":true}}'
        )
        wait_for(lambda: replicas(control_plane, ns, "slow") == 0, 40, "scaled to zero")
        first = requested_at(control_plane, ns, "slow")
        # The queued pass saw no request, so it made (and carried out) its own: the race ran.
        wait_for(lambda: requested_at(control_plane, ns, "slow") != first, 30, "the stale pass")
    finally:
        admin(paper_venue.url, "faults/clear", {})
    assert order_id not in open_orders(venue_sub1)
    for reason in ("SuspendRequested", "OperatorCancelling", "OperatorCancelled", "PhaseSuspended"):
        assert reasons(control_plane, ns, "slow").count(reason) == 1, reason


def requested_at(plane: ControlPlane, ns: str, name: str) -> str | None:
    engine = get(plane, "engine", name, ns) or {}
    return (engine.get("status", {}).get("shutdown") or {}).get("requestedAt")


# -- deletion -------------------------------------------------------------------------------------


def test_delete_without_a_runtime_cancels_and_flattens_through_the_venue(
    control_plane: ControlPlane, ns: str, venue_sub1: Any
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("gone", credentials=SUB1_CREDS, onDelete="flatten"))
    wait_for(lambda: replicas(control_plane, ns, "gone") == 1, 20, "one replica")
    order_id = resting_order(venue_sub1)
    venue_sub1.place_order(
        category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.01"
    )

    control_plane.kubectl("delete", "engine", "gone", "-n", ns, "--wait=false")

    wait_for(lambda: get(control_plane, "engine", "gone", ns) is None, 30, "the Engine gone")
    assert order_id not in open_orders(venue_sub1)
    positions = venue_sub1.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert all(float(p["size"]) == 0 for p in positions)
    messages = [e["message"] for e in events(control_plane, ns, "gone")]
    assert any("sent Sell 0.010 BTCUSDT" in m and m.endswith("; flat") for m in messages), messages
    wait_for(lambda: get(control_plane, "deployment", "gone-runtime", ns) is None, 30, "GC")


def test_delete_with_a_live_runtime_waits_for_its_confirmation(
    control_plane: ControlPlane, ns: str
) -> None:
    sub1_secret(control_plane, ns)
    apply(control_plane, ns, engine_manifest("bye", credentials=SUB1_CREDS))
    wait_for(lambda: replicas(control_plane, ns, "bye") == 1, 20, "one replica")
    with FakeRuntimeHeartbeat(control_plane, ns, "bye") as runtime:
        engine_when(control_plane, ns, "bye", lambda e: phase(e) == "Running", "Running")
        control_plane.kubectl("delete", "engine", "bye", "-n", ns, "--wait=false")
        engine = engine_when(
            control_plane, ns, "bye", lambda e: "shutdown" in e["status"], "a shutdown request"
        )
        assert engine["status"]["shutdown"]["reason"] == "Delete"
        assert engine["metadata"]["deletionTimestamp"]

        runtime.report(shutdownDoneAt=now_stamp(), openOrders=0)

        wait_for(lambda: get(control_plane, "engine", "bye", ns) is None, 20, "the Engine gone")
    assert "OperatorCancelled" not in reasons(control_plane, ns, "bye")
    assert "RuntimeCancelled" in reasons(control_plane, ns, "bye")
