"""The signal path: a run of a *signal strategy* computed over whole columns instead of bar by bar.

A signal strategy (``SignalStrategy``) trades one perpetual by a target: after the close of bar
``i`` it wants a position of ``target[i] x unit`` (``target`` in -1, 0, 1), and reaches it with one
market order for the difference at bar ``i+1``'s open. Its orders follow from its features alone:
it ignores its fills (no ``on_order_event``), its portfolio and funding. ``signal_targets`` is its
``on_bar`` written once more over the whole column (``SmaCrossStrategy``: the sign of the last
cross); the strategy builds its orders' ids with the same ``signal_intent_id`` in both.

For a run of one such strategy (no governance, contributions, funding of its market or events
inside bars), ``run_signals`` computes the orders, fills, fees, cash, positions and per-bar equity
with array operations: the venue's own formulas (``SimAccount._perp``, ``SimAccount.equity``, the
engine's liquidation test) in the venue's order of operations, so the floats come out the same;
round trips are booked by the venue's own ``_track``. Where the venue would act otherwise (an
order its margin check refuses, a bar on which the position would be liquidated, a position that
is not exactly ``target x unit``) it gives up before touching the simulation and the event loop
runs instead. ``tests/unit/backtest/test_bt_signal_path.py`` checks it against the event loop
over random data and parameters: the same fills field by field, the same round trips, equity
and NAV equal to 1e-12 (the event loop's own fast path values skipped bars in another order).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import Category, Side

from .venue import EPS, Fill, RoundTrip

if TYPE_CHECKING:
    from .engine import Simulation

Array = npt.NDArray[np.float64]
LINEAR = Category.LINEAR


@runtime_checkable
class SignalStrategy(Protocol):
    """What the signal path asks of a strategy (besides the ``Strategy`` interface)."""

    def signal_targets(self, columns: Mapping[str, Array]) -> Array | None:
        """The wanted position after each bar's close, in units (-1, 0 or 1), from the market's
        columns (candles and features); ``None`` when the strategy's state is not the fresh one
        the column assumes (the event loop then runs)."""
        ...

    def signal_unit(self) -> Decimal:
        """The position of one unit; an order moving ``k`` units is for ``unit * k``."""
        ...

    def signal_intent_id(self, engine: str, now_ms: int, side: Side) -> str:
        """The id of the order decided at ``now_ms`` (the one ``on_bar`` gives it)."""
        ...

    def signal_finish(self, target: int) -> None:
        """Leave the strategy in the state ``on_bar`` would have left it in: last target."""
        ...


def run_signals(sim: Simulation) -> bool:
    """Run ``sim`` on the signal path; ``False`` (``sim`` untouched) when it does not apply."""
    if len(sim.runs) != 1 or sim.breaker is not None or sim.monthly_contribution > 0:
        return False
    if sim.events is not None:
        return False
    run = sim.runs[0]
    strategy = run.spec.strategy
    if not isinstance(strategy, SignalStrategy) or run.listens or strategy.funding_symbols():
        return False
    if type(strategy).on_funding is not BaseStrategy.on_funding:
        return False
    markets = list(strategy.markets())
    if len(markets) != 1 or markets[0][1] is not LINEAR or markets[0] not in sim.feed.columns:
        return False
    symbol = markets[0][0]
    if any(s == symbol for due in sim.funding_by_bar.values() for s, *_ in due):
        return False
    n = len(sim.index)
    acct = run.account
    if n < 2 or acct.perp_qty or acct.spot or acct.orders or acct.stops:
        return False
    arrays = sim.feed.columns[markets[0]].arrays
    targets = strategy.signal_targets(arrays)
    if targets is None:
        return False
    unit_dec = strategy.signal_unit()
    unit = float(unit_dec)
    if unit <= 1e-9 or len(targets) != n or not np.isin(targets, (-1.0, 0.0, 1.0)).all():
        return False
    book = _book(sim, targets, unit, (float(unit_dec), float(unit_dec * 2)), arrays)
    if book is None:
        return False
    _commit(sim, strategy, symbol, targets, book)
    return True


@dataclass(frozen=True, slots=True)
class _Book:
    """Per fill: its bar, decision bar, side, quantity, price, fee, realised PnL, position before
    and after, cash after (``cash[0]`` the start); per bar: entry, equity, position held."""

    bars: npt.NDArray[np.int64]
    decided: npt.NDArray[np.int64]
    sides: Array
    qty: Array
    price: Array
    fee: Array
    realized: Array
    old: Array
    new: Array
    cash: Array
    entry: Array
    equity: Array
    held: Array


def _book(
    sim: Simulation,
    targets: Array,
    unit: float,
    qtys: tuple[float, float],
    arrays: Mapping[str, Array],
) -> _Book | None:
    """The venue's fills of the target's orders and the equity per bar, or ``None`` where the
    venue would refuse an order or liquidate."""
    acct = sim.runs[0].account
    opens, closes = arrays["open"], arrays["close"]
    before = np.concatenate(([0.0], targets[:-1]))
    decided = np.flatnonzero(targets[:-1] != before[:-1])  # the last bar's order never executes
    bars = decided + 1
    moves = targets[decided] - before[decided]
    sides = np.where(moves > 0, 1.0, -1.0)
    qty = np.where(np.abs(moves) > 1, qtys[1], qtys[0])
    old = before[decided] * unit
    new = old + sides * qty  # SimAccount._perp: new = current + side * qty
    if not np.array_equal(new, targets[decided] * unit) or (np.abs(new[new != 0]) <= EPS).any():
        return None
    price = opens[bars] * (1 + sim.fees.slippage * sides)  # Simulation._submit
    fee = qty * price * sim.fees.rate(LINEAR, False)
    # every position here was opened by one fill (from flat, or the rest of a flip): its entry
    opened = np.concatenate(([0.0], np.where(new != 0, price, 0.0)[:-1]))
    entry = np.where(old != 0, opened, price)
    closing = old != 0  # with targets in -1, 0, 1 every fill on a position reduces or flips it
    realized = np.where(
        closing, np.minimum(np.abs(old), qty) * (price - entry) * np.where(old > 0, 1, -1), 0.0
    )
    cash = np.cumsum(np.concatenate(([acct.cash], realized - fee)))  # sequential, like +=
    # the margin check of every fill that opens or flips a position, marking at the fill price
    grows = (np.abs(new) > np.abs(old) + EPS) | (new * old < 0)
    margin_equity = (cash[:-1] - fee) + np.where(closing, old * (price - entry), 0.0)
    if (grows & (np.abs(new) * price / acct.leverage > margin_equity + 1e-9)).any():
        return None
    # per bar: the state after the last fill at or before it, valued at the close
    k = np.cumsum(np.bincount(bars, minlength=len(targets)))  # fills so far (bars ascend)
    held = np.concatenate(([0.0], new))[k]
    bar_entry = np.concatenate(([0.0], np.where(new != 0, price, 0.0)))[k]
    bar_cash = cash[k]
    equity = np.where(held != 0, bar_cash + held * (closes - bar_entry), bar_cash)
    liquidated = (held != 0) & (equity <= np.abs(held) * closes * sim.fees.maintenance_margin)
    if liquidated.any():
        return None
    return _Book(bars, decided, sides, qty, price, fee, realized, old, new, cash, bar_entry,
                 equity, held)  # fmt: skip


def _commit(
    sim: Simulation, strategy: SignalStrategy, symbol: str, targets: Array, book: _Book
) -> None:
    """Write the book into the simulation as the event loop would have left it. The ``Fill``
    and ``RoundTrip`` objects (and their order ids) are built when the account's ``fills``,
    ``trips`` or ``open_trips`` are first read (``SimAccount.defer``): a caller that wants the
    final equity and the order count never pays for 2 x 28,000 objects."""
    run = sim.runs[0]
    acct = run.account
    engine = run.spec.name
    open_ms, close_ms = sim.open_ms, sim.close_ms
    fills, trips, open_trips = acct.fills, acct.trips, acct.open_trips

    def build() -> None:
        enabled = gc.isenabled()
        gc.disable()  # as during the run: many small objects, large columns
        try:
            fills.extend(_fills(strategy, engine, symbol, book, open_ms, close_ms))
            closed, still_open = _trips(symbol, book, open_ms)
            trips.extend(closed)
            if still_open is not None:
                open_trips[(symbol, LINEAR)] = still_open
            acct.fills, acct.trips, acct.open_trips = fills, trips, open_trips
        finally:
            if enabled:
                gc.enable()

    acct.defer(len(fills) + len(book.bars), build)
    if len(book.fee):
        acct.fees_paid += float(np.cumsum(book.fee)[-1])  # the same sequential sum as +=
        acct.cash = float(book.cash[-1])
        last = float(book.new[-1])
        if last != 0:
            acct.perp_qty[symbol] = last
            acct.perp_entry[symbol] = float(book.entry[-1])
    run.equity[:] = book.equity
    run.exposed[:] = book.held != 0
    sim.nav[:] = (0.0 + book.equity) / sim.units
    sim.market.i = sim.i = len(targets) - 1
    strategy.signal_finish(int(targets[-1]))


def _fills(
    strategy: SignalStrategy,
    engine: str,
    symbol: str,
    book: _Book,
    open_ms: list[int],
    close_ms: list[int],
) -> list[Fill]:
    """The fills ``SimAccount._perp`` records for the book's orders, ids from the strategy."""
    intent = strategy.signal_intent_id
    buy, sell = Side.BUY, Side.SELL
    return [
        Fill(open_ms[bar], intent(engine, close_ms[decided], buy if sign > 0 else sell), symbol,
             LINEAR, buy if sign > 0 else sell, qty, price, fee, False, "", realized)
        for bar, decided, sign, qty, price, fee, realized in zip(
            book.bars.tolist(), book.decided.tolist(), book.sides.tolist(), book.qty.tolist(),
            book.price.tolist(), book.fee.tolist(), book.realized.tolist(), strict=True,
        )
    ]  # fmt: skip


def _trips(
    symbol: str, book: _Book, open_ms: list[int]
) -> tuple[list[RoundTrip], RoundTrip | None]:
    """The round trips ``SimAccount._track`` books for these fills, in its arithmetic. Every
    position is opened by one fill (from flat, or the rest of a flip, which takes its share of
    the fill's cash flow and fee) and closed by the next (to flat, or a flip)."""
    qty, price, fee, old, new = book.qty, book.price, book.fee, book.old, book.new
    buy = book.sides > 0
    signed = qty * price
    flow = np.where(buy, -signed, signed)
    flip = old * new < 0
    share = np.abs(new) / qty
    correction = signed * share
    from_flat = old == 0
    # the trip each fill opens (where new != 0)
    open_cost = np.where(from_flat, flow, np.where(buy, -correction, correction))
    open_fees = np.where(from_flat, fee, fee * share)
    open_qty = np.where(from_flat, qty, np.abs(new))
    open_value = np.where(from_flat, signed, np.abs(new) * price)
    # the trip each fill closes (where old != 0): opened by the fill before
    prev = np.maximum(np.arange(len(qty)) - 1, 0)
    cost = open_cost[prev] + flow
    cost = np.where(flip, cost + np.where(buy, correction, -correction), cost)
    fees = open_fees[prev] + fee
    fees = np.where(flip, fees - fee * share, fees)
    max_qty = np.maximum(np.abs(new[prev]), np.abs(new))
    exit_qty = 0.0 + np.where(flip, np.abs(old), qty)
    exit_value = 0.0 + np.where(flip, np.abs(old) * price, qty * price)
    bars = book.bars.tolist()
    direction = np.where(new > 0, 1, -1).tolist()
    columns = (cost, fees, max_qty, exit_qty, exit_value, open_qty, open_value)
    cost_l, fees_l, max_l, xq_l, xv_l, oq_l, ov_l = (c.tolist() for c in columns)
    closed = [
        RoundTrip(symbol, LINEAR, direction[k - 1], open_ms[bars[k - 1]], open_ms[bars[k]],
                  max_l[k], cost_l[k], fees_l[k], 0.0, oq_l[k - 1], ov_l[k - 1], xq_l[k], xv_l[k])
        for k in np.flatnonzero(~from_flat).tolist()
    ]  # fmt: skip
    still_open = None
    if len(qty) and new[-1] != 0:
        k = len(qty) - 1
        oc, of = open_cost.tolist(), open_fees.tolist()
        still_open = RoundTrip(symbol, LINEAR, direction[k], open_ms[bars[k]], 0,
                               abs(float(new[k])), oc[k], of[k], 0.0, oq_l[k], ov_l[k])  # fmt: skip
    return closed, still_open
