"""Synchronous reads of the runtime's PostgreSQL tables and Redis streams, for tests."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import redis as sync_redis


def fetch(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        conn = await asyncpg.connect(url)
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return asyncio.run(run())


def orders(url: str, engine: str) -> list[dict[str, Any]]:
    return fetch(url, "SELECT * FROM orders WHERE engine=$1 ORDER BY created_at", engine)


def executions(url: str, engine: str) -> list[dict[str, Any]]:
    return fetch(url, "SELECT * FROM executions WHERE engine=$1 ORDER BY ts_event", engine)


def stream(url: str, key: str) -> list[tuple[str, dict[str, str]]]:
    client = sync_redis.Redis.from_url(url, decode_responses=True)
    try:
        return [(i, dict(f)) for i, f in client.xrange(key)]
    finally:
        client.close()
