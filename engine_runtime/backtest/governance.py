"""Circuit-breaker policy for portfolio backtests (the seam to the API's policy types).

Drawdown is measured on NAV per unit from its high-water mark, so contributions do not look like
gains. Levels (ARCHITECTURE.md): 10% sizes x0.75 and stops widened; 15% sizes x0.5 and no new
entries; 20% close directional positions; 25% liquidate everything and halt, latched for the rest
of the run. Below level 4 the level follows the drawdown down again once it has recovered
``recovery_band`` below the level's threshold. Optional daily and weekly loss limits pause
entries until the day (week, Monday 00:00 UTC) rolls over.

Level 3 moves directional capital to stables, after which NAV barely moves and could never
recover to its old high-water mark. The design leaves the way back to a human; the simulation
stands in for that review with ``rebase_after_days``: after that long at level 3 the high-water
mark is re-based to the current NAV and the breaker returns to level 0 (``None``: stay).

``BreakerPolicy`` is plain data; the operator's ``CircuitBreakerPolicy`` maps onto it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from engine_runtime.strategies.interface import NORMAL, GovernanceDirective

MS_PER_DAY = 86_400_000
MS_PER_WEEK = 7 * MS_PER_DAY
MONDAY_OFFSET_MS = 4 * MS_PER_DAY  # 1970-01-01 was a Thursday


@dataclass(frozen=True, slots=True)
class BreakerLevel:
    level: int
    drawdown: float
    size_multiplier: Decimal
    entries_paused: bool = False
    close_directional: bool = False
    halt: bool = False
    stop_multiplier: Decimal = Decimal(1)

    def directive(self, drawdown: float) -> GovernanceDirective:
        return GovernanceDirective(
            level=self.level,
            size_multiplier=self.size_multiplier,
            entries_paused=self.entries_paused,
            close_directional=self.close_directional,
            halt=self.halt,
            stop_multiplier=self.stop_multiplier,
            reason=f"level {self.level}: drawdown {drawdown:.1%}",
        )


DEFAULT_LEVELS: tuple[BreakerLevel, ...] = (
    BreakerLevel(1, 0.10, Decimal("0.75"), stop_multiplier=Decimal("1.5")),
    BreakerLevel(2, 0.15, Decimal("0.5"), entries_paused=True, stop_multiplier=Decimal("1.5")),
    BreakerLevel(3, 0.20, Decimal(0), entries_paused=True, close_directional=True),
    BreakerLevel(4, 0.25, Decimal(0), entries_paused=True, close_directional=True, halt=True),
)


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    levels: tuple[BreakerLevel, ...] = DEFAULT_LEVELS
    recovery_band: float = 0.02
    rebase_after_days: float | None = 30.0
    daily_loss_limit: float | None = None
    weekly_loss_limit: float | None = None


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    ts_ms: int
    level: int
    drawdown: float
    reason: str


@dataclass
class CircuitBreaker:
    """Evaluates the policy bar by bar; ``update`` returns the directive for the next decisions."""

    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    hwm: float = 0.0
    level: int = 0
    halted: bool = False
    history: list[BreakerEvent] = field(default_factory=list)
    _since_ms: int = 0
    _day: int = -1
    _day_open: float = 0.0
    _week: int = -1
    _week_open: float = 0.0

    def drawdown(self, nav: float) -> float:
        return 0.0 if self.hwm <= 0 else max(0.0, 1.0 - nav / self.hwm)

    def update(self, ts_ms: int, nav: float) -> GovernanceDirective:
        self.hwm = max(self.hwm, nav)
        dd = self.drawdown(nav)
        levels = sorted(self.policy.levels, key=lambda lv: lv.level)
        reached = max((lv.level for lv in levels if dd + 1e-12 >= lv.drawdown), default=0)
        new = self.level
        if self.halted:
            new = max(lv.level for lv in levels)
        elif reached > self.level:
            new = reached
        elif reached < self.level:
            current = next(lv for lv in levels if lv.level == self.level)
            if dd < current.drawdown - self.policy.recovery_band:
                new = reached
        rebase = self.policy.rebase_after_days
        if (
            rebase is not None
            and not self.halted
            and new == self.level == 3
            and ts_ms - self._since_ms >= rebase * MS_PER_DAY
        ):
            self.hwm, dd, new = nav, 0.0, 0
            self.history.append(BreakerEvent(ts_ms, 0, dd, "high-water mark re-based after review"))
            self.level, self._since_ms = 0, ts_ms
        if new != self.level:
            self.history.append(BreakerEvent(ts_ms, new, dd, "drawdown"))
            self.level, self._since_ms = new, ts_ms
        by_level = {lv.level: lv for lv in levels}
        directive = by_level[self.level].directive(dd) if self.level in by_level else NORMAL
        if directive.halt:
            self.halted = True
        return self._loss_limits(ts_ms, nav, directive)

    def _loss_limits(
        self, ts_ms: int, nav: float, directive: GovernanceDirective
    ) -> GovernanceDirective:
        day, week = ts_ms // MS_PER_DAY, (ts_ms - MONDAY_OFFSET_MS) // MS_PER_WEEK
        if day != self._day:
            self._day, self._day_open = day, nav
        if week != self._week:
            self._week, self._week_open = week, nav
        p = self.policy
        breached = None
        if p.daily_loss_limit is not None and nav < self._day_open * (1 - p.daily_loss_limit):
            breached = "daily loss limit"
        elif p.weekly_loss_limit is not None and nav < self._week_open * (1 - p.weekly_loss_limit):
            breached = "weekly loss limit"
        if breached is None or directive.entries_paused:
            return directive
        return GovernanceDirective(
            level=directive.level,
            size_multiplier=directive.size_multiplier,
            entries_paused=True,
            close_directional=directive.close_directional,
            halt=directive.halt,
            stop_multiplier=directive.stop_multiplier,
            reason=breached,
        )
