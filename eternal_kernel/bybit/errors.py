"""Bybit's error codes, mapped once at the adapter into four kinds the runtime acts on.

* `RetryableError` (rate limits, timeouts, server trouble, network): try again after
  `retry_after_s`;
* `RejectedError`: this request is wrong (params, price, qty, state); trying again fails too;
  `InsufficientFundsError` is the rejection for money, `OrderNotFoundError` for an order that
  is gone, `DuplicateOrderError` (110072; spot's 170141) says an order with this
  orderLinkId already exists;
* `FatalError`: the keys, permissions or IP are refused; the runtime stops trading.
  `UnknownKeyError` (10003) is the venue not knowing the API key at all.

`OrderRefused` is the runtime's own refusal, raised before a request is sent (see
`governance.gate`); it is a rejection, so it is recorded like one.
"""

from __future__ import annotations

from collections.abc import Mapping

RATE_LIMIT = 10006
UNKNOWN_API_KEY = 10003
DUPLICATE_ORDER_LINK_ID = 110072
SPOT_DUPLICATE_ORDER_LINK_ID = 170141
"""Spot's code for the same refusal (error.mdx, Spot Trade: "Duplicate clientOrderId")."""
DUPLICATE_CODES = frozenset({DUPLICATE_ORDER_LINK_ID, SPOT_DUPLICATE_ORDER_LINK_ID})
RETRYABLE_CODES = frozenset({10000, 10002, 10006, 10016, 10019, 10429, 30034, 30035, 130150})
FATAL_CODES = frozenset({10003, 10004, 10005, 10007, 10008, 10009, 10010, 10027, 33004})
INSUFFICIENT_CODES = frozenset({110004, 110006, 110007, 110012, 110044, 110045, 170131})
NOT_FOUND_CODES = frozenset({110001, 110008, 110010, 170142, 170213})
DEFAULT_RETRY_AFTER_S = 1.0


class VenueError(Exception):
    """A venue call failed; `code` is Bybit's retCode (0 for transport errors)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code}: {message}" if code else message)
        self.code = code
        self.message = message


class RetryableError(VenueError):
    def __init__(self, code: int, message: str, retry_after_s: float) -> None:
        super().__init__(code, message)
        self.retry_after_s = retry_after_s


class RejectedError(VenueError):
    pass


class InsufficientFundsError(RejectedError):
    pass


class OrderNotFoundError(RejectedError):
    pass


class DuplicateOrderError(RejectedError):
    pass


class FatalError(VenueError):
    pass


class UnknownKeyError(FatalError):
    """The venue does not know this API key ("API key is invalid")."""


class OrderRefused(RejectedError):
    """Refused by the runtime itself before it left the process (a halt in force, governance
    unconfirmed): the venue never saw it. Code 0, like transport errors."""

    def __init__(self, message: str) -> None:
        super().__init__(0, message)


def retry_after(headers: Mapping[str, str] | None, now_ms: int) -> float:
    """Seconds until Bybit's X-Bapi-Limit-Reset-Timestamp (a default when absent)."""
    if headers:
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp") or headers.get(
            "x-bapi-limit-reset-timestamp"
        )
        if reset and reset.isdigit():
            return min(max((int(reset) - now_ms) / 1000, 0.05), 10.0)
    return DEFAULT_RETRY_AFTER_S


def classify(
    code: int, message: str, headers: Mapping[str, str] | None = None, now_ms: int = 0
) -> VenueError:
    """The one mapping from a Bybit retCode to the runtime's error kinds."""
    if code in RETRYABLE_CODES:
        return RetryableError(code, message, retry_after(headers, now_ms))
    if code == UNKNOWN_API_KEY:
        return UnknownKeyError(code, message)
    if code in FATAL_CODES:
        return FatalError(code, message)
    if code in DUPLICATE_CODES:
        return DuplicateOrderError(code, message)
    if code in INSUFFICIENT_CODES:
        return InsufficientFundsError(code, message)
    if code in NOT_FOUND_CODES:
        return OrderNotFoundError(code, message)
    return RejectedError(code, message)


def classify_http(status: int, message: str) -> VenueError:
    """An HTTP-level failure (no Bybit envelope): gateways and IP limits are retryable."""
    if status in (403, 429) or status >= 500:
        return RetryableError(0, f"HTTP {status}: {message}", 2.0 if status == 403 else 0.5)
    if status == 401:
        return FatalError(0, f"HTTP {status}: {message}")
    return RejectedError(0, f"HTTP {status}: {message}")
