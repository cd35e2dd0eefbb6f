"""Reporting: `status.runtime` every few seconds and at once on important changes, the equity
stream, equity snapshots, the checkpoint, and the equity and drawdown gauges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from engine_runtime.execution.manager import OrderManager
from engine_runtime.governance.kube import KubeError
from engine_runtime.governance.obedience import Governor
from engine_runtime.persistence.store import Checkpoint
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry
from engine_runtime.reporting.metrics import Metrics
from engine_runtime.reporting.status import build_report, status_patch
from eternal_kernel.bybit.errors import VenueError
from eternal_kernel.model.enums import Category
from eternal_kernel.model.instruments import Instrument
from eternal_kernel.waiting import woken_or_after

log = logging.getLogger(__name__)
SNAPSHOT_EVERY_S = 60.0


class ReportStore(Protocol):
    """The two writes of the report to PostgreSQL (`persistence.store.Store`)."""

    async def equity_snapshot(
        self, ts_ms: int, equity: Decimal, cash: Decimal, unrealized: Decimal, drawdown: Decimal
    ) -> None: ...

    async def save_checkpoint(self, c: Checkpoint) -> None: ...


class StatusWriter(Protocol):
    """Our Engine's status subresource (`governance.kube.EngineClient`)."""

    async def patch_status(self, patch: dict[str, Any]) -> dict[str, Any]: ...


class Reporter:
    """Handed what it reports and where it writes, not the runtime. It is the one writer of
    `status.runtime.lastError`: the emergency stop if one is in force, else the newest error of
    the registry, where every part of the runtime sets and clears its own source."""

    def __init__(
        self,
        *,
        interval_s: float,
        report_now: asyncio.Event,
        governor: Governor,
        manager: OrderManager,
        portfolio: Portfolio,
        instruments: Mapping[tuple[str, Category], Instrument],
        errors: ErrorRegistry,
        metrics: Metrics,
        store: ReportStore,
        kube: StatusWriter | None,
        read_wallet: Callable[[], Coroutine[Any, Any, object]],
        venue_connected: Callable[[], bool],
        emergency_stop: Callable[[], str | None],
        paused: Callable[[], str | None],
        publish_equity: Callable[[Decimal, int], Coroutine[Any, Any, None]],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        redact: Callable[[str], str],
    ) -> None:
        self.interval_s = interval_s
        self.report_now = report_now
        self.governor = governor
        self.manager = manager
        self.portfolio = portfolio
        self.instruments = instruments
        self.errors = errors
        self.metrics = metrics
        self.store = store
        self.kube = kube
        self.read_wallet = read_wallet
        self.venue_connected = venue_connected
        self.emergency_stop = emergency_stop
        self.paused = paused
        self.publish_equity = publish_equity
        self.spawn = spawn
        self.redact = redact
        """Keeps the keys and URL passwords out of what is written (an error's text may hold
        them: a database error names its URL)."""
        self.reports = 0
        self.failures = 0
        """Status writes refused or lost in a row: each is tried again soon, not at the next
        interval (a fleet answering one halt together can meet an API server's 429)."""
        self._last_snapshot = 0.0
        self._saved: tuple[object, ...] | None = None

    async def run(self) -> None:
        while True:
            await woken_or_after(self.report_now, self.interval_s)
            self.report_now.clear()
            self.governor.changed.clear()
            await self.report_once(refresh=True)

    def flat(self) -> bool:
        if self.manager.open_orders():
            return False
        for position in self.portfolio.open_positions():
            inst = self.instruments.get((position.symbol, position.category))
            if inst is None or abs(position.qty) >= inst.min_qty:
                return False
        return True

    async def report_once(self, *, refresh: bool = False) -> None:
        # When the equity was measured: taken before the wallet is read, never after, so an
        # equity figure can never claim to include a transfer that landed after the read.
        now_ms = time.time_ns() // 1_000_000
        if refresh:
            with contextlib.suppress(VenueError):  # in the error registry (wallet)
                await self.read_wallet()
        governor = self.governor
        flat = self.flat() if governor.flat is None or not governor.halted else governor.flat
        report = build_report(
            self.portfolio,
            # The heartbeat doubles as the time of this equity: when it was measured.
            now=datetime.fromtimestamp(now_ms / 1000, UTC),
            open_orders=len(self.manager.open_orders()),
            applied_directive=governor.reported_sequence,
            flat=flat,
            venue_connected=self.venue_connected(),
            shutdown_done_at=governor.shutdown_done_at,
            last_error=self._redacted(self.emergency_stop() or self.errors.current()),
            residue=[self.redact(r) for r in governor.residue],
            entries_paused=self.paused(),
        )
        equity = self.portfolio.equity
        self.metrics.equity.set(float(equity))
        self.metrics.drawdown.set(float(self.portfolio.drawdown))
        self.metrics.open_orders.set(report.open_orders)
        self.metrics.directive.set(governor.applied_sequence or 0)
        if equity > 0:
            self.spawn(self.publish_equity(equity, now_ms))  # best effort, off the report's path
            if time.monotonic() - self._last_snapshot >= SNAPSHOT_EVERY_S:
                self._last_snapshot = time.monotonic()
                await self.store.equity_snapshot(
                    now_ms,
                    equity,
                    self.portfolio.cash,
                    self.portfolio.unrealized(),
                    self.portfolio.drawdown,
                )
        await self.save_checkpoint()
        if self.kube is not None:
            try:
                sent = time.time_ns() // 1_000_000
                engine = await self.kube.patch_status(status_patch(report))
                self.metrics.heartbeat.set(time.time())
                governor.observe(engine)  # the answer is the Engine as of this write
                governor.confirm(sent)
                self.failures = 0
            except (KubeError, TimeoutError, OSError) as error:
                self.failures += 1
                delay = min(self.interval_s,
                            0.5 * 2 ** min(self.failures - 1, 4)) * (0.5 + random.random())  # noqa: S311  # fmt: skip
                log.warning("status patch failed (%s); again in %.1fs",
                            str(error) or type(error).__name__, delay)  # fmt: skip
                self.spawn(self._again(delay))
        self.reports += 1

    def _redacted(self, text: str | None) -> str | None:
        return None if text is None else self.redact(text)

    async def _again(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.report_now.set()

    async def save_checkpoint(self) -> None:
        checkpoint = Checkpoint(
            directive=self.governor.checkpoint(),
            emergency_stop=self.emergency_stop(),
        )
        self.portfolio.checkpoint_into(checkpoint)
        key = (
            checkpoint.directive.__repr__(),
            checkpoint.high_water_mark,
            checkpoint.day,
            checkpoint.day_start_equity,
            checkpoint.week,
            checkpoint.week_start_equity,
            checkpoint.emergency_stop,
        )
        if key == self._saved:
            return
        await self.store.save_checkpoint(checkpoint)
        self._saved = key


def paused_reason(strategy: object) -> str | None:
    """A strategy's own pause (meta-trend's kill switch), if it has one and it holds."""
    reason = getattr(strategy, "paused_reason", None)
    return reason() if callable(reason) else None
