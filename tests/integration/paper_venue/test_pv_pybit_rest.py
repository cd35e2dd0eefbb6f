"""pybit's HTTP client, with only its endpoint changed, trading on the venue; responses
checked against Bybit's documented examples."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import pytest
from pv_support import SUB_UID, load_fixture, pybit_http, shape_mismatches
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from paper_venue.router.app import PaperVenue


def same_shape(fixture: str, response: object) -> None:
    assert shape_mismatches(load_fixture(fixture), response) == []


@pytest.mark.integration
async def test_order_lifecycle_through_pybit(pv: PaperVenue, sub_http: HTTP) -> None:
    def run() -> dict[str, object]:
        s = sub_http
        out: dict[str, object] = {}
        out["create"] = s.place_order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.01",
            price="59000",
            orderLinkId="life-1",
        )
        out["amend"] = s.amend_order(
            category="linear", symbol="BTCUSDT", orderLinkId="life-1", price="59100"
        )
        out["open"] = s.get_open_orders(category="linear", symbol="BTCUSDT")
        out["cancel"] = s.cancel_order(category="linear", symbol="BTCUSDT", orderLinkId="life-1")
        out["history"] = s.get_order_history(category="linear", symbol="BTCUSDT")
        out["market"] = s.place_order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.02"
        )
        out["executions"] = s.get_executions(category="linear", symbol="BTCUSDT")
        out["positions"] = s.get_positions(category="linear", symbol="BTCUSDT")
        out["wallet"] = s.get_wallet_balance(accountType="UNIFIED")
        s.place_order(
            category="linear",
            symbol="ETHUSDT",
            side="Sell",
            orderType="Limit",
            qty="0.1",
            price="3100",
        )
        out["cancel_all"] = s.cancel_all_orders(category="linear", settleCoin="USDT")
        out["leverage"] = s.set_leverage(
            category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5"
        )
        return out

    out = await asyncio.to_thread(run)
    same_shape("rest_order_create", out["create"])
    same_shape("rest_order_amend", out["amend"])
    same_shape("rest_order_realtime", out["open"])
    same_shape("rest_order_cancel", out["cancel"])
    same_shape("rest_order_realtime", out["history"])
    same_shape("rest_execution_list", out["executions"])
    same_shape("rest_position_list", out["positions"])
    same_shape("rest_wallet_balance", out["wallet"])
    same_shape("rest_order_cancel_all", out["cancel_all"])
    same_shape("rest_set_leverage", out["leverage"])
    open_row = out["open"]["result"]["list"][0]  # type: ignore[index]
    assert open_row["price"] == "59100.00"
    assert open_row["orderStatus"] == "New"
    hist = out["history"]["result"]["list"][0]  # type: ignore[index]
    assert hist["orderStatus"] == "Cancelled"
    assert hist["cancelType"] == "CancelByUser"
    pos = out["positions"]["result"]["list"][0]  # type: ignore[index]
    assert (pos["side"], pos["size"]) == ("Buy", "0.020")
    assert len(out["cancel_all"]["result"]["list"]) == 1  # type: ignore[index]
    assert pv.venue.account(SUB_UID).leverage["BTCUSDT"] == Decimal(5)


@pytest.mark.integration
async def test_market_data_through_pybit(pv: PaperVenue, sub_http: HTTP) -> None:
    clock = pv.venue.clock
    clock.advance(pv.venue.next_funding_ms - clock.now_ms())
    pv.venue.update()

    def run() -> dict[str, object]:
        s = sub_http
        return {
            "tickers_linear": s.get_tickers(category="linear", symbol="BTCUSDT"),
            "tickers_spot": s.get_tickers(category="spot"),
            "kline": s.get_kline(category="linear", symbol="BTCUSDT", interval="1", limit=3),
            "orderbook": s.get_orderbook(category="linear", symbol="BTCUSDT", limit=50),
            "instruments_linear": s.get_instruments_info(category="linear"),
            "instruments_spot": s.get_instruments_info(category="spot", symbol="SOLUSDT"),
            "funding": s.get_funding_rate_history(category="linear", symbol="BTCUSDT"),
            "time": s.get_server_time(),
        }

    out = await asyncio.to_thread(run)
    for name in (
        "tickers_linear",
        "tickers_spot",
        "kline",
        "orderbook",
        "instruments_linear",
        "instruments_spot",
    ):
        same_shape(f"rest_{name}", out[name])
    same_shape("rest_server_time", out["time"])
    same_shape("rest_funding_history", out["funding"])
    assert len(out["funding"]["result"]["list"]) == 1  # type: ignore[index]
    assert len(out["kline"]["result"]["list"]) == 3  # type: ignore[index]
    book = out["orderbook"]["result"]  # type: ignore[index]
    assert len(book["b"]) == 50
    assert Decimal(book["a"][0][0]) > Decimal(book["b"][0][0])
    symbols = {r["symbol"] for r in out["tickers_spot"]["result"]["list"]}  # type: ignore[index]
    assert symbols == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}


@pytest.mark.integration
async def test_transfers_and_subaccounts_through_pybit(pv: PaperVenue, master_http: HTTP) -> None:
    tid = str(uuid.uuid4())

    def run() -> dict[str, object]:
        m = master_http
        args = dict(
            transferId=tid,
            coin="USDT",
            amount="250",
            fromMemberId=100000,
            toMemberId=SUB_UID,
            fromAccountType="UNIFIED",
            toAccountType="UNIFIED",
        )
        out: dict[str, object] = {
            "universal": m.create_universal_transfer(**args),
            "again": m.create_universal_transfer(**args),
            "inter": m.create_internal_transfer(
                transferId=str(uuid.uuid4()),
                coin="USDT",
                amount="5",
                fromAccountType="UNIFIED",
                toAccountType="FUND",
            ),
            "sub": m.create_sub_uid(username="fleet01x", memberType=1, note="engine"),
        }
        uid = int(out["sub"]["result"]["uid"])  # type: ignore[index]
        out["key"] = m.create_sub_api_key(
            subuid=uid, readOnly=0, permissions={"ContractTrade": ["Order"]}
        )
        out["members"] = m.get_sub_uid_list()
        return out

    out = await asyncio.to_thread(run)
    same_shape("rest_universal_transfer", out["universal"])
    same_shape("rest_inter_transfer", out["inter"])
    same_shape("rest_create_sub_member", out["sub"])
    same_shape("rest_create_sub_api", out["key"])
    assert out["again"] == {**out["universal"], "time": out["again"]["time"]}  # type: ignore[index]
    assert pv.venue.account(SUB_UID).balance("USDT") == Decimal(10250)
    key = out["key"]["result"]  # type: ignore[index]
    new_sub = pybit_http(pv, key["apiKey"], key["secret"])
    wallet = await asyncio.to_thread(new_sub.get_wallet_balance, accountType="UNIFIED")
    assert wallet["result"]["list"][0]["totalEquity"] == "0"


@pytest.mark.integration
async def test_errors_reach_pybit_as_bybit_codes(pv: PaperVenue, sub_http: HTTP) -> None:
    def code_of(fn: object, **kw: object) -> int:
        try:
            fn(**kw)  # type: ignore[operator]
        except InvalidRequestError as exc:
            return int(exc.status_code)
        return 0

    def run() -> list[int]:
        s = sub_http
        base = dict(category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.01")
        return [
            code_of(s.cancel_order, category="linear", symbol="BTCUSDT", orderId="nope"),
            code_of(s.place_order, **{**base, "price": "59000", "orderLinkId": "d1"}),
            code_of(s.place_order, **{**base, "price": "59000", "orderLinkId": "d1"}),
            code_of(s.place_order, **{**base, "price": "1000", "qty": "0.001"}),
            code_of(s.place_order, **{**base, "orderType": "Market", "qty": "1000"}),
            code_of(
                s.place_order,
                category="spot",
                symbol="BTCUSDT",
                side="Sell",
                orderType="Market",
                qty="1",
            ),
            code_of(
                pybit_http(pv, "NOSUCHKEY123", "x" * 20).get_wallet_balance, accountType="UNIFIED"
            ),
            code_of(
                pybit_http(pv, "PAPERSUBKEY0001", "y" * 31).get_wallet_balance,
                accountType="UNIFIED",
            ),
        ]

    assert await asyncio.to_thread(run) == [110001, 0, 110072, 110094, 110007, 170131, 10003, 10004]


@pytest.mark.integration
async def test_stop_loss_through_trading_stop_closes_the_position(
    pv: PaperVenue, sub_http: HTTP
) -> None:
    def arm() -> list[int]:
        s = sub_http
        codes = []
        try:
            s.set_trading_stop(category="linear", symbol="BTCUSDT", stopLoss="58000", positionIdx=0)
        except InvalidRequestError as exc:
            codes.append(int(exc.status_code))
        s.place_order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.05"
        )
        s.set_trading_stop(
            category="linear", symbol="BTCUSDT", stopLoss="58000", tpslMode="Full", positionIdx=0
        )
        return codes

    assert await asyncio.to_thread(arm) == [10001]
    listed = await asyncio.to_thread(sub_http.get_positions, category="linear", symbol="BTCUSDT")
    assert listed["result"]["list"][0]["stopLoss"] == "58000.00"
    pv.venue.market.move("BTCUSDT", Decimal("57900"), pv.venue.clock.now_ms())
    pv.venue.update()
    assert pv.venue.account(SUB_UID).positions["BTCUSDT"].size == 0
    history = await asyncio.to_thread(
        sub_http.get_order_history, category="linear", symbol="BTCUSDT", limit=1
    )
    closing = history["result"]["list"][0]
    assert (closing["stopOrderType"], closing["createType"]) == ("StopLoss", "CreateByStopLoss")
    assert closing["orderStatus"] == "Filled"
