"""NAV per unit: contributions and withdrawals change the units, not the NAV per unit.

A portfolio starts with units equal to its first observed equity (NAV per unit 1). Money moved
in or out is converted to units at the NAV per unit of that moment, so a deposit is not a gain,
a withdrawal is not a loss, and drawdown measured on NAV per unit is drawdown from trading.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal


@dataclass(frozen=True)
class Book:
    units: Decimal
    high_water_mark: Decimal
    """Highest NAV per unit seen; only ever rises."""

    @classmethod
    def opening(cls, equity: Decimal) -> Book:
        """The book of a portfolio first seen with `equity` (> 0): NAV per unit 1."""
        if equity <= 0:
            raise ValueError("a book opens on positive equity")
        return cls(units=equity, high_water_mark=Decimal(1))

    def nav_per_unit(self, equity: Decimal) -> Decimal:
        return equity / self.units if self.units > 0 else Decimal(0)

    def after_flow(self, equity_before_flow: Decimal, amount: Decimal) -> Book:
        """Units after `amount` USDT came in (positive) or went out (negative)."""
        nav = self.nav_per_unit(equity_before_flow)
        if nav <= 0:
            return self
        return replace(self, units=max(Decimal(0), self.units + amount / nav))

    def marked(self, equity: Decimal) -> Book:
        """Raise the high-water mark if NAV per unit is above it."""
        nav = self.nav_per_unit(equity)
        return replace(self, high_water_mark=nav) if nav > self.high_water_mark else self

    def drawdown(self, equity: Decimal) -> Decimal:
        if self.high_water_mark <= 0:
            return Decimal(0)
        return max(Decimal(0), 1 - self.nav_per_unit(equity) / self.high_water_mark)
