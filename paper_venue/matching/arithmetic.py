"""The money arithmetic of a fill, one copy for the paper venue and the backtester.

Fee of a fill, and a one-way position after a fill (size, average entry, realised PnL, size
closed). The functions are generic over the number type: the venue calls them with `Decimal`
(exact, fees rounded to the 8 decimals it reports), the backtester's inner loop with `float`
(its speed); the formulas and their order of operations are the same, so on the same orders the
two agree to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol, TypeVar

N = TypeVar("N", float, Decimal)
N_co = TypeVar("N_co", float, Decimal, covariant=True)

FEE_PLACES = Decimal("0.00000001")
"""Fees are charged in whole units of 8 decimals, the precision the venue reports them in."""


class FeeTable(Protocol[N_co]):
    """Fee rates (fractions of notional) per market and liquidity side: the venue's
    `FeeSettings` (Decimal) and the backtester's `FeeModel` (float) are both one."""

    @property
    def spot_maker(self) -> N_co: ...
    @property
    def spot_taker(self) -> N_co: ...
    @property
    def linear_maker(self) -> N_co: ...
    @property
    def linear_taker(self) -> N_co: ...


def fee_rate(table: FeeTable[N], *, spot: bool, maker: bool) -> N:
    """The rate a fill pays: spot or linear, maker or taker."""
    if spot:
        return table.spot_maker if maker else table.spot_taker
    return table.linear_maker if maker else table.linear_taker


def fill_fee(amount: N, rate: N) -> N:
    """Fee on `amount` (the notional; a spot buy's base quantity, in which Bybit charges it):
    `amount x rate`, and a Decimal fee rounded half up to 8 decimals."""
    fee = amount * rate
    if isinstance(fee, Decimal):
        return fee.quantize(FEE_PLACES, ROUND_HALF_UP)
    return fee


def position_after_fill(size: N, entry: N, signed_qty: N, price: N) -> tuple[N, N, N, N]:
    """A one-way position (signed `size`, average `entry`) after a fill of `signed_qty`
    (negative sells) at `price`: (size, entry, realised PnL, size closed).

    Opening or adding averages the entry, weighted by size; reducing realises
    `closed x (price - entry)` (sign of the position) and keeps the entry; a fill past flat
    closes the position and opens the rest at the fill price; flat, the entry is zero.
    """
    # a plain zero of the caller's kind (never a numpy scalar: it would slow every later sum)
    zero = Decimal(0) if isinstance(price, Decimal) else 0.0
    total = size + signed_qty
    if size == 0:
        return total, price, zero, zero
    qty = abs(signed_qty)
    if (size > 0) == (signed_qty > 0):
        return total, (entry * abs(size) + price * qty) / abs(total), zero, zero
    closed = min(abs(size), qty)
    realised = closed * (price - entry) * (1 if size > 0 else -1)
    if qty > abs(size):
        return total, price, realised, closed
    return total, entry if total != 0 else zero, realised, closed
