"""Waiting for a wake-up or a period, whichever comes first: the loops of the runtime and the
operator."""

from __future__ import annotations

import asyncio
import contextlib


async def woken_or_after(event: asyncio.Event, seconds: float) -> None:
    """Until `event` is set or `seconds` have passed. Cancelling the caller cancels this, always:
    `asyncio.wait_for` (Python 3.11) returns normally instead when the event was set in the same
    step as the cancel, and a loop around it lost its cancellation (every runtime's stop waited out
    its 5 s bound for its reporting loop)."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await event.wait()
