"""The WebSocket op protocol against Bybit's documented replies, with a raw client."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from pv_support import SUB_KEY, SUB_SECRET, RawClient, eventually, load_fixture, shape_mismatches

from paper_venue.clock import Clock
from paper_venue.router.app import PaperVenue
from paper_venue.router.auth import sign


async def recv(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await asyncio.wait_for(ws.receive(), timeout=5)
    assert msg.type is aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


@pytest.mark.integration
async def test_public_ping_subscribe_and_errors(pv: PaperVenue) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{pv.ws_url}/v5/public/linear") as ws:
            await ws.send_str(json.dumps({"op": "ping", "req_id": "p1"}))
            pong = await recv(ws)
            assert shape_mismatches(load_fixture("ws_pong_public_linear"), pong) == []
            assert pong["req_id"] == "p1"
            await ws.send_str(
                json.dumps({"op": "subscribe", "req_id": "s1", "args": ["orderbook.1.BTCUSDT"]})
            )
            reply = await recv(ws)
            assert shape_mismatches(load_fixture("ws_subscribe_linear"), reply) == []
            assert (reply["req_id"], reply["success"]) == ("s1", True)
            snap = await recv(ws)
            assert snap["type"] == "snapshot"
            assert len(snap["data"]["b"]) == 1
            await ws.send_str(
                json.dumps({"op": "subscribe", "req_id": "s2", "args": ["orderbook.7.BTCUSDT"]})
            )
            bad = await recv(ws)
            assert bad["success"] is False
            assert "orderbook.7.BTCUSDT" in bad["ret_msg"]
            await ws.send_str("{not json")
            assert (await recv(ws))["success"] is False
            await ws.send_str(
                json.dumps({"op": "unsubscribe", "req_id": "s1", "args": ["orderbook.1.BTCUSDT"]})
            )
            assert (await recv(ws))["success"] is True
        async with s.ws_connect(f"{pv.ws_url}/v5/public/spot") as ws:
            await ws.send_str(
                json.dumps({"op": "subscribe", "req_id": "10001", "args": ["tickers.BTCUSDT"]})
            )
            assert shape_mismatches(load_fixture("ws_subscribe_spot"), await recv(ws)) == []
            await ws.send_str(json.dumps({"op": "ping"}))
            await recv(ws)  # ticker snapshot
            assert shape_mismatches(load_fixture("ws_pong_public_spot"), await recv(ws)) == []


@pytest.mark.integration
async def test_private_auth_and_ping(pv: PaperVenue) -> None:
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{pv.ws_url}/v5/private") as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["order"]}))
        assert (await recv(ws))["ret_msg"] == "Request not authorized"
        expires = Clock.wall_ms() + 5000
        await ws.send_str(json.dumps({"op": "auth", "args": [SUB_KEY, expires, "ab" * 32]}))
        failed = await recv(ws)
        assert failed["success"] is False
        assert failed["op"] == "auth"
        good = sign(SUB_SECRET, f"GET/realtime{expires}")
        await ws.send_str(json.dumps({"op": "auth", "args": [SUB_KEY, expires, good]}))
        assert shape_mismatches(load_fixture("ws_auth_success"), await recv(ws)) == []
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["order", "wallet"]}))
        assert shape_mismatches(load_fixture("ws_subscribe_private"), await recv(ws)) == []
        await ws.send_str(json.dumps({"op": "ping", "req_id": "test"}))
        pong = await recv(ws)
        assert shape_mismatches(load_fixture("ws_pong_private"), pong) == []


@pytest.mark.integration
async def test_disconnect_cancel_all_after_the_window(pv: PaperVenue, raw: RawClient) -> None:
    assert (await raw.post("/v5/order/disconnected-cancel-all", {"timeWindow": 10}))[1][
        "retCode"
    ] == 0
    body = {
        "category": "linear",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Limit",
        "qty": "0.01",
        "price": "59000",
        "orderLinkId": "dcp-1",
    }
    assert (await raw.post("/v5/order/create", body))[1]["retCode"] == 0
    async with raw.session.ws_connect(f"{pv.ws_url}/v5/private") as ws:
        expires = Clock.wall_ms() + 5000
        await ws.send_str(
            json.dumps(
                {
                    "op": "auth",
                    "args": [SUB_KEY, expires, sign(SUB_SECRET, f"GET/realtime{expires}")],
                }
            )
        )
        await recv(ws)
        await ws.send_str(json.dumps({"op": "subscribe", "args": ["dcp"]}))
        await recv(ws)
    await eventually(lambda: 100001 in pv.venue.dcp_deadlines, what="DCP armed")
    order = pv.venue.find_order(100001, None, "dcp-1")
    assert order is not None
    assert order.status.is_open
    pv.venue.clock.advance(9_000)
    pv.venue.update()
    assert order.status.is_open
    pv.venue.clock.advance(2_000)
    pv.venue.update()
    assert order.status.value == "Cancelled"
    assert order.cancel_type == "CancelAllBeforeDCP"


@pytest.mark.integration
async def test_spot_refuses_more_than_ten_args_per_request(pv: PaperVenue) -> None:
    topics = [f"kline.{i}.BTCUSDT" for i in ("1", "3", "5", "15", "30", "60", "120", "240")]
    topics += ["tickers.BTCUSDT", "tickers.ETHUSDT", "tickers.SOLUSDT"]
    async with aiohttp.ClientSession() as s, s.ws_connect(f"{pv.ws_url}/v5/public/spot") as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "req_id": "big", "args": topics}))
        reply = await recv(ws)
        assert (reply["success"], reply["req_id"]) == (False, "big")
        await ws.send_str(json.dumps({"op": "subscribe", "req_id": "ok", "args": topics[:10]}))
        assert (await recv(ws))["success"] is True


@pytest.mark.integration
async def test_a_later_subscriber_gets_the_current_book(pv: PaperVenue) -> None:
    sub = {"op": "subscribe", "req_id": "a", "args": ["orderbook.50.ETHUSDT"]}
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{pv.ws_url}/v5/public/linear") as ws:
            await ws.send_str(json.dumps(sub))
            await recv(ws)
            first = await recv(ws)
        pv.venue.market.move("ETHUSDT", Decimal("3100"), pv.venue.clock.now_ms())
        pv.venue.update()
        async with s.ws_connect(f"{pv.ws_url}/v5/public/linear") as ws:
            await ws.send_str(json.dumps(sub))
            await recv(ws)
            second = await recv(ws)
    assert first["data"]["b"][0][0] == "3000.00"
    assert second["type"] == "snapshot"
    assert second["data"]["b"][0][0] == "3100.00"


@pytest.mark.integration
async def test_a_held_price_still_closes_its_candles(pv: PaperVenue) -> None:
    """Bybit confirms a candle when its minute ends, traded or not: a paused feed (no price
    change) must not stop the kline stream, or a strategy on candles would never decide."""
    pv.venue.market.pause("BTCUSDT", True, pv.venue.clock.now_ms())
    sub = {"op": "subscribe", "req_id": "k", "args": ["kline.1.BTCUSDT"]}
    async with (
        aiohttp.ClientSession() as s,
        s.ws_connect(f"{pv.ws_url}/v5/public/linear") as ws,
    ):
        await ws.send_str(json.dumps(sub))
        assert (await recv(ws))["success"] is True
        first = await recv(ws)
        assert first["data"][0]["confirm"] is False
        start = first["data"][0]["start"]
        pv.venue.clock.advance(60_000)
        pv.venue.update()
        closed = await recv(ws)
        assert (closed["data"][0]["start"], closed["data"][0]["confirm"]) == (start, True)
        following = await recv(ws)
        assert following["data"][0]["start"] == start + 60_000
        assert following["data"][0]["confirm"] is False
