"""The errors in force, by source: what `status.runtime.lastError` says.

Each source (wallet reads, the resync, submits, cancels, a halt, a shutdown, one kind of
background task, ...) sets its error when it fails and clears it at its next success, so an
error the runtime has recovered from leaves the status. The report carries the newest error
still in force, or none. An error is logged when it comes into force and when it clears, not on
every repeat.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)
MAX_MESSAGE = 500


class ErrorSource(StrEnum):
    WALLET = "wallet"
    """Reading the wallet (equity loop, status report)."""
    RESYNC = "resync"
    """The REST resync with the venue (after a gap, unresolved orders, a halt, a shutdown)."""
    SUBMIT = "submit"
    """Placing an order: the venue's answer is unknown after the retries."""
    AMEND = "amend"
    CANCEL = "cancel"
    """Cancelling one order, or all of them."""
    PERSIST = "persist"
    """Writing an order's row to PostgreSQL."""
    FILLS = "fills"
    """Looking up over REST the executions of an order the streams did not deliver."""
    HALT = "halt"
    """A governance halt that has not got the account flat yet."""
    SHUTDOWN = "shutdown"
    """The shutdown (or suspend) handshake's cancel and flatten."""


def task_source(name: str) -> str:
    """The source of a background task's failure: its coroutine, so that the next run of the same
    coroutine that completes clears it (a crashed loop, which never completes, stays)."""
    return f"task {name}"


class ErrorRegistry:
    def __init__(self) -> None:
        self._active: dict[str, tuple[int, str]] = {}
        self._order = itertools.count()

    def set(self, source: str, message: str) -> None:
        """`source` failed: its error is in force (the newest, until another source's)."""
        text = f"{source}: {message}"[:MAX_MESSAGE]
        if source not in self._active:
            log.warning("error in force", extra={"source": source, "error": text})
        self._active[source] = (next(self._order), text)

    def clear(self, source: str) -> None:
        """`source` succeeded: its error, if any, is over."""
        if self._active.pop(source, None) is not None:
            log.info("error cleared", extra={"source": source})

    def current(self) -> str | None:
        """The newest error still in force, or None."""
        if not self._active:
            return None
        return max(self._active.values())[1]

    def task_ended(self, task: asyncio.Task[Any]) -> BaseException | None:
        """A background task ended: a failure sets its coroutine's error (and is returned), a
        completion clears it, a cancellation changes nothing."""
        if task.cancelled():
            return None
        source = task_source(getattr(task.get_coro(), "__qualname__", "unknown"))
        error = task.exception()
        if error is None:
            self.clear(source)
        else:
            self.set(source, f"{type(error).__name__}: {error}")
        return error

    def active(self) -> dict[str, str]:
        return {source: text for source, (_, text) in self._active.items()}
