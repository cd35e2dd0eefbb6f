"""The Engines' allocation displays wait while governance writes a directive: a halt's records,
the runtimes' reports of it and the phases it gives are safety's writes, and a fleet's worth of
display writes amid them slowed a halt (bench/governance_bench.py, docs/governance.md
"Weights"). The wait is bounded: a directive issued long ago holds nothing up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eternal_operator.controllers.allocation.reconcile import SETTLES_WITHIN, governance_settling
from eternal_operator.controllers.policy.governor import EngineSnapshot, PolicySnapshot

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def stamp(ago: timedelta = timedelta(seconds=1)) -> str:
    return (NOW - ago).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def policy(sequence: int, recorded: int | None, ago: timedelta = timedelta(seconds=1)) -> Any:
    directive = {"halt": True, "sequence": sequence, "issuedAt": stamp(ago)}
    return PolicySnapshot("p", {}, halted=True, directive=directive, recorded=recorded)


def engine(
    *, halt: bool, sequence: int = 3, applied: int | None = 3, flat: bool = False,
    phase: str = "Running", ago: timedelta = timedelta(seconds=1),
) -> EngineSnapshot:  # fmt: skip
    governance = {"halt": halt, "level": 4 if halt else 0, "sequence": sequence,
                  "issuedAt": stamp(ago), "policy": "p"}  # fmt: skip
    runtime = {"appliedDirective": applied, "flat": flat, "heartbeat": stamp()}
    return EngineSnapshot("a", {}, {}, runtime, governance, "uid-a",
                          status={"phase": phase, "runtime": runtime})  # fmt: skip


def test_nothing_from_governance_holds_nothing_up() -> None:
    assert not governance_settling([], [], NOW)
    idle = EngineSnapshot("a", {}, {}, {"equity": "100"}, None, "uid", status={"phase": "Running"})
    assert not governance_settling([idle], [PolicySnapshot("p", {})], NOW)


def test_a_policy_whose_records_are_not_all_written_holds_the_displays() -> None:
    assert governance_settling([], [policy(3, recorded=2)], NOW)
    assert governance_settling([], [policy(3, recorded=None)], NOW)
    assert not governance_settling([], [policy(3, recorded=3)], NOW)


def test_an_emergency_halt_asked_for_and_not_yet_latched_holds_them() -> None:
    """The allocation's pass may come between the patch of `emergencyHalt` and the latch the
    governor writes (a bench saw one to four Engine writes slip into that gap)."""
    asked = PolicySnapshot("p", {}, emergency=True)
    assert governance_settling([], [asked], NOW)
    latched = policy(3, recorded=3)
    latched.emergency = True
    assert not governance_settling([], [latched], NOW)


def test_an_engine_whose_runtime_has_not_reported_the_directive_holds_them() -> None:
    assert governance_settling([engine(halt=True, applied=2, phase="Halting")], [], NOW)
    assert governance_settling([engine(halt=False, applied=2)], [], NOW)
    assert not governance_settling([engine(halt=False, applied=3)], [], NOW)


def test_a_halting_engine_holds_them_until_its_phase_is_halted() -> None:
    assert governance_settling([engine(halt=True, phase="Halting")], [], NOW)  # not flat yet
    # Flat and reported, the phase not yet written: the write of Halted is still to come.
    assert governance_settling([engine(halt=True, flat=True, phase="Halting")], [], NOW)
    assert not governance_settling([engine(halt=True, flat=True, phase="Halted")], [], NOW)


def test_a_resumed_engine_holds_them_until_its_phase_is_running() -> None:
    assert governance_settling([engine(halt=False, sequence=4, applied=4, phase="Halted")], [], NOW)
    assert not governance_settling([engine(halt=False, sequence=4, applied=4)], [], NOW)


def test_a_directive_issued_long_ago_holds_nothing_up() -> None:
    old = SETTLES_WITHIN + timedelta(seconds=1)
    # A runtime that never reports (stopped, gone) would otherwise hold the displays for ever.
    assert not governance_settling([engine(halt=True, applied=None, phase="Halting", ago=old)],
                                   [policy(3, recorded=2, ago=old)], NOW)  # fmt: skip
    assert governance_settling([engine(halt=True, applied=None, phase="Halting")], [], NOW)


def test_a_stamp_it_cannot_read_holds_nothing_up() -> None:
    broken = engine(halt=True, applied=2, phase="Halting")
    assert broken.governance is not None
    broken.governance["issuedAt"] = "yesterday"
    assert not governance_settling([broken], [], NOW)
