"""A runtime's stop cancels its background loops, and each must end at once, even when it is
woken in the same step (a report asked for by an order the stop cancelled, a balance change):
with `asyncio.wait_for` the wake-up won, the cancel was lost, and the loop went round again
while the stop waited out its 5 s bound (every runtime's stop logged "background tasks did not
finish in 5 s")."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine_runtime.app.equity import EquityPublisher
from engine_runtime.portfolio.portfolio import Portfolio
from engine_runtime.reporting.errors import ErrorRegistry
from support.memory_venue import MemoryVenue
from support.stopping import stopped_while_woken

pytestmark = pytest.mark.unit


async def test_the_equity_loop_ends_when_stopped_as_balances_change() -> None:
    published: list[Decimal] = []

    async def publish(equity: Decimal, ts_ms: int) -> None:
        published.append(equity)

    loop = EquityPublisher(MemoryVenue({}), Portfolio(), ErrorRegistry(), publish,
                           equity_interval_s=30, wallet_interval_s=30)  # fmt: skip
    assert await stopped_while_woken(loop.run(), loop.wake)
    assert published == []
