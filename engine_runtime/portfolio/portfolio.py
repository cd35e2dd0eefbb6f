"""The engine's account as the runtime tracks it: positions from fills, marks from tickers,
balances and equity from the venue's wallet, and the equity marks risk and reporting need (the
high-water mark, the day's and week's opening equity), which survive restarts in the checkpoint.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from engine_runtime.persistence.store import Checkpoint
from eternal_kernel.model.enums import Category, OrderSide
from eternal_kernel.model.reports import FillReport, PositionStatusReport, WalletReport

from .positions import ClosedTrade, Position

ZERO = Decimal(0)
PositionKey = tuple[str, Category]


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


class Portfolio:
    def __init__(self) -> None:
        self.positions: dict[PositionKey, Position] = {}
        self.marks: dict[str, Decimal] = {}
        self.venue_positions: dict[str, PositionStatusReport] = {}
        self.wallet: WalletReport | None = None
        self.high_water_mark: Decimal | None = None
        self.day: date | None = None
        self.day_start_equity: Decimal | None = None
        self.week: date | None = None
        self.week_start_equity: Decimal | None = None
        self.base_coins: dict[str, str] = {}

    # state ----------------------------------------------------------------------------
    def position(self, symbol: str, category: Category) -> Position:
        key = (symbol, category)
        if key not in self.positions:
            self.positions[key] = Position(symbol, category)
        return self.positions[key]

    def open_positions(self) -> list[Position]:
        return [p for p in self.positions.values() if not p.is_flat]

    @property
    def equity(self) -> Decimal:
        return self.wallet.total_equity if self.wallet is not None else ZERO

    @property
    def cash(self) -> Decimal:
        return self.wallet.cash if self.wallet is not None else ZERO

    def unrealized(self) -> Decimal:
        total = ZERO
        for p in self.open_positions():
            venue = self.venue_positions.get(p.symbol) if p.category is Category.LINEAR else None
            total += venue.unrealized_pnl if venue else p.unrealized_pnl(self.marks.get(p.symbol))
        return total

    @property
    def drawdown(self) -> Decimal:
        if not self.high_water_mark or self.high_water_mark <= 0:
            return ZERO
        return max(ZERO, 1 - self.equity / self.high_water_mark)

    @property
    def day_pnl(self) -> Decimal:
        return self.equity - self.day_start_equity if self.day_start_equity is not None else ZERO

    # updates --------------------------------------------------------------------------
    def apply_fill(self, fill: FillReport) -> tuple[Position, ClosedTrade | None]:
        position = self.position(fill.symbol, fill.category)
        qty, fee = fill.qty, fill.fee
        base = self.base_coins.get(fill.symbol)
        if fill.category is Category.SPOT and base and fill.fee_currency == base:
            # Spot buys pay their fee in the base coin: the holding grows by qty - fee.
            qty = qty - fee if fill.side is OrderSide.BUY else qty
            fee = fee * fill.price
        closed = position.apply_fill(fill.side, qty, fill.price, fee, fill.ts_event_ms)
        return position, closed

    def on_wallet(self, wallet: WalletReport, now: datetime | None = None) -> None:
        self.wallet = wallet
        self.roll(now or datetime.now(UTC))

    def roll(self, now: datetime) -> bool:
        """Advance the high-water mark and the day/week openings; True when a mark changed."""
        equity = self.equity
        if self.wallet is None or equity <= 0:
            return False
        changed = False
        if self.high_water_mark is None or equity > self.high_water_mark:
            self.high_water_mark = equity
            changed = True
        today = now.date()
        if self.day != today:
            self.day, self.day_start_equity = today, equity
            changed = True
        if self.week != week_start(today):
            self.week, self.week_start_equity = week_start(today), equity
            changed = True
        return changed

    def restore(self, checkpoint: Checkpoint) -> None:
        self.high_water_mark = checkpoint.high_water_mark
        self.day, self.day_start_equity = checkpoint.day, checkpoint.day_start_equity
        self.week, self.week_start_equity = checkpoint.week, checkpoint.week_start_equity

    def checkpoint_into(self, checkpoint: Checkpoint) -> None:
        checkpoint.high_water_mark = self.high_water_mark
        checkpoint.day, checkpoint.day_start_equity = self.day, self.day_start_equity
        checkpoint.week, checkpoint.week_start_equity = self.week, self.week_start_equity
