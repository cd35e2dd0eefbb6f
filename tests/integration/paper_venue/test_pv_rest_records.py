"""Endpoints beyond order entry, as ccxt and pybit reach them: coin and account info,
recent trades, transfer records, the transaction log, categories the venue does not list,
order-book depth, order fees (`cumFeeDetail`) and funding. Answers are checked against
Bybit's documented examples (`tests/fixtures/bybit/`) and against what the venue did."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from pv_support import ADMIN, SUB_UID, RawClient, load_fixture, shape_mismatches

from paper_venue.config import DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET
from paper_venue.router.app import PaperVenue

HOUR_MS = 3_600_000


def same_shape(fixture: str, response: object) -> None:
    assert shape_mismatches(load_fixture(fixture), response) == []


async def ok(raw: RawClient, path: str, query: str = "") -> dict[str, Any]:
    status, body, _ = await raw.get(path, query)
    assert (status, body["retCode"]) == (200, 0), body
    return body


async def advance(raw: RawClient, ms: int, step_ms: int = 600_000) -> None:
    async with raw.session.post(
        f"{raw.base}/admin/clock/advance", json={"ms": ms, "step_ms": step_ms}, headers=ADMIN
    ) as r:
        assert r.status == 200, await r.text()


async def market(raw: RawClient, category: str, side: str, qty: str, **kw: str) -> str:
    body = {"category": category, "symbol": "BTCUSDT", "side": side, "orderType": "Market"}
    _, answer, _ = await raw.post("/v5/order/create", {**body, "qty": qty, **kw})
    assert answer["retCode"] == 0, answer
    return str(answer["result"]["orderId"])


@pytest.mark.integration
async def test_coin_and_account_info(pv: PaperVenue, raw: RawClient) -> None:
    coins = await ok(raw, "/v5/asset/coin/query-info")
    same_shape("rest_coin_info", coins)
    rows = {r["coin"]: r for r in coins["result"]["rows"]}
    assert set(rows) == {"USDT", "BTC", "ETH", "SOL"}
    chain = rows["BTC"]["chains"][0]
    assert (chain["chainDeposit"], chain["chainWithdraw"], chain["withdrawFee"]) == ("0", "0", "")
    one = await ok(raw, "/v5/asset/coin/query-info", "coin=ETH")
    assert [r["coin"] for r in one["result"]["rows"]] == ["ETH"]
    info = await ok(raw, "/v5/account/info")
    same_shape("rest_account_info", info)
    assert info["result"]["unifiedMarginStatus"] == 5  # unified trading account 2.0
    assert info["result"]["marginMode"] == "REGULAR_MARGIN"


@pytest.mark.integration
async def test_recent_trades_show_fills_newest_first(pv: PaperVenue, raw: RawClient) -> None:
    empty = await ok(raw, "/v5/market/recent-trade", "category=linear&symbol=BTCUSDT")
    assert empty["result"] == {"category": "linear", "list": []}
    await market(raw, "linear", "Buy", "0.010")
    await market(raw, "linear", "Sell", "0.020")
    trades = await ok(raw, "/v5/market/recent-trade", "category=linear&symbol=BTCUSDT&limit=5")
    same_shape("rest_recent_trade", trades)
    rows = trades["result"]["list"]
    assert [(r["side"], r["size"]) for r in rows] == [("Sell", "0.020"), ("Buy", "0.010")]
    assert int(rows[0]["seq"]) > int(rows[1]["seq"])
    spot = await ok(raw, "/v5/market/recent-trade", "category=spot&symbol=BTCUSDT")
    assert spot["result"]["list"] == []  # trades are per category
    for query in ("category=spot&symbol=BTCUSDT&limit=61", "category=linear&limit=5"):
        _, refused, _ = await raw.get("/v5/market/recent-trade", query)
        assert refused["retCode"] == 10001, query
    option = await ok(raw, "/v5/market/recent-trade", "category=option&baseCoin=BTC")
    assert option["result"] == {"category": "option", "list": []}


@pytest.mark.integration
async def test_transfer_records(pv: PaperVenue, raw: RawClient) -> None:
    tid = str(uuid.uuid4())
    body = {"transferId": tid, "coin": "USDT", "amount": "12.5"}
    _, moved, _ = await raw.post(
        "/v5/asset/transfer/inter-transfer",
        {**body, "fromAccountType": "UNIFIED", "toAccountType": "FUND"},
    )
    assert moved["retCode"] == 0, moved
    listed = await ok(raw, "/v5/asset/transfer/query-inter-transfer-list", "coin=USDT")
    same_shape("rest_inter_transfer_list", listed)
    row = listed["result"]["list"][0]
    assert (row["transferId"], row["amount"], row["fromAccountType"], row["toAccountType"]) == (
        tid,
        "12.5",
        "UNIFIED",
        "FUND",
    )
    assert row["status"] == "SUCCESS"
    none = await ok(raw, "/v5/asset/transfer/query-inter-transfer-list", "coin=BTC")
    assert none["result"]["list"] == []
    master = RawClient(raw.base, raw.session, DEFAULT_MASTER_KEY, DEFAULT_MASTER_SECRET)
    uni = str(uuid.uuid4())
    _, sent, _ = await master.post(
        "/v5/asset/transfer/universal-transfer",
        {
            **body,
            "transferId": uni,
            "fromMemberId": 100000,
            "toMemberId": SUB_UID,
            "fromAccountType": "UNIFIED",
            "toAccountType": "UNIFIED",
        },
    )
    assert sent["retCode"] == 0, sent
    for client in (master, raw):  # the master, and the subaccount it paid
        records = await ok(client, "/v5/asset/transfer/query-universal-transfer-list")
        same_shape("rest_universal_transfer_list", records)
        first = records["result"]["list"][0]
        assert (first["transferId"], first["fromMemberId"], first["toMemberId"]) == (
            uni,
            "100000",
            str(SUB_UID),
        )
    later = pv.venue.clock.now_ms() + HOUR_MS
    _, wide, _ = await raw.get(
        "/v5/asset/transfer/query-inter-transfer-list",
        f"startTime={later - 8 * 24 * HOUR_MS}&endTime={later}",
    )
    assert wide["retCode"] == 10001  # more than 7 days


@pytest.mark.integration
async def test_transaction_log_trades_transfers_and_funding(pv: PaperVenue, raw: RawClient) -> None:
    usdt = pv.venue.account(SUB_UID).balance("USDT")
    order_id = await market(raw, "linear", "Buy", "0.100", orderLinkId="log-1")
    _, execs, _ = await raw.get("/v5/execution/list", f"category=linear&orderId={order_id}")
    fee = sum(Decimal(e["execFee"]) for e in execs["result"]["list"])
    log = await ok(raw, "/v5/account/transaction-log", "accountType=UNIFIED&category=linear")
    same_shape("rest_transaction_log", log)
    trade = log["result"]["list"][0]
    assert (trade["type"], trade["orderLinkId"], trade["side"], trade["size"]) == (
        "TRADE",
        "log-1",
        "Buy",
        "0.100",
    )
    assert Decimal(trade["fee"]) == fee
    assert Decimal(trade["change"]) == -fee
    assert Decimal(trade["cashBalance"]) == usdt - fee == pv.venue.account(SUB_UID).balance("USDT")
    await advance(raw, 8 * HOUR_MS + 60_000)
    settled = await ok(raw, "/v5/account/transaction-log", "type=SETTLEMENT")
    row = settled["result"]["list"][0]
    funding = await ok(raw, "/v5/execution/list", "category=linear&execType=Funding")
    paid = Decimal(funding["result"]["list"][0]["execFee"])
    assert paid > 0  # a long pays a positive rate
    assert Decimal(row["funding"]) == -paid
    assert Decimal(row["change"]) == -paid
    assert row["feeRate"] == funding["result"]["list"][0]["feeRate"]
    assert Decimal(row["cashBalance"]) == pv.venue.account(SUB_UID).balance("USDT")


@pytest.mark.integration
async def test_unlisted_categories_answer_empty(pv: PaperVenue, raw: RawClient) -> None:
    for category in ("inverse", "option"):
        for path, query in (
            ("/v5/market/instruments-info", ""),
            ("/v5/market/tickers", ""),
            ("/v5/order/realtime", ""),
            ("/v5/order/history", ""),
            ("/v5/execution/list", ""),
            ("/v5/position/list", "&settleCoin=USDT"),
            ("/v5/account/fee-rate", ""),
        ):
            body = await ok(raw, path, f"category={category}{query}")
            assert body["result"]["list"] == [], (path, category)
            assert body["result"]["category"] == category
        _, refused, _ = await raw.get("/v5/market/tickers", f"category={category}&symbol=BTCUSD")
        assert refused["retCode"] == 10001
    pre = await ok(raw, "/v5/market/instruments-info", "category=linear&status=PreLaunch")
    assert pre["result"]["list"] == []
    _, bad, _ = await raw.get("/v5/order/realtime", "category=futures")
    assert bad["retCode"] == 10001


@pytest.mark.integration
@pytest.mark.parametrize("category", ["spot", "linear"])
async def test_order_book_depth_limits(pv: PaperVenue, raw: RawClient, category: str) -> None:
    for limit in (1, 1000):
        book = await ok(
            raw, "/v5/market/orderbook", f"category={category}&symbol=BTCUSDT&limit={limit}"
        )
        depth = min(limit, pv.venue.settings.book.levels)
        assert len(book["result"]["b"]) == len(book["result"]["a"]) == depth
    _, refused, _ = await raw.get(
        "/v5/market/orderbook", f"category={category}&symbol=BTCUSDT&limit=1001"
    )
    assert refused["retCode"] == 10001


@pytest.mark.integration
async def test_orders_carry_cum_fee_detail(pv: PaperVenue, raw: RawClient) -> None:
    streamed: list[dict[str, Any]] = []
    pv.venue.private_listeners.append(
        lambda uid, topic, rows: streamed.extend(rows) if topic == "order" else None
    )
    linear = await market(raw, "linear", "Buy", "0.010")
    spot = await market(raw, "spot", "Buy", "0.010", marketUnit="baseCoin")
    _, resting, _ = await raw.post(
        "/v5/order/create",
        {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
         "qty": "0.010", "price": "55000"},
    )  # fmt: skip
    for category, order_id, coin in (("linear", linear, "USDT"), ("spot", spot, "BTC")):
        _, execs, _ = await raw.get("/v5/execution/list", f"category={category}&orderId={order_id}")
        fee = sum(Decimal(e["execFee"]) for e in execs["result"]["list"])
        assert fee > 0
        for path in ("/v5/order/realtime", "/v5/order/history"):
            answer = await ok(raw, path, f"category={category}&orderId={order_id}")
            detail = answer["result"]["list"][0]["cumFeeDetail"]
            assert list(detail) == [coin]
            assert Decimal(detail[coin]) == fee
        pushed = [r for r in streamed if r["orderId"] == order_id]
        assert pushed
        assert Decimal(pushed[-1]["cumFeeDetail"][coin]) == fee
    opened = await ok(
        raw, "/v5/order/realtime", f"category=linear&orderId={resting['result']['orderId']}"
    )
    assert opened["result"]["list"][0]["cumFeeDetail"] == {}


@pytest.mark.integration
async def test_execution_and_order_history_filters(pv: PaperVenue, raw: RawClient) -> None:
    first = await market(raw, "linear", "Buy", "0.010", orderLinkId="flt-1")
    await advance(raw, HOUR_MS)
    await market(raw, "linear", "Sell", "0.010", orderLinkId="flt-2")
    now = pv.venue.clock.now_ms()
    by_link = await ok(raw, "/v5/execution/list", "category=linear&orderLinkId=flt-1")
    assert {e["orderId"] for e in by_link["result"]["list"]} == {first}
    recent = await ok(raw, "/v5/execution/list", f"category=linear&startTime={now - 60_000}")
    assert {e["orderLinkId"] for e in recent["result"]["list"]} == {"flt-2"}
    paged = await ok(raw, "/v5/execution/list", "category=linear&execType=Trade&limit=1")
    assert len(paged["result"]["list"]) == 1
    cursor = paged["result"]["nextPageCursor"]
    assert cursor
    rest = await ok(raw, "/v5/execution/list", f"category=linear&limit=1&cursor={cursor}")
    assert rest["result"]["list"][0]["execId"] != paged["result"]["list"][0]["execId"]
    filled = await ok(raw, "/v5/order/history", "category=linear&orderStatus=Filled")
    assert {o["orderLinkId"] for o in filled["result"]["list"]} == {"flt-1", "flt-2"}
    old = await ok(raw, "/v5/order/history", f"category=linear&endTime={now - 60_000}")
    assert {o["orderLinkId"] for o in old["result"]["list"]} == {"flt-1"}
    for path, query in (
        ("/v5/execution/list", "category=linear&execType=Nonsense"),
        ("/v5/order/history", "category=linear&orderStatus=Nonsense"),
        ("/v5/execution/list", f"category=linear&startTime=0&endTime={now}"),
    ):
        _, refused, _ = await raw.get(path, query)
        assert refused["retCode"] == 10001, (path, query)
