"""META-TREND: the vote, causal features, the confidence filter, barriers, the kill switch."""

from __future__ import annotations

import pickle
from decimal import Decimal as D
from typing import Any

import numpy as np
import pytest

from engine_runtime.backtest.data import MarketData
from engine_runtime.backtest.lookahead import check_causality
from engine_runtime.backtest.synthetic import regime_candles
from engine_runtime.strategies import meta_trend_features as mf
from engine_runtime.strategies.interface import (
    Category,
    GovernanceDirective,
    OrderEvent,
    OrderStatus,
    PerpPosition,
    SetStopLoss,
    Side,
    SubmitOrder,
)
from engine_runtime.strategies.meta_trend import MetaTrendKillSwitch, MetaTrendStrategy
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

pytestmark = pytest.mark.unit
L = Category.LINEAR
PARAMS = MetaTrendParams()


class ConstantModel:
    """Stands in for the booster (tested in tests/unit/train): counts what it is asked."""

    def __init__(self, probability: float) -> None:
        self.p, self.rows = probability, []  # type: list[list[float]]

    def probability(self, row: list[float]) -> float:
        self.rows.append(row)
        return self.p


def test_the_features_pass_the_backtesters_look_ahead_guard() -> None:
    candles = regime_candles(600, 3)
    strategy = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), use_filter=False)
    full = strategy.features("BTCUSDT", L, candles)
    check_causality(strategy, ("BTCUSDT", L), candles, full, cuts=5)  # raises on a peek
    assert set(mf.CANDLE_FEATURES) <= set(full.columns)
    warm = full.iloc[strategy.warmup_bars() :]
    assert not warm[list(mf.CANDLE_FEATURES)].isna().any().any()


def test_the_vote_fires_once_when_it_turns_to_a_direction() -> None:
    close = np.concatenate([np.linspace(100, 80, 60), np.linspace(80, 110, 60)])
    signal, strength = mf.primary_signal(close, PARAMS)
    longs = np.flatnonzero(signal > 0)
    assert len(longs) == 1
    assert 60 < longs[0] < 80
    assert strength[longs[0]] == pytest.approx(2 / 3)  # EMA and MACD agree; RSI not extreme
    assert (signal[61 : longs[0]] == 0).all()
    assert (signal[longs[0] + 1 :] <= 0).all()


def _signal_bar(h: Any, direction: float = 1.0) -> None:
    values = {f: 0.5 for f in mf.CANDLE_FEATURES}
    values.update(signal=direction, strength=2 / 3, atr=100.0, close=30_000.0)
    h.market.set("BTCUSDT", L, **values)


def test_only_a_confident_signal_trades_and_carries_its_confidence(harness: Any) -> None:
    timid = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), model=ConstantModel(0.55))  # type: ignore[arg-type]
    _signal_bar(harness)
    assert timid.on_bar(harness.ctx) == []
    sure_model = ConstantModel(0.7)
    sure = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), model=sure_model)  # type: ignore[arg-type]
    (order,) = sure.on_bar(harness.ctx)
    assert isinstance(order, SubmitOrder)
    assert order.side is Side.BUY
    assert order.confidence == D("0.7000")
    # risk 1% of 10000 over a 1-ATR stop (100): 1 BTC, capped at 50% of equity: 0.166 BTC
    assert order.qty == D("0.166")
    assert len(sure_model.rows[0]) == len(mf.MODEL_FEATURES)
    harness.directive = GovernanceDirective(entries_paused=True)
    assert (
        MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), model=sure_model).on_bar(  # type: ignore[arg-type]
            harness.ctx
        )
        == []
    )


def test_barriers_set_the_stop_and_close_the_trade(harness: Any) -> None:
    strategy = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), model=ConstantModel(0.9))  # type: ignore[arg-type]
    _signal_bar(harness, -1.0)
    (entry,) = strategy.on_bar(harness.ctx)
    fill = OrderEvent(entry.intent_id, "BTCUSDT", L, Side.SELL, OrderStatus.FILLED, D("0.1"),  # type: ignore[union-attr]
                      D("30000"), D("1.65"), 0)  # fmt: skip
    (stop,) = strategy.on_order_event(harness.ctx, fill)
    assert isinstance(stop, SetStopLoss)
    assert stop.trigger_price == D("30100")
    harness.portfolio.perps["BTCUSDT"] = PerpPosition(D("-0.1"), D("30000"), D("30100"))
    harness.market.set("BTCUSDT", L, close=29_850.0)  # not yet 2 ATR down
    assert strategy.on_bar(harness.ctx) == []
    harness.market.set("BTCUSDT", L, close=29_790.0)  # take-profit: 29800 crossed
    (exit_,) = strategy.on_bar(harness.ctx)
    assert isinstance(exit_, SubmitOrder)
    assert exit_.reduce_only
    assert exit_.side is Side.BUY
    assert exit_.reason == "take-profit"


def test_kill_switch_on_api_errors_counts_one_minute() -> None:
    k = MetaTrendKillSwitch(max_errors_per_minute=3, low_confidence_stretch=100)
    for t in (0, 30_000, 61_000, 90_000):  # never more than 3 within a minute
        k.venue_error(t)
    assert k.reason is None
    k.venue_error(100_000)
    k.venue_error(110_000)
    assert k.reason is not None
    assert "4 venue errors within a minute" in k.reason


def test_kill_switch_on_low_confidence_pauses_entries(harness: Any) -> None:
    params = MetaTrendParams(lowConfidenceStretch=3)
    model = ConstantModel(0.4)
    strategy = MetaTrendStrategy(params=params, symbols=("BTCUSDT",), model=model)  # type: ignore[arg-type]
    _signal_bar(harness)
    for _ in range(3):
        assert strategy.on_bar(harness.ctx) == []
    assert "3 signals in a row below confidenceThreshold" in (strategy.paused_reason() or "")
    assert strategy.state_summary() == {"BTCUSDT": "PAUSED"}
    model.p = 0.95
    assert strategy.on_bar(harness.ctx) == []  # latched: a confident signal does not trade
    asked = len(model.rows)
    strategy.on_bar(harness.ctx)
    assert len(model.rows) == asked  # and the model is not even asked


def test_the_checkpoint_keeps_neither_model_nor_kill_switch() -> None:
    model = ConstantModel(0.9)
    strategy = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), model=model)  # type: ignore[arg-type]
    strategy.kill.reason = "kill switch: test"
    restored = pickle.loads(pickle.dumps(strategy))  # noqa: S301 - our own object
    assert restored.model is None
    assert restored.paused_reason() is None
    assert restored.start_problem() == "model not attached after restore"
    restored.adopt(MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), model=model))  # type: ignore[arg-type]
    assert restored.model is model
    assert restored.start_problem() is None


def test_without_a_model_the_strategy_reports_why_and_never_trades(harness: Any) -> None:
    strategy = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",))
    assert "no model" in (strategy.start_problem() or "")
    _signal_bar(harness)
    assert strategy.on_bar(harness.ctx) == []


def test_the_unfiltered_baseline_trades_every_signal_in_the_backtester() -> None:
    from engine_runtime.backtest import run_backtest

    candles = regime_candles(1500, 5)
    data = MarketData({("BTCUSDT", L): candles})
    base = MetaTrendStrategy(params=PARAMS, symbols=("BTCUSDT",), use_filter=False)
    result = run_backtest(base, data)
    signals = int((mf.compute(candles, PARAMS)["signal"] != 0).sum())
    assert 0 < result.stats.trades <= signals
