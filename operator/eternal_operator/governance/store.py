"""The governance state in PostgreSQL (money and NAV as NUMERIC), beside the policy status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg

from eternal_kernel.breaker.evaluate import Change, State
from eternal_kernel.breaker.nav import Book
from eternal_kernel.persistence.migrate import apply_migrations

MIGRATIONS = Path(__file__).with_name("migrations")


@dataclass
class GovernanceStore:
    pool: asyncpg.Pool

    @classmethod
    async def open(cls, url: str) -> GovernanceStore:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        await apply_migrations(pool, "governance", MIGRATIONS)
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    async def load(self, namespace: str, policy: str) -> State | None:
        row = await self.pool.fetchrow(
            "SELECT * FROM policy_state WHERE namespace = $1 AND policy = $2", namespace, policy
        )
        if row is None:
            return None
        return State(
            book=Book(units=row["units"], high_water_mark=row["high_water_mark"]),
            level=row["level"],
            level_since=row["level_since"],
            halted=row["halted"],
            halt_reason=row["halt_reason"],
            tripped_at=row["tripped_at"],
            reset_token=row["reset_token"],
            sequence=row["directive_seq"],
            halted_engines=tuple(row["halted_engines"] or ()),
        )

    async def save(
        self, namespace: str, policy: str, state: State, changes: list[Change], now: datetime
    ) -> None:
        if state.book is None:
            return
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """
                INSERT INTO policy_state (namespace, policy, units, high_water_mark, level,
                    level_since, halted, halt_reason, tripped_at, reset_token, directive_seq,
                    updated_at, halted_engines)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
                ON CONFLICT (namespace, policy) DO UPDATE SET
                    units = $3, high_water_mark = $4, level = $5, level_since = $6, halted = $7,
                    halt_reason = $8, tripped_at = $9, reset_token = $10, directive_seq = $11,
                    updated_at = $12, halted_engines = $13
                """,
                namespace, policy, state.book.units, state.book.high_water_mark, state.level,
                state.level_since, state.halted, state.halt_reason, state.tripped_at,
                state.reset_token, state.sequence, now, list(state.halted_engines),
            )  # fmt: skip
            await conn.executemany(
                "INSERT INTO policy_changes (namespace, policy, at, from_level, to_level, "
                "drawdown, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                [
                    (namespace, policy, now, c.from_level, c.to_level, c.drawdown, c.reason)
                    for c in changes
                ],
            )

    async def changes(self, namespace: str, policy: str) -> list[tuple[int, int, str]]:
        rows = await self.pool.fetch(
            "SELECT from_level, to_level, reason FROM policy_changes "
            "WHERE namespace = $1 AND policy = $2 ORDER BY id",
            namespace, policy,
        )  # fmt: skip
        return [(r["from_level"], r["to_level"], r["reason"]) for r in rows]
