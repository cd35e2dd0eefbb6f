"""A cancel that overtakes its order's create: the venue does not know the order yet, so the
cancel is sent again once the venue reports the order open (a grid's recentre left orders of
the old ladder resting otherwise)."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from engine_runtime.execution.manager import OrderManager
from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, VenueOrderId
from eternal_kernel.model.reports import OrderStatusReport

pytestmark = pytest.mark.unit
LINK = ClientOrderId("ee-1")


class Venue:
    """Answers cancels as Bybit does: False (order not found) until the order exists."""

    def __init__(self) -> None:
        self.known = False
        self.cancels: list[bool] = []

    async def cancel(self, category: Category, symbol: str, link: str) -> bool:
        self.cancels.append(self.known)
        return self.known


class Store:
    async def update_order(self, order: ManagedOrder) -> None:
        return None


def order(status: OrderStatus) -> ManagedOrder:
    o = ManagedOrder(LINK, "i", "BTCUSDT", Category.LINEAR, OrderSide.BUY, OrderType.LIMIT,
                     D("0.01"), D(100), post_only=True)  # fmt: skip
    o.status = status
    return o


def report(status: OrderStatus) -> OrderStatusReport:
    return OrderStatusReport(LINK, VenueOrderId("v1"), "BTCUSDT", Category.LINEAR, OrderSide.BUY,
                             OrderType.LIMIT, status, D("0.01"), D(100), D(0), None, False, "",
                             1)  # fmt: skip


def manager(venue: Venue) -> OrderManager:
    return OrderManager(venue, Store(), Portfolio(), Metrics())  # type: ignore[arg-type]


def test_a_cancel_before_the_venue_knows_the_order_is_sent_again_when_it_appears() -> None:
    async def scenario() -> list[bool]:
        venue = Venue()
        m = manager(venue)
        o = m.orders[LINK] = order(OrderStatus.SUBMITTED)
        assert await m.cancel(o)  # overtook the create: "order not exists"
        venue.known = True
        m.on_order_report(report(OrderStatus.ACKNOWLEDGED))  # the create lands
        await asyncio.sleep(0)
        await asyncio.gather(*m._tasks)
        return venue.cancels

    assert asyncio.run(scenario()) == [False, True]


def test_a_cancel_of_an_order_the_venue_already_finished_is_not_repeated() -> None:
    async def scenario() -> list[bool]:
        venue = Venue()
        m = manager(venue)
        o = m.orders[LINK] = order(OrderStatus.ACKNOWLEDGED)  # known, then filled meanwhile
        assert await m.cancel(o)
        m.on_order_report(report(OrderStatus.FILLED))
        await asyncio.sleep(0)
        await asyncio.gather(*m._tasks)
        return venue.cancels

    assert asyncio.run(scenario()) == [False]
