"""Funding every eight hours and liquidation at maintenance margin, on a stepped clock."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from paper_venue.instruments import Category
from paper_venue.router import trading
from paper_venue.router.trading import PlaceOrder
from paper_venue.router.venue import Venue

SUB = 100001


def long_btc(venue: Venue, qty: str) -> None:
    trading.place_order(venue, SUB, PlaceOrder(Category.LINEAR, "BTCUSDT", "Buy", "Market", D(qty)))


@pytest.mark.unit
def test_funding_is_charged_at_the_settlement_from_the_series(
    make_venue: Callable[..., Venue],
) -> None:
    venue = make_venue(funding={"series": {"BTCUSDT": ["0.001", "-0.002"]}})
    long_btc(venue, "0.1")
    before = venue.account(SUB).balance("USDT")
    first = venue.next_funding_ms
    venue.clock.advance(first - venue.clock.now_ms())
    venue.update()
    mark = venue.market.price("BTCUSDT")
    paid = D("0.1") * mark * D("0.001")
    assert venue.account(SUB).balance("USDT") == before - paid
    funding = [e for e in venue.executions[SUB] if e.exec_type == "Funding"]
    assert len(funding) == 1
    assert funding[0].exec_fee == paid
    assert venue.funding_history["BTCUSDT"] == [(first, D("0.001"))]
    venue.clock.advance(8 * 3_600_000)
    venue.update()
    assert venue.funding_history["BTCUSDT"][-1] == (first + 8 * 3_600_000, D("-0.002"))
    assert venue.account(SUB).balance("USDT") > before - paid


@pytest.mark.unit
def test_a_30_percent_fall_over_ten_minutes_liquidates_a_leveraged_long(
    make_venue: Callable[..., Venue],
) -> None:
    script: dict[str, Any] = {"BTCUSDT": [[0, "1"], [60_000, "1"], [660_000, "0.7"]]}
    venue = make_venue(feed={"script": script})
    long_btc(venue, "1.5")  # 90k notional on 10k: 9x
    liq_seen = []
    for _ in range(11 * 60):
        venue.clock.advance(1000)
        venue.update()
        pos = venue.account(SUB).positions["BTCUSDT"]
        if pos.size == 0:
            liq_seen.append(venue.market.price("BTCUSDT"))
            break
    assert liq_seen, "the position should have been liquidated"
    assert D(52000) < liq_seen[0] < D(55000)
    busts = [e for e in venue.executions[SUB] if e.exec_type == "BustTrade"]
    assert len(busts) == 1
    assert venue.account(SUB).balance("USDT") >= 0
