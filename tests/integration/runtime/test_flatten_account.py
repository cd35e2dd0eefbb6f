"""The shared flatten against the real paper venue, through the classified client: the whole
account (coins and positions the engine's spec never named, orders of every category), dust
reported, and two actors flattening at once close each position once (the runtime through
pybit's own sending, the operator through the shared aiohttp session), and both ways of sending
give the same answers and the same kinds of failure."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TypeVar

import aiohttp
import pytest
from pybit.unified_trading import HTTP

from eternal_kernel.bybit.aio import AioTransport
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.errors import DuplicateOrderError, UnknownKeyError
from eternal_kernel.bybit.flatten import VenueCloser, flatten_account, snapshot
from eternal_kernel.bybit.flatten_plan import plan
from eternal_kernel.bybit.ratelimit import RateLimiter
from eternal_kernel.bybit.raw import BybitRawClient
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import WalletReport
from support.runtime import Account

pytestmark = pytest.mark.integration
T = TypeVar("T")


def client(
    url: str, account: Account, http: aiohttp.ClientSession | None = None
) -> BybitDomainClient:
    """The classified client; with `http`, its requests go through that shared session."""
    limiter = RateLimiter({"orders": 20, "queries": 50})
    key, secret = account.api_key, account.api_secret
    transport = AioTransport(http, url, key, secret) if http is not None else None
    return BybitDomainClient(BybitRawClient(url, key, secret, limiter=limiter, transport=transport))


class Watched(BybitDomainClient):
    """The classified client, noting when the wallet, the prices and the markets are asked
    for and answered, in order."""

    def __init__(self, raw: BybitRawClient) -> None:
        super().__init__(raw)
        self.seen: list[str] = []

    async def wallet(self) -> WalletReport:
        self.seen.append("wallet asked")
        answer = await super().wallet()
        self.seen.append("wallet answered")
        return answer

    async def last_prices(self, category: Category) -> dict[str, Decimal]:
        self.seen.append("prices asked")
        return await super().last_prices(category)

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        self.seen.append("request")
        answer = await super()._retrying(call)
        self.seen.append("answer")
        return answer


def expose(venue: HTTP) -> None:
    """What a core-hodl engine trading SOLUSDT by its spec should never hold, and does."""
    for coin, usdt in (("BTC", "3000"), ("ETH", "1500")):
        venue.place_order(category="spot", symbol=f"{coin}USDT", side="Buy", orderType="Market",
                          qty=usdt, marketUnit="quoteCoin")  # fmt: skip
    venue.place_order(category="linear", symbol="ETHUSDT", side="Sell", orderType="Market",
                      qty="0.5")  # fmt: skip
    price = Decimal(venue.get_tickers(category="spot", symbol="BTCUSDT")["result"]["list"][0]
                    ["lastPrice"])  # fmt: skip
    venue.place_order(
        category="spot",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.001",
        price=str((price * Decimal("0.8")).quantize(Decimal("0.01"))),
    )
    venue.place_order(
        category="linear",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.001",
        price=str((price * Decimal("0.8")).quantize(Decimal("0.1"))),
    )


def held(venue: HTTP) -> dict[str, Decimal]:
    wallet = venue.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
    coins = {c["coin"]: Decimal(c["walletBalance"]) for c in wallet if c["coin"] != "USDT"}
    positions = venue.get_positions(category="linear", settleCoin="USDT")["result"]["list"]
    coins.update({p["symbol"]: Decimal(p["size"]) for p in positions})
    return {k: v for k, v in coins.items() if v != 0}


async def test_the_whole_account_is_flattened_and_what_cannot_be_sold_is_reported(
    fast_venue: str, account: Account, venue_http: HTTP
) -> None:
    expose(venue_http)
    venue = client(fast_venue, account)
    before = plan(await snapshot(venue, {}), engine="uid-1", purpose="halt:p:1")
    assert {o.symbol for o in before.orders} >= {"BTCUSDT", "ETHUSDT"}
    result = await flatten_account(venue, VenueCloser(venue), engine="uid-1", purpose="halt:p:1")
    assert result.flat, result.summary()
    assert result.cancelled == 2
    left = held(venue_http)
    assert "ETHUSDT" not in left  # the short is closed
    for coin, qty in left.items():  # what remains is dust the venue will not take, and said so
        assert any(coin in r for r in result.residue), (coin, qty, result.residue)
    for category in ("spot", "linear"):
        params = {"category": category} | ({"settleCoin": "USDT"} if category == "linear" else {})
        assert venue_http.get_open_orders(**params)["result"]["list"] == []


async def test_two_actors_flattening_at_once_close_each_position_once(
    fast_venue: str, account: Account, venue_http: HTTP
) -> None:
    venue_http.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market",
                           qty="0.02")  # fmt: skip
    async with aiohttp.ClientSession() as http:
        runtime, operator = client(fast_venue, account), client(fast_venue, account, http)
        results = await asyncio.gather(
            flatten_account(runtime, VenueCloser(runtime), engine="uid-2", purpose="halt:p:9"),
            flatten_account(operator, VenueCloser(operator), engine="uid-2", purpose="halt:p:9"),
        )
    assert all(r.flat for r in results)
    history = venue_http.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"]
    closes = [o for o in history if o["side"] == "Sell"]
    assert len({o["orderLinkId"] for o in closes}) == 1  # one id, whoever sent it
    filled = sum(Decimal(o["cumExecQty"]) for o in closes)
    assert filled == Decimal("0.02")
    assert "BTCUSDT" not in held(venue_http)


async def test_the_shared_session_answers_and_fails_as_pybit_s_own_sending(
    fast_venue: str, account: Account, venue_http: HTTP
) -> None:
    venue_http.place_order(category="spot", symbol="BTCUSDT", side="Buy", orderType="Market",
                           qty="500", marketUnit="quoteCoin")  # fmt: skip
    threads = client(fast_venue, account)
    async with aiohttp.ClientSession() as http:
        shared = client(fast_venue, account, http)
        held_now = {c: b.wallet_balance for c, b in (await threads.wallet()).coins.items()}
        assert {c: b.wallet_balance for c, b in (await shared.wallet()).coins.items()} == held_now
        assert held_now["BTC"] > 0  # (equity moves with prices; what is held does not)
        assert await shared.positions() == await threads.positions()
        params = {"category": "spot", "symbol": "BTCUSDT", "side": "Sell", "orderType": "Limit",
                  "qty": "0.001", "price": "900000", "orderLinkId": "aio-once"}  # fmt: skip
        await shared.raw.place_order(**params)
        for one in (shared, threads):  # the venue's 110072, classified alike
            # A repeat signed in the same millisecond is byte-identical, a replay (10014), so
            # let the clock tick: this asks about the orderLinkId, not the signature.
            await asyncio.sleep(0.002)
            with pytest.raises(DuplicateOrderError):
                await one.raw.place_order(**params)
        assert len(await shared.open_orders(Category.SPOT)) == 1
        stranger = Account(account.uid, "not-a-key", "nor-a-secret")
        for one in (client(fast_venue, stranger, http), client(fast_venue, stranger)):
            with pytest.raises(UnknownKeyError):
                await one.wallet()
        many = [client(fast_venue, account, http) for _ in range(40)]
        walls = await asyncio.gather(*(c.wallet() for c in many))  # at once, one session
        assert all({c: b.wallet_balance for c, b in w.coins.items()} == held_now for w in walls)


async def test_an_account_trading_spot_has_its_prices_read_with_it(
    fast_venue: str, account: Account, venue_http: HTTP
) -> None:
    """The runtime's cache knows its spot markets: the prices its coins' sale needs come with
    the account's first read, not one round trip after it; a cache that knows none (the
    operator's) asks for them only once the wallet shows coins."""
    expose(venue_http)
    known: dict[tuple[str, Category], Instrument] = {}
    await snapshot(client(fast_venue, account), known)  # fills the cache: BTCUSDT, ETHUSDT
    assert ("BTCUSDT", Category.SPOT) in known

    runtime = Watched(client(fast_venue, account).raw)
    warm = await snapshot(runtime, dict(known))
    assert runtime.seen.index("prices asked") < runtime.seen.index("wallet answered")

    operator = Watched(client(fast_venue, account).raw)
    cold = await snapshot(operator, {})
    assert operator.seen.index("prices asked") > operator.seen.index("wallet answered")
    # The same coins priced either way (the venue's prices walk between the two reads).
    assert set(warm.prices) == set(cold.prices) == {"BTCUSDT", "ETHUSDT"}
    assert all(price > 0 for price in (*warm.prices.values(), *cold.prices.values()))
    assert warm.instruments == cold.instruments


async def test_the_markets_a_read_lacks_are_asked_for_together(
    fast_venue: str, account: Account
) -> None:
    """Each symbol's market is a request of its own: they all go before the first answer."""
    venue = Watched(client(fast_venue, account).raw)
    found = await venue.instruments(Category.SPOT, ["BTCUSDT", "ETHUSDT", "SOLUSDT"])
    assert set(found) == {"BTCUSDT", "ETHUSDT", "SOLUSDT"}
    assert venue.seen[:3] == ["request"] * 3, venue.seen
