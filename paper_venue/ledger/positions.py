"""Linear positions in one-way mode: size, entry price, realised PnL, liquidation price."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from paper_venue.decimals import ZERO
from paper_venue.matching.arithmetic import position_after_fill


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
        """Add a fill; returns (realised PnL, size closed). A position that opens (from flat
        or past it) starts its current realised PnL afresh; one that closes or flips drops
        its take-profit and stop-loss."""
        signed = qty if side == "Buy" else -qty
        was_flat = self.size == 0
        self.size, self.entry, pnl, closed = position_after_fill(
            self.size, self.entry, signed, price
        )
        flipped = closed < qty
        if closed > 0:
            self.cur_realised += pnl
        if was_flat or (closed > 0 and flipped):
            self.cur_realised = ZERO
        if closed > 0 and (self.size == 0 or flipped):
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
