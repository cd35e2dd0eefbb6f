"""Rate limits with Bybit's headers, and the admin API: faults, prices, clock, accounts,
snapshots."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from pv_support import (
    ADMIN,
    SUB_KEY,
    SUB_SECRET,
    SUB_UID,
    RawClient,
    eventually,
    pybit_http,
    settings,
)
from pybit.exceptions import FailedRequestError
from pybit.unified_trading import HTTP

from paper_venue.clock import Clock, ClockMode
from paper_venue.router.app import PaperVenue

GOOD = {
    "category": "linear",
    "symbol": "BTCUSDT",
    "side": "Buy",
    "orderType": "Limit",
    "qty": "0.01",
    "price": "59000",
}


async def admin(raw: RawClient, path: str, body: dict[str, Any] | None = None) -> Any:
    async with raw.session.post(f"{raw.base}/admin/{path}", json=body or {}, headers=ADMIN) as r:
        assert r.status == 200, await r.text()
        return await r.json()


@pytest.fixture
async def limited() -> AsyncIterator[PaperVenue]:
    venue = PaperVenue(
        settings(rate_limits={"overrides": {"/v5/order/realtime": 3}}), Clock(ClockMode.STEPPED)
    )
    await venue.start()
    yield venue
    await venue.stop()


@pytest.mark.integration
async def test_rate_limit_answers_10006_with_headers(limited: PaperVenue) -> None:
    async with aiohttp.ClientSession() as session:
        raw = RawClient(
            limited.http_url, session, "PAPERSUBKEY0001", "PAPERSUBSECRET000000000000000001"
        )
        answers = []
        for _ in range(8):
            answers.append(await raw.get("/v5/order/realtime", "category=spot"))
            if answers[-1][1]["retCode"] == 10006:
                break
    codes = [a[1]["retCode"] for a in answers]
    assert 10006 in codes
    assert codes[0] == 0
    _, body, headers = answers[-1]
    assert body["retMsg"] == "Too many visits. Exceeded the API Rate Limit."
    assert headers["X-Bapi-Limit"] == "3"
    assert headers["X-Bapi-Limit-Status"] == "0"
    assert int(headers["X-Bapi-Limit-Reset-Timestamp"]) > Clock.wall_ms() - 1000
    assert answers[0][2]["X-Bapi-Limit-Status"] == "2"


@pytest.mark.integration
async def test_injected_storm_5xx_and_latency(
    pv: PaperVenue, raw: RawClient, sub_http: HTTP
) -> None:
    await admin(raw, "faults", {"rate_limit_storm": 2})
    first = await raw.post("/v5/order/create", GOOD)
    assert first[1]["retCode"] == 10006
    assert "X-Bapi-Limit-Reset-Timestamp" in first[2]
    assert (await raw.post("/v5/order/create", GOOD))[1]["retCode"] == 10006
    assert (await raw.post("/v5/order/create", GOOD))[1]["retCode"] == 0
    await admin(raw, "faults", {"http_5xx": 1})
    with pytest.raises(FailedRequestError) as err:
        await asyncio.to_thread(sub_http.get_wallet_balance, accountType="UNIFIED")
    assert err.value.status_code == 503
    await admin(raw, "faults", {"latency_ms": 150})
    started = time.monotonic()
    assert (await raw.get("/v5/market/time"))[1]["retCode"] == 0
    assert time.monotonic() - started >= 0.15
    cleared = await admin(raw, "faults/clear")
    assert cleared["latency_ms"] == 0


@pytest.mark.integration
async def test_price_move_pause_and_stepped_clock(pv: PaperVenue, raw: RawClient) -> None:
    await raw.post("/v5/order/create", {**GOOD, "orderLinkId": "rest-1"})
    moved = await admin(raw, "price", {"symbol": "BTCUSDT", "price": "58000"})
    assert moved["price"] == "58000"
    order = pv.venue.find_order(SUB_UID, None, "rest-1")
    assert order is not None
    assert order.status.value == "Filled"
    await admin(raw, "feed/pause", {"symbol": "BTCUSDT"})
    before = pv.venue.clock.now_ms()
    advanced = await admin(raw, "clock/advance", {"ms": 60_000, "step_ms": 10_000})
    assert advanced == {"now_ms": before + 60_000, "steps": 6}
    async with raw.session.get(f"{raw.base}/admin/state", headers=ADMIN) as r:
        state = await r.json()
    assert state["paused"] == ["BTCUSDT"]
    assert state["prices"]["BTCUSDT"] == "58000"


@pytest.mark.integration
async def test_admin_creates_a_subaccount_that_trades(pv: PaperVenue, raw: RawClient) -> None:
    made = await admin(raw, "accounts", {"username": "engine-7", "balances": {"USDT": "5000"}})
    client = pybit_http(pv, made["api_key"], made["api_secret"])
    placed = await asyncio.to_thread(
        client.place_order,
        category="spot",
        symbol="ETHUSDT",
        side="Buy",
        orderType="Market",
        qty="100",
    )
    assert placed["retCode"] == 0
    assert pv.venue.account(made["uid"]).balance("ETH") > 0
    async with raw.session.post(
        f"{raw.base}/admin/accounts", json={"username": "engine-7"}, headers=ADMIN
    ) as r:
        assert r.status == 400


@pytest.mark.integration
async def test_snapshot_and_restore_over_admin(pv: PaperVenue, raw: RawClient) -> None:
    await raw.post("/v5/order/create", {**GOOD, "orderLinkId": "snap-1"})
    saved = await admin(raw, "snapshot", {"path": "venue.json"})
    assert saved["file"] == str(pv.data_dir.resolve() / "venue.json")
    assert (pv.data_dir / "venue.json").stat().st_mode & 0o777 == 0o600
    await raw.post(
        "/v5/order/cancel", {"category": "linear", "symbol": "BTCUSDT", "orderLinkId": "snap-1"}
    )
    await admin(raw, "restore", {"path": "venue.json"})
    order = pv.venue.find_order(SUB_UID, None, "snap-1")
    assert order is not None
    assert order.status.is_open
    listed = await raw.get("/v5/order/realtime", "category=linear&symbol=BTCUSDT")
    assert [o["orderLinkId"] for o in listed[1]["result"]["list"]] == ["snap-1"]


@pytest.mark.integration
async def test_dropped_websockets_are_reconnected_by_pybit(
    pv: PaperVenue, raw: RawClient, pybit_ws: Any
) -> None:
    got: list[dict[str, Any]] = []
    ws = await pybit_ws("linear")
    await asyncio.to_thread(ws.ticker_stream, "BTCUSDT", got.append)
    await eventually(lambda: bool(got), what="first ticker")
    dropped = await admin(raw, "ws/drop")
    assert dropped["dropped"] == 1
    await eventually(
        lambda: len(pv.sockets.connections) == 1 and ws.is_connected(), what="reconnect"
    )
    await admin(raw, "price", {"symbol": "BTCUSDT", "price": "61000"})
    await eventually(
        lambda: ws.data.get("tickers.BTCUSDT", {}).get("lastPrice") == "61000.00",
        what="ticker after reconnect",
    )


@pytest.mark.integration
async def test_accelerated_clock_runs_funding_on_its_own() -> None:
    venue = PaperVenue(
        settings(
            clock={"mode": "accelerated", "speed": 200_000, "tick_interval_ms": 20},
            feed={"kind": "scripted", "backfill_minutes": 1},
        )
    )
    pos_uid = SUB_UID
    await venue.start()
    try:
        async with aiohttp.ClientSession() as session:
            raw = RawClient(
                venue.http_url, session, "PAPERSUBKEY0001", "PAPERSUBSECRET000000000000000001"
            )
            body = {
                "category": "linear",
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Market",
                "qty": "0.01",
            }
            assert (await raw.post("/v5/order/create", body))[1]["retCode"] == 0
            await eventually(
                lambda: bool(venue.venue.funding_history["BTCUSDT"]), within=10, what="funding"
            )
            executions = await raw.get("/v5/execution/list", "category=linear&execType=Funding")
        rows = executions[1]["result"]["list"]
        assert rows
        assert rows[0]["execType"] == "Funding"
        assert rows[0]["feeRate"] == "0.0001"
        assert venue.venue.account(pos_uid).cum_realised["USDT"] < 0
    finally:
        await venue.stop()


@pytest.mark.integration
async def test_state_survives_a_restart_through_snapshot_path(tmp_path: Path) -> None:
    path = tmp_path / "venue-state.json"
    first = PaperVenue(settings(snapshot_path=str(path)), Clock(ClockMode.STEPPED))
    await first.start()
    async with aiohttp.ClientSession() as session:
        raw = RawClient(first.http_url, session, SUB_KEY, SUB_SECRET)
        assert (await raw.post("/v5/order/create", {**GOOD, "orderLinkId": "survivor"}))[1][
            "retCode"
        ] == 0
    await first.stop()
    assert path.exists()
    second = PaperVenue(settings(snapshot_path=str(path)), Clock(ClockMode.STEPPED))
    await second.start()
    try:
        async with aiohttp.ClientSession() as session:
            raw = RawClient(second.http_url, session, SUB_KEY, SUB_SECRET)
            listed = await raw.get("/v5/order/realtime", "category=linear&symbol=BTCUSDT")
        assert [o["orderLinkId"] for o in listed[1]["result"]["list"]] == ["survivor"]
    finally:
        await second.stop()
