"""Client-side pacing, so Bybit never has to enforce its limits on us.

A token bucket per endpoint group (orders, queries) allows the configured rate; Bybit's
`X-Bapi-Limit-Status` (requests left in the window) and `X-Bapi-Limit-Reset-Timestamp` headers,
seen on every answer, close a group until the reset when it is about to run dry, and a 10006 that
gets through anyway closes it for the retry-after the error carried.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate_per_s: float
    burst: float
    tokens: float = 0.0
    updated: float = field(default_factory=time.monotonic)
    closed_until: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def wait_s(self, now: float) -> float:
        """Seconds to wait before one request may go (0: take the token now)."""
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate_per_s)
        self.updated = now
        if now < self.closed_until:
            return self.closed_until - now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate_per_s


class RateLimiter:
    """Async pacing by group; `acquire` waits (bounded) until a request may go."""

    def __init__(self, rates: Mapping[str, float]) -> None:
        self.buckets = {g: TokenBucket(r, max(1.0, r)) for g, r in rates.items()}

    async def acquire(self, group: str) -> float:
        """Wait for a slot; returns the seconds waited."""
        bucket = self.buckets[group]
        waited = 0.0
        for _ in range(1000):
            delay = bucket.wait_s(time.monotonic())
            if delay <= 0:
                return waited
            await asyncio.sleep(delay)
            waited += delay
        return waited

    def observe(self, group: str, headers: Mapping[str, str] | None) -> None:
        """Close the group until Bybit's reset when fewer than two requests are left."""
        if not headers:
            return
        left = headers.get("X-Bapi-Limit-Status") or headers.get("x-bapi-limit-status")
        reset = headers.get("X-Bapi-Limit-Reset-Timestamp") or headers.get(
            "x-bapi-limit-reset-timestamp"
        )
        if left is None or reset is None or not left.isdigit() or not reset.isdigit():
            return
        if int(left) < 2:
            self.close_for(group, max(0.0, int(reset) / 1000 - time.time()))

    def close_for(self, group: str, seconds: float) -> None:
        bucket = self.buckets[group]
        bucket.closed_until = max(bucket.closed_until, time.monotonic() + min(seconds, 10.0))
