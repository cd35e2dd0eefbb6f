"""Triple-barrier labels: each primary signal labelled by the trade it would have made.

The trade and its exits are ``meta_trend_barriers``' (the strategy's own rules); the costs are
the backtester's ``FeeModel`` (a taker fill each way, plus slippage each way). A signal whose
trade the data does not see to its end gets no label (it is dropped, never guessed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine_runtime.backtest.venue import FeeModel
from engine_runtime.strategies.interface import Category
from engine_runtime.strategies.meta_trend_barriers import trade_return
from eternal_kernel.api.v1alpha1.strategy_params import MetaTrendParams


def round_trip_cost(fees: FeeModel, category: Category) -> float:
    """Fees and slippage of a market entry and a market exit, as a fraction of notional."""
    return 2 * (fees.rate(category, maker=False) + fees.slippage)


@dataclass(frozen=True)
class Labelled:
    """The labelled signals of one market: bar positions, directions, net returns, labels."""

    positions: np.ndarray
    directions: np.ndarray
    returns: np.ndarray
    labels: np.ndarray


def label_signals(
    candles: pd.DataFrame, features: pd.DataFrame, params: MetaTrendParams, fees: FeeModel
) -> Labelled:
    """Every signal bar of ``features`` (``meta_trend_features.compute``) with its trade's net
    return and its label (1: the trade made money after costs)."""
    category = Category(params.category.value)
    cost = round_trip_cost(fees, category)
    o, h, lo, c = (candles[k].to_numpy(np.float64) for k in ("open", "high", "low", "close"))
    signal = features["signal"].to_numpy(np.float64)
    atr = features["atr"].to_numpy(np.float64)
    positions, directions, returns = [], [], []
    for t in np.flatnonzero(signal != 0):
        d = int(signal[t])
        if (d < 0 and category is Category.SPOT) or not atr[t] > 0:
            continue
        r = trade_return(d, int(t), o, h, lo, c, float(atr[t]), params,
                         venue_stop=category is Category.LINEAR, cost=cost)  # fmt: skip
        if r is None:
            continue
        positions.append(int(t))
        directions.append(d)
        returns.append(r)
    ret = np.asarray(returns, dtype=np.float64)
    return Labelled(
        np.asarray(positions, dtype=np.int64),
        np.asarray(directions, dtype=np.int64),
        ret,
        (ret > 0).astype(np.int64),
    )
