"""The order manager over an in-memory account: an order is recorded before it is sent and sent
once, a fill is booked once and the order's end announced after it, a cancel takes a resting
order off and a failed cancel is the error in force until one succeeds. (A cancel that overtakes
its create: test_rt_cancel_in_flight.py.)"""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from engine_runtime.execution.manager import OrderManager
from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.bybit.errors import RetryableError
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId
from eternal_kernel.model.instruments import Instrument
from support.memory_venue import MemoryStore, MemoryVenue

pytestmark = pytest.mark.unit
BTC = Instrument("BTCUSDT", Category.LINEAR, "BTC", "USDT", D("0.1"), D("0.001"), D("0.001"),
                 D("100"), D("5"))  # fmt: skip
LIMIT = OrderRequest(ClientOrderId("ee-limit"), "BTCUSDT", Category.LINEAR, OrderSide.BUY,
                     OrderType.LIMIT, D("0.010"), D("59000"))  # fmt: skip
MARKET = OrderRequest(ClientOrderId("ee-market"), "BTCUSDT", Category.LINEAR, OrderSide.BUY,
                      OrderType.MARKET, D("0.010"))  # fmt: skip


def parts() -> tuple[MemoryVenue, MemoryStore, OrderManager]:
    venue = MemoryVenue({("BTCUSDT", Category.LINEAR): BTC})
    venue.prices["BTCUSDT"] = D("60000")
    store = MemoryStore()
    manager = OrderManager(venue, store, Portfolio(), Metrics(), ErrorRegistry())  # type: ignore[arg-type]
    return venue, store, manager


async def settle(manager: OrderManager) -> None:
    while manager._tasks:
        await asyncio.gather(*manager._tasks)


async def test_an_order_is_recorded_before_it_is_sent_and_sent_once() -> None:
    venue, store, manager = parts()
    recorded_when_sent: list[bool] = []

    async def gate(request: OrderRequest) -> None:  # runs right before the send
        recorded_when_sent.append(request.client_order_id in store.rows)

    manager.gate = gate
    order = await manager.submit(LIMIT, "i1", "entry")
    assert recorded_when_sent == [True]
    assert order.status is OrderStatus.ACKNOWLEDGED
    assert store.rows[LIMIT.client_order_id].status is OrderStatus.ACKNOWLEDGED
    assert await manager.submit(LIMIT, "i1") is order  # the same intent again: nothing sent
    assert not manager.submit_soon(LIMIT, "i1")
    restarted = OrderManager(venue, store, Portfolio(), Metrics())  # type: ignore[arg-type]
    await restarted.submit(LIMIT, "i1")  # a replayed decision after a restart
    assert venue.sent == [LIMIT]
    assert [o.intent_id for o in manager.open_orders()] == ["i1"]


async def test_a_fill_is_booked_once_and_the_order_s_end_announced_after_it() -> None:
    venue, store, manager = parts()
    ended: list[tuple[OrderStatus, D]] = []
    manager.on_final.append(
        lambda o: ended.append((o.status, manager.portfolio.position("BTCUSDT", o.category).qty))
    )
    order = await manager.submit(MARKET, "i2")
    report = await venue.submit(MARKET)  # the venue's word on it (the stream's order event)
    assert report is not None
    manager.on_order_report(report)
    assert order.status is OrderStatus.FILLED
    assert ended == []  # its fill is not booked yet: the end waits for it
    (fill,) = venue.fills[MARKET.client_order_id]
    assert await manager.on_fill(fill)
    assert not await manager.on_fill(fill)  # the same execution from REST: booked once
    await settle(manager)
    assert ended == [(OrderStatus.FILLED, D("0.010"))]
    assert manager.portfolio.position("BTCUSDT", Category.LINEAR).qty == D("0.010")
    assert store.trades == {fill.trade_id}
    assert not manager.open_orders()


async def test_a_cancel_takes_the_order_off_and_a_failed_one_is_the_error_in_force() -> None:
    venue, store, manager = parts()
    order: ManagedOrder = await manager.submit(LIMIT, "i3")
    venue.fail_next.append(RetryableError(10006, "too many visits", 0.01))  # after the retries
    assert not await manager.cancel(order)
    assert manager.errors.current() == "cancel: ee-limit: 10006: too many visits"
    assert LIMIT.client_order_id in venue.resting
    assert await manager.cancel(order)
    assert manager.errors.current() is None
    assert LIMIT.client_order_id not in venue.resting
    report = venue._placed(LIMIT.client_order_id)
    manager.on_order_report(report)
    await settle(manager)
    assert order.status is OrderStatus.CANCELLED
    assert store.rows[LIMIT.client_order_id].status is OrderStatus.CANCELLED
    assert not manager.open_orders()
