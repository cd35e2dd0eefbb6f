"""What a failed Engine pass becomes: a typed reason, a message saying what failed, whether the
Engine can run meanwhile, and the status that says so. Plain functions over the error; the kopf
handler (controllers/main.py) adds the Event, the log line and the retry with backoff."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eternal_kernel.api.v1alpha1 import Phase
from eternal_kernel.api.v1alpha1.engine_conditions import EngineConditionType as T
from eternal_kernel.api.v1alpha1.engine_conditions import EngineReason as R
from eternal_operator.kube import KubeError

TRANSIENT_STATUSES = frozenset({0, 408, 409, 429})
"""No answer, a timeout, a conflict, throttling: the same request may succeed later."""


class ApplyRefused(Exception):
    """The API server refused an object the operator rendered (what, and the server's why)."""

    def __init__(self, kind: str, namespace: str, name: str, error: KubeError) -> None:
        super().__init__(f"the API server refused {kind} {namespace}/{name}: {error.message}")
        self.status = error.status


@dataclass(frozen=True)
class Failure:
    reason: R
    message: str
    blocking: bool
    """The Engine cannot run as specified until something changes: phase Failed."""
    expected: bool
    """A kind of failure the operator knows: one log line, no traceback."""


def _transient(status: int) -> bool:
    return status in TRANSIENT_STATUSES or status >= 500


def classify(error: BaseException) -> Failure:
    """The one mapping from an exception out of a reconcile pass to a Failure."""
    if isinstance(error, ApplyRefused) and not _transient(error.status):
        return Failure(R.OBJECT_REFUSED, str(error), blocking=True, expected=True)
    status = getattr(error, "status", None)
    if isinstance(error, ApplyRefused | KubeError) and status is not None and _transient(status):
        message = f"the API server is unavailable: {error}"
        return Failure(R.API_SERVER_UNAVAILABLE, message, blocking=False, expected=True)
    if isinstance(error, KubeError):
        message = f"the API server refused a request: {error}"
        return Failure(R.RECONCILE_ERROR, message, blocking=False, expected=True)
    message = f"unexpected {type(error).__name__}: {error}"
    return Failure(R.RECONCILE_ERROR, message[:1000], blocking=False, expected=False)


def status_of(
    body: Mapping[str, Any], failure: Failure, now: datetime, retry_in: float
) -> dict[str, Any]:
    """The status of an Engine whose pass failed: Ready False with the failure's reason (other
    conditions as the last pass left them), phase Failed when the failure blocks the Engine."""
    before = dict(body.get("status") or {})
    message = f"{failure.message} (next attempt in {retry_in:.0f}s)"
    conditions = [dict(c) for c in before.get("conditions") or [] if c.get("type") != T.READY]
    old = next((c for c in before.get("conditions") or [] if c.get("type") == T.READY), None)
    since = old["lastTransitionTime"] if old and old.get("status") == "False" else None
    ready = {
        "type": T.READY.value,
        "status": "False",
        "reason": failure.reason.value,
        "message": message[:2048],
        "lastTransitionTime": since or now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "observedGeneration": int((body.get("metadata") or {}).get("generation") or 0),
    }
    status: dict[str, Any] = {"conditions": [ready, *conditions]}
    if failure.blocking:
        status["phase"] = Phase.FAILED.value
    return status
