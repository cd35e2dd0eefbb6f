"""Exponential backoff per object: a reconcile that keeps failing is tried again later and
later (base, 2 x base, 4 x base, ... up to a cap), not on every resync or event; a success, or a
new version of the object (a changed spec may well fix it), starts afresh."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Streak:
    version: object
    failures: int
    retry_at: float


@dataclass
class Backoff:
    base_seconds: float
    max_seconds: float
    clock: Callable[[], float] = time.monotonic
    _streaks: dict[str, _Streak] = field(default_factory=dict)

    def failed(self, key: str, version: object = None) -> float:
        """Count a failure of `key` at `version`; the delay before its next attempt."""
        streak = self._streaks.get(key)
        count = streak.failures + 1 if streak is not None and streak.version == version else 1
        delay = min(self.base_seconds * 2.0 ** (count - 1), self.max_seconds)
        self._streaks[key] = _Streak(version, count, self.clock() + delay)
        return delay

    def failures(self, key: str) -> int:
        """Failures of `key` in a row."""
        streak = self._streaks.get(key)
        return streak.failures if streak is not None else 0

    def remaining(self, key: str, version: object = None) -> float:
        """Seconds `key` at `version` should still wait before its next attempt (0: go)."""
        streak = self._streaks.get(key)
        if streak is None or streak.version != version:
            return 0.0
        return max(streak.retry_at - self.clock(), 0.0)

    def succeeded(self, key: str) -> None:
        self._streaks.pop(key, None)

    forget = succeeded
