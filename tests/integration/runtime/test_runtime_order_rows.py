"""Order rows under concurrent writes (real PostgreSQL): the newest state is the one that stays."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable
from decimal import Decimal as D

import pytest

from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.persistence.store import Store
from engine_runtime.portfolio.positions import Position
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, TradeId, VenueOrderId
from eternal_kernel.model.reports import FillReport

pytestmark = pytest.mark.integration

ORDERS = 80
STEPS = (  # (status, filled, written with a fill booked in the same transaction)
    (OrderStatus.ACKNOWLEDGED, D("0"), False),
    (OrderStatus.PARTIALLY_FILLED, D("0.01"), True),
    (OrderStatus.PARTIALLY_FILLED, D("0.03"), False),
    (OrderStatus.FILLED, D("0.05"), True),
)


def _order(i: int) -> ManagedOrder:
    request = OrderRequest(
        ClientOrderId(f"ee-row-{i}"), "BTCUSDT", Category.LINEAR, OrderSide.BUY,
        OrderType.LIMIT, D("0.05"), D("60000"),
    )  # fmt: skip
    return ManagedOrder.from_request(request, f"intent-{i}", "test", 1_700_000_000_000)


def _fill(order: ManagedOrder, step: int) -> FillReport:
    return FillReport(
        TradeId(f"{order.client_order_id}-t{step}"), order.client_order_id, VenueOrderId("v"),
        order.symbol, order.category, order.side, D("0.01"), D("60000"), D("0"), "USDT", True,
        1_700_000_000_000 + step,
    )  # fmt: skip


async def test_concurrent_writes_of_an_order_leave_its_newest_state(postgres: str) -> None:
    store = await Store.connect(postgres, f"ns/{secrets.token_hex(3)}")
    position = Position("BTCUSDT", Category.LINEAR, D("0.01"), D("60000"))
    try:
        orders = [_order(i) for i in range(ORDERS)]
        for order in orders:
            assert await store.insert_order(order)
        writes: list[asyncio.Task[object]] = []
        for order in orders:
            for step, (status, filled, with_fill) in enumerate(STEPS):
                # As the order manager does: the state changes, a write leaves as a task and
                # takes its snapshot when it runs, and the next report arrives meanwhile.
                order.status, order.filled_qty = status, filled
                write: Awaitable[object] = (
                    store.book_fill(_fill(order, step), order, position, None)
                    if with_fill
                    else store.update_order(order)
                )
                writes.append(asyncio.ensure_future(write))
                await asyncio.sleep(0)
        await asyncio.gather(*writes)
        rows = await store.load_orders(open_only=False)
        assert len(rows) == ORDERS
        stale = [(r.client_order_id, r.status, r.filled_qty) for r in rows
                 if (r.status, r.filled_qty) != (OrderStatus.FILLED, D("0.05"))]  # fmt: skip
        assert stale == []
        assert {r.version for r in rows} == {len(STEPS)}
        assert {r.booked_qty for r in rows} == {D("0.02")}  # the two fills booked with them
    finally:
        await store.close()
