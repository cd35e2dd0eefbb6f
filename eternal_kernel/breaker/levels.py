"""Circuit-breaker level transitions: up at once, down one step after hysteresis and cool-down,
and never down from a halting level by itself."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal

from eternal_kernel.api.v1alpha1 import BreakerLevel


def tripped(levels: Sequence[BreakerLevel], drawdown: Decimal) -> int:
    """The highest level whose drawdown threshold is reached (0: none)."""
    reached = [lvl.level for lvl in levels if drawdown >= lvl.drawdown]
    return max(reached, default=0)


def level_spec(levels: Sequence[BreakerLevel], number: int) -> BreakerLevel | None:
    return next((lvl for lvl in levels if lvl.level == number), None)


def next_level(
    *,
    levels: Sequence[BreakerLevel],
    current: int,
    drawdown: Decimal,
    hysteresis: Decimal,
    cooldown: timedelta,
    since: datetime | None,
    now: datetime,
) -> int:
    """The level to be at now, given where we are and since when."""
    reached = tripped(levels, drawdown)
    if reached > current:
        return reached
    spec = level_spec(levels, current)
    if current == 0 or spec is None:
        return reached
    if spec.halt:
        return current  # latched: only an explicit reset releases a halting level
    recovered = drawdown < spec.drawdown - hysteresis
    cooled = since is None or now - since >= cooldown
    if recovered and cooled:
        return max(reached, current - 1)
    return current
