"""Triple-barrier labels: which barrier closes the trade, at what price, net of the fees."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from engine_runtime.backtest.venue import FeeModel
from engine_runtime.strategies.interface import Category
from engine_runtime.strategies.meta_trend_barriers import trade_return
from engine_runtime.train.labels import label_signals, round_trip_cost
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams

pytestmark = pytest.mark.unit
P = MetaTrendParams(takeProfitAtr=2, stopLossAtr=1, timeBarrierBars=3)


def bars(rows: list[tuple[float, float, float, float]]) -> tuple[np.ndarray, ...]:
    a = np.asarray(rows, dtype=np.float64)
    return a[:, 0], a[:, 1], a[:, 2], a[:, 3]


def test_take_profit_on_a_close_beyond_it_exits_at_the_next_open() -> None:
    # signal at bar 0; entry at bar 1's open 100; ATR 1: TP 102, SL 99
    o, h, lo, c = bars([(100, 100, 100, 100), (100, 101, 99.5, 101), (101, 103, 100.5, 102.5),
                        (102.8, 103, 102, 102.9)])  # fmt: skip
    r = trade_return(1, 0, o, h, lo, c, 1.0, P, venue_stop=True, cost=0.0)
    assert r == pytest.approx((102.8 - 100) / 100)


def test_a_venue_stop_fills_inside_the_bar_at_the_stop_or_the_gap_open() -> None:
    o, h, lo, c = bars([(100, 100, 100, 100), (100, 100.5, 98.5, 99.5), (99.5, 99.6, 99.4, 99.5)])
    assert trade_return(1, 0, o, h, lo, c, 1.0, P, venue_stop=True, cost=0.0) == pytest.approx(
        -0.01
    )
    # a short whose stop (101) is gapped through: filled at the open, 102
    o, h, lo, c = bars([(100, 100, 100, 100), (100, 100.5, 99.8, 100), (102, 102.5, 101.5, 102)])
    assert trade_return(-1, 0, o, h, lo, c, 1.0, P, venue_stop=True, cost=0.0) == pytest.approx(
        -0.02
    )


def test_the_time_barrier_exits_after_its_bars_and_fees_make_a_small_gain_a_loss() -> None:
    o, h, lo, c = bars([(100, 100, 100, 100)] + [(100, 100.3, 99.8, 100.1)] * 3 +
                       [(100.05, 100.1, 100, 100.05)])  # fmt: skip
    gross = trade_return(1, 0, o, h, lo, c, 1.0, P, venue_stop=True, cost=0.0)
    assert gross == pytest.approx(0.0005)  # exit at bar 4's open after 3 bars held
    cost = round_trip_cost(FeeModel(), Category.LINEAR)
    assert cost == pytest.approx(2 * (0.00055 + 0.0002))
    net = trade_return(1, 0, o, h, lo, c, 1.0, P, venue_stop=True, cost=cost)
    assert net == pytest.approx(0.0005 - 0.0015)
    assert net < 0


def test_a_trade_the_data_does_not_see_end_has_no_label() -> None:
    o, h, lo, c = bars([(100, 100, 100, 100), (100, 100.3, 99.8, 100.1)])
    assert trade_return(1, 0, o, h, lo, c, 1.0, P, venue_stop=True, cost=0.0) is None


def test_label_signals_labels_each_signal_by_its_net_return() -> None:
    index = pd.date_range("2025-01-01", periods=6, freq="1h", tz="UTC")
    candles = pd.DataFrame(
        {"open": [100, 100, 101, 102.8, 103, 103], "high": [100, 101, 103, 103, 103.5, 103.5],
         "low": [100, 99.5, 100.5, 102, 102.5, 102.5], "close": [100, 101, 102.5, 102.9, 103, 103],
         "volume": 1.0}, index=index,
    )  # fmt: skip
    features = pd.DataFrame({"signal": [1.0, 0, 0, 0, -1.0, 0], "atr": 1.0}, index=index)
    out = label_signals(candles, features, P, FeeModel())
    assert out.positions.tolist() == [0]  # the short at bar 4 runs past the data: no label
    assert out.labels.tolist() == [1]
    assert out.returns[0] == pytest.approx(0.028 - 0.0015)
