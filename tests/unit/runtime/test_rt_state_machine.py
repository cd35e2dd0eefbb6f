"""The order state machine and the order's view of venue reports."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine_runtime.execution.orders import ManagedOrder
from engine_runtime.execution.state import can_transition, is_stale, next_status
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, VenueOrderId
from eternal_kernel.model.reports import OrderStatusReport

pytestmark = pytest.mark.unit
S = OrderStatus


@pytest.mark.parametrize(
    ("path", "end"),
    [
        ([S.SUBMITTED, S.ACKNOWLEDGED, S.PARTIALLY_FILLED, S.FILLED], S.FILLED),
        ([S.SUBMITTED, S.REJECTED], S.REJECTED),
        ([S.SUBMITTED, S.ACKNOWLEDGED, S.CANCELLED], S.CANCELLED),
        ([S.SUBMITTED, S.FILLED], S.FILLED),  # a market order's fill outruns its ack
        ([S.ACKNOWLEDGED, S.PARTIALLY_FILLED, S.PARTIALLY_FILLED, S.CANCELLED], S.CANCELLED),
    ],
)
def test_lifecycles(path: list[OrderStatus], end: OrderStatus) -> None:
    status = S.CREATED
    for step in path:
        status = next_status(status, step)
    assert status is end


def test_late_reports_are_stale_and_final_states_stay_final() -> None:
    assert next_status(S.PARTIALLY_FILLED, S.ACKNOWLEDGED) is S.PARTIALLY_FILLED
    assert next_status(S.FILLED, S.CANCELLED) is S.FILLED
    assert next_status(S.CANCELLED, S.ACKNOWLEDGED) is S.CANCELLED
    assert is_stale(S.FILLED, S.PARTIALLY_FILLED)
    assert not can_transition(S.ACKNOWLEDGED, S.REJECTED)
    assert not can_transition(S.FILLED, S.FILLED)


@pytest.mark.parametrize("status", [s for s in S if not s.is_final])
def test_the_same_status_again_is_no_move(status: OrderStatus) -> None:
    assert next_status(status, status) is status


def test_a_resend_of_a_submitted_order_changes_nothing() -> None:
    order = _order()
    assert order.set_status(S.SUBMITTED)
    assert not order.set_status(S.SUBMITTED)  # resent after a crash or reconnect
    assert order.status is S.SUBMITTED


def _order() -> ManagedOrder:
    request = OrderRequest(
        ClientOrderId("ee-1"),
        "BTCUSDT",
        Category.LINEAR,
        OrderSide.BUY,
        OrderType.LIMIT,
        Decimal("0.02"),
        Decimal("100"),
    )
    return ManagedOrder.from_request(request, "i-1", "test", 0)


def _report(status: OrderStatus, filled: str, price: str = "100") -> OrderStatusReport:
    return OrderStatusReport(
        ClientOrderId("ee-1"),
        VenueOrderId("v-1"),
        "BTCUSDT",
        Category.LINEAR,
        OrderSide.BUY,
        OrderType.LIMIT,
        status,
        Decimal("0.02"),
        Decimal(price),
        Decimal(filled),
        Decimal("100") if filled != "0" else None,
        False,
        "",
        1,
    )


def test_order_takes_venue_reports_in_order_and_ignores_stale_ones() -> None:
    order = _order()
    assert order.apply(_report(S.ACKNOWLEDGED, "0", "99"))
    assert order.price == Decimal("99")
    assert order.venue_order_id == "v-1"
    assert order.apply(_report(S.PARTIALLY_FILLED, "0.01"))
    assert not order.apply(_report(S.ACKNOWLEDGED, "0"))  # late: changes nothing
    assert order.apply(_report(S.FILLED, "0.02"))
    assert order.status is S.FILLED
    assert order.filled_qty == Decimal("0.02")
    assert not order.is_open
