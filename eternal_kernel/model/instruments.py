"""Instruments and their filters, applied to every order before it is sent.

Prices are rounded to the tick (buys down, sells up: never worse than the strategy asked),
quantities down to the step; an order below the minimum quantity or notional is refused here,
with a reason, instead of by Bybit.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal

from .enums import Category, OrderSide


class FilterError(ValueError):
    """An order that cannot satisfy the instrument's filters."""


@dataclass(frozen=True, slots=True)
class Instrument:
    symbol: str
    category: Category
    base_coin: str
    quote_coin: str
    tick_size: Decimal
    qty_step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_leverage: Decimal = Decimal(1)

    def round_price(self, price: Decimal, side: OrderSide) -> Decimal:
        rounding = ROUND_FLOOR if side is OrderSide.BUY else ROUND_CEILING
        ticks = (price / self.tick_size).to_integral_value(rounding=rounding)
        return (ticks * self.tick_size).normalize()

    def round_qty(self, qty: Decimal) -> Decimal:
        steps = (qty / self.qty_step).to_integral_value(rounding=ROUND_DOWN)
        return (steps * self.qty_step).normalize()

    def check(self, qty: Decimal, price: Decimal | None, reference_price: Decimal | None) -> None:
        """Raise FilterError if a rounded order breaks a minimum or maximum."""
        if qty <= 0 or qty < self.min_qty:
            raise FilterError(f"{self.symbol}: qty {qty} below the minimum {self.min_qty}")
        if qty > self.max_qty:
            raise FilterError(f"{self.symbol}: qty {qty} above the maximum {self.max_qty}")
        px = price if price is not None else reference_price
        if px is not None and self.min_notional > 0 and qty * px < self.min_notional:
            raise FilterError(
                f"{self.symbol}: notional {qty * px} below the minimum {self.min_notional}"
            )
