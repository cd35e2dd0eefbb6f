"""The order manager in process, against the paper venue and PostgreSQL (both real): what a
resync does with an order whose submit failed."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal

import pytest
from pybit.unified_trading import HTTP

from engine_runtime.app.recovery import Reconciler
from engine_runtime.execution.manager import OrderManager
from engine_runtime.persistence.store import Store
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.bybit.domain import BybitDomainClient
from eternal_kernel.bybit.ratelimit import RateLimiter
from eternal_kernel.bybit.raw import BybitRawClient
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId
from support.runtime import Account, admin

pytestmark = pytest.mark.integration


@dataclass
class Wired:
    venue: BybitDomainClient
    store: Store
    manager: OrderManager
    portfolio: Portfolio
    reconciler: Reconciler
    engine: str


@pytest.fixture
async def wired(fast_venue: str, account: Account, postgres: str) -> AsyncIterator[Wired]:
    raw = BybitRawClient(
        fast_venue,
        account.api_key,
        account.api_secret,
        limiter=RateLimiter({"orders": 8, "queries": 40}),
    )
    venue = BybitDomainClient(raw, max_attempts=2)  # a failing submit gives up in about 0.5 s
    engine = f"ns/{secrets.token_hex(3)}"
    store = await Store.connect(postgres, engine)
    portfolio = Portfolio()
    manager = OrderManager(venue, store, portfolio, Metrics())

    async def noted(*_: object) -> None:
        return None

    reconciler = Reconciler(
        venue, store, manager, portfolio, {}, noted,
        resubmit_max_age_s=30, categories=(Category.LINEAR,),
    )  # fmt: skip
    try:
        yield Wired(venue, store, manager, portfolio, reconciler, engine)
    finally:
        await manager.drain(5)
        await store.close()


def _limit_far_below(venue_http: HTTP, link: str) -> OrderRequest:
    tickers = venue_http.get_tickers(category="linear", symbol="BTCUSDT")["result"]["list"]
    price = (Decimal(tickers[0]["lastPrice"]) * Decimal("0.8")).quantize(Decimal("0.1"))
    return OrderRequest(
        ClientOrderId(link), "BTCUSDT", Category.LINEAR, OrderSide.BUY, OrderType.LIMIT,
        Decimal("0.01"), price,
    )  # fmt: skip


async def test_a_resync_resends_an_order_whose_submit_failed(
    wired: Wired, fast_venue: str, venue_http: HTTP
) -> None:
    request = _limit_far_below(venue_http, f"ee-resend-{secrets.token_hex(3)}")
    admin(fast_venue, "faults", {"http_5xx": 1000})  # the venue's gateway answers 503
    try:
        order = await wired.manager.submit(request, "intent-resend")
    finally:
        admin(fast_venue, "faults/clear", {})
    assert order.status is OrderStatus.SUBMITTED  # sent, outcome unknown
    assert order.client_order_id in wired.manager.unresolved
    assert (wired.manager.errors.current() or "").startswith("submit: ee-resend-")

    await wired.reconciler.run(at_start=False)  # as after a reconnect: Submitted is sent again

    assert order.status is OrderStatus.ACKNOWLEDGED
    assert not wired.manager.unresolved
    assert wired.manager.errors.current() is None  # the resend went through: cleared
    link = request.client_order_id
    on_venue = venue_http.get_open_orders(category="linear", orderLinkId=link)["result"]["list"]
    assert len(on_venue) == 1
    await wired.manager.drain(5)
    rows = await wired.store.load_orders(open_only=False)
    assert [r.status for r in rows] == [OrderStatus.ACKNOWLEDGED]
