"""Bybit's public market-data streams as the strategies' types: the order book kept from
``orderbook.{depth}.{symbol}`` snapshots and deltas, and ``publicTrade.{symbol}`` trades.

The book follows Bybit's rules (V5 "Orderbook" topic):

* a ``snapshot`` replaces the whole local book (Bybit re-sends one after a problem on its side,
  and a snapshot with ``u`` = 1 after a service restart);
* a ``delta`` gives absolute sizes per price, size 0 deleting the level; its ``u`` is the
  previous message's ``u`` + 1. Any other ``u`` is a gap: the book is broken until the next
  snapshot (the caller resubscribes to get one), and a broken book is never shown to a
  strategy;
* a book whose best bid reaches its best ask is broken too (a missed delta).

One code path for the live runtime (``engine_runtime.live.feed``) and the backtester's recorded
data (``engine_runtime.backtest.book_data``): both read Bybit's messages through ``LocalBook``.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from engine_runtime.strategies.interface import BookLevel, OrderBook, PublicTrade
from eternal_kernel.model.enums import Category, OrderSide

DEPTHS: Mapping[Category, tuple[int, ...]] = {
    Category.SPOT: (1, 50, 200, 1000),
    Category.LINEAR: (1, 50, 200, 500, 1000),
}
"""The depths Bybit publishes per category (``orderbook.{depth}.{symbol}``)."""


def subscription_depth(category: Category, wanted: int) -> int:
    """The smallest published depth with at least ``wanted`` levels (the largest if none)."""
    depths = DEPTHS[category]
    return next((d for d in depths if d >= wanted), depths[-1])


def book_topic(category: Category, symbol: str, wanted: int) -> str:
    return f"orderbook.{subscription_depth(category, wanted)}.{symbol}"


class BookGap(Exception):
    """A delta did not follow the last update: the book must be rebuilt from a snapshot."""


class LocalBook:
    """One market's book from its stream; ``view(levels)`` is the strategies' ``OrderBook``."""

    __slots__ = ("_view", "asks", "bids", "category", "seq", "symbol", "ts_ms", "u", "valid")

    def __init__(self, symbol: str, category: Category) -> None:
        self.symbol = symbol
        self.category = category
        self.bids: dict[Decimal, Decimal] = {}
        self.asks: dict[Decimal, Decimal] = {}
        self.u = 0
        self.seq = 0
        self.ts_ms = 0
        self.valid = False
        self._view: tuple[int, OrderBook] | None = None

    def invalidate(self) -> None:
        """Forget the book (a disconnection, a gap): nothing is shown until the next snapshot."""
        self.valid = False
        self.bids.clear()
        self.asks.clear()
        self._view = None

    def apply(self, message: Mapping[str, Any]) -> bool:
        """Apply one stream message; True if the book is valid and changed.

        Raises ``BookGap`` (and invalidates the book) on a delta out of sequence or a crossed
        book; deltas before the first snapshot are ignored (False).
        """
        data = message["data"]
        u = int(data["u"])
        if message.get("type") == "snapshot":
            self.bids = _levels(data.get("b") or ())
            self.asks = _levels(data.get("a") or ())
        elif not self.valid:
            return False
        elif u != self.u + 1:
            expected = self.u + 1
            self.invalidate()
            raise BookGap(f"{self.symbol}: update {u} after {expected - 1}")
        else:
            _merge(self.bids, data.get("b") or ())
            _merge(self.asks, data.get("a") or ())
        self.u = u
        self.seq = int(data.get("seq") or 0)
        self.ts_ms = int(message.get("cts") or message.get("ts") or 0)
        self.valid = True
        self._view = None
        if self.bids and self.asks and max(self.bids) >= min(self.asks):
            self.invalidate()
            raise BookGap(f"{self.symbol}: crossed book at update {u}")
        return True

    def view(self, levels: int) -> OrderBook | None:
        """The top ``levels`` per side, best first (built once per change); None if broken."""
        if not self.valid:
            return None
        cached = self._view
        if cached is not None and cached[0] == levels:
            return cached[1]
        bids = heapq.nlargest(levels, self.bids.items())
        asks = heapq.nsmallest(levels, self.asks.items())
        book = OrderBook(
            self.symbol,
            self.category,
            tuple(BookLevel(p, q) for p, q in bids),
            tuple(BookLevel(p, q) for p, q in asks),
            self.u,
            self.seq,
            self.ts_ms,
        )
        self._view = (levels, book)
        return book


def _levels(rows: Iterable[list[str]]) -> dict[Decimal, Decimal]:
    out: dict[Decimal, Decimal] = {}
    for price, size in rows:
        qty = Decimal(size)
        if qty:
            out[Decimal(price)] = qty
    return out


def _merge(side: dict[Decimal, Decimal], rows: Iterable[list[str]]) -> None:
    for price, size in rows:
        qty = Decimal(size)
        if qty:
            side[Decimal(price)] = qty
        else:
            side.pop(Decimal(price), None)


def public_trades(message: Mapping[str, Any], category: Category) -> list[PublicTrade]:
    """The trades of one ``publicTrade`` message, oldest first."""
    return [
        PublicTrade(
            str(row["s"]),
            category,
            str(row.get("i", "")),
            OrderSide(row["S"]),
            Decimal(row["p"]),
            Decimal(row["v"]),
            int(row["T"]),
        )
        for row in message.get("data") or ()
    ]


def symbol_of_topic(topic: str) -> str:
    return topic.rpartition(".")[2]


__all__ = [
    "DEPTHS",
    "BookGap",
    "LocalBook",
    "book_topic",
    "public_trades",
    "subscription_depth",
    "symbol_of_topic",
]
