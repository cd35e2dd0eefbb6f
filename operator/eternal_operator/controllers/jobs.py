"""What the controllers of resources run by a Job share (ModelTraining, Backtest): a pass's
status and events, the Job's outcome, the one condition and the phase events, and the pod's
security context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from eternal_operator.controllers.engine.reconcile import Event

SUCCEEDED, FAILED, RUNNING, PENDING = "Succeeded", "Failed", "Running", "Pending"
RUNTIME_UID = 10001


@dataclass
class Pass:
    status: dict[str, Any] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """A phase (Pending, Running, Succeeded, Failed) and why."""

    phase: str
    reason: str
    message: str


def time_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def owned_by(obj: Mapping[str, Any], uid: str) -> bool:
    owners = obj["metadata"].get("ownerReferences") or []
    return any(o.get("uid") == uid and o.get("controller") for o in owners)


def true_conditions(job: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The Job's conditions that hold (Complete, Failed, ...), by type."""
    conditions = (job.get("status") or {}).get("conditions") or []
    return {c["type"]: c for c in conditions if c.get("status") == "True"}


def report(
    out: Pass, outcome: Outcome, before: Mapping[str, Any], now: datetime, condition: str
) -> Pass:
    """The phase and the one condition into the status (its transition time kept while its
    status holds), and an event when the phase changes (a Warning into Failed)."""
    out.status["phase"] = outcome.phase
    ok = outcome.phase == SUCCEEDED
    status = "True" if ok else ("False" if outcome.phase == FAILED else "Unknown")
    old = {c["type"]: c for c in before.get("conditions") or []}.get(condition) or {}
    out.status["conditions"] = [{
        "type": condition, "status": status, "reason": outcome.reason,
        "message": outcome.message[:2048], "observedGeneration": out.status["observedGeneration"],
        "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == status
        else time_text(now),
    }]  # fmt: skip
    if before.get("phase") != outcome.phase:
        kind = "Warning" if outcome.phase == FAILED else "Normal"
        was = before.get("phase") or "None"
        out.events.append(Event(kind, f"Phase{outcome.phase}",
                                f"{was} -> {outcome.phase}: {outcome.message}"))  # fmt: skip
    return out


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True, "runAsUser": RUNTIME_UID, "runAsGroup": RUNTIME_UID,
        "fsGroup": RUNTIME_UID, "seccompProfile": {"type": "RuntimeDefault"},
    }  # fmt: skip


def container_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True, "runAsUser": RUNTIME_UID, "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]},
    }  # fmt: skip
