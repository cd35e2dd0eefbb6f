"""Bybit errors mapped once, and client-side pacing from the limit headers."""

from __future__ import annotations

import time

import pytest

from eternal_kernel.bybit.errors import (
    DuplicateOrderError,
    FatalError,
    InsufficientFundsError,
    OrderNotFoundError,
    RejectedError,
    RetryableError,
    UnknownKeyError,
    classify,
    classify_http,
)
from eternal_kernel.bybit.ratelimit import RateLimiter, TokenBucket

pytestmark = pytest.mark.unit


def test_error_kinds() -> None:
    storm = classify(10006, "Too many visits", {"X-Bapi-Limit-Reset-Timestamp": "1500"}, 1000)
    assert isinstance(storm, RetryableError)
    assert storm.retry_after_s == pytest.approx(0.5)
    assert isinstance(classify(10006, "x"), RetryableError)
    assert isinstance(classify(10003, "invalid key"), UnknownKeyError)
    assert isinstance(classify(10003, "invalid key"), FatalError)
    assert not isinstance(classify(10004, "sign"), UnknownKeyError)
    assert isinstance(classify(110007, "not enough"), InsufficientFundsError)
    assert isinstance(classify(110072, "dup"), DuplicateOrderError)
    assert isinstance(classify(170141, "Duplicate clientOrderId"), DuplicateOrderError)
    assert isinstance(classify(110001, "gone"), OrderNotFoundError)
    rejected = classify(10001, "params")
    assert type(rejected) is RejectedError
    assert rejected.code == 10001
    assert isinstance(classify_http(503, "gateway"), RetryableError)
    assert isinstance(classify_http(401, "no"), FatalError)


def test_token_bucket_paces_and_headers_close_the_group() -> None:
    bucket = TokenBucket(rate_per_s=10, burst=2)
    now = time.monotonic()
    assert bucket.wait_s(now) == 0
    assert bucket.wait_s(now) == 0
    assert bucket.wait_s(now) == pytest.approx(0.1, rel=0.05)
    limiter = RateLimiter({"orders": 10})
    reset_ms = int((time.time() + 0.5) * 1000)
    limiter.observe(
        "orders", {"X-Bapi-Limit-Status": "1", "X-Bapi-Limit-Reset-Timestamp": str(reset_ms)}
    )
    assert limiter.buckets["orders"].wait_s(time.monotonic()) > 0.3
    limiter.observe("orders", {"X-Bapi-Limit-Status": "40"})  # incomplete: ignored


async def test_acquire_waits_for_a_token() -> None:
    limiter = RateLimiter({"q": 50})
    started = time.monotonic()
    for _ in range(55):
        await limiter.acquire("q")
    assert time.monotonic() - started >= 0.08
