"""The stored daily reports (`daily_reports`, migrated with the governance tables)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg


@dataclass(frozen=True)
class Stored:
    day: date
    report: dict[str, Any]
    sent_at: datetime | None


@dataclass
class ReportStore:
    pool: asyncpg.Pool

    async def get(self, day: date) -> Stored | None:
        row = await self.pool.fetchrow(
            "SELECT day, report::text AS report, sent_at FROM daily_reports WHERE day = $1", day
        )
        if row is None:
            return None
        return Stored(row["day"], dict(json.loads(row["report"])), row["sent_at"])

    async def insert(self, day: date, report: dict[str, Any], now: datetime) -> bool:
        """Store `day`'s report unless one is stored already; True when this call stored it."""
        inserted = await self.pool.fetchval(
            "INSERT INTO daily_reports (day, report, created_at) VALUES ($1, $2::jsonb, $3) "
            "ON CONFLICT (day) DO NOTHING RETURNING true",
            day, json.dumps(report), now,
        )  # fmt: skip
        return bool(inserted)

    async def mark_sent(self, day: date, now: datetime, destination: str) -> None:
        await self.pool.execute(
            "UPDATE daily_reports SET sent_at = $2, destination = $3 WHERE day = $1",
            day, now, destination,
        )  # fmt: skip
