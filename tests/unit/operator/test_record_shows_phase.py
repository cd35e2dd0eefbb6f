"""A governance record carries the phase and conditions it gives the Engine, by the phase pass's
own rule: the pass that follows the record finds nothing left to write (one status write per
engine of a fleet halting or resuming together, not two)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eternal_kernel.breaker.evaluate import State
from eternal_operator.controllers.engine.reconcile import (
    Context,
    refresh_phase,
    shown_with_record,
)
from eternal_operator.controllers.engine.render import RuntimeNames
from eternal_operator.controllers.engine.watched import Seen
from eternal_operator.controllers.policy.governor import SHOWN_FROM, EngineSnapshot, Governor
from eternal_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 4, 3, 0, tzinfo=UTC)
SETTINGS = OperatorSettings(runtime_image="example/runtime:1", simulator_url="http://venue:8399")
HALT = {"policy": "p", "level": 4, "sizeMultiplier": 0.0, "entriesPaused": True,
        "closeDirectional": True, "halt": True, "reason": "emergency halt"}  # fmt: skip
RECORD = {**HALT, "sequence": 3, "issuedAt": "2026-12-04T02:59:59.000000Z",
          "haltedAt": "2026-12-04T02:59:59.000000Z", "conflicts": [], "runtimeStopped": False,
          "verifiedFlatAt": None}  # fmt: skip
READY = {"type": "Ready", "status": "True", "reason": "RuntimeReporting",
         "message": "the runtime reports a fresh heartbeat",
         "lastTransitionTime": "2026-12-04T02:00:00Z", "observedGeneration": 2}  # fmt: skip


SEEN = {"Deployment": {("ns", RuntimeNames.of("a").deployment): [Seen("uid-a", 1)]}}
"""The Engine's runtime Deployment (one replica), as the operator's watch saw it."""


class Kube:
    """The status writes (the phase pass reads nothing)."""

    def __init__(self) -> None:
        self.patches: list[tuple[str, dict[str, Any]]] = []

    async def merge_patch(self, *args: Any, subresource: str = "") -> dict[str, Any]:
        self.patches.append((args[3], args[4]))
        return {}


def ctx(kube: Kube) -> Context:
    return Context(kube=kube, settings=SETTINGS, venue=None, clock=lambda: NOW)  # type: ignore[arg-type]


def running(*, flat: bool, applied: int = 3, **status: Any) -> dict[str, Any]:
    """A Running Engine whose runtime reported a moment ago, having applied directive
    `applied` (the halt's own, RECORD's 3, unless said)."""
    heartbeat = (NOW - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "metadata": {"name": "a", "namespace": "ns", "uid": "uid-a", "generation": 2},
        "spec": {"strategy": "trend", "symbols": ["BTCUSDT"], "subaccount": "enginea01"},
        "status": {
            "phase": "Running",
            "observedGeneration": 2,
            "conditions": [READY],
            "runtime": {
                "heartbeat": heartbeat,
                "flat": flat,
                "venueConnected": True,
                "appliedDirective": applied,
            },
            **status,
        },
    }


def after(body: dict[str, Any], written: dict[str, Any]) -> dict[str, Any]:
    """The Engine once `written` is merged into its status."""
    return {**body, "status": {**body["status"], **written}}


@pytest.mark.parametrize(
    ("flat", "applied", "phase"),
    [(True, 3, "Halted"), (False, 3, "Halting"), (True, 2, "Halting")],  # 2: flat before it
)
async def test_the_phase_pass_after_the_record_has_nothing_left_to_write(
    flat: bool, applied: int, phase: str
) -> None:
    kube = Kube()
    body = running(flat=flat, applied=applied)
    shown = shown_with_record(ctx(kube), body, RECORD)
    assert shown.status["phase"] == phase
    assert [e.reason for e in shown.events] == [f"Phase{phase}"]
    halted = next(c for c in shown.status["conditions"] if c["type"] == "Halted")
    assert (halted["status"], halted["message"]) == ("True", "emergency halt")

    written = after(body, {"governance": RECORD, **shown.status})
    passed = await refresh_phase(ctx(kube), written, SEEN)
    changed = {k: v for k, v in passed.status.items() if written["status"].get(k) != v}
    assert changed == {}
    assert passed.events == []  # announced once, with the record


async def test_the_runtime_reporting_flat_after_the_record_still_moves_the_phase() -> None:
    kube = Kube()
    body = running(flat=True, applied=2)  # idle, flat before the halt
    shown = shown_with_record(ctx(kube), body, RECORD)
    assert shown.status["phase"] == "Halting"
    written = after(body, {"governance": RECORD, **shown.status})
    written["status"]["runtime"] = {**written["status"]["runtime"], "appliedDirective": 3}
    passed = await refresh_phase(ctx(kube), written, SEEN)
    assert passed.status["phase"] == "Halted"


LIFT = {**RECORD, "level": 0, "sizeMultiplier": 1.0, "entriesPaused": False,
        "closeDirectional": False, "halt": False, "reason": "reset", "haltedAt": None}  # fmt: skip
STOPPED = {**RECORD, "runtimeStopped": True}
SHUTDOWN = {"reason": "Suspend", "flatten": False, "requestedAt": "2026-12-04T02:59:00Z"}


async def test_a_lift_shows_the_engine_running_again_with_its_record() -> None:
    kube = Kube()
    halted = shown_with_record(ctx(kube), running(flat=True), RECORD)
    body = after(running(flat=True), {"governance": RECORD, **halted.status})
    shown = shown_with_record(ctx(kube), body, LIFT)
    assert shown.status["phase"] == "Running"
    assert [e.reason for e in shown.events] == ["PhaseRunning"]
    written = after(body, {"governance": LIFT, **shown.status})
    passed = await refresh_phase(ctx(kube), written, SEEN)
    assert {k: v for k, v in passed.status.items() if written["status"].get(k) != v} == {}


async def test_a_record_that_changes_nothing_shown_adds_nothing() -> None:
    body = running(flat=False)
    body = after(body, (await refresh_phase(ctx(Kube()), body, SEEN)).status)  # as the pass left it
    level_one = {**LIFT, "level": 1, "sizeMultiplier": 0.5, "reason": "drawdown 10%"}
    shown = shown_with_record(ctx(Kube()), body, level_one)
    assert (shown.status, shown.events) == ({}, [])


@pytest.mark.parametrize(
    ("body", "record"),
    [
        (running(flat=True), STOPPED),  # its Deployment is scaled to zero: the reconcile's
        (running(flat=True, phase="Halted", governance=STOPPED), LIFT),  # and scaled up again
        (running(flat=True, phase="Suspended"), RECORD),
        (running(flat=True, phase="Failed"), RECORD),
        (running(flat=True, phase="Pending"), RECORD),
        (running(flat=True, shutdown=SHUTDOWN), RECORD),
        ({**running(flat=True), "spec": {**running(flat=True)["spec"], "suspend": True}}, RECORD),
    ],
)
def test_only_where_the_engines_own_status_decides_its_phase(
    body: dict[str, Any], record: dict[str, Any]
) -> None:
    shown = shown_with_record(ctx(Kube()), body, record)
    assert (shown.status, shown.events) == ({}, [])


def snapshot(body: dict[str, Any]) -> EngineSnapshot:
    """The Engine as governance's index holds it."""
    status = body["status"]
    return EngineSnapshot(
        "a", {}, body["spec"], status.get("runtime"), status.get("governance"), "uid-a",
        status={k: status[k] for k in SHOWN_FROM if k in status},
        generation=body["metadata"]["generation"],
    )  # fmt: skip


async def test_governance_writes_the_phase_with_the_record_and_says_so_once() -> None:
    kube, events = Kube(), []
    governor = Governor(ctx(kube), "ns", "p", events=lambda *e: events.append(e))
    governor.state = State(sequence=3)
    await governor._tell_engines([snapshot(running(flat=True))], HALT, {}, NOW)
    [(name, patch)] = kube.patches
    assert name == "a"
    assert patch["status"]["governance"]["halt"] is True
    assert patch["status"]["phase"] == "Halted"
    assert {c["type"] for c in patch["status"]["conditions"]} >= {"Ready", "Halted"}
    assert [e[1] for e in events] == ["Directive", "PhaseHalted"]
    assert all(e[3] == "a" for e in events)


async def test_a_record_for_an_engine_the_reconcile_decides_is_written_alone() -> None:
    kube = Kube()
    governor = Governor(ctx(kube), "ns", "p")
    governor.state = State(sequence=4)
    suspended = running(flat=True, phase="Suspended")
    await governor._tell_engines([snapshot(suspended)], HALT, {}, NOW)
    [(_, patch)] = kube.patches
    assert set(patch["status"]) == {"governance"}
