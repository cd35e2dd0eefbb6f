"""The event loop: strategies over history, one simulated subaccount per engine.

Per bar ``i`` (timestamps are bar open times; a bar's decision time is its close):

1. intents decided at the close of bar ``i-1`` execute from bar ``i``'s open (cancels, stops,
   then orders; see ``venue`` for the fill rules); fill events go to the strategy at once and the
   stops it sets in response protect the rest of the bar;
2. venue-held stops against the bar's high and low, then resting limits along the bar's path
   (``fills``: open, nearer extreme, other extreme, close; a limit fills when the price trades
   through it; the strategy's answer to a fill, e.g. a counter-order, rests from that point on);
3. funding settlements dated inside the bar are paid at the perp's open;
4. marks move to the close; under-margined perp positions are liquidated; equity is recorded;
5. governance (portfolio runs) turns NAV drawdown into the directive for the next decisions;
   transfers between engines and contributions are booked;
6. ``on_funding`` for the bar's settlements, then ``on_bar``: their intents wait for bar ``i+1``.

A strategy's ``features`` run once over the whole history. Unless disabled, the engine first
checks they are causal: recomputed on prefixes of the history they must agree with the full run,
otherwise ``LookAheadError``. That is what stops a strategy from peeking through its features;
the views (``views``) only expose the current bar and earlier funding and signals.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from engine_runtime.strategies.base import BaseStrategy
from engine_runtime.strategies.interface import (
    NORMAL,
    CancelOrder,
    Category,
    FundingEvent,
    GovernanceDirective,
    Intent,
    MarketKey,
    OrderEvent,
    OrderStatus,
    OrderType,
    SetStopLoss,
    StrategyContext,
    SubmitOrder,
    TransferProceeds,
)

from .book_data import Event
from .data import MarketData, bar_ms, epoch_ms
from .events import EventFeed, wants_events
from .fastpath import FastPath
from .fills import FillModel, bar_path, marketable, walk
from .governance import BreakerPolicy, CircuitBreaker, governed
from .lookahead import check_causality
from .orders import halt_orders, liquidation_order, side_of, sim_order
from .runs import EngineRun, EngineSpec, Rejection, Transfer
from .signals import run_signals
from .venue import FeeModel, Outcome, SimAccount, SimOrder
from .views import AccountView, Columns, Feed, MarketCursor, dec

log = logging.getLogger(__name__)
REJECTIONS_LOGGED = 10
"""Rejections logged one by one per engine; the result keeps them all."""

SPOT, LINEAR = Category.SPOT, Category.LINEAR
_TAKES_LIQUIDITY = "post-only order would take liquidity"


class Simulation:
    """Runs engines over ``data``; a single-engine run is a portfolio of one, without governance."""

    def __init__(
        self,
        data: MarketData,
        engines: Sequence[EngineSpec],
        *,
        initial_cash: Decimal,
        fees: FeeModel | None = None,
        policy: BreakerPolicy | None = None,
        monthly_contribution: Decimal = Decimal(0),
        causality_check: bool = True,
        fast_forward: bool = True,
        fill_model: FillModel | None = None,
        book_events: Sequence[Event] | None = None,
        signal_path: bool = True,
    ) -> None:
        if not engines:
            raise ValueError("no engines")
        total_weight = sum((e.weight for e in engines), Decimal(0))
        if total_weight <= 0 or (total_weight > Decimal("1.000001") and len(engines) > 1):
            raise ValueError("engine weights must be positive and sum to at most 1")
        self.data = data
        self.index = data.index
        self.fees = fees or FeeModel()
        self.fill_model = fill_model or FillModel()
        self.breaker = CircuitBreaker(policy) if policy is not None else None
        self.monthly_contribution = float(monthly_contribution)
        self.initial_cash = float(initial_cash)
        open_ms = epoch_ms(self.index)
        self.bar_ms = bar_ms(open_ms)
        self.open_ms: list[int] = open_ms.tolist()
        self.close_ms: list[int] = (
            [*self.open_ms[1:], self.open_ms[-1] + self.bar_ms] if len(open_ms) else []
        )
        self.feed = self._build_feed(engines, causality_check)
        self._last_payments: dict[str, list[tuple[str, int, float, float | None, float]]] = {}
        self.spot_px: dict[str, float] = {}
        self.perp_px: dict[str, float] = {}
        self.markets = sorted(self.feed.columns)
        funding_cols = {
            s: (epoch_ms(f.index).tolist(), f["rate"].to_numpy(np.float64).tolist())
            for s, f in data.funding.items()
        }
        signals = {
            n: (epoch_ms(s.index).tolist(), s.to_numpy(np.float64).tolist())
            for n, s in data.signals.items()
        }
        self.market = MarketCursor(self.feed, funding_cols, signals)
        self.funding_by_bar = self._funding_schedule(data, open_ms)
        self.runs: list[EngineRun] = []
        for spec in engines:
            account = SimAccount(
                cash=self.initial_cash * float(spec.weight), fees=self.fees, leverage=spec.leverage
            )
            account.deposits = account.cash
            view = AccountView(account, self.spot_px, self.perp_px)
            ctx = StrategyContext(spec.name, self.market, view, NORMAL)
            run = EngineRun(spec, account, view, ctx)
            handler = getattr(type(spec.strategy), "on_order_event", None)
            run.listens = handler is not BaseStrategy.on_order_event
            self.runs.append(run)
        self.fast = FastPath(
            len(self.index), self.feed, self.runs, list(self.funding_by_bar), fast_forward
        )
        event_runs = [r for r in self.runs if wants_events(r.spec.strategy)]
        timed = any(r.spec.strategy.timers() for r in event_runs)
        self.events = (
            EventFeed(self, book_events or (), event_runs)
            if event_runs and (book_events or timed)
            else None
        )
        """Books, trades and timers inside the bars, for version-2 strategies (``events``)."""
        self.directive: GovernanceDirective = NORMAL
        n = len(self.index)
        self.nav: npt.NDArray[np.float64] = np.zeros(n)
        self.levels: npt.NDArray[np.int64] = np.zeros(n, dtype=np.int64)
        self.i = 0
        for run in self.runs:
            run.equity, run.flows = np.zeros(n), np.zeros(n)
            run.exposed = np.zeros(n, dtype=bool)
        self.units = self.initial_cash
        self.deposits_total = self.initial_cash
        self.signal_path = signal_path and fast_forward
        """A signal strategy's run computed over whole columns (``signals``) where it applies."""

    # --- setup -------------------------------------------------------------------------------

    def _build_feed(self, engines: Sequence[EngineSpec], causality: bool) -> Feed:
        columns: dict[MarketKey, Columns] = {}
        keys: set[MarketKey] = set()
        for spec in engines:
            keys.update(spec.strategy.markets())
        for key in sorted(keys):
            candles = self.data.frame(key)
            cols = {c: candles[c].to_numpy(np.float64) for c in ("open", "high", "low", "close")}
            for spec in engines:
                if key not in spec.strategy.markets():
                    continue
                feats = spec.strategy.features(key[0], key[1], candles)
                if causality:
                    check_causality(spec.strategy, key, candles, feats)
                for name in feats.columns:
                    cols[str(name)] = feats[name].to_numpy(np.float64)
            columns[key] = Columns(cols)
        return Feed(columns, self.close_ms)

    def _funding_schedule(
        self, data: MarketData, starts: npt.NDArray[np.int64]
    ) -> dict[int, list[tuple[str, int, float, float | None]]]:
        """Funding settlements by the index of the bar they fall in (outside the run: dropped)."""
        schedule: dict[int, list[tuple[str, int, float, float | None]]] = {}
        end = self.open_ms[-1] + self.bar_ms if self.open_ms else 0
        for symbol, frame in data.funding.items():
            times = epoch_ms(frame.index)
            rates = frame["rate"].to_numpy(np.float64)
            predicted = frame["predicted"].to_numpy(np.float64) if "predicted" in frame else None
            bars = np.searchsorted(starts, times, side="right") - 1
            keep = np.flatnonzero((bars >= 0) & (times < end))
            for j in keep.tolist():
                pred = None if predicted is None or np.isnan(predicted[j]) else float(predicted[j])
                schedule.setdefault(int(bars[j]), []).append(
                    (symbol, int(times[j]), float(rates[j]), pred)
                )
        return schedule

    # --- the loop ----------------------------------------------------------------------------

    def run(self) -> None:
        """Run to the end of the data. The cyclic garbage collector is paused meanwhile: the
        loop allocates many small objects and a collection would traverse the large columns."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            if not (self.signal_path and run_signals(self)):
                self._run()
        finally:
            if enabled:
                gc.enable()

    def _run(self) -> None:
        n = len(self.index)
        cols = self.feed.columns
        spot_keys = [(k[0], cols[k]) for k in self.markets if k[1] is SPOT]
        perp_keys = [(k[0], cols[k]) for k in self.markets if k[1] is LINEAR]
        # a perp market missing from the feed marks at its spot series
        for symbol, c in spot_keys:
            if not any(s == symbol for s, _ in perp_keys):
                perp_keys.append((symbol, c))
        runs = self.runs
        spot_px, perp_px = self.spot_px, self.perp_px
        mmr = self.fees.maintenance_margin
        # governance and contributions act on every bar: no skipping then
        skipping = self.fast.enabled and self.breaker is None and self.monthly_contribution <= 0
        events = self.events
        skipping = skipping and events is None  # events happen inside any bar
        month = -1
        i = 0
        while i < n:
            if skipping and i > 0:
                j = self.fast.quiet_until(i)
                if j > i:
                    i = self.fast.skip(i, j, mmr)
                    if i >= n:
                        break
            self.market.i = self.i = i
            for symbol, c in spot_keys:
                spot_px[symbol] = c["open"][i]
            for symbol, c in perp_keys:
                perp_px[symbol] = c["open"][i]
            ts_open = self.open_ms[i]
            for run in runs:
                if run.queue:
                    self._execute_queue(run, i, ts_open)
                acct = run.account
                if acct.stops:
                    self._check_stops(run, i, ts_open)
                if acct.orders and not (events is not None and events.on_tape(run)):
                    self._check_limits(run, i, ts_open)
            settlements = self.funding_by_bar.get(i)
            if settlements:
                self._settle(settlements)
            if events is not None:
                events.bar(i)
            for symbol, c in spot_keys:
                spot_px[symbol] = c["close"][i]
            for symbol, c in perp_keys:
                perp_px[symbol] = c["close"][i]
            total = 0.0
            for run in runs:
                acct = run.account
                eq = acct.equity(spot_px, perp_px)
                if acct.perp_qty and eq <= acct.gross_perp_notional(perp_px) * mmr:
                    self._liquidate(run, i)
                    eq = acct.equity(spot_px, perp_px)
                run.equity[i] = eq
                run.exposed[i] = acct.has_exposure()
                total += eq
            now = self.close_ms[i]
            if self.monthly_contribution > 0:
                m = datetime.fromtimestamp(now / 1000, tz=UTC).month
                if month != -1 and m != month:
                    total += self._contribute(total)
                month = m
            self._record_nav(total, now)
            for r, run in enumerate(runs):
                if run.halted:
                    continue
                if skipping and not settlements and self.fast.may_skip_decision(r, i):
                    continue  # idle and not a wake bar: on_bar would do nothing
                self._decide(run, settlements, i)
            for run in runs:
                if run.pending_transfers:
                    self._transfers(run, i)
            i += 1
        self.fast.finalize(self.nav, self.units)

    def _record_nav(self, total: float, now: int) -> None:
        i = self.i
        nav = total / self.units if self.units > 0 else 0.0
        self.nav[i] = nav
        if self.breaker is not None:
            self.directive = self.breaker.update(now, nav)
            self.levels[i] = self.breaker.level
            if self.directive.halt:
                for run in self.runs:
                    if not run.halted:
                        self._halt(run)

    def _contribute(self, total: float) -> float:
        amount = self.monthly_contribution
        nav = total / self.units if self.units > 0 else 1.0
        self.units += amount / nav
        self.deposits_total += amount
        weights = [float(r.spec.weight) for r in self.runs]
        scale = sum(weights) or 1.0
        for run, w in zip(self.runs, weights, strict=True):
            run.account.cash += amount * w / scale
            run.account.deposits += amount * w / scale
            run.equity[self.i] += amount * w / scale
            run.flows[self.i] += amount * w / scale
        return amount

    def _decide(
        self, run: EngineRun, settlements: list[tuple[str, int, float, float | None]] | None, i: int
    ) -> None:
        ctx = run.ctx
        if ctx.directive is not self.directive:
            ctx = run.ctx = StrategyContext(ctx.engine, ctx.market, ctx.portfolio, self.directive)
        strategy = run.spec.strategy
        out: list[Intent] = []
        if settlements:
            wanted = set(strategy.funding_symbols())
            for symbol, ts, rate, pred, payment in self._last_payments.get(run.spec.name, []):
                if symbol in wanted:
                    ev = FundingEvent(
                        symbol,
                        ts,
                        dec(rate, 10),
                        None if pred is None else dec(pred, 10),
                        dec(payment),
                    )
                    out.extend(strategy.on_funding(ctx, ev))
        out.extend(strategy.on_bar(ctx))
        for intent in out:
            self._route(run, intent)

    @staticmethod
    def _route(run: EngineRun, intent: Intent) -> None:
        if isinstance(intent, TransferProceeds):
            run.pending_transfers.append(intent)
        else:
            run.queue.append(intent)

    def _transfers(self, run: EngineRun, i: int) -> None:
        """Book requested transfers at the bar's close: cash moves, total equity does not."""
        pending, run.pending_transfers = run.pending_transfers, []
        now = self.close_ms[i]
        for intent in pending:
            target = next(
                (
                    r
                    for r in self.runs
                    if r.spec.strategy.name == intent.to_strategy and r is not run
                ),
                None,
            )
            amount = min(float(intent.amount), max(0.0, run.account.cash))
            if target is None or amount <= 0:
                note = intent.reason + " (not routed)"
                run.transfers.append(Transfer(now, run.spec.name, None, float(intent.amount), note))
                continue
            run.account.cash -= amount
            run.account.deposits -= amount
            target.account.cash += amount
            target.account.deposits += amount
            run.equity[i] -= amount
            target.equity[i] += amount
            run.flows[i] -= amount
            target.flows[i] += amount
            run.transfers.append(
                Transfer(now, run.spec.name, target.spec.name, amount, intent.reason)
            )

    # --- execution ---------------------------------------------------------------------------

    def _execute_queue(self, run: EngineRun, i: int, ts: int) -> None:
        queue, run.queue = run.queue, []
        acct = run.account
        outcomes: list[Outcome] = []
        for intent in queue:
            if isinstance(intent, CancelOrder):
                if (cancelled := acct.cancel(intent.target_intent_id)) is not None:
                    outcomes.append(cancelled)
            elif isinstance(intent, SetStopLoss):
                self._set_stop(acct, intent)
        for intent in queue:
            order = self._order(run, intent) if isinstance(intent, SubmitOrder) else None
            if order is not None:
                outcome = self._submit(run, order, i, ts)
                if outcome is not None:
                    outcomes.append(outcome)
        self._deliver(run, outcomes, ts, immediate=True)

    @staticmethod
    def _set_stop(acct: SimAccount, intent: SetStopLoss) -> None:
        if intent.trigger_price is None:
            acct.stops.pop(intent.symbol, None)
        elif acct.perp_qty.get(intent.symbol):
            acct.stops[intent.symbol] = float(intent.trigger_price)
            acct.stop_ids[intent.symbol] = intent.intent_id

    def _order(self, run: EngineRun, intent: SubmitOrder) -> SimOrder | None:
        """The simulated order of an intent, as governance lets it through (the live runner's
        rule, ``governance.governed``); None when it withholds it."""
        governed_intent = governed(intent, run.view, self.directive)
        return None if governed_intent is None else sim_order(governed_intent)

    def _bar(self, symbol: str, category: Category, i: int) -> tuple[float, float, float]:
        c = self.feed.columns.get((symbol, category))
        if c is None:
            c = self.feed.columns[(symbol, SPOT)]
        return c["open"][i], c["high"][i], c["low"][i]

    def _submit(self, run: EngineRun, order: SimOrder, i: int, ts: int) -> Outcome | None:
        open_, _, _ = self._bar(order.symbol, order.category, i)
        slip = self.fees.slippage
        acct = run.account
        if order.order_type is OrderType.MARKET:
            price = open_ * (1 + slip * order.side)
            return acct.execute(order, price, False, ts, self.spot_px, self.perp_px)
        marketable = open_ <= order.price if order.side > 0 else open_ >= order.price
        if marketable:
            if order.post_only:
                return Outcome(order, "Rejected", None, _TAKES_LIQUIDITY)
            return acct.execute(order, open_, False, ts, self.spot_px, self.perp_px)
        acct.orders.append(order)
        return None

    def _check_stops(self, run: EngineRun, i: int, ts: int) -> None:
        acct = run.account
        slip = self.fees.slippage
        outcomes: list[Outcome] = []
        for symbol, stop in list(acct.stops.items()):
            qty = acct.perp_qty.get(symbol, 0.0)
            if not qty:
                acct.stops.pop(symbol, None)
                continue
            open_, high, low = self._bar(symbol, LINEAR, i)
            if qty > 0 and low <= stop:
                price = min(open_, stop) * (1 - slip)
            elif qty < 0 and high >= stop:
                price = max(open_, stop) * (1 + slip)
            else:
                continue
            sid = acct.stop_ids.get(symbol, f"stop-{symbol}")
            order = SimOrder(
                sid,
                symbol,
                LINEAR,
                -1 if qty > 0 else 1,
                OrderType.MARKET,
                abs(qty),
                0.0,
                0.0,
                False,
                True,
                "stop",
            )
            outcomes.append(acct.execute(order, price, False, ts, self.spot_px, self.perp_px))
        self._deliver(run, outcomes, ts, immediate=False)

    def _check_limits(self, run: EngineRun, i: int, ts: int) -> None:
        """Walk each market's bar path and fill resting limits by the ``fills`` rule. A fill's
        event reaches the strategy at once; the limit orders and cancels it answers with act
        from the fill's level on the same path, its other intents wait for the next open."""
        acct = run.account
        keys = sorted({(o.symbol, o.category) for o in acct.orders})
        for symbol, category in keys:
            c = self.feed.columns.get((symbol, category))
            if c is None:  # not ``or``: a Columns no one has read yet is empty, hence false
                c = self.feed.columns[(symbol, SPOT)]
            path = bar_path(c["open"][i], c["high"][i], c["low"][i], c["close"][i])

            def on_fill(order: SimOrder, level: float) -> None:
                outcome = acct.execute(order, order.price, True, ts, self.spot_px, self.perp_px)
                self._react(run, [outcome], level, ts)

            def here(o: SimOrder, s: str = symbol, k: Category = category) -> bool:
                return o.symbol == s and o.category is k

            walk(path, acct.orders, self.fill_model, on_fill, here)

    def _react(self, run: EngineRun, outcomes: list[Outcome], level: float, ts: int) -> None:
        """Deliver mid-path outcomes; place the answering limits and cancels at ``level``."""
        acct = run.account
        while outcomes:  # _deliver records rejections, and answers only for a listener
            outcome = outcomes.pop(0)
            replies: list[Intent] = []
            self._deliver(run, [outcome], ts, immediate=True, sink=replies)
            for intent in replies:
                if isinstance(intent, CancelOrder):
                    for o in acct.orders:
                        if o.intent_id == intent.target_intent_id:
                            acct.orders.remove(o)
                            outcomes.append(Outcome(o, "Cancelled", None, "cancelled"))
                            break
                elif isinstance(intent, SubmitOrder) and intent.order_type is OrderType.LIMIT:
                    order = self._order(run, intent)
                    if order is None:
                        continue
                    if not marketable(order.side, order.price, level):
                        acct.orders.append(order)
                    elif order.post_only:
                        outcomes.append(Outcome(order, "Rejected", None, _TAKES_LIQUIDITY))
                    else:
                        outcomes.append(
                            acct.execute(order, level, False, ts, self.spot_px, self.perp_px)
                        )
                else:
                    self._route(run, intent)

    def _deliver(
        self,
        run: EngineRun,
        outcomes: list[Outcome],
        ts: int,
        *,
        immediate: bool,
        sink: list[Intent] | None = None,
    ) -> None:
        for outcome in outcomes:
            if outcome.status == "Rejected":
                self._rejected(run, outcome, ts)
        if not outcomes or run.halted or not run.listens:
            return
        strategy, ctx = run.spec.strategy, run.ctx
        for outcome in outcomes:
            o, fill = outcome.order, outcome.fill
            event = OrderEvent(
                o.intent_id,
                o.symbol,
                o.category,
                fill.side if fill else side_of(o.side),
                OrderStatus(outcome.status),
                dec(fill.qty, 12) if fill else Decimal(0),
                dec(fill.price) if fill else Decimal(0),
                dec(fill.fee) if fill else Decimal(0),
                ts,
                o.reason if fill else outcome.reason,
            )
            for intent in strategy.on_order_event(ctx, event):
                if immediate and isinstance(intent, SetStopLoss):
                    self._set_stop(run.account, intent)  # protects the rest of this bar
                elif sink is not None:
                    sink.append(intent)
                else:
                    self._route(run, intent)

    @staticmethod
    def _rejected(run: EngineRun, outcome: Outcome, ts: int) -> None:
        """Every refusal is kept for the result and logged (the first ones in full), so a
        strategy that ignores its order events still cannot fail silently."""
        o = outcome.order
        run.rejections.append(Rejection(ts, o.intent_id, o.symbol, outcome.reason))
        count = len(run.rejections)
        if count <= REJECTIONS_LOGGED:
            log.warning(
                "%s: order %s (%s) rejected at %s: %s%s",
                run.spec.name,
                o.intent_id,
                o.symbol,
                datetime.fromtimestamp(ts / 1000, UTC).isoformat(),
                outcome.reason,
                "; later rejections are only counted" if count == REJECTIONS_LOGGED else "",
            )

    def _settle(self, settlements: list[tuple[str, int, float, float | None]]) -> None:
        payments: dict[str, list[tuple[str, int, float, float | None, float]]] = {}
        for symbol, t, rate, pred in settlements:
            mark = self.perp_px.get(symbol)
            for run in self.runs:
                paid = run.account.settle_funding(symbol, rate, mark) if mark is not None else 0.0
                payments.setdefault(run.spec.name, []).append((symbol, t, rate, pred, paid))
        self._last_payments = payments

    def _liquidate(self, run: EngineRun, i: int) -> None:
        """Close every perp position at the close: equity fell to the maintenance margin."""
        acct = run.account
        outcomes: list[Outcome] = []
        for symbol, qty in list(acct.perp_qty.items()):
            order = liquidation_order(symbol, qty, i)
            outcomes.append(
                acct.execute(
                    order, self.perp_px[symbol], False, self.close_ms[i], self.spot_px, self.perp_px
                )
            )
        self._deliver(run, outcomes, self.close_ms[i], immediate=False)

    def _halt(self, run: EngineRun) -> None:
        """Level 4: cancel everything and flatten at the next open; the strategy stops."""
        acct = run.account
        run.halted = True
        acct.orders.clear()
        acct.stops.clear()
        run.queue = list(halt_orders(acct.perp_qty, acct.spot, self.close_ms[self.i]))
