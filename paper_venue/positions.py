"""Linear positions in one-way mode: size, entry price, realised PnL, liquidation price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from paper_venue.decimals import ZERO


@dataclass
class Position:
    """A one-way position; `size` is signed (negative is short)."""

    symbol: str
    leverage: Decimal
    size: Decimal = ZERO
    entry: Decimal = ZERO
    cur_realised: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = -1
    status: str = "Normal"
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None

    @property
    def side(self) -> str:
        if self.size > 0:
            return "Buy"
        if self.size < 0:
            return "Sell"
        return ""

    def unrealised(self, mark: Decimal) -> Decimal:
        return self.size * (mark - self.entry)

    def value(self, mark: Decimal) -> Decimal:
        return abs(self.size) * mark

    def apply_fill(self, side: str, qty: Decimal, price: Decimal) -> tuple[Decimal, Decimal]:
        """Add a fill; returns (realised PnL, size closed)."""
        signed = qty if side == "Buy" else -qty
        if self.size == 0 or (self.size > 0) == (signed > 0):
            if self.size == 0:
                self.cur_realised = ZERO
            total = self.size + signed
            self.entry = (self.entry * abs(self.size) + price * qty) / abs(total)
            self.size = total
            return ZERO, ZERO
        closed = min(abs(self.size), qty)
        direction = Decimal(1) if self.size > 0 else Decimal(-1)
        pnl = closed * (price - self.entry) * direction
        rest = qty - closed
        self.size += closed * -direction
        self.cur_realised += pnl
        if rest > 0:
            self.size = rest if side == "Buy" else -rest
            self.entry = price
            self.cur_realised = ZERO
        elif self.size == 0:
            self.entry = ZERO
        if self.size == 0 or rest > 0:
            self.take_profit = self.stop_loss = None
        return pnl, closed

    def break_even(self, taker_rate: Decimal) -> Decimal:
        """Bybit's break-even price: (entry x qty - realised PnL) / (qty - |qty| x taker rate),
        qty signed; zero when flat."""
        if self.size == 0:
            return ZERO
        return (self.entry * self.size - self.cur_realised) / (
            self.size - abs(self.size) * taker_rate
        )

    def liq_price(self, margin_balance: Decimal, mark: Decimal, mmr: Decimal) -> Decimal | None:
        """Mark price at which the account's margin balance meets this position's maintenance
        margin, other things equal (cross margin, one position carrying the account)."""
        n = abs(self.size)
        if n == 0:
            return None
        if self.size > 0:
            liq = (n * mark - margin_balance) / (n * (1 - mmr))
        else:
            liq = (margin_balance + n * mark) / (n * (1 + mmr))
        return liq if liq > 0 else None
