"""The runtime's order: what was asked, and what the venue has said about it since."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from eternal_kernel.model.commands import OrderRequest
from eternal_kernel.model.enums import Category, OrderSide, OrderStatus, OrderType
from eternal_kernel.model.identifiers import ClientOrderId, VenueOrderId
from eternal_kernel.model.reports import OrderStatusReport

from .state import next_status

ZERO = Decimal(0)


@dataclass
class ManagedOrder:
    client_order_id: ClientOrderId
    intent_id: str
    symbol: str
    category: Category
    side: OrderSide
    order_type: OrderType
    qty: Decimal
    price: Decimal | None
    quote_qty: bool = False
    post_only: bool = False
    reduce_only: bool = False
    status: OrderStatus = OrderStatus.CREATED
    venue_order_id: VenueOrderId | None = None
    filled_qty: Decimal = ZERO
    avg_price: Decimal | None = None
    reason: str = ""
    reject_reason: str | None = None
    created_ms: int = 0
    trade_ids: set[str] = field(default_factory=set)
    booked_qty: Decimal = ZERO
    """The quantity of this order's executions booked (in PostgreSQL and the positions)."""
    version: int = 0
    """The version of the last snapshot taken for its row (`snapshot_version`)."""
    cancel_wanted: bool = False
    """A cancel was asked before the venue knew the order (its create still in flight): it is
    sent again once the venue reports the order open, so the order does not outlive it."""

    @classmethod
    def from_request(
        cls, request: OrderRequest, intent_id: str, reason: str, now_ms: int
    ) -> ManagedOrder:
        return cls(
            client_order_id=request.client_order_id,
            intent_id=intent_id,
            symbol=request.symbol,
            category=request.category,
            side=request.side,
            order_type=request.order_type,
            qty=request.qty,
            price=request.price,
            quote_qty=request.quote_qty,
            post_only=request.post_only,
            reduce_only=request.reduce_only,
            reason=reason,
            created_ms=now_ms,
        )

    def request(self) -> OrderRequest:
        return OrderRequest(
            client_order_id=self.client_order_id,
            symbol=self.symbol,
            category=self.category,
            side=self.side,
            order_type=self.order_type,
            qty=self.qty,
            price=self.price,
            quote_qty=self.quote_qty,
            post_only=self.post_only,
            reduce_only=self.reduce_only,
        )

    @property
    def is_open(self) -> bool:
        return self.status.is_open

    def apply(self, report: OrderStatusReport) -> bool:
        """Take the venue's view; True when anything we track changed."""
        before = (self.status, self.filled_qty, self.venue_order_id, self.qty, self.price)
        self.status = next_status(self.status, report.status)
        self.venue_order_id = report.venue_order_id or self.venue_order_id
        if report.filled_qty > self.filled_qty:
            self.filled_qty = report.filled_qty
            self.avg_price = report.avg_price or self.avg_price
        if self.status.is_open and not self.quote_qty:
            self.qty = report.qty or self.qty
            self.price = report.price if self.order_type is OrderType.LIMIT else self.price
        if report.status is OrderStatus.REJECTED:
            self.reject_reason = report.reject_reason or self.reject_reason
        return before != (self.status, self.filled_qty, self.venue_order_id, self.qty, self.price)

    @property
    def fills_unbooked(self) -> bool:
        """The venue reports more filled than we have booked: its executions are on the way."""
        return self.filled_qty > self.booked_qty

    def snapshot_version(self) -> int:
        """The version for a write of the row taken now: higher than every one taken before, so
        of two writes racing to PostgreSQL the older snapshot cannot land last."""
        self.version += 1
        return self.version

    def set_status(self, status: OrderStatus, reject_reason: str | None = None) -> bool:
        new = next_status(self.status, status)
        changed = new != self.status
        self.status = new
        if reject_reason is not None and new is OrderStatus.REJECTED:
            self.reject_reason = reject_reason
        return changed
