"""An order's final event waits for its fills to be booked, or for the REST lookup after a wait."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from engine_runtime.execution.fill_gate import FillGate
from engine_runtime.execution.orders import ManagedOrder
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId

pytestmark = pytest.mark.unit


def filled(qty: str = "0.02") -> ManagedOrder:
    request = OrderRequest(
        ClientOrderId("ee-1"), "BTCUSDT", Category.LINEAR, OrderSide.BUY, OrderType.MARKET, D(qty)
    )
    order = ManagedOrder.from_request(request, "i-1", "test", 0)
    order.status, order.filled_qty = OrderStatus.FILLED, D(qty)
    return order


class Recorder:
    def __init__(self, wait_s: float = 60.0) -> None:
        self.announced: list[ManagedOrder] = []
        self.late: list[ManagedOrder] = []
        self.gate = FillGate(self.announced.append, self.late.append, wait_s)


async def test_an_order_whose_fills_are_booked_is_announced_at_once() -> None:
    r = Recorder()
    order = filled()
    order.booked_qty = D("0.02")  # the executions came first
    r.gate.final(order)
    assert r.announced == [order]
    assert r.gate.held() == []


async def test_a_filled_order_is_held_until_its_last_fill_is_booked() -> None:
    r = Recorder()
    order = filled()
    r.gate.final(order)
    assert (r.announced, r.gate.held()) == ([], [order])
    order.booked_qty = D("0.01")
    r.gate.booked(order)
    assert (r.announced, r.gate.held()) == ([], [order])  # one of two fills
    order.booked_qty = D("0.02")
    r.gate.booked(order)
    assert (r.announced, r.gate.held()) == ([order], [])
    r.gate.booked(order)  # a repeat announces nothing more
    assert r.announced == [order]


async def test_a_cancelled_order_without_fills_is_not_held() -> None:
    r = Recorder()
    order = filled()
    order.status, order.filled_qty = OrderStatus.CANCELLED, D(0)
    r.gate.final(order)
    assert r.announced == [order]


async def test_fills_that_do_not_come_are_looked_up_then_the_event_goes_out() -> None:
    r = Recorder(wait_s=0.05)
    order = filled()
    r.gate.final(order)
    await asyncio.sleep(0.2)
    assert r.late == [order]  # the REST lookup is asked for once
    assert r.gate.held() == [order]  # and the order counts as working meanwhile
    r.gate.release(order)  # after the lookup, whatever it found
    assert (r.announced, r.gate.held()) == ([order], [])
    r.gate.release(order)
    assert r.announced == [order]


async def test_booked_in_time_no_lookup() -> None:
    r = Recorder(wait_s=0.05)
    order = filled()
    r.gate.final(order)
    order.booked_qty = D("0.02")
    r.gate.booked(order)
    await asyncio.sleep(0.2)
    assert (r.announced, r.late) == ([order], [])
