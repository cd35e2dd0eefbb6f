"""The synthetic order book around the feed price, and taking liquidity from it.

Each side has `levels` price levels one `level_gap_ticks` apart, the best ones
`spread_ticks` apart around the feed price, holding a notional that grows with depth.
Liquidity taken from a level stays taken until the feed price moves, when the book is
rebuilt; so a burst of orders walks the book as it would on a real one.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from itertools import islice

from paper_venue.config import BookSettings
from paper_venue.decimals import ZERO, floor_to
from paper_venue.instruments import Category, Instrument

Level = tuple[Decimal, Decimal]


class SyntheticBook:
    """Liquidity per (category, symbol); `refresh` rebuilds it around a new price."""

    def __init__(self, settings: BookSettings) -> None:
        self.settings = settings
        self._mid: dict[tuple[Category, str], Decimal] = {}
        self._taken: dict[tuple[Category, str], dict[tuple[str, Decimal], Decimal]] = {}
        self._qty: dict[tuple[Category, str], list[Decimal]] = {}

    def refresh(self, inst: Instrument, mid: Decimal) -> None:
        key = (inst.category, inst.symbol)
        if self._mid.get(key) != mid:
            self._mid[key] = mid
            self._taken[key] = {}
            self._qty.pop(key, None)

    def _level_qty(self, inst: Instrument, mid: Decimal, depth: int) -> Decimal:
        s = self.settings
        notional = s.level_notional_usdt * (1 + s.level_growth * depth)
        return max(inst.qty_step, floor_to(notional / mid, inst.qty_step))

    def iter_levels(self, inst: Instrument, side: str) -> Iterator[Level]:
        """Available levels of one side ('a' asks, 'b' bids), best first, computed lazily."""
        key = (inst.category, inst.symbol)
        mid = self._mid[key]
        s = self.settings
        tick = inst.tick_size
        bid1 = floor_to(mid, tick)
        if bid1 <= 0:
            bid1 = tick
        ask1 = bid1 + tick * s.spread_ticks
        taken = self._taken[key]
        sizes = self._qty.get(key)
        if sizes is None:
            sizes = self._qty[key] = [self._level_qty(inst, mid, i) for i in range(s.levels)]
        step = tick * s.level_gap_ticks
        for i in range(s.levels):
            price = ask1 + step * i if side == "a" else bid1 - step * i
            if price <= 0:
                return
            qty = sizes[i] - taken.get((side, price), ZERO) if taken else sizes[i]
            if qty > 0:
                yield price, qty

    def side_levels(self, inst: Instrument, side: str, count: int | None = None) -> list[Level]:
        """The first `count` available levels of one side, best first."""
        return list(islice(self.iter_levels(inst, side), count or self.settings.levels))

    def best(self, inst: Instrument, side: str) -> Decimal:
        """Best available price of a side (past the last level if all is taken)."""
        for price, _ in self.iter_levels(inst, side):
            return price
        tick = inst.tick_size * self.settings.level_gap_ticks * self.settings.levels
        mid = self._mid[(inst.category, inst.symbol)]
        return mid + tick if side == "a" else max(inst.tick_size, mid - tick)

    def take(
        self,
        inst: Instrument,
        taker_side: str,
        qty: Decimal,
        limit: Decimal | None,
        quote_budget: Decimal | None = None,
    ) -> list[Level]:
        """Consume liquidity for a taker: fills as (price, qty), best price first.

        A buy takes asks at or below `limit`, a sell bids at or above it; with
        `quote_budget` a buy stops when that much quote coin is spent.
        """
        side = "a" if taker_side == "Buy" else "b"
        fills = self.preview(inst, taker_side, qty, limit, quote_budget)
        taken = self._taken[(inst.category, inst.symbol)]
        for price, q in fills:
            taken[(side, price)] = taken.get((side, price), ZERO) + q
        return fills

    def preview(
        self,
        inst: Instrument,
        taker_side: str,
        qty: Decimal,
        limit: Decimal | None,
        quote_budget: Decimal | None = None,
    ) -> list[Level]:
        """What `take` would fill, without taking it."""
        side = "a" if taker_side == "Buy" else "b"
        remaining = qty
        budget = quote_budget
        fills: list[Level] = []
        for price, avail in self.iter_levels(inst, side):
            if limit is not None and (price > limit if side == "a" else price < limit):
                break
            q = min(avail, remaining)
            if budget is not None:
                q = min(avail, floor_to(budget / price, inst.qty_step))
            if q <= 0:
                break
            fills.append((price, q))
            if budget is not None:
                budget -= q * price
                if budget < price * inst.qty_step:
                    break
            else:
                remaining -= q
                if remaining <= 0:
                    break
        return fills
