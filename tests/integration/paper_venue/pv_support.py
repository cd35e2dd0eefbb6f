"""Helpers for the paper-venue integration tests: settings, clients, polling, shapes."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from pybit.unified_trading import HTTP

from paper_venue.clock import Clock
from paper_venue.config import VenueSettings
from paper_venue.router.app import PaperVenue
from paper_venue.router.auth import sign
from support.venue_admin import ADMIN_HEADERS, ADMIN_TOKEN

SUB_KEY, SUB_SECRET, SUB_UID = "PAPERSUBKEY0001", "PAPERSUBSECRET000000000000000001", 100001
FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bybit"
ADMIN = ADMIN_HEADERS
"""The admin token of every venue these tests start (`settings`), as a header."""


def settings(**extra: Any) -> VenueSettings:
    data: dict[str, Any] = {
        "port": 0,
        "admin_token": ADMIN_TOKEN,
        "feed": {"kind": "scripted", "backfill_minutes": 5},
        "clock": {"mode": "stepped"},
        "rate_limits": {"overrides": {"/v5/order/create": 100, "/v5/order/cancel": 100}},
    }
    data.update(extra)
    return VenueSettings.model_validate(data)


def pybit_http(pv: PaperVenue, key: str = SUB_KEY, secret: str = SUB_SECRET) -> HTTP:
    """pybit's own client; only its base URL is changed."""
    session = HTTP(api_key=key, api_secret=secret, max_retries=1, retry_delay=0)
    session.endpoint = pv.http_url
    return session


def ccxt_urls(http_url: str, ws_url: str) -> dict[str, Any]:
    """The `urls` a user passes to `ccxt.bybit(...)` / `ccxt.pro.bybit(...)`
    (docs/paper-venue.md, "Use it with ccxt"): every REST section and every WebSocket URL
    of ccxt's bybit class on the venue (ccxt without `.pro` just ignores `ws`)."""
    private = f"{ws_url}/v5/private"
    return {
        "api": {
            **{k: http_url for k in ("public", "private", "spot", "futures", "v2")},
            "ws": {
                "public": {
                    c: f"{ws_url}/v5/public/{c}" for c in ("spot", "linear", "inverse", "option")
                },
                "private": {
                    "spot": {"unified": private, "nonUnified": private},
                    "contract": private,
                    "usdc": private,
                    "trade": f"{ws_url}/v5/trade",
                },
            },
        }
    }


async def eventually(check: Callable[[], bool], within: float = 5.0, what: str = "") -> None:
    """Poll `check` until true or the deadline passes."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.01)


class RawClient:
    """Signs requests like Bybit's docs describe, with full control of the bytes."""

    def __init__(self, base: str, session: aiohttp.ClientSession, key: str, secret: str) -> None:
        self.base, self.session, self.key, self.secret = base, session, key, secret

    def headers(self, payload: str, ts: int | None = None, recv: str = "5000") -> dict[str, str]:
        ts = ts if ts is not None else Clock.wall_ms()
        return {
            "X-BAPI-API-KEY": self.key,
            "X-BAPI-TIMESTAMP": str(ts),
            "X-BAPI-RECV-WINDOW": recv,
            "X-BAPI-SIGN": sign(self.secret, f"{ts}{self.key}{recv}{payload}"),
            "Content-Type": "application/json",
        }

    async def post(
        self, path: str, body: dict[str, Any] | str, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        raw = body if isinstance(body, str) else json.dumps(body)
        async with self.session.post(
            self.base + path, data=raw.encode(), headers=headers or self.headers(raw)
        ) as r:
            return r.status, await r.json(content_type=None), dict(r.headers)

    async def get(
        self, path: str, query: str = "", headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        url = f"{self.base}{path}?{query}" if query else self.base + path
        async with self.session.get(url, headers=headers or self.headers(query)) as r:
            return r.status, await r.json(content_type=None), dict(r.headers)


ALTERNATIVE_TYPES: dict[str, set[str]] = {
    "extraFees": {"str"},  # order/execution.mdx: "In other cases, an empty string is returned"
}
"""Fields Bybit documents with a second JSON type."""


COIN_MAPS = {"cumFeeDetail"}
"""Objects keyed by coin (order/open-order: `cumFeeDetail`, the fee by coin, `{}` before a
fill): the example's key (`MNT`) is a coin, not a field; every value must have the type of
the example's values."""


def load_fixture(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def json_kind(v: Any) -> str:
    """A decoded JSON value's type, as the documented examples are compared by."""
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int | float):
        return "number"
    if v is None:
        return "null"
    return type(v).__name__


def shape_mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Fields of the documented example missing from `actual` or of another JSON type."""
    kind = json_kind
    if kind(expected) != kind(actual):
        if kind(actual) in ALTERNATIVE_TYPES.get(path.rsplit(".", 1)[-1], set()):
            return []
        return [f"{path}: expected {kind(expected)}, got {kind(actual)}"]
    out: list[str] = []
    if isinstance(expected, dict) and path.rsplit(".", 1)[-1] in COIN_MAPS:
        kinds = {kind(v) for v in expected.values()}
        out += [f"{path}.{c}: expected {kinds}" for c, v in actual.items() if kind(v) not in kinds]
    elif isinstance(expected, dict):
        for k, v in expected.items():
            if k not in actual:
                out.append(f"{path}.{k}: missing")
            else:
                out += shape_mismatches(v, actual[k], f"{path}.{k}")
    elif isinstance(expected, list) and expected and actual:
        out += shape_mismatches(expected[0], actual[0], f"{path}[0]")
    return out
