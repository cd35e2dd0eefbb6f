"""The operator's daily report end to end on loopback: the runtimes' and governance's rows in a
real PostgreSQL, the fleet's objects from an API server stand-in, the report stored in
`daily_reports`, POSTed to an Alertmanager stand-in once, read back by the plugin, and not sent
again by a restarted operator."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from decimal import Decimal as D
from typing import Any

import asyncpg
import pytest
from aiohttp import web

from engine_runtime.persistence.store import Store
from eternal_kernel.api.v1alpha1 import GROUP, VERSION
from eternal_kernel.breaker.evaluate import Change, State
from eternal_kernel.breaker.nav import Book
from eternal_operator.cli.render import Style
from eternal_operator.cli.report import render_report
from eternal_operator.governance.store import GovernanceStore
from eternal_operator.kube import KubeClient
from eternal_operator.reporting.daily import only_namespace, read_stored
from eternal_operator.reporting.fleet import FleetReport
from eternal_operator.reporting.notify import AlertmanagerNotifier
from eternal_operator.reporting.schedule import DailyReporter
from eternal_operator.reporting.store import ReportStore

pytestmark = pytest.mark.integration

DAY = date(2026, 11, 20)
PREFIX = f"/apis/{GROUP}/{VERSION}/namespaces/fleet"

POLICY = {"metadata": {"namespace": "fleet", "name": "eternal"},
          "status": {"engines": ["a", "b"], "equity": "1505.00", "navPerUnit": "1.0033",
                     "highWaterMark": "1.0100", "drawdown": "0.0066", "level": 1}}  # fmt: skip
ENGINES = [{"metadata": {"namespace": "fleet", "name": n}} for n in ("a", "b")]
ALLOCATION = {"metadata": {"namespace": "fleet", "name": "pool"}, "status": {"transfers": [
    {"transferId": "t", "toEngine": "b", "amount": "20", "state": "Success",
     "time": "2026-11-20T10:00:00Z"}]}}  # fmt: skip


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def database(postgres: str) -> AsyncIterator[str]:
    name = f"daily_{secrets.token_hex(4)}"
    admin = await asyncpg.connect(postgres)
    await admin.execute(f'CREATE DATABASE "{name}"')
    yield postgres.rsplit("/", 1)[0] + f"/{name}"
    await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    await admin.close()


@pytest.fixture
async def loopback() -> AsyncIterator[tuple[str, list[Any]]]:
    """One aiohttp server: the fleet's lists (as the API server answers) and Alertmanager's
    /api/v2/alerts, which records what it receives."""
    received: list[Any] = []

    async def alerts(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({})

    def listing(items: list[Any]) -> Any:
        async def handler(_: web.Request) -> web.Response:
            return web.json_response({"items": items})

        return handler

    app = web.Application()
    app.router.add_post("/api/v2/alerts", alerts)
    app.router.add_get(f"{PREFIX}/circuitbreakerpolicies", listing([POLICY]))
    app.router.add_get(f"{PREFIX}/engines", listing(ENGINES))
    app.router.add_get(f"{PREFIX}/allocations", listing([ALLOCATION]))
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    yield f"http://127.0.0.1:{port}", received
    await runner.cleanup()


async def test_stored_sent_once_read_back_and_not_resent_after_a_restart(
    database: str, loopback: tuple[str, list[Any]]
) -> None:
    base, received = loopback
    a, b = await Store.connect(database, "fleet/a"), await Store.connect(database, "fleet/b")
    try:
        for store, at, equity, drawdown in (
            (a, "2026-11-19T23:59:00", "1000", "0"),
            (a, "2026-11-20T23:00:00", "1025", "0.002"),
            (b, "2026-11-20T01:00:00", "500", "0"),
            (b, "2026-11-20T20:00:00", "480", "0.04"),
        ):
            await store.equity_snapshot(ms(at), D(equity), D(equity), D(0), D(drawdown))
    finally:
        await a.close()
        await b.close()
    kube = KubeClient(host=base, headers={}, ssl_context=False)
    clock = Clock(datetime(2026, 11, 21, 0, 0, 1, tzinfo=UTC))

    async def operator_pass() -> str:
        """One operator's life: open the store (migrations), one pass of the reporter."""
        governance = await GovernanceStore.open(database)
        try:
            await governance.save(
                "fleet", "eternal", State(book=Book(D(1500), D(1)), level=1),
                [Change(0, 1, D("0.01"), "drawdown 0.01")], datetime(2026, 11, 20, 12, tzinfo=UTC),
            )  # fmt: skip
            reporter = DailyReporter(
                ReportStore(governance.pool), FleetReport(kube, database, ["fleet"]),
                AlertmanagerNotifier(base), clock,
            )  # fmt: skip
            return await reporter.pass_once()
        finally:
            await governance.close()

    try:
        assert await operator_pass() == "built"
        clock.now = datetime(2026, 11, 21, 0, 3, tzinfo=UTC)
        assert await operator_pass() == "done"  # a restarted operator: the row is the guard
    finally:
        await kube.close()

    (posted,) = received  # one POST, one alert
    (sent,) = posted
    assert sent["labels"] == {"alertname": "EternalEngineDailyReport", "severity": "info",
                              "day": "2026-11-20"}  # fmt: skip
    assert sent["annotations"]["description"].splitlines() == [
        "fleet/eternal: equity 1505.00, day PnL -15.00, NAV 1.0033, drawdown 0.0066, level 1, "
        "trades 0, fees 0",
        "  fleet/a: equity 1025.00, day PnL 25.00, max drawdown 0.0020, trades 0, fees 0",
        "  fleet/b: equity 480.00, day PnL -40.00, max drawdown 0.0400, trades 0, fees 0",
    ]

    stored = await read_stored(database, DAY)
    assert stored is not None
    (p,) = stored["portfolios"]
    assert (p["navPerUnit"], p["drawdown"], p["level"]) == ("1.0033", "0.0066", 1)
    assert p["closeAt"] == "2026-11-21T00:00:01Z"
    # the restarted operator saved a second change, but the stored report is the first pass's
    assert [c["toLevel"] for c in p["levelChanges"]] == [1]
    assert await read_stored(database, date(2026, 11, 19)) is None
    assert only_namespace(stored, "other")["portfolios"] == []
    text = render_report({**stored, "source": "stored report"}, Style(False), all_namespaces=False)
    assert "from stored report" in text
    assert "1.0033" in text
    conn = await asyncpg.connect(database)
    try:
        row = await conn.fetchrow("SELECT sent_at, destination FROM daily_reports")
    finally:
        await conn.close()
    assert row["sent_at"] is not None
    assert row["destination"] == f"{base}/api/v2/alerts"


class Cluster:
    """The plugin's cluster, answering lists from memory (the database is the real one)."""

    namespace = "fleet"

    def items(self, kind: str, target: Any) -> list[Any]:
        return {"CircuitBreakerPolicy": [POLICY], "Engine": ENGINES}.get(kind, [])


def test_the_plugin_prints_the_stored_report_of_a_closed_day_else_computes_it(
    postgres: str,
) -> None:
    import asyncio
    import io
    import json

    from eternal_operator.cli.main import parser, report

    name = f"daily_{secrets.token_hex(4)}"
    url = postgres.rsplit("/", 1)[0] + f"/{name}"
    stored = {"day": "2026-11-20", "source": "database", "missing": [], "engines": [],
              "portfolios": [{"namespace": "fleet", "policy": "eternal", "engines": ["a", "b"],
                              "equity": "1505.00", "dayPnl": "-15.00", "navPerUnit": "1.0033",
                              "drawdown": "0.0066", "level": 1, "trades": 0, "fees": {},
                              "levelChanges": []},
                             {"namespace": "other", "policy": "p", "engines": [],
                              "equity": None, "dayPnl": None, "trades": None, "fees": None,
                              "levelChanges": []}]}  # fmt: skip

    async def setup() -> None:
        admin = await asyncpg.connect(postgres)
        await admin.execute(f'CREATE DATABASE "{name}"')
        await admin.close()
        await (await Store.connect(url, "fleet/a")).close()  # the runtimes' tables
        governance = await GovernanceStore.open(url)
        try:
            now = datetime(2026, 11, 21, tzinfo=UTC)
            assert await ReportStore(governance.pool).insert(DAY, stored, now)
        finally:
            await governance.close()

    async def teardown() -> None:
        admin = await asyncpg.connect(postgres)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()

    asyncio.run(setup())
    try:

        def run(day: str) -> dict[str, Any]:
            out = io.StringIO()
            argv = ["report", "--day", day, "--database-url", url, "-o", "json"]
            args = parser().parse_args(argv)
            assert report(Cluster(), args, out) == 0  # type: ignore[arg-type]
            return dict(json.loads(out.getvalue()))

        closed = run("2026-11-20")
        assert closed["source"] == "stored report"
        assert [(p["policy"], p["navPerUnit"], p["drawdown"]) for p in closed["portfolios"]] == [
            ("eternal", "1.0033", "0.0066")
        ]  # the namespace's alone, with the NAV and drawdown at the close
        other = run("2026-11-19")
        assert other["source"] == "database"
        assert other["portfolios"][0].get("navPerUnit") is None
    finally:
        asyncio.run(teardown())
