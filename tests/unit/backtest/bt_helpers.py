"""Constructed candles and a scripted strategy for backtester tests (imported by them)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    Category,
    Intent,
    MarketKey,
    OrderEvent,
    StrategyContext,
)


def make_candles(
    close: Sequence[float],
    *,
    opens: Sequence[float] | None = None,
    spread: float = 0.01,
    start: str = "2024-01-01",
    freq: str = "1h",
) -> pd.DataFrame:
    c = np.asarray(close, dtype=float)
    o = np.asarray(opens, dtype=float) if opens is not None else np.concatenate(([c[0]], c[:-1]))
    index = pd.date_range(start, periods=len(c), freq=freq, tz="UTC")
    return pd.DataFrame(
        {
            "open": o,
            "high": np.maximum(o, c) * (1 + spread),
            "low": np.minimum(o, c) * (1 - spread),
            "close": c,
        },
        index=index,
    )


def random_walk(n: int, seed: int, start: float = 100.0, vol: float = 0.01) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return start * np.exp(np.cumsum(rng.normal(0, vol, n)))


Script = Callable[[int, StrategyContext], Sequence[Intent]]


@dataclass
class ScriptStrategy(BaseStrategy):
    """Calls ``script(bar_index, ctx)`` on every bar; records what it saw."""

    keys: Sequence[MarketKey] = (("BTCUSDT", Category.SPOT),)
    script: Script | None = None
    funding: Sequence[str] = ()
    bar: int = -1
    events: list[OrderEvent] = field(default_factory=list)
    seen_close: list[float] = field(default_factory=list)
    funding_events: list[object] = field(default_factory=list)

    name = "script"

    def markets(self) -> Sequence[MarketKey]:
        return self.keys

    def funding_symbols(self) -> Sequence[str]:
        return self.funding

    def on_bar(self, ctx: StrategyContext) -> Sequence[Intent]:
        self.bar += 1
        key = self.keys[0]
        self.seen_close.append(ctx.market.feature(key[0], "close", key[1]))
        return self.script(self.bar, ctx) if self.script else ()

    def on_order_event(self, ctx: StrategyContext, event: OrderEvent) -> Sequence[Intent]:
        self.events.append(event)
        return ()

    def on_funding(self, ctx: StrategyContext, event: object) -> Sequence[Intent]:  # type: ignore[override]
        self.funding_events.append(event)
        return ()
