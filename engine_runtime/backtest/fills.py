"""The one rule deciding when resting limit orders fill along a price path.

A *path* is the sequence of prices the market is assumed to visit, joined by straight lines:

* a candle: ``bar_path`` gives open, then the extreme nearer the open, then the other extreme,
  then close (a tie goes to the low first);
* a tape: the trade prices in the order they printed.

A resting order fills, as maker and at its own limit price, when the path trades *through* it:
a buy when the price goes strictly below ``price * (1 - through)``, a sell when it goes strictly
above ``price * (1 + through)``. Touching the limit is not enough: the queue ahead of the order
at that level is assumed to absorb everything traded there. ``through`` (a fraction of the
price, 0 by default) is the queue assumption made stricter: with ``through=0.0005`` the price
must go 5 bp beyond the level before the order is reached. Orders already through at the start
of the path (a gap) fill at its first point, at their own price.

Fills happen in the order the path reaches them: along each leg, the level reached first
(highest buy on the way down, lowest sell on the way up), ties by time priority. After each fill
the caller may place new orders (a grid's counter-order); they rest from the level where the
fill happened and can fill on the rest of the same path, under the same rule. A PostOnly order
placed mid-path that is already marketable at the current level (a buy at or above it, a sell at
or below it) would take liquidity and is rejected by the caller, which asks ``marketable``.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar


class Resting(Protocol):
    """What the rule reads of a resting order."""

    @property
    def side(self) -> int: ...  # +1 buy, -1 sell

    @property
    def price(self) -> float: ...


OrderT = TypeVar("OrderT", bound=Resting)


@dataclass(frozen=True, slots=True)
class FillModel:
    """The queue assumption: how far beyond a limit the price must go before it fills."""

    through: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.through < 0.1:
            raise ValueError("through must be a fraction in [0, 0.1)")

    def trigger(self, side: int, price: float) -> float:
        """The level the price must pass strictly (downwards for a buy, upwards for a sell)."""
        return price * (1.0 - self.through) if side > 0 else price * (1.0 + self.through)


def bar_path(open_: float, high: float, low: float, close: float) -> tuple[float, ...]:
    """A candle's assumed path: open, the extreme nearer the open, the other extreme, close."""
    if high - open_ < open_ - low:
        return (open_, high, low, close)
    return (open_, low, high, close)


def marketable(side: int, price: float, level: float) -> bool:
    """A limit at ``price`` would trade at once against the market at ``level``."""
    return price >= level if side > 0 else price <= level


def first_reached(
    orders: Sequence[OrderT],
    start: float,
    end: float,
    model: FillModel,
    include: Callable[[OrderT], bool] | None = None,
) -> tuple[int, float] | None:
    """The index in ``orders`` of the order the leg ``start`` to ``end`` fills first, and the
    level at which it does (``start`` when already through there); ``None`` when none fills.
    ``include`` limits the candidates (e.g. to one market's orders)."""
    best = -1
    best_key = (2.0, 0.0)
    best_level = start
    span = end - start
    for k, order in enumerate(orders):
        if include is not None and not include(order):
            continue
        trig = model.trigger(order.side, order.price)
        if order.side > 0:
            if start < trig:
                frac, level = 0.0, start
            elif end < trig:
                frac, level = (trig - start) / span, trig
            else:
                continue
            key = (frac, -order.price)
        else:
            if start > trig:
                frac, level = 0.0, start
            elif end > trig:
                frac, level = (trig - start) / span, trig
            else:
                continue
            key = (frac, order.price)
        if key < best_key:
            best, best_key, best_level = k, key, level
    return None if best < 0 else (best, best_level)


def walk(
    path: Sequence[float],
    orders: MutableSequence[OrderT],
    model: FillModel,
    on_fill: Callable[[OrderT, float], None],
    include: Callable[[OrderT], bool] | None = None,
) -> None:
    """Fill ``orders`` (mutated: filled orders are removed) along ``path``, in the order the
    path reaches them. ``on_fill(order, level)`` runs after each removal and may append orders
    (or remove them); those take part in the rest of the walk from ``level`` on. Only orders
    ``include`` accepts (all by default) are considered."""
    if not orders or not path:
        return
    low, high = min(path), max(path)
    if not any(
        (o.side > 0 and low < model.trigger(1, o.price))
        or (o.side < 0 and high > model.trigger(-1, o.price))
        for o in orders
        if include is None or include(o)
    ):
        return  # the usual bar: nothing is reached (and so nothing can be added)
    cur = path[0]
    for end in path:
        while True:
            hit = first_reached(orders, cur, end, model, include) if orders else None
            if hit is None:
                break
            k, cur = hit
            order = orders.pop(k)
            on_fill(order, cur)
        cur = end
