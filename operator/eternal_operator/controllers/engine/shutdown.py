"""The shutdown handshake before a runtime goes away (suspend or delete), as a pure decision.

The operator writes status.shutdown; the runtime cancels its orders (and flattens if asked) and
answers with status.runtime.shutdownDoneAt. If no runtime is alive to answer, or the deadline
passes, the operator does the work through the venue itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from eternal_kernel.api.v1alpha1.engine import RuntimeReport, ShutdownReason, ShutdownRequest


class Step(StrEnum):
    WAIT = "wait"
    """The runtime is alive and has not answered yet: ask again shortly."""
    OPERATOR_CANCEL = "operator-cancel"
    """Nobody will answer (or the deadline passed): cancel through the venue now."""
    DONE = "done"
    """Done: the runtime answered, or the operator already cancelled."""


@dataclass(frozen=True)
class Decision:
    step: Step
    request: ShutdownRequest
    why: str


def decide(
    *,
    request: ShutdownRequest | None,
    reason: ShutdownReason,
    flatten: bool,
    runtime: RuntimeReport | None,
    runtime_alive: bool,
    now: datetime,
    deadline: timedelta,
) -> Decision:
    """What to do next about a shutdown for `reason` (the request is created on first call)."""
    if request is None or request.reason is not reason or request.flatten != flatten:
        request = ShutdownRequest(reason=reason, flatten=flatten, requested_at=now)
    if request.completed_at is not None:
        return Decision(Step.DONE, request, f"completed by the {request.completed_by}")
    done_at = runtime.shutdown_done_at if runtime else None
    # A runtime may stamp whole seconds: a confirmation in the request's second counts.
    if done_at is not None and done_at >= request.requested_at.replace(microsecond=0):
        finished = request.model_copy(update={"completed_at": now, "completed_by": "runtime"})
        return Decision(Step.DONE, finished, "the runtime confirmed its orders cancelled")
    if not runtime_alive:
        return Decision(Step.OPERATOR_CANCEL, request, "no live runtime to cancel its orders")
    waited = now - request.requested_at
    if waited >= deadline:
        return Decision(
            Step.OPERATOR_CANCEL,
            request,
            f"the runtime did not confirm within {int(deadline.total_seconds())}s",
        )
    return Decision(Step.WAIT, request, "waiting for the runtime to cancel its orders")


def completed_by_operator(request: ShutdownRequest, now: datetime) -> ShutdownRequest:
    return request.model_copy(update={"completed_at": now, "completed_by": "operator"})
