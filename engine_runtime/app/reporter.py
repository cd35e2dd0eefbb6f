"""Reporting: `status.runtime` every few seconds and at once on important changes, the equity
stream, equity snapshots, the checkpoint, and the equity and drawdown gauges."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from engine_runtime.adapters.bybit.errors import VenueError
from engine_runtime.governance.kube import KubeError
from engine_runtime.persistence.store import Checkpoint
from engine_runtime.reporting.status import build_report, status_patch

if TYPE_CHECKING:
    from .runtime import Runtime

log = logging.getLogger(__name__)
SNAPSHOT_EVERY_S = 60.0


class Reporter:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        self.reports = 0
        self.failures = 0
        """Status writes refused or lost in a row: each is tried again soon, not at the next
        interval (a fleet answering one halt together can meet an API server's 429)."""
        self._last_snapshot = 0.0
        self._saved: tuple[object, ...] | None = None

    async def run(self) -> None:
        interval = self.rt.config.settings.report_interval_seconds
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.rt.report_now.wait(), timeout=interval)
            self.rt.report_now.clear()
            self.rt.governor.changed.clear()
            await self.report_once(refresh=True)

    def flat(self) -> bool:
        if self.rt.manager.open_orders():
            return False
        for position in self.rt.portfolio.open_positions():
            inst = self.rt.instruments.get((position.symbol, position.category))
            if inst is None or abs(position.qty) >= inst.min_qty:
                return False
        return True

    async def report_once(self, *, refresh: bool = False) -> None:
        rt = self.rt
        # When the equity was measured: taken before the wallet is read, never after, so an
        # equity figure can never claim to include a transfer that landed after the read.
        now_ms = time.time_ns() // 1_000_000
        if refresh:
            with contextlib.suppress(VenueError):  # in the error registry (wallet)
                await rt.read_wallet()
        governor = rt.governor
        flat = self.flat() if governor.flat is None or not governor.halted else governor.flat
        report = build_report(
            rt.portfolio,
            # The heartbeat doubles as the time of this equity: when it was measured.
            now=datetime.fromtimestamp(now_ms / 1000, UTC),
            open_orders=len(rt.manager.open_orders()),
            applied_directive=governor.applied_sequence,
            flat=flat,
            venue_connected=rt.venue_connected,
            shutdown_done_at=governor.shutdown_done_at,
            last_error=rt.emergency_stop or rt.errors.current(),
            residue=governor.residue,
            entries_paused=_paused_reason(rt.strategy),
        )
        equity = rt.portfolio.equity
        rt.metrics.equity.set(float(equity))
        rt.metrics.drawdown.set(float(rt.portfolio.drawdown))
        rt.metrics.open_orders.set(report.open_orders)
        rt.metrics.directive.set(governor.applied_sequence or 0)
        if equity > 0:
            rt.spawn(rt.cache.equity(equity, now_ms))  # best effort, off the report's path
            if time.monotonic() - self._last_snapshot >= SNAPSHOT_EVERY_S:
                self._last_snapshot = time.monotonic()
                await rt.store.equity_snapshot(
                    now_ms,
                    equity,
                    rt.portfolio.cash,
                    rt.portfolio.unrealized(),
                    rt.portfolio.drawdown,
                )
        await self.save_checkpoint()
        if rt.kube is not None:
            try:
                sent = time.time_ns() // 1_000_000
                engine = await rt.kube.patch_status(status_patch(report))
                rt.metrics.heartbeat.set(time.time())
                rt.governor.observe(engine)  # the answer is the Engine as of this write
                rt.governor.confirm(sent)
                self.failures = 0
            except (KubeError, aiohttp.ClientError, TimeoutError, OSError) as error:
                self.failures += 1
                delay = min(rt.config.settings.report_interval_seconds,
                            0.5 * 2 ** min(self.failures - 1, 4)) * (0.5 + random.random())  # noqa: S311  # fmt: skip
                log.warning("status patch failed (%s); again in %.1fs",
                            str(error) or type(error).__name__, delay)  # fmt: skip
                rt.spawn(self._again(delay))
        self.reports += 1

    async def _again(self, delay: float) -> None:
        await asyncio.sleep(delay)
        self.rt.report_now.set()

    async def save_checkpoint(self) -> None:
        rt = self.rt
        checkpoint = Checkpoint(
            directive=rt.governor.checkpoint(),
            emergency_stop=rt.emergency_stop,
        )
        rt.portfolio.checkpoint_into(checkpoint)
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
        await rt.store.save_checkpoint(checkpoint)
        self._saved = key


def _paused_reason(strategy: object) -> str | None:
    """A strategy's own pause (meta-trend's kill switch), if it has one and it holds."""
    reason = getattr(strategy, "paused_reason", None)
    return reason() if callable(reason) else None


def utcnow() -> datetime:
    return datetime.now(UTC)
