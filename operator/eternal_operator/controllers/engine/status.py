"""Pure functions from what the operator observed to the Engine's phase and conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eternal_kernel.api.v1alpha1 import Condition, ConditionStatus, Phase
from eternal_kernel.api.v1alpha1.engine import (
    GovernanceDirective,
    RuntimeReport,
    RuntimeStartError,
)
from eternal_kernel.api.v1alpha1.engine_conditions import EngineConditionType as T
from eternal_kernel.api.v1alpha1.engine_conditions import EngineReason as R


@dataclass(frozen=True)
class Problem:
    """Something that stops the runtime from being run at all."""

    reason: R
    message: str


@dataclass(frozen=True)
class Observed:
    now: datetime
    generation: int
    heartbeat_timeout: timedelta
    problem: Problem | None = None
    deployment: dict[str, Any] | None = None
    runtime: RuntimeReport | None = None
    governance: GovernanceDirective | None = None
    suspending: bool = False
    suspended: bool = False
    deleting: bool = False

    @property
    def heartbeat_fresh(self) -> bool:
        beat = self.runtime.heartbeat if self.runtime else None
        return beat is not None and self.now - beat <= self.heartbeat_timeout

    @property
    def start_error(self) -> RuntimeStartError | None:
        """Why the runtime could not start, unless a runtime has reported since."""
        error = self.runtime.start_error if self.runtime else None
        beat = self.runtime.heartbeat if self.runtime else None
        return error if error is not None and (beat is None or beat <= error.time) else None

    @property
    def runtime_alive(self) -> bool:
        """A runtime that could still act on a request: fresh heartbeat, Deployment scaled up."""
        replicas = (self.deployment or {}).get("spec", {}).get("replicas", 0)
        return self.heartbeat_fresh and replicas > 0


def phase_inputs(status: Mapping[str, Any]) -> tuple[object, ...]:
    """What of the Engine's own status its phase is made of (besides the clock and the
    Deployment): when this changes, so may the phase, and the operator looks at once."""
    governance = status.get("governance") or {}
    runtime = status.get("runtime") or {}
    return (
        bool(governance.get("halt")),
        bool(governance.get("runtimeStopped")),
        reports_flat(governance, runtime),
        runtime.get("venueConnected"),
        runtime.get("heartbeat") is None,
        (runtime.get("startError") or {}).get("time"),
        runtime.get("entriesPaused"),
    )


FOLLOWS_STATUS = (Phase.RUNNING, Phase.DEGRADED, Phase.STARTING, Phase.HALTING, Phase.HALTED)
"""Phases the Engine's own status (governance's record, the runtime's report) moves between;
the others (Pending, Suspended, Failed) also depend on what the whole reconcile sees."""
SHOWN = ("phase", "conditions")
"""What of an Engine's status a pass shows from the version of the Engine it read, not from
what it did: a record writes these for the phase pass (`shown_with_record`), and a pass whose
Engine moved on while it ran writes neither (`controllers/main.py`)."""


def confirms_flat(sequence: object, applied: object, flat: object) -> bool:
    """The runtime confirms the halt recorded with `sequence` carried out: it reported flat
    having applied that very directive. A flat report from before it (an idle engine is flat)
    says nothing of what the runtime did since, nor does one of another policy's directive.
    The phase Halted and the operator's trust in a runtime's flat both stand on this."""
    return bool(flat) and sequence is not None and applied == sequence


def reports_flat(governance: Mapping[str, Any], runtime: Mapping[str, Any]) -> bool:
    """`confirms_flat` on an Engine's status as stored: its record and its runtime's report."""
    return confirms_flat(
        governance.get("sequence"), runtime.get("appliedDirective"), runtime.get("flat")
    )


def _halt_phase(halt: bool, runtime_stopped: bool, flat: bool) -> Phase | None:
    """The phase a halt gives an Engine neither suspended nor failed: Halted once flat (its
    runtime reports it, or the operator stopped the runtime), Halting until then; None: no
    halt."""
    if not halt:
        return None
    return Phase.HALTED if runtime_stopped or flat else Phase.HALTING


def phase_contradicts_record(status: Mapping[str, Any]) -> bool:
    """The phase says otherwise than the Engine's own halt record and runtime report (seen in
    a bench: Halting for 30 s after the runtime reported flat, until the resync). Any later
    event of the Engine that shows this gets the phase looked at again, whatever the last pass
    saw."""
    phase = status.get("phase")
    if phase not in FOLLOWS_STATUS:
        return False
    governance = status.get("governance") or {}
    runtime = status.get("runtime") or {}
    halted = _halt_phase(
        bool(governance.get("halt")), bool(governance.get("runtimeStopped")),
        reports_flat(governance, runtime),
    )  # fmt: skip
    if halted is None:
        return phase in (Phase.HALTING, Phase.HALTED)
    return bool(phase != halted)


def phase_of(o: Observed) -> Phase:
    if o.suspended:  # suspended is what was asked, even of an Engine that cannot run
        return Phase.SUSPENDED
    if o.problem is not None:
        return Phase.FAILED
    if o.governance is not None:
        flat = o.runtime is not None and confirms_flat(
            o.governance.sequence, o.runtime.applied_directive, o.runtime.flat
        )
        halted = _halt_phase(o.governance.halt, o.governance.runtime_stopped, flat)
        if halted is not None:
            return halted
    if o.deployment is None:
        return Phase.PENDING
    if o.start_error is not None:
        return Phase.FAILED
    if o.runtime is None or o.runtime.heartbeat is None:
        return Phase.STARTING
    if not o.heartbeat_fresh or o.runtime.venue_connected is False:
        return Phase.DEGRADED
    return Phase.RUNNING


def _ready(o: Observed, phase: Phase) -> tuple[ConditionStatus, R, str]:
    if o.suspended:
        return (
            ConditionStatus.FALSE,
            R.SUSPENDED,
            "spec.suspend is true; the runtime is scaled to 0",
        )
    if o.problem is not None:
        return ConditionStatus.FALSE, o.problem.reason, o.problem.message
    if o.deleting:
        return ConditionStatus.FALSE, R.DELETING, "the Engine is being deleted"
    if o.suspending:
        return ConditionStatus.FALSE, R.SUSPENDING, "cancelling open orders before scaling to 0"
    if phase is Phase.RUNNING:
        return ConditionStatus.TRUE, R.RUNTIME_REPORTING, "the runtime reports a fresh heartbeat"
    if phase is Phase.PENDING:
        return ConditionStatus.FALSE, R.RUNTIME_NOT_CREATED, "the runtime Deployment is not there"
    if phase in (Phase.HALTING, Phase.HALTED) and o.governance is not None:
        why = o.governance.reason or "no reason given"
        return ConditionStatus.FALSE, R.HALT_DIRECTIVE, f"halted by governance: {why}"
    if phase is Phase.FAILED and o.start_error is not None:
        return (
            ConditionStatus.FALSE,
            R.RUNTIME_FAILED,
            f"the runtime cannot start: {o.start_error.message}",
        )
    if o.runtime is not None and o.runtime.heartbeat is not None and not o.heartbeat_fresh:
        age = int((o.now - o.runtime.heartbeat).total_seconds())
        return ConditionStatus.FALSE, R.HEARTBEAT_STALE, f"last heartbeat {age}s ago"
    if phase is Phase.DEGRADED:
        return ConditionStatus.FALSE, R.VENUE_UNREACHABLE, "the runtime cannot reach its venue"
    return ConditionStatus.FALSE, R.RUNTIME_STARTING, "waiting for the runtime's first heartbeat"


def _credentials(o: Observed) -> tuple[ConditionStatus, R, str]:
    secret_reasons = (R.SECRET_NOT_FOUND, R.SECRET_KEY_MISSING, R.SECRET_KEY_INVALID)
    refusals = (*secret_reasons, R.PROVISIONING_FAILED, R.SUBACCOUNT_CONFLICT)
    if o.problem is not None and o.problem.reason in refusals:
        return ConditionStatus.FALSE, o.problem.reason, o.problem.message
    if o.problem is not None:
        return ConditionStatus.UNKNOWN, o.problem.reason, "not checked"
    return ConditionStatus.TRUE, R.SECRET_FOUND, "the credentials Secret holds both keys"


def _venue(o: Observed) -> tuple[ConditionStatus, R, str]:
    connected = o.runtime.venue_connected if o.runtime else None
    if connected is None or not o.heartbeat_fresh:
        return ConditionStatus.UNKNOWN, R.NOT_REPORTED, "no fresh report from the runtime"
    if connected:
        return ConditionStatus.TRUE, R.VENUE_REACHABLE, "the runtime reaches its venue"
    return ConditionStatus.FALSE, R.VENUE_UNREACHABLE, o.runtime.last_error or "venue unreachable"  # type: ignore[union-attr]


def _halted(o: Observed) -> tuple[ConditionStatus, R, str]:
    if o.governance is not None and o.governance.halt:
        return ConditionStatus.TRUE, R.HALT_DIRECTIVE, o.governance.reason or "governance halt"
    return ConditionStatus.FALSE, R.NO_HALT, "no halt directive"


def _entries_paused(o: Observed) -> tuple[ConditionStatus, R, str]:
    paused = o.runtime.entries_paused if o.runtime else None
    if paused:
        return ConditionStatus.TRUE, R.KILL_SWITCH, paused
    if o.runtime is None or o.runtime.heartbeat is None:
        return ConditionStatus.UNKNOWN, R.NOT_REPORTED, "no report from the runtime"
    return ConditionStatus.FALSE, R.TAKING_ENTRIES, "the runtime takes entries"


def conditions_of(o: Observed, phase: Phase, previous: list[Condition]) -> list[Condition]:
    """The five conditions; a condition keeps its lastTransitionTime while its status holds."""
    before = {c.type: c for c in previous}
    out = []
    for kind, (status, reason, message) in (
        (T.READY, _ready(o, phase)),
        (T.CREDENTIALS_VALID, _credentials(o)),
        (T.VENUE_CONNECTED, _venue(o)),
        (T.HALTED, _halted(o)),
        (T.ENTRIES_PAUSED, _entries_paused(o)),
    ):
        old = before.get(kind)
        since = old.last_transition_time if old is not None and old.status == status else o.now
        out.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=since,
                observed_generation=o.generation,
            )
        )
    return out
