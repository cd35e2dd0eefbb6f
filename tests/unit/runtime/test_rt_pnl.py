"""Positions from executions: average entry, realized and unrealized PnL (Decimal)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.portfolio.positions import Position
from eternal_kernel.model.enums import Category, OrderSide

pytestmark = pytest.mark.unit
BUY, SELL = OrderSide.BUY, OrderSide.SELL


def test_adding_moves_the_average_entry() -> None:
    p = Position("BTCUSDT", Category.LINEAR)
    p.apply_fill(BUY, D("1"), D("100"), D("0.1"), 1)
    p.apply_fill(BUY, D("3"), D("200"), D("0.3"), 2)
    assert p.qty == D("4")
    assert p.avg_entry_price == D("175")
    assert p.unrealized_pnl(D("180")) == D("20")
    assert p.fees == D("0.4")
    assert p.realized_pnl == 0
    assert p.opened_ms == 1


def test_reducing_realizes_and_keeps_the_entry() -> None:
    p = Position("BTCUSDT", Category.LINEAR)
    p.apply_fill(BUY, D("2"), D("100"), D("0"), 1)
    closed = p.apply_fill(SELL, D("0.5"), D("120"), D("0.05"), 2)
    assert closed is not None
    assert closed.realized_pnl == D("10")
    assert closed.qty == D("0.5")
    assert p.qty == D("1.5")
    assert p.avg_entry_price == D("100")
    assert p.net_realized == D("9.95")


def test_short_profits_when_price_falls_and_flip_reopens_at_fill_price() -> None:
    p = Position("ETHUSDT", Category.LINEAR)
    p.apply_fill(SELL, D("1"), D("3000"), D("0"), 1)
    assert p.unrealized_pnl(D("2900")) == D("100")
    closed = p.apply_fill(BUY, D("3"), D("2800"), D("0"), 2)
    assert closed is not None
    assert closed.realized_pnl == D("200")
    assert closed.side is SELL
    assert p.qty == D("2")
    assert p.avg_entry_price == D("2800")
    assert p.opened_ms == 2


def test_closing_exactly_goes_flat() -> None:
    p = Position("BTCUSDT", Category.LINEAR)
    p.apply_fill(BUY, D("0.01"), D("60000"), D("0"), 1)
    p.apply_fill(SELL, D("0.01"), D("59000"), D("0"), 2)
    assert p.is_flat
    assert p.avg_entry_price == 0
    assert p.realized_pnl == D("-10.00")
    assert p.unrealized_pnl(D("1")) == 0
    assert p.opened_ms is None
