"""Redis: the market-data cache (with TTLs), the equity stream governance reads, and events.

Keys (namespace `ns`, engine `name`):

* `ee:equity:{ns}:{name}`: stream, `XADD ... MAXLEN ~ 10000`, fields `equity` (USDT decimal
  string) and `ts` (epoch milliseconds); one entry per status report and per fill.
* `ee:events:{ns}:{name}`: stream, `MAXLEN ~ 10000`, fields `kind` and `data` (JSON): order
  final states, risk refusals, discrepancies, directives applied.
* `ee:md:{category}:{symbol}:ticker`: hash of the last ticker (`last`, `bid`, `ask`, `ts`), TTL
  60 s, written at most once a second per symbol (coalesced off the hot path).
* `ee:md:{category}:{symbol}:kline:{interval}`: JSON list of the last confirmed candles, TTL 1 h.

A Redis outage never stops trading: writes are best effort and counted as errors.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

EQUITY_MAXLEN = 10_000
TICKER_TTL_S = 60
KLINE_TTL_S = 3600


def equity_key(namespace: str, name: str) -> str:
    return f"ee:equity:{namespace}:{name}"


def events_key(namespace: str, name: str) -> str:
    return f"ee:events:{namespace}:{name}"


class Cache:
    def __init__(self, client: aioredis.Redis, namespace: str, name: str) -> None:
        self.client = client
        self.equity_key = equity_key(namespace, name)
        self.events_key = events_key(namespace, name)
        self.errors = 0
        self._tickers: dict[str, dict[str, str]] = {}

    @classmethod
    async def connect(cls, url: str, namespace: str, name: str) -> Cache:
        client = aioredis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
        await client.ping()
        return cls(client, namespace, name)

    async def close(self) -> None:
        await self.client.aclose()

    async def _safe(self, what: str, coro: Any) -> Any:
        try:
            return await coro
        except (RedisError, OSError) as error:
            self.errors += 1
            log.warning("redis %s failed: %s", what, error)
            return None

    async def equity(self, equity: Decimal, ts_ms: int) -> None:
        await self._safe(
            "xadd equity",
            self.client.xadd(
                self.equity_key,
                {"equity": format(equity, "f"), "ts": str(ts_ms)},
                maxlen=EQUITY_MAXLEN,
                approximate=True,
            ),
        )

    async def event(self, kind: str, data: dict[str, Any]) -> None:
        await self._safe(
            "xadd event",
            self.client.xadd(
                self.events_key,
                {"kind": kind, "data": json.dumps(data, default=str)},
                maxlen=EQUITY_MAXLEN,
                approximate=True,
            ),
        )

    def stage_ticker(self, category: str, symbol: str, fields: dict[str, str]) -> None:
        """Remember the latest ticker; `flush_tickers` writes it (keeps Redis off the hot path)."""
        self._tickers[f"ee:md:{category}:{symbol}:ticker"] = fields

    async def flush_tickers(self) -> None:
        if not self._tickers:
            return
        staged, self._tickers = self._tickers, {}
        pipe = self.client.pipeline(transaction=False)
        for key, fields in staged.items():
            pipe.hset(key, mapping=dict(fields.items()))
            pipe.expire(key, TICKER_TTL_S)
        await self._safe("tickers", pipe.execute())

    async def klines(
        self, category: str, symbol: str, interval: str, candles: list[list[str]]
    ) -> None:
        key = f"ee:md:{category}:{symbol}:kline:{interval}"
        await self._safe("klines", self.client.set(key, json.dumps(candles), ex=KLINE_TTL_S))
