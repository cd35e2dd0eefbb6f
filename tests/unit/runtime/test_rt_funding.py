"""Funding settlements become on_funding events; the first poll only fills the history."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.live.funding import FundingWatcher
from engine_runtime.live.market import LiveMarket
from engine_runtime.strategies.interface import Category, FundingEvent

pytestmark = pytest.mark.unit


class Venue:
    def __init__(self) -> None:
        self.history = [(1000, D("0.0001")), (2000, D("0.0002"))]

    async def funding_history(self, symbol: str, limit: int) -> list[tuple[int, D]]:
        return list(self.history)

    async def funding_payment(self, symbol: str, ts_ms: int) -> D:
        return D("-1.5")


class Runner:
    def __init__(self) -> None:
        self.market = LiveMarket([("BTCUSDT", Category.LINEAR)], 10, "1")
        self.events: list[FundingEvent] = []

    def on_funding(self, event: FundingEvent) -> None:
        self.events.append(event)


async def test_new_settlements_become_events() -> None:
    venue, runner = Venue(), Runner()
    watcher = FundingWatcher(venue, runner, ["BTCUSDT"])  # type: ignore[arg-type]
    await watcher.poll("BTCUSDT")
    assert runner.events == []
    assert runner.market.funding_rates("BTCUSDT", 5) == [D("0.0001"), D("0.0002")]
    venue.history.append((3000, D("0.0003")))
    runner.market.predicted_funding["BTCUSDT"] = D("0.0004")
    await watcher.poll("BTCUSDT")
    assert runner.events == [FundingEvent("BTCUSDT", 3000, D("0.0003"), D("0.0004"), D("-1.5"))]
    await watcher.poll("BTCUSDT")
    assert len(runner.events) == 1
