"""Stopping a background loop the way a runtime's stop does."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


async def stopped_while_woken(run: Coroutine[Any, Any, None], event: asyncio.Event) -> bool:
    """Start `run`, let it wait, then wake it (`event`) and cancel it in the same step, as a
    stop does when the orders it cancels ask for a report: True when it ended cancelled within
    a second."""
    task = asyncio.get_running_loop().create_task(run)
    for _ in range(5):
        await asyncio.sleep(0)  # into its wait
    event.set()
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1)
    if task not in done:
        task.cancel()
        return False
    return task.cancelled()
