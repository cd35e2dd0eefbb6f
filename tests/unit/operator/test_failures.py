"""A failed Engine pass: its reason, its status, the backoff, and what the kopf handler posts."""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import kopf
import pytest

from eternal_operator.backoff import Backoff
from eternal_operator.controllers import main
from eternal_operator.controllers.engine import failures
from eternal_operator.controllers.engine.reconcile import Event, Outcome
from eternal_operator.kube import KubeError

pytestmark = pytest.mark.unit

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def refused(status: int) -> failures.ApplyRefused:
    error = KubeError(status, 'Deployment.apps "x-runtime" is invalid: spec.selector: immutable')
    return failures.ApplyRefused("Deployment", "ns", "x-runtime", error)


@pytest.mark.parametrize(
    ("error", "reason", "blocking", "expected"),
    [
        (refused(422), "ObjectRefused", True, True),
        (refused(403), "ObjectRefused", True, True),
        (refused(503), "ApiServerUnavailable", False, True),
        (refused(0), "ApiServerUnavailable", False, True),
        (KubeError(0, "connection refused"), "ApiServerUnavailable", False, True),
        (KubeError(409, "conflict"), "ApiServerUnavailable", False, True),
        (KubeError(403, "forbidden"), "ReconcileError", False, True),
        (ZeroDivisionError("division by zero"), "ReconcileError", False, False),
    ],
)
def test_classify(error: Exception, reason: str, blocking: bool, expected: bool) -> None:
    failure = failures.classify(error)
    assert (failure.reason, failure.blocking, failure.expected) == (reason, blocking, expected)


def test_a_refused_object_is_named_with_the_servers_words() -> None:
    message = failures.classify(refused(422)).message
    assert message.startswith("the API server refused Deployment ns/x-runtime: ")
    assert "spec.selector: immutable" in message


def body(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "x", "namespace": "ns", "uid": "u-1", "generation": 4},
        "status": status,
    }


def test_the_failed_status_replaces_ready_and_keeps_the_rest() -> None:
    before = body(
        phase="Running",
        conditions=[
            {"type": "Ready", "status": "True", "reason": "RuntimeReporting",
             "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"},
            {"type": "CredentialsValid", "status": "True", "reason": "SecretFound",
             "message": "ok", "lastTransitionTime": "2026-01-01T00:00:00Z"},
        ],
    )  # fmt: skip
    status = failures.status_of(before, failures.classify(refused(422)), NOW, 5)
    ready, credentials = status["conditions"]
    assert status["phase"] == "Failed"
    assert ready["status"] == "False"
    assert ready["reason"] == "ObjectRefused"
    assert ready["message"].endswith("(next attempt in 5s)")
    assert ready["lastTransitionTime"] == "2026-01-02T03:04:05Z"
    assert ready["observedGeneration"] == 4
    assert credentials["reason"] == "SecretFound"
    transient = failures.status_of(before, failures.classify(KubeError(0, "down")), NOW, 5)
    assert "phase" not in transient  # the runtime may well be trading: the phase stands


def test_backoff_doubles_up_to_the_cap_and_resets() -> None:
    now = [100.0]
    backoff = Backoff(5, 30, clock=lambda: now[0])
    assert [backoff.failed("a", 1) for _ in range(5)] == [5, 10, 20, 30, 30]
    assert backoff.remaining("a", 1) == 30
    assert backoff.remaining("b", 1) == 0
    assert backoff.remaining("a", 2) == 0  # a new generation is tried at once
    now[0] += 31
    assert backoff.remaining("a", 1) == 0
    assert backoff.failed("a", 2) == 5  # and starts a new streak
    backoff.succeeded("a")
    assert backoff.failed("a", 2) == 5


class Recorder:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events: list[tuple[str, str, str]] = []
        monkeypatch.setattr(kopf, "event", self.post)

    def post(self, _body: Any, *, type: str, reason: str, message: str) -> None:
        self.events.append((type, reason, message))


class Ctx:
    clock = staticmethod(lambda: NOW)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def memo(clock: Clock | None = None) -> kopf.Memo:
    backoff = Backoff(5, 300, clock=clock or Clock())
    return kopf.Memo(ctx=Ctx(), phases={}, phase_inputs={}, announced={}, backoff=backoff)


def run(
    step: Any, m: kopf.Memo, b: dict[str, Any], *, retry: bool, patch: kopf.Patch | None = None
) -> kopf.Patch:
    patch = patch if patch is not None else kopf.Patch()
    asyncio.run(main._run("Engine", step, m, kopf.Body(b), patch, retry=retry))
    return patch


def test_a_failing_pass_is_a_condition_an_event_and_a_growing_delay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder, clock = Recorder(monkeypatch), Clock()
    m = memo(clock)

    async def step(_ctx: Any, _body: Any) -> Outcome:
        raise refused(422)

    delays, patch = [], kopf.Patch()
    for _ in range(3):
        clock.now += delays[-1] if delays else 0
        with pytest.raises(kopf.TemporaryError) as raised:
            run(step, m, body(phase="Starting"), retry=True, patch=patch)
        delays.append(raised.value.delay)
    assert delays == [5, 10, 20]
    reasons = [r for _, r, _ in recorder.events]
    assert reasons == ["ReconcileFailed", "PhaseFailed", "ReconcileFailed", "ReconcileFailed"]
    assert recorder.events[0][0] == "Warning"
    assert "refused Deployment ns/x-runtime" in recorder.events[0][2]
    assert recorder.events[0][2].endswith("next attempt in 5s")
    assert patch.status["phase"] == "Failed"
    assert patch.status["conditions"][0]["reason"] == "ObjectRefused"
    # Within the delay a pass does not run: the timer's returns, a change handler's retries.
    assert run(step, m, body(phase="Failed"), retry=False).status == {}
    with pytest.raises(kopf.TemporaryError, match="backing off") as raised:
        run(step, m, body(phase="Failed"), retry=True)
    assert raised.value.delay == 20
    assert len(recorder.events) == 4
    # A changed spec (a new generation) is tried at once.
    with pytest.raises(kopf.TemporaryError) as raised:
        run(step, m, {**body(phase="Failed"), "metadata": {**body()["metadata"], "generation": 5}},
            retry=True)  # fmt: skip
    assert raised.value.delay == 5
    clock.now += 5

    async def fine(_ctx: Any, _body: Any) -> Outcome:
        return Outcome(status={"phase": "Starting"})

    run(fine, m, body(phase="Failed"), retry=True)
    assert m.backoff.failures("u-1") == 0


FLAT_UNDER_HALT = {
    "governance": {"halt": True, "sequence": 2},
    "runtime": {"flat": True, "appliedDirective": 2},
}


def test_a_failed_phase_pass_is_run_again_by_the_engines_next_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Recorder(monkeypatch)
    clock = Clock()
    m = memo(clock)
    halted = body(phase="Halted", **FLAT_UNDER_HALT)

    def next_event_runs_it() -> bool:
        return main._phase_inputs_changed(kopf.Body(halted), m, type="MODIFIED")

    async def fails(_ctx: Any, _body: Any) -> Outcome:
        raise refused(429)

    run(fails, m, halted, retry=False)  # the pass the halt's record ran, refused
    assert not next_event_runs_it()  # within the delay: not yet, not even the handler
    clock.now += 5
    assert next_event_runs_it()  # the same status, the delay out: looked at again

    async def settles(_ctx: Any, _body: Any) -> Outcome:
        return Outcome(status={"phase": "Halted"})

    run(settles, m, halted, retry=False)  # the delay out: a pass that goes through
    assert not next_event_runs_it()  # settled: a heartbeat alone runs nothing


def test_a_phase_that_contradicts_the_record_is_looked_at_again_by_the_next_event(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Recorder(monkeypatch)
    m = memo()
    flat = FLAT_UNDER_HALT

    async def settles(_ctx: Any, _body: Any) -> Outcome:
        return Outcome(status={"phase": "Halted"})

    run(settles, m, body(phase="Halting", **flat), retry=False)  # saw the halt and the flat
    # Halting written over Halted since (whatever wrote it): the record and the report are
    # what the last pass saw, but the phase says otherwise.
    behind = kopf.Body(body(phase="Halting", **flat))
    assert main._phase_inputs_changed(behind, m, type="MODIFIED")
    agreeing = kopf.Body(body(phase="Halted", **flat))
    assert not main._phase_inputs_changed(agreeing, m, type="MODIFIED")


def test_a_shutdown_event_is_posted_once_when_two_passes_see_the_old_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder, m = Recorder(monkeypatch), memo()

    async def step(_ctx: Any, _body: Any) -> Outcome:
        return Outcome(
            status={"phase": "Suspended"},
            events=[
                Event("Normal", "SuspendRequested", "asked", once="Suspend/4"),
                Event("Normal", "OperatorCancelling", "no live runtime", once="Suspend/4"),
                Event("Normal", "PhaseSuspended", "Running -> Suspended"),
            ],
        )

    stale = body(phase="Running")
    run(step, m, stale, retry=True)  # the timer's pass
    run(step, m, stale, retry=True)  # the change pass queued behind it, same old body
    reasons = [r for _, r, _ in recorder.events]
    assert reasons == ["SuspendRequested", "OperatorCancelling", "PhaseSuspended"]

    async def again(_ctx: Any, _body: Any) -> Outcome:  # suspended anew, a later generation
        return Outcome(events=[Event("Normal", "SuspendRequested", "asked", once="Suspend/6")])

    run(again, m, body(phase="Running"), retry=True)
    assert [r for _, r, _ in recorder.events].count("SuspendRequested") == 2


def test_a_pass_whose_engine_moved_on_shows_no_phase_but_what_it_did(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A timer's body is kopf's live view: the watch swaps in a newer version of the Engine
    while the pass awaits. Seen in a bench: a resync that began before a halt's record wrote
    Running over it, until the next pass put Halting back."""
    recorder, m = Recorder(monkeypatch), memo()
    running = body(phase="Running", runtime={"heartbeat": "2026-01-02T03:04:00Z"})
    running["metadata"]["resourceVersion"] = "7"
    newer = copy.deepcopy(running)  # the runtime's next report: nothing the phase is made of
    newer["metadata"]["resourceVersion"] = "8"
    newer["status"]["runtime"]["heartbeat"] = "2026-01-02T03:04:05Z"
    live = kopf.Body(running)
    read: list[Any] = []

    async def step(_ctx: Any, seen: Any) -> Outcome:
        live._replace_with(newer)  # the watch, while the pass awaits
        read.append(seen["status"]["runtime"]["heartbeat"])
        return Outcome(
            status={"phase": "Degraded", "conditions": [], "credentialsSecret": "x-keys"},
            events=[Event("Warning", "PhaseDegraded", "Running -> Degraded"),
                    Event("Normal", "CredentialsProvisioned", "keys in Secret x-keys")],
        )  # fmt: skip

    patch = kopf.Patch()
    asyncio.run(main._run("Engine", step, m, live, patch, retry=False))
    assert read == ["2026-01-02T03:04:00Z"]  # the version the pass started from, throughout
    # No phase or conditions from a version already gone; what the pass did stands.
    assert patch.status == {"credentialsSecret": "x-keys"}
    assert [reason for _, reason, _ in recorder.events] == ["CredentialsProvisioned"]
    # The newer version's next event runs the phase pass, though its phase inputs did not move.
    assert main._phase_inputs_changed(kopf.Body(newer), m, type="MODIFIED")
    # A pass over an Engine that stayed put shows what it decided.
    shown = run(step, memo(), running, retry=False).status
    assert shown == {"phase": "Degraded", "conditions": [], "credentialsSecret": "x-keys"}
