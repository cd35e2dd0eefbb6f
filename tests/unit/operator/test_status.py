"""Phase and conditions from observations; the shutdown decision; compare-before-write."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from eternal_kernel.api.v1alpha1 import Phase
from eternal_kernel.api.v1alpha1.engine import (
    GovernanceDirective,
    RuntimeReport,
    RuntimeStartError,
    ShutdownReason,
    ShutdownRequest,
)
from eternal_kernel.api.v1alpha1.engine_conditions import EngineReason
from eternal_operator.controllers.engine import shutdown
from eternal_operator.controllers.engine.diff import is_subset
from eternal_operator.controllers.engine.status import (
    Observed,
    Problem,
    conditions_of,
    phase_contradicts_record,
    phase_inputs,
    phase_of,
)

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DEPLOYMENT = {"spec": {"replicas": 1}}
HALT = GovernanceDirective(halt=True, sequence=7)


def observed(**kw: object) -> Observed:
    base: dict[str, object] = {
        "now": NOW,
        "generation": 3,
        "heartbeat_timeout": timedelta(seconds=30),
        "deployment": DEPLOYMENT,
    }
    return Observed(**{**base, **kw})  # type: ignore[arg-type]


def beat(seconds_ago: float, **kw: object) -> RuntimeReport:
    return RuntimeReport(heartbeat=NOW - timedelta(seconds=seconds_ago), **kw)  # type: ignore[arg-type]


def failed_start(seconds_ago: float, beat_seconds_ago: float | None = None) -> RuntimeReport:
    error = RuntimeStartError(
        message="symbol NOPEUSDT (linear) is not listed", time=NOW - timedelta(seconds=seconds_ago)
    )
    beat_at = NOW - timedelta(seconds=beat_seconds_ago) if beat_seconds_ago is not None else None
    return RuntimeReport(heartbeat=beat_at, venue_connected=True, start_error=error)


@pytest.mark.parametrize(
    ("obs", "phase"),
    [
        (observed(deployment=None), Phase.PENDING),
        (observed(), Phase.STARTING),
        (observed(runtime=beat(5)), Phase.RUNNING),
        (observed(runtime=beat(60)), Phase.DEGRADED),
        (observed(runtime=beat(5, venue_connected=False)), Phase.DEGRADED),
        (observed(suspended=True), Phase.SUSPENDED),
        (observed(problem=Problem(EngineReason.SECRET_NOT_FOUND, "x")), Phase.FAILED),
        (observed(runtime=beat(5), governance=HALT), Phase.HALTING),
        (observed(runtime=beat(5, flat=True, applied_directive=7), governance=HALT), Phase.HALTED),
        # Flat, but reported before it applied the halt (an idle engine is flat): not yet.
        (observed(runtime=beat(5, flat=True, applied_directive=6), governance=HALT), Phase.HALTING),
        (observed(runtime=beat(5, flat=True), governance=HALT), Phase.HALTING),
        (
            observed(runtime=beat(5), governance=HALT.model_copy(update={"runtime_stopped": True})),
            Phase.HALTED,
        ),
        (observed(runtime=failed_start(10)), Phase.FAILED),
        (observed(runtime=failed_start(10, beat_seconds_ago=20)), Phase.FAILED),
        # A runtime that reported after the failed start has started since.
        (observed(runtime=failed_start(10, beat_seconds_ago=5)), Phase.RUNNING),
        (observed(runtime=failed_start(10), suspended=True), Phase.SUSPENDED),
        (
            observed(problem=Problem(EngineReason.SECRET_NOT_FOUND, "x"), suspended=True),
            Phase.SUSPENDED,
        ),
    ],
)
def test_phase(obs: Observed, phase: Phase) -> None:
    assert phase_of(obs) is phase


def ready(obs: Observed) -> tuple[str, str, str]:
    condition = conditions_of(obs, phase_of(obs), [])[0]
    assert condition.type == "Ready"
    return condition.status.value, condition.reason, condition.message


@pytest.mark.parametrize("halt", [False, True])
@pytest.mark.parametrize("stopped", [False, True])
@pytest.mark.parametrize("flat", [False, True])
def test_the_phase_a_pass_writes_never_contradicts_the_record(
    halt: bool, stopped: bool, flat: bool
) -> None:
    governance = {"halt": halt, "runtimeStopped": stopped, "sequence": 7}
    record = GovernanceDirective.model_validate(governance)
    for applied in (6, 7):
        report = beat(5, flat=flat, applied_directive=applied)
        phase = phase_of(observed(runtime=report, governance=record))
        runtime = {"flat": flat, "appliedDirective": applied}
        status = {"phase": phase.value, "governance": governance, "runtime": runtime}
        assert not phase_contradicts_record(status)


FLAT_AT_3 = {"flat": True, "appliedDirective": 3}


@pytest.mark.parametrize(
    ("phase", "governance", "runtime", "contradicts"),
    [
        ("Halting", {"halt": True, "sequence": 3}, FLAT_AT_3, True),  # flat: Halted
        ("Halting", {"halt": True, "sequence": 4}, FLAT_AT_3, False),  # flat before the halt
        ("Halted", {"halt": True, "sequence": 4}, FLAT_AT_3, True),
        ("Halting", {"halt": True}, {"flat": True}, False),  # flat, no directive applied
        ("Running", {"halt": True}, {"flat": True}, True),
        ("Running", {"halt": True}, {"flat": False}, True),  # halted: Halting
        ("Halted", {"halt": True}, {"flat": False}, True),  # not flat yet
        ("Halted", {"halt": True, "runtimeStopped": True}, {"flat": False}, False),
        ("Halted", {"halt": False}, {"flat": True}, True),  # lifted: not halted
        ("Halting", {}, {}, True),
        ("Running", {"halt": False}, {"flat": True}, False),
        ("Degraded", {}, {}, False),
        # Settled by more than the status: a suspend, a failure, no Deployment yet.
        ("Suspended", {"halt": True}, {"flat": True}, False),
        ("Failed", {"halt": True}, {"flat": False}, False),
        ("Pending", {"halt": True}, {}, False),
        (None, {"halt": True}, {}, False),
    ],
)
def test_a_phase_that_contradicts_the_record_is_seen(
    phase: str | None, governance: dict[str, object], runtime: dict[str, object],
    contradicts: bool,
) -> None:  # fmt: skip
    status = {"phase": phase, "governance": governance, "runtime": runtime}
    assert phase_contradicts_record(status) is contradicts


def test_an_idle_runtime_applying_the_halt_changes_what_the_phase_is_made_of() -> None:
    """Flat before the halt and flat after it: only the directive applied tells them apart, and
    the operator must look at the phase again when it does (Halting, then Halted)."""
    governance = {"halt": True, "sequence": 4}
    before = {"governance": governance, "runtime": FLAT_AT_3}
    after = {"governance": governance, "runtime": {**FLAT_AT_3, "appliedDirective": 4}}
    assert phase_inputs(before) != phase_inputs(after)


def test_a_runtime_that_cannot_start_is_failed_with_its_message() -> None:
    assert ready(observed(runtime=failed_start(3))) == (
        "False", "RuntimeFailed", "the runtime cannot start: symbol NOPEUSDT (linear) is not listed"
    )  # fmt: skip


def test_a_halted_engine_says_governance_halted_it_and_why() -> None:
    directive = GovernanceDirective(halt=True, reason="level 4: drawdown 0.26 >= 0.25")
    for runtime in (None, beat(5), beat(5, flat=True)):
        status, reason, message = ready(observed(runtime=runtime, governance=directive))
        assert (status, reason) == ("False", "HaltDirective")
        assert message == "halted by governance: level 4: drawdown 0.26 >= 0.25"
        assert "heartbeat" not in message


def test_conditions_name_the_problem_and_keep_transition_times() -> None:
    problem = Problem(EngineReason.SECRET_KEY_MISSING, "Secret fleet/keys has no key 'apiKey'")
    first = conditions_of(observed(problem=problem), Phase.FAILED, [])
    by_type = {c.type: c for c in first}
    assert by_type["Ready"].status == "False"
    assert by_type["CredentialsValid"].reason == "SecretKeyMissing"
    assert "fleet/keys" in by_type["CredentialsValid"].message
    assert by_type["CredentialsValid"].observed_generation == 3

    later = observed(now=NOW + timedelta(minutes=5), problem=problem)
    again = {c.type: c for c in conditions_of(later, Phase.FAILED, first)}
    assert again["CredentialsValid"].last_transition_time == NOW
    healed = observed(now=NOW + timedelta(minutes=5))
    fixed = {c.type: c for c in conditions_of(healed, Phase.STARTING, first)}
    assert fixed["CredentialsValid"].status == "True"
    assert fixed["CredentialsValid"].last_transition_time == NOW + timedelta(minutes=5)


def decide(
    request: ShutdownRequest | None, runtime: RuntimeReport | None, alive: bool, **kw: object
):  # type: ignore[no-untyped-def]
    return shutdown.decide(
        request=request,
        reason=ShutdownReason.DELETE,
        flatten=bool(kw.get("flatten", False)),
        runtime=runtime,
        runtime_alive=alive,
        now=NOW,
        deadline=timedelta(seconds=60),
    )


def test_shutdown_waits_for_a_live_runtime_then_takes_over_at_the_deadline() -> None:
    first = decide(None, beat(1), alive=True)
    assert first.step is shutdown.Step.WAIT
    assert first.request.requested_at == NOW
    asked_long_ago = ShutdownRequest(
        reason=ShutdownReason.DELETE, requested_at=NOW - timedelta(seconds=61)
    )
    assert decide(asked_long_ago, beat(1), alive=True).step is shutdown.Step.OPERATOR_CANCEL


def test_shutdown_without_a_live_runtime_is_the_operators_at_once() -> None:
    assert decide(None, None, alive=False).step is shutdown.Step.OPERATOR_CANCEL


def test_shutdown_done_by_the_runtime_only_if_after_the_request() -> None:
    asked = ShutdownRequest(reason=ShutdownReason.DELETE, requested_at=NOW - timedelta(seconds=5))
    stale = beat(1, shutdown_done_at=NOW - timedelta(seconds=10))
    assert decide(asked, stale, alive=True).step is shutdown.Step.WAIT
    done = decide(asked, beat(1, shutdown_done_at=NOW - timedelta(seconds=1)), alive=True)
    assert done.step is shutdown.Step.DONE
    assert done.request.completed_by == "runtime"


def test_a_confirmation_stamped_in_whole_seconds_counts() -> None:
    asked = ShutdownRequest(
        reason=ShutdownReason.DELETE, requested_at=NOW + timedelta(microseconds=700_000)
    )
    decision = decide(asked, beat(0, shutdown_done_at=NOW), alive=True)
    assert decision.step is shutdown.Step.DONE


def test_a_changed_flatten_wish_is_a_new_request() -> None:
    asked = ShutdownRequest(reason=ShutdownReason.DELETE, requested_at=NOW - timedelta(seconds=5))
    decision = decide(asked, beat(1), alive=True, flatten=True)
    assert decision.request.flatten is True
    assert decision.request.requested_at == NOW


@pytest.mark.parametrize(
    ("desired", "live", "same"),
    [
        ({"a": 1}, {"a": 1, "b": 2}, True),
        ({"a": {"b": [1, {"c": 2}]}}, {"a": {"b": [1, {"c": 2, "d": 3}]}, "z": 0}, True),
        ({"a": [1, 2]}, {"a": [1, 2, 3]}, False),
        ({"a": {"b": 1}}, {"a": {"b": 2}}, False),
        ({"a": 1}, {}, False),
        ({"a": {"b": 1}}, {"a": "b"}, False),
    ],
)
def test_is_subset(desired: object, live: object, same: bool) -> None:
    assert is_subset(desired, live) is same


def test_entries_paused_condition_says_the_kill_switch_reason() -> None:
    why = "kill switch: 12 venue errors within a minute (more than maxApiErrorsPerMinute 10)"
    paused = {c.type: c for c in conditions_of(observed(runtime=beat(5, entries_paused=why)),
                                               Phase.RUNNING, [])}  # fmt: skip
    condition = paused["EntriesPaused"]
    assert (condition.status, condition.reason, condition.message) == ("True", "KillSwitch", why)
    taking = {c.type: c for c in conditions_of(observed(runtime=beat(5)), Phase.RUNNING, [])}
    assert (taking["EntriesPaused"].status, taking["EntriesPaused"].reason) == (
        "False", "TakingEntries",
    )  # fmt: skip
    assert conditions_of(observed(), Phase.STARTING, [])[-1].status == "Unknown"
