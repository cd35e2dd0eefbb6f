"""TREND's rules: entries that must and must not trigger, exits, the trailing stop, sizing."""

from __future__ import annotations

from decimal import Decimal as D

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest import FeeModel, MarketData, run_backtest
from engine_runtime.sizing import position_size
from engine_runtime.strategies import (
    Category,
    GovernanceDirective,
    OrderType,
    SetStopLoss,
    Side,
    SubmitOrder,
    TrendState,
    TrendStrategy,
)
from engine_runtime.strategies.interface import PerpPosition
from eternal_kernel.api.v1alpha1.strategy_params import TrendParams

pytestmark = pytest.mark.unit
L = Category.LINEAR
FAST = TrendParams(sma_fast=5, sma_slow=20, adx_period=5, atr_period=5)


def _candles(close: np.ndarray, spread: float = 0.004) -> pd.DataFrame:
    index = pd.date_range("2024-01-01", periods=len(close), freq="1D", tz="UTC")
    open_ = np.concatenate(([close[0]], close[:-1]))
    return pd.DataFrame(
        {
            "open": open_,
            "high": np.maximum(open_, close) * (1 + spread),
            "low": np.minimum(open_, close) * (1 - spread),
            "close": close,
        },
        index=index,
    )


def _run(
    close: np.ndarray, params: TrendParams = FAST, **kw: object
) -> tuple[TrendStrategy, object, pd.DataFrame]:
    candles = _candles(close)
    strat = TrendStrategy(params=params, symbols=("BTCUSDT",))
    data = MarketData({("BTCUSDT", L): candles})
    return strat, run_backtest(strat, data, fees=FeeModel(slippage=0.0), **kw), candles  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("close", "fast", "slow", "adx", "expected"),
    [
        (110, 105, 100, 30, 1),
        (90, 95, 100, 30, -1),
        (110, 105, 100, 25, 0),  # ADX must exceed 25
        (110, 99, 100, 30, 0),  # SMA50 below SMA200
        (99, 105, 100, 30, 0),  # price below SMA200
    ],
)
def test_entry_rule(close: float, fast: float, slow: float, adx: float, expected: int) -> None:
    assert TrendStrategy().entry_direction(close, fast, slow, adx) == expected


def test_no_short_when_shorts_are_disabled() -> None:
    assert (
        TrendStrategy(params=TrendParams(allow_short=False)).entry_direction(90, 95, 100, 40) == 0
    )


def test_uptrend_enters_long_at_the_next_open() -> None:
    close = 100 * np.exp(np.linspace(0, 0.6, 80))
    strat, result, candles = _run(close)
    fills = result.fills  # type: ignore[attr-defined]
    assert fills
    assert fills[0].side is Side.BUY
    feats = strat.features("BTCUSDT", L, candles)
    signal = [
        i
        for i in range(len(close))
        if strat.entry_direction(
            close[i], feats["sma_fast"].iloc[i], feats["sma_slow"].iloc[i], feats["adx"].iloc[i]
        )
        == 1
    ]
    first_fill_bar = candles.index.get_loc(pd.Timestamp(fills[0].ts_ms, unit="ms", tz="UTC"))
    assert first_fill_bar == signal[0] + 1
    assert fills[0].price == pytest.approx(candles["open"].iloc[first_fill_bar])


def test_sideways_market_never_enters() -> None:
    t = np.arange(200)
    close = 100 + 0.5 * np.sin(t * 1.3)  # choppy: ADX stays low, SMA50 ~ SMA200
    _, result, _ = _run(close, TrendParams(sma_fast=10, sma_slow=40, adx_period=14, atr_period=14))
    assert result.fills == []  # type: ignore[attr-defined]


def test_downtrend_enters_short_and_exits_on_close_through_sma() -> None:
    down = 100 * np.exp(np.linspace(0, -0.5, 60))
    up = down[-1] * np.exp(np.linspace(0, 0.4, 40))[1:]
    strat, result, _ = _run(
        np.concatenate((down, up)),
        TrendParams(sma_fast=5, sma_slow=20, adx_period=5, atr_period=5, atr_stop_multiple=D(20)),
    )
    fills = result.fills  # type: ignore[attr-defined]
    assert fills[0].side is Side.SELL
    exits = [f for f in fills if f.reason == "close through SMA"]
    assert exits
    assert exits[0].side is Side.BUY
    assert strat.books["BTCUSDT"].state in (
        TrendState.SCANNING,
        TrendState.ENTERING,
        TrendState.IN_POSITION,
    )


def test_trailing_stop_fills_at_the_stop_or_the_gap_open() -> None:
    close = 100 * np.exp(np.linspace(0, 0.6, 60))
    crash = np.concatenate((close, [close[-1] * 0.7, close[-1] * 0.69]))
    _, result, candles = _run(crash)
    stops = [f for f in result.fills if f.reason == "stop"]  # type: ignore[attr-defined]
    assert len(stops) == 1
    assert stops[0].side is Side.SELL
    bar = candles.index.get_loc(pd.Timestamp(stops[0].ts_ms, unit="ms", tz="UTC"))
    # The crash bar opens at the previous close, so the stop fills at the stop price itself,
    # which lies inside that bar's range.
    assert candles["low"].iloc[bar] <= stops[0].price <= candles["open"].iloc[bar]


def test_entry_size_is_the_sizing_rule(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TrendStrategy(params=TrendParams(), symbols=("BTCUSDT",))
    harness.market.set(
        "BTCUSDT", L, close=50000.0, sma_fast=48000.0, sma_slow=45000.0, adx=30.0, atr=1000.0
    )
    intents = strat.on_bar(harness.ctx)
    assert len(intents) == 1
    assert isinstance(intents[0], SubmitOrder)
    order = intents[0]
    assert order.side is Side.BUY
    assert order.order_type is OrderType.MARKET
    assert order.category is L
    expected = position_size(
        equity=D(10000), entry_price=D(50000), stop_price=D(47000), max_position_notional=D(5000)
    )
    # 1% of 10,000 over a 3,000 stop = 0.0333 BTC (1,667 USDT): under the 50% cap
    assert order.qty == expected.qty == D("0.033")
    assert strat.books["BTCUSDT"].state is TrendState.ENTERING


def test_governance_pauses_entries_and_closes_positions(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TrendStrategy(symbols=("BTCUSDT",))
    harness.market.set(
        "BTCUSDT",
        L,
        close=50000.0,
        sma_fast=48000.0,
        sma_slow=45000.0,
        adx=30.0,
        atr=1000.0,
        high=50100.0,
        low=49000.0,
    )
    harness.directive = GovernanceDirective(level=2, size_multiplier=D("0.5"), entries_paused=True)
    assert strat.on_bar(harness.ctx) == []
    # in a position, level 3 closes it with a reduce-only market order
    book = strat.books["BTCUSDT"]
    book.state, book.direction, book.extreme = TrendState.IN_POSITION, 1, 50000.0
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D("0.1"), D(49000), D(46000))
    harness.directive = GovernanceDirective(level=3, close_directional=True, entries_paused=True)
    (exit_order,) = strat.on_bar(harness.ctx)
    assert isinstance(exit_order, SubmitOrder)
    assert exit_order.reduce_only
    assert exit_order.side is Side.SELL
    assert exit_order.qty == D("0.1")


def test_stop_only_ratchets_in_the_trade_direction(harness) -> None:  # type: ignore[no-untyped-def]
    strat = TrendStrategy(symbols=("BTCUSDT",))
    book = strat.books["BTCUSDT"]
    book.state, book.direction, book.extreme, book.stop = (
        TrendState.IN_POSITION,
        1,
        50000.0,
        D(47000),
    )
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D("0.1"), D(49000), D(47000))
    harness.market.set("BTCUSDT", L, close=51000.0, sma_slow=45000.0, atr=1000.0, high=52000.0)
    (stop,) = strat.on_bar(harness.ctx)
    assert isinstance(stop, SetStopLoss)
    assert stop.trigger_price == D(49000)
    harness.market.set("BTCUSDT", L, close=50500.0, high=50800.0, atr=1200.0)
    assert strat.on_bar(harness.ctx) == []  # a lower candidate never loosens the stop
