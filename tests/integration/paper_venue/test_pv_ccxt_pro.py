"""ccxt.pro's bybit class, unmodified, pointed at the venue: its watch_* methods on spot
(`BTC/USDT`) and linear (`BTC/USDT:USDT`), with the content checked against the venue.

The exchange is built the way docs/paper-venue.md tells a user to ("Use it with ccxt"):
keys, and every REST and WebSocket URL of ccxt's bybit class pointed at the venue
(`pv_support.ccxt_urls`, the same as test_pv_ccxt.py's); options are ccxt's defaults and
ccxt loads its markets itself. Nothing may leave the loopback: every connection and name
lookup is checked, and a test fails if ccxt tried to reach anything else (real Bybit).
"""

from __future__ import annotations

import asyncio
import copy
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import aiohttp.abc
import aiohttp.resolver
import ccxt.pro
import pytest
from pv_support import SUB_KEY, SUB_SECRET, SUB_UID, RawClient, ccxt_urls

from paper_venue.router.app import PaperVenue

SPOT, LINEAR = "BTC/USDT", "BTC/USDT:USDT"
CATEGORY = {SPOT: "spot", LINEAR: "linear"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# no network but loopback --------------------------------------------------------------


def _loopback(host: object) -> bool:
    return host is None or str(host) in LOOPBACK or str(host).startswith("127.")


@pytest.fixture
async def loopback_only(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[list[str]]:
    """Refuse (and record) every name lookup and connection to anything but loopback."""
    tried: list[str] = []
    loop = asyncio.get_running_loop()
    real_connect, real_lookup = loop.create_connection, loop.getaddrinfo
    real_socket_lookup = socket.getaddrinfo

    def refuse(host: object) -> None:
        tried.append(str(host))
        raise OSError(f"test: no network but loopback (tried {host})")

    async def connect(*args: Any, **kw: Any) -> Any:
        host = kw.get("host", args[1] if len(args) > 1 else None)
        if not _loopback(host):
            refuse(host)
        return await real_connect(*args, **kw)

    async def lookup(host: object, *args: Any, **kw: Any) -> Any:
        if not _loopback(host):
            refuse(host)
        return await real_lookup(host, *args, **kw)  # type: ignore[arg-type]

    def socket_lookup(host: object, *args: Any, **kw: Any) -> Any:
        if not _loopback(host):
            refuse(host)
        return real_socket_lookup(host, *args, **kw)  # type: ignore[arg-type]

    def resolver(cls: type[aiohttp.abc.AbstractResolver]) -> Any:
        real_resolve = cls.resolve

        async def resolve(self: Any, host: str, *args: Any, **kw: Any) -> Any:
            if not _loopback(host):
                refuse(host)
            return await real_resolve(self, host, *args, **kw)

        return resolve

    monkeypatch.setattr(loop, "create_connection", connect)
    monkeypatch.setattr(loop, "getaddrinfo", lookup)
    monkeypatch.setattr(socket, "getaddrinfo", socket_lookup)
    for cls in (aiohttp.resolver.AsyncResolver, aiohttp.resolver.ThreadedResolver):
        monkeypatch.setattr(cls, "resolve", resolver(cls))  # aiohttp's (ccxt's) lookups
    yield tried
    assert tried == [], f"ccxt tried to reach beyond the loopback: {tried}"


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, str):
        yield value


@pytest.fixture
async def exchange(pv: PaperVenue, loopback_only: list[str]) -> AsyncIterator[Any]:
    ex = ccxt.pro.bybit(
        {"apiKey": SUB_KEY, "secret": SUB_SECRET, "urls": ccxt_urls(pv.http_url, pv.ws_url)}
    )
    host = pv.http_url.split("//", 1)[1]
    assert all(host in u for u in _strings(ex.urls["api"])), ex.urls["api"]
    sent: list[str] = []
    fetch = ex.fetch

    async def recorded(url: str, method: str = "GET", *args: Any, **kw: Any) -> Any:
        sent.append(f"{method} {url.split(host, 1)[-1]}")
        return await fetch(url, method, *args, **kw)

    ex.fetch = recorded
    ex.sent = sent
    try:
        yield ex
    finally:
        await ex.close()


# streams ------------------------------------------------------------------------------


class Stream:
    """Calls a watch_* method in a loop and keeps what each call returned."""

    def __init__(
        self, watch: Callable[[], Awaitable[Any]], keep: Callable[[Any], Any] = copy.deepcopy
    ) -> None:
        self.items: list[Any] = []
        self._keep = keep
        self._task = asyncio.create_task(self._run(watch))

    async def _run(self, watch: Callable[[], Awaitable[Any]]) -> None:
        while True:
            self.items.append(self._keep(await watch()))

    async def until(self, check: Callable[[Any], bool], what: str, within: float = 5.0) -> Any:
        """The first item returned so far (or later, within the deadline) passing `check`."""
        deadline = time.monotonic() + within
        while True:
            for item in self.items:
                if check(item):
                    return item
            if self._task.done():
                self._task.result()  # a watch_* call failed: raise its error
                raise AssertionError(f"{what}: the stream ended")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; last: {self.items[-3:]}")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


def book_copy(book: Any) -> dict[str, Any]:
    return {
        "symbol": book["symbol"],
        "bids": [list(level) for level in book["bids"]],
        "asks": [list(level) for level in book["asks"]],
        "timestamp": book["timestamp"],
    }


async def subscribed(pv: PaperVenue, topics: set[str], within: float = 5.0) -> None:
    """Wait until a venue connection holds all `topics` (the subscribe reply went out)."""
    deadline = time.monotonic() + within
    while not any(c.topics >= topics for c in pv.sockets.connections):
        if time.monotonic() > deadline:
            raise AssertionError(f"not subscribed to {topics}")
        await asyncio.sleep(0.01)


def record(exchange: Any, method: str) -> list[dict[str, Any]]:
    """The raw messages ccxt hands to one of its handlers (e.g. handle_order_book)."""
    seen: list[dict[str, Any]] = []
    original = getattr(exchange, method)

    def spy(client: Any, message: dict[str, Any]) -> Any:
        seen.append(json.loads(json.dumps(message)))
        return original(client, message)

    setattr(exchange, method, spy)
    return seen


def move(pv: PaperVenue, price: str) -> None:
    pv.venue.market.move("BTCUSDT", Decimal(price), pv.venue.clock.now_ms())
    pv.venue.update()


async def rest_book(raw: RawClient, category: str, limit: int = 50) -> dict[str, Any]:
    _, body, _ = await raw.get(
        "/v5/market/orderbook", f"category={category}&symbol=BTCUSDT&limit={limit}"
    )
    assert body["retCode"] == 0, body
    result: dict[str, Any] = body["result"]
    return result


def floats(levels: list[list[str]]) -> list[list[float]]:
    return [[float(p), float(q)] for p, q in levels]


# start ---------------------------------------------------------------------------------


@pytest.mark.integration
async def test_ccxt_loads_its_markets_and_account_type_from_the_venue(
    pv: PaperVenue, exchange: Any
) -> None:
    """What ccxt asks at start, with its default options: coin info, the instruments of
    every category (inverse and option answer empty lists), and, before a private
    stream, the key's account type, which it finds unified."""
    await asyncio.wait_for(exchange.watch_ticker(LINEAR), timeout=10)
    task = asyncio.create_task(exchange.watch_balance())
    try:
        await subscribed(pv, {"wallet"})
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    paths = {r.split("?")[0] for r in exchange.sent}
    assert {
        "GET /v5/asset/coin/query-info",
        "GET /v5/market/instruments-info",
        "GET /v5/user/query-api",
        "GET /v5/account/info",
    } <= paths
    asked = {q.split("category=")[1].split("&")[0] for q in exchange.sent if "instruments" in q}
    assert asked == {"spot", "linear", "inverse", "option"}
    markets = exchange.markets
    assert {m["type"] for m in markets.values()} == {"spot", "swap"}
    assert {SPOT, LINEAR} <= set(markets)
    assert not [m for m in markets.values() if m["inverse"] or m["option"]]
    assert {"USDT", "BTC", "ETH", "SOL"} <= set(exchange.currencies)
    assert (exchange.options["enableUnifiedAccount"], exchange.options["enableUnifiedMargin"]) == (
        True,
        False,
    )


# public -------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_watch_ticker(pv: PaperVenue, exchange: Any, raw: RawClient, symbol: str) -> None:
    tickers = Stream(lambda: exchange.watch_ticker(symbol))
    try:
        first = await tickers.until(lambda t: True, "first ticker")
        book = await rest_book(raw, CATEGORY[symbol], 1)
        assert first["symbol"] == symbol
        assert first["last"] == 60000.0
        assert (first["bid"], first["ask"]) == (float(book["b"][0][0]), float(book["a"][0][0]))
        assert first["bid"] < first["ask"]
        assert isinstance(first["timestamp"], int)
        move(pv, "60500")
        moved = await tickers.until(lambda t: t["last"] == 60500.0, "ticker at 60500")
        book = await rest_book(raw, CATEGORY[symbol], 1)
        # linear sends deltas: ccxt merges them into what it had, so the book top and the
        # 24h figures are there although the message carried only what changed
        assert (moved["bid"], moved["ask"]) == (float(book["b"][0][0]), float(book["a"][0][0]))
        assert moved["high"] == 60500.0
        assert moved["open"] == 60000.0
        assert moved["percentage"] == pytest.approx(100 * 500 / 60000, abs=0.01)
    finally:
        await tickers.stop()


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_watch_order_book_snapshot_then_deltas(
    pv: PaperVenue, exchange: Any, raw: RawClient, symbol: str
) -> None:
    messages = record(exchange, "handle_order_book")
    books = Stream(lambda: exchange.watch_order_book(symbol), keep=book_copy)
    try:
        first = await books.until(lambda b: bool(b["bids"]), "the first book")
        expected = await rest_book(raw, CATEGORY[symbol])
        assert first["symbol"] == symbol
        assert first["bids"] == floats(expected["b"])
        assert first["asks"] == floats(expected["a"])
        assert first["bids"][0][0] < first["asks"][0][0]
        for price in ("60300", "59900", "60100"):
            move(pv, price)
            await books.until(
                lambda b, p=float(price): b["bids"][0][0] == p, f"book with best bid {price}"
            )
        last = books.items[-1]
        expected = await rest_book(raw, CATEGORY[symbol])
        # the deltas, applied by ccxt to the snapshot, give exactly the venue's book
        assert last["bids"] == floats(expected["b"])
        assert last["asks"] == floats(expected["a"])
        assert len(last["bids"]) == len(last["asks"]) == 50
        assert all(a[0] < b[0] for a, b in zip(last["bids"][1:], last["bids"], strict=False))
        assert all(a[0] > b[0] for a, b in zip(last["asks"][1:], last["asks"], strict=False))
        assert last["bids"][0][0] < last["asks"][0][0]
    finally:
        await books.stop()
    assert [m["type"] for m in messages] == ["snapshot", "delta", "delta", "delta"]
    assert all(m["topic"] == "orderbook.50.BTCUSDT" for m in messages)
    assert [m["data"]["u"] for m in messages] == [1, 2, 3, 4]
    seqs = [m["data"]["seq"] for m in messages]
    assert seqs == sorted(set(seqs))
    assert all(isinstance(m["ts"], int) and m["cts"] <= m["ts"] for m in messages)
    assert all(m["data"]["s"] == "BTCUSDT" for m in messages)


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_watch_order_book_depths(pv: PaperVenue, exchange: Any, symbol: str) -> None:
    """Every depth ccxt accepts (1, 50, 200, 1000) is one Bybit documents and the venue
    serves; the book holds the venue's configured levels at most."""
    for depth, levels in ((1, 1), (200, 50), (1000, 50)):
        book = await asyncio.wait_for(exchange.watch_order_book(symbol, depth), timeout=5)
        assert len(book["bids"]) == len(book["asks"]) == levels, depth
        assert book["bids"][0][0] < book["asks"][0][0]
        await asyncio.wait_for(exchange.un_watch_order_book(symbol, {"limit": depth}), timeout=5)


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_watch_trades(pv: PaperVenue, exchange: Any, raw: RawClient, symbol: str) -> None:
    trades = Stream(lambda: exchange.watch_trades(symbol))
    try:
        await subscribed(pv, {"publicTrade.BTCUSDT"})
        ask = (await rest_book(raw, CATEGORY[symbol], 1))["a"][0][0]
        _, body, _ = await raw.post(
            "/v5/order/create",
            {
                "category": CATEGORY[symbol],
                "symbol": "BTCUSDT",
                "side": "Buy",
                "orderType": "Limit",
                "qty": "0.02",
                "price": ask,
                "timeInForce": "IOC",
            },
        )
        assert body["retCode"] == 0, body
        got = await trades.until(lambda ts: len(ts) > 0, "the venue's own fill as a trade")
        trade = got[0]
        assert trade["symbol"] == symbol
        assert (trade["side"], trade["price"], trade["amount"]) == ("buy", float(ask), 0.02)
        assert trade["cost"] == pytest.approx(0.02 * float(ask))
        assert trade["id"]
        assert abs(trade["timestamp"] - pv.venue.clock.now_ms()) < 1000
    finally:
        await trades.stop()


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_watch_ohlcv_matches_the_venue_klines(
    pv: PaperVenue, exchange: Any, raw: RawClient, symbol: str
) -> None:
    candles = Stream(lambda: exchange.watch_ohlcv(symbol, "1m"))
    try:
        await candles.until(lambda cs: len(cs) > 0, "the running candle")
        move(pv, "60200")
        move(pv, "59800")
        await candles.until(lambda cs: cs[-1][4] == 59800.0, "close 59800")
        pv.venue.clock.advance(60_000)
        move(pv, "60100")
        await candles.until(lambda cs: cs[-1][4] == 60100.0, "the next candle")
        seen: dict[int, list[float]] = {}
        for batch in candles.items:
            for c in batch:
                seen[c[0]] = c  # the latest version of each candle
        _, body, _ = await raw.get(
            "/v5/market/kline", f"category={CATEGORY[symbol]}&symbol=BTCUSDT&interval=1&limit=3"
        )
        rest = {int(r[0]): [int(r[0]), *map(float, r[1:6])] for r in body["result"]["list"]}
        assert len(seen) == 2
        for start, candle in seen.items():
            assert candle == rest[start], start
        closed, running = (seen[s] for s in sorted(seen))
        assert closed[1:5] == [60000.0, 60200.0, 59800.0, 59800.0]
        assert running[1:5] == [60100.0, 60100.0, 60100.0, 60100.0]
        assert running[0] - closed[0] == 60_000
    finally:
        await candles.stop()


# private ------------------------------------------------------------------------------


async def place(raw: RawClient, **body: object) -> dict[str, Any]:
    _, reply, _ = await raw.post(
        "/v5/order/create", {"symbol": "BTCUSDT", "side": "Buy", "qty": "0.01", **body}
    )
    assert reply["retCode"] == 0, reply
    result: dict[str, Any] = reply["result"]
    return result


def by_client_id(orders: list[dict[str, Any]], link: str, status: str) -> dict[str, Any] | None:
    return next((o for o in orders if o["clientOrderId"] == link and o["status"] == status), None)


@pytest.mark.integration
@pytest.mark.parametrize("symbol", [SPOT, LINEAR])
async def test_watch_orders_my_trades_balance(
    pv: PaperVenue, exchange: Any, raw: RawClient, symbol: str
) -> None:
    cat = CATEGORY[symbol]
    orders = Stream(lambda: exchange.watch_orders(symbol))
    fills = Stream(lambda: exchange.watch_my_trades(symbol))
    balances = Stream(lambda: exchange.watch_balance())
    try:
        await subscribed(pv, {"order", "execution", "wallet"})
        # a resting order, then its cancel
        placed = await place(
            raw, category=cat, orderType="Limit", price="59000", orderLinkId="cc-rest"
        )
        rest = await orders.until(
            lambda os: by_client_id(os, "cc-rest", "open") is not None, "the open order"
        )
        order = by_client_id(rest, "cc-rest", "open")
        assert order is not None
        assert (order["id"], order["symbol"], order["side"]) == (placed["orderId"], symbol, "buy")
        assert (order["type"], order["price"], order["amount"]) == ("limit", 59000.0, 0.01)
        assert (order["filled"], order["remaining"]) == (0.0, 0.01)
        if cat == "spot":  # ccxt's `used` is Bybit's `locked`: what spot orders hold
            await balances.until(
                lambda b: b.get("USDT", {}).get("used") == 590.0, "USDT locked by the order"
            )
        _, body, _ = await raw.post(
            "/v5/order/cancel", {"category": cat, "symbol": "BTCUSDT", "orderLinkId": "cc-rest"}
        )
        assert body["retCode"] == 0, body
        await orders.until(
            lambda os: by_client_id(os, "cc-rest", "canceled") is not None, "the cancelled order"
        )
        # a fill at the best ask
        ask = (await rest_book(raw, cat, 1))["a"][0][0]
        filled = await place(raw, category=cat, orderType="Limit", price=ask, orderLinkId="cc-fill")
        done = await orders.until(
            lambda os: by_client_id(os, "cc-fill", "closed") is not None, "the filled order"
        )
        order = by_client_id(done, "cc-fill", "closed")
        assert order is not None
        assert (order["filled"], order["remaining"], order["average"]) == (0.01, 0.0, float(ask))
        mine = await fills.until(lambda ts: len(ts) > 0, "my trade")
        trade = mine[0]
        assert (trade["order"], trade["symbol"], trade["side"]) == (
            filled["orderId"],
            symbol,
            "buy",
        )
        assert (trade["price"], trade["amount"], trade["takerOrMaker"]) == (
            float(ask),
            0.01,
            "taker",
        )
        price, qty = Decimal(ask), Decimal("0.01")
        if cat == "spot":  # spot fees are charged in the coin received
            fee, fee_coin = qty * Decimal("0.001"), "BTC"
            usdt, btc = Decimal(10000) - price * qty, qty - qty * Decimal("0.001")
        else:
            fee, fee_coin = price * qty * Decimal("0.00055"), "USDT"
            usdt, btc = Decimal(10000) - fee + (Decimal(60000) - price) * qty, Decimal(0)
        assert trade["fee"]["currency"] == fee_coin
        assert Decimal(str(trade["fee"]["cost"])) == fee.normalize()
        balance = await balances.until(
            lambda b: "USDT" in b and b["USDT"]["total"] != 10000.0, "the balance after the fill"
        )
        assert Decimal(str(balance["USDT"]["total"])) == usdt.quantize(Decimal("1e-8"))
        assert Decimal(str(balance.get("BTC", {}).get("total") or 0)) == btc
    finally:
        for stream in (orders, fills, balances):
            await stream.stop()


@pytest.mark.integration
async def test_watch_positions(pv: PaperVenue, exchange: Any, raw: RawClient) -> None:
    positions = Stream(lambda: exchange.watch_positions([LINEAR]))
    try:
        await subscribed(pv, {"position"})
        ask = (await rest_book(raw, "linear", 1))["a"][0][0]
        await place(raw, category="linear", orderType="Limit", price=ask, orderLinkId="cc-pos")
        got = await positions.until(
            lambda ps: any(p["contracts"] == 0.01 for p in ps), "the open position"
        )
        pos = next(p for p in got if p["contracts"] == 0.01)
        assert (pos["symbol"], pos["side"], pos["entryPrice"]) == (LINEAR, "long", float(ask))
        assert pos["leverage"] == 10.0
        assert pos["unrealizedPnl"] == pytest.approx((60000 - float(ask)) * 0.01)
        await place(raw, category="linear", side="Sell", orderType="Market", reduceOnly=True)
        await positions.until(
            lambda ps: any(p["symbol"] == LINEAR and not p["contracts"] for p in ps),
            "the closed position",
        )
    finally:
        await positions.stop()
    # ccxt's own snapshot of linear and inverse positions (the venue has no inverse: [])
    snapshot = [r for r in exchange.sent if r.startswith("GET /v5/position/list?")]
    assert [("category=linear" in r, "category=inverse" in r) for r in snapshot] == [
        (True, False),
        (False, True),
    ]


# keeping the connection ------------------------------------------------------------------


@pytest.mark.integration
async def test_ccxt_pings_are_answered(pv: PaperVenue, exchange: Any) -> None:
    """ccxt pings with `{"req_id": n, "op": "ping"}` every `keepAlive` ms and drops the
    connection if no pong comes back; the venue's public and private pongs satisfy it."""
    pongs = record(exchange, "handle_pong")
    exchange.streaming["keepAlive"] = 100
    await asyncio.wait_for(exchange.watch_ticker(LINEAR), timeout=5)
    private = asyncio.create_task(exchange.watch_orders(LINEAR))
    try:
        await subscribed(pv, {"order"})
        deadline = time.monotonic() + 5
        while not (
            any(p.get("op") == "pong" for p in pongs)
            and any(p.get("ret_msg") == "pong" for p in pongs)
        ):
            assert time.monotonic() < deadline, pongs
            await asyncio.sleep(0.02)
        assert private.done() is False  # not failed by a missed pong
        public = next(p for p in pongs if p.get("ret_msg") == "pong")
        assert (public["success"], public["op"]) == (True, "ping")
        assert isinstance(public["req_id"], int)  # ccxt's own id, echoed as sent
        private_pong = next(p for p in pongs if p.get("op") == "pong")
        assert int(private_pong["args"][0]) > 0
        assert private_pong["conn_id"]
        assert all(not c.closed() for c in exchange.clients.values())
    finally:
        private.cancel()
        await asyncio.gather(private, return_exceptions=True)


@pytest.mark.integration
async def test_venue_private_uid(pv: PaperVenue, exchange: Any) -> None:
    """ccxt's auth (`GET/realtime` + expires, signed) lands on the key's account."""
    task = asyncio.create_task(exchange.watch_balance())
    try:
        await subscribed(pv, {"wallet"})
        conn = next(c for c in pv.sockets.connections if "wallet" in c.topics)
        assert conn.uid == SUB_UID
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


@pytest.mark.integration
async def test_the_loopback_guard_catches_real_bybit(loopback_only: list[str]) -> None:
    """The guard the other tests rely on: ccxt without the venue's URLs goes to Bybit."""
    stray = ccxt.pro.bybit({"options": {"fetchMarkets": {"types": ["spot"]}}})
    try:
        with pytest.raises(ccxt.NetworkError):
            await asyncio.wait_for(stray.load_markets(), timeout=10)
    finally:
        await stray.close()
    assert loopback_only, "nothing was refused"
    assert all("bybit.com" in host for host in loopback_only), loopback_only
    loopback_only.clear()
