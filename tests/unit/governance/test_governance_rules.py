"""NAV per unit, level transitions, halts and resets, against hand-worked numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from eternal_kernel.api.v1alpha1 import CircuitBreakerPolicySpec
from eternal_kernel.api.v1alpha1.policy import UnknownEquity
from eternal_kernel.breaker.evaluate import Flow, Observation, Reset, State, Step, evaluate
from eternal_kernel.breaker.levels import next_level
from eternal_kernel.breaker.losses import PeriodOpen
from eternal_kernel.breaker.nav import Book

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)  # a Wednesday
SPEC = CircuitBreakerPolicySpec(daily_loss_limit=D("0.5"), weekly_loss_limit=D("0.6"))


def obs(*equities: str, at: datetime = T0) -> list[Observation]:
    return [Observation(f"e{i}", D(e), at) for i, e in enumerate(equities)]


NO_RESET = Reset(None)


def step(
    state: State,
    *equities: str,
    now: datetime = T0,
    spec: CircuitBreakerPolicySpec = SPEC,
    flows: list[Flow] | None = None,
    reset: Reset = NO_RESET,
) -> Step:
    return evaluate(
        spec=spec, state=state, observations=obs(*equities, at=now), flows=flows or [],
        reset=reset, now=now,
    )  # fmt: skip


def test_a_deposit_is_not_a_gain_and_a_withdrawal_not_a_loss() -> None:
    book = Book.opening(D(1000))
    book = book.after_flow(D(1000), D(500))  # 500 in at NAV 1
    assert book.units == D(1500)
    assert book.nav_per_unit(D(1500)) == 1
    book = book.after_flow(D(1500), D(-600))  # 600 out
    assert book.nav_per_unit(D(900)) == 1
    assert book.drawdown(D(900)) == 0
    assert Book.opening(D(1000)).marked(D(1200)).drawdown(D(900)) == D("0.25")


def test_a_30_percent_crash_walks_every_level_in_order_and_ends_halted() -> None:
    state, seen = State(), []
    for i, equity in enumerate(["100000", "95000", "89000", "84000", "79000", "74000", "70000"]):
        result = step(state, equity, now=T0 + timedelta(minutes=i))
        state = result.state
        seen.append(result.directive.level)
    assert seen == [0, 0, 1, 2, 3, 4, 4]
    assert state.halted
    directive = result.directive
    assert directive.halt
    assert directive.size_multiplier == 0
    assert directive.close_directional


def test_levels_apply_their_actions() -> None:
    state = step(State(), "100").state
    one = step(state, "89")
    assert (one.directive.size_multiplier, one.directive.entries_paused) == (D("0.75"), False)
    two = step(one.state, "84")
    assert (two.directive.size_multiplier, two.directive.entries_paused) == (D("0.5"), True)
    three = step(two.state, "79")
    assert three.directive.close_directional
    assert not three.directive.halt


def test_a_level_that_widens_stops_says_how_far_and_the_directive_carries_it() -> None:
    """Level 1 widens stops (x1.5 by default, `widenStopsBy` otherwise); level 2 does not;
    a halt has no stops to widen. The live strategies read it as `stop_multiplier`."""
    state = step(State(), "100").state
    one = step(state, "89")
    assert one.directive.stop_multiplier == D("1.5")
    assert step(one.state, "84").directive.stop_multiplier == 1
    assert step(state, "70").directive.stop_multiplier == 1  # level 4: halted
    levels = [lvl.model_copy(update={"widen_stops_by": D(2)}) for lvl in SPEC.levels]
    wider = replace_spec(levels)
    assert (
        step(step(State(), "100", spec=wider).state, "89", spec=wider).directive.stop_multiplier
        == 2
    )
    unwidened = replace_spec([lvl.model_copy(update={"widen_stops": False}) for lvl in SPEC.levels])
    assert (
        step(
            step(State(), "100", spec=unwidened).state, "89", spec=unwidened
        ).directive.stop_multiplier
        == 1
    )


def replace_spec(levels: list) -> CircuitBreakerPolicySpec:  # type: ignore[type-arg]
    return SPEC.model_copy(update={"levels": levels})


def test_a_jump_goes_straight_to_the_level_reached() -> None:
    state = step(State(), "100").state
    assert step(state, "78").directive.level == 3


def test_stepping_down_needs_hysteresis_and_cooldown() -> None:
    levels = SPEC.levels

    def at(current: int, drawdown: str, after: timedelta) -> int:
        return next_level(
            levels=levels, current=current, drawdown=D(drawdown), hysteresis=D("0.02"),
            cooldown=timedelta(hours=1), since=T0, now=T0 + after,
        )  # fmt: skip

    # Level 2 (15%): back to 14% is inside the hysteresis band: stay.
    assert at(2, "0.14", timedelta(hours=2)) == 2
    # 12%: out of the band, but the cool-down has not passed: stay.
    assert at(2, "0.12", timedelta(minutes=5)) == 2
    # 12% after the cool-down: one step down.
    assert at(2, "0.12", timedelta(hours=2)) == 1
    # Level 4 never comes down by itself, even at 0% drawdown.
    assert at(4, "0", timedelta(days=9)) == 4


def test_emergency_halt_is_latched_and_needs_a_fresh_reset() -> None:
    state = step(State(), "100").state
    halting = SPEC.model_copy(update={"emergency_halt": True})
    halted = step(state, "100", spec=halting)
    assert halted.directive.halt
    assert "emergency" in (halted.state.halt_reason or "")

    reverted = step(halted.state, "100")  # Git sync put emergencyHalt back to false
    assert reverted.directive.halt

    refused = step(reverted.state, "100", spec=halting, reset=Reset("r1"))
    assert refused.directive.halt
    assert refused.events[0][1] == "ResetRefused"

    resumed = step(refused.state, "100", reset=Reset("r2"))
    assert not resumed.directive.halt
    assert resumed.state.reset_token == "r2"
    again = step(resumed.state, "100", reset=Reset("r2"))  # the same value again does nothing
    assert again.changes == []


def test_a_forced_reset_below_the_halt_accepts_the_drawdown_and_a_plain_one_does_nothing() -> None:
    state = step(State(), "100").state
    three = step(state, "79").state
    assert three.level == 3
    plain = step(three, "79", reset=Reset("r1"))
    assert plain.state.level == 3
    assert plain.directive.close_directional
    forced = step(three, "79", reset=Reset("r2", force=True))
    assert forced.state.level == 0
    assert forced.state.book is not None
    assert forced.state.book.high_water_mark == D("0.79")
    assert forced.drawdown == 0
    assert not forced.directive.close_directional
    assert [(c.from_level, c.to_level) for c in forced.changes] == [(3, 0)]
    assert step(forced.state, "75").directive.level == 0  # 5% below the new mark
    assert step(forced.state, "71").directive.level == 1  # 10.1% below it


def test_reset_beyond_the_halting_drawdown_is_refused_unless_forced() -> None:
    state = step(State(), "100").state
    crashed = step(state, "70")
    assert crashed.state.halted
    refused = step(crashed.state, "70", reset=Reset("r1"))
    assert refused.state.halted
    assert "reset-force" in refused.events[0][2]
    forced = step(refused.state, "70", reset=Reset("r2", force=True))
    assert not forced.state.halted
    assert forced.drawdown == 0
    assert forced.state.book is not None
    assert forced.state.book.high_water_mark == D("0.7")


def test_a_recorded_deposit_does_not_trip_a_level() -> None:
    state = step(State(), "1000").state
    later = T0 + timedelta(minutes=1)
    withdrawal = Flow("t1", D(-300), T0 + timedelta(seconds=30), ("e0",))
    result = step(state, "700", now=later, flows=[withdrawal])
    assert result.drawdown == 0
    assert result.directive.level == 0
    assert result.state.flows_applied == ("t1",)
    twice = step(result.state, "700", now=later + timedelta(minutes=1), flows=[withdrawal])
    assert twice.state.book == result.state.book  # applied once, never again


def test_flows_entering_together_are_priced_together() -> None:
    state = step(State(), "600", "400").state
    later = T0 + timedelta(minutes=1)
    flows = [
        Flow("a", D(1500), T0 + timedelta(seconds=30), ("e0",)),
        Flow("b", D(500), T0 + timedelta(seconds=30), ("e1",)),
    ]
    result = step(state, "2100", "900", now=later, flows=flows)
    assert result.nav_per_unit == 1
    assert result.state.book is not None
    assert result.state.book.units == D(3000)


def test_emergency_halt_needs_no_equity_at_all() -> None:
    halting = SPEC.model_copy(update={"emergency_halt": True})
    unfunded = step(State(), "0", spec=halting)
    assert unfunded.directive.halt
    assert unfunded.state.halted
    state = step(State(), "100").state
    stale = evaluate(
        spec=halting, state=state, observations=[Observation("e0", D(100), T0)], flows=[],
        reset=NO_RESET, now=T0 + timedelta(hours=1),
    )  # fmt: skip
    assert stale.unknown == ["e0"]
    assert stale.directive.halt
    assert stale.directive.size_multiplier == 0


def test_an_unfunded_portfolio_is_not_measured() -> None:
    empty = step(State(), "0", "0")
    assert empty.state.book is None
    assert empty.directive.level == 0
    assert not empty.directive.halt
    funded = step(empty.state, "6000", "4000", now=T0 + timedelta(minutes=1))
    assert funded.nav_per_unit == 1
    assert funded.directive.level == 0


def test_flows_inside_the_opening_equity_are_not_priced_again() -> None:
    contribution = [
        Flow("c1", D(4000), T0, ("e0",)),
        Flow("c2", D(1000), T0, ("e1",)),
    ]
    opened = step(State(), "10000", "5000", now=T0 + timedelta(minutes=1), flows=contribution)
    assert opened.nav_per_unit == 1
    assert opened.drawdown == 0
    assert set(opened.state.flows_applied) == {"c1", "c2"}


def moving(state: State, equity: str, *transfers: Flow, seconds: int = 5) -> Step:
    """A step while `transfers` are planned or under way."""
    now = T0 + timedelta(seconds=seconds)
    return evaluate(
        spec=SPEC, state=state, observations=obs(equity, at=now), flows=[], reset=NO_RESET,
        now=now, moving=transfers,
    )  # fmt: skip


def test_money_in_flight_neither_raises_the_mark_nor_trips_a_level() -> None:
    state = step(State(), "1000").state
    contribution = Flow("c", D(500), T0, ("e0",))
    landed_early = moving(state, "1500", contribution)
    assert landed_early.state.book == state.book  # the +500 is not a new high
    withdrawal = Flow("w", D(-300), T0, ("e0",), sent=D(300))
    gone_early = moving(state, "700", withdrawal)
    assert gone_early.directive.level == 0  # a 30% withdrawal under way is not a crash
    unseen = replace(withdrawal, at=T0 + timedelta(minutes=9))
    waiting = step(state, "700", now=T0 + timedelta(seconds=6), flows=[unseen])
    assert waiting.directive.level == 0


def test_a_crash_while_money_moves_still_raises_the_level_as_far_as_it_surely_reaches() -> None:
    state = step(State(), "1000").state
    withdrawal = Flow("w", D(-100), T0, ("e0",), sent=D(100))
    # 30% down as reported; with the 100 under way counted back, at least 20% down.
    crash = moving(state, "700", withdrawal)
    assert crash.directive.level == 3  # not 4: the 100 may be what is missing
    assert crash.directive.close_directional
    assert crash.state.book == state.book  # the mark is held all the same
    assert "counting back the transfers under way" in crash.changes[0].reason
    # Still moving, a recovery does not lower the level: that waits for the money to settle.
    recovered = moving(crash.state, "1000", withdrawal, seconds=10)
    assert recovered.directive.level == 3
    # A move between engines, done but not yet reported by the engine it went to: the 400 that
    # left e0 is counted back, so 55% down as reported is at least 15% down (level 2).
    state = step(State(), "600", "400").state
    inside = Flow("r", D(0), T0 + timedelta(seconds=1), ("e0", "e1"), sent=D(400))
    half = evaluate(
        spec=SPEC, state=state, reset=NO_RESET, now=T0 + timedelta(seconds=3), flows=[inside],
        observations=[Observation("e0", D(150), T0 + timedelta(seconds=2)),
                      Observation("e1", D(300), T0)],
    )  # fmt: skip
    assert half.drawdown == D("0.55")
    assert half.directive.level == 2


def test_a_flow_waits_until_the_equity_includes_it() -> None:
    state = step(State(), "1000").state
    flow = Flow("t1", D(500), T0 + timedelta(minutes=5), ("e0",))
    early = step(state, "1000", now=T0 + timedelta(minutes=1), flows=[flow])
    assert early.state.flows_applied == ()


def test_a_move_between_engines_seen_half_done_is_neither_a_gain_nor_a_loss() -> None:
    state = step(State(), "15000", "5000").state
    moved_at = T0 + timedelta(seconds=30)
    inside = Flow("r1", D(0), moved_at, ("e0", "e1"))
    # e0 has reported the 5000 it received; e1 still reports from before it sent them.
    half = evaluate(
        spec=SPEC, state=state, reset=NO_RESET, now=T0 + timedelta(seconds=31), flows=[inside],
        observations=[Observation("e0", D(20000), moved_at + timedelta(milliseconds=1)),
                      Observation("e1", D(5000), T0)],
    )  # fmt: skip
    assert half.state.book == state.book  # 25000 is not a new high
    assert half.state.flows_applied == ()
    both = step(half.state, "20000", "0", now=T0 + timedelta(minutes=1), flows=[inside])
    assert both.state.book == state.book  # no units for money that never left
    assert both.drawdown == 0
    assert both.state.flows_applied == ("r1",)


def test_the_book_opens_only_once_money_has_settled() -> None:
    inside = Flow("r1", D(0), T0 + timedelta(seconds=30), ("e0", "e1"))
    half = evaluate(
        spec=SPEC, state=State(), reset=NO_RESET, now=T0 + timedelta(seconds=31), flows=[inside],
        observations=[Observation("e0", D(20000), T0 + timedelta(seconds=31)),
                      Observation("e1", D(5000), T0)],
    )  # fmt: skip
    assert half.state.book is None  # 25000 would be counted 5000 twice
    planned = Flow("p", D(1000), T0, ("e0",))
    assert moving(State(), "1000", planned).state.book is None
    settled = step(State(), "20000", "0", now=T0 + timedelta(minutes=1), flows=[inside])
    assert settled.state.book == Book.opening(D(20000))
    assert settled.state.flows_applied == ("r1",)


def test_stale_equity_holds_or_halts_as_the_policy_says() -> None:
    state = step(State(), "100").state
    stale = [Observation("e0", D(50), T0)]
    later = T0 + timedelta(minutes=5)
    hold = evaluate(
        spec=SPEC, state=state, observations=stale, flows=[], reset=Reset(None), now=later
    )
    assert hold.unknown == ["e0"]
    assert hold.directive.level == 0  # a stale crash is not trusted
    assert not hold.directive.halt
    halt_spec = SPEC.model_copy(update={"on_unknown": UnknownEquity.HALT})
    halt = evaluate(
        spec=halt_spec, state=state, observations=stale, flows=[], reset=NO_RESET, now=later
    )
    assert halt.directive.halt


def test_daily_loss_limit_pauses_entries_without_a_level() -> None:
    spec = CircuitBreakerPolicySpec(daily_loss_limit=D("0.03"), weekly_loss_limit=D("0.10"))
    state = step(State(), "100", spec=spec).state
    result = step(state, "96", spec=spec, now=T0 + timedelta(hours=1))
    assert result.directive.level == 0
    assert result.directive.entries_paused
    assert "daily loss" in result.directive.reason
    next_day = step(result.state, "96", spec=spec, now=T0 + timedelta(days=1))
    assert not next_day.directive.entries_paused  # a new day opens at today's NAV


def test_period_rolls_at_utc_midnight_and_monday() -> None:
    opened = PeriodOpen.at(T0, D(1))
    rolled = opened.rolled(T0 + timedelta(days=5), D("0.9"))  # the next Monday
    assert rolled.day_nav == D("0.9")
    assert rolled.week_nav == D("0.9")
    assert rolled.losses(D("0.9")) == (0, 0)
