"""The book and the tape to a version-2 strategy: local books from the stream, coalesced delivery.

Stream messages are applied at once (cheap: a few dict updates); delivery to the strategy is
scheduled once (``schedule``: the event loop's ``call_soon`` live) and, when it runs, hands over
the trades received since, in order, then the *latest* book of each market that changed. A
strategy slower than the feed therefore sees fewer, fresher books, never a backlog of old ones.
A gap in a book's updates or a disconnection breaks the book: it disappears from
``ctx.market.book`` and no ``on_book`` is delivered until a new snapshot rebuilt it
(``resubscribe`` asks the stream for one).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from engine_runtime.adapters.market_data import (
    BookGap,
    LocalBook,
    book_topic,
    public_trades,
    symbol_of_topic,
)
from engine_runtime.strategies.interface import MarketKey, PublicTrade, Strategy
from eternal_kernel.model.enums import Category

from .runner import StrategyRunner

log = logging.getLogger(__name__)

MAX_PENDING_TRADES = 100_000
"""Trades held for one delivery at most; beyond it the oldest are dropped (and counted)."""


@dataclass(frozen=True, slots=True)
class Subscriptions:
    """What a strategy's book and tape need from the public streams, per category."""

    books: tuple[MarketKey, ...]
    trades: tuple[MarketKey, ...]
    depth: int

    @classmethod
    def of(cls, strategy: Strategy) -> Subscriptions:
        return cls(
            tuple(strategy.book_markets()),
            tuple(strategy.trade_markets()),
            max(1, strategy.book_depth()),
        )

    def categories(self) -> set[Category]:
        return {c for _, c in (*self.books, *self.trades)}

    def topics(self, category: Category) -> list[str]:
        out = [book_topic(category, s, self.depth) for s, c in self.books if c is category]
        out += [f"publicTrade.{s}" for s, c in self.trades if c is category]
        return out


class BookFeed:
    def __init__(
        self,
        runner: StrategyRunner,
        subscriptions: Subscriptions,
        *,
        schedule: Callable[[Callable[[], None]], Any],
        resubscribe: Callable[[Category, str], None],
    ) -> None:
        self.runner = runner
        self.subs = subscriptions
        self.schedule = schedule
        self.resubscribe = resubscribe
        self.books = {key: LocalBook(*key) for key in subscriptions.books}
        self.trade_keys = set(subscriptions.trades)
        self._dirty: dict[MarketKey, int] = {}  # market -> receive time of its oldest change
        self._trades: deque[tuple[PublicTrade, int]] = deque()
        self._scheduled = False
        self.applied = 0  # book messages applied
        self.delivered = 0  # on_book calls
        self.gaps = 0
        self.dropped_trades = 0

    # stream side ------------------------------------------------------------------------
    def on_book_message(
        self, category: Category, message: dict[str, Any], received_ns: int
    ) -> None:
        key = (symbol_of_topic(message["topic"]), category)
        book = self.books.get(key)
        if book is None:
            return
        try:
            changed = book.apply(message)
        except BookGap as gap:
            self.gaps += 1
            log.warning("order book broken, resubscribing: %s", gap)
            self.runner.market.books.pop(key, None)
            self._dirty.pop(key, None)
            self.resubscribe(category, message["topic"])
            return
        if changed:
            self.applied += 1
            self._dirty.setdefault(key, received_ns)
            self._wake()

    def on_trade_message(
        self, category: Category, message: dict[str, Any], received_ns: int
    ) -> None:
        for trade in public_trades(message, category):
            if (trade.symbol, category) in self.trade_keys:
                if len(self._trades) >= MAX_PENDING_TRADES:
                    self._trades.popleft()
                    self.dropped_trades += 1
                self._trades.append((trade, received_ns))
        if self._trades:
            self._wake()

    def invalidate(self, category: Category) -> None:
        """The category's stream dropped: its books are unknown until the next snapshots."""
        for key, book in self.books.items():
            if key[1] is category:
                book.invalidate()
                self.runner.market.books.pop(key, None)
                self._dirty.pop(key, None)

    def _wake(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            self.schedule(self.flush)

    # strategy side ----------------------------------------------------------------------
    def flush(self) -> None:
        """Deliver what arrived since the last flush: each trade, then each changed book once."""
        self._scheduled = False
        trades, self._trades = self._trades, deque()
        for trade, received_ns in trades:
            self.runner.on_trade(trade, received_ns)
        dirty, self._dirty = self._dirty, {}
        for key, received_ns in dirty.items():
            view = self.books[key].view(self.subs.depth)
            if view is None:
                continue
            self.runner.market.books[key] = view
            self.delivered += 1
            self.runner.on_book(view, received_ns)


def timer_due(period_ms: int, now_ms: int) -> int:
    """The next multiple of ``period_ms`` after ``now_ms`` (timers tick on the clock's grid)."""
    return (now_ms // period_ms + 1) * period_ms
