"""Calls the strategy and turns its intents into orders: the live loop's decision path.

A confirmed candle of every market the strategy reads makes one `on_bar`; its intents are
cut by the governance multiplier (`governance.admission`: entries only, the one place it is
applied; a zero multiplier withholds an entry without a refusal record unless a halt, a pause or
an emergency stop refuses it), rounded to the instrument's filters, checked
by the pre-trade risk checks and handed to the order manager, all synchronously in the
market-data handler, so the only thing between a tick and its order request is this code (the
REST call itself runs as a task). A refused intent is recorded with its reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from engine_runtime.execution.manager import OrderManager
from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.governance.admission import admit
from engine_runtime.governance.obedience import Governor
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.metrics import Metrics
from engine_runtime.risk.checks import RiskState, check_order
from engine_runtime.strategies import interface as si
from eternal_kernel.api.v1alpha1.engine import RiskLimits
from eternal_kernel.model.commands import AmendOrder, OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, client_order_id
from eternal_kernel.model.instruments import FilterError, Instrument

from .market import LiveMarket
from .views import LivePortfolio

log = logging.getLogger(__name__)
ZERO = Decimal(0)
CENT = Decimal("0.01")
"""The step of a quote-sized (USDT) order."""
STOPS_ALL_ENTRIES = frozenset({"emergency_stop", "governance_halt", "entries_paused"})
"""The risk checks that refuse every entry, whatever its size."""

Refusal = Callable[[str, str, str, str], None]
"""(intent_id, symbol, check, reason)."""
Background = Callable[[Any], None]


class StrategyRunner:
    def __init__(
        self,
        *,
        engine: str,
        strategy: si.Strategy,
        market: LiveMarket,
        portfolio: Portfolio,
        manager: OrderManager,
        governor: Governor,
        limits: RiskLimits,
        instruments: dict[tuple[str, Category], Instrument],
        metrics: Metrics,
        refuse: Refusal,
        background: Background,
        emergency_stop: Callable[[], str | None],
    ) -> None:
        self.engine = engine
        self.strategy = strategy
        self.market = market
        self.portfolio = portfolio
        self.manager = manager
        self.governor = governor
        self.limits = limits
        self.instruments = instruments
        self.metrics = metrics
        self.refuse = refuse
        self.background = background
        self.emergency_stop = emergency_stop
        self.view = LivePortfolio(portfolio, manager)
        self.layered = bool(getattr(strategy, "layered_entries", False))
        self.enabled = False
        self.bars = 0
        self.on_decided: Callable[[], None] | None = None
        self.on_recentre: Callable[[Any], None] | None = None
        """Called with each ladder (re)build a grid strategy reports (``take_recentres``)."""
        bind = getattr(strategy, "bind_instruments", None)
        if callable(bind):  # a strategy that checks orders against the venue's rules itself
            bind(instruments)
        self._received: dict[ClientOrderId, int] = {}
        manager.on_request_out = self._request_out
        manager.on_final.append(self._on_final)

    # market data --------------------------------------------------------------------------
    def on_kline(
        self, symbol: str, category: Category, row: dict[str, Any], received_ns: int
    ) -> None:
        if not row.get("confirm"):
            return
        key = (symbol, category)
        window = self.market.windows.get(key)
        if window is None:
            return
        if not window.add(
            int(row["start"]), row["open"], row["high"], row["low"], row["close"], row["volume"]
        ):
            return
        window.compute(self.strategy, symbol, key[1])
        start = self.market.complete_bar()
        if start is None:
            return
        self.market.bar_start = start
        self.bars += 1
        if self.enabled:
            self.handle(self.strategy.on_bar(self.context()), received_ns)
            self._decided()

    def on_funding(self, event: si.FundingEvent) -> None:
        """A funding settlement of one of the strategy's perpetuals."""
        if self.enabled:
            self.handle(self.strategy.on_funding(self.context(), event))
            self._decided()

    # version 2: the book, the tape and timers (fed by `live.feed` and the runtime's timers)
    def on_book(self, book: si.OrderBook, received_ns: int) -> None:
        if self.enabled:
            self._event(book.ts_ms, self.strategy.on_book, book, received_ns)

    def on_trade(self, trade: si.PublicTrade, received_ns: int) -> None:
        if self.enabled:
            self._event(trade.ts_ms, self.strategy.on_trade, trade, received_ns)

    def on_timer(self, event: si.TimerEvent) -> None:
        if self.enabled:
            self._event(event.ts_ms, self.strategy.on_timer, event, time.perf_counter_ns())

    def _event(
        self,
        ts_ms: int,
        callback: Callable[[si.StrategyContext, Any], Sequence[si.Intent]],
        event: object,
        received_ns: int,
    ) -> None:
        """One version-2 event through the path of `on_bar`: the strategy at the event's time,
        its intents through sizing, the pre-trade checks and the order manager. The strategy is
        checkpointed when it decided something (not after each of thousands of books a second:
        what it learns from them is rebuilt from the feed after a restart)."""
        market = self.market
        market.event_ms = ts_ms
        try:
            intents = callback(self.context(), event)
            if intents:
                self.handle(intents, received_ns)
        except Exception:
            log.exception("strategy %s failed", getattr(callback, "__name__", "callback"))
            return
        finally:
            market.event_ms = None
        if intents:
            self._decided()

    def _decided(self) -> None:
        take = getattr(self.strategy, "take_recentres", None)
        if callable(take):
            for record in take():
                if self.on_recentre is not None:
                    self.on_recentre(record)
        if self.on_decided is not None:
            self.on_decided()

    def context(self) -> si.StrategyContext:
        return si.StrategyContext(self.engine, self.market, self.view, self.governor.for_strategy())

    # intents ----------------------------------------------------------------------------
    def handle(self, intents: Sequence[object], received_ns: int | None = None) -> None:
        for intent in intents:
            if isinstance(intent, si.SubmitOrder):
                self._submit(intent, received_ns)
            elif isinstance(intent, si.CancelOrder):
                self._cancel(intent)
            elif isinstance(intent, AmendOrder):
                self._amend(intent)
            elif isinstance(intent, si.SetStopLoss):
                self.background(
                    self.manager.venue.set_stop_loss(intent.symbol, self._stop_on_tick(intent))
                )
            else:
                log.info("intent not handled by the runtime: %s", type(intent).__name__)

    def _stop_on_tick(self, intent: si.SetStopLoss) -> Decimal | None:
        """The stop's trigger on the instrument's tick (the venue refuses any other price)."""
        inst = self.instruments.get((intent.symbol, intent.category))
        if intent.trigger_price is None or inst is None:
            return intent.trigger_price
        ticks = (intent.trigger_price / inst.tick_size).to_integral_value(ROUND_HALF_EVEN)
        return (ticks * inst.tick_size).normalize()

    def _submit(self, intent: si.SubmitOrder, received_ns: int | None) -> None:
        link = client_order_id(self.engine, intent.intent_id)
        if link in self.manager.orders:
            return  # the same decision again (a replayed bar): already working or done
        if self.governor.stopping:
            self._refused(intent.intent_id, intent.symbol, "shutdown", "the runtime is stopping")
            return
        category = intent.category
        inst = self.instruments.get((intent.symbol, category))
        if inst is None:
            self._refused(intent.intent_id, intent.symbol, "instrument", "unknown instrument")
            return
        quote = intent.notional is not None
        qty = intent.notional if quote else intent.qty
        assert qty is not None
        side = OrderSide(intent.side.value)
        position = self.portfolio.positions.get((intent.symbol, category))
        draft = OrderRequest(
            link,
            intent.symbol,
            category,
            side,
            OrderType(intent.order_type.value),
            qty,
            intent.price,
            quote,
            intent.post_only,
            intent.reduce_only,
        )
        admitted = admit(
            qty,
            buy=side is OrderSide.BUY,
            reduce_only=intent.reduce_only,
            position=position.qty if position is not None else ZERO,
            multiplier=self.governor.size_multiplier,
            step=CENT if quote else inst.qty_step,
            quote=quote,
        )
        if admitted is None:
            decision = check_order(draft, self._risk_state(), self.limits)
            if decision.check in STOPS_ALL_ENTRIES:  # a halt, a pause, an emergency stop: why
                self._refused(intent.intent_id, intent.symbol, decision.check, decision.reason)
            else:
                log.debug("entry withheld (size multiplier 0)", extra={"intent": intent.intent_id})
            return
        qty = admitted
        price = inst.round_price(intent.price, side) if intent.price is not None else None
        mark = self.portfolio.marks.get(intent.symbol) or self._last_close(intent.symbol)
        try:
            if quote:
                qty = qty.quantize(CENT)
                if qty < inst.min_notional or qty <= 0:
                    raise FilterError(f"{intent.symbol}: notional {qty} below {inst.min_notional}")
            else:
                qty = inst.round_qty(qty)
                inst.check(qty, price, mark)
        except FilterError as error:
            self._refused(intent.intent_id, intent.symbol, "instrument_filter", str(error))
            return
        request = OrderRequest(
            link,
            intent.symbol,
            category,
            side,
            draft.order_type,
            qty,
            price,
            quote,
            intent.post_only,
            intent.reduce_only,
        )
        decision = check_order(
            request,
            self._risk_state(),
            self.limits,
            confidence=_confidence(intent),
            reference_price=mark,
            layered=self.layered,
        )
        if not decision.ok:
            self._refused(intent.intent_id, intent.symbol, decision.check, decision.reason)
            return
        if received_ns is not None:
            self._received[link] = received_ns
        self.manager.submit_soon(request, intent.intent_id, intent.reason)

    def _risk_state(self) -> RiskState:
        return RiskState(
            equity=self.portfolio.equity,
            day_start_equity=self.portfolio.day_start_equity,
            week_start_equity=self.portfolio.week_start_equity,
            positions=self.portfolio.positions,
            marks=self.portfolio.marks,
            open_orders=self.manager.working_orders(),
            emergency_stop=self.emergency_stop(),
            halted=self.governor.halted,
            entries_paused=self.governor.entries_paused,
        )

    def _last_close(self, symbol: str) -> Decimal | None:
        try:
            return self.market.price(symbol)
        except KeyError:
            return None

    def _target(self, target_intent_id: str) -> ManagedOrder | None:
        return self.manager.orders.get(client_order_id(self.engine, target_intent_id))

    def _cancel(self, intent: si.CancelOrder) -> None:
        order = self._target(intent.target_intent_id)
        if order is not None and order.is_open:
            self.background(self.manager.cancel(order))

    def _amend(self, intent: AmendOrder) -> None:
        order = self._target(intent.target_intent_id)
        if order is None or not order.is_open:
            return
        inst = self.instruments.get((order.symbol, order.category))
        price = intent.price
        qty = intent.qty
        if inst is not None:
            price = inst.round_price(price, order.side) if price is not None else None
            qty = inst.round_qty(qty) if qty is not None else None
        self.background(self.manager.amend(order, qty, price))

    def _refused(self, intent_id: str, symbol: str, check: str, reason: str) -> None:
        self.metrics.risk_refusals.labels(check).inc()
        log.info("intent refused", extra={"intent_id": intent_id, "check": check, "reason": reason})
        self.refuse(intent_id, symbol, check, reason)

    # order events -----------------------------------------------------------------------
    def _request_out(self, request: OrderRequest) -> None:
        received = self._received.pop(request.client_order_id, None)
        if received is not None:
            self.metrics.tick_to_order.observe((time.perf_counter_ns() - received) / 1e9)

    def _on_final(self, order: ManagedOrder) -> None:
        if not self.enabled or order.intent_id.startswith(("external:", "halt", "close", "shut")):
            return
        status = {
            OrderStatus.FILLED: si.OrderStatus.FILLED,
            OrderStatus.CANCELLED: si.OrderStatus.CANCELLED,
            OrderStatus.REJECTED: si.OrderStatus.REJECTED,
        }[order.status]
        event = si.OrderEvent(
            intent_id=order.intent_id,
            symbol=order.symbol,
            category=si.Category(order.category.value),
            side=si.Side(order.side.value),
            status=status,
            filled_qty=order.filled_qty,
            avg_price=order.avg_price or Decimal(0),
            fee=Decimal(0),
            ts_ms=time.time_ns() // 1_000_000,
            reason=order.reject_reason or "",
        )
        try:
            self.handle(self.strategy.on_order_event(self.context(), event))
        except Exception:
            log.exception("strategy on_order_event failed")
        self._decided()


def _confidence(intent: object) -> Decimal | None:
    value = getattr(intent, "confidence", None)
    return Decimal(str(value)) if value is not None else None
