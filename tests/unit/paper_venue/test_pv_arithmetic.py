"""The fill arithmetic the venue and the backtester share, against hand-worked numbers, in
Decimal (the venue) and float (the backtester) alike."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from paper_venue.config import FeeSettings
from paper_venue.matching.arithmetic import fee_rate, fill_fee, position_after_fill

pytestmark = pytest.mark.unit


def test_fee_rate_reads_the_table_by_market_and_liquidity_side() -> None:
    fees = FeeSettings(spot_maker=D("0.0008"), spot_taker=D("0.001"), linear_maker=D("0.0002"))
    assert fee_rate(fees, spot=True, maker=True) == D("0.0008")
    assert fee_rate(fees, spot=True, maker=False) == D("0.001")
    assert fee_rate(fees, spot=False, maker=True) == D("0.0002")
    assert fee_rate(fees, spot=False, maker=False) == D("0.00055")


def test_a_decimal_fee_is_rounded_half_up_to_8_decimals_a_float_fee_is_not() -> None:
    # 600.00123 x 0.00055 = 0.3300006765 -> 0.33000068
    assert fill_fee(D("600.00123"), D("0.00055")) == D("0.33000068")
    assert fill_fee(D("0.000005"), D("0.001")) == D("0.00000001")  # 5e-9 rounds up
    assert fill_fee(600.00123, 0.00055) == pytest.approx(0.3300006765, abs=1e-15)


@pytest.mark.parametrize("num", [D, float], ids=["Decimal", "float"])
def test_open_add_reduce_flip_close(num: type) -> None:
    def n(x: str) -> object:
        return num(x)

    # open long 1 @ 100
    assert position_after_fill(n("0"), n("0"), n("1"), n("100")) == (1, 100, 0, 0)
    # add 1 @ 200: entry (100 x 1 + 200 x 1) / 2 = 150
    assert position_after_fill(n("1"), n("100"), n("1"), n("200")) == (2, 150, 0, 0)
    # reduce 0.5 @ 160: realise 0.5 x (160 - 150) = 5, entry kept
    assert position_after_fill(n("2"), n("150"), n("-0.5"), n("160")) == (1.5, 150, 5, 0.5)
    # sell 3.5 @ 140 from long 1.5 @ 150: close 1.5 for -15, open short 2 @ 140
    assert position_after_fill(n("1.5"), n("150"), n("-3.5"), n("140")) == (-2, 140, -15, 1.5)
    # short 2 @ 140 bought back 2 @ 130: +20, flat, entry zero
    size, entry, pnl, closed = position_after_fill(n("-2"), n("140"), n("2"), n("130"))
    assert (size, entry, pnl, closed) == (0, 0, 20, 2)
    assert type(entry) is num
    assert type(pnl) is num
