"""Equity between wallet reads: the read's total moved by each holding's price change."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from engine_runtime.portfolio.positions import Position
from engine_runtime.portfolio.valuation import basis, revalue
from eternal_kernel.model.enums import Category
from eternal_kernel.model.reports import CoinBalance, WalletReport


def wallet(total: str, **coins: str) -> WalletReport:
    return WalletReport(D(total), {c: CoinBalance(c, D(q), D(q), D(q)) for c, q in coins.items()})


pytestmark = pytest.mark.unit

PRICES = {"BTCUSDT": D(50000), "ETHUSDT": D(3000), "SOLUSDT": D(150)}


def test_spot_coins_and_linear_positions_move_with_their_prices() -> None:
    # 1000 USDT + 0.1 BTC (5000) + a linear short of 2 ETH (its PnL inside the USDT equity).
    held = basis(
        wallet("6000", USDT="1000", BTC="0.1"),
        [Position("ETHUSDT", Category.LINEAR, qty=D(-2), avg_entry_price=D(3000))],
        PRICES,
        measured_ms=1_000,
    )
    assert held.measured_ms == 1_000
    assert revalue(held, PRICES) == D(6000)
    later = {**PRICES, "BTCUSDT": D(40000), "ETHUSDT": D(3100)}
    # BTC -10000 x 0.1 = -1000; ETH +100 on a short of 2 = -200.
    assert revalue(held, later) == D(4800)


def test_a_coin_and_a_linear_position_on_one_symbol_add_up() -> None:
    held = basis(
        wallet("10000", USDT="5000", BTC="0.1"),
        [Position("BTCUSDT", Category.LINEAR, qty=D("-0.1"))],  # a hedge: no net exposure
        PRICES,
        measured_ms=0,
    )
    assert revalue(held, {**PRICES, "BTCUSDT": D(20000)}) == D(10000)


def test_what_has_no_price_of_its_own_keeps_the_reads_value() -> None:
    # DOGE has no ticker here; a spot position is already a coin balance, not counted twice.
    held = basis(
        wallet("8000", USDT="2000", BTC="0.1", DOGE="1000"),
        [Position("BTCUSDT", Category.SPOT, qty=D("0.1"))],
        PRICES,
        measured_ms=0,
    )
    assert revalue(held, {**PRICES, "BTCUSDT": D(60000)}) == D(9000)
    assert revalue(held, {}) == D(8000)  # no prices since: the read as it was
