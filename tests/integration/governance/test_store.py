"""The governance store on a real PostgreSQL: migrations, round trip, history."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from eternal_kernel.breaker.evaluate import Change, State
from eternal_kernel.breaker.nav import Book
from eternal_kernel.persistence.migrate import apply_migrations
from eternal_operator.governance.store import MIGRATIONS, GovernanceStore

pytestmark = pytest.mark.integration

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)


@pytest.fixture
async def database(postgres: str) -> str:
    name = f"gov_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(postgres)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return postgres.rsplit("/", 1)[0] + f"/{name}"


async def test_state_round_trips_exactly(database: str) -> None:
    store = await GovernanceStore.open(database)
    try:
        assert await store.load("fleet", "eternal") is None
        state = State(
            book=Book(units=Decimal("98765.432100000001"), high_water_mark=Decimal("1.234567891")),
            level=4, level_since=NOW, halted=True, halt_reason="level 4", tripped_at=NOW,
            reset_token="r7", sequence=12,
        )  # fmt: skip
        await store.save("fleet", "eternal", state, [Change(3, 4, Decimal("0.2612"), "crash")], NOW)

        loaded = await store.load("fleet", "eternal")

        assert loaded == state  # NUMERIC keeps every digit of the Decimals
        assert await store.changes("fleet", "eternal") == [(3, 4, "crash")]
    finally:
        await store.close()


async def test_migrations_apply_once(database: str) -> None:
    first = await GovernanceStore.open(database)
    await first.close()
    conn = await asyncpg.connect(database)
    try:
        assert await apply_migrations(conn, "governance", MIGRATIONS) == []
        versions = await conn.fetch(
            "SELECT version FROM schema_migrations WHERE component = 'governance'"
        )
        assert [r["version"] for r in versions] == sorted(
            int(p.name[:4]) for p in MIGRATIONS.glob("*.sql")
        )
    finally:
        await conn.close()
