"""The rows of a Backtest's shards (`backtest_results`) and its plots (`backtest_plots`):
written by the shards (`engine_runtime.backtest.shard`), read by the shard that draws the plot
and by the operator, which ranks them into the Backtest's status. One module for the tables, so
the writer and the readers agree on them; light (asyncpg only), as the operator imports it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from .migrate import MIGRATIONS_DIR, apply_migrations

COMPONENT = "runtime"  # the runtime's migrations (0005) create the tables


@dataclass(frozen=True)
class ResultRow:
    """One combination's row, as a shard writes it."""

    position: int
    params: Mapping[str, Any]
    score: float | None
    final_equity: Decimal | None
    fees: Decimal | None
    stats: Mapping[str, Any]
    error: str | None


@dataclass(frozen=True)
class ShardRow:
    """One combination's row, as it is read back."""

    shard: int
    position: int
    params: dict[str, Any]
    score: float | None
    final_equity: Decimal | None
    stats: dict[str, Any]
    error: str | None


_INSERT = (
    "INSERT INTO backtest_results (backtest_uid, namespace, backtest, shard, position, params, "
    "metric, score, final_equity, fees, stats, error) "
    "VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $11::jsonb, $12)"
)
_SELECT = (
    "SELECT shard, position, params, score, final_equity, stats, error FROM backtest_results "
    "WHERE backtest_uid = $1 ORDER BY score DESC NULLS LAST, position"
)


async def write_rows(
    url: str, uid: str, namespace: str, name: str, shard: int, metric: str,
    rows: Sequence[ResultRow],
) -> None:  # fmt: skip
    """Replace the shard's rows (a retried index overwrites its own) in one transaction."""
    conn = await asyncpg.connect(url, timeout=30)
    try:
        await apply_migrations(conn, COMPONENT, MIGRATIONS_DIR)
        async with conn.transaction():
            await conn.execute(
                "DELETE FROM backtest_results WHERE backtest_uid = $1 AND shard = $2", uid, shard
            )
            await conn.executemany(_INSERT, [
                (uid, namespace, name, shard, r.position, json.dumps(dict(r.params)), metric,
                 r.score, r.final_equity, r.fees, json.dumps(dict(r.stats), default=str), r.error)
                for r in rows
            ])  # fmt: skip
    finally:
        await conn.close()


async def read_rows(url: str, uid: str) -> list[ShardRow]:
    """The Backtest's rows, best first (none before any shard created the table)."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        try:
            found = await conn.fetch(_SELECT, uid)
        except asyncpg.UndefinedTableError:
            return []
    finally:
        await conn.close()
    return [ShardRow(r["shard"], r["position"], json.loads(r["params"]), r["score"],
                     r["final_equity"], json.loads(r["stats"]), r["error"])
            for r in found]  # fmt: skip


async def write_plot(url: str, uid: str, name: str, png: bytes) -> None:
    conn = await asyncpg.connect(url, timeout=30)
    try:
        await conn.execute(
            "INSERT INTO backtest_plots (backtest_uid, name, png) VALUES ($1, $2, $3) "
            "ON CONFLICT (backtest_uid, name) DO UPDATE SET png = EXCLUDED.png, written_at = now()",
            uid, name, png,
        )  # fmt: skip
    finally:
        await conn.close()


async def read_plots(url: str, uid: str) -> dict[str, bytes]:
    conn = await asyncpg.connect(url, timeout=10)
    try:
        try:
            found = await conn.fetch(
                "SELECT name, png FROM backtest_plots WHERE backtest_uid = $1", uid
            )
        except asyncpg.UndefinedTableError:
            return {}
    finally:
        await conn.close()
    return {r["name"]: bytes(r["png"]) for r in found}
