"""Faults of the private execution stream: executions held back, or lost, while the order stream
is on time (the REST history still has them)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import pytest
from pv_support import SUB_KEY, SUB_SECRET, RawClient

from paper_venue.clock import Clock
from paper_venue.router.app import PaperVenue
from paper_venue.router.auth import sign
from support.venue_admin import ADMIN_HEADERS

pytestmark = pytest.mark.integration


async def _topic_messages(ws: aiohttp.ClientWebSocketResponse, within_s: float) -> list[Any]:
    """(topic, arrival in monotonic seconds) of the order and execution messages until quiet."""
    out = []
    while True:
        try:
            msg = await asyncio.wait_for(ws.receive(), timeout=within_s)
        except TimeoutError:
            return out
        data = json.loads(msg.data)
        if data.get("topic") in ("order", "execution"):
            out.append((data["topic"], time.monotonic(), data["data"]))


async def _private(raw: RawClient, pv: PaperVenue) -> aiohttp.ClientWebSocketResponse:
    ws = await raw.session.ws_connect(f"{pv.ws_url}/v5/private")
    expires = Clock.wall_ms() + 5000
    auth = [SUB_KEY, expires, sign(SUB_SECRET, f"GET/realtime{expires}")]
    await ws.send_str(json.dumps({"op": "auth", "args": auth}))
    await ws.receive()
    await ws.send_str(json.dumps({"op": "subscribe", "args": ["order", "execution"]}))
    await ws.receive()
    return ws


async def _buy(raw: RawClient, link: str) -> None:
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
            "qty": "0.01", "orderLinkId": link}  # fmt: skip
    assert (await raw.post("/v5/order/create", body))[1]["retCode"] == 0


async def _faults(raw: RawClient, body: dict[str, Any]) -> None:
    async with raw.session.post(f"{raw.base}/admin/faults", json=body,
                                headers=ADMIN_HEADERS) as answer:  # fmt: skip
        assert answer.status == 200, await answer.text()


async def test_dropped_executions_are_lost_on_the_stream_only(
    pv: PaperVenue, raw: RawClient
) -> None:
    ws = await _private(raw, pv)
    await _faults(raw, {"drop_executions": 1})
    await _buy(raw, "lost-1")
    await _buy(raw, "kept-2")
    seen = await _topic_messages(ws, 1.0)
    await ws.close()
    links = [(topic, rows[0]["orderLinkId"]) for topic, _, rows in seen]
    assert ("order", "lost-1") in links
    assert ("execution", "lost-1") not in links
    assert ("execution", "kept-2") in links
    history = (await raw.get("/v5/execution/list", "category=linear&orderLinkId=lost-1"))[1]
    assert len(history["result"]["list"]) == 1


async def test_delayed_executions_come_after_their_order(pv: PaperVenue, raw: RawClient) -> None:
    ws = await _private(raw, pv)
    await _faults(raw, {"execution_delay_ms": 600})
    await _buy(raw, "late-1")
    seen = await _topic_messages(ws, 1.5)
    await ws.close()
    arrived = {topic: at for topic, at, _ in seen}
    assert set(arrived) == {"order", "execution"}
    assert arrived["execution"] - arrived["order"] >= 0.5
    async with raw.session.post(f"{raw.base}/admin/faults/clear", json={},
                                headers=ADMIN_HEADERS) as answer:  # fmt: skip
        assert (await answer.json())["execution_delay_ms"] == 0
