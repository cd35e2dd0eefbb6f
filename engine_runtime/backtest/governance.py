"""The circuit breaker of portfolio backtests: the operator's own rules, bar by bar.

Every bar, the portfolio's NAV per unit goes through ``eternal_kernel.breaker.evaluate``,
the function the live policy controller runs, with a ``CircuitBreakerPolicySpec`` (the live
defaults unless given): the same level table, hysteresis and cool-down (levels are entered at
once and left one step at a time), the latched halt, the daily and weekly loss limits, and the
same directive, widened stops included. A backtest and the live fleet cannot disagree on what a
drawdown does.

One stand-in: level 3 moves the directional engines to stables, after which NAV barely moves and
cannot climb back to its high-water mark; live, a human reviews and resets with
``reset-force=true`` (docs/governance.md). ``review_after_days`` plays that human: after that long
at a level that closes directional positions (and is not a halt), the same forced reset is
applied (``None``: nobody reviews, the portfolio stays in stables).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache

from engine_runtime.governance.admission import admit, entries_paused
from engine_runtime.strategies.interface import (
    Category,
    GovernanceDirective,
    PortfolioView,
    Side,
    SubmitOrder,
)
from eternal_kernel.api.v1alpha1 import CircuitBreakerPolicySpec
from eternal_kernel.breaker.evaluate import Directive, Observation, Reset, State, evaluate
from eternal_kernel.breaker.levels import level_spec
from paper_venue.instruments import Category as VenueCategory
from paper_venue.instruments import build_instruments

MS_PER_DAY = 86_400_000
PORTFOLIO = "portfolio"


@dataclass(frozen=True, slots=True)
class BreakerPolicy:
    """The policy a portfolio backtest runs under: the live spec, and the review stand-in."""

    spec: CircuitBreakerPolicySpec = field(default_factory=CircuitBreakerPolicySpec)
    review_after_days: float | None = 30.0


@dataclass(frozen=True, slots=True)
class BreakerEvent:
    ts_ms: int
    level: int
    drawdown: float
    reason: str


def for_strategy(directive: Directive) -> GovernanceDirective:
    """The operator's directive as the strategies read it (the live runtime hands them the
    same fields from the Engine's status)."""
    return GovernanceDirective(
        level=directive.level,
        size_multiplier=directive.size_multiplier,
        entries_paused=entries_paused(directive.entries_paused, directive.size_multiplier),
        close_directional=directive.close_directional,
        halt=directive.halt,
        stop_multiplier=directive.stop_multiplier,
        reason=directive.reason,
    )


CENT = Decimal("0.01")


@cache
def qty_step(symbol: str, category: Category) -> Decimal:
    """The instrument's quantity step: the simulator venue's table of Bybit's published filters
    (the steps the live runner rounds a scaled order to)."""
    try:
        listed = build_instruments([symbol])
    except ValueError:
        return Decimal("0.000001")
    return listed[(VenueCategory(category.value), symbol)].qty_step


def governed(
    intent: SubmitOrder, portfolio: PortfolioView, directive: GovernanceDirective
) -> SubmitOrder | None:
    """``intent`` as governance lets it through against the engine's position in its market, as
    the strategy sees it (``governance.admission.admit``, the live runner's rule): an entry
    scaled by the multiplier and rounded down to the instrument's step, an exit whole; None when
    withheld (a zero multiplier, or scaled below one step: live, the instrument filter refuses
    that)."""
    if directive.size_multiplier == 1:
        return intent
    if intent.category is Category.SPOT:
        position = portfolio.spot_qty(intent.symbol)
    else:
        perp = portfolio.position(intent.symbol)
        position = perp.qty if perp is not None else Decimal(0)
    quote = intent.notional is not None
    qty = intent.notional if quote else intent.qty
    if qty is None:
        return intent
    admitted = admit(
        qty,
        buy=intent.side is Side.BUY,
        reduce_only=intent.reduce_only,
        position=position,
        multiplier=directive.size_multiplier,
        step=CENT if quote else qty_step(intent.symbol, intent.category),
        quote=quote,
    )
    if admitted is None or admitted <= 0:
        return None
    if admitted == qty:
        return intent
    return replace(intent, notional=admitted) if quote else replace(intent, qty=admitted)


@dataclass
class CircuitBreaker:
    """Evaluates the policy bar by bar; ``update`` returns the directive for the next decisions."""

    policy: BreakerPolicy = field(default_factory=BreakerPolicy)
    state: State = field(default_factory=State)
    history: list[BreakerEvent] = field(default_factory=list)
    _reviews: int = 0

    @property
    def level(self) -> int:
        return self.state.level

    @property
    def halted(self) -> bool:
        return self.state.halted

    @property
    def hwm(self) -> Decimal | None:
        """The high-water mark of NAV per unit (None before the first bar)."""
        return None if self.state.book is None else self.state.book.high_water_mark

    def update(self, ts_ms: int, nav: float) -> GovernanceDirective:
        now = datetime.fromtimestamp(ts_ms / 1000, UTC)
        step = evaluate(
            spec=self.policy.spec,
            state=self.state,
            observations=[Observation(PORTFOLIO, Decimal(repr(nav)), now, now)],
            flows=[],
            reset=self._review(now),
            now=now,
        )
        self.state = step.state
        for change in step.changes:
            self.history.append(
                BreakerEvent(ts_ms, change.to_level, float(change.drawdown), change.reason)
            )
        return for_strategy(step.directive)

    def _review(self, now: datetime) -> Reset:
        """The forced reset a human would give after ``review_after_days`` at level 3."""
        days, state = self.policy.review_after_days, self.state
        spec = level_spec(self.policy.spec.levels, state.level)
        if (
            days is None
            or state.halted
            or spec is None
            or not spec.close_directional
            or state.level_since is None
            or now - state.level_since < timedelta(days=days)
        ):
            return Reset(None)
        self._reviews += 1
        return Reset(f"review-{self._reviews}", force=True)
