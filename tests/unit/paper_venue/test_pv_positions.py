"""Position arithmetic in one-way mode."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from paper_venue.ledger.positions import Position


@pytest.mark.unit
def test_open_add_reduce_flip() -> None:
    pos = Position("BTCUSDT", D(10))
    assert pos.apply_fill("Buy", D(1), D(100)) == (0, 0)
    pos.apply_fill("Buy", D(1), D(200))
    assert (pos.size, pos.entry) == (D(2), D(150))
    pnl, closed = pos.apply_fill("Sell", D(3), D(160))
    assert (pnl, closed) == (D(20), D(2))
    assert (pos.size, pos.entry) == (D(-1), D(160))
    pnl, closed = pos.apply_fill("Buy", D(1), D(150))
    assert (pnl, closed, pos.size, pos.entry) == (D(10), D(1), D(0), D(0))


@pytest.mark.unit
def test_liquidation_price_meets_maintenance_margin() -> None:
    long = Position("BTCUSDT", D(10), size=D(1), entry=D(100))
    liq = long.liq_price(margin_balance=D(10), mark=D(100), mmr=D("0.005"))
    assert liq is not None
    equity_at_liq = D(10) + (liq - D(100))
    assert abs(equity_at_liq - liq * D("0.005")) < D("0.000001")
    short = Position("BTCUSDT", D(10), size=D(-1), entry=D(100))
    liq_s = short.liq_price(margin_balance=D(10), mark=D(100), mmr=D("0.005"))
    assert liq_s is not None
    assert liq_s > D(100)
