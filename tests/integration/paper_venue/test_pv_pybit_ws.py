"""pybit's WebSocket client, with its URL templates pointed at the venue: public and
private streams, checked against Bybit's documented stream examples."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

import pytest
from pv_support import SUB_KEY, SUB_SECRET, eventually, load_fixture, shape_mismatches
from pybit.unified_trading import HTTP, WebSocket

from paper_venue.router.app import PaperVenue

MakeWs = Callable[..., Awaitable[WebSocket]]


def by_topic(messages: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    return [m for m in messages if str(m.get("topic", "")).startswith(prefix)]


@pytest.mark.integration
async def test_public_linear_streams(pv: PaperVenue, pybit_ws: MakeWs, sub_http: HTTP) -> None:
    got: list[dict[str, Any]] = []
    ws = await pybit_ws("linear")
    await asyncio.to_thread(ws.orderbook_stream, 50, "BTCUSDT", got.append)
    await asyncio.to_thread(ws.ticker_stream, "BTCUSDT", got.append)
    await asyncio.to_thread(ws.trade_stream, "BTCUSDT", got.append)
    await asyncio.to_thread(ws.kline_stream, 1, "BTCUSDT", got.append)
    await eventually(
        lambda: by_topic(got, "orderbook") and by_topic(got, "tickers") and by_topic(got, "kline"),
        what="initial snapshots",
    )
    await asyncio.to_thread(
        sub_http.place_order,
        category="linear",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Market",
        qty="0.01",
    )
    pv.venue.market.move("BTCUSDT", Decimal("60500"), pv.venue.clock.now_ms())
    pv.venue.update()
    await eventually(
        lambda: (
            len(by_topic(got, "orderbook")) >= 2
            and by_topic(got, "publicTrade")
            and len(by_topic(got, "tickers")) >= 2
        ),
        what="updates",
    )
    book = by_topic(got, "orderbook")[-1]
    assert shape_mismatches(load_fixture("ws_orderbook"), book) == []
    assert Decimal(book["data"]["b"][0][0]) == Decimal("60500.00")
    assert shape_mismatches(load_fixture("ws_ticker_linear"), by_topic(got, "tickers")[-1]) == []
    assert by_topic(got, "tickers")[-1]["data"]["lastPrice"] == "60500.00"
    trade = by_topic(got, "publicTrade")[0]
    assert shape_mismatches(load_fixture("ws_public_trade"), trade) == []
    assert (trade["data"][0]["S"], trade["data"][0]["v"]) == ("Buy", "0.010")
    assert shape_mismatches(load_fixture("ws_kline"), by_topic(got, "kline")[-1]) == []


@pytest.mark.integration
async def test_public_spot_ticker_is_always_a_snapshot(pv: PaperVenue, pybit_ws: MakeWs) -> None:
    got: list[dict[str, Any]] = []
    ws = await pybit_ws("spot")
    await asyncio.to_thread(ws.ticker_stream, "ETHUSDT", got.append)
    await eventually(lambda: bool(got), what="snapshot")
    pv.venue.market.move("ETHUSDT", Decimal("3050"), pv.venue.clock.now_ms())
    pv.venue.update()
    await eventually(lambda: len(got) >= 2, what="second ticker")
    assert all(shape_mismatches(load_fixture("ws_ticker_spot"), m) == [] for m in got)
    assert got[-1]["data"]["lastPrice"] == "3050.00"


@pytest.mark.integration
async def test_private_streams_follow_an_order(
    pv: PaperVenue, pybit_ws: MakeWs, sub_http: HTTP
) -> None:
    got: list[dict[str, Any]] = []
    ws = await pybit_ws("private", api_key=SUB_KEY, api_secret=SUB_SECRET)
    for stream in (ws.order_stream, ws.execution_stream, ws.position_stream, ws.wallet_stream):
        await asyncio.to_thread(stream, got.append)
    wanted = {"order", "execution", "position", "wallet"}
    await eventually(
        lambda: ws.auth and any(c.topics >= wanted for c in pv.sockets.connections),
        what="auth and subscriptions",
    )
    await asyncio.to_thread(
        sub_http.place_order,
        category="linear",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Market",
        qty="0.01",
        orderLinkId="ws-1",
    )
    await eventually(
        lambda: all(by_topic(got, t) for t in ("order", "execution", "position", "wallet")),
        what="private messages",
    )
    for topic in ("order", "execution", "position", "wallet"):
        msg = by_topic(got, topic)[0]
        assert shape_mismatches(load_fixture(f"ws_{topic}"), msg) == [], topic
    order = by_topic(got, "order")[0]["data"][0]
    assert (order["orderLinkId"], order["orderStatus"]) == ("ws-1", "Filled")
    assert by_topic(got, "position")[0]["data"][0]["size"] == "0.010"
