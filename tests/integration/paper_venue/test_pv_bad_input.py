"""Bad input gets Bybit's code and a message: never a 500, never a hang, never a change."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pv_support import SUB_UID, RawClient, load_fixture, shape_mismatches

from paper_venue.clock import Clock
from paper_venue.router.app import PaperVenue

GOOD = {
    "category": "linear",
    "symbol": "BTCUSDT",
    "side": "Buy",
    "orderType": "Limit",
    "qty": "0.01",
    "price": "59000",
}


def state(pv: PaperVenue) -> tuple[Any, ...]:
    acct = pv.venue.account(SUB_UID)
    return (
        dict(acct.unified),
        dict(acct.fund),
        len(pv.venue.orders),
        len(pv.venue.transfers),
        {s: p.size for s, p in acct.positions.items()},
    )


CASES: list[tuple[str, Any, int]] = [
    ("malformed json", '{"category": "linear",', 10001),
    ("json array", "[1, 2]", 10001),
    ("missing side", {k: v for k, v in GOOD.items() if k != "side"}, 10001),
    ("extra parameter", {**GOOD, "leverageX": "5"}, 10001),
    ("qty as number", {**GOOD, "qty": 0.01}, 10001),
    ("reduceOnly as string", {**GOOD, "reduceOnly": "yes"}, 10001),
    ("negative qty", {**GOOD, "qty": "-0.01"}, 10001),
    ("zero qty", {**GOOD, "qty": "0"}, 10001),
    ("nan qty", {**GOOD, "qty": "NaN"}, 10001),
    ("price off tick", {**GOOD, "price": "59000.05"}, 10001),
    ("unknown symbol", {**GOOD, "symbol": "FOOUSDT"}, 10001),
    ("unknown category", {**GOOD, "category": "futures"}, 10001),
    ("bad side", {**GOOD, "side": "buy"}, 10001),
    ("spot price off tick", {**GOOD, "category": "spot", "price": "59000.005"}, 170134),
    ("conditional order", {**GOOD, "triggerPrice": "61000"}, 10001),
    ("hedge mode index", {**GOOD, "positionIdx": 1}, 10001),
    ("bad orderLinkId", {**GOOD, "orderLinkId": "has spaces"}, 10001),
]


@pytest.mark.integration
@pytest.mark.parametrize(("name", "body", "code"), CASES, ids=[c[0] for c in CASES])
async def test_bad_order_input(
    pv: PaperVenue, raw: RawClient, name: str, body: Any, code: int
) -> None:
    before = state(pv)
    status, resp, _ = await raw.post("/v5/order/create", body)
    assert status == 200
    assert resp["retCode"] == code, resp
    assert resp["retMsg"]
    assert resp["result"] == {}
    assert shape_mismatches(load_fixture("rest_error"), resp) == []
    assert state(pv) == before


@pytest.mark.integration
async def test_signature_timestamp_and_replay(pv: PaperVenue, raw: RawClient) -> None:
    before = state(pv)
    body = json.dumps(GOOD)
    stale = raw.headers(body, ts=Clock.wall_ms() - 60_000)
    assert (await raw.post("/v5/order/create", body, stale))[1]["retCode"] == 10002
    future = raw.headers(body, ts=Clock.wall_ms() + 5_000)
    assert (await raw.post("/v5/order/create", body, future))[1]["retCode"] == 10002
    tampered = raw.headers(body)
    assert (await raw.post("/v5/order/create", body.replace("0.01", "0.02"), tampered))[1][
        "retCode"
    ] == 10004
    no_key = {k: v for k, v in raw.headers(body).items() if k != "X-BAPI-API-KEY"}
    assert (await raw.post("/v5/order/create", body, no_key))[1]["retCode"] == 10003
    assert state(pv) == before
    signed = raw.headers(body)
    assert (await raw.post("/v5/order/create", body, signed))[1]["retCode"] == 0
    replay = await raw.post("/v5/order/create", body, signed)
    assert replay[1]["retCode"] == 10014
    assert len(pv.venue.orders) == before[2] + 1


@pytest.mark.integration
async def test_get_query_is_verified_as_sent(raw: RawClient) -> None:
    query = "accountType=UNIFIED"
    ok = await raw.get("/v5/account/wallet-balance", query)
    assert ok[1]["retCode"] == 0
    reordered = await raw.get(
        "/v5/account/wallet-balance", query + "&coin=USDT", raw.headers("coin=USDT&" + query)
    )
    assert reordered[1]["retCode"] == 10004
    assert (await raw.get("/v5/account/wallet-balance", "accountType=FOO"))[1]["retCode"] == 10001
    assert (await raw.get("/v5/order/realtime", "category=linear&limit=abc"))[1]["retCode"] == 10001


@pytest.mark.integration
async def test_oversized_body_and_unknown_routes(pv: PaperVenue, raw: RawClient) -> None:
    big = json.dumps({**GOOD, "orderLinkId": "x" * 200_000})
    status, resp, _ = await raw.post("/v5/order/create", big)
    assert (status, resp["retCode"]) == (200, 10001)
    assert "too large" in resp["retMsg"]
    status, resp, _ = await raw.post("/v5/order/teleport", GOOD)
    assert (status, resp["retCode"]) == (404, 10017)
    status, resp, _ = await raw.get("/v5/order/create")
    assert (status, resp["retCode"]) == (405, 10017)


@pytest.mark.integration
async def test_read_only_key_and_master_only_endpoints(pv: PaperVenue, raw: RawClient) -> None:
    key = pv.venue.add_key(SUB_UID, "READONLYKEY01", "READONLYSECRET000000001", read_only=True)
    ro = RawClient(raw.base, raw.session, key.key, key.secret)
    assert (await ro.post("/v5/order/create", GOOD))[1]["retCode"] == 10005
    assert (await ro.get("/v5/account/wallet-balance", "accountType=UNIFIED"))[1]["retCode"] == 0
    sub = {"username": "abc12345", "memberType": 1}
    assert (await raw.post("/v5/user/create-sub-member", sub))[1]["retCode"] == 10005


@pytest.mark.integration
async def test_transfer_id_is_idempotent_and_insufficient_funds_refused(
    pv: PaperVenue, raw: RawClient
) -> None:
    body = {
        "transferId": "0d2a8d0e-8b8a-4a2c-9b54-3f1c8e0b0a01",
        "coin": "USDT",
        "amount": "100",
        "fromAccountType": "UNIFIED",
        "toAccountType": "FUND",
    }
    first = await raw.post("/v5/asset/transfer/inter-transfer", body)
    again = await raw.post("/v5/asset/transfer/inter-transfer", body)
    assert (
        first[1]["result"]
        == again[1]["result"]
        == {"transferId": body["transferId"], "status": "SUCCESS"}
    )
    assert pv.venue.account(SUB_UID).fund["USDT"] == 100
    other = await raw.post("/v5/asset/transfer/inter-transfer", {**body, "amount": "101"})
    assert other[1]["retCode"] == 10014
    too_much = {**body, "transferId": "0d2a8d0e-8b8a-4a2c-9b54-3f1c8e0b0a02", "amount": "1000000"}
    assert (await raw.post("/v5/asset/transfer/inter-transfer", too_much))[1]["retCode"] == 131212
    assert pv.venue.account(SUB_UID).fund["USDT"] == 100


@pytest.mark.integration
async def test_a_truncated_body_is_refused_not_waited_for(
    pv: PaperVenue, raw: RawClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("paper_venue.router.gateway.BODY_TIMEOUT_S", 0.2)
    body = json.dumps(GOOD)
    host, port = "127.0.0.1", pv.port
    reader, writer = await asyncio.open_connection(host, port)
    headers = "".join(f"{k}: {v}\r\n" for k, v in raw.headers(body).items())
    writer.write(
        f"POST /v5/order/create HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body) + 50}\r\n"
        f"{headers}\r\n{body}".encode()
    )
    await writer.drain()
    response = await asyncio.wait_for(reader.read(4096), timeout=5)
    writer.close()
    assert b'"retCode":10001' in response
    assert b"incomplete" in response
