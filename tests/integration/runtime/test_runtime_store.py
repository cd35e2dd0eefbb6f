"""Migrations under the advisory lock, and exactly-once booking of fills (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import secrets
from decimal import Decimal as D
from pathlib import Path

import asyncpg
import pytest

from engine_runtime.persistence.store import Checkpoint, Store
from engine_runtime.portfolio.positions import Position
from eternal_kernel.model.enums import Category, OrderSide
from eternal_kernel.model.identifiers import ClientOrderId, TradeId, VenueOrderId
from eternal_kernel.model.reports import FillReport
from eternal_kernel.persistence.migrate import MIGRATIONS_DIR, apply_migrations, migration_files

pytestmark = pytest.mark.integration


async def test_concurrent_starts_apply_each_migration_once(postgres: str, tmp_path: Path) -> None:
    component = f"governance_{secrets.token_hex(3)}"
    (tmp_path / "0001_first.sql").write_text(f"CREATE TABLE {component}_a (id int);")
    (tmp_path / "0002_second.sql").write_text(f"ALTER TABLE {component}_a ADD COLUMN b text;")
    conns = [await asyncpg.connect(postgres) for _ in range(4)]
    try:
        results = await asyncio.gather(*(apply_migrations(c, component, tmp_path) for c in conns))
        assert sorted(v for r in results for v in r) == [1, 2]
        rows = await conns[0].fetch(
            "SELECT version, name FROM schema_migrations WHERE component=$1 ORDER BY version",
            component,
        )
        assert [(r["version"], r["name"]) for r in rows] == [(1, "first"), (2, "second")]
        assert await apply_migrations(conns[0], component, tmp_path) == []
    finally:
        for conn in conns:
            await conn.close()
    assert [v for v, _, _ in migration_files(MIGRATIONS_DIR)] == [1, 2, 3, 4, 5]


async def test_a_fill_is_booked_once_with_its_position(postgres: str) -> None:
    engine = f"ns/{secrets.token_hex(3)}"
    store = await Store.connect(postgres, engine)
    try:
        fill = FillReport(
            TradeId("t1"),
            ClientOrderId("ee-1"),
            VenueOrderId("v1"),
            "BTCUSDT",
            Category.LINEAR,
            OrderSide.BUY,
            D("0.01"),
            D("60000"),
            D("0.33"),
            "USDT",
            False,
            1_700_000_000_000,
        )
        position = Position("BTCUSDT", Category.LINEAR, D("0.01"), D("60000"), fees=D("0.33"))
        assert await store.book_fill(fill, None, position, None)
        assert not await store.book_fill(fill, None, position, None)
        assert await store.count_executions() == 1
        loaded = await store.load_positions()
        assert loaded[0].qty == D("0.01")
        assert loaded[0].fees == D("0.33")
        checkpoint = await store.load_checkpoint()
        assert checkpoint.last_fill_ms == 1_700_000_000_000
        await store.save_checkpoint(
            Checkpoint(directive={"sequence": 3, "halt": True}, high_water_mark=D("10500.5"))
        )
        again = await store.load_checkpoint()
        assert again.directive == {"sequence": 3, "halt": True}
        assert again.high_water_mark == D("10500.5")
        assert again.last_fill_ms == 1_700_000_000_000
    finally:
        await store.close()
