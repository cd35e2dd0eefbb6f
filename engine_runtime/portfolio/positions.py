"""Positions from executions: average entry, realized and unrealized PnL, in Decimal.

Long and short share one signed quantity. A fill in the position's direction moves the average
entry; one against it realizes (exit - entry) x closed qty (sign-adjusted) and, past zero, opens
the other way at the fill price. Fees are booked separately and subtracted in `net_realized`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from eternal_kernel.model.enums import Category, OrderSide

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """The part of a fill that closed (some of) a position."""

    side: OrderSide  # of the position closed
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    realized_pnl: Decimal


@dataclass
class Position:
    symbol: str
    category: Category
    qty: Decimal = ZERO
    avg_entry_price: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    opened_ms: int | None = None

    def snapshot(self) -> tuple[Decimal, Decimal, Decimal, Decimal, int | None]:
        return (self.qty, self.avg_entry_price, self.realized_pnl, self.fees, self.opened_ms)

    def restore(self, state: tuple[Decimal, Decimal, Decimal, Decimal, int | None]) -> None:
        self.qty, self.avg_entry_price, self.realized_pnl, self.fees, self.opened_ms = state

    @property
    def side(self) -> OrderSide | None:
        if self.qty > 0:
            return OrderSide.BUY
        if self.qty < 0:
            return OrderSide.SELL
        return None

    @property
    def is_flat(self) -> bool:
        return self.qty == 0

    def unrealized_pnl(self, mark: Decimal | None) -> Decimal:
        if self.qty == 0 or mark is None:
            return ZERO
        return (mark - self.avg_entry_price) * self.qty

    def notional(self, mark: Decimal | None) -> Decimal:
        return abs(self.qty) * (mark if mark is not None else self.avg_entry_price)

    @property
    def net_realized(self) -> Decimal:
        return self.realized_pnl - self.fees

    def apply_fill(
        self, side: OrderSide, qty: Decimal, price: Decimal, fee: Decimal, ts_ms: int
    ) -> ClosedTrade | None:
        """Book one execution; returns the closed part, if any."""
        if qty <= 0:
            return None
        self.fees += fee
        signed = qty * side.sign
        closed: ClosedTrade | None = None
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            total = self.qty + signed
            self.avg_entry_price = (abs(self.qty) * self.avg_entry_price + qty * price) / abs(total)
            if self.qty == 0:
                self.opened_ms = ts_ms
            self.qty = total
            return None
        closing = min(qty, abs(self.qty))
        direction = Decimal(1) if self.qty > 0 else Decimal(-1)
        pnl = (price - self.avg_entry_price) * closing * direction
        self.realized_pnl += pnl
        position_side = OrderSide.BUY if self.qty > 0 else OrderSide.SELL
        closed = ClosedTrade(position_side, closing, self.avg_entry_price, price, pnl)
        self.qty += signed
        if self.qty == 0:
            self.avg_entry_price = ZERO
            self.opened_ms = None
        elif (self.qty > 0) == (signed > 0):  # flipped through zero
            self.avg_entry_price = price
            self.opened_ms = ts_ms
        return closed
