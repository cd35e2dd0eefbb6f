"""The backtest's circuit breaker runs the live rules: levels, the latched halt, loss limits,
the review stand-in, and a portfolio run under governance."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN
from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest
from bt_helpers import make_candles

from engine_runtime.backtest import BreakerPolicy, CircuitBreaker, MarketData, run_portfolio
from engine_runtime.backtest.governance import MS_PER_DAY
from engine_runtime.strategies import (
    Category,
    CoreHodlStrategy,
    FundingStrategy,
    TacticalStrategy,
    TrendStrategy,
)
from engine_runtime.strategies.interface import Intent, StrategyContext, SubmitOrder
from eternal_kernel.api.v1alpha1 import CircuitBreakerPolicySpec
from eternal_kernel.api.v1alpha1.strategy_params import CoreHodlParams

pytestmark = pytest.mark.unit


def _walk(breaker: CircuitBreaker, navs: list[float], step_ms: int = 3_600_000) -> list[int]:
    levels = []
    for k, nav in enumerate(navs):
        breaker.update(k * step_ms, nav)
        levels.append(breaker.level)
    return levels


def test_levels_follow_drawdown_by_the_live_rules_and_level_four_latches() -> None:
    """Up at once, down one step at a time (hysteresis and cool-down passed), halt latched:
    the operator's rules, not a backtest's own."""
    breaker = CircuitBreaker(BreakerPolicy(review_after_days=None))
    navs = [1.0, 0.89, 0.84, 0.79, 0.86, 0.95, 0.74, 1.0, 1.2]
    assert _walk(breaker, navs) == [0, 1, 2, 3, 2, 1, 4, 4, 4]
    assert breaker.halted
    d = breaker.update(99 * 3_600_000, 1.3)
    assert d.halt
    assert d.close_directional
    assert d.size_multiplier == 0


def test_stepping_down_waits_for_the_cool_down() -> None:
    breaker = CircuitBreaker(BreakerPolicy(review_after_days=None))
    minute = 60_000
    breaker.update(0, 1.0)
    breaker.update(minute, 0.79)
    assert breaker.level == 3
    breaker.update(2 * minute, 0.97)  # recovered, but only a minute at level 3
    assert breaker.level == 3
    breaker.update(61 * minute, 0.97)
    assert breaker.level == 2
    breaker.update(62 * minute, 0.97)
    assert breaker.level == 2


def test_directives_per_level_are_the_live_ones() -> None:
    no_loss_limits = CircuitBreakerPolicySpec(daily_loss_limit=1, weekly_loss_limit=1)
    breaker = CircuitBreaker(BreakerPolicy(spec=no_loss_limits, review_after_days=None))
    d1 = breaker.update(0, 1.0)
    assert (d1.level, d1.size_multiplier, d1.entries_paused) == (0, 1, False)
    d = breaker.update(1, 0.895)
    assert (d.level, d.size_multiplier, d.entries_paused) == (1, D("0.75"), False)
    assert d.stop_multiplier == D("1.5")  # level 1 widens stops, live and here
    d = breaker.update(2, 0.85)
    assert (d.level, d.size_multiplier, d.entries_paused) == (2, D("0.5"), True)
    assert d.stop_multiplier == 1
    d = breaker.update(3, 0.8)
    assert d.close_directional
    assert not d.halt


def test_the_policy_is_the_crd_spec() -> None:
    spec = CircuitBreakerPolicySpec(hysteresis=D("0.05"), cooldown_seconds=0)
    breaker = CircuitBreaker(BreakerPolicy(spec=spec, review_after_days=None))
    assert _walk(breaker, [1.0, 0.89, 0.94, 0.96]) == [0, 1, 1, 0]  # 6% is not 5% under 10%


def test_level_three_is_reset_by_the_review_stand_in_through_the_forced_reset() -> None:
    breaker = CircuitBreaker(BreakerPolicy(review_after_days=2))
    day = MS_PER_DAY
    breaker.update(0, 1.0)
    breaker.update(day, 0.79)
    assert breaker.level == 3
    breaker.update(2 * day, 0.79)
    assert breaker.level == 3
    breaker.update(3 * day, 0.79)
    assert breaker.level == 0
    assert breaker.hwm == D("0.79")
    assert "forced" in breaker.history[-1].reason


def test_daily_loss_limit_pauses_entries_for_the_day() -> None:
    spec = CircuitBreakerPolicySpec(daily_loss_limit=D("0.03"))
    breaker = CircuitBreaker(BreakerPolicy(spec=spec))
    hour = 3_600_000
    assert not breaker.update(0, 1.0).entries_paused
    d = breaker.update(hour, 0.965)
    assert d.entries_paused
    assert d.level == 0
    assert "daily loss limit" in d.reason
    assert not breaker.update(MS_PER_DAY + hour, 0.965).entries_paused  # a new day


def _crash_market(gap: bool) -> MarketData:
    up = np.linspace(100, 120, 150)
    crash = np.full(100, 50.0) if gap else np.linspace(120, 40, 100)  # one 58% gap, or a slide
    path = np.concatenate((up, crash, np.full(150, crash[-1])))
    candles = {
        ("BTCUSDT", Category.SPOT): make_candles(path * 500, spread=0.002, freq="1h"),
        ("ETHUSDT", Category.SPOT): make_candles(path * 25, spread=0.002, freq="1h"),
        ("SOLUSDT", Category.SPOT): make_candles(path, spread=0.002, freq="1h"),
    }
    return MarketData(candles)


def _four() -> dict[str, object]:
    return {
        "core-hodl": CoreHodlStrategy(),
        "trend": TrendStrategy(symbols=("BTCUSDT",)),
        "funding": FundingStrategy(symbols=("BTCUSDT",)),
        "tactical": TacticalStrategy(),
    }


def test_a_gap_crash_takes_the_portfolio_to_a_latched_halt_and_flat() -> None:
    data = _crash_market(gap=True)
    result = run_portfolio(data, strategies=_four(), initial_cash=D(100000))  # type: ignore[arg-type]
    levels = result.levels
    assert levels.max() == 4
    first_halt = int(np.argmax(levels == 4))
    assert (levels[first_halt:] == 4).all()
    assert result.breaker_events[-1].level == 4
    # after the halt: liquidated at the next open, then nothing trades and nothing is held
    halt_fills = [f for f in result.fills if f.reason == "halt"]
    assert halt_fills
    assert all(f.side.value == "Sell" for f in halt_fills)
    assert [f for f in result.fills if f.ts_ms > halt_fills[-1].ts_ms] == []
    for engine in result.engines.values():
        assert engine.spot == {}
        assert engine.perps == {}
    assert np.ptp(result.equity[first_halt + 2 :]) == pytest.approx(0.0, abs=1e-6)


def test_a_slide_stops_at_level_three_in_stables_and_beats_no_governance() -> None:
    data = _crash_market(gap=False)
    governed = run_portfolio(data, strategies=_four(), initial_cash=D(100000))  # type: ignore[arg-type]
    assert governed.levels.max() == 3
    directional = [f for f in governed.fills if f.reason == "governance"]
    assert directional  # CORE-HODL and TACTICAL sold into USDT
    core = governed.engines["core-hodl"]
    assert core.spot == {}
    assert core.state == {"engine": "DERISKED"}
    free = run_portfolio(data, strategies=_four(), initial_cash=D(100000), governance=False)  # type: ignore[arg-type]
    assert free.levels.max() == 0
    assert governed.equity[-1] > free.equity[-1] * 1.3  # governance kept capital out of the slide


def test_portfolio_weights_split_capital_and_contributions_buy_units() -> None:
    candles = make_candles(np.full(24 * 70, 100.0), spread=0.001, freq="1h")
    data = MarketData({("BTCUSDT", Category.SPOT): candles, ("ETHUSDT", Category.SPOT): candles})
    strategies = {"core-hodl": CoreHodlStrategy(), "tactical": TacticalStrategy()}
    weights = {"core-hodl": D("0.75"), "tactical": D("0.25")}
    result = run_portfolio(
        data,
        strategies=strategies,
        weights=weights,
        initial_cash=D(10000),
        monthly_contribution=D(1000),
    )
    tactical = result.engines["tactical"]
    assert tactical.equity[0] == pytest.approx(2500)
    # two month boundaries in 70 days from Jan 1st: +2,000 in total, split 3:1
    assert result.equity[-1] == pytest.approx(
        12000 - result.engines["core-hodl"].stats.fees.__float__(), rel=1e-3
    )
    assert tactical.equity[-1] == pytest.approx(3000)
    assert result.nav[-1] == pytest.approx(
        result.nav[0], rel=2e-3
    )  # flat prices: NAV per unit flat
    assert pd.Series(result.nav).max() < 1.001


class _AskingCoreHodl(CoreHodlStrategy):
    """CORE-HODL, keeping the quantity of every order it asked for."""

    asked: dict[str, D]

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        out = super().on_bar(ctx)
        self.asked = getattr(self, "asked", {})
        self.asked.update({i.intent_id: i.qty for i in out if isinstance(i, SubmitOrder) and i.qty})
        return out


def test_governed_core_hodl_buys_are_cut_by_the_multiplier_as_the_live_runner_cuts_them() -> None:
    """A 12% fall takes the portfolio to level 1 (x0.75); the month's contribution is then bought
    at three quarters of what CORE-HODL asks, rounded down to the instrument's step, as the
    live runner sends it. Before the fall its buys go out whole; its sells are never cut."""
    hours = 24 * 45  # past February 1st: one contribution
    prices = np.concatenate((np.full(24, 1.0), np.full(hours - 24, 0.88)))
    data = MarketData({
        ("BTCUSDT", Category.SPOT): make_candles(prices * 50000, spread=0.001, freq="1h"),
        ("ETHUSDT", Category.SPOT): make_candles(prices * 2500, spread=0.001, freq="1h"),
    })  # fmt: skip
    core = _AskingCoreHodl(params=CoreHodlParams(maker_only=False))
    result = run_portfolio(
        data, strategies={"core-hodl": core}, weights={"core-hodl": D(1)},
        initial_cash=D(10000), monthly_contribution=D(2000),
    )  # fmt: skip
    assert set(result.levels[30:].tolist()) == {1}
    step = {"BTCUSDT": D("0.000001"), "ETHUSDT": D("0.00001")}  # Bybit's spot steps
    fall_ms = int(data.index[24].timestamp() * 1000)
    buys = [f for f in result.fills if f.side.value == "Buy"]
    before = [f for f in buys if f.ts_ms <= fall_ms]
    after = [f for f in buys if f.ts_ms > fall_ms]
    assert before
    assert after
    for fill in before:
        assert fill.qty == float(core.asked[fill.intent_id])
    for fill in after:
        asked = core.asked[fill.intent_id]
        cut = (asked * D("0.75") / step[fill.symbol]).to_integral_value(ROUND_DOWN)
        assert fill.qty == float(cut * step[fill.symbol]) < float(asked)
