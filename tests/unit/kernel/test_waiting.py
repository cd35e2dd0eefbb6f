"""`woken_or_after`: the runtime's and the operator's loops wait with it for a wake-up or a
period; a cancel in the same step as the wake-up still cancels it (with `asyncio.wait_for`, on
Python 3.11, the wake-up won and the cancel was lost)."""

from __future__ import annotations

import asyncio

import pytest

from eternal_kernel.waiting import woken_or_after
from support.stopping import stopped_while_woken

pytestmark = pytest.mark.unit


async def test_the_wait_is_cancelled_when_woken_in_the_same_step() -> None:
    event = asyncio.Event()
    assert await stopped_while_woken(woken_or_after(event, 30), event)


async def test_the_wait_ends_when_woken_or_after_its_time() -> None:
    event = asyncio.Event()
    event.set()
    await asyncio.wait_for(woken_or_after(event, 30), 1)  # woken: at once
    started = asyncio.get_running_loop().time()
    await woken_or_after(asyncio.Event(), 0.05)  # not woken: its time, no TimeoutError
    assert asyncio.get_running_loop().time() - started >= 0.05
