"""The status report: what `status.runtime` says when the account or an error changes, a
cleared error cleared on the server too, and never a key or a password in it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Coroutine
from decimal import Decimal as D
from typing import Any

import pytest

from engine_runtime.app.reporter import Reporter
from engine_runtime.execution.manager import OrderManager
from engine_runtime.governance.obedience import Governor
from engine_runtime.persistence.store import Checkpoint
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry, ErrorSource
from engine_runtime.reporting.logs import Redactor
from engine_runtime.reporting.metrics import Metrics
from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderType
from eternal_kernel.model.identifiers import ClientOrderId
from support.memory_venue import MemoryStore, MemoryVenue
from support.stopping import stopped_while_woken

pytestmark = pytest.mark.unit
KEY, SECRET, PASSWORD = "PAPERSUBKEY0001", "PAPERSUBSECRET000000000000000001", "hunter2-db"


class Writes:
    """The API server's status subresource and PostgreSQL, as far as the reporter writes."""

    def __init__(self) -> None:
        self.patches: list[dict[str, Any]] = []
        self.checkpoints: list[Checkpoint] = []

    async def patch_status(self, patch: dict[str, Any]) -> dict[str, Any]:
        self.patches.append(patch)
        return {"metadata": {"name": "e1"}, "status": patch["status"]}

    async def equity_snapshot(self, *row: Any) -> None:
        return None

    async def save_checkpoint(self, c: Checkpoint) -> None:
        self.checkpoints.append(c)

    def runtime(self) -> dict[str, Any]:
        return dict(self.patches[-1]["status"]["runtime"])


class Parts:
    def __init__(self) -> None:
        self.venue = MemoryVenue({})
        self.errors = ErrorRegistry()
        self.manager = OrderManager(self.venue, MemoryStore(), Portfolio(), Metrics(), self.errors)  # type: ignore[arg-type]
        self.writes = Writes()
        self.stop: str | None = None
        self.tasks: list[asyncio.Task[Any]] = []
        self.reporter = Reporter(
            interval_s=5, report_now=asyncio.Event(), governor=Governor("e1"),
            manager=self.manager, portfolio=self.manager.portfolio, instruments={},
            errors=self.errors, metrics=Metrics(), store=self.writes, kube=self.writes,
            read_wallet=self.read_wallet, venue_connected=lambda: True,
            emergency_stop=lambda: self.stop, paused=lambda: None,
            publish_equity=self.publish, spawn=self.spawn, redact=Redactor([KEY, SECRET]),
        )  # fmt: skip

    async def read_wallet(self) -> object:
        return await self.venue.wallet()

    async def publish(self, equity: D, ts_ms: int) -> None:
        return None

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        self.tasks.append(asyncio.get_running_loop().create_task(coro))


async def test_a_change_is_reported_and_a_cleared_error_is_cleared_on_the_server() -> None:
    p = Parts()
    await p.reporter.report_once()
    quiet = p.writes.runtime()
    assert (quiet["openOrders"], quiet["flat"], quiet["lastError"]) == (0, True, None)
    limit = OrderRequest(ClientOrderId("ee-1"), "BTCUSDT", Category.LINEAR, OrderSide.BUY,
                         OrderType.LIMIT, D("0.01"), D("50000"))  # fmt: skip
    await p.manager.submit(limit, "i1")
    p.errors.set(ErrorSource.RESYNC, "after stream gap: timed out")
    await p.reporter.report_once()
    busy = p.writes.runtime()
    assert (busy["openOrders"], busy["flat"]) == (1, False)
    assert busy["lastError"] == "resync: after stream gap: timed out"
    p.stop = "venue refused the keys: 10003"
    await p.reporter.report_once()
    assert p.writes.runtime()["lastError"] == "venue refused the keys: 10003"  # first
    assert p.writes.checkpoints[-1].emergency_stop == p.stop
    p.stop = None
    p.errors.clear(ErrorSource.RESYNC)
    await p.reporter.report_once()
    cleared = p.writes.runtime()
    assert "lastError" in cleared
    assert cleared["lastError"] is None
    assert p.reporter.reports == 4


async def test_no_key_or_password_reaches_the_status() -> None:
    p = Parts()
    p.errors.set(ErrorSource.PERSIST,
                 f"connect to postgresql://engine:{PASSWORD}@db:5432/e1 failed")  # fmt: skip
    p.reporter.governor.residue = [f"signed with {KEY}:{SECRET}"]
    p.stop = f"venue refused key {KEY}"
    await p.reporter.report_once()
    p.stop = None
    await p.reporter.report_once()
    written = json.dumps(p.writes.patches)
    for secret in (KEY, SECRET, PASSWORD):
        assert secret not in written
    assert "postgresql://engine:***@db:5432/e1" in written  # what failed is still said


async def test_the_reporting_loop_ends_when_stopped_as_a_report_is_asked_for() -> None:
    """The runtime's stop cancels the loop while the orders it cancels ask for a report: the
    cancel wins (with `asyncio.wait_for` the wake-up did, and the stop waited out its bound)."""
    parts = Parts()
    reports = parts.reporter.reports
    assert await stopped_while_woken(parts.reporter.run(), parts.reporter.report_now)
    assert parts.reporter.reports == reports  # no report after the cancel
