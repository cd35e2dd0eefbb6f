"""The venue's notion of "now": real time, accelerated, or stepped by a test.

Market time (order timestamps, funding, candles) comes from `Clock.now_ms`. Request
signing is checked against wall time instead (`Clock.wall_ms`), because clients sign
with their own real clocks even when the market runs fast or is stepped.
"""

from __future__ import annotations

import time
from enum import StrEnum


class ClockMode(StrEnum):
    """How market time advances."""

    REAL = "real"
    ACCELERATED = "accelerated"
    STEPPED = "stepped"


class Clock:
    """Millisecond clock with three modes; only `advance` moves a stepped clock."""

    def __init__(
        self, mode: ClockMode = ClockMode.REAL, speed: float = 1.0, start_ms: int | None = None
    ) -> None:
        if speed <= 0:
            raise ValueError("clock speed must be positive")
        self.mode = mode
        self.speed = speed
        self._wall_origin_ms = self.wall_ms()
        self._origin_ms = start_ms if start_ms is not None else self._wall_origin_ms
        self._stepped_ms = self._origin_ms

    @staticmethod
    def wall_ms() -> int:
        """Real time, for checking request timestamps."""
        return time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        """Market time in milliseconds since the epoch."""
        if self.mode is ClockMode.STEPPED:
            return self._stepped_ms
        elapsed = self.wall_ms() - self._wall_origin_ms
        if self.mode is ClockMode.ACCELERATED:
            return self._origin_ms + int(elapsed * self.speed)
        return self._origin_ms + elapsed

    def network_ms(self) -> int:
        """Time for connection-level timers (disconnect-cancel-all): wall time, except on a
        stepped clock, where the test decides when time passes."""
        if self.mode is ClockMode.STEPPED:
            return self._stepped_ms
        return self.wall_ms()

    def advance(self, ms: int) -> int:
        """Move a stepped clock forward; refused in the other modes."""
        if self.mode is not ClockMode.STEPPED:
            raise ValueError("only a stepped clock can be advanced")
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self._stepped_ms += ms
        return self._stepped_ms

    def restore(self, saved_ms: int) -> int:
        """Continue from a snapshot's market time; returns the market time now.

        A real-time clock resumes at wall time (never before the snapshot): the market did
        not stop while the venue was down. Accelerated and stepped clocks keep their own
        time and continue from the saved one."""
        wall = self.wall_ms()
        now = max(saved_ms, wall) if self.mode is ClockMode.REAL else saved_ms
        self._wall_origin_ms = wall
        self._origin_ms = now
        self._stepped_ms = now
        return now
