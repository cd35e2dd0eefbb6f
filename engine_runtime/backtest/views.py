"""The backtester's implementations of the strategy views: cursors over precomputed arrays.

A cursor only ever reads index ``i`` (the bar just closed) and funding or signals dated at or
before the decision time, so a strategy cannot see the future through them.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal

import numpy as np
import numpy.typing as npt

from engine_runtime.strategies.interface import (
    Category,
    MarketKey,
    OpenOrder,
    OrderBook,
    PerpPosition,
    Side,
)

from .venue import SimAccount


def dec(value: float, places: int = 8) -> Decimal:
    """A float figure as a Decimal with at most ``places`` decimals (the float-to-Decimal boundary
    of the package: the float is rounded, then its shortest repr is taken exactly)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite figure: {value}")
    return Decimal(repr(round(float(value), places)))


def dec_floor(value: float, places: int = 8) -> Decimal:
    """``dec`` rounded down: for a balance a strategy may spend, which must never read higher
    than the account holds (an all-in order sized from it would be refused)."""
    if not math.isfinite(value):
        raise ValueError(f"not a finite figure: {value}")
    return Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)


class Columns(dict[str, list[float]]):
    """One market's columns: numpy arrays, each turned into a Python list (fast scalar reads in
    the bar loop) the first time the loop reads it; columns never read are never converted."""

    def __init__(self, arrays: dict[str, npt.NDArray[np.float64]]) -> None:
        super().__init__()
        self.arrays = arrays

    def __missing__(self, name: str) -> list[float]:
        values: list[float] = self.arrays[name].tolist()
        self[name] = values
        return values


class Feed:
    """Per-market columns, and the close time of every bar."""

    def __init__(self, columns: dict[MarketKey, Columns], close_ms: list[int]) -> None:
        self.columns = columns
        self.close_ms = close_ms


class MarketCursor:
    """``MarketView`` at bar ``i``."""

    def __init__(
        self,
        feed: Feed,
        funding: dict[str, tuple[list[int], list[float]]],
        signals: dict[str, tuple[list[int], list[float]]],
    ) -> None:
        self.i = 0
        self._cols = feed.columns
        self._close_ms = feed.close_ms
        self._funding = funding
        self._signals = signals
        self.books: dict[tuple[str, Category], OrderBook] = {}
        """The latest book of each market the strategy asked the book of (version 2)."""

    @property
    def now_ms(self) -> int:
        return self._close_ms[self.i]

    def feature(self, symbol: str, name: str, category: Category = Category.SPOT) -> float:
        return self._cols[(symbol, category)][name][self.i]

    def price(self, symbol: str, category: Category = Category.SPOT) -> Decimal:
        return dec(self._cols[(symbol, category)]["close"][self.i])

    def book(self, symbol: str, category: Category = Category.SPOT) -> OrderBook | None:
        return self.books.get((symbol, category))

    def funding_rates(self, symbol: str, count: int) -> Sequence[Decimal]:
        series = self._funding.get(symbol)
        if series is None or count <= 0:
            return []
        times, rates = series
        end = bisect_right(times, self.now_ms)
        return [dec(r, 10) for r in rates[max(0, end - count) : end]]

    def signal(self, name: str) -> float | None:
        series = self._signals.get(name)
        if series is None:
            return None
        times, values = series
        end = bisect_right(times, self.now_ms)
        if end == 0:
            return None
        value = values[end - 1]
        return None if np.isnan(value) else value


class AccountView:
    """``PortfolioView`` of a ``SimAccount`` at the current marks."""

    def __init__(
        self, account: SimAccount, spot_px: dict[str, float], perp_px: dict[str, float]
    ) -> None:
        self.account = account
        self.spot_px = spot_px
        self.perp_px = perp_px

    @property
    def equity(self) -> Decimal:
        return dec(self.account.equity(self.spot_px, self.perp_px))

    @property
    def cash(self) -> Decimal:
        return dec_floor(self.account.cash)

    def spot_qty(self, symbol: str) -> Decimal:
        return dec(self.account.spot.get(symbol, 0.0), 12)

    def position(self, symbol: str) -> PerpPosition | None:
        qty = self.account.perp_qty.get(symbol)
        if not qty:
            return None
        stop = self.account.stops.get(symbol)
        return PerpPosition(
            dec(qty, 12), dec(self.account.perp_entry[symbol]), None if stop is None else dec(stop)
        )

    def open_orders(self) -> Sequence[OpenOrder]:
        return [
            OpenOrder(
                o.intent_id,
                o.symbol,
                o.category,
                Side.BUY if o.side > 0 else Side.SELL,
                dec(o.qty, 12),
                dec(o.price) if o.price else None,
            )
            for o in self.account.orders
        ]
