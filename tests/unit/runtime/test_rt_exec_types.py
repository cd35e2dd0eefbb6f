"""Which execution rows are fills: the paper venue's own rows (trade, funding settlement,
liquidation), as REST lists them and as the private stream sends them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from eternal_kernel.bybit import parsing
from paper_venue.clock import Clock, ClockMode
from paper_venue.config import VenueSettings
from paper_venue.instruments import Category
from paper_venue.matching.orders import Execution
from paper_venue.router import trading
from paper_venue.router.venue import Venue

pytestmark = pytest.mark.unit

SUB = 100001
START_MS = 1_700_000_400_000  # 1h40m before a funding settlement
MINUTE = 60_000


def executions() -> list[Execution]:
    """A 9x long: charged at a funding settlement, then liquidated by a 30% fall."""
    script = {"BTCUSDT": [[0, "1"], [110 * MINUTE, "1"], [111 * MINUTE, "0.7"]]}
    settings = VenueSettings.model_validate({
        "feed": {"kind": "scripted", "backfill_minutes": 5, "script": script},
        "clock": {"mode": "stepped", "start_ms": START_MS},
    })  # fmt: skip
    venue = Venue(settings, Clock(ClockMode.STEPPED, start_ms=START_MS))
    order = trading.PlaceOrder(Category.LINEAR, "BTCUSDT", "Buy", "Market", D("1.5"))
    trading.place_order(venue, SUB, order)
    for _ in range(112):
        venue.clock.advance(MINUTE)
        venue.update()
    return list(venue.executions[SUB])


def test_only_position_moving_rows_are_fills() -> None:
    rows = executions()
    kinds = [e.exec_type for e in rows]
    assert sorted(set(kinds)) == ["BustTrade", "Funding", "Trade"]  # the buy takes two levels
    assert kinds.count("Funding") == 1
    for e in rows:
        for wire in (e.to_wire(), e.to_wire(stream=True)):
            assert parsing.is_trade(wire) is (e.exec_type != "Funding"), e.exec_type


@pytest.mark.parametrize("kind", ["Funding", "Settle", "Delivery", "SomethingNew"])
def test_settlements_and_unknown_kinds_are_not_fills(kind: str) -> None:
    assert not parsing.is_trade({"execType": kind})


@pytest.mark.parametrize("kind", ["Trade", "AdlTrade", "BustTrade", "BlockTrade"])
def test_trades_are_fills(kind: str) -> None:
    assert parsing.is_trade({"execType": kind})
