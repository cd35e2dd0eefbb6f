"""Order requests as the runtime sends them (after risk checks and instrument filters)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from .enums import Category, OrderSide, OrderType
from .identifiers import ClientOrderId


@dataclass(frozen=True, slots=True)
class OrderRequest:
    client_order_id: ClientOrderId
    symbol: str
    category: Category
    side: OrderSide
    order_type: OrderType
    qty: Decimal
    price: Decimal | None = None
    quote_qty: bool = False
    """Spot market buy sized in quote coin (`qty` is USDT)."""
    post_only: bool = False
    reduce_only: bool = False

    def params(self) -> dict[str, Any]:
        """The /v5/order/create parameters."""
        out: dict[str, Any] = {
            "category": self.category.value,
            "symbol": self.symbol,
            "side": self.side.value,
            "orderType": self.order_type.value,
            "qty": format(self.qty, "f"),
            "orderLinkId": self.client_order_id,
        }
        if self.price is not None and self.order_type is OrderType.LIMIT:
            out["price"] = format(self.price, "f")
            out["timeInForce"] = "PostOnly" if self.post_only else "GTC"
        if self.reduce_only and self.category is Category.LINEAR:
            out["reduceOnly"] = True
        if self.category is Category.SPOT and self.order_type is OrderType.MARKET:
            out["marketUnit"] = "quoteCoin" if self.quote_qty else "baseCoin"
        return out


@dataclass(frozen=True, slots=True)
class AmendOrder:
    """Change a working order's qty and/or price, by the intent id it was submitted with.

    The strategies' interface (v1) has no amend intent; the runtime accepts this one from any
    strategy that returns it (the scripted test strategy does).
    """

    intent_id: str
    symbol: str
    category: str
    target_intent_id: str
    qty: Decimal | None = None
    price: Decimal | None = None
