"""Circuit breaker levels, the latched halt, loss limits, and a portfolio run under governance."""

from __future__ import annotations

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

pytestmark = pytest.mark.unit


def _walk(breaker: CircuitBreaker, navs: list[float], step_ms: int = 3_600_000) -> list[int]:
    levels = []
    for k, nav in enumerate(navs):
        breaker.update(k * step_ms, nav)
        levels.append(breaker.level)
    return levels


def test_levels_follow_drawdown_and_level_four_latches() -> None:
    breaker = CircuitBreaker(BreakerPolicy(rebase_after_days=None))
    navs = [1.0, 0.89, 0.84, 0.79, 0.86, 0.95, 0.74, 1.0, 1.2]
    assert _walk(breaker, navs) == [0, 1, 2, 3, 1, 0, 4, 4, 4]
    assert breaker.halted
    d = breaker.update(99 * 3_600_000, 1.3)
    assert d.halt
    assert d.close_directional
    assert d.size_multiplier == 0


def test_directives_per_level() -> None:
    breaker = CircuitBreaker(BreakerPolicy(rebase_after_days=None))
    d1 = breaker.update(0, 1.0)
    assert d1.level == 0
    assert d1.size_multiplier == 1
    assert not d1.entries_paused
    d = breaker.update(1, 0.895)
    assert (d.level, d.size_multiplier, d.entries_paused, d.stop_multiplier > 1) == (
        1,
        D("0.75"),
        False,
        True,
    )
    d = breaker.update(2, 0.85)
    assert (d.level, d.size_multiplier, d.entries_paused) == (2, D("0.5"), True)
    d = breaker.update(3, 0.8)
    assert d.close_directional
    assert not d.halt


def test_recovery_needs_the_band() -> None:
    breaker = CircuitBreaker(BreakerPolicy(recovery_band=0.02, rebase_after_days=None))
    assert _walk(breaker, [1.0, 0.89, 0.91, 0.93]) == [0, 1, 1, 0]  # 9% is not 2% under 10%


def test_level_three_is_rebased_after_the_review_period() -> None:
    breaker = CircuitBreaker(BreakerPolicy(rebase_after_days=2))
    day = MS_PER_DAY
    breaker.update(0, 1.0)
    breaker.update(day, 0.79)
    assert breaker.level == 3
    breaker.update(2 * day, 0.79)
    assert breaker.level == 3
    breaker.update(3 * day, 0.79)
    assert breaker.level == 0
    assert breaker.hwm == 0.79


def test_daily_loss_limit_pauses_entries_for_the_day() -> None:
    breaker = CircuitBreaker(BreakerPolicy(daily_loss_limit=0.03))
    hour = 3_600_000
    assert not breaker.update(0, 1.0).entries_paused
    d = breaker.update(hour, 0.965)
    assert d.entries_paused
    assert d.level == 0
    assert d.reason == "daily loss limit"
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
