"""Halts and resets as the operator defines them (docs/governance.md, "Halts").

A halt is `spec.emergencyHalt: true`. A reset is the annotation `trading.eternal-engine.io/reset`
with a value never used before, plus `trading.eternal-engine.io/reset-force=true` only for a
forced reset (a leftover force annotation would silently force the next reset, so an unforced
reset removes it). The operator answers in the policy's status: `resetToken` is the value it
honoured, `refusedResetToken` one it refused, with a Warning Event `ResetRefused` saying why.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from eternal_kernel.api.v1alpha1 import GROUP
from eternal_operator.reporting.numbers import decimal

from .views import directive_summary, fmt_pct

RESET_ANNOTATION = f"{GROUP}/reset"
RESET_FORCE_ANNOTATION = f"{GROUP}/reset-force"

Obj = Mapping[str, Any]


def new_reset_token(now: datetime) -> str:
    """A value never used before: the time, and a random suffix for two resets in a second."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def halt_patch() -> dict[str, Any]:
    return {"spec": {"emergencyHalt": True}}


def reset_patch(token: str, *, force: bool) -> dict[str, Any]:
    """The merge patch of a reset; `None` deletes a leftover force annotation."""
    return {
        "metadata": {
            "annotations": {
                RESET_ANNOTATION: token,
                RESET_FORCE_ANNOTATION: "true" if force else None,
            }
        }
    }


def clear_force_patch() -> dict[str, Any]:
    return {"metadata": {"annotations": {RESET_FORCE_ANNOTATION: None}}}


@dataclass(frozen=True)
class Answer:
    """The operator's answer to a reset: `outcome` is refused, lifted or recorded."""

    outcome: str
    message: str
    final: bool = True
    """False for a refusal seen in the status whose Event (the reason) has not arrived yet."""


def _status(policy: Obj) -> dict[str, Any]:
    return dict(policy.get("status") or {})


def _newest(events: Iterable[Obj]) -> Obj | None:
    def when(e: Obj) -> str:
        return str(e.get("lastTimestamp") or e.get("eventTime") or e.get("firstTimestamp") or "")

    ordered = sorted(events, key=when)
    return ordered[-1] if ordered else None


def _halting_drawdown(policy: Obj) -> Decimal | None:
    levels = (policy.get("spec") or {}).get("levels") or []
    halting = [decimal(lv.get("drawdown")) for lv in levels if lv.get("halt")]
    found = [d for d in halting if d is not None]
    return min(found) if found else None


def state_line(policy: Obj) -> str:
    """The policy as it stands: halted or not, level, drawdown, directive."""
    status = _status(policy)
    directive = status.get("directive") or {}
    parts = [
        "HALTED" if status.get("halted") else "not halted",
        f"level {int(status.get('level') or 0)}",
        f"drawdown {fmt_pct(status.get('drawdown'))}",
    ]
    if directive:
        parts.append(f"directive {directive.get('sequence', '-')} ({directive_summary(directive)})")
    if status.get("halted") and status.get("haltReason"):
        parts.append(f"reason: {status['haltReason']}")
    return ", ".join(parts)


def reset_answer(policy: Obj, token: str, refusals: Iterable[Obj]) -> Answer | None:
    """The operator's answer to the reset `token`, or None while it has not answered.

    `refusals` are the policy's `ResetRefused` Events that appeared after the annotation."""
    status = _status(policy)
    if status.get("refusedResetToken") == token:
        event = _newest(refusals)
        if event is not None:
            return Answer("refused", str(event.get("message") or "refused"))
        # The status can be seen before the Event: say what the operator checks, for now.
        if (policy.get("spec") or {}).get("emergencyHalt"):
            why = "spec.emergencyHalt is still true: set it to false first"
        else:
            threshold = _halting_drawdown(policy)
            why = (
                f"drawdown {fmt_pct(status.get('drawdown'))} is still at or beyond the halting "
                f"level{'' if threshold is None else ' ' + fmt_pct(threshold)}; "
                "reset with --force to reset anyway"
            )
        return Answer("refused", why, final=False)
    if status.get("resetToken") == token:
        if status.get("halted"):
            return Answer("refused", "the reset was honoured but the policy halted again: "
                          + state_line(policy))  # fmt: skip
        return Answer("lifted", state_line(policy))
    return None
