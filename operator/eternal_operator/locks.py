"""Per-object coordination: one asyncio lock per object, so a timer and a change handler never
reconcile it at once; and wake-ups, so a loop sees a change at once rather than on its next tick."""

from __future__ import annotations

import asyncio

from eternal_kernel.waiting import woken_or_after


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def forget(self, key: str) -> None:
        self._locks.pop(key, None)


class Wakeups:
    """Wakes a loop (one per key) when what it reads changes, instead of on its next tick."""

    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._seen: dict[str, object] = {}

    def event(self, key: str) -> asyncio.Event:
        return self._events.setdefault(key, asyncio.Event())

    def observe(self, key: str, version: object) -> None:
        """Wake `key`'s loop if `version` differs from the one last observed."""
        if self._seen.get(key) != version:
            self._seen[key] = version
            self.event(key).set()

    async def pause(self, key: str, seconds: float) -> None:
        """Until `key`'s loop is woken, or `seconds` pass."""
        event = self.event(key)
        await woken_or_after(event, seconds)
        event.clear()

    def forget(self, key: str) -> None:
        self._events.pop(key, None)
        self._seen.pop(key, None)
