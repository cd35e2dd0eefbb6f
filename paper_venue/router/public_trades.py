"""Recent public trades per instrument, as /v5/market/recent-trade lists them.

Every trade the market publishes (the synthetic volume behind each price change, and the
venue's own fills) is kept, the newest last, up to Bybit's largest page (1000).
"""

from __future__ import annotations

import itertools
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from paper_venue.instruments import Category, Instrument

KEPT = 1000


@dataclass(frozen=True)
class PublicTrade:
    """One trade on the tape; `side` is the taker's."""

    exec_id: str
    price: Decimal
    qty: Decimal
    side: str
    time_ms: int
    seq: int


class RecentTrades:
    """The last `KEPT` trades of each (category, symbol)."""

    def __init__(self, next_seq: Callable[[], int], first_spot_id: int) -> None:
        self._next_seq = next_seq
        self._spot_ids = itertools.count(first_spot_id)
        self._tape: dict[tuple[Category, str], deque[PublicTrade]] = {}

    def record(self, inst: Instrument, price: Decimal, qty: Decimal, side: str, now: int) -> None:
        """A trade listener (`Venue.trade_listeners`)."""
        exec_id = str(next(self._spot_ids)) if inst.category is Category.SPOT else str(uuid.uuid4())
        tape = self._tape.setdefault((inst.category, inst.symbol), deque(maxlen=KEPT))
        tape.append(PublicTrade(exec_id, price, qty, side, now, self._next_seq()))

    def latest(self, category: Category, symbol: str, limit: int) -> list[PublicTrade]:
        """The newest `limit` trades, newest first."""
        tape = self._tape.get((category, symbol), deque())
        return list(itertools.islice(reversed(tape), limit))
