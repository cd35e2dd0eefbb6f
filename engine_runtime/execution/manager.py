"""Order management: every order recorded before it is sent, sent once, and followed to its end.

`submit` writes the order (Created) to PostgreSQL, then sends it with its deterministic
orderLinkId; an order the database already knows is never sent again from here, and a resend
after a crash is answered by the venue with 110072, which the domain client turns into the
venue's copy of the order. Stream reports and REST answers both go through `on_order_report` and
`on_fill`, so the state machine and the books see one sequence of facts whatever the source; a
fill is booked once (keyed by its execution id), in one transaction with its consequences. An
order's final event goes out once its fills are booked (`fill_gate`): the strategy and the risk
checks never see a filled order without its position.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal

from engine_runtime.persistence.store import Store
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry, ErrorSource
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import (
    FatalError,
    RejectedError,
    RetryableError,
    VenueError,
)
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderStatus
from eternal_kernel.model.identifiers import ClientOrderId
from eternal_kernel.model.reports import FillReport, OrderStatusReport

from .fill_gate import WAIT_S, FillGate
from .orders import ManagedOrder

log = logging.getLogger(__name__)

OrderCallback = Callable[[ManagedOrder], None]
FillCallback = Callable[[FillReport], None]


IN_FLIGHT = frozenset({OrderStatus.CREATED, OrderStatus.SUBMITTED})
"""Sent, not yet reported by the venue: a cancel may overtake the create."""


class OrderManager:
    def __init__(
        self,
        venue: BybitDomainClient,
        store: Store,
        portfolio: Portfolio,
        metrics: Metrics,
        errors: ErrorRegistry | None = None,
        *,
        fill_wait_s: float = WAIT_S,
    ) -> None:
        self.venue = venue
        self.store = store
        self.portfolio = portfolio
        self.metrics = metrics
        self.orders: dict[ClientOrderId, ManagedOrder] = {}
        self.on_final: list[OrderCallback] = []
        self.on_fill_booked: list[FillCallback] = []
        self.on_fatal: Callable[[str], None] | None = None
        self.on_request_out: Callable[[OrderRequest], None] | None = None
        self.gate: Callable[[OrderRequest], Awaitable[None]] | None = None
        """Checked right before every attempt to send and every amend (governance.gate)."""
        self.unresolved: set[ClientOrderId] = set()
        self.booked: set[str] = set()
        self._sent_at: dict[ClientOrderId, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.errors = errors or ErrorRegistry()
        self.fill_gate = FillGate(self._announce, self._fills_late_soon, fill_wait_s)

    # queries ----------------------------------------------------------------------------
    def open_orders(self) -> list[ManagedOrder]:
        return [o for o in self.orders.values() if o.is_open]

    def working_orders(self) -> list[ManagedOrder]:
        """Exposure the positions may not show yet: open orders, and orders final on the venue
        whose fills are not booked (their final event is held until they are)."""
        return self.open_orders() + self.fill_gate.held()

    def by_intent(self, intent_id: str) -> ManagedOrder | None:
        for order in self.orders.values():
            if order.intent_id == intent_id:
                return order
        return None

    # commands ---------------------------------------------------------------------------
    def submit_soon(self, request: OrderRequest, intent_id: str, reason: str = "") -> bool:
        """Submit in the background (the caller, a market-data handler, must not wait on REST).
        False when this orderLinkId is already known in memory: nothing is sent."""
        if request.client_order_id in self.orders:
            return False
        order = ManagedOrder.from_request(request, intent_id, reason, _now_ms())
        self.orders[order.client_order_id] = order
        self._spawn(self._submit(order))
        return True

    async def submit(self, request: OrderRequest, intent_id: str, reason: str = "") -> ManagedOrder:
        """Submit and wait for the venue's answer."""
        existing = self.orders.get(request.client_order_id)
        if existing is not None:
            return existing
        order = ManagedOrder.from_request(request, intent_id, reason, _now_ms())
        self.orders[order.client_order_id] = order
        await self._submit(order)
        return order

    async def _submit(self, order: ManagedOrder) -> None:
        if not await self.store.insert_order(order):
            # Known from an earlier life (a replayed decision): never send it twice from here.
            log.info("intent already recorded", extra={"client_order_id": order.client_order_id})
            self.orders.pop(order.client_order_id, None)
            return
        await self._send(order)

    async def _send(self, order: ManagedOrder) -> None:
        order.set_status(OrderStatus.SUBMITTED)
        request = order.request()
        if self.on_request_out is not None:
            self.on_request_out(request)
        self._sent_at[order.client_order_id] = time.perf_counter()
        gate = self.gate
        try:
            report = await self.venue.submit(
                request, precheck=(lambda: gate(request)) if gate is not None else None
            )
        except RejectedError as error:
            self.errors.clear(ErrorSource.SUBMIT)  # the venue answered: the order was wrong
            order.set_status(OrderStatus.REJECTED, error.message[:200])
            await self._persist(order)
            self._final(order)
            return
        except FatalError as error:
            self._fatal(f"venue refused our keys: {error}")
            self.unresolved.add(order.client_order_id)
            return
        except (RetryableError, VenueError) as error:
            # Unknown whether it reached the venue: the resync finds out by orderLinkId.
            self.errors.set(ErrorSource.SUBMIT, f"{order.client_order_id}: {error}")
            self.unresolved.add(order.client_order_id)
            return
        self.errors.clear(ErrorSource.SUBMIT)
        if report is not None:
            self.on_order_report(report)  # persists
            return
        if order.status is OrderStatus.SUBMITTED:
            order.set_status(OrderStatus.ACKNOWLEDGED)
            self.metrics.orders.labels(order.status.value).inc()
            self._observe_ack(order)
        await self._persist(order)

    async def resend(self, order: ManagedOrder) -> None:
        """Send an order recorded (Created) before a crash and not found on the venue."""
        self.orders[order.client_order_id] = order
        await self._send(order)

    async def amend(self, order: ManagedOrder, qty: Decimal | None, price: Decimal | None) -> bool:
        try:
            if self.gate is not None:
                await self.gate(order.request())
            await self.venue.amend(
                order.category, order.symbol, order.client_order_id, qty=qty, price=price
            )
        except VenueError as error:
            self.errors.set(ErrorSource.AMEND, f"{order.client_order_id}: {error}")
            return False
        self.errors.clear(ErrorSource.AMEND)
        if qty is not None:
            order.qty = qty
        if price is not None:
            order.price = price
        await self._persist(order)
        return True

    async def cancel(self, order: ManagedOrder) -> bool:
        try:
            gone = not await self.venue.cancel(order.category, order.symbol, order.client_order_id)
        except VenueError as error:
            self.errors.set(ErrorSource.CANCEL, f"{order.client_order_id}: {error}")
            return False
        self.errors.clear(ErrorSource.CANCEL)
        if gone:
            self.unresolved.add(order.client_order_id)  # filled meanwhile: resync will say
            if order.status in IN_FLIGHT:
                # Unknown to the venue yet: the create may still be on its way. Cancel it
                # again when the venue reports it open.
                order.cancel_wanted = True
        return True

    async def cancel_all(self) -> int:
        categories = (Category.SPOT, Category.LINEAR)
        try:
            count = await self.venue.cancel_all(categories)
        except VenueError as error:
            self.errors.set(ErrorSource.CANCEL, f"all: {error}")
            raise
        self.errors.clear(ErrorSource.CANCEL)
        for order in self.open_orders():
            self.unresolved.add(order.client_order_id)
        return count

    # venue facts ------------------------------------------------------------------------
    def on_order_report(self, report: OrderStatusReport) -> ManagedOrder | None:
        order = self.orders.get(report.client_order_id)
        if order is None:
            return None
        was_final = order.status.is_final
        before = order.status
        if not order.apply(report):
            return order
        if before is not order.status:
            self.metrics.orders.labels(order.status.value).inc()
            if before in (OrderStatus.SUBMITTED, OrderStatus.CREATED):
                self._observe_ack(order)
        self.unresolved.discard(order.client_order_id)
        self._spawn(self._persist(order))
        if order.status.is_final and not was_final:
            self._final(order)
        elif order.cancel_wanted and order.status.is_open and order.status not in IN_FLIGHT:
            order.cancel_wanted = False
            self._spawn(self.cancel(order))
        return order

    async def on_fill(self, fill: FillReport) -> bool:
        """Book an execution once; False when it was already booked."""
        if fill.trade_id in self.booked:
            return False
        self.booked.add(fill.trade_id)
        order = self.orders.get(fill.client_order_id)
        position = self.portfolio.position(fill.symbol, fill.category)
        before = position.snapshot()
        position, closed = self.portfolio.apply_fill(fill)
        try:
            booked = await self.store.book_fill(fill, order, position, closed)
        except BaseException:
            position.restore(before)
            self.booked.discard(fill.trade_id)
            raise
        if not booked:  # booked in an earlier life
            position.restore(before)
            return False
        if order is not None:
            order.trade_ids.add(fill.trade_id)
            order.booked_qty += fill.qty
        self.metrics.fills.inc()
        for callback in self.on_fill_booked:
            callback(fill)
        if order is not None:
            self.fill_gate.booked(order)
        return True

    # internals --------------------------------------------------------------------------
    def _observe_ack(self, order: ManagedOrder) -> None:
        sent = self._sent_at.pop(order.client_order_id, None)
        if sent is not None:
            self.metrics.order_ack.observe(time.perf_counter() - sent)

    def _final(self, order: ManagedOrder) -> None:
        self.fill_gate.final(order)  # announced now, or once its fills are booked

    def _announce(self, order: ManagedOrder) -> None:
        self.metrics.orders.labels(order.status.value).inc()
        for callback in self.on_final:
            callback(order)

    def _fills_late_soon(self, order: ManagedOrder) -> None:
        self._spawn(self._fills_late(order))

    async def _fills_late(self, order: ManagedOrder) -> None:
        """The streams did not deliver the order's executions in time: look them up over REST
        and book them; then its final event goes out, whatever was found."""
        try:
            for fill in await self.venue.order_fills(order.category, order.client_order_id):
                await self.on_fill(fill)
        except VenueError as error:
            self.errors.set(ErrorSource.FILLS, f"{order.client_order_id}: {error}")
        else:
            self.errors.clear(ErrorSource.FILLS)
        finally:
            if order.fills_unbooked:
                log.warning(
                    "final event without every fill booked",
                    extra={
                        "client_order_id": order.client_order_id,
                        "filled_qty": str(order.filled_qty),
                        "booked_qty": str(order.booked_qty),
                    },
                )
            self.fill_gate.release(order)

    def _fatal(self, message: str) -> None:
        self.errors.set(ErrorSource.SUBMIT, message)  # and the emergency stop, reported first
        if self.on_fatal is not None:
            self.on_fatal(message)

    async def _persist(self, order: ManagedOrder) -> None:
        try:
            await self.store.update_order(order)
        except Exception as error:
            self.errors.set(ErrorSource.PERSIST, f"{order.client_order_id}: {error}")
            log.error("order write failed: %s", error)
            return
        self.errors.clear(ErrorSource.PERSIST)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if (error := self.errors.task_ended(task)) is not None:
            log.error("order task failed", exc_info=error)

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for in-flight submissions and writes (shutdown)."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
