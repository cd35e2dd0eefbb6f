"""Instrument filters before sending, deterministic orderLinkIds, and parsing of venue rows."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eternal_kernel.bybit import parsing
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, client_order_id
from eternal_kernel.model.instruments import FilterError, Instrument

pytestmark = pytest.mark.unit

BTC = Instrument(
    "BTCUSDT", Category.LINEAR, "BTC", "USDT", D("0.10"), D("0.001"), D("0.001"), D("100"), D("5")
)


def test_prices_round_to_the_tick_never_worse_for_us() -> None:
    assert BTC.round_price(D("60000.17"), OrderSide.BUY) == D("60000.1")
    assert BTC.round_price(D("60000.11"), OrderSide.SELL) == D("60000.2")
    assert BTC.round_price(D("60000.2"), OrderSide.SELL) == D("60000.2")


def test_quantities_round_down_to_the_step_and_limits_refuse() -> None:
    assert BTC.round_qty(D("0.0129")) == D("0.012")
    with pytest.raises(FilterError, match="below the minimum"):
        BTC.check(BTC.round_qty(D("0.0009")), None, D("60000"))
    with pytest.raises(FilterError, match="notional"):
        BTC.check(D("0.001"), D("1000"), None)
    with pytest.raises(FilterError, match="maximum"):
        BTC.check(D("101"), D("60000"), None)
    BTC.check(D("0.001"), None, D("60000"))


def test_client_order_ids_are_deterministic_and_fit_bybit() -> None:
    assert client_order_id("ns/a", "ee-0123abc") == "ee-0123abc"
    long = "x" * 80
    first, again = client_order_id("ns/a", long), client_order_id("ns/a", long)
    assert first == again
    assert len(first) <= 36
    assert first != client_order_id("ns/b", long)
    assert client_order_id("ns/a", "bad id!") != client_order_id("ns/a", "bad id?")


def test_order_request_parameters() -> None:
    limit = OrderRequest(
        ClientOrderId("ee-1"),
        "BTCUSDT",
        Category.LINEAR,
        OrderSide.BUY,
        OrderType.LIMIT,
        D("0.010"),
        D("60000.0"),
        post_only=True,
        reduce_only=True,
    )
    assert limit.params() == {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.010",
        "orderLinkId": "ee-1",
        "price": "60000.0",
        "timeInForce": "PostOnly",
        "reduceOnly": True,
    }
    spot = OrderRequest(
        ClientOrderId("ee-2"),
        "BTCUSDT",
        Category.SPOT,
        OrderSide.BUY,
        OrderType.MARKET,
        D("50"),
        quote_qty=True,
    )
    assert spot.params()["marketUnit"] == "quoteCoin"
    assert "price" not in spot.params()


def test_parsing_maps_bybit_statuses_and_numbers() -> None:
    row = {
        "orderId": "1",
        "orderLinkId": "ee-1",
        "symbol": "BTCUSDT",
        "side": "Sell",
        "orderType": "Limit",
        "orderStatus": "PartiallyFilledCanceled",
        "qty": "0.02",
        "price": "61000",
        "cumExecQty": "0.01",
        "avgPrice": "61000",
        "category": "linear",
        "updatedTime": "1700000000000",
    }
    report = parsing.order_report(row)
    assert report.status is OrderStatus.CANCELLED
    assert report.filled_qty == D("0.01")
    assert parsing.order_report({**row, "orderStatus": "New", "avgPrice": ""}).avg_price is None
    inst = parsing.instrument(
        {"symbol": "BTCUSDT", "baseCoin": "BTC", "quoteCoin": "USDT",
         "priceFilter": {"tickSize": "0.1"},
         "lotSizeFilter": {"basePrecision": "0.000001", "minOrderQty": "0.000048",
                           "maxOrderQty": "71", "minOrderAmt": "1"}},
        Category.SPOT,
    )  # fmt: skip
    assert inst.qty_step == D("0.000001")
    assert inst.min_notional == D("1")
    wallet = parsing.wallet_report(
        {
            "totalEquity": "10000.5",
            "coin": [
                {"coin": "USDT", "walletBalance": "10000", "free": "9000", "equity": "10000.5"}
            ],
        }
    )
    assert wallet.total_equity == D("10000.5")
    assert wallet.cash == D("9000")
