"""Orders and executions as the venue keeps them, and their Bybit wire form.

`VenueOrderId` is Bybit's `orderId`, `ClientOrderId` its `orderLinkId`. Wire dictionaries
carry numbers as strings and times as millisecond strings, as Bybit's examples do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NewType

from paper_venue.decimals import ZERO, fmt, fmt_fixed8, fmt_plain
from paper_venue.instruments import Category, Instrument

VenueOrderId = NewType("VenueOrderId", str)
ClientOrderId = NewType("ClientOrderId", str)


class OrderStatus(StrEnum):
    """Bybit's orderStatus values the venue produces."""

    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELLED = "Cancelled"
    PARTIALLY_FILLED_CANCELED = "PartiallyFilledCanceled"
    REJECTED = "Rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


@dataclass
class Order:
    """One order, open or finished."""

    order_id: VenueOrderId
    order_link_id: ClientOrderId
    uid: int
    inst: Instrument
    side: str
    order_type: str
    qty: Decimal
    price: Decimal | None
    time_in_force: str
    reduce_only: bool
    close_on_trigger: bool
    created_ms: int
    last_price_on_created: Decimal
    market_unit: str = ""
    status: OrderStatus = OrderStatus.NEW
    cum_exec_qty: Decimal = ZERO
    cum_exec_value: Decimal = ZERO
    cum_exec_fee: Decimal = ZERO
    updated_ms: int = 0
    reject_reason: str = "EC_NoError"
    cancel_type: str = "UNKNOWN"
    create_type: str = "CreateByUser"
    stop_order_type: str = ""
    locked: Decimal = ZERO
    """Spot: the coin amount held for this order (quote for buys, base for sells)."""
    quote_qty: Decimal | None = None
    """Spot market buy in quote units: the quote amount to spend."""
    closed_pnl: Decimal = ZERO
    """Linear: PnL of the position this order closed, net of the closing fills' fees."""

    @property
    def is_buy(self) -> bool:
        return self.side == "Buy"

    @property
    def leaves_qty(self) -> Decimal:
        if not self.status.is_open:
            return ZERO
        return max(ZERO, self.qty - self.cum_exec_qty)

    @property
    def avg_price(self) -> Decimal | None:
        if self.cum_exec_qty == 0:
            return None
        return self.cum_exec_value / self.cum_exec_qty

    @property
    def fee_coin(self) -> str:
        """The coin its fees are charged in: spot buys pay in the base coin received,
        spot sells in the quote coin, linear in the settle coin (USDT)."""
        inst = self.inst
        return inst.base if inst.category is Category.SPOT and self.is_buy else inst.quote

    def fee_detail(self) -> dict[str, str]:
        """Bybit's `cumFeeDetail`: the cumulative fee by coin (empty before any fill)."""
        if self.cum_exec_qty == 0:
            return {}
        return {self.fee_coin: fmt_fixed8(self.cum_exec_fee)}

    def to_wire(self) -> dict[str, object]:
        """The order as /v5/order/realtime and the `order` stream show it."""
        inst = self.inst
        pd, qd = inst.price_decimals, inst.qty_decimals
        avg = self.avg_price
        leaves = self.leaves_qty
        ref_price = self.price if self.price is not None else self.last_price_on_created
        unset = fmt(ZERO, pd)  # Bybit's "0.00" (at the price scale) for no trigger/TP/SL
        wire: dict[str, object] = {
            "orderId": self.order_id,
            "orderLinkId": self.order_link_id,
            "blockTradeId": "",
            "symbol": inst.symbol,
            "price": fmt(self.price, pd) if self.price is not None else "0",
            "qty": fmt(self.qty, qd) if self.quote_qty is None else fmt_plain(self.qty),
            "side": self.side,
            "isLeverage": "0" if inst.category is Category.SPOT else "",
            "positionIdx": 0,
            "orderStatus": self.status.value,
            "cancelType": self.cancel_type,
            "rejectReason": self.reject_reason,
            "avgPrice": fmt(avg, pd + 2).rstrip("0").rstrip(".") if avg is not None else "",
            "leavesQty": fmt(leaves, qd),
            "leavesValue": fmt_fixed8(leaves * ref_price),
            "cumExecQty": fmt(self.cum_exec_qty, qd),
            "cumExecValue": fmt_fixed8(self.cum_exec_value),
            "cumExecFee": fmt_fixed8(self.cum_exec_fee),
            "timeInForce": self.time_in_force,
            "orderType": self.order_type,
            "stopOrderType": self.stop_order_type or "UNKNOWN",
            "orderIv": "",
            "marketUnit": self.market_unit,
            "triggerPrice": unset,
            "takeProfit": unset,
            "stopLoss": unset,
            "tpslMode": "UNKNOWN",
            "ocoTriggerBy": "",
            "tpLimitPrice": "",
            "slLimitPrice": "",
            "tpTriggerBy": "UNKNOWN",
            "slTriggerBy": "UNKNOWN",
            "triggerDirection": 0,
            "triggerBy": "UNKNOWN",
            "lastPriceOnCreated": fmt(self.last_price_on_created, pd),
            "reduceOnly": self.reduce_only,
            "closeOnTrigger": self.close_on_trigger,
            "placeType": "",
            "smpType": "None",
            "smpGroup": 0,
            "smpOrderId": "",
            "createdTime": str(self.created_ms),
            "updatedTime": str(self.updated_ms or self.created_ms),
            "cumFeeDetail": self.fee_detail(),
            "parentOrderLinkId": "",
            "slippageToleranceType": "UNKNOWN",
            "slippageTolerance": "",
            "extraFees": "",
            "rpiTakerAccess": False,
            "rpiMatchedQty": "0",
        }
        if inst.category is Category.LINEAR:
            wire["createType"] = self.create_type
        else:  # Bybit: "Spot does not have this field" (clients tell spot orders by it)
            del wire["tpslMode"]
        return wire

    @property
    def fee_currency(self) -> str:
        """Spot: the coin fees are charged in (the coin received); linear: none."""
        if self.inst.category is not Category.SPOT:
            return ""
        return self.inst.base if self.is_buy else self.inst.quote

    def to_stream_wire(self) -> dict[str, object]:
        """The order as the `order` stream shows it: the REST form and stream-only fields."""
        wire = self.to_wire()
        wire["category"] = self.inst.category.value
        wire["closedPnl"] = fmt_fixed8(self.closed_pnl)
        wire["feeCurrency"] = self.fee_currency
        return wire


@dataclass
class Execution:
    """One fill (or a funding settlement, execType=Funding)."""

    exec_id: str
    uid: int
    inst: Instrument
    order_id: str
    order_link_id: str
    side: str
    order_type: str
    order_price: Decimal | None
    order_qty: Decimal
    leaves_qty: Decimal
    exec_price: Decimal
    exec_qty: Decimal
    exec_fee: Decimal
    fee_rate: Decimal
    fee_currency: str
    is_maker: bool
    exec_time_ms: int
    mark_price: Decimal
    seq: int
    exec_type: str = "Trade"
    closed_size: Decimal = ZERO
    exec_pnl: Decimal = ZERO
    """Linear: PnL realised by this fill's closing part, before fees (Bybit's cashFlow)."""
    market_unit: str = ""
    create_type: str = "CreateByUser"
    extra: dict[str, object] = field(default_factory=dict)

    def to_wire(self, *, stream: bool = False) -> dict[str, object]:
        """The execution as /v5/execution/list (or, with stream=True, the stream) shows it."""
        inst = self.inst
        pd, qd = inst.price_decimals, inst.qty_decimals
        wire: dict[str, object] = {
            "symbol": inst.symbol,
            "orderType": self.order_type,
            "underlyingPrice": "",
            "orderLinkId": self.order_link_id,
            "side": self.side,
            "indexPrice": "",
            "orderId": self.order_id,
            "stopOrderType": "UNKNOWN",
            "leavesQty": fmt(self.leaves_qty, qd),
            "execTime": str(self.exec_time_ms),
            "feeCurrency": self.fee_currency,
            "isMaker": self.is_maker,
            "execFee": fmt_fixed8(self.exec_fee),
            "feeRate": fmt_plain(self.fee_rate),
            "execId": self.exec_id,
            "tradeIv": "",
            "blockTradeId": "",
            "markPrice": fmt(self.mark_price, pd),
            "execPrice": fmt(self.exec_price, pd),
            "markIv": "",
            "orderQty": fmt(self.order_qty, qd),
            "orderPrice": fmt(self.order_price, pd) if self.order_price is not None else "0",
            "execValue": fmt_fixed8(self.exec_qty * self.exec_price),
            "execType": self.exec_type,
            "execQty": fmt(self.exec_qty, qd),
            "closedSize": fmt(self.closed_size, qd) if inst.category is Category.LINEAR else "",
            "extraFees": "",
            "seq": self.seq,
            "execPnl": fmt_fixed8(self.exec_pnl),
            "marketUnit": self.market_unit,
        }
        if inst.category is Category.LINEAR:
            wire["createType"] = self.create_type
        if stream:
            wire["category"] = inst.category.value
            wire["isLeverage"] = "0" if inst.category is Category.SPOT else ""
        return wire

    def to_fast_wire(self) -> dict[str, object]:
        """The fill as the `execution.fast` stream shows it (fewer fields; a maker fill's
        orderLinkId is always empty there)."""
        inst = self.inst
        return {
            "category": inst.category.value,
            "symbol": inst.symbol,
            "execId": self.exec_id,
            "execPrice": fmt(self.exec_price, inst.price_decimals),
            "execQty": fmt(self.exec_qty, inst.qty_decimals),
            "orderId": self.order_id,
            "isMaker": self.is_maker,
            "orderLinkId": "" if self.is_maker else self.order_link_id,
            "side": self.side,
            "execTime": str(self.exec_time_ms),
            "seq": self.seq,
        }
