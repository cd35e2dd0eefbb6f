"""Books, trades and timers inside the bars: the backtest side of strategy interface version 2.

During bar ``i`` the events dated in ``[open_i, close_i)`` (``book_data``) and the timers due
then are delivered in time order (at one time: books, then trades, then timers). The strategy
sees the market as of the event: ``now_ms`` is the event's time, ``book()`` the latest book,
and features and prices are those of the last *closed* bar (``i - 1``); events before the first
bar closed are not delivered. Execution, one event later (an order reaches the venue after the
decision, never at the price that decided it):

* the intents of an event execute when the next event of the run arrives, against the book of
  that moment: a market order at the touch (buy at the best ask, sell at the best bid); a
  limit order that would cross it fills there as taker, or is rejected if PostOnly; any other
  limit order rests; cancels take effect;
* a resting order fills by the shared rule of ``fills`` along the tape: each trade extends the
  market's path from the previous trade price, and an order the path trades *through* fills as
  maker at its own price (``FillModel.through`` is the queue assumption);
* the strategy's answers to fills wait for the next event like any other intents.

Timers tick on the simulated clock at multiples of their period (one due at the time of an
event fires after it). A strategy whose ``is_idle()`` says it has nothing working (the fast
path's hook) gets no timers while idle: nothing to time out, and a year of 1-second timers would
otherwise dominate a run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine_runtime.strategies.interface import (
    CancelOrder,
    Category,
    Intent,
    OrderBook,
    OrderType,
    PublicTrade,
    SetStopLoss,
    SubmitOrder,
    TimerEvent,
    TransferProceeds,
)

from .book_data import Event
from .fills import marketable, walk
from .venue import Outcome, SimOrder

if TYPE_CHECKING:
    from .engine import Simulation
    from .runs import EngineRun

SPOT, LINEAR = Category.SPOT, Category.LINEAR
_TAKES_LIQUIDITY = "post-only order would take liquidity"


def _first_at_or_after(ts: int, period: int) -> int:
    return -(-ts // period) * period


def wants_events(strategy: object) -> bool:
    """A version-2 strategy that reads the book, the tape or timers."""
    return bool(
        getattr(strategy, "book_markets", lambda: ())()
        or getattr(strategy, "trade_markets", lambda: ())()
        or getattr(strategy, "timers", lambda: ())()
    )


class EventFeed:
    """Delivers ``events`` (time-ordered) to the event-driven runs of ``sim``, bar by bar."""

    def __init__(self, sim: Simulation, events: Sequence[Event], runs: Sequence[EngineRun]):
        self.sim = sim
        self.events = events
        self.runs = list(runs)
        self.pos = 0
        self.pending: dict[int, list[Intent]] = {id(r): [] for r in self.runs}
        self.books: dict[tuple[str, Category], OrderBook] = {}
        self.last_trade: dict[tuple[str, Category], float] = {}
        self.timers = {id(r): tuple(r.spec.strategy.timers()) for r in self.runs}
        first = sim.close_ms[0] if sim.close_ms else 0  # nothing before the first bar closed
        self.due = {
            id(r): [_first_at_or_after(first, t.period_ms) for t in self.timers[id(r)]]
            for r in self.runs
        }
        """The next due time of each run's timers."""
        self.wanted = {
            id(r): (set(r.spec.strategy.book_markets()), set(r.spec.strategy.trade_markets()))
            for r in self.runs
        }
        self.delivered = 0

    def on_tape(self, run: EngineRun) -> bool:
        """The run's resting orders fill along the tape (there is one), not the bar's path."""
        return bool(self.events) and any(r is run for r in self.runs)

    def bar(self, i: int) -> None:
        """Deliver everything dated inside bar ``i``."""
        sim = self.sim
        hi = sim.close_ms[i]
        events = self.events
        market = sim.market
        if i == 0:  # nothing closed yet: the strategies have no bar to read
            while self.pos < len(events) and events[self.pos][0] < hi:
                self._observe(events[self.pos][2])
                self.pos += 1
            self._skip_timers(hi)
            return
        market.i = i - 1
        try:
            while self.pos < len(events) and events[self.pos][0] < hi:
                ts, _, what = events[self.pos]
                self._timers_before(ts)
                self.pos += 1
                self._event(ts, what)
            self._timers_before(hi)
        finally:
            market.event_ms = None
            market.i = i

    def _idle(self, run: EngineRun) -> bool:
        idle = getattr(run.spec.strategy, "is_idle", None)
        return bool(callable(idle) and idle() and not self.pending[id(run)])

    def _skip_timers(self, end: int) -> None:
        for run in self.runs:
            due = self.due[id(run)]
            for k, spec in enumerate(self.timers[id(run)]):
                due[k] = max(due[k], _first_at_or_after(end, spec.period_ms))

    def _timers_before(self, end: int) -> None:
        """Fire, in time order, the timers due before ``end``; an idle run's are skipped."""
        while True:
            best: tuple[int, EngineRun, int] | None = None
            for run in self.runs:
                due = self.due[id(run)]
                specs = self.timers[id(run)]
                for k, spec in enumerate(specs):
                    if due[k] >= end:
                        continue
                    if run.halted or self._idle(run):
                        due[k] = _first_at_or_after(end, spec.period_ms)
                    elif best is None or due[k] < best[0]:
                        best = (due[k], run, k)
            if best is None:
                return
            ts, run, k = best
            spec = self.timers[id(run)][k]
            self.due[id(run)][k] = ts + spec.period_ms
            self._timer(ts, run, spec.name)

    def _observe(self, what: OrderBook | PublicTrade) -> None:
        key = (what.symbol, what.category)
        if isinstance(what, OrderBook):
            self.books[key] = what
            self.sim.market.books[key] = what
            mid = what.mid
            if mid is not None:
                self._mark(key, float(mid))
        else:
            self._mark(key, float(what.price))

    def _mark(self, key: tuple[str, Category], price: float) -> None:
        (self.sim.perp_px if key[1] is LINEAR else self.sim.spot_px)[key[0]] = price

    def _event(self, ts: int, what: OrderBook | PublicTrade) -> None:
        self._observe(what)
        self.sim.market.event_ms = ts
        key = (what.symbol, what.category)
        for run in self.runs:
            if run.halted:
                continue
            self._execute(run, ts)
            books, trades = self.wanted[id(run)]
            ctx, strategy = run.ctx, run.spec.strategy
            if isinstance(what, OrderBook):
                if key in books:
                    self.delivered += 1
                    self._collect(run, strategy.on_book(ctx, what))
            else:
                if run.account.orders:
                    self._walk(run, key, float(what.price), ts)
                if key in trades:
                    self.delivered += 1
                    self._collect(run, strategy.on_trade(ctx, what))
        if isinstance(what, PublicTrade):
            self.last_trade[key] = float(what.price)

    def _timer(self, ts: int, run: EngineRun, name: str) -> None:
        self.sim.market.event_ms = ts
        self._execute(run, ts)
        self.delivered += 1
        self._collect(run, run.spec.strategy.on_timer(run.ctx, TimerEvent(name, ts)))

    def _collect(self, run: EngineRun, intents: Sequence[Intent]) -> None:
        for intent in intents:
            if isinstance(intent, TransferProceeds):
                run.pending_transfers.append(intent)
            else:
                self.pending[id(run)].append(intent)

    # --- execution ----------------------------------------------------------------------------

    def _execute(self, run: EngineRun, ts: int) -> None:
        queue = self.pending[id(run)]
        if not queue:
            return
        self.pending[id(run)] = []
        sim, acct = self.sim, run.account
        outcomes: list[Outcome] = []
        for intent in queue:
            if isinstance(intent, CancelOrder):
                if (cancelled := acct.cancel(intent.target_intent_id)) is not None:
                    outcomes.append(cancelled)
            elif isinstance(intent, SetStopLoss):
                sim._set_stop(acct, intent)
            elif isinstance(intent, SubmitOrder) and (order := sim._order(run, intent)) is not None:
                outcome = self._submit(run, order, ts)
                if outcome is not None:
                    outcomes.append(outcome)
        self._answer(run, outcomes, ts)

    def _touch(self, order: SimOrder) -> float:
        book = self.books.get((order.symbol, order.category))
        best = None
        if book is not None:
            best = book.best_ask if order.side > 0 else book.best_bid
        if best is not None:
            return float(best)
        last = self.last_trade.get((order.symbol, order.category))
        if last is not None:
            return last
        px = self.sim.perp_px if order.category is LINEAR else self.sim.spot_px
        return px[order.symbol]

    def _submit(self, run: EngineRun, order: SimOrder, ts: int) -> Outcome | None:
        sim, acct = self.sim, run.account
        touch = self._touch(order)
        if order.order_type is OrderType.MARKET:
            return acct.execute(order, touch, False, ts, sim.spot_px, sim.perp_px)
        if marketable(order.side, order.price, touch):
            if order.post_only:
                return Outcome(order, "Rejected", None, _TAKES_LIQUIDITY)
            return acct.execute(order, touch, False, ts, sim.spot_px, sim.perp_px)
        acct.orders.append(order)
        return None

    def _walk(self, run: EngineRun, key: tuple[str, Category], price: float, ts: int) -> None:
        sim, acct = self.sim, run.account
        start = self.last_trade.get(key, price)
        outcomes: list[Outcome] = []

        def on_fill(order: SimOrder, level: float) -> None:
            outcomes.append(acct.execute(order, order.price, True, ts, sim.spot_px, sim.perp_px))

        def here(o: SimOrder) -> bool:
            return o.symbol == key[0] and o.category is key[1]

        walk((start, price), acct.orders, sim.fill_model, on_fill, here)
        self._answer(run, outcomes, ts)

    def _answer(self, run: EngineRun, outcomes: list[Outcome], ts: int) -> None:
        """Fill, reject and cancel events to the strategy; its answers wait for the next event."""
        if outcomes:
            self.sim._deliver(run, outcomes, ts, immediate=False, sink=self.pending[id(run)])
