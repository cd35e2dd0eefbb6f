"""Shared defaults and helpers of the concrete strategies."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING, ClassVar

from .interface import (
    QUOTE,
    STRATEGY_API_VERSION,
    Category,
    FundingEvent,
    Intent,
    MarketKey,
    OrderEvent,
    StrategyContext,
)

if TYPE_CHECKING:
    import pandas as pd

ZERO = Decimal(0)
DEFAULT_QTY_STEP = Decimal("0.000001")
MS_PER_DAY = 86_400_000


class BaseStrategy:
    """No-op callbacks and empty features; concrete strategies override what they use."""

    name: ClassVar[str] = ""
    api_version: ClassVar[int] = STRATEGY_API_VERSION

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
