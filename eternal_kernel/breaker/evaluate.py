"""One governance step: from the policy, the engines' equity and the state so far, to the new
state and the directive every selected engine must obey. Pure: no I/O, the clock is an input."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal

from eternal_kernel.api.v1alpha1 import BreakerLevel, CircuitBreakerPolicySpec
from eternal_kernel.api.v1alpha1.policy import UnknownEquity

from .levels import level_spec, next_level, tripped
from .losses import PeriodOpen
from .nav import Book


@dataclass(frozen=True)
class Observation:
    """An engine's equity as last reported, or None when it never reported."""

    engine: str
    equity: Decimal | None
    at: datetime | None
    """When the equity was measured (a runtime revalues its last wallet read at the tickers'
    prices between reads, and keeps the read's time)."""
    heard: datetime | None = None
    """When its runtime last said it (a runtime alive says it every second): liveness, not the
    age of the figure."""


@dataclass(frozen=True)
class Flow:
    """USDT that entered (positive) or left (negative) the portfolio, e.g. a contribution."""

    id: str
    amount: Decimal
    at: datetime
    engines: tuple[str, ...]
    sent: Decimal = Decimal(0)
    """What a governed engine sent in it. Until every touched engine has reported after it, the
    reported equity may lack this much: a withdrawal not yet taken out of the units, or a move
    between engines not yet counted where it went. Money coming in can only look like more."""


@dataclass(frozen=True)
class State:
    book: Book | None = None
    level: int = 0
    level_since: datetime | None = None
    halted: bool = False
    halt_reason: str | None = None
    tripped_at: datetime | None = None
    reset_token: str | None = None
    refused_token: str | None = None
    period: PeriodOpen | None = None
    flows_applied: tuple[str, ...] = ()
    sequence: int = 0
    halted_engines: tuple[str, ...] = ()
    """While halted, every engine the halt reached: halted until the reset, even if relabelled
    out of the selector meanwhile (the governor keeps it; evaluation does not read it)."""


@dataclass(frozen=True)
class Directive:
    level: int = 0
    size_multiplier: Decimal = Decimal(1)
    entries_paused: bool = False
    close_directional: bool = False
    halt: bool = False
    reason: str = "no breach"
    stop_multiplier: Decimal = Decimal(1)


@dataclass(frozen=True)
class Change:
    """A line of history: the level or the halt changed."""

    from_level: int
    to_level: int
    drawdown: Decimal
    reason: str


@dataclass(frozen=True)
class Reset:
    """The reset annotation's value, and whether it asks to force past a halting drawdown."""

    token: str | None
    force: bool = False


@dataclass
class Step:
    state: State
    directive: Directive
    equity: Decimal | None = None
    drawdown: Decimal | None = None
    nav_per_unit: Decimal | None = None
    unknown: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    events: list[tuple[str, str, str]] = field(default_factory=list)
    """(type, reason, message) to post on the policy and its engines."""


MAX_FLOWS_REMEMBERED = 200


def _halting_threshold(levels: list[BreakerLevel]) -> Decimal | None:
    return min((lvl.drawdown for lvl in levels if lvl.halt), default=None)


def _directive(spec: CircuitBreakerPolicySpec, state: State, losses: tuple[str, ...]) -> Directive:
    if state.halted:
        return Directive(
            level=state.level,
            size_multiplier=Decimal(0),
            entries_paused=True,
            close_directional=True,
            halt=True,
            reason=state.halt_reason or "halted",
        )
    lvl = level_spec(spec.levels, state.level)
    base = Directive(level=state.level)
    if lvl is not None:
        base = Directive(
            level=lvl.level,
            size_multiplier=lvl.size_multiplier,
            entries_paused=lvl.pause_entries,
            close_directional=lvl.close_directional,
            halt=False,
            reason=f"level {lvl.level}: drawdown at or beyond {lvl.drawdown}",
            stop_multiplier=lvl.widen_stops_by if lvl.widen_stops else Decimal(1),
        )
    if losses:
        reason = "; ".join(losses) if lvl is None else f"{base.reason}; {'; '.join(losses)}"
        return replace(base, entries_paused=True, reason=reason)
    return base


def evaluate(
    *,
    spec: CircuitBreakerPolicySpec,
    state: State,
    observations: list[Observation],
    flows: list[Flow],
    reset: Reset,
    now: datetime,
    moving: Sequence[Flow] = (),
) -> Step:
    """`flows` are the completed transfers; `moving` those planned or under way."""
    stale_after = timedelta(seconds=spec.stale_after_seconds)
    unknown = sorted(
        o.engine
        for o in observations
        if o.equity is None or o.at is None or now - o.at > stale_after
    )
    if unknown or not observations:
        step = Step(state=state, directive=_directive(spec, state, ()), unknown=unknown)
        if unknown and spec.on_unknown == UnknownEquity.HALT:
            _halt(step, f"equity unknown for {', '.join(unknown)} (policy onUnknown: Halt)", now)
        _emergency(spec, step, now)
        return step

    equity = sum((o.equity for o in observations if o.equity is not None), Decimal(0))
    applied = list(state.flows_applied)
    entering = [
        flow
        for flow in flows
        if flow.id not in applied
        # Only once every engine it touched has reported equity measured after it.
        and all(
            o.at is not None and o.at > flow.at for o in observations if o.engine in flow.engines
        )
    ]
    entered = set(applied) | {f.id for f in entering}
    # While money is moving (a transfer under way, or done but not yet in every engine's
    # reported equity), equity is neither a gain nor a loss yet: hold the mark, and let the
    # level only rise (below).
    unsettled = [*moving, *(f for f in flows if f.id not in entered)]
    holding = bool(unsettled)
    if state.book is None and (equity <= 0 or holding):
        # Nothing to measure yet: an unfunded portfolio has no NAV to lose, and a book opened
        # while money moves could count it twice or not at all.
        step = Step(state=state, directive=_directive(spec, state, ()), equity=equity)
        _emergency(spec, step, now)
        return step
    if state.book is None:
        # The opening equity already holds the flows that are in it: they are the first units.
        book = Book.opening(equity)
    else:
        book = state.book
        if entering:
            # All flows entering now are inside `equity`: price them together at the NAV per
            # unit of the equity without any of them.
            amount = sum((f.amount for f in entering), Decimal(0))
            book = book.after_flow(equity - amount, amount)
    applied += [f.id for f in sorted(entering, key=lambda f: f.at)]
    floor = None
    if holding:
        # A crash is not held back by money in flight: the level still rises if the drawdown
        # is past it with every amount the reported equity may lack counted back in.
        floor = book.drawdown(equity + sum((f.sent for f in unsettled), Decimal(0)))
    else:
        book = book.marked(equity)
    drawdown = book.drawdown(equity)
    nav = book.nav_per_unit(equity)
    period = (state.period or PeriodOpen.at(now, nav)).rolled(now, nav)
    step = Step(
        state=replace(
            state, book=book, period=period, flows_applied=tuple(applied[-MAX_FLOWS_REMEMBERED:])
        ),
        directive=Directive(),
        equity=equity,
        drawdown=drawdown,
        nav_per_unit=nav,
    )
    _apply_reset(spec, step, reset, now)
    _apply_levels(spec, step, now, floor=floor)
    daily, weekly = period.losses(nav)
    losses = []
    if daily >= spec.daily_loss_limit:
        losses.append(f"daily loss limit {spec.daily_loss_limit} reached")
    if weekly >= spec.weekly_loss_limit:
        losses.append(f"weekly loss limit {spec.weekly_loss_limit} reached")
    step.directive = _directive(spec, step.state, tuple(losses))
    return step


def _halt(step: Step, reason: str, now: datetime) -> None:
    """Latch a halt (once); the caller derives the directive from the new state."""
    state = step.state
    if state.halted:
        return
    step.state = replace(state, halted=True, halt_reason=reason, tripped_at=now)
    step.changes.append(Change(state.level, state.level, step.drawdown or Decimal(0), reason))
    step.events.append(("Warning", "Halted", reason))


def _emergency(spec: CircuitBreakerPolicySpec, step: Step, now: datetime) -> None:
    """spec.emergencyHalt halts whatever else is known or not: it never waits for data."""
    if spec.emergency_halt:
        _halt(step, "emergency halt (spec.emergencyHalt)", now)
    step.directive = _directive(spec, step.state, ())


def _apply_reset(spec: CircuitBreakerPolicySpec, step: Step, reset: Reset, now: datetime) -> None:
    state = step.state
    if reset.token is None or reset.token in (state.reset_token, state.refused_token):
        return
    drawdown = step.drawdown or Decimal(0)
    if not state.halted:
        if reset.force and state.level > 0 and state.book is not None and step.equity is not None:
            # A reviewed drawdown below the halt (e.g. level 3 moved the fleet to stables, where
            # NAV cannot climb back): accept it, a new high-water mark at today's NAV per unit.
            rebased = replace(state.book, high_water_mark=state.book.nav_per_unit(step.equity))
            step.drawdown = Decimal(0)
            step.state = replace(
                state, book=rebased, reset_token=reset.token, level=0, level_since=now
            )
            reason = "reset by annotation (forced: new high-water mark)"
            step.changes.append(Change(state.level, 0, Decimal(0), reason))
            step.events.append(("Normal", "Reset", reason))
            return
        step.state = replace(state, reset_token=reset.token)
        return
    if spec.emergency_halt:
        step.state = replace(state, refused_token=reset.token)
        step.events.append(
            ("Warning", "ResetRefused", "spec.emergencyHalt is still true: set it to false first")
        )
        return
    threshold = _halting_threshold(spec.levels)
    beyond = threshold is not None and drawdown >= threshold
    if beyond and not reset.force:
        step.state = replace(state, refused_token=reset.token)
        step.events.append((
            "Warning", "ResetRefused",
            f"drawdown {drawdown:.4f} is still at or beyond the halting level {threshold}; "
            "annotate trading.eternal-engine.io/reset-force=true to reset anyway",
        ))  # fmt: skip
        return
    book = state.book
    if beyond and book is not None and step.equity is not None:
        # A forced reset starts a new high-water mark at today's NAV per unit.
        book = replace(book, high_water_mark=book.nav_per_unit(step.equity))
        step.drawdown = Decimal(0)
    level = tripped(spec.levels, step.drawdown or Decimal(0))
    step.state = replace(
        state, book=book, halted=False, halt_reason=None, reset_token=reset.token,
        level=level, level_since=now,
    )  # fmt: skip
    reason = "reset by annotation" + (" (forced: new high-water mark)" if beyond else "")
    step.changes.append(Change(state.level, level, step.drawdown or Decimal(0), reason))
    step.events.append(("Normal", "Reset", reason))


def _apply_levels(
    spec: CircuitBreakerPolicySpec, step: Step, now: datetime, *, floor: Decimal | None
) -> None:
    """Move the level by the drawdown; with money moving (`floor` given: the least the drawdown
    can be), only up, and only as far as the floor reaches."""
    state = step.state
    if floor is None:
        drawdown = step.drawdown or Decimal(0)
        level = next_level(
            levels=spec.levels,
            current=state.level,
            drawdown=drawdown,
            hysteresis=spec.hysteresis,
            cooldown=timedelta(seconds=spec.cooldown_seconds),
            since=state.level_since,
            now=now,
        )
    else:
        drawdown = floor
        level = max(state.level, tripped(spec.levels, floor))
    if level != state.level:
        up = level > state.level
        verb = "reached" if up else "recovered from"
        reason = f"drawdown {drawdown:.4f} {verb} level {max(level, state.level)}"
        if floor is not None:
            reason += " (counting back the transfers under way)"
        state = replace(
            state, level=level, level_since=now, tripped_at=now if up else state.tripped_at
        )
        step.changes.append(Change(step.state.level, level, drawdown, reason))
        step.events.append(("Warning" if up else "Normal", f"Level{level}", reason))
    lvl = level_spec(spec.levels, state.level)
    if not state.halted and (spec.emergency_halt or (lvl is not None and lvl.halt)):
        reason = (
            "emergency halt (spec.emergencyHalt)"
            if spec.emergency_halt
            else (f"level {state.level}: drawdown {drawdown:.4f} — liquidate and halt")
        )
        state = replace(state, halted=True, halt_reason=reason, tripped_at=now)
        step.changes.append(Change(state.level, state.level, drawdown, reason))
        step.events.append(("Warning", "Halted", reason))
    step.state = state
