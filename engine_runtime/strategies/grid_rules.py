"""The grid's arithmetic, as plain functions: the ladder, level sizes, the instrument and crossing
checks, the exposure limits and the recentre triggers. ``grid`` holds the state and calls these.

Levels are numbered around the centre: level ``k`` is at ``centre + k * spacing``; buys sit at
``k = -1 .. -levels``, sells at ``k = 1 .. levels``, and level 0 (the centre) starts empty. A
filled buy at ``k`` is answered by a sell at ``k + 1``, a filled sell at ``k`` by a buy at
``k - 1``: the grid keeps one free level next to the price.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

from eternal_kernel.model.instruments import FilterError, Instrument

from .interface import Category, OrderBook, Side

ZERO = Decimal(0)


def default_instrument(symbol: str, category: Category) -> Instrument:
    """Rules for backtests that were given none: a 0.01 tick, a 0.00001 step and Bybit's 5 USDT
    minimum order value. The live runtime binds the venue's own (``bind_instruments``)."""
    return Instrument(
        symbol=symbol,
        category=category,
        base_coin=symbol.removesuffix("USDT"),
        quote_coin="USDT",
        tick_size=Decimal("0.01"),
        qty_step=Decimal("0.00001"),
        min_qty=Decimal("0.00001"),
        max_qty=Decimal("100000"),
        min_notional=Decimal("5"),
    )


def spacing_of(
    centre: Decimal, mode: str, spacing_pct: Decimal, atr: float, atr_multiple: Decimal
) -> Decimal | None:
    """The distance between levels: a share of the centre, or a multiple of the ATR (None while
    the ATR is not defined yet)."""
    if mode == "atr":
        if atr != atr or atr <= 0:  # NaN: warming up
            return None
        return Decimal(repr(atr)) * atr_multiple
    return centre * spacing_pct


def level_price(centre: Decimal, spacing: Decimal, level: int) -> Decimal:
    return centre + spacing * level


def ladder(centre: Decimal, spacing: Decimal, levels: int) -> list[tuple[int, Side, Decimal]]:
    """The opening orders of a ladder: (level, side, price), nearest levels first."""
    out: list[tuple[int, Side, Decimal]] = []
    for i in range(1, levels + 1):
        out.append((-i, Side.BUY, level_price(centre, spacing, -i)))
        out.append((i, Side.SELL, level_price(centre, spacing, i)))
    return out


def level_qty(equity: Decimal, budget_fraction: Decimal, levels: int, price: Decimal) -> Decimal:
    """Base quantity of one level: the ladder's budget split over its 2 x levels orders (before
    rounding to the step; the runtime cuts an entry by the governance size multiplier)."""
    if price <= 0 or equity <= 0:
        return ZERO
    return equity * budget_fraction / (2 * levels) / price


def validated(
    inst: Instrument, side: Side, price: Decimal, qty: Decimal
) -> tuple[Decimal, Decimal] | str:
    """The order rounded to the instrument's tick (buys down, sells up) and step (down), or why
    it cannot be sent (below the minimum quantity or order value)."""
    px = inst.round_price(price, side)
    q = inst.round_qty(qty)
    if px <= 0:
        return f"price {price} rounds to nothing"
    try:
        inst.check(q, px, px)
    except FilterError as error:
        return str(error)
    return px, q


def touch(book: OrderBook | None, last: Decimal) -> tuple[Decimal, Decimal]:
    """(best bid, best ask): the book's when there is one, else the last price for both."""
    if book is not None and book.best_bid is not None and book.best_ask is not None:
        return book.best_bid, book.best_ask
    return last, last


def crosses(side: Side, price: Decimal, bid: Decimal, ask: Decimal) -> bool:
    """A PostOnly order at ``price`` would take liquidity: a buy at or above the best ask, a
    sell at or below the best bid."""
    return price >= ask if side is Side.BUY else price <= bid


def adds_exposure(side: Side, position: Decimal) -> bool:
    """The order grows the position's size (a buy when flat or long, a sell when flat or short)."""
    return position >= 0 if side is Side.BUY else position <= 0


def within_limits(
    *,
    side: Side,
    qty: Decimal,
    price: Decimal,
    position: Decimal,
    working_same_side: Decimal,
    equity: Decimal,
    max_inventory: Decimal,
    max_exposure: Decimal,
) -> str | None:
    """None when an order may go, else which limit stops it. Orders that reduce the position
    always may; one that adds to it must keep the position on its side within ``max_inventory``
    and the position plus the working orders that add to it within ``max_exposure`` (both as
    fractions of equity)."""
    if not adds_exposure(side, position):
        return None
    if equity <= 0:
        return "no equity"
    held = abs(position) * price
    if held >= max_inventory * equity:
        return "inventory"
    if held + (working_same_side + qty) * price > max_exposure * equity:
        return "exposure"
    return None


@dataclass
class Trend:
    """What the recentre triggers need of the recent prices (one sample per bar), kept
    incrementally: the count of samples above and below the centre over the dominance window,
    and the window's low and high (monotonic queues) over the pump window."""

    dominance_ms: int
    pump_ms: int
    sides: deque[tuple[int, int]] = field(default_factory=deque)  # (ts, +1 above / -1 below)
    above: int = 0
    below: int = 0
    lows: deque[tuple[int, float]] = field(default_factory=deque)  # increasing prices
    highs: deque[tuple[int, float]] = field(default_factory=deque)  # decreasing prices

    def add(self, now_ms: int, price: float, centre: float) -> None:
        side = 1 if price > centre else -1 if price < centre else 0
        self.sides.append((now_ms, side))
        self._tally(side, 1)
        while self.sides and self.sides[0][0] <= now_ms - self.dominance_ms:
            self._tally(self.sides.popleft()[1], -1)
        while self.lows and self.lows[-1][1] >= price:
            self.lows.pop()
        self.lows.append((now_ms, price))
        while self.highs and self.highs[-1][1] <= price:
            self.highs.pop()
        self.highs.append((now_ms, price))
        oldest = now_ms - self.pump_ms
        while self.lows[0][0] < oldest:
            self.lows.popleft()
        while self.highs[0][0] < oldest:
            self.highs.popleft()

    def _tally(self, side: int, n: int) -> None:
        if side > 0:
            self.above += n
        elif side < 0:
            self.below += n

    def clear(self) -> None:
        self.sides.clear()
        self.lows.clear()
        self.highs.clear()
        self.above = self.below = 0

    def one_side_share(self) -> float:
        if not self.sides:
            return 0.0
        return max(self.above, self.below) / len(self.sides)

    def move(self, price: float) -> float:
        """The largest move of ``price`` from an extreme of the window (fraction)."""
        if not self.lows:
            return 0.0
        low, high = self.lows[0][1], self.highs[0][1]
        return max(price / low - 1.0 if low > 0 else 0.0, 1.0 - price / high if high > 0 else 0.0)


def recentre_reason(
    *,
    now_ms: int,
    price: Decimal,
    lowest_buy: Decimal,
    highest_sell: Decimal,
    built_ms: int,
    trend: Trend,
    margin: Decimal,
    max_age_ms: int,
    dominance: Decimal,
    pump_move: Decimal,
) -> str | None:
    """Why the ladder must be rebuilt around ``price`` now, or None. In order: the price left
    the ladder by ``margin`` beyond its outermost level; a pump or dump of ``pump_move`` within
    the trend's window; one side of the centre held ``dominance`` of a full window; the ladder
    is ``max_age_ms`` old."""
    if price > highest_sell * (1 + margin) or price < lowest_buy * (1 - margin):
        return "out-of-range"
    if trend.move(float(price)) >= float(pump_move):
        return "pump-dump"
    if now_ms - built_ms >= trend.dominance_ms and trend.one_side_share() >= float(dominance):
        return "one-side"
    if now_ms - built_ms >= max_age_ms:
        return "max-age"
    return None
