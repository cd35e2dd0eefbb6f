"""pybit HTTP sessions pointed at a venue's REST base URL.

pybit builds its URL from testnet/demo flags; every other part of it is used unmodified, and
only `endpoint` is replaced, so the same code talks to Bybit and to the paper venue.

The operator's fallback uses the defaults (pybit retries a rate limit itself). The runtime's
adapter asks for no retries inside pybit (`retry_codes=NO_RETRY_CODES`, `max_retries=1`) and the
response headers, because it maps every error once and paces itself from Bybit's headers.
"""

from __future__ import annotations

from pybit.unified_trading import HTTP

NO_RETRY_CODES = frozenset({0})
"""A code Bybit never sends as an error: pybit then retries nothing (an empty set means its
defaults)."""


def http_session(
    rest_url: str,
    api_key: str,
    api_secret: str,
    *,
    recv_window_ms: int = 5000,
    max_retries: int = 2,
    retry_delay_s: int = 1,
    retry_codes: frozenset[int] | None = None,
    return_response_headers: bool = False,
    timeout_s: int = 10,
) -> HTTP:
    session = HTTP(
        api_key=api_key,
        api_secret=api_secret,
        recv_window=recv_window_ms,
        max_retries=max_retries,
        retry_delay=retry_delay_s,
        log_requests=False,
        timeout=timeout_s,
        return_response_headers=return_response_headers,
        **({"retry_codes": set(retry_codes)} if retry_codes else {}),
    )
    session.endpoint = rest_url.rstrip("/")
    return session
