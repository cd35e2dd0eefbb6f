"""Bybit V5 requests sent through a shared aiohttp session, for an actor with many accounts.

pybit still names every endpoint and signs every request (its own `HTTP` is asked to describe a
request instead of sending it); only the sending is asynchronous. The operator flattening a
whole fleet at once then sends every account's requests concurrently from its event loop, over
one connection pool, with no worker thread per call (a thread pool would queue them). Answers
and failures come back as pybit's own (`InvalidRequestError` for a Bybit `retCode`,
`FailedRequestError` for an HTTP status), so `BybitRawClient` classifies them the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: dict[str, Any]
    auth: bool


class _Describer(HTTP):  # type: ignore[misc]  # pybit is untyped
    """pybit's client, made to describe each request (method, URL, parameters) instead of
    sending it."""

    def _submit_request(
        self,
        method: str | None = None,
        path: str | None = None,
        query: dict[str, Any] | None = None,
        auth: bool = False,
    ) -> _Request:
        return _Request(str(method), str(path), self._clean_query(query), auth)


def _now() -> str:
    return datetime.now(UTC).strftime("%H:%M:%S")


class AioTransport:
    """Sends one account's requests (its keys) through `session` (shared; or, if None, its own,
    made at the first request and closed by `close`); `await transport(name, params)` calls the
    pybit method `name` and returns (Bybit's envelope, response headers)."""

    def __init__(
        self,
        session: aiohttp.ClientSession | None,
        rest_url: str,
        api_key: str,
        api_secret: str,
        *,
        recv_window_ms: int = 5000,
        timeout_s: float = 10.0,
    ) -> None:
        self._session = session
        self._own = session is None
        self._pybit = _Describer(api_key=api_key, api_secret=api_secret,
                                 recv_window=recv_window_ms, log_requests=False)  # fmt: skip
        self._pybit.endpoint = rest_url.rstrip("/")
        self._recv_window = recv_window_ms
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    async def __call__(
        self, name: str, params: Mapping[str, Any]
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        request: _Request = getattr(self._pybit, name)(**params)
        payload = self._pybit.prepare_payload(request.method, request.query)
        headers = (
            self._pybit._prepare_headers(payload, self._recv_window)  # pybit's signing
            if request.auth
            else {}
        )
        get = request.method == "GET"
        url = f"{request.path}?{payload}" if get and payload else request.path
        described = f"{request.method} {request.path}"
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        async with self._session.request(
            request.method, url, data=None if get else payload, headers=headers,
            timeout=self._timeout,
        ) as response:  # fmt: skip
            if response.status != 200:
                raise FailedRequestError(
                    request=described, message=f"HTTP status {response.status}",
                    status_code=response.status, time=_now(), resp_headers=response.headers,
                )  # fmt: skip
            body = await response.json(content_type=None)
            answer_headers = response.headers
        if not isinstance(body, dict):
            return {}, answer_headers
        code = body.get("retCode")
        if code:
            raise InvalidRequestError(
                request=described, message=str(body.get("retMsg")), status_code=int(code),
                time=_now(), resp_headers=answer_headers,
            )  # fmt: skip
        return body, answer_headers

    async def close(self) -> None:
        """Close the session if it is this transport's own."""
        if self._own and self._session is not None:
            await self._session.close()
            self._session = None
