"""The domain client: what the runtime asks of the venue, in its own types.

Retries retryable errors (bounded, waiting what Bybit said), so a 10006 storm is ridden out;
treats 110072 on submit as "already placed" and answers with the venue's copy of the order;
pages through lists; parses every answer. Everything else is the raw client's.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category
from eternal_kernel.model.identifiers import ClientOrderId
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.model.reports import (
    FillReport,
    OrderStatusReport,
    PositionStatusReport,
    WalletReport,
)

from . import parsing
from .errors import (
    DuplicateOrderError,
    OrderNotFoundError,
    OrderRefused,
    RetryableError,
    VenueError,
)
from .raw import BybitRawClient, Result

log = logging.getLogger(__name__)
T = TypeVar("T")
QUOTE = "USDT"
MAX_PAGES = 20


class BybitDomainClient:
    def __init__(
        self,
        raw: BybitRawClient,
        *,
        max_attempts: int = 8,
        max_retry_wait_s: float = 30.0,
        on_error: Callable[[VenueError], None] | None = None,
    ) -> None:
        self.raw = raw
        self.max_attempts = max_attempts
        self.max_retry_wait_s = max_retry_wait_s
        self.on_error = on_error

    async def _retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        waited = 0.0
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await call()
            except VenueError as error:
                if self.on_error is not None and not isinstance(error, OrderRefused):
                    self.on_error(error)
                if not isinstance(error, RetryableError) or attempt == self.max_attempts:
                    raise
                delay = error.retry_after_s * (1 + random.random() * 0.2)  # noqa: S311
                if waited + delay > self.max_retry_wait_s:
                    raise
                waited += delay
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    # orders -------------------------------------------------------------------------------
    async def submit(
        self, request: OrderRequest, precheck: Callable[[], Awaitable[None]] | None = None
    ) -> OrderStatusReport | None:
        """Place the order; None when the venue accepted it and has not shown it yet.

        A duplicate orderLinkId (110072) means an earlier attempt (before a timeout, crash or
        reconnect) placed it: the venue's order is returned instead of an error. `precheck` runs
        before every attempt, retries included, and may refuse the order (`OrderRefused`): a
        retry long after the first attempt is checked again, not sent on the old word.
        """
        params = request.params()

        async def attempt() -> Result:
            if precheck is not None:
                await precheck()
            return await self.raw.place_order(**params)

        try:
            await self._retrying(attempt)
        except DuplicateOrderError:
            log.info("order already placed", extra={"client_order_id": request.client_order_id})
            return await self.order(request.category, request.client_order_id)
        return None

    async def amend(
        self,
        category: Category,
        symbol: str,
        client_order_id: ClientOrderId,
        *,
        qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> None:
        params: dict[str, Any] = {
            "category": category.value,
            "symbol": symbol,
            "orderLinkId": client_order_id,
        }
        if qty is not None:
            params["qty"] = format(qty, "f")
        if price is not None:
            params["price"] = format(price, "f")
        await self._retrying(lambda: self.raw.amend_order(**params))

    async def cancel(self, category: Category, symbol: str, client_order_id: ClientOrderId) -> bool:
        """Cancel; False when the order is already gone (filled or cancelled)."""
        try:
            await self._retrying(
                lambda: self.raw.cancel_order(
                    category=category.value, symbol=symbol, orderLinkId=client_order_id
                )
            )
        except OrderNotFoundError:
            return False
        return True

    async def cancel_all(self, categories: tuple[Category, ...]) -> int:
        """Cancel every open order of these categories (together); how many were."""

        async def one(category: Category) -> int:
            params: dict[str, Any] = {"category": category.value}
            if category is Category.LINEAR:
                params["settleCoin"] = QUOTE
            result = await self._retrying(lambda: self.raw.cancel_all_orders(**params))
            return len(result.get("list") or [])

        return sum(await asyncio.gather(*(one(c) for c in categories)))

    async def order(
        self, category: Category, client_order_id: ClientOrderId
    ) -> OrderStatusReport | None:
        """The venue's order with this orderLinkId, open or recently closed."""
        result = await self._retrying(
            lambda: self.raw.get_open_orders(
                category=category.value, orderLinkId=client_order_id, openOnly=0
            )
        )
        rows = result.get("list") or []
        if not rows:
            result = await self._retrying(
                lambda: self.raw.get_order_history(
                    category=category.value, orderLinkId=client_order_id
                )
            )
            rows = result.get("list") or []
        return parsing.order_report(rows[0], category) if rows else None

    async def open_orders(self, category: Category) -> list[OrderStatusReport]:
        params: dict[str, Any] = {"category": category.value, "limit": 50}
        if category is Category.LINEAR:
            params["settleCoin"] = QUOTE
        rows = await self._pages(self.raw.get_open_orders, params)
        return [parsing.order_report(r, category) for r in rows]

    async def fills(self, category: Category, start_ms: int | None = None) -> list[FillReport]:
        """The subaccount's trades since `start_ms` (funding and settlement rows left out)."""
        params: dict[str, Any] = {"category": category.value, "limit": 100}
        if start_ms is not None:
            params["startTime"] = start_ms
        return await self._trades(category, params)

    async def order_fills(
        self, category: Category, client_order_id: ClientOrderId
    ) -> list[FillReport]:
        """The trades of one order, by its orderLinkId."""
        params = {"category": category.value, "orderLinkId": client_order_id, "limit": 100}
        return await self._trades(category, params)

    async def _trades(self, category: Category, params: dict[str, Any]) -> list[FillReport]:
        rows = await self._pages(self.raw.get_executions, params)
        return [parsing.fill_report(r, category) for r in rows if parsing.is_trade(r)]

    async def funding_payment(self, symbol: str, ts_ms: int) -> Decimal:
        """What this subaccount received (negative: paid) at the settlement at `ts_ms`."""
        rows = await self._pages(
            self.raw.get_executions,
            {
                "category": "linear",
                "symbol": symbol,
                "execType": "Funding",
                "startTime": ts_ms - 60_000,
                "endTime": ts_ms + 60_000,
                "limit": 100,
            },
        )
        return -sum((parsing.dec(r.get("execFee")) for r in rows), Decimal(0))

    # account ------------------------------------------------------------------------------
    async def positions(self) -> list[PositionStatusReport]:
        rows = await self._pages(
            self.raw.get_positions, {"category": "linear", "settleCoin": QUOTE, "limit": 200}
        )
        return [parsing.position_report({**r, "category": "linear"}) for r in rows]

    async def wallet(self) -> WalletReport:
        result = await self._retrying(lambda: self.raw.get_wallet_balance(accountType="UNIFIED"))
        rows = result.get("list") or [{}]
        return parsing.wallet_report(rows[0])

    async def arm_disconnect_cancel_all(self, window_s: int) -> None:
        await self._retrying(lambda: self.raw.set_dcp(timeWindow=window_s))

    async def set_stop_loss(self, symbol: str, trigger_price: Decimal | None) -> None:
        await self._retrying(
            lambda: self.raw.set_trading_stop(
                category="linear",
                symbol=symbol,
                stopLoss=format(trigger_price, "f") if trigger_price is not None else "0",
                tpslMode="Full",
                positionIdx=0,
            )
        )

    # market -------------------------------------------------------------------------------
    async def instruments(self, category: Category, symbols: list[str]) -> dict[str, Instrument]:
        """Each symbol's market in `category` (a request each, sent together)."""

        async def one(symbol: str) -> Result:
            return await self._retrying(
                lambda: self.raw.get_instruments_info(category=category.value, symbol=symbol)
            )

        results = await asyncio.gather(*(one(s) for s in symbols))
        return {
            row["symbol"]: parsing.instrument(row, category)
            for result in results
            for row in result.get("list") or []
        }

    async def last_prices(self, category: Category) -> dict[str, Decimal]:
        """Every symbol's last traded price in `category` (one request)."""
        result = await self._retrying(lambda: self.raw.get_tickers(category=category.value))
        rows = result.get("list") or []
        return {str(r["symbol"]): parsing.dec(r.get("lastPrice")) for r in rows if r.get("symbol")}

    async def klines(
        self, category: Category, symbol: str, interval: str, limit: int
    ) -> list[list[str]]:
        """Confirmed and current candles, oldest first: [start, open, high, low, close, volume,
        turnover] strings as Bybit sends them."""
        result = await self._retrying(
            lambda: self.raw.get_kline(
                category=category.value, symbol=symbol, interval=interval, limit=min(limit, 1000)
            )
        )
        return list(reversed(result.get("list") or []))

    async def funding_history(self, symbol: str, limit: int = 20) -> list[tuple[int, Decimal]]:
        result = await self._retrying(
            lambda: self.raw.get_funding_rate_history(category="linear", symbol=symbol, limit=limit)
        )
        rows = result.get("list") or []
        return sorted(
            (int(r["fundingRateTimestamp"]), parsing.dec(r.get("fundingRate"))) for r in rows
        )

    async def server_time_ms(self) -> int:
        result = await self._retrying(self.raw.get_server_time)
        return (
            int(result.get("timeNano", 0)) // 1_000_000 or int(result.get("timeSecond", 0)) * 1000
        )

    async def _pages(
        self, method: Callable[..., Awaitable[Result]], params: dict[str, Any]
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        for _ in range(MAX_PAGES):
            page = {**params, **({"cursor": cursor} if cursor else {})}
            result = await self._retrying(lambda p=page: method(**p))  # type: ignore[misc]
            rows.extend(result.get("list") or [])
            cursor = str(result.get("nextPageCursor") or "")
            if not cursor:
                break
        return rows
