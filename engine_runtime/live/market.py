"""The live market as strategies see it: rolling windows of confirmed candles with the
strategy's features, read through the `MarketView` protocol (nothing later than the bar).

numpy loads with the first candle frame: a strategy without features never builds one, and its
runtime never imports numpy. A strategy with ``array_features`` (every built-in one) gets its
window as an ``ArrayFrame`` and its runtime never imports pandas either (about 45 MiB resident);
any other strategy gets a pandas frame, as the interface says.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import Category, OrderBook, Strategy

if TYPE_CHECKING:
    import pandas as pd

    from engine_runtime.strategies.frame import ArrayFeatures, ArrayFrame

INTERVAL_MS = {"D": 86_400_000}
COLUMNS = ["open", "high", "low", "close", "volume"]


def interval_ms(interval: str) -> int:
    return INTERVAL_MS.get(interval) or int(interval) * 60_000


class CandleWindow:
    """The last `size` confirmed candles of one market, and the strategy's features over them."""

    def __init__(self, size: int) -> None:
        self.starts: deque[int] = deque(maxlen=size)
        self.rows: deque[tuple[float, float, float, float, float]] = deque(maxlen=size)
        self.closes: deque[Decimal] = deque(maxlen=size)
        self.features: dict[str, float] = {}

    @property
    def last_start(self) -> int | None:
        return self.starts[-1] if self.starts else None

    def add(self, start: int, o: str, h: str, low: str, c: str, v: str) -> bool:
        """Append a confirmed candle; False if it is not newer than the last one."""
        if self.starts and start <= self.starts[-1]:
            return False
        self.starts.append(start)
        self.rows.append((float(o), float(h), float(low), float(c), float(v)))
        self.closes.append(Decimal(c))
        return True

    def frame(self) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        index = pd.DatetimeIndex(np.array(self.starts, dtype="datetime64[ms]"), tz="UTC")
        return pd.DataFrame(np.array(self.rows, dtype=np.float64), index=index, columns=COLUMNS)

    def arrays(self) -> ArrayFrame:
        """The window as numpy columns (for a strategy with ``array_features``)."""
        import numpy as np

        from engine_runtime.strategies.frame import ArrayFrame

        rows = np.array(self.rows, dtype=np.float64).reshape(-1, len(COLUMNS))
        index = np.array(self.starts, dtype="datetime64[ms]")
        return ArrayFrame(dict(zip(COLUMNS, rows.T, strict=True)), index)

    def compute(self, strategy: Strategy, symbol: str, category: Category) -> None:
        values = dict(zip(COLUMNS, self.rows[-1], strict=True)) if self.rows else {}
        if type(strategy).features is BaseStrategy.features:  # no features: no frame to build
            self.features = values
            return
        if getattr(strategy, "array_features", False):
            arrays = cast("ArrayFeatures", strategy).features(symbol, category, self.arrays())
            values.update(arrays.last_row())
        else:
            features = strategy.features(symbol, category, self.frame())
            if len(features.columns) and len(features):
                last = features.iloc[-1]
                values.update({str(k): float(v) for k, v in last.items()})
        self.features = values


class LiveMarket:
    """Implements the strategies' MarketView over the candle windows."""

    def __init__(self, markets: Sequence[tuple[str, Category]], size: int, interval: str) -> None:
        self.windows = {key: CandleWindow(size) for key in markets}
        self.interval = interval
        self.width_ms = interval_ms(interval)
        self.bar_start = 0
        self.funding: dict[str, list[Decimal]] = {}
        self.predicted_funding: dict[str, Decimal] = {}
        self.signals: dict[str, float] = {}
        self.books: dict[tuple[str, Category], OrderBook] = {}
        """The latest book of each market the strategy asked the book of (version 2)."""
        self.event_ms: int | None = None
        """While a book, trade or timer is delivered: its time (else the bar's close)."""

    @property
    def now_ms(self) -> int:
        if self.event_ms is not None:
            return self.event_ms
        return self.bar_start + self.width_ms

    def feature(self, symbol: str, name: str, category: Category = Category.SPOT) -> float:
        window = self.windows.get((symbol, category))
        if window is None:
            return float("nan")
        return window.features.get(name, float("nan"))

    def price(self, symbol: str, category: Category = Category.SPOT) -> Decimal:
        window = self.windows.get((symbol, category)) or next(
            (w for (s, _), w in self.windows.items() if s == symbol), None
        )
        if window is None or not window.closes:
            raise KeyError(f"no price for {symbol}")
        return window.closes[-1]

    def book(self, symbol: str, category: Category = Category.SPOT) -> OrderBook | None:
        return self.books.get((symbol, category))

    def funding_rates(self, symbol: str, count: int) -> Sequence[Decimal]:
        return self.funding.get(symbol, [])[-count:]

    def signal(self, name: str) -> float | None:
        return self.signals.get(name)

    def complete_bar(self) -> int | None:
        """The start of the newest bar every market has confirmed, if newer than the last one
        dispatched."""
        starts = [w.last_start for w in self.windows.values()]
        if not starts or any(s is None for s in starts):
            return None
        common = min(s for s in starts if s is not None)
        return common if common > self.bar_start else None
