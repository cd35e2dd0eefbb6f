"""The governance state and directive as they are stored in the Kubernetes status objects."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from eternal_kernel.api.v1alpha1.policy import CircuitBreakerPolicyStatus

from .evaluate import Directive, State, Step
from .losses import PeriodOpen
from .nav import Book


def _dec(value: str | None) -> Decimal | None:
    return Decimal(value) if value not in (None, "") else None


def _text(value: Decimal | None, places: int = 8) -> str | None:
    if value is None:
        return None
    text = f"{value.quantize(Decimal(1).scaleb(-places)):f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def state_from_status(status: CircuitBreakerPolicyStatus | None) -> State:
    """The state a previous run left in the policy's status (empty on first start)."""
    if status is None:
        return State()
    units, hwm = _dec(status.units), _dec(status.high_water_mark)
    period = None
    day_nav, week_nav = _dec(status.day_open_nav), _dec(status.week_open_nav)
    if status.day_start and status.week_start and day_nav is not None and week_nav is not None:
        period = PeriodOpen(status.day_start, day_nav, status.week_start, week_nav)
    return State(
        book=Book(units, hwm) if units is not None and hwm is not None else None,
        level=status.level,
        level_since=status.level_since,
        halted=status.halted,
        halt_reason=status.halt_reason,
        tripped_at=status.tripped_at,
        reset_token=status.reset_token,
        refused_token=status.refused_reset_token,
        period=period,
        flows_applied=tuple(status.flows_applied),
        sequence=status.directive_sequence,
        halted_engines=tuple(status.halted_engines),
    )


def _time(value: datetime | None) -> str | None:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if value else None


def state_fields(state: State) -> dict[str, Any]:
    """The status fields that carry the state (written whenever they change)."""
    period = state.period
    return {
        "units": _text(state.book.units) if state.book else None,
        "highWaterMark": _text(state.book.high_water_mark) if state.book else None,
        "level": state.level,
        "levelSince": _time(state.level_since),
        "halted": state.halted,
        "haltReason": state.halt_reason,
        "trippedAt": _time(state.tripped_at),
        "resetToken": state.reset_token,
        "refusedResetToken": state.refused_token,
        "directiveSequence": state.sequence,
        "flowsApplied": list(state.flows_applied),
        "haltedEngines": list(state.halted_engines),
        "dayStart": _time(period.day) if period else None,
        "dayOpenNav": _text(period.day_nav) if period else None,
        "weekStart": _time(period.week) if period else None,
        "weekOpenNav": _text(period.week_nav) if period else None,
    }


def display_fields(step: Step) -> dict[str, Any]:
    """Equity, NAV and drawdown for `kubectl get cbp` (written at most every few seconds)."""
    return {
        "equity": _text(step.equity, 2),
        "navPerUnit": _text(step.nav_per_unit),
        "drawdown": _text(step.drawdown, 4),
        "unknownEngines": step.unknown,
    }


def directive_content(directive: Directive, policy: str) -> dict[str, Any]:
    """What an engine must do; equal content means nothing new to tell it."""
    return {
        "policy": policy,
        "level": directive.level,
        "sizeMultiplier": float(directive.size_multiplier),  # a ratio: the CRD types it number
        "entriesPaused": directive.entries_paused,
        "closeDirectional": directive.close_directional,
        "halt": directive.halt,
        "stopMultiplier": float(directive.stop_multiplier),
        "reason": directive.reason,
    }


def same_directive(current: dict[str, Any] | None, content: dict[str, Any]) -> bool:
    if not current:
        return False

    def same(key: str, value: Any) -> bool:
        have = current.get(key, _DEFAULTS.get(key))
        if key in ("sizeMultiplier", "stopMultiplier"):
            return have is not None and Decimal(str(have)) == Decimal(str(value))
        return bool(have == value)

    return all(same(key, value) for key, value in content.items())


_DEFAULTS: dict[str, Any] = {
    "level": 0,
    "sizeMultiplier": 1,
    "stopMultiplier": 1,
    "entriesPaused": False,
    "closeDirectional": False,
    "halt": False,
}


def neutral(current: dict[str, Any] | None) -> bool:
    """A directive that restricts nothing (or none at all)."""
    current = current or {}
    return not (
        current.get("halt")
        or current.get("entriesPaused")
        or current.get("closeDirectional")
        or int(current.get("level") or 0)
        or Decimal(str(current.get("sizeMultiplier", 1))) != 1
        or Decimal(str(current.get("stopMultiplier", 1))) != 1
    )
