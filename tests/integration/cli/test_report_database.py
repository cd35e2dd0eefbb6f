"""`kubectl eternal report --database-url`: one day read from what the runtimes' and governance's
own writers put in PostgreSQL (real server, a database of the test's own)."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import asyncpg
import pytest

from engine_runtime.persistence.store import Store
from engine_runtime.portfolio.positions import ClosedTrade, Position
from eternal_kernel.breaker.evaluate import Change, State
from eternal_kernel.breaker.nav import Book
from eternal_kernel.model.enums import Category, OrderSide
from eternal_kernel.model.identifiers import ClientOrderId, TradeId, VenueOrderId
from eternal_kernel.model.reports import FillReport
from eternal_operator.cli.report import read_day, report_from_database
from eternal_operator.governance.store import GovernanceStore

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def fill(trade: str, at: str, side: OrderSide, fee: str, coin: str = "USDT") -> FillReport:
    return FillReport(
        TradeId(trade), ClientOrderId(f"ee-{trade}"), VenueOrderId(f"v-{trade}"), "BTCUSDT",
        Category.LINEAR if coin == "USDT" else Category.SPOT, side, D("0.01"), D("60000"),
        D(fee), coin, False, ms(at),
    )  # fmt: skip


@pytest.fixture
async def database(postgres: str) -> Any:
    name = f"kce_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres.rsplit("/", 1)[0] + f"/{name}"
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


async def test_a_day_of_equity_trades_fees_and_level_changes(database: str) -> None:
    a, b = await Store.connect(database, "fleet/a"), await Store.connect(database, "fleet/b")
    governance = await GovernanceStore.open(database)
    try:
        for store, at, equity, drawdown in (
            (a, "2026-11-19T23:59:00", "1000", "0"),  # the day's open: the last before it
            (a, "2026-11-20T06:00:00", "1010", "0.01"),
            (a, "2026-11-20T23:00:00", "1025", "0.002"),
            (b, "2026-11-20T01:00:00", "500", "0"),  # none before the day: its first
            (b, "2026-11-20T20:00:00", "480", "0.04"),
            (b, "2026-11-21T00:00:00", "9999", "0"),  # the next day
        ):
            await store.equity_snapshot(ms(at), D(equity), D(equity), D(0), D(drawdown))
        position = Position("BTCUSDT", Category.LINEAR)
        await a.book_fill(fill("t1", "2026-11-20T02:00:00", OrderSide.BUY, "0.1"), None,
                          position, None)  # fmt: skip
        closed = ClosedTrade(OrderSide.BUY, D("0.01"), D("60000"), D("60350"), D("3.5"))
        await a.book_fill(fill("t2", "2026-11-20T05:00:00", OrderSide.SELL, "0.12"), None,
                          position, closed)  # fmt: skip
        await a.book_fill(fill("t3", "2026-11-21T01:00:00", OrderSide.BUY, "9"), None,
                          position, None)  # fmt: skip
        await b.book_fill(fill("t4", "2026-11-20T03:00:00", OrderSide.BUY, "0.00001", "BTC"),
                          None, Position("BTCUSDT", Category.SPOT), None)  # fmt: skip
        await governance.save(
            "fleet", "eternal", State(book=Book(D(1500), D(1)), level=1),
            [Change(0, 1, D("0.1"), "drawdown 0.1")], datetime(2026, 11, 20, 12, tzinfo=UTC),
        )  # fmt: skip

        rows = await read_day(database, DAY)
    finally:
        await a.close()
        await b.close()
        await governance.close()

    assert rows.open_equity == {"fleet/a": D("1000"), "fleet/b": D("500")}
    assert rows.close_equity == {"fleet/a": D("1025"), "fleet/b": D("480")}
    assert rows.max_drawdown == {"fleet/a": D("0.01"), "fleet/b": D("0.04")}
    assert rows.trades == {"fleet/a": 1}
    assert rows.realized == {"fleet/a": D("3.5")}
    assert rows.fills == {"fleet/a": 2, "fleet/b": 1}
    assert rows.fees == {"fleet/a": {"USDT": D("0.22")}, "fleet/b": {"BTC": D("0.00001")}}
    assert [(c["policy"], c["fromLevel"], c["toLevel"]) for c in rows.level_changes] == [
        ("eternal", 0, 1)
    ]

    policy = {"metadata": {"name": "eternal", "namespace": "fleet"},
              "status": {"engines": ["a", "b"]}}  # fmt: skip
    report = report_from_database(DAY, rows.only("fleet"), [], [policy])
    (p,) = report["portfolios"]
    assert p["equityOpen"] == "1500.00"
    assert p["equity"] == "1505.00"
    assert p["dayPnl"] == "5.00"
    assert p["trades"] == 1
    assert p["fees"] == {"BTC": "0.00001", "USDT": "0.22"}
    assert p["levelAtClose"] == 1
