"""SMA crossover: the textbook example strategy, used to compare the backtester with others.

Not one of the Eternal Engine's four: it is not in the registry. It holds a fixed quantity long
after the fast SMA crosses above the slow one and short after it crosses below, flipping with one
market order (the behaviour of backtesting.py's ``SmaCross`` with ``exclusive_orders=True``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from engine_runtime import indicators as ta

from .base import BaseStrategy
from .frame import Frame, features_like
from .interface import (
    Category,
    Intent,
    MarketKey,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)


@dataclass
class SmaCrossStrategy(BaseStrategy):
    symbol: str = "BTCUSDT"
    fast: int = 10
    slow: int = 20
    qty: Decimal = Decimal(1)
    category: Category = Category.LINEAR
    target: int = 0

    name = "sma-cross"
    array_features = True  # features without pandas (``frame``)

    def markets(self) -> Sequence[MarketKey]:
        return [(self.symbol, self.category)]

    def warmup_bars(self) -> int:
        return self.slow + 1

    def features(self, symbol: str, category: Category, candles: Frame) -> Frame:
        fast, slow = ta.sma(candles["close"], self.fast), ta.sma(candles["close"], self.slow)
        signal = ta.crossed_above(fast, slow).astype(float) - ta.crossed_below(fast, slow)
        return features_like(candles, {"cross": signal, "wake": signal})

    def is_idle(self) -> bool:
        return True  # it acts only on crossing bars, which are its wake bars

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        cross = ctx.market.feature(self.symbol, "cross", self.category)
        if cross == 0 or cross != cross:
            return ()
        want = 1 if cross > 0 else -1
        if want == self.target:
            return ()
        qty = self.qty * (2 if self.target else 1)
        self.target = want
        side = Side.BUY if want > 0 else Side.SELL
        iid = self.signal_intent_id(ctx.engine, ctx.market.now_ms, side)
        return [SubmitOrder(iid, self.symbol, self.category, side, OrderType.MARKET, qty=qty)]

    # --- the backtester's signal path (engine_runtime.backtest.signals): on_bar over columns ---

    def signal_targets(
        self, columns: Mapping[str, npt.NDArray[np.float64]]
    ) -> npt.NDArray[np.float64] | None:
        """The target ``on_bar`` holds after each bar: the sign of the last cross (0 before)."""
        if self.target:
            return None  # not a fresh strategy: on_bar's first flip would differ
        cross = np.nan_to_num(columns["cross"], nan=0.0)
        want = np.sign(cross)
        last = np.maximum.accumulate(np.where(want != 0, np.arange(len(want)), -1))
        return np.where(last >= 0, want[np.maximum(last, 0)], 0.0)

    def signal_unit(self) -> Decimal:
        return self.qty

    def signal_intent_id(self, engine: str, now_ms: int, side: Side) -> str:
        return intent_id(engine, now_ms, self.symbol, "flip", side)

    def signal_finish(self, target: int) -> None:
        self.target = target
