"""One asyncio lock per object, so a timer and a change handler never reconcile it at once."""

from __future__ import annotations

import asyncio


class KeyedLocks:
    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}

    def get(self, key: str) -> asyncio.Lock:
        return self._locks.setdefault(key, asyncio.Lock())

    def forget(self, key: str) -> None:
        self._locks.pop(key, None)
