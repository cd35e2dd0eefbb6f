"""The raw Bybit V5 REST client: one method per endpoint, pybit underneath, off the event loop.

pybit is synchronous, so every call runs in a worker thread (`asyncio.to_thread`), unless the
client is given an asynchronous transport (`aio.AioTransport`: pybit signs, a shared aiohttp
session sends; for an actor with many accounts at once). pybit is asked to retry nothing, and
every failure leaves here as one of the kinds in `errors`. Calls are paced by the `RateLimiter`
before they go and observed after (Bybit's limit headers). Methods return the `result` object
of Bybit's envelope, unparsed: parsing is `parsing`'s job.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError

from eternal_kernel.bybit.session import NO_RETRY_CODES, http_session

from .aio import AioTransport
from .errors import RATE_LIMIT, RetryableError, VenueError, classify, classify_http
from .ratelimit import RateLimiter

log = logging.getLogger(__name__)

Result = dict[str, Any]
ORDERS = "orders"
QUERIES = "queries"
CallHook = Callable[[str, float, int], None]
"""(endpoint, seconds, retCode) after every call: metrics."""


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class BybitRawClient:
    """Mirrors the Bybit V5 endpoints the runtime uses."""

    def __init__(
        self,
        rest_url: str,
        api_key: str,
        api_secret: str,
        *,
        limiter: RateLimiter,
        timeout_s: int = 10,
        on_call: CallHook | None = None,
        transport: AioTransport | None = None,
    ) -> None:
        self._transport = transport
        self._session = http_session(
            rest_url,
            api_key,
            api_secret,
            max_retries=1,
            retry_codes=NO_RETRY_CODES,
            return_response_headers=True,
            timeout_s=timeout_s,
        )
        self.limiter = limiter
        self.on_call = on_call

    async def _call(self, group: str, name: str, params: Mapping[str, Any]) -> Result:
        await self.limiter.acquire(group)
        started = time.perf_counter()
        code = 0
        try:
            if self._transport is not None:
                body, headers = await self._transport(name, params)
            else:
                method = getattr(self._session, name)
                body, _elapsed, headers = await asyncio.to_thread(method, **params)
        except InvalidRequestError as error:
            code = int(error.status_code)
            mapped = classify(code, str(error.message), error.resp_headers, _now_ms())
            if code == RATE_LIMIT and isinstance(mapped, RetryableError):
                self.limiter.close_for(group, mapped.retry_after_s)
            raise mapped from None
        except FailedRequestError as error:
            code = -int(error.status_code or 0)
            raise classify_http(int(error.status_code or 0), str(error.message)) from None
        except (requests.RequestException, aiohttp.ClientError, TimeoutError) as error:
            code = -1
            raise RetryableError(0, f"{name}: {type(error).__name__}", 0.5) from None
        finally:
            if self.on_call is not None:
                self.on_call(name, time.perf_counter() - started, code)
        self.limiter.observe(group, headers)
        result = body.get("result") if isinstance(body, dict) else None
        if not isinstance(result, dict):
            raise VenueError(0, f"{name}: malformed answer")
        return result

    # trade ----------------------------------------------------------------------------
    async def place_order(self, **params: Any) -> Result:
        return await self._call(ORDERS, "place_order", params)

    async def amend_order(self, **params: Any) -> Result:
        return await self._call(ORDERS, "amend_order", params)

    async def cancel_order(self, **params: Any) -> Result:
        return await self._call(ORDERS, "cancel_order", params)

    async def cancel_all_orders(self, **params: Any) -> Result:
        return await self._call(ORDERS, "cancel_all_orders", params)

    async def get_open_orders(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_open_orders", params)

    async def get_order_history(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_order_history", params)

    async def set_dcp(self, **params: Any) -> Result:
        return await self._call(ORDERS, "set_dcp", params)

    # position and account ----------------------------------------------------------------
    async def get_positions(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_positions", params)

    async def get_executions(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_executions", params)

    async def get_wallet_balance(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_wallet_balance", params)

    async def set_trading_stop(self, **params: Any) -> Result:
        return await self._call(ORDERS, "set_trading_stop", params)

    # market -----------------------------------------------------------------------------
    async def get_instruments_info(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_instruments_info", params)

    async def get_tickers(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_tickers", params)

    async def get_kline(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_kline", params)

    async def get_funding_rate_history(self, **params: Any) -> Result:
        return await self._call(QUERIES, "get_funding_rate_history", params)

    async def get_server_time(self) -> Result:
        return await self._call(QUERIES, "get_server_time", {})
