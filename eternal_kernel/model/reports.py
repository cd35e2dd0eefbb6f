"""What the venue says, parsed: order, fill, position and wallet reports.

Both the REST answers and the private streams become these, so the order manager and the
reconciliation read one shape whatever the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .enums import Category, OrderSide, OrderStatus, OrderType
from .identifiers import ClientOrderId, TradeId, VenueOrderId


@dataclass(frozen=True, slots=True)
class OrderStatusReport:
    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId
    symbol: str
    category: Category
    side: OrderSide
    order_type: OrderType
    status: OrderStatus
    qty: Decimal
    price: Decimal | None
    filled_qty: Decimal
    avg_price: Decimal | None
    reduce_only: bool
    reject_reason: str
    ts_event_ms: int


@dataclass(frozen=True, slots=True)
class FillReport:
    trade_id: TradeId
    client_order_id: ClientOrderId
    venue_order_id: VenueOrderId
    symbol: str
    category: Category
    side: OrderSide
    qty: Decimal
    price: Decimal
    fee: Decimal
    fee_currency: str
    is_maker: bool
    ts_event_ms: int


@dataclass(frozen=True, slots=True)
class PositionStatusReport:
    symbol: str
    category: Category
    side: OrderSide | None
    size: Decimal
    entry_price: Decimal
    mark_price: Decimal
    unrealized_pnl: Decimal
    leverage: Decimal


@dataclass(frozen=True, slots=True)
class CoinBalance:
    coin: str
    wallet_balance: Decimal
    free: Decimal
    equity: Decimal


@dataclass(frozen=True, slots=True)
class WalletReport:
    total_equity: Decimal
    coins: dict[str, CoinBalance]

    @property
    def cash(self) -> Decimal:
        usdt = self.coins.get("USDT")
        return usdt.free if usdt is not None else Decimal(0)
