"""Shared defaults and helpers of the concrete strategies."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, ClassVar

from .interface import (
    QUOTE,
    Category,
    FundingEvent,
    Intent,
    MarketKey,
    OrderBook,
    OrderEvent,
    PublicTrade,
    StrategyContext,
    TimerEvent,
    TimerSpec,
)

if TYPE_CHECKING:
    import pandas as pd

ZERO = Decimal(0)
DEFAULT_QTY_STEP = Decimal("0.000001")
MS_PER_DAY = 86_400_000


class BaseStrategy:
    """No-op callbacks and empty features; concrete strategies override what they use."""

    name: ClassVar[str] = ""
    api_version: ClassVar[int] = 1
    """The interface version the strategy was written against; one using the book, the tape or
    timers declares 2. It keys the checkpoint, so it stays put while the strategy does."""
    array_features: ClassVar[bool] = False
    """``features`` also takes an ``ArrayFrame`` and answers with one (``frame``): the live
    runtime then computes them without pandas. Otherwise it passes a pandas frame."""

    def markets(self) -> Sequence[MarketKey]:
        return ()

    def funding_symbols(self) -> Sequence[str]:
        return ()

    def warmup_bars(self) -> int:
        return 0

    def features(self, symbol: str, category: Category, candles: pd.DataFrame) -> pd.DataFrame:
        import pandas as pd  # only a strategy without features gets here; the live runtime skips it

        return pd.DataFrame(index=candles.index)

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        return ()

    def on_funding(self, ctx: StrategyContext, event: FundingEvent) -> Sequence[Intent]:
        return ()

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        return ()

    def state_summary(self) -> Mapping[str, str]:
        return {}

    def book_markets(self) -> Sequence[MarketKey]:
        return ()

    def book_depth(self) -> int:
        return 1

    def trade_markets(self) -> Sequence[MarketKey]:
        return ()

    def timers(self) -> Sequence[TimerSpec]:
        return ()

    def on_book(self, ctx: StrategyContext, book: OrderBook) -> Sequence[Intent]:
        return ()

    def on_trade(self, ctx: StrategyContext, trade: PublicTrade) -> Sequence[Intent]:
        return ()

    def on_timer(self, ctx: StrategyContext, event: TimerEvent) -> Sequence[Intent]:
        return ()


def symbol_of(asset: str) -> str:
    """The USDT market of a base coin: BTC -> BTCUSDT."""
    return f"{asset}{QUOTE}"


def floor_qty(qty: Decimal, step: Decimal = DEFAULT_QTY_STEP) -> Decimal:
    """Round a quantity down to the step (never order more than was sized)."""
    if qty <= 0:
        return ZERO
    return (qty / step).to_integral_value(rounding=ROUND_DOWN) * step


def to_price(value: float) -> Decimal:
    """A float price as a Decimal with 8 significant digits (the runtime rounds to the tick)."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"not a price: {value}")
    return Decimal(f"{value:.8g}")


def defined(*values: float) -> bool:
    """All indicator values are past their warm-up (not NaN)."""
    return not any(math.isnan(v) for v in values)
