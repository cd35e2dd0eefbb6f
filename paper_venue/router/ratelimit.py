"""Per-endpoint rate limits with Bybit's headers.

Bybit limits per UID (market data per IP) over a rolling window, some endpoints per
category (spot order entry allows 20/s where linear allows 10/s). Every limited answer
carries X-Bapi-Limit (the limit), X-Bapi-Limit-Status (what is left) and
X-Bapi-Limit-Reset-Timestamp (when the limit resets once exceeded; otherwise the current
time, as Bybit documents); past the limit the answer is retCode 10006.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from paper_venue.config import RateLimitSettings


@dataclass(frozen=True)
class Limit:
    """`count` requests per rolling `window_ms`."""

    count: int
    window_ms: int = 1000


#: Bybit's V5 rate-limit table ("path#category" where it differs by category). Market data
#: is limited per IP; the endpoints the table leaves open get Bybit's usual 50/s.
DEFAULT_LIMITS: dict[str, Limit] = {
    "/v5/order/create": Limit(10),
    "/v5/order/create#spot": Limit(20),
    "/v5/order/amend": Limit(10),
    "/v5/order/cancel": Limit(10),
    "/v5/order/cancel#spot": Limit(20),
    "/v5/order/cancel-all": Limit(10),
    "/v5/order/cancel-all#spot": Limit(20),
    "/v5/order/realtime": Limit(50),
    "/v5/order/history": Limit(50),
    "/v5/order/disconnected-cancel-all": Limit(5),
    "/v5/execution/list": Limit(50),
    "/v5/position/list": Limit(50),
    "/v5/position/set-leverage": Limit(10),
    "/v5/position/trading-stop": Limit(10),
    "/v5/account/wallet-balance": Limit(50),
    "/v5/account/fee-rate": Limit(5),
    "/v5/account/info": Limit(50),
    "/v5/account/transaction-log": Limit(25),
    "/v5/asset/transfer/inter-transfer": Limit(20, 60_000),
    "/v5/asset/transfer/universal-transfer": Limit(20, 60_000),
    "/v5/asset/transfer/query-account-coins-balance": Limit(60, 60_000),
    "/v5/asset/transfer/query-inter-transfer-list": Limit(60, 60_000),
    "/v5/asset/transfer/query-universal-transfer-list": Limit(5),
    "/v5/asset/coin/query-info": Limit(5),
    "/v5/user/create-sub-member": Limit(5),
    "/v5/user/create-sub-api": Limit(5),
    "/v5/user/query-sub-members": Limit(10),
    "/v5/user/query-api": Limit(10),
    "/v5/market/kline": Limit(600, 5000),
    "/v5/market/tickers": Limit(600, 5000),
    "/v5/market/orderbook": Limit(600, 5000),
    "/v5/market/instruments-info": Limit(600, 5000),
    "/v5/market/funding/history": Limit(600, 5000),
    "/v5/market/time": Limit(600, 5000),
    "/v5/market/recent-trade": Limit(600, 5000),
}


@dataclass(frozen=True)
class LimitState:
    """What the headers report after a request."""

    limit: int
    remaining: int
    reset_ms: int
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-Bapi-Limit": str(self.limit),
            "X-Bapi-Limit-Status": str(self.remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(self.reset_ms),
        }


class RateLimiter:
    """Rolling windows per (who, endpoint[, category])."""

    def __init__(self, settings: RateLimitSettings) -> None:
        self.enabled = settings.enabled
        self.limits = {**DEFAULT_LIMITS, **{k: Limit(v) for k, v in settings.overrides.items()}}
        self._seen: dict[tuple[str, str], deque[int]] = {}

    def _key(self, path: str, category: str | None) -> str | None:
        if category and f"{path}#{category}" in self.limits:
            return f"{path}#{category}"
        return path if path in self.limits else None

    def hit(
        self, who: str, path: str, now_ms: int, category: str | None = None
    ) -> LimitState | None:
        """Count one request; None for endpoints without a limit."""
        key = self._key(path, category)
        if key is None:
            return None
        limit = self.limits[key]
        if not self.enabled:
            return LimitState(limit.count, limit.count, now_ms, True)
        seen = self._seen.setdefault((who, key), deque())
        while seen and seen[0] <= now_ms - limit.window_ms:
            seen.popleft()
        allowed = len(seen) < limit.count
        if allowed:
            seen.append(now_ms)
        remaining = limit.count - len(seen)
        reset = seen[0] + limit.window_ms if remaining == 0 else now_ms
        if len(self._seen) > 50_000:
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now_ms - 60_000}
        return LimitState(limit.count, remaining, reset, allowed)

    def exhausted(self, path: str, now_ms: int, category: str | None = None) -> LimitState:
        """The state reported during an injected 10006 storm."""
        key = self._key(path, category)
        limit = self.limits[key] if key else Limit(10)
        return LimitState(limit.count, 0, now_ms + limit.window_ms, False)
