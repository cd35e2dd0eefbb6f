"""pybit HTTP sessions pointed at a venue's REST base URL.

pybit builds its URL from testnet/demo flags; every other part of it is used unmodified, and
only `endpoint` is replaced, so the same code talks to Bybit and to the paper venue.
"""

from __future__ import annotations

from pybit.unified_trading import HTTP


def http_session(
    rest_url: str, api_key: str, api_secret: str, *, recv_window_ms: int = 5000
) -> HTTP:
    session = HTTP(
        api_key=api_key,
        api_secret=api_secret,
        recv_window=recv_window_ms,
        max_retries=2,
        retry_delay=1,
        log_requests=False,
    )
    session.endpoint = rest_url.rstrip("/")
    return session
