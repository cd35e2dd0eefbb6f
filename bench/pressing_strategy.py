"""The capital-safety bench's adversary: a strategy that tries to add exposure on every bar.

Each confirmed bar it asks for a spot market buy of BTC (a little USDT's worth) and a linear
long, whatever governance says, so that any order of it that reaches the venue after a halt is
one the runtime let through. The runtime's risk checks and exposure gate are what stand between
it and the venue; the bench counts what got past them.

    EE_STRATEGY_FACTORY=pressing_strategy:create   (with bench/ on PYTHONPATH)
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Category,
    Intent,
    MarketKey,
    OrderType,
    Side,
    StrategyContext,
    SubmitOrder,
    intent_id,
)

SPOT_USDT = Decimal("10")
LINEAR_QTY = Decimal("0.001")


class PressingStrategy(BaseStrategy):
    name = "pressing"

    def markets(self) -> Sequence[MarketKey]:
        return [("BTCUSDT", Category.SPOT), ("BTCUSDT", Category.LINEAR)]

    def warmup_bars(self) -> int:
        return 1

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        bar = ctx.market.now_ms
        return [
            SubmitOrder(intent_id(ctx.engine, bar, "press", "spot"), "BTCUSDT", Category.SPOT,
                        Side.BUY, OrderType.MARKET, notional=SPOT_USDT, reason="press"),
            SubmitOrder(intent_id(ctx.engine, bar, "press", "linear"), "BTCUSDT",
                        Category.LINEAR, Side.BUY, OrderType.MARKET, qty=LINEAR_QTY,
                        reason="press"),
        ]  # fmt: skip


def create(config: Any) -> PressingStrategy:
    return PressingStrategy()
