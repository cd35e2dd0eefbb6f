"""The operator's daily report at 00:00 UTC: build, store once, send once.

Every pass decides from the clock and the stored rows alone: the day due is the UTC day before
the clock's; a day with a stored report is never built again (a restarted operator, or another
replica, finds the row), and a day with none is built at the first pass after its close (so an
operator down at midnight catches up once, at start: only the last closed day, since the
portfolios' NAV and drawdown at earlier closes are gone). A stored report not yet sent is sent
again at the next pass until a send succeeds. The clock and the sleep are injected: tests cross
midnight without waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from .notify import summary_lines
from .store import Stored

log = logging.getLogger(__name__)

RETRY_SECONDS = 60.0
"""The longest pause between passes: a failed send or build is retried this often."""


def due_day(now: datetime) -> date:
    """The last UTC day that has closed at `now`."""
    return now.astimezone(UTC).date() - timedelta(days=1)


def seconds_to_midnight(now: datetime) -> float:
    now = now.astimezone(UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), time(0), tzinfo=UTC)
    return (midnight - now).total_seconds()


def pause(now: datetime, retry_seconds: float = RETRY_SECONDS) -> float:
    """How long to wait before the next pass: to the next midnight, at most `retry_seconds`."""
    return max(0.0, min(retry_seconds, seconds_to_midnight(now)))


class Reports(Protocol):
    async def get(self, day: date) -> Stored | None: ...
    async def insert(self, day: date, report: dict[str, Any], now: datetime) -> bool: ...
    async def mark_sent(self, day: date, now: datetime, destination: str) -> None: ...


class Notifier(Protocol):
    @property
    def destination(self) -> str: ...
    async def send(self, report: Mapping[str, Any], now: datetime) -> None: ...


Build = Callable[[date, datetime], Awaitable[dict[str, Any]]]
Clock = Callable[[], datetime]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class DailyReporter:
    reports: Reports
    build: Build
    notifier: Notifier | None
    clock: Clock

    async def pass_once(self) -> str:
        """One decision: 'built' (stored now), 'sent' (stored earlier, sent now) or 'done'."""
        now = self.clock()
        day = due_day(now)
        stored = await self.reports.get(day)
        outcome = "done"
        if stored is None:
            report = await self.build(day, now)
            if await self.reports.insert(day, report, now):
                outcome = "built"
                log.info("daily report %s stored:\n%s", day, "\n".join(summary_lines(report)))
                stored = Stored(day, report, None)
            else:  # another replica stored it meanwhile
                stored = await self.reports.get(day)
        if stored is None or stored.sent_at is not None or self.notifier is None:
            return outcome
        await self.notifier.send(stored.report, now)
        await self.reports.mark_sent(day, self.clock(), self.notifier.destination)
        log.info("daily report %s sent to %s", day, self.notifier.destination)
        return "built" if outcome == "built" else "sent"

    async def run(self, stop: asyncio.Event, sleep: Sleep | None = None) -> None:
        """Pass after pass until `stop`: one at start (the catch-up), then at each midnight."""

        async def wait(seconds: float) -> None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), seconds)

        sleep = sleep or wait
        while not stop.is_set():
            try:
                await self.pass_once()
            except Exception as error:  # the database or the receiver away: the next pass
                log.warning("daily report: %s; next attempt within %.0fs", error, RETRY_SECONDS)
            await sleep(pause(self.clock()))
