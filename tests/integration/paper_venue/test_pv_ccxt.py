"""ccxt's bybit class (async), with default options and only its URLs pointed at the
venue (`pv_support.ccxt_urls`, the same as test_pv_ccxt_pro.py's), trading spot
(BTC/USDT) and linear (BTC/USDT:USDT) as a user's script would.

Every request ccxt makes is checked to go to the venue's loopback address: one to anywhere
else fails the test before it leaves the process."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import ccxt.async_support as ccxt
import pytest
from pv_support import ADMIN, SUB_KEY, SUB_SECRET, SUB_UID, ccxt_urls

from paper_venue.instruments import Category
from paper_venue.router.app import PaperVenue

SPOT, LINEAR = "BTC/USDT", "BTC/USDT:USDT"
HOUR_MS = 3_600_000


@pytest.fixture
async def bybit(pv: PaperVenue) -> AsyncIterator[Any]:
    exchange = ccxt.bybit(
        {"apiKey": SUB_KEY, "secret": SUB_SECRET, "urls": ccxt_urls(pv.http_url, pv.ws_url)}
    )
    venue_host = urlsplit(pv.http_url).netloc
    sent: list[str] = []
    fetch = exchange.fetch

    async def loopback_only(url: str, method: str = "GET", *args: Any, **kw: Any) -> Any:
        if urlsplit(url).netloc != venue_host:
            raise AssertionError(f"ccxt called {url}, not the venue")
        sent.append(f"{method} {urlsplit(url).path}")
        return await fetch(url, method, *args, **kw)

    exchange.fetch = loopback_only
    exchange.sent = sent
    try:
        yield exchange
    finally:
        await exchange.close()
    assert sent, "ccxt made no request at all"


async def advance(pv: PaperVenue, ms: int, step_ms: int = 600_000) -> None:
    """Move the venue's stepped clock through the admin API, as a test harness would."""
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{pv.http_url}/admin/clock/advance",
            json={"ms": ms, "step_ms": step_ms},
            headers=ADMIN,
        ) as r,
    ):
        assert r.status == 200, await r.text()


def total(balance: dict[str, Any], coin: str) -> Decimal:
    """A coin's total in a ccxt balance, as an exact decimal (0 when not held)."""
    return Decimal(str(balance.get(coin, {}).get("total") or 0))


def venue_fees(pv: PaperVenue, order_id: str) -> Decimal:
    return sum(
        (e.exec_fee for e in pv.venue.executions.get(SUB_UID, []) if e.order_id == order_id),
        Decimal(0),
    )


@pytest.mark.integration
async def test_markets_and_currencies(pv: PaperVenue, bybit: Any) -> None:
    markets = await bybit.load_markets()
    spot, swap = markets[SPOT], markets[LINEAR]
    assert (spot["type"], spot["id"], spot["active"]) == ("spot", "BTCUSDT", True)
    assert (swap["type"], swap["linear"], swap["settle"]) == ("swap", True, "USDT")
    inst = pv.venue.instrument(Category.LINEAR, "BTCUSDT")
    assert Decimal(str(swap["precision"]["price"])) == inst.tick_size
    assert Decimal(str(swap["precision"]["amount"])) == inst.qty_step
    assert not [m for m in markets.values() if m["inverse"] or m["option"]]
    currencies = await bybit.fetch_currencies()
    assert {"USDT", "BTC", "ETH", "SOL"} <= set(currencies)
    assert currencies["BTC"]["deposit"] is False  # the venue takes no deposits
    assert "/v5/asset/coin/query-info" in " ".join(bybit.sent)


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_public_market_data(pv: PaperVenue, bybit: Any, symbol: str) -> None:
    price = float(pv.venue.market.price("BTCUSDT"))
    ticker = await bybit.fetch_ticker(symbol)
    assert ticker["last"] == price
    assert ticker["bid"] < ticker["ask"]
    tickers = await bybit.fetch_tickers([symbol, symbol.replace("BTC", "ETH")])
    assert set(tickers) == {symbol, symbol.replace("BTC", "ETH")}
    candles = await bybit.fetch_ohlcv(symbol, "1m", limit=3)
    assert len(candles) == 3
    assert candles[-1][4] == price
    assert candles[0][0] < candles[1][0] < candles[2][0]
    top = await bybit.fetch_order_book(symbol, 1)
    assert (len(top["bids"]), len(top["asks"])) == (1, 1)
    assert top["bids"][0][0] == ticker["bid"]
    deep = await bybit.fetch_order_book(symbol, 1000)  # Bybit's maximum for spot and linear
    assert len(deep["bids"]) == pv.venue.settings.book.levels
    amount = 0.01
    price_arg = price if symbol == SPOT else None  # spot market buys spend amount x price
    await bybit.create_order(symbol, "market", "buy", amount, price_arg)
    trades = await bybit.fetch_trades(symbol)
    assert trades
    assert (trades[-1]["side"], trades[-1]["price"]) == ("buy", ticker["ask"])


@pytest.mark.integration
async def test_spot_balance_moves_by_fill_and_fee(pv: PaperVenue, bybit: Any) -> None:
    before = await bybit.fetch_balance()
    price = float(pv.venue.market.price("BTCUSDT"))
    order = await bybit.create_order(SPOT, "market", "buy", 0.01, price, {"clientOrderId": "sb-1"})
    after = await bybit.fetch_balance()
    fee = venue_fees(pv, order["id"])
    filled = await bybit.fetch_order(order["id"], SPOT, {"acknowledged": True})
    assert filled["status"] == "closed"
    assert filled["clientOrderId"] == "sb-1"
    assert filled["fee"]["currency"] == "BTC"
    assert Decimal(str(filled["fee"]["cost"])) == fee
    bought = Decimal(str(filled["filled"]))
    cost = Decimal(str(filled["cost"]))
    assert bought > 0
    assert total(after, "BTC") - total(before, "BTC") == bought - fee
    assert total(before, "USDT") - total(after, "USDT") == cost
    mine = await bybit.fetch_my_trades(SPOT)
    assert [t["order"] for t in mine] == [order["id"]] * len(mine)
    assert sum(Decimal(str(t["fee"]["cost"])) for t in mine) == fee
    assert {t["fee"]["currency"] for t in mine} == {"BTC"}
    sell = await bybit.create_order(SPOT, "limit", "sell", 0.005, price * 1.05)
    opened = await bybit.fetch_open_orders(SPOT)
    assert [o["id"] for o in opened] == [sell["id"]]
    locked = await bybit.fetch_balance()
    assert locked["BTC"]["used"] == 0.005
    await bybit.cancel_order(sell["id"], SPOT)
    assert await bybit.fetch_open_orders(SPOT) == []
    for offset in (0.9, 0.95):
        await bybit.create_order(SPOT, "limit", "buy", 0.001, round(price * offset, 2))
    assert len(await bybit.cancel_all_orders(SPOT)) == 2
    assert await bybit.fetch_open_orders(SPOT) == []


@pytest.mark.integration
async def test_linear_order_lifecycle(pv: PaperVenue, bybit: Any) -> None:
    price = float(pv.venue.market.price("BTCUSDT"))
    link = f"cx-{uuid.uuid4().hex[:8]}"
    limit = await bybit.create_order(
        LINEAR, "limit", "buy", 0.01, price - 1000, {"clientOrderId": link}
    )
    opened = await bybit.fetch_open_orders(LINEAR)
    assert [(o["id"], o["clientOrderId"], o["price"]) for o in opened] == [
        (limit["id"], link, price - 1000)
    ]
    await bybit.edit_order(limit["id"], LINEAR, "limit", "buy", 0.02, price - 900)
    edited = await bybit.fetch_order(limit["id"], LINEAR, {"acknowledged": True})
    assert (edited["price"], edited["amount"], edited["status"]) == (price - 900, 0.02, "open")
    assert edited["fee"] is None  # nothing filled, no fee yet
    canceled = await bybit.cancel_order(limit["id"], LINEAR)
    assert canceled["id"] == limit["id"]
    post = await bybit.create_order(LINEAR, "limit", "buy", 0.01, price + 100, {"postOnly": True})
    crossed = await bybit.fetch_order(post["id"], LINEAR, {"acknowledged": True})
    assert crossed["status"] == "canceled"  # it would have taken liquidity
    assert crossed["postOnly"] is True
    with pytest.raises(ccxt.InvalidOrder):  # nothing to reduce yet
        await bybit.create_order(LINEAR, "market", "sell", 0.01, None, {"reduceOnly": True})
    buy = await bybit.create_order(LINEAR, "market", "buy", 0.03)
    (position,) = await bybit.fetch_positions([LINEAR])
    assert (position["side"], position["contracts"]) == ("long", 0.03)
    close = await bybit.create_order(LINEAR, "market", "sell", 0.01, None, {"reduceOnly": True})
    (position,) = await bybit.fetch_positions([LINEAR])
    assert position["contracts"] == 0.02
    closed = await bybit.fetch_closed_orders(LINEAR)
    assert {buy["id"], close["id"]} <= {o["id"] for o in closed}
    for order_id in (buy["id"], close["id"]):
        order = await bybit.fetch_order(order_id, LINEAR, {"acknowledged": True})
        assert order["fee"]["currency"] == "USDT"
        assert Decimal(str(order["fee"]["cost"])) == venue_fees(pv, order_id) > 0
    trades = await bybit.fetch_my_trades(LINEAR)
    by_order: dict[str, Decimal] = {}
    for t in trades:
        by_order[t["order"]] = by_order.get(t["order"], Decimal(0)) + Decimal(str(t["fee"]["cost"]))
    assert by_order == {
        buy["id"]: venue_fees(pv, buy["id"]),
        close["id"]: venue_fees(pv, close["id"]),
    }
    for offset in (1000, 1100):
        await bybit.create_order(LINEAR, "limit", "buy", 0.01, price - offset)
    swept = await bybit.cancel_all_orders(LINEAR)
    assert len(swept) == 2
    assert await bybit.fetch_open_orders(LINEAR) == []


@pytest.mark.integration
async def test_leverage_and_funding(pv: PaperVenue, bybit: Any) -> None:
    await bybit.set_leverage(5, LINEAR)
    await bybit.create_order(LINEAR, "market", "buy", 0.1)
    (position,) = await bybit.fetch_positions([LINEAR])
    assert position["leverage"] == 5
    rate = await bybit.fetch_funding_rate(LINEAR)
    assert Decimal(str(rate["fundingRate"])) == pv.venue.funding_rate("BTCUSDT")
    next_funding = rate["fundingTimestamp"]
    assert next_funding == pv.venue.next_funding_ms
    assert await bybit.fetch_funding_history(LINEAR) == []
    await advance(pv, next_funding - pv.venue.clock.now_ms() + 60_000)
    history = await bybit.fetch_funding_rate_history(LINEAR)
    assert [(h["timestamp"], Decimal(str(h["fundingRate"]))) for h in history] == [
        (next_funding, Decimal(str(rate["fundingRate"])))
    ]
    (paid,) = await bybit.fetch_funding_history(LINEAR)
    (venue_row,) = [e for e in pv.venue.executions[SUB_UID] if e.exec_type == "Funding"]
    assert paid["timestamp"] == next_funding
    assert (paid["code"], Decimal(str(paid["amount"]))) == ("USDT", venue_row.exec_fee)
    assert venue_row.exec_fee == venue_row.exec_qty * venue_row.mark_price * venue_row.fee_rate
    ledger = await bybit.fetch_ledger("USDT")
    assert "SETTLEMENT" in {e["info"]["type"] for e in ledger}


@pytest.mark.integration
async def test_transfer_between_unified_and_funding(pv: PaperVenue, bybit: Any) -> None:
    before = await bybit.fetch_balance()
    moved = await bybit.transfer("USDT", 25, "unified", "funding")
    assert (moved["status"], moved["amount"]) == ("ok", 25)
    after = await bybit.fetch_balance()
    assert before["USDT"]["total"] - after["USDT"]["total"] == 25
    funding = await bybit.fetch_balance({"type": "funding"})
    assert funding["USDT"]["total"] == 25
    (record,) = await bybit.fetch_transfers("USDT")
    assert (record["id"], record["amount"]) == (moved["id"], 25)
    assert (record["fromAccount"], record["toAccount"]) == ("unified", "fund")  # ccxt's names


@pytest.mark.integration
async def test_a_request_elsewhere_fails_the_test(bybit: Any) -> None:
    bybit.urls["api"]["public"] = "https://api.bybit.com"
    with pytest.raises(AssertionError, match="not the venue"):
        await bybit.fetch_time()
    bybit.sent.append("(guard checked)")
