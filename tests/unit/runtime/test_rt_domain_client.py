"""The domain client over a scripted raw client: 110072 is "already placed", storms are retried."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import (
    DuplicateOrderError,
    RejectedError,
    RetryableError,
)
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId

pytestmark = pytest.mark.unit

ROW = {"orderId": "v1", "orderLinkId": "ee-1", "symbol": "BTCUSDT", "side": "Buy",
       "orderType": "Limit", "orderStatus": "New", "qty": "0.01", "price": "50000",
       "cumExecQty": "0", "avgPrice": ""}  # fmt: skip
REQUEST = OrderRequest(
    ClientOrderId("ee-1"),
    "BTCUSDT",
    Category.LINEAR,
    OrderSide.BUY,
    OrderType.LIMIT,
    Decimal("0.01"),
    Decimal("50000"),
)


class ScriptedRaw:
    def __init__(self, *answers: Any) -> None:
        self.answers = list(answers)
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        async def call(**params: Any) -> Any:
            self.calls.append(name)
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            return answer

        return call


async def test_duplicate_order_link_id_returns_the_venue_order() -> None:
    raw = ScriptedRaw(DuplicateOrderError(110072, "dup"), {"list": [ROW]})
    report = await BybitDomainClient(raw).submit(REQUEST)  # type: ignore[arg-type]
    assert report is not None
    assert report.status is OrderStatus.ACKNOWLEDGED
    assert report.venue_order_id == "v1"
    assert raw.calls == ["place_order", "get_open_orders"]


async def test_rate_limit_storm_is_retried_then_placed() -> None:
    storm = [RetryableError(10006, "too many", 0.01) for _ in range(3)]
    raw = ScriptedRaw(*storm, {"orderId": "v1", "orderLinkId": "ee-1"})
    errors: list[int] = []
    client = BybitDomainClient(raw, on_error=lambda e: errors.append(e.code))  # type: ignore[arg-type]
    assert await client.submit(REQUEST) is None
    assert errors == [10006, 10006, 10006]
    assert raw.calls == ["place_order"] * 4


async def test_a_rejection_is_not_retried() -> None:
    raw = ScriptedRaw(RejectedError(10001, "bad qty"))
    with pytest.raises(RejectedError):
        await BybitDomainClient(raw).submit(REQUEST)  # type: ignore[arg-type]
    assert raw.calls == ["place_order"]
